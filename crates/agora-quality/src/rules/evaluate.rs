//! Evaluating a table's rules over the batches of an ingest: counts kept per rule as batches
//! pass, compared once the input has ended.

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use super::{Comparison, Metric, QualityRule, RuleKind, Scope, Severity, TimeUnit, Unit};

/// The rules of one table and what the batches so far have shown of each.
pub struct RuleEvaluation {
    rules: Vec<QualityRule>,
    counts: Vec<u64>,
    /// The values seen so far, for the duplicate rules (empty for the others).
    seen: Vec<HashSet<Vec<Option<String>>>>,
    /// The newest value seen so far of each latency rule's column, in microseconds since the
    /// epoch (UTC).
    newest: Vec<Option<i64>>,
    rows: u64,
}

/// The verdict on one rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOutcome {
    Passed,
    Failed,
    /// A rule this evaluator does not run (SQL rules run in the mesh; custom engines never).
    NotEvaluated(String),
}

impl RuleOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            RuleOutcome::Passed => "passed",
            RuleOutcome::Failed => "failed",
            RuleOutcome::NotEvaluated(_) => "not evaluated",
        }
    }
}

impl RuleResult {
    /// Whether this result sends the ingest's batch to quarantine: a failed blocking rule.
    pub fn blocks(&self) -> bool {
        self.outcome == RuleOutcome::Failed && self.severity == Severity::Block
    }
}

/// A rule, what was observed and whether it held.
#[derive(Debug, Clone)]
pub struct RuleResult {
    pub place: String,
    pub description: Option<String>,
    pub severity: Severity,
    /// In the rule's unit.
    pub observed: Option<f64>,
    /// What the rule demands, in words: `must be ≤ 5 percent` (empty if it was not evaluated).
    pub expected: String,
    pub outcome: RuleOutcome,
    /// For a person: what was measured, what the rule demands.
    pub message: String,
}

impl RuleEvaluation {
    pub fn new(rules: Vec<QualityRule>) -> RuleEvaluation {
        RuleEvaluation {
            counts: vec![0; rules.len()],
            seen: vec![HashSet::new(); rules.len()],
            newest: vec![None; rules.len()],
            rows: 0,
            rules,
        }
    }

