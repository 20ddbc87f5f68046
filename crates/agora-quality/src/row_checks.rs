//! Row-level anomalies within one batch, for columns nobody wrote a rule for: numbers far
//! outside the batch's own spread, text whose shape differs from the column's usual one (a
//! `31/02/2024` among ISO dates), and values seen once in a column of a few frequent ones (a
//! `Germny` among `Germany`s). Each is judged on the batch alone, so it needs no history.
//!
//! Numbers are judged by Tukey's far-out fences (three interquartile ranges beyond the
//! quartiles): a robust rule like the median and MAD, which no outlier moves, and one that
//! flags practically nothing in a clean batch of a hundred thousand rows (a MAD score of 3.5
//! flags one normal value in two thousand). Where the contract names a group
//! (`outliersBy`), each group's values are judged against that group's quartiles: an amount of
//! 900 is usual in one region and a slip in another.

use std::collections::HashMap;

use crate::timeseries::quantile_of_sorted;

/// At most this many numbers of a column are kept to find its outliers.
pub const NUMBERS_KEPT: usize = 100_000;
/// A column with more distinct values than this is not a set of categories.
pub const CATEGORIES_KEPT: usize = 20;
/// At most this many shapes of a column's text are told apart.
pub const SHAPES_KEPT: usize = 1_000;
/// At most this many groups of a grouped number column are told apart; with more, the column
/// is judged as a whole.
pub const GROUPS_KEPT: usize = 1_000;
/// A set of numbers (the batch's, or a group's) is judged from this many values on.
const OUTLIER_MIN_VALUES: usize = 20;

/// One row-level check of one column of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCheck {
    pub column: String,
    /// `outliers`, `format` or `rare_values`.
    pub check: &'static str,
    /// The rows (of those judged) the check found.
    pub rows: u64,
    pub failed: bool,
    /// What was found, without quoting any value.
    pub message: String,
}

/// What a column's rows showed, as the batch profile keeps it.
#[derive(Debug, Default)]
pub(crate) struct RowEvidence {
    pub numbers: Vec<f64>,
    pub shapes: HashMap<String, u64>,
    pub shapes_overflowed: bool,
    /// The buffer each value's shape is written into before it is counted.
    shape_scratch: String,
    pub categories: HashMap<String, u64>,
    pub categories_overflowed: bool,
    /// For a number column the contract groups (`outliersBy`): its values by group.
    pub grouped: Option<Grouped>,
}

/// A number column's values by the value of its group column.
#[derive(Debug)]
pub(crate) struct Grouped {
    pub by: String,
    pub numbers: HashMap<Option<String>, Vec<f64>>,
    pub kept: usize,
    pub overflowed: bool,
}

impl Grouped {
    pub(crate) fn new(by: &str) -> Self {
        Grouped {
            by: by.to_string(),
            numbers: HashMap::new(),
            kept: 0,
            overflowed: false,
        }
    }

    /// Notes `value` in the group `group` (`None`: the group column is null).
    pub(crate) fn note(&mut self, group: Option<&str>, value: f64) {
        if self.overflowed || self.kept >= NUMBERS_KEPT {
            return;
        }
        let key = group.map(str::to_string);
        if !self.numbers.contains_key(&key) && self.numbers.len() >= GROUPS_KEPT {
            self.overflowed = true;
            self.numbers = HashMap::new();
            return;
        }
        self.numbers.entry(key).or_default().push(value);
        self.kept += 1;
    }
}

/// Writes the shape of a text value into `out` (cleared first; one buffer serves a batch):
/// runs of digits become `9`, runs of letters `a`, the rest stays.
fn shape_into(value: &str, out: &mut String) {
    out.clear();
    for c in value.trim().chars() {
        let class = if c.is_ascii_digit() {
            '9'
        } else if c.is_alphabetic() {
            'a'
        } else {
            c
        };
        if !(matches!(class, '9' | 'a') && out.ends_with(class)) {
            out.push(class);
        }
    }
}

