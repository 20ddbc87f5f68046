//! A regular series: one value per period, from the first period with data to the last.
//! Periods with no data are filled explicitly — by straight lines between their neighbours —
//! and counted, so a forecast can say how much of its history was made up.

use chrono::NaiveDateTime;

use crate::{Every, InsightError};

/// The most periods a series may span: far past any history a forecast needs, small enough
/// that a mistaken `--every 1h` over centuries is refused rather than filled.
pub const MAX_PERIODS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RegularSeries {
    pub every: Every,
    /// The start of the first period.
    pub start: NaiveDateTime,
    pub values: Vec<f64>,
    /// How many periods had no data and were filled.
    pub filled: usize,
}

impl RegularSeries {
    /// The series of `points` (a time and a value, in any order; times are put in their
    /// period, and two points in one period are refused: the aggregation makes one per
    /// period). Points whose value is missing count as gaps.
    pub fn from_points(
        every: Every,
        points: &[(NaiveDateTime, Option<f64>)],
    ) -> Result<RegularSeries, InsightError> {
        let mut known: Vec<(NaiveDateTime, f64)> = Vec::with_capacity(points.len());
        for (at, value) in points {
            if let Some(v) = value {
                if !v.is_finite() {
                    return Err(InsightError::BadValue(format!(
                        "the value for {at} is {v}, not a finite number"
                    )));
                }
                known.push((every.floor(*at), *v));
            }
        }
        known.sort_by_key(|p| p.0);
        if let Some(w) = known.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(InsightError::BadValue(format!(
                "two values for the period starting {}: aggregate to one value per period",
                w[0].0
            )));
        }
        let Some(&(start, _)) = known.first() else {
            return Err(InsightError::TooShort {
                periods: 0,
                needed: 2,
            });
        };
        let mut values: Vec<Option<f64>> = Vec::new();
        let mut period = start;
        for (at, v) in known {
            while period < at {
                values.push(None);
                if values.len() > MAX_PERIODS {
                    return Err(InsightError::TooLong {
                        every,
                        limit: MAX_PERIODS,
                    });
                }
                period = every.advance(period, 1);
            }
            values.push(Some(v));
            period = every.advance(period, 1);
        }
        let filled = values.iter().filter(|v| v.is_none()).count();
        Ok(RegularSeries {
            every,
            start,
            values: interpolate(&values),
            filled,
        })
    }

    /// The start of period `index` (past the end for a forecast).
    pub fn period(&self, index: usize) -> NaiveDateTime {
        self.every.advance(self.start, index as i64)
    }
}

/// Straight lines across the gaps; the first and last values are known by construction.
fn interpolate(values: &[Option<f64>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut last: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate() {
        if let Some(v) = v {
            if let Some((j, before)) = last {
                for k in j + 1..i {
                    let share = (k - j) as f64 / (i - j) as f64;
                    out.push(before + (v - before) * share);
                }
            }
            out.push(*v);
            last = Some((i, *v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2024, 1, d)
            .unwrap()
            .and_hms_opt(9, 30, 0)
            .unwrap()
    }

    #[test]
    fn missing_days_are_filled_and_counted() {
        let points = [
            (day(3), Some(30.0)),
            (day(1), Some(10.0)),
            (day(5), None),
            (day(6), Some(60.0)),
        ];
        let s = RegularSeries::from_points(Every::Days(1), &points).unwrap();
        assert_eq!(s.values, vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        assert_eq!(s.filled, 3);
        assert_eq!(s.start, day(1).date().and_hms_opt(0, 0, 0).unwrap());
    }

    #[test]
    fn two_values_in_one_period_and_no_values_at_all_are_refused() {
        let twice = [(day(1), Some(1.0)), (day(1), Some(2.0))];
        assert!(matches!(
            RegularSeries::from_points(Every::Days(1), &twice),
            Err(InsightError::BadValue(_))
        ));
        assert!(matches!(
            RegularSeries::from_points(Every::Days(1), &[(day(1), None)]),
            Err(InsightError::TooShort { .. })
        ));
    }

    #[test]
    fn a_span_too_long_to_fill_is_refused_not_filled() {
        let far = chrono::NaiveDate::from_ymd_opt(2200, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let points = [(day(1), Some(1.0)), (far, Some(2.0))];
        assert!(matches!(
            RegularSeries::from_points(Every::Hours(1), &points),
            Err(InsightError::TooLong { .. })
        ));
    }
}
