//! Ingest as the mesh runs it: the grant check, the pipeline of `agora-ingest` up to its
//! commit, then (in the order of `changes.rs`) the changed column tags with a pending record of
//! the ingest, the Delta commit, the ledger batch recording the ingest and each classification
//! decision, and the catalog row of the ingest with the pending record's removal. Labels are
//! stored before the commit, so no reader ever sees rows before the labels that protect them;
//! a crash at any step is finished on the next open (`recover_ingest`): the Delta commit carries
//! the ingest's id, so recovery can tell whether it happened.

use std::sync::Arc;

use agora_catalog::{Change, IngestRecord, PendingRecord};
use agora_ingest::{
    COMMIT_METADATA_KEY, Committed, Ingest, IngestMode, InputFormat, Source, TagDecision,
};
use agora_ledger::failpoint;
use agora_model::{Access, Name, Principal, TableRef};
use agora_quality::{RuleOutcome, RuleResult};

use crate::quality_metrics::MetricRecord;
use agora_storage::TableKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::Instrument;

use crate::changes::Payload;
use crate::quality_corrections::{CorrectionDraft, finished_records};
use crate::quality_readmission::{Readmission, readmitted_event};
use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// How to ingest.
#[derive(Default, Clone)]
pub struct IngestOptions {
    /// The input format; by default the file extension decides.
    pub format: Option<InputFormat>,
    /// Called with the number of bytes read so far, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Ingest even if an ingest of the same input (same SHA-256) was committed to the table.
    pub allow_duplicate: bool,
    /// A client's key for this ingest: a second ingest with the same key is refused.
    pub idempotency_key: Option<String>,
    /// Append, merge by primary key, or overwrite.
    pub mode: IngestMode,
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub table: String,
    pub product: String,
    pub source: String,
    pub mode: IngestMode,
    /// The product table's Delta version after the ingest.
    pub version: Option<u64>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// For a merge: the accepted rows that were new keys, and those that replaced a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_inserted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_updated: Option<u64>,
    /// The most frequent reasons rows were quarantined, with their counts.
    pub quarantine_reasons: Vec<(String, u64)>,
    pub input_sha256: String,
    /// The ledger entry that records the ingest.
    pub ledger_index: u64,
    /// Columns whose automatic classification this ingest set to a sensitive category or
    /// changed.
    pub classified: Vec<ColumnClassified>,
    /// Columns whose values this ingest classified below their label: the label stands until an
    /// owner lowers it (`agora tag set`).
    pub kept: Vec<ColumnClassified>,
    /// The verdict of each of the contract's quality rules on this ingest's rows.
    pub rules: Vec<RuleVerdict>,
    /// Set when a failed blocking rule sent every row to quarantine: the reason they carry.
    pub blocked: Option<String>,
}

/// One quality rule of the contract and what this ingest's rows showed of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleVerdict {
    /// Where the rule is written: `table orders quality rule 1`, `column orders.email ...`.
    pub rule: String,
    pub description: Option<String>,
    /// `warn` or `block`.
    pub severity: String,
    /// `passed`, `failed` or `not evaluated`.
    pub outcome: String,
    /// What was measured, in the rule's unit.
    pub observed: Option<f64>,
    /// What the rule demands: `must be ≤ 5 percent`.
    #[serde(default)]
    pub expected: String,
    /// What was measured and what the rule demands, in words.
    pub message: String,
    /// `opened`, `ongoing` or `closed` when this verdict opens, keeps or closes an incident
    /// (a rule whose latest evaluated verdict failed has one open).
    #[serde(default)]
    pub incident: Option<String>,
    /// Whether `observed`, `expected` and `message` derive from the rows' values (a batch
    /// metric's bounds, mean or quantiles), which the public ledger must not carry.
    #[serde(default)]
    pub value_derived: bool,
}

