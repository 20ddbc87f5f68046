//! Calendar-aware intervals (`--every 1h`, `1d`, `1w`, `1mo`, `1q`, `1y`): where the period a
//! time falls in starts, and where the next one starts. Months and years are calendar months
//! and years (January has 31 days, a year 365 or 366), not fixed numbers of seconds.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::InsightError;

/// The length of one period of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Hours(u32),
    Days(u32),
    /// Weeks start on Monday (ISO 8601).
    Weeks(u32),
    Months(u32),
}

impl FromStr for Every {
    type Err = InsightError;

    fn from_str(text: &str) -> Result<Every, InsightError> {
        let bad = |why: &str| InsightError::BadInterval {
            text: text.to_string(),
            why: why.to_string(),
        };
        let t = text.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (count, unit) = t.split_at(split);
        let count: u32 = if count.is_empty() {
            1
        } else {
            count
                .parse()
                .map_err(|_| bad("the count is not a whole number"))?
        };
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        if count > 1000 {
            return Err(bad("the count must be at most 1000"));
        }
        Ok(match unit {
            "h" => Every::Hours(count),
            "d" if count.is_multiple_of(7) => Every::Weeks(count / 7),
            "d" => Every::Days(count),
            "w" => Every::Weeks(count),
            "mo" => Every::Months(count),
            "q" => Every::Months(3 * count),
            "y" => Every::Months(12 * count),
            _ => {
                return Err(bad(
                    "the unit must be h, d, w, mo, q or y (as in 1h, 1d, 1w, 1mo, 1q, 1y)",
                ));
            }
        })
    }
}

impl fmt::Display for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Every::Hours(n) => write!(f, "{n}h"),
            Every::Days(n) => write!(f, "{n}d"),
            Every::Weeks(n) => write!(f, "{n}w"),
            Every::Months(n) if n % 12 == 0 => write!(f, "{}y", n / 12),
            Every::Months(n) if n % 3 == 0 => write!(f, "{}q", n / 3),
            Every::Months(n) => write!(f, "{n}mo"),
        }
    }
}

/// Monday 1970-01-05, from which weeks are counted (1970-01-01 was a Thursday).
fn first_monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 5).expect("1970-01-05 is a date")
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .expect("1970-01-01 is a date")
        .and_time(NaiveTime::MIN)
}

impl Every {
    /// The start of the period `at` falls in. Periods of several units are counted from
    /// 1970 (hours and days from its first midnight, weeks from its first Monday, months from
    /// its January), so the same time always falls in the same period.
    pub fn floor(&self, at: NaiveDateTime) -> NaiveDateTime {
        match *self {
            Every::Hours(n) => {
                let span = 3600 * n as i64;
                let seconds = (at - epoch()).num_seconds().div_euclid(span) * span;
                epoch() + Duration::seconds(seconds)
            }
            Every::Days(n) => {
                let days = (at.date() - epoch().date()).num_days().div_euclid(n as i64) * n as i64;
                epoch() + Duration::days(days)
            }
            Every::Weeks(n) => {
                let span = 7 * n as i64;
                let days = (at.date() - first_monday()).num_days().div_euclid(span) * span;
                (first_monday() + Duration::days(days)).and_time(NaiveTime::MIN)
            }
            Every::Months(n) => {
                let months = month_index(at.date()).div_euclid(n as i64) * n as i64;
                month_start(months)
            }
        }
    }

    /// The start of the period `steps` periods after the one starting at `start`.
    pub fn advance(&self, start: NaiveDateTime, steps: i64) -> NaiveDateTime {
        match *self {
            Every::Hours(n) => start + Duration::hours(steps * n as i64),
            Every::Days(n) => start + Duration::days(steps * n as i64),
            Every::Weeks(n) => start + Duration::days(steps * 7 * n as i64),
            Every::Months(n) => month_start(month_index(start.date()) + steps * n as i64),
        }
    }

