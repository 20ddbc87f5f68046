//! The SLA `frequency` of a table: how long it may go without a batch. An ingest is judged on
//! the time since the previous batch that brought rows; `agora quality TABLE` judges the time
//! since the latest one, so a table nobody feeds shows as overdue without waiting for an ingest.

use agora_ingest::Prepared;
use agora_model::{ContractTable, TableRef};
use agora_quality::{QualityRule, RuleResult, frequency_verdict};

use crate::{Mesh, MeshError};

/// How many of a product's latest ingests are searched for a table's previous batch.
const INGESTS_SEARCHED: u32 = 1000;

impl Mesh {
    /// Judges the SLA frequency rules of `contract` (the table `table`) for the ingest
    /// `prepared`: the time since the table's previous batch with rows.
    pub(crate) async fn judge_frequency_rules(
        &self,
        table: &TableRef,
        product: &agora_model::Name,
        contract: &ContractTable,
        prepared: &mut Prepared,
    ) -> Result<(), MeshError> {
        let rules = frequency_rules(contract)?;
        if rules.is_empty() {
            return Ok(());
        }
        let since = self.seconds_since_last_batch(table, product).await?;
        prepared.judge(rules.iter().map(|r| frequency_verdict(r, since)).collect());
        Ok(())
    }

    /// The verdicts of the SLA frequency rules of `contract` judged now: the time since the
    /// table's latest batch with rows.
    pub(crate) async fn frequency_now(
        &self,
        table: &TableRef,
        product: &agora_model::Name,
        contract: &ContractTable,
    ) -> Result<Vec<RuleResult>, MeshError> {
        let rules = frequency_rules(contract)?;
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        let since = self.seconds_since_last_batch(table, product).await?;
        Ok(rules.iter().map(|r| frequency_verdict(r, since)).collect())
    }

    async fn seconds_since_last_batch(
        &self,
        table: &TableRef,
        product: &agora_model::Name,
    ) -> Result<Option<f64>, MeshError> {
        let last = self
            .catalog
            .ingests(&table.domain, product, INGESTS_SEARCHED)
            .await?
            .into_iter()
            .find(|i| i.table == table.table && i.rows_accepted > 0);
        Ok(last.and_then(|i| {
            let at = chrono::DateTime::parse_from_rfc3339(&i.at).ok()?;
            let seconds = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_milliseconds();
            Some(seconds as f64 / 1000.0)
        }))
    }
}

fn frequency_rules(contract: &ContractTable) -> Result<Vec<QualityRule>, MeshError> {
    Ok(agora_quality::rules_of(contract)
        .map_err(|e| MeshError::bad_input("contract", e.to_string()))?
        .into_iter()
        .filter(|r| r.frequency_seconds().is_some())
        .collect())
}
