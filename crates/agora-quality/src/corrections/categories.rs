//! Categorical columns: a rare value that is a frequent one with other case or spacing
//! (`" germany"` → `Germany`), or close to one in spelling (`Germny` → `Germany`, by
//! Damerau–Levenshtein distance: a swap of two neighbouring letters is one slip, as people make
//! it).

use super::{ColumnSample, Covered, Fix, Found, Literal, SuggestionKind, ValueChange, total};

/// A column with more distinct values than this is not a set of categories.
pub const MAX_CATEGORIES: usize = 200;
/// A frequent value holds at least this share of the rows (and three rows).
const FREQUENT_SHARE: f64 = 0.02;
/// The frequent values of a categorical column hold at least this share of its rows: in a
/// column of names, where most values are rare, a rare value is no slip.
const FREQUENT_COVER: f64 = 0.8;
/// A rare value has at most a tenth of the rows of the frequent value it is taken for.
const DOMINANCE: u64 = 10;

/// The frequent values of a column that is a set of categories, most frequent first.
pub(crate) fn frequent_values(sample: &ColumnSample) -> Option<Vec<(&str, u64)>> {
    let values = sample.text()?;
    if !sample.complete || values.len() > MAX_CATEGORIES {
        return None;
    }
    let rows = total(values);
    let floor = (FREQUENT_SHARE * rows as f64).max(3.0);
    let frequent: Vec<(&str, u64)> = values
        .iter()
        .filter(|(_, n)| *n as f64 >= floor)
        .map(|(v, n)| (v.as_str(), *n))
        .collect();
    let cover: u64 = frequent.iter().map(|(_, n)| n).sum();
    (!frequent.is_empty() && cover as f64 >= FREQUENT_COVER * rows as f64).then_some(frequent)
}

