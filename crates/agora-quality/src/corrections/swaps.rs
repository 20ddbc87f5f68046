//! Swapped fields: a row whose two categorical columns hold each other's values (`city` =
//! `Germany`, `country` = `Berlin`). Finding them takes two looks at the data: the columns'
//! values tell which values sit in the wrong column ([`swap_queries`]), and the rows holding
//! such a value in both columns at once ([`PairCounts`]) are the swaps.

use super::categories::frequent_values;
use super::{ColumnSample, Fix, Found, SuggestionKind, SwappedPair};

/// Two columns and the values of each that belong to the other: the rows holding one of
/// `first_values` in `first` and one of `second_values` in `second` are candidate swaps.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapQuery {
    pub first: String,
    pub second: String,
    pub first_values: Vec<String>,
    pub second_values: Vec<String>,
}

/// The rows of a [`SwapQuery`]: each pair of values found and how many rows hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCounts {
    pub first: String,
    pub second: String,
    pub pairs: Vec<((String, String), u64)>,
}

/// A value is out of place in a column when the other column holds it ten times as often.
const OUT_OF_PLACE: u64 = 10;

/// The values of `column` that `other`'s frequent values claim.
fn out_of_place(column: &ColumnSample, other: &[(&str, u64)]) -> Vec<String> {
    let Some(values) = column.text() else {
        return Vec::new();
    };
    values
        .iter()
        .filter(|(v, n)| other.iter().any(|(o, m)| o == v && n * OUT_OF_PLACE <= *m))
        .map(|(v, _)| v.clone())
        .collect()
}

/// The pairs of categorical columns worth looking at for swaps.
pub fn swap_queries(samples: &[ColumnSample]) -> Vec<SwapQuery> {
    let frequent: Vec<Option<Vec<(&str, u64)>>> = samples.iter().map(frequent_values).collect();
    let mut out = Vec::new();
    for (i, a) in samples.iter().enumerate() {
        for (j, b) in samples.iter().enumerate().skip(i + 1) {
            let (Some(fa), Some(fb)) = (&frequent[i], &frequent[j]) else {
                continue;
            };
            let first_values = out_of_place(a, fb);
            let second_values = out_of_place(b, fa);
            if !first_values.is_empty() && !second_values.is_empty() {
                out.push(SwapQuery {
                    first: a.name.clone(),
                    second: b.name.clone(),
                    first_values,
                    second_values,
                });
            }
        }
    }
    out
}

/// The swap suggestions the counted pairs make.
pub(crate) fn swaps(samples: &[ColumnSample], counted: &[PairCounts]) -> Vec<Found> {
    let queries = swap_queries(samples);
    counted
        .iter()
        .filter(|c| {
            queries
                .iter()
                .any(|q| q.first == c.first && q.second == c.second)
        })
        .map(|c| {
            let pairs: Vec<SwappedPair> = c
                .pairs
                .iter()
                .map(|((first, second), rows)| SwappedPair {
                    first: first.clone(),
                    second: second.clone(),
                    rows: *rows,
                })
                .collect();
            let rows: u64 = pairs.iter().map(|p| p.rows).sum();
            (
                SuggestionKind::Swap,
                Fix::Swap {
                    first: c.first.clone(),
                    second: c.second.clone(),
                    pairs,
                },
                0.9,
                format!(
                    "{rows} row(s) hold in `{}` a value that is frequent in `{}` and rare in its own column, and the other way round",
                    c.first, c.second
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corrections::{suggest, text_sample};

    #[test]
    fn a_row_with_each_others_values_is_a_swap() {
        let samples = [
            text_sample("city", &[("Berlin", 30), ("Paris", 20), ("Germany", 1)]),
            text_sample("country", &[("Germany", 30), ("France", 20), ("Berlin", 1)]),
        ];
        let queries = swap_queries(&samples);
        assert_eq!(
            queries,
            [SwapQuery {
                first: "city".into(),
                second: "country".into(),
                first_values: vec!["Germany".into()],
                second_values: vec!["Berlin".into()],
            }]
        );
        let counted = [PairCounts {
            first: "city".into(),
            second: "country".into(),
            pairs: vec![(("Germany".into(), "Berlin".into()), 1)],
        }];
        let found = suggest("geo.places", &samples, &counted);
        assert_eq!(found.len(), 1, "no typo on top of the swap: {found:#?}");
        assert_eq!(found[0].kind, SuggestionKind::Swap);
        assert_eq!(
            found[0].fix.example(),
            (
                "Germany | Berlin".to_string(),
                "Berlin | Germany".to_string()
            )
        );
    }

    #[test]
    fn columns_sharing_their_values_are_no_swap() {
        // Origin and destination hold the same cities: none is out of place.
        let samples = [
            text_sample("origin", &[("Berlin", 30), ("Paris", 20)]),
            text_sample("destination", &[("Paris", 30), ("Berlin", 20)]),
        ];
        assert!(swap_queries(&samples).is_empty());
    }
}
