//! Email addresses and phone numbers.

use phonenumber::country::Id;

/// An address `local@domain.tld`: one `@`, a plausible local part, a dotted domain whose labels
/// are letters, digits and inner hyphens, and an alphabetic top-level domain.
pub fn email(value: &str) -> bool {
    let v = value.trim();
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || !local
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-'".contains(c))
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// The countries whose national formats are tried for numbers written without `+`: the
/// locales the corpus covers, in a fixed order.
const REGIONS: [Id; 11] = [
    Id::US,
    Id::GB,
    Id::FR,
    Id::DE,
    Id::ES,
    Id::IT,
    Id::NL,
    Id::BR,
    Id::PL,
    Id::SE,
    Id::IN,
];

/// The cheap part of the phone check: only the characters people write numbers with, 7–15
/// digits, not an amount, a date or an IP address. Returns the number without an extension.
fn phone_candidate(value: &str) -> Option<&str> {
    let v = value.trim();
    let main = v
        .split(['x', 'X'])
        .next()
        .unwrap_or(v)
        .trim_end_matches([' ', 'e', 't']);
    let digits = main.bytes().filter(u8::is_ascii_digit).count();
    // A number with one decimal point is an amount (`173665.47`), not a number written with
    // dots (`06.27.63.17.06`).
    let amount = main.matches('.').count() == 1 && main.parse::<f64>().is_ok();
    let plausible = (7..=15).contains(&digits)
        && !amount
        && super::temporal::date(main).is_none()
        && !super::network::ip_address(main)
        && main
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().//".contains(c));
    plausible.then_some(main)
}

/// Whether `main` is valid by libphonenumber's metadata: in international form, or in the
/// national form of `first` or else of one of [`REGIONS`]; returns the region that matched.
fn valid_phone(main: &str, first: Option<Id>) -> Option<Option<Id>> {
    if main.starts_with('+') || main.starts_with("00") {
        let international = main.replacen("00", "+", usize::from(main.starts_with("00")));
        return phonenumber::parse(None, &international)
            .is_ok_and(|n| phonenumber::is_valid(&n))
            .then_some(None);
    }
    first
        .into_iter()
        .chain(REGIONS.into_iter().filter(|r| Some(*r) != first))
        .find(|r| phonenumber::parse(Some(*r), main).is_ok_and(|n| phonenumber::is_valid(&n)))
        .map(Some)
}

/// A phone number: plausible characters and digit count, and valid for its country by
/// libphonenumber's metadata (international form, or the national form of one of
/// [`REGIONS`]). Whether the column is phone numbers, not order ids, is the model's question.
pub fn phone_number(value: &str) -> bool {
    phone_candidate(value).is_some_and(|main| valid_phone(main, None).is_some())
}

/// Phone checks over one column. libphonenumber's checks are the classifier's most expensive
/// (each region's patterns are compiled regular expressions in a small cache), so the checker
/// tries the region that matched last first — a column usually holds one country's numbers —
/// and stops consulting the metadata once [`PhoneChecker::GIVE_UP_AFTER`] plausible values in
/// a row were not phone numbers.
#[derive(Debug, Default)]
pub struct PhoneChecker {
    last_region: Option<Id>,
    plausible: usize,
    hits: usize,
}

impl PhoneChecker {
    pub const GIVE_UP_AFTER: usize = 40;

    pub fn check(&mut self, value: &str) -> bool {
        let Some(main) = phone_candidate(value) else {
            return false;
        };
        self.plausible += 1;
        if self.hits == 0 && self.plausible > Self::GIVE_UP_AFTER {
            return false;
        }
        match valid_phone(main, self.last_region) {
            Some(region) => {
                self.hits += 1;
                if region.is_some() {
                    self.last_region = region;
                }
                true
            }
            None => false,
        }
    }
}

/// Whether a phone-like value carries the formatting people give phone numbers (a `+`,
/// parentheses, or digit groups) rather than being one bare run of digits like an id.
pub fn formatted_like_phone(value: &str) -> bool {
    let v = value.trim();
    v.starts_with('+') || v.contains('(') || v.contains(' ') || v.contains('-') || v.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("ann.lee+news@example.co.uk"));
        assert!(email("jürgen@beispiel.de"));
        assert!(!email("ann@localhost"));
        assert!(!email("@example.com"));
        assert!(!email("true"));
        assert!(!email("a@b@c.com"));
    }

    #[test]
    fn phones_across_locales() {
        for p in [
            "+44 20 7946 0958",
            "0161 496 0631",
            "06 27 63 17 06",
            "+49(0)7066 907439",
            "+34 825 706 690",
            "(202) 555-0143",
            "+31(0)317-066907",
        ] {
            assert!(phone_number(p), "{p}");
        }
        assert!(!phone_number("1.2.3.4"));
        assert!(!phone_number("173665.47"));
        assert!(!phone_number("12345"));
        assert!(!phone_number("call me"));
    }
}
