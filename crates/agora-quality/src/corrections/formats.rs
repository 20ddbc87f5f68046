//! Format normalisation of a text column whose values mostly share one standard form: dates
//! to ISO 8601, phone numbers to E.164, e-mail addresses trimmed and lower-cased, and surrounding
//! spaces removed where the column has none. The form a column uses is what most of its rows
//! hold, so a column of `31/01/2024` dates is left as it is.

use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;

use super::{ColumnSample, Covered, Fix, Found, Literal, SuggestionKind, ValueChange, total};

/// A column is in a form when at least this share of its rows hold it.
const MOSTLY: f64 = 0.6;
/// Surrounding spaces are a slip in a column where at most this share of rows have them.
const SPACED_AT_MOST: f64 = 0.05;

static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("INVARIANT: a valid pattern"));
static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})([/.\-])(\d{1,2})[/.\-](\d{4})$").expect("INVARIANT: a valid pattern")
});
static YEAR_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})$").expect("INVARIANT: a valid pattern")
});
static COMPACT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})(\d{2})(\d{2})$").expect("INVARIANT: a valid pattern"));
static DAY_MONTH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})[ \-]([A-Za-z]{3,9})\.?[ \-,]+(\d{4})$")
        .expect("INVARIANT: a valid pattern")
});
static MONTH_NAME_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z]{3,9})\.? (\d{1,2}),? (\d{4})$").expect("INVARIANT: a valid pattern")
});
static E164: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\+[1-9]\d{6,14}$").expect("INVARIANT: a valid pattern"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)+$")
        .expect("INVARIANT: a valid pattern")
});

/// The format suggestions of one column, values `covered` already excepted.
pub(crate) fn formats(sample: &ColumnSample, covered: &Covered) -> Vec<Found> {
    let Some(values) = sample.text() else {
        return Vec::new();
    };
    let open: Vec<(&str, u64)> = values
        .iter()
        .filter(|(v, _)| !covered.has(&sample.name, v))
        .map(|(v, n)| (v.as_str(), *n))
        .collect();
    let rows = total(values) as f64;
    let share = |test: &dyn Fn(&str) -> bool| {
        values
            .iter()
            .filter(|(v, _)| test(v))
            .map(|(_, n)| *n)
            .sum::<u64>() as f64
            / rows
    };
    let mut out = Vec::new();
    if share(&|v| iso_date(v).is_some()) >= MOSTLY {
        out.extend(dates(&sample.name, &open));
    } else if share(&|v| E164.is_match(v)) >= MOSTLY {
        out.extend(phones(&sample.name, values, &open));
    } else if share(&|v| EMAIL.is_match(v)) >= MOSTLY {
        out.extend(emails(&sample.name, &open));
    } else if share(&|v| v.trim() != v) <= SPACED_AT_MOST {
        out.extend(spaces(&sample.name, &open));
    }
    out
}

fn iso_date(value: &str) -> Option<NaiveDate> {
    ISO_DATE
        .is_match(value)
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_lowercase();
    let position = MONTHS.iter().position(|m| lower.starts_with(m))?;
    Some(position as u32 + 1)
}

/// How a non-ISO date reads: its date, and whether day and month could be the other way round.
fn read_date(value: &str, day_first: bool) -> Option<(NaiveDate, bool)> {
    let date = |y: &str, m: u32, d: u32| NaiveDate::from_ymd_opt(y.parse().ok()?, m, d);
    if let Some(c) = NUMERIC_DATE.captures(value) {
        let a: u32 = c[1].parse().ok()?;
        let b: u32 = c[3].parse().ok()?;
        let ambiguous = a <= 12 && b <= 12 && a != b;
        let (day, month) = if a > 12 || (day_first && b <= 12) {
            (a, b)
        } else {
            (b, a)
        };
        return Some((date(&c[4], month, day)?, ambiguous));
    }
    if let Some(c) = YEAR_FIRST
        .captures(value)
        .or_else(|| COMPACT.captures(value))
    {
        return Some((date(&c[1], c[2].parse().ok()?, c[3].parse().ok()?)?, false));
    }
    if let Some(c) = DAY_MONTH_NAME.captures(value) {
        return Some((
            date(&c[3], month_number(&c[2])?, c[1].parse().ok()?)?,
            false,
        ));
    }
    if let Some(c) = MONTH_NAME_DAY.captures(value) {
        return Some((
            date(&c[3], month_number(&c[1])?, c[2].parse().ok()?)?,
            false,
        ));
    }
    None
}

