//! What `agora quality TABLE` and `GET /api/v1/tables/{domain}/{table}/quality` show: the
//! latest verdict of every rule, a score, and the incidents, open and closed, as the table's
//! quality results (`domain.table__quality`) tell them. The results are read through the
//! governed query layer as the asking principal, so its grants and audit apply as to any read.

use agora_model::{Principal, TableRef};
use agora_query::{Interface, QUALITY_SUFFIX, SessionOptions};
use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use serde::Serialize;

use crate::quality_predictions::{PredictedBreach, predicted_breaches};
use crate::quality_results::text;
use crate::quality_results::{ResultRow, RuleStatus};
use crate::{Mesh, MeshError};

/// A table's quality, from its quality results.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub table: String,
    /// The share of the rules evaluated at the latest check that passed, in percent; `None`
    /// before any rule was evaluated.
    pub score: Option<f64>,
    /// The latest check: when, which ingest, and the table's version after it.
    pub checked_at: Option<String>,
    pub ingest_id: Option<String>,
    pub table_version: Option<i64>,
    /// Every rule's verdict at the latest check.
    pub rules: Vec<RuleStatus>,
    /// Open incidents first, then closed ones, newest first within each.
    pub incidents: Vec<Incident>,
    /// The rules that hold today but, at the current trend, will not: nearest first.
    pub predicted: Vec<PredictedBreach>,
}

/// A run of failed verdicts of one rule, from the first failure to the next pass.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub rule: String,
    pub severity: String,
    /// `open` or `closed`.
    pub status: String,
    pub opened_at: String,
    pub opened_ingest: String,
    pub opened_version: Option<i64>,
    pub closed_at: Option<String>,
    pub closed_ingest: Option<String>,
    /// How many checks failed during the incident.
    pub failed_checks: u64,
    /// Whether one of those failures blocked its ingest.
    pub blocked: bool,
    /// At the incident's latest failure: what was measured, what the rule demands, in words.
    pub observed: Option<f64>,
    pub expected: Option<String>,
    pub explanation: String,
}

const RESULTS_SQL: &str = "select cast(checked_at as varchar) as checked_at, ingest_id, table_version, rule, description, severity, outcome, observed, expected, explanation, blocked from {table} order by checked_at, ingest_id";

impl Mesh {
    /// The quality of `table` (`domain.table`) as `actor` may read it.
    pub async fn quality_report(
        &self,
        actor: &Principal,
        table: &str,
        interface: Interface,
    ) -> Result<QualityReport, MeshError> {
        let table = TableRef::parse(table)?;
        let (product, contract) = self.product_of_table(&table).await?;
        let sql = RESULTS_SQL.replace(
            "{table}",
            &format!("{}.{}{QUALITY_SUFFIX}", table.domain, table.table),
        );
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let results = format!("{}{QUALITY_SUFFIX}", table.table);
        if !session.names_table(table.domain.as_str(), &results) {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!(
                    "read the quality of {table}: its results describe whole batches, for the table's owners and writers and for readers who see it unmasked and unfiltered"
                ),
            });
        }
        let batches = session
            .sql(&sql)
            .await?
            .collect()
            .await
            .map_err(|e| MeshError::Internal(format!("reading the quality results: {e}")))?;
        let mut rows = Vec::new();
        for batch in &batches {
            let column = |i: usize| text(batch.column(i));
            let (at, ingest, rule, description, severity, outcome, expected, explanation) = (
                column(0)?,
                column(1)?,
                column(3)?,
                column(4)?,
                column(5)?,
                column(6)?,
                column(8)?,
                column(9)?,
            );
            let version = downcast::<Int64Array>(batch.column(2))?;
            let observed = downcast::<Float64Array>(batch.column(7))?;
            let blocked = downcast::<BooleanArray>(batch.column(10))?;
            let value =
                |a: &StringArray, row: usize| a.is_valid(row).then(|| a.value(row).to_string());
            for row in 0..batch.num_rows() {
                rows.push(ResultRow {
                    checked_at: value(&at, row).unwrap_or_default(),
                    ingest_id: value(&ingest, row).unwrap_or_default(),
                    table_version: version.is_valid(row).then(|| version.value(row)),
                    blocked: blocked.is_valid(row) && blocked.value(row),
                    status: RuleStatus {
                        rule: value(&rule, row).unwrap_or_default(),
                        description: value(&description, row),
                        severity: value(&severity, row).unwrap_or_default(),
                        outcome: value(&outcome, row).unwrap_or_default(),
                        observed: observed.is_valid(row).then(|| observed.value(row)),
                        expected: value(&expected, row),
                        explanation: value(&explanation, row).unwrap_or_default(),
                    },
                });
            }
        }
        let mut report = report(table.to_string(), &rows);
        // A table's SLA frequency is judged now: one nobody feeds is overdue without an ingest.
        for now in self.frequency_now(&table, &product.name, &contract).await? {
            match report.rules.iter_mut().find(|r| r.rule == now.place) {
                Some(status) => *status = RuleStatus::from(&now),
                None => report.rules.push(RuleStatus::from(&now)),
            }
        }
        report.score = score(&report.rules);
        // A rule failing now has an incident, not a prediction.
        let rules: Vec<_> = agora_quality::rules_of(&contract)
            .map_err(|e| MeshError::bad_input("contract", e.to_string()))?
            .into_iter()
            .filter(|rule| {
                report
                    .rules
                    .iter()
                    .any(|s| s.rule == rule.place && s.outcome == "passed")
            })
            .collect();
        // A fit per rule: off the async workers.
        report.predicted = tokio::task::spawn_blocking(move || predicted_breaches(&rows, &rules))
            .await
            .map_err(|e| {
                MeshError::Internal(format!("predicting the breaches of {table} failed: {e}"))
            })?;
        Ok(report)
    }
}