impl From<&RuleResult> for RuleVerdict {
    fn from(r: &RuleResult) -> Self {
        RuleVerdict {
            rule: r.place.clone(),
            description: r.description.clone(),
            severity: r.severity.as_str().to_string(),
            outcome: r.outcome.as_str().to_string(),
            observed: r.observed,
            expected: r.expected.clone(),
            message: r.message.clone(),
            incident: None,
            value_derived: false,
        }
    }
}

impl Mesh {
    /// The verdicts of an ingest: its contract's rules, then its batch metrics judged against
    /// their history and its row-level checks, each marked with the incident it opens, keeps or
    /// closes. A batch check that passed and closes nothing is left out.
    async fn verdicts_of(
        &self,
        table: &TableRef,
        outcome: &agora_ingest::IngestOutcome,
        metrics: &[MetricRecord],
        checked_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RuleVerdict>, MeshError> {
        let mut verdicts: Vec<RuleVerdict> = outcome.rules.iter().map(RuleVerdict::from).collect();
        verdicts
            .extend(crate::quality_metrics::judge(&self.store, table, metrics, checked_at).await?);
        verdicts.extend(
            outcome
                .row_checks
                .iter()
                .map(crate::quality_metrics::row_verdict),
        );
        let mut verdicts =
            crate::quality_results::with_incidents(&self.store, table, verdicts).await?;
        verdicts.retain(|v| {
            !crate::quality_metrics::is_batch_check(&v.rule)
                || v.outcome == RuleOutcome::Failed.as_str()
                || v.incident.is_some()
        });
        Ok(verdicts)
    }
}

/// A column whose classification an ingest decided for the first time or changed (its values
/// drifted to another category), or would have lowered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnClassified {
    pub column: String,
    pub category: agora_model::Category,
    /// The automatic category before this ingest, if there was one.
    pub previous: Option<agora_model::Category>,
    pub sensitivity: agora_model::Sensitivity,
    pub confidence: f64,
    pub evidence: Vec<agora_classify::Evidence>,
}

impl From<&TagDecision> for ColumnClassified {
    fn from(d: &TagDecision) -> Self {
        ColumnClassified {
            column: d.tag.column.clone(),
            category: d.tag.category,
            previous: d.previous,
            sensitivity: d.tag.sensitivity,
            confidence: d.tag.confidence,
            evidence: d.classification.evidence.clone(),
        }
    }
}

/// What recovery needs to finish an ingest a crash interrupted, kept in its pending record.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IngestIntent {
    pub ingest_id: String,
    pub table: String,
    pub product: String,
    pub source: String,
    #[serde(default)]
    pub mode: IngestMode,
    pub input_sha256: String,
    pub actor: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub quarantine_reasons: Vec<(String, u64)>,
    pub idempotency_key: Option<String>,
    pub classified: Vec<ColumnClassified>,
    pub kept: Vec<ColumnClassified>,
    #[serde(default)]
    pub rules: Vec<RuleVerdict>,
    #[serde(default)]
    pub blocked: Option<String>,
    /// When the rules were judged.
    #[serde(default)]
    pub checked_at: String,
    #[serde(default)]
    pub metrics: Vec<MetricRecord>,
    /// For an ingest of corrected quarantined rows: the rows it takes out of the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readmission: Option<Readmission>,
    /// For an ingest of rows derived from other tables (a saved forecast): the body of the
    /// `lineage.run` entry recorded with it, whose output version the commit fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<serde_json::Value>,
}

impl Mesh {
    /// Ingests `source` into the product table `table` (`domain.table`) as `actor`. The files
    /// of an ingest that fails, or that a blocking quality rule sent to quarantine, are removed
    /// before this returns, unless another ingest is running (see `vacuum.rs`).
    pub async fn ingest(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
    ) -> Result<IngestReport, MeshError> {
        self.ingest_readmitting(actor, table, source, options, None)
            .await
    }

    /// [`Self::ingest`], which for an ingest of corrected quarantined rows (`readmission`) also
    /// takes them out of the quarantine (`quality_readmission.rs`).
    pub(crate) async fn ingest_readmitting(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
        readmission: Option<Readmission>,
    ) -> Result<IngestReport, MeshError> {
        self.ingest_with(actor, table, source, options, readmission, None)
            .await
    }

