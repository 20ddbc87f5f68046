//! `agora quality apply TABLE ID…` and `agora quality revert ID`: suggested corrections made
//! and undone, each as one new Delta version and one signed ledger entry, in the order every
//! table change follows (`table_changes.rs`: pending record, marked commit, entry).
//!
//! Applying is an `UPDATE` of the rows holding the values the suggestions fix, narrowed by the
//! writer's row filter; stored hashes of a corrected column get the new values' hashes in the
//! same commit, so masked readers see the corrected values' tokens. The catalog keeps each
//! application (the fixes, the filter, the version made) so that a revert can find the rows:
//! it reads them from the version before the update, computes what the update made of them,
//! and merges the old values back onto the rows that still look like that — matched by
//! primary key where the contract has one, otherwise by every column. A revert that cannot tell
//! the corrected rows from others that look the same is refused, and rows changed since the
//! correction keep their newer values.
//!
//! The ledger entry names suggestions by id, kind, column and counts, never by value (a value
//! may be personal data); its keyed hash of the fixes ties it to the catalog's record.

use std::collections::BTreeMap;

use agora_model::{ContractTable, Principal, TableRef};
use agora_policy::{MaskKey, StoredHash};
use agora_quality::corrections::{Fix, Literal, Suggestion};
use agora_query::Interface;
use agora_storage::RevertSpec;
use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::DataType;
use serde::Serialize;
use serde_json::json;

use crate::correction_records::{AppliedCorrection, CorrectionDraft, described};
use crate::pending::StoredKind;
use crate::query::sql_hmac;
use crate::recorder::Event;
use crate::sql_quoting::{quote_ident, quote_literal};
use crate::table_changes::{Op, Step, declared_columns};
use crate::{Mesh, MeshError};

/// The values one column gets: `(condition on the row before, value)`, first match wins.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cases(Vec<(String, Literal)>);

impl Cases {
    /// `CASE WHEN … THEN … ELSE otherwise END`, with values typed as `data_type`.
    pub(crate) fn case_sql(&self, otherwise: &str, data_type: Option<&DataType>) -> String {
        let whens: Vec<String> = self
            .0
            .iter()
            .map(|(condition, v)| format!("WHEN {condition} THEN {}", literal_sql(v, data_type)))
            .collect();
        format!("CASE {} ELSE {otherwise} END", whens.join(" "))
    }

    /// The same cases giving the stored hash of each new value.
    fn hash_case_sql(&self, key: &MaskKey, otherwise: &str) -> Result<String, MeshError> {
        let texts: Vec<String> = self.0.iter().map(|(_, v)| v.to_string()).collect();
        let array: ArrayRef = std::sync::Arc::new(StringArray::from(texts));
        let hashes = key
            .hash_array(&array)
            .map_err(|e| MeshError::Internal(format!("hashing corrected values: {e}")))?;
        let hashes = crate::quality_results::text(&hashes)?;
        let whens: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, (condition, _))| {
                format!("WHEN {condition} THEN {}", quote_literal(hashes.value(i)))
            })
            .collect();
        Ok(format!("CASE {} ELSE {otherwise} END", whens.join(" ")))
    }
}

/// A value as SQL of the column's type: exact, so that `=` finds the rows that hold it.
pub(crate) fn literal_sql(v: &Literal, data_type: Option<&DataType>) -> String {
    match (v, data_type) {
        (Literal::Text(t), _) => quote_literal(t),
        (Literal::Integer(i), _) => i.to_string(),
        (Literal::Float(f), Some(DataType::Decimal128(p, s))) => {
            format!("CAST('{f}' AS DECIMAL({p},{s}))")
        }
        // Rust prints the shortest text that reads back as the same double.
        (Literal::Float(f), _) => format!("CAST('{f}' AS DOUBLE)"),
    }
}