impl RowEvidence {
    pub(crate) fn note_text(&mut self, value: &str) {
        // Both counts look a value up before they copy it: most values are seen before.
        if !self.shapes_overflowed {
            shape_into(value, &mut self.shape_scratch);
            match self.shapes.get_mut(self.shape_scratch.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.shapes.insert(self.shape_scratch.clone(), 1);
                }
            }
            self.shapes_overflowed = self.shapes.len() > SHAPES_KEPT;
        }
        if !self.categories_overflowed {
            match self.categories.get_mut(value) {
                Some(n) => *n += 1,
                None => {
                    self.categories.insert(value.to_string(), 1);
                }
            }
            if self.categories.len() > CATEGORIES_KEPT {
                self.categories_overflowed = true;
                self.categories = HashMap::new();
            }
        }
    }

    /// A low-cardinality text column's values with their rows; none for a column of more than
    /// [`CATEGORIES_KEPT`] values (whose counts were dropped when it overflowed).
    pub(crate) fn category_counts(&self) -> impl Iterator<Item = (&String, u64)> {
        self.categories.iter().map(|(v, n)| (v, *n))
    }

    pub(crate) fn note_numbers(&mut self, values: &[f64]) {
        let room = NUMBERS_KEPT.saturating_sub(self.numbers.len());
        self.numbers.extend(values.iter().take(room));
    }

    /// The checks this column's evidence allows.
    pub(crate) fn checks(&self, column: &str, numeric: bool) -> Vec<RowCheck> {
        let mut checks = Vec::new();
        if numeric {
            let grouped = self
                .grouped
                .as_ref()
                .filter(|g| !g.overflowed)
                .map(|g| grouped_outliers(column, g));
            match grouped {
                Some(check) => checks.extend(check),
                None => checks.extend(self.outliers(column)),
            }
        } else {
            checks.extend(self.format(column));
            checks.extend(self.rare_values(column));
        }
        checks
    }

    /// Tukey's far-out fences over the batch's values.
    fn outliers(&self, column: &str) -> Option<RowCheck> {
        let mut sorted = self.numbers.clone();
        sorted.sort_by(f64::total_cmp);
        let rows = far_out(&sorted)?;
        Some(RowCheck {
            column: column.to_string(),
            check: "outliers",
            rows,
            failed: rows > 0,
            message: format!(
                "{rows} of {} values of `{column}` lie beyond 3 interquartile ranges of the batch's quartiles",
                sorted.len()
            ),
        })
    }
}

/// How many of `sorted` lie beyond 3 interquartile ranges from its quartiles; `None` when
/// there are too few values, or no spread, to judge.
fn far_out(sorted: &[f64]) -> Option<u64> {
    if sorted.len() < OUTLIER_MIN_VALUES {
        return None;
    }
    let (q1, q3) = (
        quantile_of_sorted(sorted, 0.25)?,
        quantile_of_sorted(sorted, 0.75)?,
    );
    let iqr = q3 - q1;
    if iqr <= 0.0 {
        return None;
    }
    let (low, high) = (q1 - 3.0 * iqr, q3 + 3.0 * iqr);
    Some(sorted.iter().filter(|v| **v < low || **v > high).count() as u64)
}

/// Tukey's far-out fences within each group that has enough values to judge; no check when
/// none has. The message names the group column, never a group's value.
fn grouped_outliers(column: &str, grouped: &Grouped) -> Option<RowCheck> {
    let mut rows = 0;
    let mut judged_values = 0;
    let mut judged_groups = 0;
    for values in grouped.numbers.values() {
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        if let Some(found) = far_out(&sorted) {
            rows += found;
            judged_values += sorted.len();
            judged_groups += 1;
        }
    }
    (judged_groups > 0).then(|| RowCheck {
        column: column.to_string(),
        check: "outliers",
        rows,
        failed: rows > 0,
        message: format!(
            "{rows} of {judged_values} values of `{column}` lie beyond 3 interquartile ranges of the quartiles of their `{}` group ({judged_groups} of {} groups had {OUTLIER_MIN_VALUES} values or more to judge)",
            grouped.by,
            grouped.numbers.len()
        ),
    })
}

impl RowEvidence {
    /// A column whose text has one usual shape (95% of values or more) and some others.
    fn format(&self, column: &str) -> Option<RowCheck> {
        let total: u64 = self.shapes.values().sum();
        if self.shapes_overflowed || total < 20 {
            return None;
        }
        let (usual, count) = self
            .shapes
            .iter()
            .max_by_key(|(s, n)| (**n, std::cmp::Reverse(*s)))?;
        if (*count as f64) < 0.95 * total as f64 {
            return None;
        }
        let rows = total - count;
        Some(RowCheck {
            column: column.to_string(),
            check: "format",
            rows,
            failed: rows > 0,
            message: format!(
                "{rows} of {total} values of `{column}` do not have its usual shape `{usual}` ({:.0}% do)",
                100.0 * *count as f64 / total as f64
            ),
        })
    }

