//! Sensitive-data classification of columns.
//!
//! For each column the classifier looks at a sample of values (a few thousand are enough; see
//! [`SAMPLE_SIZE`]) and the column's name, and decides a [`Category`] with a confidence and the
//! evidence behind it. Three kinds of signal feed one small trained model:
//!
//! - **validated recognisers** ([`recognizers`]): Luhn and issuer prefixes for cards, ISO 13616
//!   mod 97 for IBANs, the check digits of national identifiers (US, UK, FR, DE, IT, NL, BR, PL,
//!   SE, ES), IP parsing, libphonenumber's metadata for phones, date forms and ages, coordinate
//!   ranges, token shapes and entropy for credentials — and the decoys that resemble them
//!   (version strings, hex digests, UUIDs, timestamps, company markers);
//! - **column-name context** in several languages ([`context`]);
//! - **a multinomial logistic regression** over those shares and statistics ([`model`]),
//!   trained on the labelled corpus under `bench/classify/corpus` by `agora-bench-classify
//!   train`; its weights ship as `model/weights.json`. Names and postal addresses have no
//!   checksum: the model is what tells them from cities and companies.
//!
//! The crate is deliberately light (no Arrow, no async): the edge agent reuses it.
//!
//! ```
//! let c = agora_classify::Classifier::embedded();
//! let result = c.classify("contact", &["ann@example.org", "bo.lee@mail.example.com"]);
//! assert_eq!(result.category, agora_model::Category::Email);
//! ```

pub mod context;
pub mod corroboration;
pub mod features;
pub mod model;
pub mod recognizers;

use agora_model::{Category, Sensitivity};
use serde::{Deserialize, Serialize};

use crate::corroboration::{ColumnEvidence, RuledOut, establish, rule_out};
use crate::features::{DETECTORS, column_features};
use crate::model::Weights;

/// How many values of a column are enough to classify it.
pub const SAMPLE_SIZE: usize = 2_000;

/// What a column's values are typed as where they come from. A typed column can only hold some
/// categories — an amount is never a phone number, a date column only a birth date — so the
/// classifier only chooses among those; text (CSV, JSON strings) can hold any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Integer,
    /// Floating-point and decimal numbers.
    Decimal,
    Date,
    Timestamp,
    Boolean,
}

impl ValueKind {
    /// Whether values of this kind can be of `category`.
    pub fn admits(self, category: Category) -> bool {
        use Category as C;
        match self {
            ValueKind::Text => true,
            // Identifiers, card and phone numbers stored as integers lose nothing but leading
            // zeros.
            ValueKind::Integer => matches!(
                category,
                C::NationalId | C::PaymentCard | C::PhoneNumber | C::None
            ),
            ValueKind::Decimal => matches!(category, C::Geolocation | C::None),
            ValueKind::Date => matches!(category, C::DateOfBirth | C::None),
            ValueKind::Timestamp | ValueKind::Boolean => category == C::None,
        }
    }
}

/// A detector's share of the sampled values, or the column name's hint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub detector: String,
    /// The share of non-empty sampled values it accepted (1.0 for a name hint).
    pub share: f64,
}

/// The decision for one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub column: String,
    pub category: Category,
    pub sensitivity: Sensitivity,
    /// The model's probability for the category.
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    /// The categories the model proposed before this one that the values did not bear out,
    /// each with the reason ([`corroboration`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ruled_out: Vec<RuledOut>,
}

/// The classifier with its trained weights.
#[derive(Debug, Clone)]
pub struct Classifier {
    weights: Weights,
    now_year: i32,
}

/// The weights trained on the repository's corpus.
const EMBEDDED_WEIGHTS: &str = include_str!("../model/weights.json");

impl Classifier {
    /// The classifier with the weights shipped in the crate.
    pub fn embedded() -> Classifier {
        let weights: Weights = serde_json::from_str(EMBEDDED_WEIGHTS)
            .expect("INVARIANT: model/weights.json is checked by the crate's tests");
        Classifier::with_weights(weights)
            .expect("INVARIANT: model/weights.json matches the features (checked by tests)")
    }

    /// A classifier with other weights (training, evaluation), checked against the features.
    pub fn with_weights(weights: Weights) -> Result<Classifier, String> {
        weights.check()?;
        Ok(Classifier {
            weights,
            now_year: current_year(),
        })
    }