/// Dates in other formats, to ISO 8601. Whether `03/04/2024` is the 3rd of April or the 4th of
/// March is told by the column's other numeric dates (a `31/01/2024` among them says day
/// first); without such evidence day first is assumed, at a lower confidence.
fn dates(column: &str, open: &[(&str, u64)]) -> Vec<Found> {
    let mut day_first_votes = 0u64;
    let mut month_first_votes = 0u64;
    for (v, n) in open {
        if let Some(c) = NUMERIC_DATE.captures(v) {
            let (a, b): (u32, u32) = (c[1].parse().unwrap_or(0), c[3].parse().unwrap_or(0));
            if a > 12 && b <= 12 {
                day_first_votes += n;
            } else if b > 12 && a <= 12 {
                month_first_votes += n;
            }
        }
    }
    let day_first = day_first_votes >= month_first_votes;
    let evidence = day_first_votes.max(month_first_votes) > 0;
    let mut clear = Vec::new();
    let mut ambiguous = Vec::new();
    for (v, n) in open {
        if iso_date(v).is_some() {
            continue;
        }
        let Some((date, unsure)) = read_date(v.trim(), day_first) else {
            continue;
        };
        let change = ValueChange {
            original: Literal::Text(v.to_string()),
            proposed: Literal::Text(date.format("%Y-%m-%d").to_string()),
            rows: *n,
        };
        if unsure { &mut ambiguous } else { &mut clear }.push(change);
    }
    let order = if day_first { "day" } else { "month" };
    let mut out = Vec::new();
    if !clear.is_empty() {
        out.push((
            SuggestionKind::DateFormat,
            Fix::Replace {
                column: column.to_string(),
                changes: clear,
            },
            0.95,
            "most of the column's dates are ISO 8601 (YYYY-MM-DD); these read as one date only"
                .to_string(),
        ));
    }
    if !ambiguous.is_empty() {
        let (confidence, why) = if evidence {
            (
                0.8,
                format!(
                    "the column's other dates in this format put the {order} first ({} row(s) cannot be read otherwise)",
                    day_first_votes.max(month_first_votes)
                ),
            )
        } else {
            (
                0.5,
                "nothing in the column tells day from month: day first assumed".to_string(),
            )
        };
        out.push((
            SuggestionKind::DateFormat,
            Fix::Replace {
                column: column.to_string(),
                changes: ambiguous,
            },
            confidence,
            format!("most of the column's dates are ISO 8601; for these, {why}"),
        ));
    }
    out
}

/// Phone numbers to E.164. A number without its country code is read in the country most of
/// the column's numbers belong to.
fn phones(column: &str, values: &[(String, u64)], open: &[(&str, u64)]) -> Vec<Found> {
    let mut countries: std::collections::HashMap<phonenumber::country::Id, u64> =
        Default::default();
    for (v, n) in values {
        if E164.is_match(v)
            && let Some(id) = phonenumber::parse(None, v)
                .ok()
                .and_then(|p| p.country().id())
        {
            *countries.entry(id).or_default() += n;
        }
    }
    let e164_rows: u64 = countries.values().sum();
    let home = countries
        .iter()
        .max_by_key(|(_, n)| **n)
        .filter(|(_, n)| **n as f64 >= 0.8 * e164_rows as f64)
        .map(|(id, _)| *id);
    let mut international = Vec::new();
    let mut national = Vec::new();
    for (v, n) in open {
        if E164.is_match(v) {
            continue;
        }
        let cleaned: String = v
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
            .collect();
        let cleaned = match cleaned.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => cleaned,
        };
        let (parsed, bucket) = if cleaned.starts_with('+') {
            (phonenumber::parse(None, &cleaned).ok(), &mut international)
        } else {
            match home {
                Some(country) => (
                    phonenumber::parse(Some(country), &cleaned).ok(),
                    &mut national,
                ),
                None => continue,
            }
        };
        let Some(number) = parsed.filter(phonenumber::is_valid) else {
            continue;
        };
        bucket.push(ValueChange {
            original: Literal::Text(v.to_string()),
            proposed: Literal::Text(number.format().mode(phonenumber::Mode::E164).to_string()),
            rows: *n,
        });
    }
    let mut out = Vec::new();
    if !international.is_empty() {
        out.push((
            SuggestionKind::PhoneFormat,
            Fix::Replace {
                column: column.to_string(),
                changes: international,
            },
            0.95,
            "most of the column's phone numbers are E.164 (+ and digits only); these are valid numbers written with spaces, punctuation or a 00 prefix".to_string(),
        ));
    }
    if let (false, Some(country)) = (national.is_empty(), home) {
        out.push((
            SuggestionKind::PhoneFormat,
            Fix::Replace {
                column: column.to_string(),
                changes: national,
            },
            0.75,
            format!(
                "most of the column's phone numbers are E.164 and from {country:?}; these have no country code and are valid numbers there"
            ),
        ));
    }
    out
}

