//! The contract's quality rules, judged on the rows an ingest accepts.
//!
//! The rules' counts grow as batches pass; the verdicts are known when the input ends, after
//! the rows are written but before anything is committed. A failed blocking rule then sends the
//! whole ingest to quarantine, with the rule as reason, and the product table stays at its
//! previous version (see [`crate::Prepared::commit`]): for that, validation keeps the accepted
//! rows a second time in the quarantine's form while the table has such a rule.
//!
//! The rules judge the ingest's batch, not the table it lands in: `rowCount` counts the rows
//! this ingest brings, and `duplicateValues` finds values repeated within it (a value the table
//! had before is the validation's uniqueness check, for columns the contract marks unique).

use agora_quality::{QualityRule, RuleEvaluation};
use async_trait::async_trait;

use crate::{IngestContext, IngestError, Stage, StagedBatch};

/// The quality-rule stage (see the module docs).
pub struct CheckRules {
    evaluation: RuleEvaluation,
}

impl CheckRules {
    pub fn new(rules: Vec<QualityRule>) -> Self {
        CheckRules {
            evaluation: RuleEvaluation::new(rules),
        }
    }
}

#[async_trait]
impl Stage for CheckRules {
    fn name(&self) -> &'static str {
        "check rules"
    }

    async fn apply(
        &mut self,
        batch: StagedBatch,
        _context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        if let Some(accepted) = &batch.accepted {
            self.evaluation
                .observe(accepted)
                .map_err(|e| IngestError::Internal(format!("evaluating the quality rules: {e}")))?;
        }
        Ok(vec![batch])
    }

    async fn finish(
        &mut self,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        context.rules = Some(self.evaluation.results());
        Ok(Vec::new())
    }
}