    /// Values seen once in a column of a few categories each seen five times or more.
    fn rare_values(&self, column: &str) -> Option<RowCheck> {
        let total: u64 = self.categories.values().sum();
        if self.categories_overflowed || total < 50 || self.categories.len() < 2 {
            return None;
        }
        let frequent = self.categories.values().filter(|n| **n >= 5).count();
        if frequent == 0 {
            return None;
        }
        let rows = self.categories.values().filter(|n| **n == 1).count() as u64;
        Some(RowCheck {
            column: column.to_string(),
            check: "rare_values",
            rows,
            failed: rows > 0,
            message: format!(
                "{rows} values of `{column}` are seen once in {total} rows where {frequent} others are frequent"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_outliers_are_judged_within_their_group() {
        // Two regions on different scales: 900 is usual in the north and a slip in the south.
        let mut whole = RowEvidence::default();
        let mut grouped = RowEvidence {
            grouped: Some(Grouped::new("region")),
            ..RowEvidence::default()
        };
        for i in 0..40 {
            for (region, value) in [("north", 880.0 + i as f64), ("south", 9.0 + (i % 5) as f64)] {
                whole.note_numbers(&[value]);
                grouped.grouped.as_mut().unwrap().note(Some(region), value);
            }
        }
        grouped.grouped.as_mut().unwrap().note(Some("south"), 900.0);
        whole.note_numbers(&[900.0]);
        let overall = &whole.checks("amount", true)[0];
        assert!(
            !overall.failed,
            "against the whole batch 900 is usual: {overall:?}"
        );
        let by_group = &grouped.checks("amount", true)[0];
        assert!(by_group.failed && by_group.rows == 1, "{by_group:?}");
        assert!(by_group.message.contains("`region` group"), "{by_group:?}");
        assert!(
            !by_group.message.contains("south"),
            "no group's value: {by_group:?}"
        );

        // Past the groups kept, the column is judged as a whole.
        let mut many = Grouped::new("id");
        for i in 0..=GROUPS_KEPT {
            many.note(Some(&i.to_string()), 1.0);
        }
        assert!(many.overflowed);
    }

    #[test]
    fn shapes_tell_formats_apart() {
        let mut out = String::from("left over");
        let mut shape = |value: &str| {
            shape_into(value, &mut out);
            out.clone()
        };
        assert_eq!(shape("2024-02-29"), "9-9-9");
        assert_eq!(shape("31/02/2024"), "9/9/9");
        assert_eq!(shape("+49 30 1234"), "+9 9 9");
        assert_eq!(shape("Germany"), "a");
    }

    #[test]
    fn each_check_finds_its_anomaly_and_nothing_in_clean_columns() {
        let mut dates = RowEvidence::default();
        for d in 1..=28 {
            dates.note_text(&format!("2024-02-{d:02}"));
        }
        let clean = dates.checks("d", false);
        assert!(clean.iter().all(|c| !c.failed), "{clean:?}");
        dates.note_text("31/02/2024");
        let format = &dates.checks("d", false)[0];
        assert!(format.failed && format.rows == 1, "{format:?}");

        let mut countries = RowEvidence::default();
        for i in 0..60 {
            countries.note_text(["Germany", "France", "Spain"][i % 3]);
        }
        countries.note_text("Germny");
        let rare = countries.checks("c", false);
        let rare = rare.iter().find(|c| c.check == "rare_values").unwrap();
        assert!(rare.failed && rare.rows == 1, "{rare:?}");

        let mut amounts = RowEvidence::default();
        let values: Vec<f64> = (0..100).map(|i| 10.0 + (i % 10) as f64).collect();
        amounts.note_numbers(&values);
        assert!(!amounts.checks("a", true)[0].failed);
        amounts.note_numbers(&[14_000.0]);
        let slip = &amounts.checks("a", true)[0];
        assert!(slip.failed && slip.rows == 1, "{slip:?}");
    }
}
