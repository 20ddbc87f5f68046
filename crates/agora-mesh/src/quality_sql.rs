//! The `type: sql` quality rules of a contract: each query's single value compared with the
//! rule's bound. They run through the governed query layer as the domain's owner (so a rule
//! reads only what the owner may read, and every run is audited like any query), with the
//! table the rule belongs to read as the ingest's accepted rows, before their commit: the same
//! batch the library rules judge. `product apply` plans each query the same way over an empty
//! batch, so a query that does not parse, names what does not exist or reads a product the
//! owner may not read is refused with the contract.

use agora_ingest::Prepared;
use agora_model::{ContractTable, Principal, TableRef};
use agora_quality::{QualityRule, RuleResult, sql_verdict};
use agora_query::{BatchRows, BatchTable, GovernedSession, Interface, SessionOptions};
use arrow::array::{Array, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use crate::{Mesh, MeshError};

impl Mesh {
    /// Judges the SQL rules of `contract` (the table `table`) over the accepted rows of
    /// `prepared`, which blocks if a blocking one fails. A rule that cannot run fails.
    pub(crate) async fn judge_sql_rules(
        &self,
        table: &TableRef,
        contract: &ContractTable,
        prepared: &mut Prepared,
    ) -> Result<(), MeshError> {
        let rules = sql_rules(contract)?;
        // A batch a library rule blocked already is in quarantine: there is nothing to judge.
        if rules.is_empty() || prepared.outcome.blocked.is_some() {
            return Ok(());
        }
        let rows = match prepared.staged_rows() {
            Some(staged) => BatchRows::Staged(staged.clone()),
            None => BatchRows::Empty(contract.arrow_schema()),
        };
        let session = self.owners_session(table, rows).await;
        let mut verdicts: Vec<RuleResult> = Vec::with_capacity(rules.len());
        for rule in &rules {
            let query = rule
                .sql()
                .expect("INVARIANT: sql_rules keeps SQL rules only");
            let value = match &session {
                Ok(session) => single_value(session, query).await,
                Err(e) => Err(e.to_string()),
            };
            verdicts.push(sql_verdict(rule, value, prepared.outcome.rows_accepted));
        }
        prepared.judge(verdicts);
        Ok(())
    }

    /// Refuses a contract table whose SQL rules would not run: each query is planned as the
    /// domain's owner over an empty batch of the table and must give one column.
    pub(crate) async fn check_sql_rules(
        &self,
        table: &TableRef,
        contract: &ContractTable,
    ) -> Result<(), MeshError> {
        let rules = sql_rules(contract)?;
        if rules.is_empty() {
            return Ok(());
        }
        let session = self
            .owners_session(table, BatchRows::Empty(contract.arrow_schema()))
            .await?;
        for rule in &rules {
            let query = rule
                .sql()
                .expect("INVARIANT: sql_rules keeps SQL rules only");
            let refused = |why: String| {
                MeshError::bad_input(
                    "contract",
                    format!("{}: the query `{query}` {why}", rule.place),
                )
            };
            let shape = session
                .describe(query)
                .await
                .map_err(|e| refused(format!("cannot run as the domain's owner: {e}")))?;
            let columns = shape.schema.fields().len();
            if columns != 1 {
                return Err(refused(format!(
                    "returns {columns} columns; a rule's query returns one value"
                )));
            }
        }
        Ok(())
    }

    /// A session of the owner of `table`'s domain in which `table` reads as `rows`.
    async fn owners_session(
        &self,
        table: &TableRef,
        rows: BatchRows,
    ) -> Result<GovernedSession, MeshError> {
        let domain = self.domain(&table.domain).await?;
        let owner: Principal = self.principal(domain.owner.as_str()).await?;
        let options = SessionOptions {
            default_schema: Some(table.domain.clone()),
            batch: Some(BatchTable {
                table: table.clone(),
                rows,
            }),
            ..Default::default()
        };
        self.session(&owner, Interface::Quality, options).await
    }
}

fn sql_rules(contract: &ContractTable) -> Result<Vec<QualityRule>, MeshError> {
    Ok(agora_quality::rules_of(contract)
        .map_err(|e| MeshError::bad_input("contract", e.to_string()))?
        .into_iter()
        .filter(|r| r.sql().is_some())
        .collect())
}

/// The single value `query` returns, as a number (`None` for NULL or text).
async fn single_value(session: &GovernedSession, query: &str) -> Result<Option<f64>, String> {
    let batches = session
        .sql(query)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.strip_backtrace())?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err("it returned no row".into());
    };
    if rows > 1 || batch.num_columns() != 1 {
        return Err(format!(
            "it returned {rows} rows of {} columns, not one value",
            batch.num_columns()
        ));
    }
    let Ok(number) = cast(batch.column(0), &DataType::Float64) else {
        return Ok(None);
    };
    let number = number
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("INVARIANT: a cast to Float64 yields a Float64Array");
    Ok(number.is_valid(0).then(|| number.value(0)))
}
