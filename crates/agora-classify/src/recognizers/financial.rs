//! Payment cards (Luhn and issuer prefixes) and IBANs (ISO 13616: per-country length, mod 97).

use super::checksums::{digits_only, luhn, mod97};

/// A card number: 13–19 digits (spaces or dashes allowed), a known issuer prefix, Luhn-valid.
pub fn payment_card(value: &str) -> bool {
    let Some(d) = digits_only(value) else {
        return false;
    };
    if !(13..=19).contains(&d.len()) || !luhn(&d) {
        return false;
    }
    let prefix = |n: usize| -> u32 {
        std::str::from_utf8(&d[..n])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    match d[0] {
        b'4' => true,                                             // Visa
        b'5' => (51..=55).contains(&prefix(2)),                   // Mastercard
        b'2' => (2221..=2720).contains(&prefix(4)),               // Mastercard 2-series
        b'3' => matches!(prefix(2), 34 | 37 | 35 | 36 | 38 | 30), // Amex, JCB, Diners
        b'6' => {
            prefix(4) == 6011
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 62
        } // Discover, UnionPay
        _ => false,
    }
}

/// IBAN lengths per country (ISO 13616 registry, the SEPA countries and common others).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// An IBAN: country code, two check digits, the country's length, and mod 97 = 1.
pub fn iban(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| *c != ' ').collect();
    if compact.len() < 15 || !compact.is_ascii() {
        return false;
    }
    let upper = compact.to_ascii_uppercase();
    let (country, rest) = upper.split_at(2);
    let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country) else {
        return false;
    };
    if upper.len() != *len
        || !rest[..2].bytes().all(|b| b.is_ascii_digit())
        || !upper.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    mod97(upper[4..].chars().chain(upper[..4].chars())) == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_need_luhn_and_an_issuer() {
        assert!(payment_card("4242 4242 4242 4242"));
        assert!(payment_card("5555-5555-5555-4444"));
        assert!(payment_card("378282246310005"));
        assert!(!payment_card("4242424242424241")); // fails Luhn
        assert!(!payment_card("1234567812345670")); // Luhn-valid, no issuer starts with 1
        assert!(!payment_card("4242"));
    }

    #[test]
    fn ibans_need_the_country_length_and_mod_97() {
        assert!(iban("GB82 WEST 1234 5698 7654 32"));
        assert!(iban("DE89370400440532013000"));
        assert!(iban("NL91ABNA0417164300"));
        assert!(!iban("GB82WEST12345698765433"));
        assert!(!iban("DE8937040044053201300")); // one short
        assert!(!iban("XX82WEST12345698765432"));
    }
}