/// The condition selecting the rows `fix` changes.
pub(crate) fn fix_condition(fix: &Fix, contract: &ContractTable) -> String {
    let typed = |c: &str| contract.column(c).map(|c| c.column_type.arrow.clone());
    match fix {
        Fix::Replace { column, changes } => {
            let data_type = typed(column);
            let values: Vec<String> = changes
                .iter()
                .map(|c| literal_sql(&c.original, data_type.as_ref()))
                .collect();
            format!("{} IN ({})", quote_ident(column), values.join(", "))
        }
        Fix::Swap {
            first,
            second,
            pairs,
        } => pairs
            .iter()
            .map(|p| pair_condition(first, second, &p.first, &p.second))
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

fn pair_condition(first: &str, second: &str, a: &str, b: &str) -> String {
    format!(
        "({} = {} AND {} = {})",
        quote_ident(first),
        quote_literal(a),
        quote_ident(second),
        quote_literal(b)
    )
}

/// What each column written by `fixes` gets, by column.
pub(crate) fn assignments(fixes: &[Fix], contract: &ContractTable) -> BTreeMap<String, Cases> {
    let typed = |c: &str| contract.column(c).map(|c| c.column_type.arrow.clone());
    let mut out: BTreeMap<String, Cases> = BTreeMap::new();
    for fix in fixes {
        match fix {
            Fix::Replace { column, changes } => {
                let data_type = typed(column);
                let cases = out.entry(column.clone()).or_default();
                for c in changes {
                    let condition = format!(
                        "{} = {}",
                        quote_ident(column),
                        literal_sql(&c.original, data_type.as_ref())
                    );
                    cases.0.push((condition, c.proposed.clone()));
                }
            }
            Fix::Swap {
                first,
                second,
                pairs,
            } => {
                for p in pairs {
                    let condition = pair_condition(first, second, &p.first, &p.second);
                    out.entry(first.clone())
                        .or_default()
                        .0
                        .push((condition.clone(), Literal::Text(p.second.clone())));
                    out.entry(second.clone())
                        .or_default()
                        .0
                        .push((condition, Literal::Text(p.first.clone())));
                }
            }
        }
    }
    out
}

/// What `agora quality apply` or `agora quality revert` did.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionReport {
    pub table: String,
    pub suggestions: Vec<String>,
    /// The Delta version made.
    pub version: Option<u64>,
    /// Rows changed.
    pub rows: u64,
    /// For a revert: rows the correction changed that have changed again since, and keep
    /// their newer values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<u64>,
    /// For suggestions for quarantined rows: of the rows corrected, those the table admitted,
    /// and those its contract still refuses (back in the quarantine with their new reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readmitted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub still_quarantined: Option<u64>,
    pub ledger_index: u64,
}

impl Mesh {
    /// Applies the suggestions `ids` for `table` as one new version. Needs a write grant; every
    /// id must be a current suggestion, or nothing is written. Suggestions for quarantined rows
    /// re-admit the rows they correct (`quality_readmission.rs`); they are applied apart from
    /// the table's own.
    pub async fn apply_corrections(
        &self,
        actor: &Principal,
        table: &str,
        ids: &[String],
        interface: Interface,
    ) -> Result<CorrectionReport, MeshError> {
        if ids.is_empty() {
            return Err(MeshError::bad_input(
                "agora quality apply",
                "name the suggestions to apply (`agora quality suggest TABLE` lists them)",
            ));
        }
        let (table, _, suggestions) = self.suggestions(actor, table, interface).await?;
        let all_in = |list: &[Suggestion]| ids.iter().all(|id| list.iter().any(|s| s.id == *id));
        if !all_in(&suggestions) {
            let mut held = self
                .quarantine_suggestions(actor, &table, interface)
                .await?;
            if all_in(&held) {
                let chosen = self.chosen(&table, &held, ids).await?;
                return self.readmit(actor, &table, chosen, interface).await;
            }
            held.extend(suggestions.iter().cloned());
            // An id in neither list gets its error (unknown, or applied already).
            if let Some(unknown) = ids.iter().find(|id| !held.iter().any(|s| s.id == **id)) {
                self.find_suggestion(&table, &held, unknown).await?;
            }
            return Err(MeshError::bad_input(
                "agora quality apply",
                "these ids mix suggestions for the table's rows and for its quarantined rows: apply each kind on its own",
            ));
        }
        let chosen = self.chosen(&table, &suggestions, ids).await?;
        let (_, product, contract) = self
            .writable(actor, &table.to_string(), "apply corrections to")
            .await?;
        let view = self.column_view(actor, &table, &product).await?;
        let fixes: Vec<Fix> = chosen.iter().map(|s| s.fix.clone()).collect();
        let conditions: Vec<String> = fixes
            .iter()
            .map(|f| format!("({})", fix_condition(f, &contract)))
            .collect();
        let mut predicate = conditions.join(" OR ");
        if let Some(filter) = &view.row_filter {
            predicate = format!("({predicate}) AND ({filter})");
        }
        let set = self
            .set_clauses(&table, &contract, &assignments(&fixes, &contract))
            .await?;
        let drafts = CorrectionDraft::applying(&table, &chosen, &view.row_filter, actor);
        let fixes_json = serde_json::to_string(&fixes)
            .map_err(|e| MeshError::Internal(format!("the fixes: {e}")))?;
        let event = Event::by(
            actor.is_admin,
            "quality.correction_applied",
            &table.domain,
            json!({
                "table": table.to_string(),
                "suggestions": chosen.iter().map(described).collect::<Vec<_>>(),
                "fixes_hmac": sql_hmac(&self.audit_key, &fixes_json),
                "row_filter_applied": view.row_filter.is_some(),
                "by": actor.name.as_str(),
            }),
        );
        let steps = vec![Step {
            table: table.clone(),
            kind: StoredKind::Product,
            op: Op::Update {
                predicate,
                declared: declared_columns(&contract),
                set,
            },
        }];
        let report = self.run_table_change_with(event, steps, drafts).await?;
        let changed = report.tables.first();
        Ok(CorrectionReport {
            table: table.to_string(),
            suggestions: chosen.iter().map(|s| s.id.clone()).collect(),
            version: changed.and_then(|c| c.version),
            rows: changed.map_or(0, |c| c.removed),
            changed_since: None,
            readmitted: None,
            still_quarantined: None,
            ledger_index: report.ledger_index,
        })
    }

    /// The suggestions `ids` among `list`, once each, or the error for the first id that is not
    /// there (see [`Self::find_suggestion`]).
    async fn chosen(
        &self,
        table: &TableRef,
        list: &[Suggestion],
        ids: &[String],
    ) -> Result<Vec<Suggestion>, MeshError> {
        let mut chosen: Vec<Suggestion> = Vec::new();
        for id in ids {
            let s = self.find_suggestion(table, list, id).await?;
            if !chosen.iter().any(|c| c.id == s.id) {
                chosen.push(s);
            }
        }
        Ok(chosen)
    }

    /// `(column, expression)` for every written column and its stored hash columns.
    async fn set_clauses(
        &self,
        table: &TableRef,
        contract: &ContractTable,
        assigned: &BTreeMap<String, Cases>,
    ) -> Result<Vec<(String, String)>, MeshError> {
        let stored = self.stored_hash_columns(table).await?;
        let mut set = Vec::new();
        for (column, cases) in assigned {
            let data_type = contract.column(column).map(|c| &c.column_type.arrow);
            set.push((
                column.clone(),
                cases.case_sql(&quote_ident(column), data_type),
            ));
            for hash in stored.iter().filter(|h| &h.column == column) {
                let name = hash.name();
                set.push((
                    name.clone(),
                    cases.hash_case_sql(self.masks.key(), &quote_ident(&name))?,
                ));
            }
        }
        Ok(set)
    }

    async fn stored_hash_columns(&self, table: &TableRef) -> Result<Vec<StoredHash>, MeshError> {
        let Some(delta) = self
            .store
            .open(table, agora_storage::TableKind::Product)
            .await?
        else {
            return Ok(Vec::new());
        };
        Ok(agora_storage::arrow_schema_of(&delta)?
            .fields()
            .iter()
            .filter_map(|f| StoredHash::parse(f.name()))
            .collect())
    }

    /// Undoes the latest application of the suggestion `id` as a new version. Needs a write
    /// grant on its table.
    pub async fn revert_correction(
        &self,
        actor: &Principal,
        id: &str,
    ) -> Result<CorrectionReport, MeshError> {
        let records = self.catalog.corrections(id).await?;
        let Some(latest) = records.first() else {
            return Err(MeshError::NotFound {
                what: "applied correction",
                name: id.to_string(),
                hint: " (`agora quality suggest TABLE` lists suggestions; only applied ones can be reverted)".into(),
            });
        };
        let mut applied: AppliedCorrection = serde_json::from_str(&latest.record)
            .map_err(|e| MeshError::Internal(format!("the record of correction {id}: {e}")))?;
        if let Some(ingest) = &applied.readmitted_by {
            return Err(MeshError::Conflict(format!(
                "suggestion {id} re-admitted quarantined rows of {} (ingest {ingest}, version {}): a re-admission is an ingest and is not reverted (`agora delete` removes rows)",
                latest.table,
                applied.version.map_or("-".to_string(), |v| v.to_string())
            )));
        }
        if let Some(at) = &latest.reverted_at {
            return Err(MeshError::Conflict(format!(
                "correction {id} of {} was reverted already at {at} (version {})",
                latest.table,
                applied
                    .revert_version
                    .map_or("-".to_string(), |v| v.to_string())
            )));
        }
        let (table, _, contract) = self
            .writable(actor, &latest.table.to_string(), "revert corrections of")
            .await?;
        let version = applied.version.ok_or_else(|| {
            MeshError::Internal(format!("correction {id} is recorded without its version"))
        })?;
        let spec = self
            .revert_spec(&table, &contract, &applied, version)
            .await?;
        let keyed = contract.columns.iter().any(|c| c.primary_key);
        let matched = self.store.revert_match(&table, &spec).await?;
        if !keyed && matched.matching > matched.corrected {
            return Err(MeshError::Conflict(format!(
                "cannot revert {id} exactly: {} rows of {table} look like the {} it corrected, and the table has no primary key to tell them apart",
                matched.matching, matched.corrected
            )));
        }
        if matched.matching == 0 {
            return Err(MeshError::Conflict(format!(
                "nothing to revert: every row {id} corrected in {table} has changed since (version {version})"
            )));
        }
        applied.reverted_by = Some(actor.name.to_string());
        let draft = CorrectionDraft {
            application_id: latest.application_id.clone(),
            table: table.to_string(),
            applied_at: latest.applied_at.clone(),
            reverted_at: Some(crate::now()),
            record: applied.clone(),
        };
        let event = Event::by(
            actor.is_admin,
            "quality.correction_reverted",
            &table.domain,
            json!({
                "table": table.to_string(),
                "suggestion": described(&applied.suggestion),
                "applied_version": version,
                "by": actor.name.as_str(),
            }),
        );
        let steps = vec![Step {
            table: table.clone(),
            kind: StoredKind::Product,
            op: Op::Revert(Box::new(spec)),
        }];
        let report = self
            .run_table_change_with(event, steps, vec![draft])
            .await?;
        let changed = report.tables.first();
        let rows = changed.map_or(0, |c| c.removed);
        Ok(CorrectionReport {
            table: table.to_string(),
            suggestions: vec![id.to_string()],
            version: changed.and_then(|c| c.version),
            rows,
            changed_since: Some(matched.corrected.saturating_sub(rows)),
            readmitted: None,
            still_quarantined: None,
            ledger_index: report.ledger_index,
        })
    }

    /// How a revert of `applied` (which made `version`) finds and restores its rows.
    async fn revert_spec(
        &self,
        table: &TableRef,
        contract: &ContractTable,
        applied: &AppliedCorrection,
        version: u64,
    ) -> Result<RevertSpec, MeshError> {
        let before_version = version.checked_sub(1).ok_or_else(|| {
            MeshError::Internal("a correction recorded as the table's first version".into())
        })?;
        let before = self.store.open_at(table, before_version).await.map_err(|e| {
            MeshError::Conflict(format!(
                "cannot revert: version {before_version} of {table}, before the correction, is no longer readable ({e}); a vacuum or a purge removed it"
            ))
        })?;
        let columns: Vec<String> = agora_storage::arrow_schema_of(&before)?
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let assigned = assignments(&applied.applied_with, contract);
        let update: BTreeMap<String, String> = self
            .set_clauses(table, contract, &assigned)
            .await?
            .into_iter()
            .collect();
        // This suggestion's columns and their stored hashes, among those the update wrote.
        let fixed = applied.suggestion.fix.columns();
        let own: Vec<String> = update
            .keys()
            .filter(|c| {
                let column = StoredHash::parse(c).map_or(c.to_string(), |h| h.column);
                fixed.contains(&column.as_str()) && columns.contains(c)
            })
            .cloned()
            .collect();
        let mut select: Vec<String> = columns
            .iter()
            .map(|c| match update.get(c) {
                Some(expression) => format!("{expression} AS {}", quote_ident(c)),
                None => quote_ident(c),
            })
            .collect();
        let mut set = Vec::new();
        for (i, c) in own.iter().enumerate() {
            let back = format!("__agora_before_{i}");
            select.push(format!("{} AS {}", quote_ident(c), quote_ident(&back)));
            set.push((c.clone(), back));
        }
        let mut condition = fix_condition(&applied.suggestion.fix, contract);
        if let Some(filter) = &applied.row_filter {
            condition = format!("({condition}) AND ({filter})");
        }
        let keys: Vec<String> = contract
            .columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.sql_name.to_string())
            .collect();
        let match_on = if keys.is_empty() {
            columns
        } else {
            keys.into_iter().chain(own.iter().cloned()).collect()
        };
        Ok(RevertSpec {
            before_version,
            source_sql: format!("SELECT {} FROM before WHERE {condition}", select.join(", ")),
            match_on,
            set,
        })
    }
}
