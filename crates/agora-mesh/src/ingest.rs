//! Ingest as the mesh runs it: the grant check, the pipeline of `agora-ingest`, then the
//! catalog record, the changed column tags and one ledger batch recording the ingest and each
//! classification decision.

use std::sync::Arc;

use agora_catalog::{IngestRecord, ProductRecord};
use agora_ingest::{Ingest, IngestOutcome, InputFormat, Source, TagDecision};
use agora_model::{Access, Principal, TableRef};
use serde::Serialize;
use tracing::Instrument;

use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// How to ingest.
#[derive(Default, Clone)]
pub struct IngestOptions {
    /// The input format; by default the file extension decides.
    pub format: Option<InputFormat>,
    /// Called with the number of bytes read so far, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub table: String,
    pub product: String,
    pub source: String,
    /// The product table's Delta version after the ingest.
    pub version: Option<u64>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// The most frequent reasons rows were quarantined, with their counts.
    pub quarantine_reasons: Vec<(String, u64)>,
    pub input_sha256: String,
    /// The ledger entry that records the ingest.
    pub ledger_index: u64,
    /// Columns whose automatic classification this ingest set to a sensitive category or
    /// changed.
    pub classified: Vec<ColumnClassified>,
}

/// A column whose classification an ingest decided for the first time or changed (its values
/// drifted to another category).
#[derive(Debug, Clone, Serialize)]
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

impl Mesh {
    /// Ingests `source` into the product table `table` (`domain.table`) as `actor`.
    pub async fn ingest(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
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
        let span = tracing::info_span!("ingest", table = %table, principal = %actor.name, source = %source.name());
        let tags = self
            .catalog
            .column_tags()
            .await?
            .into_iter()
            .filter(|t| t.table == table)
            .collect();
        let outcome = Ingest {
            table: table.clone(),
            contract,
            source,
            format: options.format,
            actor: actor.name.clone(),
            tags,
            policies: self.policy_set().await?,
            mask_key: self.masks.key().clone(),
            progress: options.progress,
        }
        .run(&self.store)
        .instrument(span)
        .await?;
        self.record_ingest(actor, &table, &product, outcome).await
    }

    /// Records a committed ingest: its catalog row, the tags it changed, its ledger entries.
    async fn record_ingest(
        &self,
        actor: &Principal,
        table: &TableRef,
        product: &ProductRecord,
        outcome: IngestOutcome,
    ) -> Result<IngestReport, MeshError> {
        let committed = &outcome.committed;
        let product_id = format!("{}.{}", product.domain, product.name);
        self.catalog
            .record_ingest(&IngestRecord {
                domain: table.domain.clone(),
                product: product.name.clone(),
                table: table.table.clone(),
                table_version: committed.version.unwrap_or(0) as i64,
                rows_accepted: committed.rows_accepted as i64,
                rows_quarantined: committed.rows_quarantined as i64,
                source: outcome.source.clone(),
                input_sha256: outcome.input_sha256.clone(),
                principal: actor.name.clone(),
                at: crate::now(),
            })
            .await?;
        // Tags are stored only for rows that made it in: a file whose every row was refused
        // says nothing about the table.
        let mut classified = Vec::new();
        if committed.rows_accepted > 0 {
            for d in outcome
                .classification
                .decisions
                .iter()
                .filter(|d| d.changed())
            {
                self.catalog.put_column_tag(&d.tag).await?;
                if d.is_news() {
                    classified.push(ColumnClassified::from(d));
                }
            }
        }
        let mut events = vec![Event::by_domain(
            "ingest.committed",
            &table.domain,
            serde_json::json!({
                "product": product_id,
                "table": table.to_string(),
                "table_version": committed.version,
                "rows_accepted": committed.rows_accepted,
                "rows_quarantined": committed.rows_quarantined,
                "quarantine_version": committed.quarantine_version,
                "source": outcome.source,
                "input_sha256": outcome.input_sha256,
                "by": actor.name.as_str(),
            }),
        )];
        events.extend(classified.iter().map(|c| {
            Event::by_domain(
                "classification.decided",
                &table.domain,
                serde_json::json!({
                    "table": table.to_string(),
                    "column": c.column,
                    "category": c.category.as_str(),
                    "previous_category": c.previous.map(|p| p.as_str()),
                    "sensitivity": c.sensitivity.as_str(),
                    "confidence": c.confidence,
                    "evidence": c.evidence,
                }),
            )
        }));
        let appended = self.recorder.record(events).await?;
        let mut quarantine_reasons = committed.reasons.clone();
        quarantine_reasons.truncate(5);
        Ok(IngestReport {
            table: table.to_string(),
            product: product_id,
            source: outcome.source,
            version: committed.version,
            rows_read: outcome.rows_read,
            rows_accepted: committed.rows_accepted,
            rows_quarantined: committed.rows_quarantined,
            quarantine_reasons,
            input_sha256: outcome.input_sha256,
            ledger_index: appended.first_index,
            classified,
        })
    }
}