    /// [`Self::ingest`] of rows derived from other tables, recording `lineage` (the body of a
    /// `lineage.run` entry, `saved_forecasts.rs`) in the same ledger append as the ingest.
    pub(crate) async fn ingest_derived(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
        lineage: serde_json::Value,
    ) -> Result<IngestReport, MeshError> {
        self.ingest_with(actor, table, source, options, None, Some(lineage))
            .await
    }

    async fn ingest_with(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
        readmission: Option<Readmission>,
        derivation: Option<serde_json::Value>,
    ) -> Result<IngestReport, MeshError> {
        let result = self
            .try_ingest(actor, table, source, options, readmission, derivation)
            .await;
        let left_files = match &result {
            Ok(report) => report.blocked.is_some(),
            Err(_) => true,
        };
        if left_files && let Err(e) = self.vacuum_after_failures().await {
            tracing::warn!(error = %e, "could not remove the files of a failed ingest");
        }
        result
    }

    async fn try_ingest(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
        readmission: Option<Readmission>,
        derivation: Option<serde_json::Value>,
    ) -> Result<IngestReport, MeshError> {
        let table = TableRef::parse(table)?;
        let (product, contract) = self.product_of_table(&table).await?;
        let viewer = self.viewer(actor).await?;
        if !viewer.may(Access::Write, &table.domain, &product.name, &table.table) {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!(
                    "write to {table} (product {}.{})",
                    product.domain, product.name
                ),
            });
        }
        if let Some(key) = &options.idempotency_key {
            self.refuse_repeat(&table, "", Some(key)).await?;
        }
        let span = tracing::info_span!("ingest", table = %table, principal = %actor.name, source = %source.name());
        let tags = self
            .catalog
            .column_tags()
            .await?
            .into_iter()
            .filter(|t| t.table == table)
            .collect();
        let ingest_id = format!("{}-{:08x}", crate::now(), rand::random::<u32>());
        let writing = self.start_writing(std::slice::from_ref(&table), &ingest_id)?;
        let mut prepared = Ingest {
            table: table.clone(),
            contract: contract.clone(),
            source,
            mode: options.mode,
            format: options.format,
            ingest_id: ingest_id.clone(),
            actor: actor.name.clone(),
            tags,
            policies: self.policy_set().await?,
            mask_key: self.masks.key().clone(),
            progress: options.progress,
        }
        .prepare(&self.store)
        .instrument(span)
        .await?;
        self.judge_sql_rules(&table, &contract, &mut prepared)
            .await?;
        self.judge_frequency_rules(&table, &product.name, &contract, &mut prepared)
            .await?;
        let outcome = &prepared.outcome;
        if !options.allow_duplicate {
            self.refuse_repeat(&table, &outcome.input_sha256, None)
                .await?;
        }
        let decisions = &outcome.classification.decisions;
        // Tags are stored only for rows that make it in: a file whose every row was refused
        // says nothing about the table. Rows a blocking rule sent to quarantine are valid rows
        // readers of the quarantine see, so their labels are stored too.
        let rows_classified = outcome.rows_accepted + outcome.blocked.as_ref().map_or(0, |b| b.0);
        let (tag_changes, classified, kept) = if rows_classified > 0 {
            (
                decisions
                    .iter()
                    .filter(|d| d.changed())
                    .map(|d| Change::PutColumnTag(d.tag.clone()))
                    .collect(),
                decisions
                    .iter()
                    .filter(|d| d.is_news())
                    .map(ColumnClassified::from)
                    .collect(),
                decisions
                    .iter()
                    .filter(|d| d.lowering_refused)
                    .map(ColumnClassified::from)
                    .collect(),
            )
        } else {
            (Vec::new(), Vec::new(), Vec::new())
        };
        let checked_at = chrono::Utc::now();
        let metrics = crate::quality_metrics::without_personal_frequencies(
            outcome.metrics.iter().map(MetricRecord::from).collect(),
            &outcome.classification.tags_after,
            &contract,
        );
        let intent = IngestIntent {
            ingest_id,
            table: table.to_string(),
            product: format!("{}.{}", product.domain, product.name),
            source: outcome.source.clone(),
            mode: options.mode,
            input_sha256: outcome.input_sha256.clone(),
            actor: actor.name.to_string(),
            rows_read: outcome.rows_read,
            rows_accepted: outcome.rows_accepted,
            rows_quarantined: outcome.rows_quarantined,
            quarantine_reasons: outcome.quarantine_reasons.clone(),
            idempotency_key: options.idempotency_key,
            classified,
            kept,
            rules: self
                .verdicts_of(&table, outcome, &metrics, checked_at)
                .await?,
            blocked: outcome.blocked.as_ref().map(|b| b.1.clone()),
            checked_at: checked_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            metrics,
            readmission,
            derivation,
        };
        let blocked = intent.blocked.is_some();
        let payload = Payload {
            events: Vec::new(),
            ingest: Some(intent),
            table_change: None,
        };
        let (id, pending) = self.begin_change(&tag_changes, &payload).await?;
        failpoint("ingest.after_tags");
        let committed = prepared.commit().await?;
        failpoint("ingest.after_commit");
        let intent = payload.ingest.expect("INVARIANT: set just above");
        let report = self.finish_ingest(id, &pending, intent, committed).await?;
        // A blocked ingest leaves the product files it wrote uncommitted: its marker stays, so
        // that `ingest` removes them.
        if !blocked {
            writing.succeeded();
        }
        Ok(report)
    }

    /// Refuses an ingest into `table` of input an earlier ingest already committed (same
    /// SHA-256), or carrying an idempotency key an earlier one carried.
    async fn refuse_repeat(
        &self,
        table: &TableRef,
        input_sha256: &str,
        idempotency_key: Option<&str>,
    ) -> Result<(), MeshError> {
        let Some(earlier) = self
            .catalog
            .earlier_ingest(table, input_sha256, idempotency_key)
            .await?
        else {
            return Ok(());
        };
        let why = match idempotency_key {
            Some(key) => format!("an ingest with idempotency key `{key}`"),
            None => format!("this input (SHA-256 {input_sha256})"),
        };
        Err(MeshError::Conflict(format!(
            "{why} was already ingested into {table} as version {} at {} by {}; pass --allow-duplicate to ingest it again",
            earlier.table_version, earlier.at, earlier.principal
        )))
    }

    /// Records a committed ingest (steps 3 and 4 of the module docs): its quality results unless
    /// they were written already, its ledger entries unless the log holds them already, then
    /// its catalog row with the pending record's removal.
    async fn finish_ingest(
        &self,
        pending_id: i64,
        pending: &PendingRecord,
        intent: IngestIntent,
        committed: Committed,
    ) -> Result<IngestReport, MeshError> {
        let table = TableRef::parse(&intent.table)?;
        crate::quality_results::record(&self.store, &table, &intent, committed.version).await?;
        crate::quality_metrics::record(&self.store, &table, &intent, committed.version).await?;
        let taken_out = match &intent.readmission {
            Some(r) => Some(
                self.take_out_readmitted(&table, &intent.ingest_id, r)
                    .await?,
            ),
            None => None,
        };
        failpoint("readmission.after_quarantine");
        let mut appended = None;
        if !self
            .recorder
            .has_intent(pending.log_size, &pending.intent)
            .await?
        {
            let mut events = ingest_events(&table, &intent, committed);
            if let Some(r) = &intent.readmission {
                events.push(readmitted_event(
                    &table,
                    &intent.ingest_id,
                    r,
                    intent.rows_accepted,
                    committed.version,
                    taken_out.flatten(),
                ));
            }
            // A blocked batch derived nothing.
            if let Some(body) = intent
                .derivation
                .as_ref()
                .filter(|_| intent.blocked.is_none())
            {
                let mut body = body.clone();
                if let Some(output) = body["outputs"].get_mut(0) {
                    output["version"] = json!(committed.version);
                }
                events.push(Event::by_domain(
                    agora_lineage::KIND_LINEAGE,
                    &table.domain,
                    body,
                ));
            }
            appended = Some(
                self.recorder
                    .record(events, Some(pending.intent.clone()))
                    .await?,
            );
        }
        failpoint("ingest.after_ledger");
        let (_, product) = intent
            .product
            .split_once('.')
            .ok_or_else(|| MeshError::Internal(format!("pending ingest of {}", intent.product)))?;
        let record = IngestRecord {
            domain: table.domain.clone(),
            product: Name::strict("product", product)?,
            table: table.table.clone(),
            table_version: committed.version.unwrap_or(0) as i64,
            rows_accepted: intent.rows_accepted as i64,
            rows_quarantined: intent.rows_quarantined as i64,
            source: intent.source.clone(),
            input_sha256: intent.input_sha256.clone(),
            principal: Name::strict("principal", &intent.actor)?,
            at: crate::now(),
            ingest_id: intent.ingest_id.clone(),
            idempotency_key: intent.idempotency_key.clone(),
        };
        let recorded = self
            .catalog
            .ingest(&table, &intent.ingest_id)
            .await?
            .is_some();
        let mut changes = if recorded {
            Vec::new()
        } else {
            vec![Change::RecordIngest(record)]
        };
        if let Some(r) = &intent.readmission {
            let drafts: Vec<CorrectionDraft> = r
                .corrections
                .iter()
                .cloned()
                .map(|mut d| {
                    d.record.readmitted_by = Some(intent.ingest_id.clone());
                    d
                })
                .collect();
            changes.extend(finished_records(
                &drafts,
                committed.version,
                Some(intent.rows_accepted),
            )?);
        }
        self.catalog.complete(pending_id, &changes).await?;
        let mut quarantine_reasons = intent.quarantine_reasons;
        quarantine_reasons.truncate(5);
        Ok(IngestReport {
            table: intent.table,
            product: intent.product,
            source: intent.source,
            mode: intent.mode,
            version: committed.version,
            rows_read: intent.rows_read,
            rows_accepted: intent.rows_accepted,
            rows_quarantined: intent.rows_quarantined,
            rows_inserted: committed.merged.map(|m| m.rows_inserted),
            rows_updated: committed.merged.map(|m| m.rows_updated),
            quarantine_reasons,
            input_sha256: intent.input_sha256,
            ledger_index: appended.map_or(pending.log_size, |a| a.first_index),
            classified: intent.classified,
            kept: intent.kept,
            rules: intent.rules,
            blocked: intent.blocked,
        })
    }

    /// Finishes an ingest a crash interrupted: if its Delta commit happened (the product
    /// table's, or for an ingest whose every row was quarantined, the quarantine table's), it
    /// is recorded; if not, only its tags stay (they can only have raised labels).
    pub(crate) async fn recover_ingest(
        &self,
        pending_id: i64,
        pending: &PendingRecord,
        intent: IngestIntent,
    ) -> Result<(), MeshError> {
        let table = TableRef::parse(&intent.table)?;
        let mark = (COMMIT_METADATA_KEY, intent.ingest_id.as_str());
        let version = self
            .store
            .marked_commit(&table, TableKind::Product, mark)
            .await?;
        let quarantine_version = self
            .store
            .marked_commit(&table, TableKind::Quarantine, mark)
            .await?;
        let product_committed = version.is_some() || intent.rows_accepted == 0;
        if product_committed && (intent.rows_accepted > 0 || quarantine_version.is_some()) {
            let version = match version {
                Some(v) => Some(v),
                None => self
                    .store
                    .open(&table, TableKind::Product)
                    .await?
                    .and_then(|t| t.version()),
            };
            let merged = match intent.mode {
                IngestMode::Merge => self.store.marked_merge(&table, mark).await?,
                _ => None,
            };
            let committed = Committed {
                version,
                quarantine_version,
                merged,
            };
            let ingest_id = intent.ingest_id.clone();
            self.finish_ingest(pending_id, pending, intent, committed)
                .await?;
            self.store.remove_staging(&ingest_id)?;
            return Ok(());
        }
        if let Some(q) = quarantine_version {
            if intent.readmission.is_some() {
                // The corrected rows stay in the quarantine as they were: not twice.
                self.undo_readmitted_copies(&table, &intent.ingest_id)
                    .await?;
            }
            // The quarantine committed, the product did not: the rejected rows stay traceable.
            if !self
                .recorder
                .has_intent(pending.log_size, &pending.intent)
                .await?
            {
                let event = Event::by_domain(
                    "ingest.rolled_back",
                    &table.domain,
                    json!({
                        "table": intent.table,
                        "source": intent.source,
                        "input_sha256": intent.input_sha256,
                        "quarantine_version": q,
                        "rows_quarantined": intent.rows_quarantined,
                        "by": intent.actor,
                    }),
                );
                self.recorder
                    .record(vec![event], Some(pending.intent.clone()))
                    .await?;
            }
        }
        self.catalog.complete(pending_id, &[]).await?;
        self.store.remove_staging(&intent.ingest_id)?;
        Ok(())
    }
}

