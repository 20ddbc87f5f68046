//! A column as numbers: what share of its sampled values each recogniser accepts, a few value
//! statistics, and its name's context. The model weighs these; the shares are also the
//! evidence a classification reports.

use agora_model::Category;

use crate::context::ColumnName;
use crate::recognizers::{
    contact, credential, financial, geo, national_id, network, temporal, text_shape,
};

/// The detectors, in feature order; their shares are the first features.
pub const DETECTORS: [&str; 28] = [
    "email",
    "phone_number",
    "phone_formatted",
    "payment_card_luhn",
    "iban_mod97",
    "national_id_checksum",
    "ip_address",
    "version_string",
    "date",
    "timestamp",
    "adult_or_child_birth_range",
    "latitude",
    "longitude",
    "coordinate_pair",
    "known_secret_shape",
    "high_entropy",
    "hex_digest",
    "uuid",
    "name_shape",
    "known_name",
    "known_place",
    "single_word",
    "company_marker",
    "street_word",
    "postcode",
    "house_number",
    "plate_like",
    "boolean",
];

/// Value statistics after the detectors.
const STATS: [&str; 9] = [
    "all_digits",
    "numeric",
    "has_space",
    "mean_length",
    "distinct_ratio",
    "alpha_chars",
    "digit_chars",
    "mean_age",
    "year_spread",
];

/// Name context after the statistics: one per category but `none`, then two modifiers.
const CONTEXT_EXTRA: [&str; 2] = ["name_about", "name_place_or_org"];

/// The number of features, the constant bias last.
pub const FEATURES: usize =
    DETECTORS.len() + STATS.len() + (Category::ALL.len() - 1) + CONTEXT_EXTRA.len() + 1;

/// The name of every feature, in order (for the weights file and for reading it).
pub fn feature_names() -> Vec<String> {
    let mut names: Vec<String> = DETECTORS.iter().map(|d| d.to_string()).collect();
    names.extend(STATS.iter().map(|s| s.to_string()));
    names.extend(
        Category::ALL
            .iter()
            .filter(|c| **c != Category::None)
            .map(|c| format!("name_{c}")),
    );
    names.extend(CONTEXT_EXTRA.iter().map(|s| s.to_string()));
    names.push("bias".to_string());
    names
}

/// The features of one column; `now_year` anchors ages (birth dates are decades old).
pub fn column_features(name: &str, values: &[&str], now_year: i32) -> Vec<f64> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let n = values.len().max(1) as f64;
    let mut hits = [0usize; DETECTORS.len()];
    let (mut digits_only, mut numeric, mut spaced) = (0usize, 0usize, 0usize);
    let (mut length, mut alpha, mut digit, mut chars) = (0usize, 0usize, 0usize, 0usize);
    let (mut age_sum, mut dated) = (0f64, 0usize);
    let mut years: Vec<f64> = Vec::new();
    let mut phones = contact::PhoneChecker::default();
    for v in &values {
        let phone = phones.check(v);
        let date = temporal::date(v);
        let flags = [
            contact::email(v),
            phone,
            phone && contact::formatted_like_phone(v),
            financial::payment_card(v),
            financial::iban(v),
            national_id::national_id(v).is_some(),
            network::ip_address(v),
            network::version_like(v),
            date.is_some_and(|d| !d.timed),
            date.is_some_and(|d| d.timed),
            date.is_some_and(|d| !d.timed && (12..=110).contains(&(now_year - d.year))),
            geo::latitude(v),
            geo::longitude(v),
            geo::coordinate_pair(v),
            credential::known_secret_shape(v),
            credential::high_entropy_secret(v),
            credential::hex_digest(v),
            credential::uuid(v),
            text_shape::name_shape(v),
            text_shape::known_name(v),
            text_shape::known_place(v),
            text_shape::single_capitalised_word(v),
            text_shape::company_marker(v),
            text_shape::street_word(v),
            text_shape::postcode(v),
            text_shape::has_house_number(v),
            text_shape::plate_like(v),
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "t" | "f" | "y" | "n" | "0" | "1"
            ),
        ];
        for (h, f) in hits.iter_mut().zip(flags) {
            *h += usize::from(f);
        }
        if let Some(d) = date {
            age_sum += f64::from(now_year - d.year);
            dated += 1;
            years.push(f64::from(d.year));
        }
        digits_only += usize::from(v.bytes().all(|b| b.is_ascii_digit()));
        numeric += usize::from(v.parse::<f64>().is_ok());
        spaced += usize::from(v.contains(' '));
        length += v.chars().count();
        for c in v.chars() {
            chars += 1;
            alpha += usize::from(c.is_alphabetic());
            digit += usize::from(c.is_ascii_digit());
        }
    }
    let mut distinct: Vec<&str> = values.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let chars = chars.max(1) as f64;
    let mut features: Vec<f64> = hits.iter().map(|h| *h as f64 / n).collect();
    features.extend([
        digits_only as f64 / n,
        numeric as f64 / n,
        spaced as f64 / n,
        (length as f64 / n / 32.0).min(2.0),
        distinct.len() as f64 / n,
        alpha as f64 / chars,
        digit as f64 / chars,
        if dated == 0 {
            0.0
        } else {
            (age_sum / dated as f64 / 100.0).clamp(0.0, 1.5)
        },
        // Birth dates spread over decades; the dates of events (orders, shipments) over a few
        // years.
        year_spread(&years),
    ]);
    let column = ColumnName::new(name);
    features.extend(
        Category::ALL
            .iter()
            .filter(|c| **c != Category::None)
            .map(|c| f64::from(u8::from(column.hints(*c)))),
    );
    features.push(f64::from(u8::from(column.about())));
    features.push(f64::from(u8::from(column.place_or_org())));
    features.push(1.0);
    debug_assert_eq!(features.len(), FEATURES);
    features
}

/// The standard deviation of the years, in decades, at most 4.
fn year_spread(years: &[f64]) -> f64 {
    if years.len() < 2 {
        return 0.0;
    }
    let mean = years.iter().sum::<f64>() / years.len() as f64;
    let variance = years.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / years.len() as f64;
    (variance.sqrt() / 10.0).min(4.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a column holds — any Unicode, any length — features are computed without
        /// panicking, and every share stays within [0, 1].
        #[test]
        fn any_values_give_bounded_features(name in ".{0,20}", values in proptest::collection::vec(".{0,30}", 0..20)) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let f = column_features(&name, &refs, 2026);
            prop_assert_eq!(f.len(), FEATURES);
            for share in &f[..DETECTORS.len()] {
                prop_assert!((0.0..=1.0).contains(share));
            }
        }

        /// Values built from the characters identifiers and addresses use, mixed with accents,
        /// exercise the recognisers' slicing paths.
        #[test]
        fn identifier_like_values_never_panic(values in proptest::collection::vec("[0-9A-Za-zéèüß .,/+-]{0,20}", 1..20)) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            column_features("col", &refs, 2026);
        }
    }
}
