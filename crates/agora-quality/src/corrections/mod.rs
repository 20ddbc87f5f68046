//! Suggested corrections: from the values a table holds, the fixes an owner would make by hand,
//! each with a confidence and the evidence for it.
//!
//! The input is what a table's columns hold, as distinct values with their row counts
//! ([`ColumnSample`]); the output is [`Suggestion`]s, each a [`Fix`] that maps exact values to
//! exact values, so applying one changes the rows that hold them and nothing else:
//!
//! - a misspelt category to the frequent value it is closest to (`Germny` → `Germany`), and
//!   whitespace and case variants of a frequent value ([`categories`]);
//! - format normalisation: dates to ISO 8601, phone numbers to E.164, e-mail addresses trimmed
//!   and lower-cased, surrounding spaces removed ([`formats`]);
//! - a unit or scale slip: a value 100× or 1000× the column's usual range, divided back
//!   ([`scale`]);
//! - swapped fields: a row whose two categorical columns hold each other's values ([`swaps`]).
//!
//! A value gets one suggestion at most, the first of that order that fits it; the list is
//! ranked by confidence. Ids are derived from the table and the fix, so the same data gives the
//! same ids on every run and an id names exactly what it changes.

pub mod categories;
pub mod formats;
pub mod scale;
pub mod swaps;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use swaps::{PairCounts, SwapQuery, swap_queries};

/// A column's distinct non-null values with the number of rows holding each, most frequent
/// first.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    Text(Vec<(String, u64)>),
    Integer(Vec<(i64, u64)>),
    Float(Vec<(f64, u64)>),
}

/// What one column holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSample {
    pub name: String,
    pub values: ColumnValues,
    /// Whether `values` holds every distinct value (a column with too many is cut to its most
    /// frequent ones, which still tell its categories and formats).
    pub complete: bool,
    /// For a number column whose values are not all there: its quartiles over every row, and
    /// `values` holds the values far outside them (the candidates for a slip).
    pub quartiles: Option<Quartiles>,
}

/// The lower quartile, median and upper quartile of a number column, and its rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quartiles {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub rows: u64,
}

impl ColumnSample {
    fn text(&self) -> Option<&[(String, u64)]> {
        match &self.values {
            ColumnValues::Text(v) => Some(v),
            _ => None,
        }
    }
}

/// A value as a fix names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for Literal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Literal::Integer(v) => write!(f, "{v}"),
            Literal::Float(v) => write!(f, "{v}"),
            Literal::Text(v) => write!(f, "{v}"),
        }
    }
}

/// One value of a column and what it becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueChange {
    pub original: Literal,
    pub proposed: Literal,
    /// The rows holding `original`.
    pub rows: u64,
}

/// A row's pair of values that a swap exchanges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwappedPair {
    /// The first column's value (which belongs in the second), and the second's.
    pub first: String,
    pub second: String,
    pub rows: u64,
}

/// What a suggestion changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fix {
    /// Rows whose `column` holds a change's original get its proposed value.
    Replace {
        column: String,
        changes: Vec<ValueChange>,
    },
    /// Rows holding a pair get the two values exchanged between the columns.
    Swap {
        first: String,
        second: String,
        pairs: Vec<SwappedPair>,
    },
}

