//! Changes to a table's rows and files other than ingests: `agora delete`, `agora erase`,
//! `agora optimize` and `agora vacuum TABLE`. Each runs in the order of `changes.rs` with a
//! Delta commit in the middle, like an ingest: (1) a pending record of the change, (2) one
//! delta-rs operation per table, its commit marked with the change's id, (3) the ledger entry
//! naming every version made, with the pending record's removal. A crash after (1) is finished
//! on the next open: the marks tell which tables the change reached, and the entry records
//! those (as interrupted, so the operator knows to run it again).
//!
//! Governance holds for a delete as for a read: a writer deletes only rows its row filters let
//! it see, and may not select rows by a column it sees masked (the count deleted would tell it
//! the values). Erasure is the administrator's: it crosses every domain.

use agora_catalog::ProductRecord;
use agora_model::{Access, Category, ContractTable, Principal, Sensitivity, TableRef};
use agora_policy::StoredHash;
use agora_storage::{RevertSpec, Rewritten, TableKind, deltalake};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::changes::Payload;
use crate::quality_corrections::{CorrectionDraft, finished_records};
use crate::query::sql_hmac;
use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// The key of the Delta commit metadata that names a change other than an ingest.
const CHANGE_MARK: &str = "agora.change";

/// What a pending record of a table change holds: enough to write its ledger entry from the
/// marks its commits carry.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TableChangeIntent {
    /// The marks' value.
    pub id: String,
    pub event: Event,
    /// Every table the change may commit to, as `domain.table` and its kind.
    pub tables: Vec<(String, StoredKind)>,
    /// For a correction applied or reverted: the catalog records it writes once done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<CorrectionDraft>,
}

/// [`TableKind`] as a pending record stores it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StoredKind {
    Product,
    Quarantine,
}

impl From<StoredKind> for TableKind {
    fn from(k: StoredKind) -> TableKind {
        match k {
            StoredKind::Product => TableKind::Product,
            StoredKind::Quarantine => TableKind::Quarantine,
        }
    }
}

impl StoredKind {
    fn as_str(self) -> &'static str {
        match self {
            StoredKind::Product => "product",
            StoredKind::Quarantine => "quarantine",
        }
    }
}

/// What a change did to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableChanged {
    /// `domain.table`, with ` (quarantine)` for a quarantine table.
    pub table: String,
    /// The Delta version the change made, if it made one.
    pub version: Option<u64>,
    /// Rows deleted (delete, erase) or changed (a correction applied or reverted), or files
    /// removed (optimize, vacuum, purge).
    pub removed: u64,
    /// Files written (optimize).
    pub added: u64,
    /// For an erasure with purge: the files of earlier versions deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purged_files: Option<u64>,
    /// The rows stayed and only values changed (`removed` counts the rows changed): an
    /// erasure that kept the rows, or a correction.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rows_kept: bool,
}

/// What `agora delete`, `agora erase`, `agora optimize` or `agora vacuum TABLE` did.
#[derive(Debug, Clone, Serialize)]
pub struct TableChangeReport {
    pub tables: Vec<TableChanged>,
    /// The ledger entry that records the change.
    pub ledger_index: u64,
    /// For an erasure: the keyed hash that names the value in the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_hmac: Option<String>,
}

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

/// The SQL names of a contract table's columns: those a condition may name even where the
/// stored table was written before the contract added them.
pub(crate) fn declared_columns(contract: &ContractTable) -> Vec<String> {
    contract
        .columns
        .iter()
        .map(|c| c.sql_name.to_string())
        .collect()
}

/// One table's part of a change: which table, and what to run on it.
pub(crate) struct Step {
    pub table: TableRef,
    pub kind: StoredKind,
    pub op: Op,
}

pub(crate) enum Op {
    /// Rows matching `predicate` go; `declared` are the contract's columns it may name.
    Delete {
        predicate: String,
        declared: Vec<String>,
    },
    Optimize,
    Vacuum(chrono::Duration),
    Purge,
    /// Rows matching `predicate` get each `(column, expression)` of `set`.
    Update {
        predicate: String,
        declared: Vec<String>,
        set: Vec<(String, String)>,
    },
    /// A correction's rows get their earlier values back.
    Revert(Box<RevertSpec>),
}

pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The refusal of a column `table` does not have, listing those it has.
pub(crate) fn unknown_column(
    flag: &str,
    table: &TableRef,
    contract: &ContractTable,
    name: &str,
) -> MeshError {
    let known: Vec<&str> = contract
        .columns
        .iter()
        .map(|c| c.sql_name.as_str())
        .collect();
    MeshError::bad_input(
        flag,
        format!(
            "{table} has no column `{name}` (its columns: {})",
            known.join(", ")
        ),
    )
}

pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
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
                let (_, contract) = self.product_of_table(&table).await?;
                let declared = declared_columns(&contract);
                let table_labels = labels.get(&table).into_iter().flatten();
                let predicate = match &target {
                    ErasureTarget::Where(predicate) => {
                        if !wanted.iter().all(|c| contract.column(c).is_some()) {
                            continue;
                        }
                        predicate.clone()
                    }
                    ErasureTarget::Category { category, value } => {
                        let columns: Vec<&str> = table_labels
                            .clone()
                            .filter(|(_, l)| l.category == *category)
                            .map(|(c, _)| c.as_str())
                            .collect();
                        if columns.is_empty() {
                            continue;
                        }
                        // Case and surrounding spaces do not make another person's value.
                        let wanted = quote_literal(&value.trim().to_lowercase());
                        columns
                            .iter()
                            .map(|c| {
                                format!(
                                    "lower(trim(CAST({} AS VARCHAR))) = {wanted}",
                                    quote_ident(c)
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" OR ")
                    }
                };
                let personal: Vec<&str> = table_labels
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

    /// Compacts the small files of `table` and of its quarantine (delta-rs `optimize`); the
    /// rows stay as they are. Needs a write grant.
    pub async fn optimize(
        &self,
        actor: &Principal,
        table: &str,
    ) -> Result<TableChangeReport, MeshError> {
        let (table, _, _) = self.writable(actor, table, "optimize").await?;
        let event = Event::by(
            actor.is_admin,
            "table.optimized",
            &table.domain,
            json!({ "table": table.to_string(), "by": actor.name.as_str() }),
        );
        let steps = [StoredKind::Product, StoredKind::Quarantine]
            .into_iter()
            .map(|kind| Step {
                table: table.clone(),
                kind,
                op: Op::Optimize,
            })
            .collect();
        self.run_table_change(event, steps, false).await
    }

    /// Deletes the files of `table` and its quarantine that no version references (failed
    /// ingests) and those the latest version stopped referencing longer than `retain` ago:
    /// versions older than that can no longer be read by time travel. Administrators only.
    pub async fn vacuum_table(
        &self,
        actor: &Principal,
        table: &str,
        retain: chrono::Duration,
    ) -> Result<TableChangeReport, MeshError> {
        if !actor.is_admin {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: "vacuum a table (administrators only)".to_string(),
            });
        }
        let table = TableRef::parse(table)?;
        self.product_of_table(&table).await?;
        let event = Event::by_admin(
            "table.vacuumed",
            json!({
                "table": table.to_string(),
                "retain_hours": retain.num_hours(),
                "by": actor.name.as_str(),
            }),
        );
        let steps = [StoredKind::Product, StoredKind::Quarantine]
            .into_iter()
            .map(|kind| Step {
                table: table.clone(),
                kind,
                op: Op::Vacuum(retain),
            })
            .collect();
        self.run_table_change(event, steps, true).await
    }

    /// `table` with its product and contract table, once `actor` is known to hold a write
    /// grant on it.
    pub(crate) async fn writable(
        &self,
        actor: &Principal,
        table: &str,
        what: &str,
    ) -> Result<(TableRef, ProductRecord, ContractTable), MeshError> {
        self.granted(actor, table, Access::Write, what).await
    }

    /// `table`, its product and contract, when `actor` has `access` to it; `what` names the
    /// operation in the refusal.
    pub(crate) async fn granted(
        &self,
        actor: &Principal,
        table: &str,
        access: Access,
        what: &str,
    ) -> Result<(TableRef, ProductRecord, ContractTable), MeshError> {
        let table = TableRef::parse(table)?;
        let (product, contract) = self.product_of_table(&table).await?;
        let viewer = self.viewer(actor).await?;
        if !viewer.may(access, &table.domain, &product.name, &table.table) {
            let grant = match access {
                Access::Read => "a read grant",
                Access::Write => "a write grant",
            };
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!("{what} {table} ({grant} is needed)"),
            });
        }
        Ok((table, product, contract))
    }

    /// Runs `steps` in the order of the module docs and records `event` with the versions
    /// they made. `exclusive`: hold the writers lock alone (a vacuum removes files an ingest
    /// under way may still commit).
    async fn run_table_change(
        &self,
        event: Event,
        steps: Vec<Step>,
        exclusive: bool,
    ) -> Result<TableChangeReport, MeshError> {
        self.run_steps(event, steps, exclusive, Vec::new()).await
    }

    /// [`Self::run_table_change`] for a correction: `corrections` go to the catalog with the
    /// version the steps made, when the pending record is removed.
    pub(crate) async fn run_table_change_with(
        &self,
        event: Event,
        steps: Vec<Step>,
        corrections: Vec<CorrectionDraft>,
    ) -> Result<TableChangeReport, MeshError> {
        self.run_steps(event, steps, false, corrections).await
    }

    async fn run_steps(
        &self,
        event: Event,
        steps: Vec<Step>,
        exclusive: bool,
        corrections: Vec<CorrectionDraft>,
    ) -> Result<TableChangeReport, MeshError> {
        let id = format!("{}-{:08x}", crate::now(), rand::random::<u32>());
        let mut tables: Vec<(String, StoredKind)> = Vec::new();
        for s in &steps {
            let entry = (s.table.to_string(), s.kind);
            if !tables.contains(&entry) {
                tables.push(entry);
            }
        }
        let touched: Vec<TableRef> = steps.iter().map(|s| s.table.clone()).collect();
        let _lock = if exclusive {
            Some(crate::changes::lock(
                &self.dir.join(crate::vacuum::WRITERS_LOCK),
            )?)
        } else {
            None
        };
        let writing = if exclusive {
            None
        } else {
            Some(self.start_writing(&touched, &id)?)
        };
        let payload = Payload {
            events: Vec::new(),
            ingest: None,
            table_change: Some(TableChangeIntent {
                id: id.clone(),
                event,
                tables,
                corrections,
            }),
        };
        let (pending_id, pending) = self.begin_change(&[], &payload).await?;
        agora_ledger::failpoint("table_change.after_pending");
        let mark = (CHANGE_MARK, id.as_str());
        let mut changed: Vec<TableChanged> = Vec::new();
        let mut versions: Vec<Value> = Vec::new();
        for step in &steps {
            let kind: TableKind = step.kind.into();
            let done: Rewritten = match &step.op {
                Op::Delete {
                    predicate,
                    declared,
                } => {
                    self.store
                        .delete_where(&step.table, kind, predicate, declared, mark)
                        .await?
                }
                Op::Optimize => self.store.optimize(&step.table, kind, mark).await?,
                Op::Vacuum(retain) => {
                    let orphans = self.store.remove_orphans(&step.table, kind).await?;
                    let mut done = self
                        .store
                        .vacuum_removed(&step.table, kind, *retain, mark)
                        .await?;
                    done.removed += orphans.len() as u64;
                    done
                }
                Op::Purge => self.store.purge_history(&step.table, kind, mark).await?,
                Op::Update {
                    predicate,
                    declared,
                    set,
                } => {
                    self.store
                        .update_where(&step.table, predicate, declared, set, mark)
                        .await?
                }
                Op::Revert(spec) => self.store.revert_rows(&step.table, spec, mark).await?,
            };
            agora_ledger::failpoint("table_change.after_step");
            if let Some(version) = done.version {
                versions.push(json!({
                    "table": step.table.to_string(), "kind": step.kind.as_str(), "version": version,
                }));
            }
            let name = match step.kind {
                StoredKind::Product => step.table.to_string(),
                StoredKind::Quarantine => format!("{} (quarantine)", step.table),
            };
            match (&step.op, changed.last_mut()) {
                (Op::Purge, Some(last)) if last.table == name => {
                    last.purged_files = Some(done.removed);
                    last.version = done.version.or(last.version);
                }
                _ => changed.push(TableChanged {
                    table: name,
                    version: done.version,
                    removed: done.removed,
                    added: done.added,
                    purged_files: None,
                    rows_kept: matches!(step.op, Op::Update { .. } | Op::Revert(_)),
                }),
            }
        }
        let intent = payload
            .table_change
            .expect("INVARIANT: set when the payload was made");
        let records = completion(
            &intent,
            changed.first().and_then(|c| c.version),
            changed.first().map(|c| c.removed),
        )?;
        let appended = self
            .finish_table_change(&pending, intent, versions, Some(&changed))
            .await?;
        agora_ledger::failpoint("table_change.after_ledger");
        self.catalog.complete(pending_id, &records).await?;
        if let Some(w) = writing {
            w.succeeded();
        }
        Ok(TableChangeReport {
            tables: changed,
            ledger_index: appended.unwrap_or(pending.log_size),
            value_hmac: None,
        })
    }

    /// Records a table change's entry with the `versions` it made (step 3), unless the log
    /// holds it already; `done` is what the steps reported, `None` after a crash.
    async fn finish_table_change(
        &self,
        pending: &agora_catalog::PendingRecord,
        intent: TableChangeIntent,
        versions: Vec<Value>,
        done: Option<&[TableChanged]>,
    ) -> Result<Option<u64>, MeshError> {
        if self
            .recorder
            .has_intent(pending.log_size, &pending.intent)
            .await?
        {
            return Ok(None);
        }
        let mut event = intent.event;
        event.body["versions"] = json!(versions);
        match done {
            Some(done) => {
                event.body["removed"] = json!(
                    done.iter()
                        .map(|c| json!({ "table": c.table, "removed": c.removed, "purged_files": c.purged_files }))
                        .collect::<Vec<_>>()
                );
            }
            None if versions.is_empty() => return Ok(None),
            None => event.body["interrupted"] = json!(true),
        }
        let appended = self
            .recorder
            .record(vec![event], Some(pending.intent.clone()))
            .await?;
        Ok(Some(appended.first_index))
    }

    /// Finishes a table change a crash interrupted (see the module docs).
    pub(crate) async fn recover_table_change(
        &self,
        pending_id: i64,
        pending: &agora_catalog::PendingRecord,
        intent: TableChangeIntent,
    ) -> Result<(), MeshError> {
        let kind = intent.event.kind.clone();
        // The marks tell which tables the change reached.
        let mark = (CHANGE_MARK, intent.id.as_str());
        let mut versions = Vec::new();
        let mut made = None;
        for (table, stored) in &intent.tables {
            let t = TableRef::parse(table)?;
            if let Some(version) = self.store.marked_commit(&t, (*stored).into(), mark).await? {
                versions
                    .push(json!({ "table": table, "kind": stored.as_str(), "version": version }));
                made = made.or(Some(version));
            }
        }
        // A correction that reached its table is recorded as made; its row count is unknown.
        let records = completion(&intent, made, None)?;
        if self
            .finish_table_change(pending, intent, versions, None)
            .await?
            .is_some()
        {
            tracing::warn!(change = %kind, "a change a crash interrupted reached some tables: run it again to finish it");
        }
        self.catalog.complete(pending_id, &records).await?;
        Ok(())
    }
}

/// The catalog changes that finish `intent` once its steps made `version`: a correction's
/// record, and for an erasure the forgetting of every correction of the tables it reached (their
/// records hold values it took out: revert is no longer possible there).
fn completion(
    intent: &TableChangeIntent,
    version: Option<u64>,
    rows: Option<u64>,
) -> Result<Vec<agora_catalog::Change>, MeshError> {
    let mut changes = finished_records(&intent.corrections, version, rows)?;
    if intent.event.kind == "data.erased" {
        for (table, kind) in &intent.tables {
            if *kind == StoredKind::Product {
                changes.push(agora_catalog::Change::ForgetCorrections(TableRef::parse(
                    table,
                )?));
            }
        }
    }
    Ok(changes)
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