    /// Adds a batch's rows to every rule's counts. Values are compared as text, as the
    /// contract lists them (a column the batch lacks counts as all null).
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
        self.rows += batch.num_rows() as u64;
        for (i, rule) in self.rules.iter().enumerate() {
            if let RuleKind::Latency { column, .. } = &rule.kind {
                if let Some(newest) = newest_instant(batch, column)? {
                    self.newest[i] = Some(self.newest[i].map_or(newest, |n| n.max(newest)));
                }
                continue;
            }
            let RuleKind::Library(metric) = &rule.kind else {
                continue;
            };
            let name = match &rule.scope {
                Scope::Column(name) => Some(name.as_str()),
                Scope::Table => None,
            };
            // Only the metrics that compare values need the column as text.
            let column = match metric {
                Metric::MissingValues { .. } | Metric::InvalidValues { .. } => {
                    name.map(|n| text_column(batch, n)).transpose()?
                }
                _ => None,
            };
            self.counts[i] += match metric {
                Metric::RowCount => 0,
                Metric::NullValues => name.map_or(0, |n| {
                    batch
                        .column_by_name(n)
                        .map_or(batch.num_rows(), |c| c.null_count()) as u64
                }),
                Metric::MissingValues { missing } => column.as_ref().map_or(0, |c| {
                    c.iter()
                        .filter(|v| missing.iter().any(|m| m.as_deref() == *v))
                        .count() as u64
                }),
                Metric::InvalidValues { valid, pattern } => column.as_ref().map_or(0, |c| {
                    c.iter()
                        .flatten()
                        .filter(|v| {
                            let listed = valid
                                .as_ref()
                                .is_none_or(|list| list.iter().any(|l| l.as_deref() == Some(*v)));
                            let shaped = pattern.as_ref().is_none_or(|p| p.is_match(v));
                            !(listed && shaped)
                        })
                        .count() as u64
                }),
                Metric::DuplicateValues { columns } => {
                    let texts = columns
                        .iter()
                        .map(|c| text_column(batch, c))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut repeats = 0;
                    for row in 0..batch.num_rows() {
                        let key: Vec<Option<String>> = texts
                            .iter()
                            .map(|t| t.is_valid(row).then(|| t.value(row).to_string()))
                            .collect();
                        if key.iter().all(Option::is_none) {
                            continue;
                        }
                        if !self.seen[i].insert(key) {
                            repeats += 1;
                        }
                    }
                    repeats
                }
            };
        }
        Ok(())
    }

    /// Every rule's verdict on the rows observed.
    pub fn results(&self) -> Vec<RuleResult> {
        self.rules
            .iter()
            .enumerate()
            .map(|(i, rule)| match &rule.kind {
                RuleKind::Latency { column, unit } => {
                    latency_verdict(rule, column, *unit, self.newest[i], chrono::Utc::now())
                }
                _ => self.result(rule, self.counts[i]),
            })
            .collect()
    }

    fn result(&self, rule: &QualityRule, count: u64) -> RuleResult {
        let not_evaluated = |why: &str| RuleResult {
            place: rule.place.clone(),
            description: rule.description.clone(),
            severity: rule.severity,
            observed: None,
            expected: String::new(),
            outcome: RuleOutcome::NotEvaluated(why.to_string()),
            message: why.to_string(),
        };
        let metric = match &rule.kind {
            RuleKind::Library(metric) => metric,
            RuleKind::Sql { .. } => {
                return not_evaluated("a SQL rule runs through the query layer");
            }
            RuleKind::Custom { engine } => {
                return not_evaluated(&format!(
                    "a custom rule for {} is not run by Agora",
                    engine.as_deref().unwrap_or("another engine")
                ));
            }
            RuleKind::Frequency { .. } => {
                return not_evaluated("the time since the previous batch is the mesh's to judge");
            }
            RuleKind::Latency { .. } => {
                unreachable!("INVARIANT: results() judges latency rules apart")
            }
        };
        let (count, what) = match metric {
            Metric::RowCount => (self.rows, "rows"),
            Metric::NullValues => (count, "null values"),
            Metric::MissingValues { .. } => (count, "missing values"),
            Metric::InvalidValues { .. } => (count, "invalid values"),
            Metric::DuplicateValues { .. } => (count, "duplicated values"),
        };
        let observed = match rule.unit {
            Unit::Rows => count as f64,
            Unit::Percent if self.rows == 0 => 0.0,
            Unit::Percent => 100.0 * count as f64 / self.rows as f64,
        };
        let comparison = rule
            .comparison
            .expect("INVARIANT: parsing refuses library rules without a comparison");
        let holds = comparison.holds(observed);
        let expected = describe_bound(&comparison, rule.unit);
        let measured = match rule.unit {
            Unit::Rows => format!("{count} {what}"),
            Unit::Percent => format!("{observed:.2}% {what} ({count} of {} rows)", self.rows),
        };
        RuleResult {
            place: rule.place.clone(),
            description: rule.description.clone(),
            severity: rule.severity,
            observed: Some(observed),
            outcome: if holds {
                RuleOutcome::Passed
            } else {
                RuleOutcome::Failed
            },
            message: format!("{measured}; {expected}"),
            expected,
        }
    }
}

/// The newest instant in `column` of `batch` (a date, a timestamp, or text that casts to one),
/// in microseconds since the epoch; `None` if the batch has no value there.
fn newest_instant(
    batch: &RecordBatch,
    column: &str,
) -> Result<Option<i64>, arrow::error::ArrowError> {
    let Some(array) = batch.column_by_name(column) else {
        return Ok(None);
    };
    let instants = cast(
        array,
        &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
    )?;
    let instants = instants
        .as_any()
        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
        .expect("INVARIANT: a cast to Timestamp(µs) yields a TimestampMicrosecondArray");
    Ok(arrow::compute::max(instants))
}