/// Case and spacing folded away.
fn folded(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// How many slips apart two values are, for spelling purposes: a typo is at most one slip in a
/// short word, two in a longer one, three in a long one, and always fewer than half its
/// letters.
fn slip_limit(frequent: &str) -> usize {
    match frequent.chars().count() {
        0..=4 => 1,
        5..=10 => 2,
        _ => 3,
    }
}

/// The variant and typo suggestions of one column, values `covered` already excepted.
pub(crate) fn variants_and_typos(sample: &ColumnSample, covered: &Covered) -> Vec<Found> {
    let (Some(values), Some(frequent)) = (sample.text(), frequent_values(sample)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (value, rows) in values {
        if covered.has(&sample.name, value) || frequent.iter().any(|(f, _)| f == value) {
            continue;
        }
        let rare_next_to = |n: u64| rows * DOMINANCE <= n;
        // A variant: the same letters as a frequent value once case and spacing are folded.
        let key = folded(value);
        if let Some((f, n)) = frequent
            .iter()
            .find(|(f, n)| folded(f) == key && rare_next_to(*n))
        {
            let dominance = *n as f64 / (*n + rows) as f64;
            out.push((
                SuggestionKind::Variant,
                replace(&sample.name, value, f, *rows),
                0.97 * dominance,
                format!(
                    "`{value}` differs from `{f}` ({n} rows) only in case or spacing; {rows} row(s) hold it"
                ),
            ));
            continue;
        }
        // Digits are codes: `A12` and `A13` are different products, not a slip; `3-MEDUIM`
        // and `3-MEDIUM` share theirs.
        let digits = |v: &str| v.chars().filter(char::is_ascii_digit).collect::<String>();
        let own_digits = digits(value);
        let lower = value.to_lowercase();
        let mut candidates: Vec<(usize, &str, u64)> = frequent
            .iter()
            .filter(|(f, n)| rare_next_to(*n) && digits(f) == own_digits)
            .map(|(f, n)| {
                (
                    strsim::damerau_levenshtein(&lower, &f.to_lowercase()),
                    *f,
                    *n,
                )
            })
            .filter(|(d, f, _)| *d >= 1 && *d <= slip_limit(f) && 2 * d < f.chars().count())
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        let Some(&(distance, best, n)) = candidates.first() else {
            continue;
        };
        let closeness = 1.0 - distance as f64 / best.chars().count() as f64;
        let dominance = n as f64 / (n + rows) as f64;
        let rival = candidates.get(1).map(|c| c.0);
        let ambiguity = match rival {
            Some(d) if d == distance => 0.5,
            Some(d) if d == distance + 1 => 0.8,
            _ => 1.0,
        };
        let others = if ambiguity < 1.0 {
            format!(
                " ({} other frequent value(s) are nearly as close)",
                candidates.len() - 1
            )
        } else {
            String::new()
        };
        out.push((
            SuggestionKind::Typo,
            replace(&sample.name, value, best, *rows),
            closeness * dominance * ambiguity,
            format!(
                "`{value}` ({rows} row(s)) is {distance} edit(s) from `{best}`, one of the column's frequent values ({n} rows){others}"
            ),
        ));
    }
    out
}

fn replace(column: &str, from: &str, to: &str, rows: u64) -> Fix {
    Fix::Replace {
        column: column.to_string(),
        changes: vec![ValueChange {
            original: Literal::Text(from.to_string()),
            proposed: Literal::Text(to.to_string()),
            rows,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrections::text_sample;

    fn sample(values: &[(&str, u64)]) -> ColumnSample {
        text_sample("country", values)
    }

    fn proposals(values: &[(&str, u64)]) -> Vec<(SuggestionKind, String, String)> {
        variants_and_typos(&sample(values), &Covered::default())
            .into_iter()
            .map(|(kind, fix, _, _)| {
                let (from, to) = fix.example();
                (kind, from, to)
            })
            .collect()
    }

    #[test]
    fn a_misspelt_category_goes_to_the_closest_frequent_value() {
        let found = proposals(&[
            ("Germany", 50),
            ("France", 30),
            ("Spain", 20),
            ("Germny", 1),
            ("Fracne", 2),
        ]);
        assert_eq!(
            found,
            [
                (SuggestionKind::Typo, "Germny".into(), "Germany".into()),
                (SuggestionKind::Typo, "Fracne".into(), "France".into()),
            ]
        );
    }

    #[test]
    fn case_and_spacing_variants_are_variants() {
        let found = proposals(&[("Germany", 50), ("France", 30), ("GERMANY ", 2)]);
        assert_eq!(
            found,
            [(SuggestionKind::Variant, "GERMANY ".into(), "Germany".into())]
        );
    }

    #[test]
    fn codes_names_and_frequent_values_are_left_alone() {
        // Codes differ in a digit by design; a slip in a code's letters is still a slip.
        assert!(proposals(&[("A12", 50), ("B20", 40), ("A13", 1)]).is_empty());
        assert_eq!(
            proposals(&[("3-MEDIUM", 50), ("1-URGENT", 40), ("3-MEDUIM", 1)]),
            [(SuggestionKind::Typo, "3-MEDUIM".into(), "3-MEDIUM".into())]
        );
        // A column of names: most rows hold rare values, so a rare one is no slip.
        let names: Vec<(String, u64)> = (0..60).map(|i| (format!("Name{i}x"), 1)).collect();
        let mut names: Vec<(&str, u64)> = names.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        names.push(("Jon", 1));
        names.push(("John", 3));
        assert!(proposals(&names).is_empty());
        // Two frequent values a letter apart are both real.
        assert!(proposals(&[("Austria", 40), ("Australia", 40)]).is_empty());
        // A word far from every frequent one is not a typo of any.
        assert!(proposals(&[("Germany", 50), ("France", 30), ("Mexico", 1)]).is_empty());
    }

    #[test]
    fn a_value_as_close_to_two_frequent_ones_is_less_certain() {
        let found = variants_and_typos(
            &sample(&[("cat", 40), ("car", 40), ("cap", 40), ("caz", 1)]),
            &Covered::default(),
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].2 < 0.5, "{}", found[0].2);
    }
}