    /// The seasonal periods the calendar suggests for this interval, in periods: a day and a
    /// week of hours, a week and a year of days, a year of weeks, months or quarters.
    pub fn calendar_seasons(&self) -> Vec<usize> {
        let seasons: &[(u32, u32)] = match self {
            Every::Hours(n) => &[(24, *n), (168, *n)],
            Every::Days(n) => &[(7, *n), (365, *n)],
            Every::Weeks(n) => &[(52, *n)],
            Every::Months(n) => &[(12, *n)],
        };
        seasons
            .iter()
            .filter(|(units, n)| units % n == 0 && units / n >= 2)
            .map(|(units, n)| (units / n) as usize)
            .collect()
    }
}

/// Months since January 1970.
fn month_index(date: NaiveDate) -> i64 {
    (date.year() as i64 - 1970) * 12 + date.month0() as i64
}

fn month_start(index: i64) -> NaiveDateTime {
    let year = 1970 + index.div_euclid(12);
    let month = index.rem_euclid(12) as u32 + 1;
    // Years far outside chrono's range cannot come from a timestamp column.
    NaiveDate::from_ymd_opt(year.clamp(-260_000, 260_000) as i32, month, 1)
        .unwrap_or(NaiveDate::MAX)
        .and_time(NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn intervals_parse_as_the_docs_write_them() {
        for (text, every) in [
            ("1h", Every::Hours(1)),
            ("6h", Every::Hours(6)),
            ("1d", Every::Days(1)),
            ("7d", Every::Weeks(1)),
            ("1w", Every::Weeks(1)),
            ("1mo", Every::Months(1)),
            ("3mo", Every::Months(3)),
            ("1q", Every::Months(3)),
            ("1y", Every::Months(12)),
        ] {
            assert_eq!(text.parse::<Every>().unwrap(), every, "{text}");
        }
        for bad in [
            "",
            "0d",
            "1m",
            "d1",
            "1.5d",
            "-1d",
            "99999999999d",
            "1 fortnight",
        ] {
            assert!(bad.parse::<Every>().is_err(), "{bad}");
        }
    }

    #[test]
    fn months_and_weeks_follow_the_calendar() {
        let month = Every::Months(1);
        assert_eq!(
            month.floor(at("2024-02-29 13:00:00")),
            at("2024-02-01 00:00:00")
        );
        assert_eq!(
            month.advance(at("2024-01-01 00:00:00"), 1),
            at("2024-02-01 00:00:00")
        );
        assert_eq!(
            month.advance(at("2024-12-01 00:00:00"), 1),
            at("2025-01-01 00:00:00")
        );
        let quarter = Every::Months(3);
        assert_eq!(
            quarter.floor(at("2024-05-17 08:00:00")),
            at("2024-04-01 00:00:00")
        );
        // 2024-05-17 was a Friday; its week began on Monday the 13th.
        assert_eq!(
            Every::Weeks(1).floor(at("2024-05-17 08:00:00")),
            at("2024-05-13 00:00:00")
        );
        assert_eq!(
            Every::Hours(6).floor(at("2024-05-17 08:59:59")),
            at("2024-05-17 06:00:00")
        );
    }

    proptest! {
        #[test]
        fn a_time_lies_in_the_period_its_floor_starts(
            seconds in -2_000_000_000i64..4_000_000_000,
            every in prop_oneof![
                (1u32..48).prop_map(Every::Hours),
                (1u32..30).prop_map(Every::Days),
                (1u32..8).prop_map(Every::Weeks),
                (1u32..25).prop_map(Every::Months),
            ],
        ) {
            let t = epoch() + Duration::seconds(seconds);
            let start = every.floor(t);
            let next = every.advance(start, 1);
            prop_assert!(start <= t && t < next, "{every}: {start} <= {t} < {next}");
            prop_assert_eq!(every.floor(next), next);
            prop_assert_eq!(every.advance(next, -1), start);
        }
    }
}