/// The report the results `rows` (oldest first) make.
fn report(table: String, rows: &[ResultRow]) -> QualityReport {
    let latest = rows.last();
    let rules: Vec<RuleStatus> = latest
        .map(|l| {
            rows.iter()
                .filter(|r| r.ingest_id == l.ingest_id)
                .map(|r| r.status.clone())
                .collect()
        })
        .unwrap_or_default();
    let score = score(&rules);
    QualityReport {
        table,
        score,
        checked_at: latest.map(|l| l.checked_at.clone()),
        ingest_id: latest.map(|l| l.ingest_id.clone()),
        table_version: latest.and_then(|l| l.table_version),
        rules,
        incidents: incidents(rows),
        predicted: Vec::new(),
    }
}

/// The share of the evaluated `rules` that passed, in percent.
fn score(rules: &[RuleStatus]) -> Option<f64> {
    let evaluated = rules
        .iter()
        .filter(|r| r.outcome == "passed" || r.outcome == "failed")
        .count();
    let passed = rules.iter().filter(|r| r.outcome == "passed").count();
    (evaluated > 0).then(|| 100.0 * passed as f64 / evaluated as f64)
}

impl From<&agora_quality::RuleResult> for RuleStatus {
    fn from(r: &agora_quality::RuleResult) -> Self {
        RuleStatus {
            rule: r.place.clone(),
            description: r.description.clone(),
            severity: r.severity.as_str().to_string(),
            outcome: r.outcome.as_str().to_string(),
            observed: r.observed,
            expected: Some(r.expected.clone()).filter(|e| !e.is_empty()),
            explanation: r.message.clone(),
        }
    }
}

/// The incidents the results `rows` (oldest first) hold: for each rule, every run of failed
/// verdicts up to the next pass (verdicts not evaluated change nothing).
fn incidents(rows: &[ResultRow]) -> Vec<Incident> {
    let mut open: Vec<Incident> = Vec::new();
    let mut closed: Vec<Incident> = Vec::new();
    for row in rows {
        let s = &row.status;
        let current = open.iter().position(|i| i.rule == s.rule);
        match (s.outcome.as_str(), current) {
            ("failed", None) => open.push(Incident {
                rule: s.rule.clone(),
                severity: s.severity.clone(),
                status: "open".into(),
                opened_at: row.checked_at.clone(),
                opened_ingest: row.ingest_id.clone(),
                opened_version: row.table_version,
                closed_at: None,
                closed_ingest: None,
                failed_checks: 1,
                blocked: row.blocked && s.severity == "block",
                observed: s.observed,
                expected: s.expected.clone(),
                explanation: s.explanation.clone(),
            }),
            ("failed", Some(i)) => {
                let incident = &mut open[i];
                incident.failed_checks += 1;
                incident.blocked |= row.blocked && s.severity == "block";
                incident.observed = s.observed;
                incident.expected = s.expected.clone();
                incident.explanation = s.explanation.clone();
            }
            ("passed", Some(i)) => {
                let mut incident = open.remove(i);
                incident.status = "closed".into();
                incident.closed_at = Some(row.checked_at.clone());
                incident.closed_ingest = Some(row.ingest_id.clone());
                closed.push(incident);
            }
            _ => {}
        }
    }
    open.reverse();
    closed.reverse();
    open.extend(closed);
    open
}

fn downcast<T: Array + Clone + 'static>(array: &ArrayRef) -> Result<T, MeshError> {
    array
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| MeshError::Internal("quality results: unexpected column type".into()))
}
