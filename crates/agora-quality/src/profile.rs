//! Batch metrics: what the rows of one ingest look like, column by column, so that each metric
//! can be judged against its own history ([`crate::timeseries::judge_metric`]) when nobody wrote
//! a rule for it.
//!
//! Per batch: the row count. Per column: the null ratio and the distinct ratio (exact, up to
//! [`DISTINCT_KEPT`] distinct values); for numeric columns min, max, mean, standard deviation,
//! median and 95th percentile (a t-digest per batch, mergeable, from the `tdigest` crate); for
//! text columns the mean length, and for those of at most [`crate::row_checks::CATEGORIES_KEPT`]
//! distinct values the share of each value that [`FREQUENCY_MIN_ROWS`] rows or more hold
//! (`frequency`, keyed by the value). It keeps what the row-level checks need too
//! ([`crate::row_checks`]).

use std::hash::BuildHasher;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use tdigest::TDigest;

use crate::row_checks::{RowCheck, RowEvidence};

/// Beyond this many distinct values a column's distinct ratio is not reported (the set would
/// grow with the batch).
pub const DISTINCT_KEPT: usize = 100_000;

/// The metric that fingerprints a source's schema: its columns (`name:type`, in order, comma
/// separated) as the key, their number as the value. Compared with the previous batch's, not
/// judged against a history.
pub const SOURCE_COLUMNS: &str = "source_columns";

/// A value's share is kept only when at least this many rows of the batch hold it: a value of a
/// few rows (one person's e-mail in a small table) is no category, and is not copied into the
/// metrics, where an erasure of it would not reach.
pub const FREQUENCY_MIN_ROWS: u64 = 10;

/// One metric of one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMetric {
    /// The column, or `None` for the batch as a whole.
    pub column: Option<String>,
    /// `row_count` (rows that arrived, quarantined ones included), `null_ratio`,
    /// `distinct_ratio`, `min`, `max`, `mean`, `stddev`, `p50`, `p95`, `mean_length`, and for
    /// dates and timestamps `staleness_hours` (how old the newest value is when the batch is
    /// profiled: late data shows there), and for low-cardinality text `frequency`.
    pub metric: &'static str,
    /// For `frequency`: the value whose share of the column's non-null rows it is.
    pub key: Option<String>,
    pub value: f64,
}

impl BatchMetric {
    /// Whether the metric is a share of rows (0 to 1), shown in percent.
    pub fn is_ratio(metric: &str) -> bool {
        matches!(metric, "null_ratio" | "distinct_ratio" | "frequency")
    }

    /// Whether the metric is judged against its history. A batch's minimum and maximum are
    /// single values, as noisy as the tails they come from: kept as data, not judged (a value
    /// out of range moves the mean, the spread and the row-level outliers anyway).
    pub fn is_judged(metric: &str) -> bool {
        !matches!(metric, "min" | "max" | SOURCE_COLUMNS)
    }
}

/// The metrics of a batch so far.
pub struct BatchProfile {
    rows: u64,
    /// Rows that arrived, accepted or not (see [`BatchProfile::count_read`]).
    read: u64,
    columns: Vec<ColumnProfile>,
    /// Hashes values for the distinct counts: fast rather than collision-proof, since a
    /// collision only undercounts a ratio; seeded per process, so no input can be built to
    /// collide everywhere.
    hasher: foldhash::fast::RandomState,
}

struct ColumnProfile {
    name: String,
    nulls: u64,
    distinct: foldhash::HashSet<u64>,
    distinct_overflowed: bool,
    numeric: Option<Numeric>,
    /// Text values seen and their total length in characters.
    text: Option<(u64, u64)>,
    /// For a date or timestamp column, the newest value (microseconds since the epoch).
    newest: Option<Option<i64>>,
    rows: RowEvidence,
}

