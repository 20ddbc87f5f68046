//! Unit and scale slips in a numeric column: a value far outside the column's range that lands
//! inside it once divided (or multiplied) by 100 or 1000 — cents for euros, grams for kilograms,
//! metres for kilometres.

use super::{ColumnSample, ColumnValues, Fix, Found, Literal, SuggestionKind, ValueChange, total};

/// A column needs this many rows before its range says what is normal.
const MIN_ROWS: u64 = 20;
/// Slipped values are rare: at most this share of the column's rows.
const MAX_SHARE: f64 = 0.05;
/// The factors a slip is taken to be: cents, thousands.
const EXPONENTS: [i32; 4] = [3, 2, -2, -3];

/// The quantile `q` of values weighted by their row counts, `sorted` by value.
fn quantile(sorted: &[(f64, u64)], q: f64) -> f64 {
    let rows = total(sorted);
    let target = (q * rows as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (v, n) in sorted {
        seen += n;
        if seen >= target {
            return *v;
        }
    }
    sorted.last().map_or(0.0, |(v, _)| *v)
}

/// The unit-slip suggestions of one column, one per factor.
pub(crate) fn unit_slips(sample: &ColumnSample) -> Vec<Found> {
    let (values, integer): (Vec<(f64, u64)>, bool) = match &sample.values {
        ColumnValues::Integer(v) => (v.iter().map(|(x, n)| (*x as f64, *n)).collect(), true),
        ColumnValues::Float(v) => (v.clone(), false),
        ColumnValues::Text(_) => return Vec::new(),
    };
    let (rows, q1, median, q3, positive) = match sample.quartiles {
        Some(q) => (q.rows, q.q1, q.median, q.q3, q.q1 > 0.0),
        None => {
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            (
                total(&values),
                quantile(&sorted, 0.25),
                quantile(&sorted, 0.5),
                quantile(&sorted, 0.75),
                sorted.first().is_some_and(|(v, _)| *v > 0.0),
            )
        }
    };
    if rows < MIN_ROWS {
        return Vec::new();
    }
    // A column of nearly one value still has a range: a tenth of its size.
    let spread = (q3 - q1).max(0.1 * median.abs());
    if spread <= 0.0 {
        return Vec::new();
    }
    // A column of positive amounts has a floor at zero that fences below it never reach: a
    // value thirty times smaller than its lower quartile is as far out.
    let far =
        |v: f64| v < q1 - 3.0 * spread || v > q3 + 3.0 * spread || (positive && v * 30.0 < q1);
    let inside = |v: f64| v >= q1 - 1.5 * spread && v <= q3 + 1.5 * spread;
    let mut by_exponent: Vec<(i32, Vec<ValueChange>, bool)> = Vec::new();
    for &(v, n) in &values {
        if !far(v) || v == 0.0 {
            continue;
        }
        let best = EXPONENTS
            .iter()
            .map(|&k| (k, v / 10f64.powi(k)))
            .filter(|&(k, c)| inside(c) && (!integer || (k > 0 && c.fract() == 0.0)))
            .min_by(|a, b| (a.1 - median).abs().total_cmp(&(b.1 - median).abs()));
        let Some((k, corrected)) = best else {
            continue;
        };
        let typical = corrected >= q1 && corrected <= q3;
        let (original, proposed) = if integer {
            (
                Literal::Integer(v as i64),
                Literal::Integer(corrected as i64),
            )
        } else {
            (Literal::Float(v), Literal::Float(corrected))
        };
        let change = ValueChange {
            original,
            proposed,
            rows: n,
        };
        match by_exponent.iter_mut().find(|(e, _, _)| *e == k) {
            Some((_, changes, all_typical)) => {
                changes.push(change);
                *all_typical &= typical;
            }
            None => by_exponent.push((k, vec![change], typical)),
        }
    }
    by_exponent
        .into_iter()
        .filter(|(_, changes, _)| {
            (changes.iter().map(|c| c.rows).sum::<u64>() as f64) <= MAX_SHARE * rows as f64
        })
        .map(|(k, changes, typical)| {
            let factor = 10f64.powi(k.abs());
            let (verb, times) = if k > 0 {
                ("divided", "times")
            } else {
                ("multiplied", "a fraction of")
            };
            let evidence = format!(
                "{} value(s) are about {factor} {times} the column's usual range (quartiles {q1}–{q3}, median {median}, {rows} rows); {verb} by {factor} they fall {}",
                changes.len(),
                if typical { "between its quartiles" } else { "inside its range" },
            );
            let confidence = if typical { 0.9 } else { 0.75 };
            (
                SuggestionKind::UnitSlip,
                Fix::Replace {
                    column: sample.name.clone(),
                    changes,
                },
                confidence,
                evidence,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(values: &[f64]) -> ColumnSample {
        let mut counts: Vec<(f64, u64)> = Vec::new();
        for v in values {
            match counts.iter_mut().find(|(x, _)| x == v) {
                Some((_, n)) => *n += 1,
                None => counts.push((*v, 1)),
            }
        }
        ColumnSample {
            name: "amount".into(),
            values: ColumnValues::Float(counts),
            complete: true,
            quartiles: None,
        }
    }

    fn slips(sample: &ColumnSample) -> Vec<(String, String)> {
        unit_slips(sample)
            .into_iter()
            .flat_map(|(_, fix, _, _)| match fix {
                Fix::Replace { changes, .. } => changes
                    .into_iter()
                    .map(|c| (c.original.to_string(), c.proposed.to_string()))
                    .collect::<Vec<_>>(),
                Fix::Swap { .. } => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_value_a_thousand_times_the_range_is_divided_back() {
        let mut values: Vec<f64> = (0..100).map(|i| 20.0 + (i % 17) as f64 * 1.5).collect();
        values.push(31500.0);
        values.push(0.025);
        assert_eq!(
            slips(&floats(&values)),
            [
                ("31500".to_string(), "31.5".to_string()),
                ("0.025".to_string(), "25".to_string())
            ]
        );
    }

    #[test]
    fn an_outlier_no_power_of_ten_explains_is_left_alone() {
        let mut values: Vec<f64> = (0..100).map(|i| 20.0 + (i % 17) as f64 * 1.5).collect();
        values.push(700.0);
        assert!(slips(&floats(&values)).is_empty());
    }

    #[test]
    fn integers_stay_integers_and_a_wide_column_has_no_slips() {
        let mut ints: Vec<(i64, u64)> = (0..50).map(|i| (100 + i, 1)).collect();
        ints.push((125_000, 1));
        ints.push((125_001, 1));
        let sample = ColumnSample {
            name: "grams".into(),
            values: ColumnValues::Integer(ints),
            complete: true,
            quartiles: None,
        };
        assert_eq!(slips(&sample), [("125000".to_string(), "125".to_string())]);
        // Values spread over orders of magnitude have no usual range to slip out of.
        let wide: Vec<f64> = (0..60).map(|i| 10f64.powi(i % 6)).collect();
        assert!(slips(&floats(&wide)).is_empty());
    }
}