    /// Classifies a column of text from its name and a sample of its values (empty values
    /// ignored). A column without values is `none`, with no confidence: a name alone decides
    /// nothing.
    pub fn classify(&self, column: &str, values: &[&str]) -> Classification {
        self.classify_typed(column, values, ValueKind::Text)
    }

    /// Classifies a column whose values are of `kind` (read as text in `values`): only the
    /// categories the kind admits compete.
    pub fn classify_typed(&self, column: &str, values: &[&str], kind: ValueKind) -> Classification {
        if values.iter().all(|v| v.trim().is_empty()) {
            return Classification {
                column: column.to_string(),
                category: Category::None,
                sensitivity: Sensitivity::Public,
                confidence: 0.0,
                evidence: Vec::new(),
                ruled_out: Vec::new(),
            };
        }
        let features = column_features(column, values, self.now_year);
        let name = context::ColumnName::new(column);
        let values_show = ColumnEvidence::of(values, self.now_year);
        let mut probabilities = self.weights.probabilities(&features);
        for (p, category) in probabilities.iter_mut().zip(Category::ALL) {
            if !kind.admits(category) {
                *p = 0.0;
            }
        }
        // The model's choice, and while the values do not bear it out, its next one.
        let mut ruled_out = Vec::new();
        let (mut category, mut confidence) = loop {
            let total: f64 = probabilities.iter().sum();
            let (best, p) = probabilities.iter().copied().enumerate().fold(
                (Category::ALL.len() - 1, f64::MIN),
                |acc, (i, p)| {
                    if p > acc.1 { (i, p) } else { acc }
                },
            );
            match rule_out(Category::ALL[best], &name, &values_show) {
                Some(rule) => {
                    ruled_out.push(rule);
                    probabilities[best] = 0.0;
                }
                None => break (Category::ALL[best], p / total),
            }
        };
        let mut evidence: Vec<Evidence> = DETECTORS
            .iter()
            .zip(&features)
            .filter(|(_, share)| **share >= 0.05)
            .map(|(d, share)| Evidence::new(d, *share))
            .collect();
        evidence.sort_by(|a, b| b.share.total_cmp(&a.share));
        evidence.truncate(4);
        // What tells names of people from names of things, where that was the question.
        if category == Category::PersonName
            || ruled_out.iter().any(|r| r.category == Category::PersonName)
        {
            evidence.extend(
                values_show
                    .shown()
                    .into_iter()
                    .map(|(d, share)| Evidence::new(d, share)),
            );
        }
        if category == Category::None
            && let Some((established, detector, share)) = establish(&name, &values_show, kind)
        {
            category = established;
            // Not the model's probability: the share of values within the category's bounds.
            confidence = share;
            evidence.push(Evidence::new(detector, share));
        }
        if category != Category::None && name.hints(category) {
            evidence.push(Evidence::new(&format!("column_name_{category}"), 1.0));
        }
        Classification {
            column: column.to_string(),
            category,
            sensitivity: category.default_sensitivity(),
            confidence: (confidence * 1000.0).round() / 1000.0,
            evidence,
            ruled_out,
        }
    }
}

impl Evidence {
    fn new(detector: &str, share: f64) -> Evidence {
        Evidence {
            detector: detector.to_string(),
            share: (share * 1000.0).round() / 1000.0,
        }
    }
}

/// The current calendar year (UTC), from the system clock: close enough for ages in decades.
fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + (secs / 31_556_952) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_columns_only_take_the_categories_their_type_admits() {
        let c = Classifier::embedded();
        let amounts = [
            "173665.47",
            "46929.18",
            "193846.25",
            "32151.78",
            "144659.20",
        ];
        assert_eq!(
            c.classify_typed("o_totalprice", &amounts, ValueKind::Decimal)
                .category,
            Category::None
        );
        let dates = ["1980-04-03", "1975-12-30", "2001-01-01", "1966-06-12"];
        assert_eq!(
            c.classify_typed("dob", &dates, ValueKind::Date).category,
            Category::DateOfBirth
        );
        assert_eq!(
            c.classify_typed("email", &["true", "false"], ValueKind::Boolean)
                .category,
            Category::None
        );
    }

    #[test]
    fn the_shipped_weights_match_the_features() {
        let weights: Weights = serde_json::from_str(EMBEDDED_WEIGHTS).unwrap();
        weights.check().unwrap();
    }
}
