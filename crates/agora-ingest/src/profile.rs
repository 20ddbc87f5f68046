//! Batch metrics of the rows an ingest accepts (`agora_quality::BatchProfile`), known when the
//! input ends, for the mesh to judge against each metric's history; and the row-level checks
//! of the batch (`agora_quality::row_checks`).

use agora_quality::BatchProfile;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use crate::{IngestContext, IngestError, Stage, StagedBatch};

/// The profiling stage (see the module docs).
pub struct Profile {
    profile: BatchProfile,
}

impl Profile {
    /// Profiles accepted rows of `schema` (the product's).
    pub fn new(schema: &SchemaRef) -> Self {
        let columns: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        Profile {
            profile: BatchProfile::new(&columns),
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
        context.metrics = Some(self.profile.metrics());
        context.row_checks = Some(self.profile.row_checks());
        Ok(Vec::new())
    }
}