/// The verdict on an SLA latency rule whose column's newest value is `newest`, judged `now`.
fn latency_verdict(
    rule: &QualityRule,
    column: &str,
    unit: TimeUnit,
    newest: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> RuleResult {
    let comparison = rule
        .comparison
        .expect("INVARIANT: SLA rules are parsed with a bound");
    let expected = format!("{} {}", comparison.describe(), unit.label);
    let (observed, outcome, message) = match newest {
        None => (
            None,
            RuleOutcome::NotEvaluated(format!("the batch has no value of `{column}`")),
            format!("the batch has no value of `{column}`"),
        ),
        Some(newest) => {
            let age = (now.timestamp_micros() - newest) as f64 / 1e6 / unit.seconds;
            let outcome = match comparison.holds(age) {
                true => RuleOutcome::Passed,
                false => RuleOutcome::Failed,
            };
            (
                Some(age),
                outcome,
                format!(
                    "the newest `{column}` is {age:.2} {} old; {expected}",
                    unit.label
                ),
            )
        }
    };
    RuleResult {
        place: rule.place.clone(),
        description: rule.description.clone(),
        severity: rule.severity,
        observed,
        expected,
        outcome,
        message,
    }
}

/// The verdict on an SLA frequency rule given the time since the table's previous batch
/// (`None` for its first).
pub fn frequency_verdict(rule: &QualityRule, since_previous_seconds: Option<f64>) -> RuleResult {
    let (Some(comparison), RuleKind::Frequency { unit }) = (rule.comparison, &rule.kind) else {
        unreachable!("INVARIANT: called with SLA frequency rules only")
    };
    let expected = format!("{} {}", comparison.describe(), unit.label);
    let (observed, outcome, message) = match since_previous_seconds {
        None => (
            None,
            RuleOutcome::NotEvaluated("the table's first batch".into()),
            "the table's first batch".to_string(),
        ),
        Some(seconds) => {
            let gap = seconds / unit.seconds;
            let outcome = match comparison.holds(gap) {
                true => RuleOutcome::Passed,
                false => RuleOutcome::Failed,
            };
            (
                Some(gap),
                outcome,
                format!(
                    "{gap:.2} {} since the previous batch; {expected}",
                    unit.label
                ),
            )
        }
    };
    RuleResult {
        place: rule.place.clone(),
        description: rule.description.clone(),
        severity: rule.severity,
        observed,
        expected,
        outcome,
        message,
    }
}

/// The verdict on a `type: sql` rule whose query returned `value` (its single value: `None`
/// for NULL or a value that is not a number), or failed with `error`, over a batch of
/// `rows_accepted` rows. A rule that cannot be judged fails: a check that did not run must not
/// let a batch through as if it had passed. But an aggregate over no row is NULL: with nothing
/// accepted there is nothing to measure, which is no failure of the rule (the volume checks see
/// the batch).
pub fn sql_verdict(
    rule: &QualityRule,
    value: Result<Option<f64>, String>,
    rows_accepted: u64,
) -> RuleResult {
    let comparison = rule
        .comparison
        .expect("INVARIANT: parsing refuses sql rules without a comparison");
    let expected = describe_bound(&comparison, rule.unit);
    let (observed, outcome, measured) = match value {
        Ok(Some(v)) if comparison.holds(v) => (
            Some(v),
            RuleOutcome::Passed,
            format!("the query returned {v}"),
        ),
        Ok(Some(v)) => (
            Some(v),
            RuleOutcome::Failed,
            format!("the query returned {v}"),
        ),
        Ok(None) if rows_accepted == 0 => {
            let why = "no row of the batch was accepted: the query has nothing to measure";
            (
                None,
                RuleOutcome::NotEvaluated(why.to_string()),
                why.to_string(),
            )
        }
        Ok(None) => (
            None,
            RuleOutcome::Failed,
            "the query returned no number".to_string(),
        ),
        Err(e) => (None, RuleOutcome::Failed, format!("the query failed ({e})")),
    };
    RuleResult {
        place: rule.place.clone(),
        description: rule.description.clone(),
        severity: rule.severity,
        observed,
        message: format!("{measured}; {expected}"),
        expected,
        outcome,
    }
}

fn describe_bound(comparison: &Comparison, unit: Unit) -> String {
    let text = comparison.describe();
    match unit {
        Unit::Rows => text,
        Unit::Percent => format!("{text} percent"),
    }
}

/// A column of the batch as text (its values' display form), or all nulls if it is absent.
fn text_column(batch: &RecordBatch, name: &str) -> Result<StringArray, arrow::error::ArrowError> {
    let Some(array) = batch.column_by_name(name) else {
        return Ok(StringArray::new_null(batch.num_rows()));
    };
    let text: ArrayRef = cast(array, &DataType::Utf8)?;
    Ok(text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("INVARIANT: a cast to Utf8 gives a StringArray")
        .clone())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use agora_model::{Contract, ContractTable};

    use super::*;
    use crate::rules_of;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/odcs/examples")
    }

    fn tables_of(file: &str) -> Vec<ContractTable> {
        let yaml = std::fs::read_to_string(examples().join(file)).expect("a conformance example");
        let parsed = Contract::from_yaml(&yaml).expect("the example parses");
        parsed.contract.tables().into_iter().cloned().collect()
    }

    /// A batch of the table's schema from JSON lines.
    fn batch(table: &ContractTable, lines: &str) -> RecordBatch {
        let mut reader = arrow::json::ReaderBuilder::new(table.arrow_schema())
            .build(std::io::Cursor::new(lines.as_bytes()))
            .unwrap();
        reader.next().unwrap().unwrap()
    }

    fn evaluate(table: &ContractTable, batches: &[RecordBatch]) -> Vec<RuleResult> {
        let mut evaluation = RuleEvaluation::new(rules_of(table).unwrap());
        for b in batches {
            evaluation.observe(b).unwrap();
        }
        evaluation.results()
    }

    fn contract_table(quality_yaml: &str) -> Result<Vec<QualityRule>, crate::QualityError> {
        let yaml = format!(
            "apiVersion: v3.0.2\nkind: DataContract\nid: t\nversion: 1.0.0\nstatus: active\nname: t\nschema:\n  - name: orders\n    properties:\n      - name: status\n        logicalType: string\n        quality:\n{quality_yaml}"
        );
        let parsed = Contract::from_yaml(&yaml).unwrap();
        rules_of(parsed.contract.tables()[0])
    }

    #[test]
    fn every_quality_example_of_the_standard_is_read_and_evaluated() {
        let mut files: Vec<String> = std::fs::read_dir(examples())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("quality__") || n == "all__full-example.odcs.yaml")
            .collect();
        files.sort();
        assert_eq!(files.len(), 5, "{files:?}");
        for file in files {
            let mut rules_in_file = 0;
            for table in tables_of(&file) {
                let rules = rules_of(&table).unwrap_or_else(|e| panic!("{file}: {e}"));
                rules_in_file += rules.len();
                let empty = RecordBatch::new_empty(table.arrow_schema());
                let results = evaluate(&table, &[empty]);
                assert_eq!(results.len(), rules.len());
                for r in results {
                    match (
                        &r.outcome,
                        &rules.iter().find(|x| x.place == r.place).unwrap().kind,
                    ) {
                        (RuleOutcome::NotEvaluated(_), RuleKind::Library(_)) => {
                            panic!("{file}: {} was not evaluated", r.place)
                        }
                        (RuleOutcome::Passed | RuleOutcome::Failed, _) => {
                            assert!(r.observed.is_some())
                        }
                        (RuleOutcome::NotEvaluated(_), _) => {}
                    }
                }
            }
            assert!(rules_in_file > 0, "{file} has rules");
        }
    }

    #[test]
    fn a_null_in_a_column_that_must_have_none_blocks_the_batch() {
        let table = &tables_of("quality__column-completeness.odcs.yaml")[0];
        let id = table.columns[0].sql_name.as_str();
        let results = evaluate(
            table,
            &[batch(
                table,
                &format!("{{\"{id}\": 1}}\n{{\"{id}\": null}}\n"),
            )],
        );
        let r = &results[0];
        assert_eq!(r.outcome, RuleOutcome::Failed);
        assert_eq!(r.severity, Severity::Block);
        assert_eq!(r.message, "1 null values; must be 0");
        assert!(r.place.contains("Air_Quality.UniqueID"), "{}", r.place);
    }

    #[test]
    fn a_percentage_of_invalid_values_is_measured_over_every_batch() {
        let table = &tables_of("quality__column-validity.odcs.yaml")[0];
        // validValues ["", null, "n/a"]: one of the twenty rows has another value, 5%.
        let first = batch(table, &"{\"air_quality_status\": \"n/a\"}\n".repeat(10));
        let second = batch(
            table,
            &format!(
                "{}{{\"air_quality_status\": \"good\"}}\n",
                "{\"air_quality_status\": \"\"}\n".repeat(9)
            ),
        );
        let results = evaluate(table, &[first.clone(), second.clone()]);
        assert_eq!(
            results[0].outcome,
            RuleOutcome::Passed,
            "{}",
            results[0].message
        );
        assert_eq!(results[0].observed, Some(5.0));
        let results = evaluate(table, &[second]);
        assert_eq!(results[0].outcome, RuleOutcome::Failed);
        assert_eq!(
            results[0].message,
            "10.00% invalid values (1 of 10 rows); must be ≤ 5 percent"
        );
    }

    #[test]
    fn a_table_rule_counts_rows_and_the_sql_rule_is_left_to_the_query_layer() {
        let tables = tables_of("all__full-example.odcs.yaml");
        let table = &tables[0];
        let results = evaluate(table, &[RecordBatch::new_empty(table.arrow_schema())]);
        let row_count = results
            .iter()
            .find(|r| r.message.contains("rows;"))
            .unwrap();
        assert_eq!(row_count.outcome, RuleOutcome::Failed);
        assert_eq!(row_count.message, "0 rows; must be > 1000000");
        let accuracy = &tables_of("quality__column-accuracy.odcs.yaml")[0];
        let results = evaluate(accuracy, &[]);
        assert!(matches!(results[0].outcome, RuleOutcome::NotEvaluated(_)));
    }

    #[test]
    fn duplicates_are_counted_across_batches() {
        let rules = contract_table("          - metric: duplicateValues\n            mustBe: 0\n            severity: warning\n").unwrap();
        let mut evaluation = RuleEvaluation::new(rules);
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("status", DataType::Utf8, true),
        ]));
        for values in [
            vec![Some("a"), Some("b"), None],
            vec![Some("a"), None, Some("c")],
        ] {
            let column: ArrayRef = std::sync::Arc::new(StringArray::from(values));
            evaluation
                .observe(&RecordBatch::try_new(schema.clone(), vec![column]).unwrap())
                .unwrap();
        }
        let results = evaluation.results();
        assert_eq!(results[0].message, "1 duplicated values; must be 0");
        assert_eq!(results[0].severity, Severity::Warn);
    }

    #[test]
    fn a_rule_agora_cannot_evaluate_as_written_is_refused_naming_it() {
        let cases = [
            (
                "          - metric: nullCount\n            mustBe: 0\n",
                "unknown metric `nullCount`",
            ),
            (
                "          - metric: nullValues\n            mustBeAbout: 0\n",
                "unknown operator `mustBeAbout`",
            ),
            (
                "          - metric: nullValues\n",
                "the rule compares nothing",
            ),
            (
                "          - metric: nullValues\n            mustBe: 0\n            mustBeLessThan: 3\n",
                "gives mustBe and mustBeLessThan operators",
            ),
            (
                "          - metric: rowCount\n            mustBeBetween: [10, 1]\n",
                "the lower bound is above the upper",
            ),
            (
                "          - metric: invalidValues\n            mustBe: 0\n",
                "needs `arguments.validValues` or `arguments.pattern`",
            ),
            (
                "          - metric: invalidValues\n            mustBe: 0\n            arguments:\n              pattern: '[a-'\n",
                "is not a regular expression",
            ),
            (
                "          - metric: nullValues\n            mustBe: 0\n            severity: someday\n",
                "unknown severity `someday`",
            ),
            (
                "          - type: sql\n            mustBe: 0\n",
                "needs a `query`",
            ),
        ];
        for (yaml, expected) in cases {
            let error = contract_table(yaml).unwrap_err().to_string();
            assert!(
                error.starts_with("column orders.status quality rule 1: "),
                "{error}"
            );
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
