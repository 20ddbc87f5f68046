//! Batch metrics of the rows an ingest accepts (`agora_quality::BatchProfile`), known when the
//! input ends, for the mesh to judge against each metric's history; the row-level checks of
//! the batch (`agora_quality::row_checks`); and the schema fingerprint of the source: the
//! columns it sent, in order, with their types as decoded (`source_columns`).

use agora_model::ContractTable;
use agora_quality::BatchProfile;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::{IngestContext, IngestError, Stage, StagedBatch};

/// The profiling stage (see the module docs).
pub struct Profile {
    profile: BatchProfile,
    /// The source's columns as `name:type`, in the order they first came.
    source_columns: Vec<String>,
}

impl Profile {
    /// Profiles accepted rows of `schema` (the product's), judging the outliers of each number
    /// column the contract groups (`outliersBy`) within its groups.
    pub fn new(schema: &SchemaRef, contract: &ContractTable) -> Self {
        let columns: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let groups: Vec<(String, String)> = contract
            .columns
            .iter()
            .filter_map(|c| Some((c.sql_name.to_string(), c.outliers_by.as_ref()?.to_string())))
            .collect();
        Profile {
            profile: BatchProfile::new(&columns).with_outlier_groups(&groups),
            source_columns: Vec::new(),
        }
    }
}

#[async_trait]
impl Stage for Profile {
    fn name(&self) -> &'static str {
        "profile"
    }

    async fn apply(
        &mut self,
        batch: StagedBatch,
        _context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        // The batch's volume is what arrived, quarantined rows included; the other metrics
        // describe the rows accepted.
        for field in batch.raw.schema().fields() {
            let column = format!("{}:{}", field.name(), field.data_type());
            if !self.source_columns.contains(&column) {
                self.source_columns.push(column);
            }
        }
        let rejected = batch.rejected.as_ref().map_or(0, |r| r.num_rows());
        let accepted = batch.accepted.as_ref().map_or(0, |a| a.num_rows());
        self.profile.count_read((accepted + rejected) as u64);
        if let Some(accepted) = &batch.accepted {
            self.profile
                .observe(accepted)
                .map_err(|e| IngestError::Internal(format!("profiling the batch: {e}")))?;
        }
        Ok(vec![batch])
    }

    async fn finish(
        &mut self,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let mut metrics = self.profile.metrics();
        metrics.push(agora_quality::BatchMetric {
            column: None,
            metric: agora_quality::profile::SOURCE_COLUMNS,
            key: Some(self.source_columns.join(",")),
            value: self.source_columns.len() as f64,
        });
        context.metrics = Some(metrics);
        context.row_checks = Some(self.profile.row_checks());
        Ok(Vec::new())
    }
}
