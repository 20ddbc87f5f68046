//! `agora delete` and `agora erase`: rows removed by a condition in one table, or a data
//! subject's rows (or only their personal values) in every product table and its quarantine.
//! Both run as table changes (`table_changes.rs`: pending record, marked commit, entry).
//!
//! Governance holds for a delete as for a read: a writer deletes only rows its row filters let
//! it see, and may not select rows by a column it sees masked (the count deleted would tell it
//! the values). Erasure is the administrator's: it crosses every domain.
//!
//! A condition is checked before anything changes: its column names are read from the SQL
//! (to pick the tables it applies to and to name an unknown column), then each table plans it,
//! with a column its contract added after the table's last write reading as NULL there.

use agora_model::{Category, ContractTable, Principal, Sensitivity, TableRef};
use agora_policy::{StoredHash, TableLabels};
use agora_storage::{TableKind, deltalake};
use serde_json::{Value, json};

use crate::pending::StoredKind;
use crate::query::sql_hmac;
use crate::recorder::Event;
use crate::sql_quoting::{quote_ident, quote_literal};
use crate::table_changes::{Op, Step, TableChangeReport, declared_columns, unknown_column};
use crate::{Mesh, MeshError};

/// Whom an erasure is about.
#[derive(Debug, Clone)]
pub enum ErasureTarget {
    /// Rows matching a SQL condition, in every product table that has its columns.
    Where(String),
    /// Rows holding `value` in a column classified as `category`, in every product table.
    Category { category: Category, value: String },
}

/// How an erasure goes about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Erasure {
    /// Keep the product tables' rows and empty their personal values (for records a business
    /// must keep, such as invoices) instead of deleting the rows.
    pub keep_rows: bool,
    /// Also purge the earlier versions, so that time travel cannot bring the values back.
    pub purge: bool,
}

/// The words of SQL's expression grammar, which are never columns in a condition.
const EXPRESSION_KEYWORDS: &[&str] = &[
    "and", "or", "not", "is", "null", "in", "like", "ilike", "similar", "to", "escape", "between",
    "true", "false", "case", "when", "then", "else", "end", "as", "distinct", "from", "interval",
    "unknown", "any", "all", "some", "collate", "at", "time", "zone",
];

/// The names of the columns a SQL condition reads: its identifiers that are not words of the
/// expression grammar, function names (followed by `(`), type names (after `AS`) or the types
/// of typed literals (before a string: `DATE '2020-01-01'`). Used to pick the tables a
/// condition applies to and to name an unknown column; each table then plans the condition.
fn condition_identifiers(source: &str, predicate: &str) -> Result<Vec<String>, MeshError> {
    use deltalake::datafusion::sql::sqlparser::dialect::GenericDialect;
    use deltalake::datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, predicate)
        .tokenize()
        .map_err(|e| MeshError::bad_input(source, e.to_string()))?;
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut columns = Vec::new();
    for (i, token) in significant.iter().enumerate() {
        let Token::Word(w) = token else { continue };
        if w.quote_style.is_some() {
            columns.push(w.value.clone());
            continue;
        }
        let word = w.value.to_lowercase();
        let next = significant.get(i + 1);
        let after_as = i > 0
            && matches!(significant[i - 1], Token::Word(p) if p.value.eq_ignore_ascii_case("as"));
        let is_call = matches!(next, Some(Token::LParen));
        let types_literal = matches!(next, Some(Token::SingleQuotedString(_)));
        if !EXPRESSION_KEYWORDS.contains(&word.as_str()) && !is_call && !after_as && !types_literal
        {
            columns.push(word);
        }
    }
    columns.sort();
    columns.dedup();
    if columns.is_empty() {
        return Err(MeshError::bad_input(
            source,
            format!("`{predicate}` names no column: say which rows by their values"),
        ));
    }
    Ok(columns)
}

/// The condition selecting the data subject's rows in a table with `contract` and column
/// `labels`; `None` where the table cannot hold them (it lacks a column `--where` names, or has
/// no column of the category).
fn subject_condition(
    target: &ErasureTarget,
    wanted: &[String],
    contract: &ContractTable,
    labels: Option<&TableLabels>,
) -> Option<String> {
    match target {
        ErasureTarget::Where(predicate) => wanted
            .iter()
            .all(|c| contract.column(c).is_some())
            .then(|| predicate.clone()),
        ErasureTarget::Category { category, value } => {
            // Case and surrounding spaces do not make another person's value.
            let value = quote_literal(&value.trim().to_lowercase());
            let conditions: Vec<String> = labels
                .into_iter()
                .flatten()
                .filter(|(_, l)| l.category == *category)
                .map(|(c, _)| format!("lower(trim(CAST({} AS VARCHAR))) = {value}", quote_ident(c)))
                .collect();
            (!conditions.is_empty()).then(|| conditions.join(" OR "))
        }
    }
}