impl Fix {
    /// The columns the fix writes.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Fix::Replace { column, .. } => vec![column],
            Fix::Swap { first, second, .. } => vec![first, second],
        }
    }

    /// The rows the fix changes.
    pub fn rows(&self) -> u64 {
        match self {
            Fix::Replace { changes, .. } => changes.iter().map(|c| c.rows).sum(),
            Fix::Swap { pairs, .. } => pairs.iter().map(|p| p.rows).sum(),
        }
    }

    /// The first change, as `(original, proposed)` text, for a one-line listing.
    pub fn example(&self) -> (String, String) {
        match self {
            Fix::Replace { changes, .. } => changes
                .first()
                .map(|c| (c.original.to_string(), c.proposed.to_string()))
                .unwrap_or_default(),
            Fix::Swap { pairs, .. } => pairs
                .first()
                .map(|p| {
                    (
                        format!("{} | {}", p.first, p.second),
                        format!("{} | {}", p.second, p.first),
                    )
                })
                .unwrap_or_default(),
        }
    }

    /// How many distinct values (or pairs) the fix changes.
    pub fn len(&self) -> usize {
        match self {
            Fix::Replace { changes, .. } => changes.len(),
            Fix::Swap { pairs, .. } => pairs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The kinds of suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// A rare value close in spelling to a frequent one.
    Typo,
    /// A frequent value with other case or spacing.
    Variant,
    /// Dates in another format than the column's ISO 8601.
    DateFormat,
    /// Phone numbers not in the column's E.164 form.
    PhoneFormat,
    /// E-mail addresses with capitals or surrounding spaces.
    EmailFormat,
    /// Values with surrounding spaces in a column that has none.
    Whitespace,
    /// Numbers a power of ten away from the column's range.
    UnitSlip,
    /// Two columns holding each other's values.
    Swap,
}

impl SuggestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionKind::Typo => "typo",
            SuggestionKind::Variant => "variant",
            SuggestionKind::DateFormat => "date_format",
            SuggestionKind::PhoneFormat => "phone_format",
            SuggestionKind::EmailFormat => "email_format",
            SuggestionKind::Whitespace => "whitespace",
            SuggestionKind::UnitSlip => "unit_slip",
            SuggestionKind::Swap => "swap",
        }
    }
}

/// A correction an owner may apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Stable for the same table and fix: `typo-3f9a2b1c`.
    pub id: String,
    pub kind: SuggestionKind,
    pub fix: Fix,
    /// How likely the proposed values are the right ones, from 0 to 1.
    pub confidence: f64,
    /// Why, in words, without quoting values beyond the fix's own.
    pub evidence: String,
}

impl Suggestion {
    fn new(scope: &str, kind: SuggestionKind, fix: Fix, confidence: f64, evidence: String) -> Self {
        let mut digest = Sha256::new();
        digest.update(scope.as_bytes());
        digest.update([0]);
        digest.update(kind.as_str().as_bytes());
        digest.update([0]);
        digest.update(
            serde_json::to_string(&fix)
                .expect("INVARIANT: a fix is plain data that serialises")
                .as_bytes(),
        );
        let hash = hex::encode(&digest.finalize()[..4]);
        let kind_name = kind.as_str().replace('_', "-");
        Suggestion {
            id: format!("{kind_name}-{hash}"),
            kind,
            fix,
            confidence: confidence.clamp(0.0, 0.99),
            evidence,
        }
    }
}

/// A suggestion before its id: kind, fix, confidence, evidence.
pub(crate) type Found = (SuggestionKind, Fix, f64, String);

/// The (column, value) pairs a suggestion already covers: a value gets one suggestion.
#[derive(Default)]
pub(crate) struct Covered(HashSet<(String, String)>);

impl Covered {
    pub(crate) fn has(&self, column: &str, value: &str) -> bool {
        self.0.contains(&(column.to_string(), value.to_string()))
    }

    fn add(&mut self, fix: &Fix) {
        match fix {
            Fix::Replace { column, changes } => {
                for c in changes {
                    self.0.insert((column.clone(), c.original.to_string()));
                }
            }
            Fix::Swap {
                first,
                second,
                pairs,
            } => {
                for p in pairs {
                    self.0.insert((first.clone(), p.first.clone()));
                    self.0.insert((second.clone(), p.second.clone()));
                }
            }
        }
    }
}

/// Every suggestion for a table (`scope` names it, for the ids) whose columns hold `samples`,
/// with `pairs` the row counts the [`swap_queries`] asked for; most confident first.
pub fn suggest(scope: &str, samples: &[ColumnSample], pairs: &[PairCounts]) -> Vec<Suggestion> {
    let mut covered = Covered::default();
    let mut out = Vec::new();
    let mut keep = |found: Vec<Found>, covered: &mut Covered| {
        for (kind, fix, confidence, evidence) in found {
            if fix.is_empty() {
                continue;
            }
            covered.add(&fix);
            out.push(Suggestion::new(scope, kind, fix, confidence, evidence));
        }
    };
    keep(swaps::swaps(samples, pairs), &mut covered);
    for sample in samples {
        let found = categories::variants_and_typos(sample, &covered);
        keep(found, &mut covered);
        let found = formats::formats(sample, &covered);
        keep(found, &mut covered);
        let found = scale::unit_slips(sample);
        keep(found, &mut covered);
    }
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.fix.rows().cmp(&a.fix.rows()))
            .then(a.id.cmp(&b.id))
    });
    out
}

