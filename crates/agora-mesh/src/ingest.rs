//! Ingest as the mesh runs it: the grant check, the pipeline of `agora-ingest` up to its
//! commit, then (in the order of `changes.rs`) the changed column tags with a pending record of
//! the ingest, the Delta commit, the ledger batch recording the ingest and each classification
//! decision, and the catalog row of the ingest with the pending record's removal. Labels are
//! stored before the commit, so no reader ever sees rows before the labels that protect them;
//! a crash at any step is finished on the next open (`ingest_recovery.rs`): the Delta commit
//! carries the ingest's id, so recovery can tell whether it happened.

use std::sync::Arc;

use agora_catalog::{Change, IngestRecord, PendingRecord};
use agora_ingest::{Committed, Ingest, IngestMode, InputFormat, Source};
use agora_ledger::failpoint;
use agora_model::{Access, Name, Principal, TableRef};
use agora_quality::RuleOutcome;

use crate::pending::IngestIntent;
use crate::quality_metrics::MetricRecord;
use serde_json::json;
use tracing::Instrument;

use crate::correction_records::{CorrectionDraft, finished_records};
use crate::ingest_report::{ColumnClassified, IngestReport, RuleVerdict};
use crate::pending::Payload;
use crate::pending::{Readmission, readmitted_event};
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

impl Mesh {
    /// The verdicts of an ingest: its contract's rules, then its batch metrics judged against
    /// their history and its row-level checks, each marked with the incident it opens, keeps or
    /// closes. A batch check that passed and closes nothing is left out.
    pub(crate) async fn verdicts_of(
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

    /// Runs the ingest in a task of its own: a caller that stops waiting (an HTTP handler
    /// dropped when its client disconnects) must not cancel it between its Delta commit and its
    /// catalog record, where a retry with the same idempotency key would not be recognised.
    async fn ingest_with(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
        readmission: Option<Readmission>,
        derivation: Option<serde_json::Value>,
    ) -> Result<IngestReport, MeshError> {
        let (mesh, actor, target) = (self.clone(), actor.clone(), table.to_string());
        tokio::spawn(async move {
            mesh.ingest_to_the_end(&actor, &target, source, options, readmission, derivation)
                .await
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ingest into {table} failed: {e}")))?
    }

    async fn ingest_to_the_end(
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
        // An ingest with an idempotency key holds the keyed-ingest lock from the check of its
        // key to its record: two requests with one key (a retry racing the first attempt)
        // cannot both pass the check and both commit.
        let _keyed = match &options.idempotency_key {
            Some(key) => {
                let held = self.keyed_ingests.lock().await;
                self.refuse_repeat(&table, "", Some(key)).await?;
                Some(held)
            }
            None => None,
        };
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
    pub(crate) async fn finish_ingest(
        &self,
        pending_id: i64,
        pending: &PendingRecord,
        intent: IngestIntent,
        committed: Committed,
    ) -> Result<IngestReport, MeshError> {
        let table = TableRef::parse(&intent.table)?;
        let verdicts = crate::quality_results::IngestVerdicts {
            ingest_id: &intent.ingest_id,
            checked_at: &intent.checked_at,
            rules: &intent.rules,
            blocked: intent.blocked.is_some(),
        };
        crate::quality_results::record(&self.store, &table, &verdicts, committed.version).await?;
        crate::quality_metrics::record(
            &self.store,
            &table,
            &intent.ingest_id,
            &intent.checked_at,
            &intent.metrics,
            committed.version,
        )
        .await?;
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