impl Mesh {
    /// Deletes the rows of `table` that match `predicate`, in one commit. Needs a write grant;
    /// the actor's row filters narrow what it deletes, and it may not select rows by a column
    /// it sees masked.
    pub async fn delete_rows(
        &self,
        actor: &Principal,
        table: &str,
        predicate: &str,
    ) -> Result<TableChangeReport, MeshError> {
        let (table, product, contract) = self.writable(actor, table, "delete from").await?;
        if let Some(unknown) = condition_identifiers("--where", predicate)?
            .into_iter()
            .find(|c| contract.column(c).is_none())
        {
            return Err(unknown_column("--where", &table, &contract, &unknown));
        }
        let declared = declared_columns(&contract);
        let columns = self
            .store
            .predicate_columns(&table, TableKind::Product, predicate, &declared)
            .await?
            .ok_or_else(|| MeshError::Conflict(format!("{table} has no rows yet")))?;
        let view = self.column_view(actor, &table, &product).await?;
        for column in &columns {
            if view.is_masked(column) {
                return Err(MeshError::Denied {
                    principal: actor.name.to_string(),
                    action: format!(
                        "select rows of {table} to delete by `{column}` (it is masked for them)"
                    ),
                });
            }
        }
        let effective = match view.row_filter {
            Some(filter) => format!("({predicate}) AND {filter}"),
            None => predicate.to_string(),
        };
        let event = Event::by(
            actor.is_admin,
            "data.deleted",
            &table.domain,
            json!({
                "table": table.to_string(),
                "predicate": predicate,
                "row_filter_applied": effective != predicate,
                "by": actor.name.as_str(),
            }),
        );
        let steps = vec![Step {
            table,
            kind: StoredKind::Product,
            op: Op::Delete {
                predicate: effective,
                declared,
            },
        }];
        self.run_table_change(event, steps, false).await
    }