/// E-mail addresses trimmed and lower-cased.
fn emails(column: &str, open: &[(&str, u64)]) -> Vec<Found> {
    let changes: Vec<ValueChange> = open
        .iter()
        .filter_map(|(v, n)| {
            let normal = v.trim().to_lowercase();
            (normal != *v && EMAIL.is_match(&normal)).then(|| ValueChange {
                original: Literal::Text(v.to_string()),
                proposed: Literal::Text(normal),
                rows: *n,
            })
        })
        .collect();
    vec![(
        SuggestionKind::EmailFormat,
        Fix::Replace {
            column: column.to_string(),
            changes,
        },
        0.9,
        "most of the column's values are lower-case e-mail addresses; these have capitals or surrounding spaces (domains ignore case, and mail systems treat local parts alike)".to_string(),
    )]
}

/// Surrounding spaces removed, in a column where values have none.
fn spaces(column: &str, open: &[(&str, u64)]) -> Vec<Found> {
    let changes: Vec<ValueChange> = open
        .iter()
        .filter(|(v, _)| v.trim() != *v && !v.trim().is_empty())
        .map(|(v, n)| ValueChange {
            original: Literal::Text(v.to_string()),
            proposed: Literal::Text(v.trim().to_string()),
            rows: *n,
        })
        .collect();
    vec![(
        SuggestionKind::Whitespace,
        Fix::Replace {
            column: column.to_string(),
            changes,
        },
        0.8,
        "the column's values have no surrounding spaces but these".to_string(),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrections::text_sample;

    type Found = (SuggestionKind, Vec<(String, String)>, f64);

    fn fixes(values: &[(&str, u64)]) -> Vec<Found> {
        let sample = text_sample("c", values);
        formats(&sample, &Covered::default())
            .into_iter()
            .filter(|(_, fix, _, _)| !fix.is_empty())
            .map(|(kind, fix, confidence, _)| {
                let Fix::Replace { changes, .. } = fix else {
                    panic!("formats replace values")
                };
                let pairs = changes
                    .iter()
                    .map(|c| (c.original.to_string(), c.proposed.to_string()))
                    .collect();
                (kind, pairs, confidence)
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn dates_in_other_formats_become_iso() {
        let found = fixes(&[
            ("2024-01-05", 20),
            ("2024-02-11", 20),
            ("31/01/2024", 1),
            ("2024/03/07", 1),
            ("7 Mar 2024", 1),
            ("March 8, 2024", 1),
            ("31/02/2024", 1),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].1,
            pairs(&[
                ("31/01/2024", "2024-01-31"),
                ("2024/03/07", "2024-03-07"),
                ("7 Mar 2024", "2024-03-07"),
                ("March 8, 2024", "2024-03-08"),
            ])
        );
    }

    #[test]
    fn day_and_month_order_follows_the_columns_evidence() {
        let found = fixes(&[("2024-01-05", 30), ("12/25/2024", 2), ("03/04/2024", 1)]);
        let ambiguous = found.iter().find(|f| f.2 < 0.9).unwrap();
        assert_eq!(ambiguous.1, pairs(&[("03/04/2024", "2024-03-04")]));
        assert_eq!(ambiguous.2, 0.8);
        let unsure = fixes(&[("2024-01-05", 30), ("03/04/2024", 1)]);
        assert_eq!(unsure[0].1, pairs(&[("03/04/2024", "2024-04-03")]));
        assert_eq!(unsure[0].2, 0.5);
    }

    #[test]
    fn phones_become_e164_in_the_columns_country() {
        let found = fixes(&[
            ("+4930123456", 10),
            ("+4989123456", 10),
            ("+49 30 1234567", 1),
            ("0049 30 7654321", 1),
            ("030 2345678", 1),
            ("not a phone", 1),
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0].1,
            pairs(&[
                ("+49 30 1234567", "+49301234567"),
                ("0049 30 7654321", "+49307654321")
            ])
        );
        assert_eq!(found[1].1, pairs(&[("030 2345678", "+49302345678")]));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let found = fixes(&[
            ("ana@example.com", 5),
            ("bo@example.org", 5),
            (" Carl@Example.COM", 1),
            ("not an address", 1),
        ]);
        assert_eq!(
            found[0].1,
            pairs(&[(" Carl@Example.COM", "carl@example.com")])
        );
    }

    #[test]
    fn surrounding_spaces_go_where_the_column_has_none() {
        let mut values: Vec<(String, u64)> = (0..40).map(|i| (format!("item {i}"), 1)).collect();
        values.push(("item 99 ".to_string(), 1));
        let values: Vec<(&str, u64)> = values.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        assert_eq!(fixes(&values)[0].1, pairs(&[("item 99 ", "item 99")]));
        // Where a column commonly has them, they are its form.
        assert!(fixes(&[(" a", 5), ("b", 5)]).is_empty());
    }

    #[test]
    fn a_column_mostly_in_another_form_is_left_as_it_is() {
        assert!(fixes(&[("31/01/2024", 10), ("01/02/2024", 10), ("2024-03-01", 2)]).is_empty());
    }
}