/// The values of a part of a table (its quarantine) by column, as text, with their rows there.
pub type ValuesIn = HashMap<String, HashMap<String, u64>>;

/// Of `suggestions` made from a table's values and those of a part of it (`part`: its
/// quarantine), the ones that change values the part holds, each narrowed to those values with
/// their rows in the part and named anew for `scope`. Swaps are left out: they are judged on
/// pairs of the whole table.
pub fn within(scope: &str, suggestions: Vec<Suggestion>, part: &ValuesIn) -> Vec<Suggestion> {
    suggestions
        .into_iter()
        .filter_map(|s| {
            let Fix::Replace { column, changes } = s.fix else {
                return None;
            };
            let held = part.get(&column)?;
            let changes: Vec<ValueChange> = changes
                .into_iter()
                .filter_map(|c| {
                    let rows = *held.get(&c.original.to_string())?;
                    Some(ValueChange { rows, ..c })
                })
                .collect();
            (!changes.is_empty()).then(|| {
                let fix = Fix::Replace { column, changes };
                Suggestion::new(scope, s.kind, fix, s.confidence, s.evidence)
            })
        })
        .collect()
}

/// The rows of `values`.
pub(crate) fn total<T>(values: &[(T, u64)]) -> u64 {
    values.iter().map(|(_, n)| n).sum()
}

/// A text column holding `values` (value, rows), for the tests of every kind.
#[cfg(test)]
pub(crate) fn text_sample(name: &str, values: &[(&str, u64)]) -> ColumnSample {
    ColumnSample {
        name: name.into(),
        values: ColumnValues::Text(values.iter().map(|(v, n)| (v.to_string(), *n)).collect()),
        complete: true,
        quartiles: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_name_the_table_and_the_fix() {
        let sample = text_sample("country", &[("Germany", 40), ("France", 30), ("Germny", 1)]);
        let a = suggest("shop.orders", std::slice::from_ref(&sample), &[]);
        let b = suggest("shop.orders", std::slice::from_ref(&sample), &[]);
        let c = suggest("shop.returns", std::slice::from_ref(&sample), &[]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, b[0].id);
        assert_ne!(a[0].id, c[0].id);
        assert!(a[0].id.starts_with("typo-"), "{}", a[0].id);
    }

    #[test]
    fn suggestions_within_a_part_change_only_its_values_and_count_its_rows() {
        let sample = text_sample(
            "country",
            &[
                ("Germany", 40),
                ("France", 30),
                ("Germny", 2),
                ("Frnace", 1),
            ],
        );
        let whole = suggest("shop.orders", &[sample], &[]);
        assert_eq!(whole.len(), 2, "{whole:#?}");
        let part: ValuesIn = HashMap::from([(
            "country".to_string(),
            HashMap::from([("Germny".to_string(), 1), ("Germany".to_string(), 3)]),
        )]);
        let narrowed = within("shop.orders__quarantine", whole.clone(), &part);
        assert_eq!(narrowed.len(), 1, "{narrowed:#?}");
        assert_eq!(narrowed[0].fix.example().0, "Germny");
        assert_eq!(narrowed[0].fix.rows(), 1, "the rows the part holds");
        assert!(whole.iter().all(|s| s.id != narrowed[0].id));
        assert!(within("x", whole, &ValuesIn::new()).is_empty());
    }

    #[test]
    fn a_value_gets_one_suggestion_and_the_list_is_ranked() {
        let sample = text_sample(
            "country",
            &[
                ("Germany", 40),
                ("France", 30),
                (" germany", 2),
                ("Frnace", 1),
            ],
        );
        let found = suggest("shop.orders", &[sample], &[]);
        let originals: Vec<String> = found.iter().map(|s| s.fix.example().0).collect();
        assert_eq!(originals.len(), 2, "{found:#?}");
        assert!(found[0].confidence >= found[1].confidence);
        assert_eq!(found[0].kind, SuggestionKind::Variant);
    }
}