    /// Erases a data subject's rows from every product table (and its quarantine) whose
    /// columns match `target`, as new versions; with `keep_rows`, the rows of the product
    /// tables stay and their personal values (every column labelled with a category or at
    /// least confidential) become NULL, while quarantined rows still go whole. With `purge`,
    /// also from every earlier version (their files and log entries are deleted: time travel
    /// before the erasure ends). The ledger entry names the value only by its keyed hash.
    /// Administrators only.
    pub async fn erase(
        &self,
        actor: &Principal,
        target: ErasureTarget,
        erasure: Erasure,
    ) -> Result<TableChangeReport, MeshError> {
        if !actor.is_admin {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action:
                    "erase a data subject's rows (administrators only: it crosses every domain)"
                        .to_string(),
            });
        }
        let products = self.catalog.products().await?;
        let labels = self.labels(&products).await?;
        let mut steps = Vec::new();
        let mut matched: Vec<Value> = Vec::new();
        let (value_hmac, what) = match &target {
            ErasureTarget::Where(predicate) => {
                let hmac = sql_hmac(&self.audit_key, &format!("erasure-where\0{predicate}"));
                (hmac.clone(), json!({ "predicate_hmac": hmac }))
            }
            ErasureTarget::Category { category, value } => (
                sql_hmac(
                    &self.audit_key,
                    &format!("erasure\0{category}\0{}", value.trim().to_lowercase()),
                ),
                json!({ "category": category.as_str() }),
            ),
        };
        let wanted = match &target {
            ErasureTarget::Where(predicate) => condition_identifiers("--where", predicate)?,
            ErasureTarget::Category { .. } => Vec::new(),
        };
        for product in &products {
            for t in &product.tables {
                let table = TableRef {
                    domain: product.domain.clone(),
                    table: t.clone(),
                };
                let (_, contract) = crate::products::table_in(&products, &table)?;
                let declared = declared_columns(&contract);
                let Some(predicate) =
                    subject_condition(&target, &wanted, &contract, labels.get(&table))
                else {
                    continue;
                };
                let personal: Vec<&str> = labels
                    .get(&table)
                    .into_iter()
                    .flatten()
                    .filter(|(_, l)| {
                        l.category != Category::None || l.sensitivity >= Sensitivity::Confidential
                    })
                    .map(|(c, _)| c.as_str())
                    .collect();
                matched.push(json!(table.to_string()));
                for kind in [StoredKind::Product, StoredKind::Quarantine] {
                    let Some(_) = self
                        .store
                        .predicate_columns(&table, kind.into(), &predicate, &declared)
                        .await
                        .map_err(|e| MeshError::At {
                            place: format!("{table} ({})", kind.as_str()),
                            error: Box::new(e.into()),
                        })?
                    else {
                        continue;
                    };
                    let op = match (erasure.keep_rows, kind) {
                        (true, StoredKind::Product) => {
                            let set = self.erased_values(&table, &contract, &personal).await?;
                            if set.is_empty() {
                                // Nothing of the rows is personal: there is nothing to erase.
                                continue;
                            }
                            Op::Update {
                                predicate: predicate.clone(),
                                declared: declared.clone(),
                                set,
                            }
                        }
                        _ => Op::Delete {
                            predicate: predicate.clone(),
                            declared: declared.clone(),
                        },
                    };
                    steps.push(Step {
                        table: table.clone(),
                        kind,
                        op,
                    });
                    if erasure.purge {
                        steps.push(Step {
                            table: table.clone(),
                            kind,
                            op: Op::Purge,
                        });
                    }
                }
            }
        }
        if matched.is_empty() {
            return Err(MeshError::bad_input(
                "erase",
                match &target {
                    ErasureTarget::Where(_) => format!(
                        "no product table has every column the condition names ({})",
                        wanted.join(", ")
                    ),
                    ErasureTarget::Category { category, .. } => {
                        format!("no product table has a column classified as {category}")
                    }
                },
            ));
        }
        let mut body = what;
        body["value_hmac"] = json!(value_hmac);
        body["tables"] = json!(matched);
        body["purged"] = json!(erasure.purge);
        body["rows_kept"] = json!(erasure.keep_rows);
        body["by"] = json!(actor.name.as_str());
        let event = Event::by_admin("data.erased", body);
        let mut report = self.run_table_change(event, steps, false).await?;
        report.value_hmac = Some(value_hmac);
        Ok(report)
    }

    /// The assignments that null the `personal` columns of `table` (and their stored hashes)
    /// for an erasure that keeps the rows. A column the stored table does not have yet holds
    /// nothing to erase. A primary key or required column cannot be NULL under the contract,
    /// so the erasure is refused before anything changes: those rows must go whole.
    async fn erased_values(
        &self,
        table: &TableRef,
        contract: &ContractTable,
        personal: &[&str],
    ) -> Result<Vec<(String, String)>, MeshError> {
        let Some(delta) = self.store.open(table, TableKind::Product).await? else {
            return Ok(Vec::new());
        };
        let stored: Vec<String> = agora_storage::arrow_schema_of(&delta)?
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut set = Vec::new();
        for column in personal.iter().filter(|c| stored.iter().any(|s| s == *c)) {
            if let Some(c) = contract.column(column)
                && (c.primary_key || c.required)
            {
                return Err(MeshError::bad_input(
                    "erase --keep-rows",
                    format!(
                        "{table}.{column} is {} in its contract and cannot be emptied: erase \
                         the subject's rows whole (without --keep-rows)",
                        if c.primary_key {
                            "the primary key"
                        } else {
                            "required"
                        }
                    ),
                ));
            }
            set.push((column.to_string(), "NULL".to_string()));
            for hash in stored
                .iter()
                .filter_map(|s| StoredHash::parse(s))
                .filter(|h| h.column == *column)
            {
                set.push((hash.name(), "NULL".to_string()));
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::condition_identifiers;

    fn columns(predicate: &str) -> Vec<String> {
        condition_identifiers("--where", predicate).unwrap()
    }

    #[test]
    fn keywords_functions_types_and_literals_are_not_columns() {
        assert_eq!(
            columns("lower(email) = 'a@b.c' AND order_date < DATE '2020-01-01'"),
            ["email", "order_date"]
        );
        assert_eq!(
            columns("CAST(id AS VARCHAR) IN ('1', '2') OR \"Region\" IS NOT NULL"),
            ["Region", "id"]
        );
        assert_eq!(
            columns("amount BETWEEN 1 AND 2 AND status LIKE 'o%'"),
            ["amount", "status"]
        );
        assert!(condition_identifiers("--where", "1 = 1").is_err());
        assert!(condition_identifiers("--where", "'unterminated").is_err());
    }

    proptest! {
        /// Whatever columns a condition compares, exactly those are found.
        #[test]
        fn the_columns_of_a_conjunction_are_found(
            names in proptest::collection::btree_set("[a-z][a-z0-9_]{0,8}", 1..5),
            value in "[a-zA-Z0-9 @.]{0,12}",
        ) {
            let names: Vec<String> = names
                .into_iter()
                .filter(|n| !super::EXPRESSION_KEYWORDS.contains(&n.as_str()))
                .collect();
            prop_assume!(!names.is_empty());
            let predicate = names
                .iter()
                .map(|n| format!("\"{n}\" = '{value}'"))
                .collect::<Vec<_>>()
                .join(" AND ");
            prop_assert_eq!(columns(&predicate), names);
        }
    }
}
