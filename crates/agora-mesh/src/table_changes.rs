//! Changes to a table's rows and files other than ingests: `agora delete` and `agora erase`
//! (what they remove is decided in `deletions.rs`), `agora optimize` and `agora vacuum TABLE`.
//! Each runs in the order of `changes.rs` with a Delta commit in the middle, like an ingest:
//! (1) a pending record of the change, (2) one delta-rs operation per table, its commit marked
//! with the change's id, (3) the ledger entry naming every version made, with the pending
//! record's removal. A crash after (1) is finished on the next open: the marks tell which
//! tables the change reached, and the entry records those (as interrupted, so the operator
//! knows to run it again).

use agora_catalog::ProductRecord;
use agora_model::{Access, ContractTable, Principal, TableRef};
use agora_storage::{RevertSpec, Rewritten, TableKind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::correction_records::{CorrectionDraft, finished_records};
use crate::pending::Payload;
use crate::pending::{StoredKind, TableChangeIntent};
use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// The key of the Delta commit metadata that names a change other than an ingest.
const CHANGE_MARK: &str = "agora.change";

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

impl Mesh {
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
    pub(crate) async fn run_table_change(
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
