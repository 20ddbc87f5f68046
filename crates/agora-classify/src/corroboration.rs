//! Corroboration: the model proposes a category; it stands only when the column's values bear
//! it out, and a column's name that says what the column is counts against a category it does
//! not name.
//!
//! The model was trained on a generated corpus, whose person names, coordinates and birth
//! dates are drawn apart from the company names, measurements and event dates they resemble.
//! Real tables are not so kind (the real-data evaluation of `bench/classify/real_eval.py`
//! shows it): airports and colleges have name-shaped names, ages and times fit within ±90, and
//! any 20th-century date is a possible birth date. So, after the model:
//!
//! - **person names** are ruled out when a quarter of the distinct values name organisations
//!   or places (their words — `University`, `Airport`, `Inc.` — or the whole value in the
//!   gazetteer and in no name list), when the column is a handful of repeated values (a
//!   category: `White`, `Hispanic`), when a third of the values hold digits (`Mazda RX4`), or
//!   when most are written in lower case (`accountant`, `chevrolet chevelle malibu`);
//! - **phone numbers** and **national identifiers** are ruled out when most values are numbered
//!   by year (`2015-000006`: order and case numbers, which libphonenumber takes for valid
//!   numbers of some region);
//! - **coordinates** need a name that says coordinates (`lat`, `longitude`, `breitengrad`),
//!   values that are `lat, lon` pairs, or, under a placeholder name (`col_7`), the precise
//!   decimals of a position; with a coordinate name, numbers within the bounds of a latitude
//!   (±90) or a longitude (−180 to 360, as some sources count east) are coordinates of any
//!   precision (`27.5`);
//! - **birth dates** need a name that says birth (in the corpus's ten languages) or a
//!   placeholder name; with a birth name, dates of people aged 0 to 110 are birth dates, and
//!   so are years of such people (`birth_year`: `1967`), which identify as much as a date
//!   does in a small population.

use agora_model::Category;

use crate::ValueKind;
use crate::context::{Axis, ColumnName};
use crate::recognizers::{geo, temporal, text_shape};

/// What the values of one column show, beyond the model's features.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnEvidence {
    /// Distinct non-empty values looked at.
    pub distinct: usize,
    /// Non-empty values looked at.
    pub values: usize,
    /// Shares of the distinct values.
    pub organisation_or_place: f64,
    pub with_digits: f64,
    pub lower_case: f64,
    /// Shares of all the values.
    pub year_prefixed_codes: f64,
    pub coordinate_pairs: f64,
    pub latitude_range: f64,
    pub longitude_range: f64,
    pub birth_age: f64,
    /// Whole years of people aged 0 to 110 (`1967`).
    pub birth_year: f64,
}

/// Why a proposed category was ruled out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuledOut {
    pub category: Category,
    pub reason: String,
}

impl ColumnEvidence {
    /// The evidence of `values` (trimmed, empty ones skipped); `now_year` anchors ages.
    pub fn of(values: &[&str], now_year: i32) -> ColumnEvidence {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let mut distinct = values.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let share = |hits: usize, of: usize| {
            if of == 0 {
                0.0
            } else {
                hits as f64 / of as f64
            }
        };
        let count =
            |of: &[&str], test: &dyn Fn(&str) -> bool| of.iter().filter(|v| test(v)).count();
        let number = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite());
        ColumnEvidence {
            distinct: distinct.len(),
            values: values.len(),
            organisation_or_place: share(count(&distinct, &names_a_thing), distinct.len()),
            with_digits: share(
                count(&distinct, &|v| v.bytes().any(|b| b.is_ascii_digit())),
                distinct.len(),
            ),
            lower_case: share(
                count(&distinct, &|v| {
                    v.chars().any(char::is_alphabetic) && !v.chars().any(char::is_uppercase)
                }),
                distinct.len(),
            ),
            year_prefixed_codes: share(count(&values, &year_prefixed_code), values.len()),
            coordinate_pairs: share(count(&values, &geo::coordinate_pair), values.len()),
            latitude_range: share(
                count(&values, &|v| number(v).is_some_and(|x| x.abs() <= 90.0)),
                values.len(),
            ),
            longitude_range: share(
                count(&values, &|v| {
                    number(v).is_some_and(|x| (-180.0..=360.0).contains(&x))
                }),
                values.len(),
            ),
            birth_age: share(
                count(&values, &|v| {
                    temporal::date(v)
                        .is_some_and(|d| !d.timed && (0..=110).contains(&(now_year - d.year)))
                }),
                values.len(),
            ),
            birth_year: share(
                count(&values, &|v| {
                    v.len() == 4
                        && v.parse::<i32>()
                            .is_ok_and(|y| (0..=110).contains(&(now_year - y)))
                }),
                values.len(),
            ),
        }
    }

    /// The shares an owner is shown beside the model's (those of 5% or more).
    pub fn shown(&self) -> Vec<(&'static str, f64)> {
        [
            ("organisation_or_place", self.organisation_or_place),
            ("lower_case", self.lower_case),
            ("with_digits", self.with_digits),
        ]
        .into_iter()
        .filter(|(_, share)| *share >= 0.05)
        .collect()
    }
}