/// The ledger batch of a committed ingest: `ingest.committed`, then a `classification.decided`
/// per reported column, a `classification.kept` per refused lowering, and a
/// `quality.incident_opened` or `quality.incident_closed` per incident a rule's verdict opens or
/// closes.
fn ingest_events(table: &TableRef, intent: &IngestIntent, committed: Committed) -> Vec<Event> {
    let mut events = vec![Event::by_domain(
        "ingest.committed",
        &table.domain,
        json!({
            "product": intent.product,
            "table": intent.table,
            "ingest_id": intent.ingest_id,
            "table_version": committed.version,
            "mode": intent.mode.as_str(),
            "rows_accepted": intent.rows_accepted,
            "rows_quarantined": intent.rows_quarantined,
            "rows_inserted": committed.merged.map(|m| m.rows_inserted),
            "rows_updated": committed.merged.map(|m| m.rows_updated),
            "quarantine_version": committed.quarantine_version,
            "source": intent.source,
            "input_sha256": intent.input_sha256,
            "by": intent.actor,
            "blocked": intent.blocked,
        }),
    )];
    let decision = |kind: &str, c: &ColumnClassified| {
        Event::by_domain(
            kind,
            &table.domain,
            json!({
                "table": intent.table,
                "column": c.column,
                "category": c.category.as_str(),
                "previous_category": c.previous.map(|p| p.as_str()),
                "sensitivity": c.sensitivity.as_str(),
                "confidence": c.confidence,
                "evidence": c.evidence,
            }),
        )
    };
    events.extend(
        intent
            .classified
            .iter()
            .map(|c| decision("classification.decided", c)),
    );
    events.extend(
        intent
            .kept
            .iter()
            .map(|c| decision("classification.kept", c)),
    );
    let incident = |r: &RuleVerdict| match r.incident.as_deref() {
        Some("opened") => Some("quality.incident_opened"),
        Some("closed") => Some("quality.incident_closed"),
        _ => None,
    };
    events.extend(intent.rules.iter().filter_map(|r| {
        Some(Event::by_domain(
            incident(r)?,
            &table.domain,
            json!({
                "table": intent.table,
                "ingest_id": intent.ingest_id,
                "table_version": committed.version,
                "rule": r.rule,
                "severity": r.severity,
                // Values of the rows stay out of the public ledger (see `RuleVerdict`).
                "observed": r.observed.filter(|_| !r.value_derived),
                "expected": (!r.value_derived).then_some(&r.expected),
                "explanation": match r.value_derived {
                    true => "the metric left its expected range (see the table's quality results)",
                    false => r.message.as_str(),
                },
            }),
        ))
    }));
    events
}