struct Numeric {
    count: u64,
    sum: f64,
    sum_squares: f64,
    digest: TDigest,
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

fn is_time(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ColumnProfile {
    fn count_distinct(&mut self, hash: u64) {
        if self.distinct_overflowed {
            return;
        }
        self.distinct.insert(hash);
        if self.distinct.len() > DISTINCT_KEPT {
            self.distinct_overflowed = true;
            self.distinct = foldhash::HashSet::default();
        }
    }
}

/// Calls `each` with the hash of every non-null value of `array`. Fixed-width values (numbers,
/// decimals, dates, timestamps) are hashed as the bytes they are stored in, which tells apart
/// exactly the values their text would and costs no formatting (casting every number of a
/// batch to text was most of an ingest's time); other types are hashed as their text.
fn for_each_value_hash(
    array: &dyn Array,
    hasher: &impl BuildHasher,
    mut each: impl FnMut(u64),
) -> Result<(), arrow::error::ArrowError> {
    if let Some(width) = array.data_type().primitive_width() {
        let data = array.to_data();
        let start = data.offset() * width;
        let buffer = data
            .buffers()
            .first()
            .expect("INVARIANT: an array of a fixed-width type has one buffer of values");
        let values = &buffer.as_slice()[start..start + data.len() * width];
        for (row, bytes) in values.chunks_exact(width).enumerate() {
            if array.is_valid(row) {
                each(hasher.hash_one(bytes));
            }
        }
        return Ok(());
    }
    let text = cast(array, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("INVARIANT: a cast to Utf8 yields a StringArray");
    text.iter()
        .flatten()
        .for_each(|value| each(hasher.hash_one(value)));
    Ok(())
}

impl BatchProfile {
    /// A profile of batches with the columns `columns` (name and type).
    pub fn new(columns: &[(String, DataType)]) -> BatchProfile {
        BatchProfile {
            rows: 0,
            read: 0,
            columns: columns
                .iter()
                .map(|(name, t)| ColumnProfile {
                    name: name.clone(),
                    nulls: 0,
                    distinct: foldhash::HashSet::default(),
                    distinct_overflowed: false,
                    numeric: is_numeric(t).then(|| Numeric {
                        count: 0,
                        sum: 0.0,
                        sum_squares: 0.0,
                        digest: TDigest::new_with_size(100),
                    }),
                    text: is_text(t).then_some((0, 0)),
                    newest: is_time(t).then_some(None),
                    rows: RowEvidence::default(),
                })
                .collect(),
            hasher: Default::default(),
        }
    }

    /// Judges the outliers of each number column `(column, group)` names within the groups of
    /// its group column's values (a contract's `outliersBy`).
    pub fn with_outlier_groups(mut self, groups: &[(String, String)]) -> BatchProfile {
        for (column, by) in groups {
            if let Some(c) = self
                .columns
                .iter_mut()
                .find(|c| &c.name == column && c.numeric.is_some())
            {
                c.rows.grouped = Some(crate::row_checks::Grouped::new(by));
            }
        }
        self
    }

    /// Counts rows that arrived, whether or not they are observed: the batch's volume.
    pub fn count_read(&mut self, rows: u64) {
        self.read += rows;
    }

    /// Adds a batch's rows (a column the batch lacks counts as all null).
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<(), arrow::error::ArrowError> {
        let rows = batch.num_rows();
        self.rows += rows as u64;
        for column in &mut self.columns {
            let Some(array) = batch.column_by_name(&column.name) else {
                column.nulls += rows as u64;
                continue;
            };
            column.nulls += array.null_count() as u64;
            if let Some(newest) = &mut column.newest {
                let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                let micros = cast(&micros, &DataType::Int64)?;
                let micros = micros
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("INVARIANT: a cast to Int64 yields an Int64Array");
                if let Some(max) = arrow::compute::max(micros) {
                    *newest = Some(newest.map_or(max, |n: i64| n.max(max)));
                }
            }
            if column.text.is_some() {
                let text = cast(array, &DataType::Utf8)?;
                let text = text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("INVARIANT: a cast to Utf8 yields a StringArray");
                for value in text.iter().flatten() {
                    if let Some((count, length)) = &mut column.text {
                        *count += 1;
                        *length += value.chars().count() as u64;
                    }
                    column.rows.note_text(value);
                    if !column.distinct_overflowed {
                        column.count_distinct(self.hasher.hash_one(value));
                    }
                }
            } else if !column.distinct_overflowed {
                for_each_value_hash(array, &self.hasher, |hash| column.count_distinct(hash))?;
            }
            if let Some(numeric) = &mut column.numeric {
                let values = cast(array, &DataType::Float64)?;
                let values = values
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .expect("INVARIANT: a cast to Float64 yields a Float64Array");
                let finite: Vec<f64> = values.iter().flatten().filter(|v| v.is_finite()).collect();
                column.rows.note_numbers(&finite);
                if let Some(grouped) = &mut column.rows.grouped {
                    let groups = match batch.column_by_name(&grouped.by) {
                        Some(g) => Some(cast(g, &DataType::Utf8)?),
                        None => None,
                    };
                    let groups = groups.as_ref().map(|g| {
                        g.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("INVARIANT: a cast to Utf8 yields a StringArray")
                    });
                    for (row, value) in values.iter().enumerate() {
                        let Some(value) = value.filter(|v| v.is_finite()) else {
                            continue;
                        };
                        let group = groups.and_then(|g| g.is_valid(row).then(|| g.value(row)));
                        grouped.note(group, value);
                    }
                }
                numeric.count += finite.len() as u64;
                numeric.sum += finite.iter().sum::<f64>();
                numeric.sum_squares += finite.iter().map(|v| v * v).sum::<f64>();
                if !finite.is_empty() {
                    numeric.digest = numeric.digest.merge_unsorted(finite);
                }
            }
        }
        Ok(())
    }

    /// The row-level checks of the batch (see `row_checks.rs`).
    pub fn row_checks(&self) -> Vec<RowCheck> {
        self.columns
            .iter()
            .flat_map(|c| c.rows.checks(&c.name, c.numeric.is_some()))
            .collect()
    }

    /// The batch's metrics, its staleness measured now.
    pub fn metrics(&self) -> Vec<BatchMetric> {
        self.metrics_at(chrono::Utc::now().timestamp_micros())
    }

    /// The batch's metrics, its staleness measured at `now` (microseconds since the epoch).
    pub fn metrics_at(&self, now: i64) -> Vec<BatchMetric> {
        let mut out = vec![BatchMetric {
            column: None,
            metric: "row_count",
            key: None,
            value: self.read.max(self.rows) as f64,
        }];
        if self.rows == 0 {
            return out;
        }
        for c in &self.columns {
            let mut push = |metric: &'static str, value: f64| {
                if value.is_finite() {
                    out.push(BatchMetric {
                        column: Some(c.name.clone()),
                        metric,
                        key: None,
                        value,
                    });
                }
            };
            push("null_ratio", c.nulls as f64 / self.rows as f64);
            let present = self.rows - c.nulls;
            if present > 0 && !c.distinct_overflowed {
                push("distinct_ratio", c.distinct.len() as f64 / present as f64);
            }
            if let Some(n) = c.numeric.as_ref().filter(|n| n.count > 0) {
                let count = n.count as f64;
                let mean = n.sum / count;
                push("min", n.digest.min());
                push("max", n.digest.max());
                push("mean", mean);
                push(
                    "stddev",
                    (n.sum_squares / count - mean * mean).max(0.0).sqrt(),
                );
                push("p50", n.digest.estimate_quantile(0.5));
                push("p95", n.digest.estimate_quantile(0.95));
            }
            if let Some((count, length)) = c.text.filter(|(count, _)| *count > 0) {
                push("mean_length", length as f64 / count as f64);
            }
            if let Some(Some(newest)) = c.newest {
                push("staleness_hours", (now - newest) as f64 / 3.6e9);
            }
            let mut shares: Vec<(&String, u64)> = c.rows.category_counts().collect();
            shares.sort();
            let counted: u64 = shares.iter().map(|(_, n)| n).sum();
            for (value, n) in shares
                .into_iter()
                .filter(|(_, n)| counted > 0 && *n >= FREQUENCY_MIN_ROWS)
            {
                out.push(BatchMetric {
                    column: Some(c.name.clone()),
                    metric: "frequency",
                    key: Some(value.clone()),
                    value: n as f64 / counted as f64,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn value(metrics: &[BatchMetric], column: &str, metric: &str) -> f64 {
        metrics
            .iter()
            .find(|m| m.column.as_deref() == Some(column) && m.metric == metric)
            .unwrap_or_else(|| panic!("no {metric} of {column}"))
            .value
    }

    #[test]
    fn the_volume_counts_every_row_that_came_and_staleness_the_newest_dates_age() {
        use arrow::array::Date32Array;
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
        let mut profile = BatchProfile::new(&[("d".into(), DataType::Date32)]);
        // 2024-01-01 and 2024-01-03 (days since the epoch), one null.
        let days = Date32Array::from(vec![Some(19723), Some(19725), None]);
        let batch = RecordBatch::try_new(schema, vec![Arc::new(days)]).unwrap();
        profile.count_read(5);
        profile.observe(&batch).unwrap();
        // Judged at noon on 2024-01-04: the newest date is 36 hours old.
        let noon = (19726i64 * 24 + 12) * 3_600_000_000;
        let m = profile.metrics_at(noon);
        assert_eq!(m[0].value, 5.0, "two rows quarantined still arrived");
        assert_eq!(value(&m, "d", "staleness_hours"), 36.0);
        assert!(!BatchMetric::is_judged("max") && BatchMetric::is_judged("staleness_hours"));
    }

    #[test]
    fn distinct_ratios_count_the_values_of_every_type_even_in_a_slice_of_a_batch() {
        use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Float64Array};
        let columns: Vec<(&str, ArrayRef)> = vec![
            // Sliced below from the second row: 2, 2, null, 3.
            (
                "n",
                Arc::new(Int64Array::from(vec![
                    Some(9),
                    Some(2),
                    Some(2),
                    None,
                    Some(3),
                ])),
            ),
            (
                "price",
                Arc::new(
                    Decimal128Array::from(vec![Some(100), Some(250), Some(250), Some(250), None])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            // 0.0 and -0.0 are two values, as their text is.
            (
                "x",
                Arc::new(Float64Array::from(vec![1.0, 0.0, -0.0, 0.0, 0.5])),
            ),
            (
                "flag",
                Arc::new(BooleanArray::from(vec![true, true, false, true, true])),
            ),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema, columns.iter().map(|(_, a)| a.clone()).collect())
            .unwrap()
            .slice(1, 4);
        let mut profile = BatchProfile::new(
            &columns
                .iter()
                .map(|(name, a)| (name.to_string(), a.data_type().clone()))
                .collect::<Vec<_>>(),
        );
        profile.observe(&batch).unwrap();
        let m = profile.metrics();
        assert_eq!(value(&m, "n", "distinct_ratio"), 2.0 / 3.0);
        assert_eq!(value(&m, "price", "distinct_ratio"), 1.0 / 3.0);
        assert_eq!(value(&m, "x", "distinct_ratio"), 3.0 / 4.0);
        assert_eq!(value(&m, "flag", "distinct_ratio"), 2.0 / 4.0);
        assert_eq!(value(&m, "price", "max"), 2.5);
    }

    #[test]
    fn metrics_over_two_batches_are_those_of_their_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = |n: Vec<Option<i64>>, s: Vec<Option<&str>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(n)),
                    Arc::new(StringArray::from(s)),
                ],
            )
            .unwrap()
        };
        let mut profile =
            BatchProfile::new(&[("n".into(), DataType::Int64), ("s".into(), DataType::Utf8)]);
        profile
            .observe(&batch(
                vec![Some(1), Some(2), None],
                vec![Some("ab"), Some("ab"), None],
            ))
            .unwrap();
        profile
            .observe(&batch(vec![Some(3)], vec![Some("abcd")]))
            .unwrap();
        let many: Vec<Option<&str>> = [vec![Some("ab"); 10], vec![Some("abcd"); 9]].concat();
        let mut shares = BatchProfile::new(&[("s".into(), DataType::Utf8)]);
        let schema_s = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        shares
            .observe(
                &RecordBatch::try_new(schema_s, vec![Arc::new(StringArray::from(many))]).unwrap(),
            )
            .unwrap();
        let kept: Vec<(Option<String>, f64)> = shares
            .metrics()
            .into_iter()
            .filter(|m| m.metric == "frequency")
            .map(|m| (m.key, m.value))
            .collect();
        assert_eq!(
            kept,
            vec![(Some("ab".to_string()), 10.0 / 19.0)],
            "a value of nine rows is no category"
        );
        let m = profile.metrics();
        assert_eq!(m[0].value, 4.0);
        assert_eq!(value(&m, "n", "null_ratio"), 0.25);
        assert_eq!(value(&m, "n", "distinct_ratio"), 1.0);
        assert_eq!(value(&m, "n", "min"), 1.0);
        assert_eq!(value(&m, "n", "max"), 3.0);
        assert_eq!(value(&m, "n", "mean"), 2.0);
        assert_eq!(value(&m, "n", "p50"), 2.0);
        assert!((value(&m, "n", "stddev") - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((value(&m, "s", "distinct_ratio") - 2.0 / 3.0).abs() < 1e-12);
        assert!((value(&m, "s", "mean_length") - 8.0 / 3.0).abs() < 1e-12);
    }
}