/// A year, one separator and one run of digits (`2015-000006`, `2023/0042`): the numbering of
/// orders, cases and invoices by year. Phone numbers have a trunk or area code in front, never a
/// year, and libphonenumber accepts some such codes as numbers of some region.
fn year_prefixed_code(value: &str) -> bool {
    let Some((year, number)) = value.split_once(['-', '/']) else {
        return false;
    };
    year.len() == 4
        && (year.starts_with("19") || year.starts_with("20"))
        && year.bytes().all(|b| b.is_ascii_digit())
        && number.len() >= 3
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a value names an organisation or a place: by a word of it, or as a whole in the
/// gazetteer.
fn names_a_thing(value: &str) -> bool {
    text_shape::organisation_or_place_word(value) || text_shape::known_place(value)
}

/// Why `category`, proposed for a column named `name` with this evidence, does not stand; none
/// if it does.
pub fn rule_out(
    category: Category,
    name: &ColumnName,
    evidence: &ColumnEvidence,
) -> Option<RuledOut> {
    let percent = |share: f64| format!("{:.0}%", share * 100.0);
    let reason = match category {
        Category::PersonName => {
            if evidence.organisation_or_place >= 0.25 {
                Some(format!(
                    "{} of the distinct values name organisations or places",
                    percent(evidence.organisation_or_place)
                ))
            } else if evidence.distinct <= 5 && evidence.values >= 2 * evidence.distinct {
                Some(format!(
                    "{} values repeat over {} rows: a category, not names",
                    evidence.distinct, evidence.values
                ))
            } else if evidence.with_digits >= 1.0 / 3.0 {
                Some(format!(
                    "{} of the distinct values hold digits",
                    percent(evidence.with_digits)
                ))
            } else if evidence.lower_case >= 0.8 {
                Some(format!(
                    "{} of the distinct values are in lower case",
                    percent(evidence.lower_case)
                ))
            } else {
                None
            }
        }
        Category::PhoneNumber | Category::NationalId => {
            (evidence.year_prefixed_codes >= 0.8).then(|| {
                format!(
                    "{} of the values are numbered by year (`2015-000006`): order or case numbers",
                    percent(evidence.year_prefixed_codes)
                )
            })
        }
        Category::Geolocation => (evidence.coordinate_pairs < 0.5
            && !name.names_coordinates()
            && !name.is_placeholder())
        .then(|| {
            "the column's name does not say coordinates, and its values are not `lat, lon` pairs"
                .to_string()
        }),
        Category::DateOfBirth => (!name.hints(Category::DateOfBirth) && !name.is_placeholder())
            .then(|| "the column's name does not say birth".to_string()),
        _ => None,
    };
    reason.map(|reason| RuledOut { category, reason })
}

/// A category the name and the values together establish where the model saw none: a column
/// named as a latitude or longitude whose values are all within its bounds, or one named as a
/// birth date whose dates (or whole years) are of living people's ages. Returned with the evidence's name and
/// the share of values that bear it out.
pub fn establish(
    name: &ColumnName,
    evidence: &ColumnEvidence,
    kind: ValueKind,
) -> Option<(Category, &'static str, f64)> {
    const ALL_BUT_A_FEW: f64 = 0.95;
    let numbers = matches!(kind, ValueKind::Text | ValueKind::Decimal);
    let coordinate = match name.coordinate_axis() {
        Some(Axis::Latitude) => evidence.latitude_range,
        Some(Axis::Longitude) => evidence.longitude_range,
        None => 0.0,
    };
    if numbers && coordinate >= ALL_BUT_A_FEW {
        return Some((Category::Geolocation, "coordinate_range", coordinate));
    }
    let dates = matches!(kind, ValueKind::Text | ValueKind::Date);
    if dates && name.hints(Category::DateOfBirth) && evidence.birth_age >= ALL_BUT_A_FEW {
        return Some((Category::DateOfBirth, "birth_age", evidence.birth_age));
    }
    let years = matches!(kind, ValueKind::Text | ValueKind::Integer);
    if years && name.hints(Category::DateOfBirth) && evidence.birth_year >= ALL_BUT_A_FEW {
        return Some((Category::DateOfBirth, "birth_year", evidence.birth_year));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(values: &[&str]) -> ColumnEvidence {
        ColumnEvidence::of(values, 2026)
    }

    #[test]
    fn names_of_things_are_not_person_names() {
        let colleges = evidence(&[
            "Abilene Christian University",
            "Adelphi University",
            "Adrian College",
            "Agnes Scott College",
        ]);
        let rule = rule_out(Category::PersonName, &ColumnName::new("name"), &colleges);
        assert!(
            rule.unwrap()
                .reason
                .contains("100% of the distinct values name")
        );
        let airlines = evidence(&["Endeavor Air Inc.", "American Airlines Inc.", "Envoy Air"]);
        assert!(rule_out(Category::PersonName, &ColumnName::new("name"), &airlines).is_some());
        let people = evidence(&[
            "Grace Hopper",
            "Ada Lovelace",
            "Jackson Pollock",
            "Florence Nightingale",
        ]);
        assert_eq!(
            rule_out(Category::PersonName, &ColumnName::new("name"), &people),
            None
        );
        let surnames = evidence(&["Jackson", "Florence", "Smith", "Heald"]);
        assert_eq!(
            rule_out(Category::PersonName, &ColumnName::new("judge"), &surnames),
            None,
            "a surname that is also a town leaves the value undecided"
        );
    }

    #[test]
    fn categories_models_and_lower_case_words_are_not_person_names() {
        let race: Vec<&str> = ["White", "Black", "Hispanic", "White"].repeat(10);
        assert!(
            rule_out(
                Category::PersonName,
                &ColumnName::new("race"),
                &evidence(&race)
            )
            .is_some()
        );
        let five_children = evidence(&["Susan", "Mark", "Sam", "Jose", "Khai"]);
        assert_eq!(
            rule_out(
                Category::PersonName,
                &ColumnName::new("name_child1"),
                &five_children
            ),
            None,
            "five names in five rows are names"
        );
        let cars = evidence(&[
            "Mazda RX4",
            "Mazda RX4 Wag",
            "Datsun 710",
            "Hornet Sportabout",
        ]);
        assert!(rule_out(Category::PersonName, &ColumnName::new("model"), &cars).is_some());
        let jobs = evidence(&["accountant", "pilot", "architect", "author", "Chemist"]);
        assert!(rule_out(Category::PersonName, &ColumnName::new("rownames"), &jobs).is_some());
    }

    #[test]
    fn numbers_by_year_are_not_phone_numbers() {
        let orders = evidence(&["2015-000006", "2015-000007", "2016/000123", "2019-004711"]);
        let rule = rule_out(Category::PhoneNumber, &ColumnName::new("order_id"), &orders);
        assert!(rule.unwrap().reason.contains("numbered by year"));
        let phones = evidence(&[
            "+49 30 1234567",
            "0207 1234567",
            "2015550123",
            "201-555-0123",
        ]);
        assert_eq!(
            rule_out(Category::PhoneNumber, &ColumnName::new("phone"), &phones),
            None
        );
    }

    #[test]
    fn coordinates_need_a_coordinate_name_or_a_placeholder() {
        let pairs = evidence(&["48.8583, 2.2945", "52.5200, 13.4050"]);
        assert_eq!(
            rule_out(Category::Geolocation, &ColumnName::new("spot"), &pairs),
            None
        );
        let ages = evidence(&["34", "56", "23", "71"]);
        let rule = rule_out(Category::Geolocation, &ColumnName::new("age"), &ages);
        assert!(rule.is_some());
        assert_eq!(
            rule_out(Category::Geolocation, &ColumnName::new("latitude"), &ages),
            None
        );
        assert_eq!(
            rule_out(Category::Geolocation, &ColumnName::new("col_7"), &ages),
            None
        );
        let one_decimal = evidence(&["27.5", "28.0", "-12.4", "89.9"]);
        assert_eq!(
            establish(&ColumnName::new("lat"), &one_decimal, ValueKind::Decimal),
            Some((Category::Geolocation, "coordinate_range", 1.0))
        );
        // Longitudes counted east from Greenwich to 360 (the Fiji quakes of R's datasets).
        let east = evidence(&["181.62", "165.77", "179.2"]);
        assert_eq!(
            establish(&ColumnName::new("long"), &east, ValueKind::Decimal),
            Some((Category::Geolocation, "coordinate_range", 1.0))
        );
        assert_eq!(
            establish(&ColumnName::new("lat"), &east, ValueKind::Decimal),
            None
        );
        assert_eq!(
            establish(
                &ColumnName::new("pct_change"),
                &one_decimal,
                ValueKind::Decimal
            ),
            None
        );
    }

    #[test]
    fn birth_dates_need_a_birth_name_or_a_placeholder() {
        let terms = evidence(&["1789-04-30", "1797-03-04", "1933-03-04", "1961-01-20"]);
        assert!(rule_out(Category::DateOfBirth, &ColumnName::new("start"), &terms).is_some());
        assert_eq!(
            rule_out(
                Category::DateOfBirth,
                &ColumnName::new("geburtsdatum"),
                &terms
            ),
            None
        );
        assert_eq!(
            rule_out(Category::DateOfBirth, &ColumnName::new("value_6"), &terms),
            None
        );
        let children = evidence(&["1998-11-26", "2000-01-29", "1996-06-22"]);
        assert_eq!(
            establish(&ColumnName::new("dob_child1"), &children, ValueKind::Date),
            Some((Category::DateOfBirth, "birth_age", 1.0))
        );
        assert_eq!(
            establish(&ColumnName::new("dob"), &terms, ValueKind::Date),
            None,
            "nobody is 200"
        );
    }

    #[test]
    fn birth_years_need_a_birth_name_and_living_peoples_years() {
        let years_of = |name: &str, values: &[&str], kind| {
            establish(&ColumnName::new(name), &evidence(values), kind)
        };
        let living = ["1967", "1984", "2001", "1939"];
        let birth = Some((Category::DateOfBirth, "birth_year", 1.0));
        assert_eq!(years_of("birth_year", &living, ValueKind::Integer), birth);
        assert_eq!(years_of("Birthyear", &living, ValueKind::Text), birth);
        // Years under another name, or under a birth name years nobody alive was born in, or
        // counts and rates of births: not birth years.
        assert_eq!(years_of("year", &living, ValueKind::Integer), None);
        let old = ["1789", "1797", "1809", "1817"];
        assert_eq!(years_of("birth_year", &old, ValueKind::Integer), None);
        let counts = ["3612", "1934", "2215", "905"];
        assert_eq!(years_of("births", &counts, ValueKind::Integer), None);
        assert_eq!(years_of("birth_year", &living, ValueKind::Decimal), None);
    }
}
