//! National identifiers, each checked by its own rules and check digits where it has them.

use super::checksums::{digits_only, luhn, mod11_10};

/// A scheme's validity check.
type Check = fn(&str) -> bool;

/// The scheme `value` is a valid identifier of, if any.
pub fn national_id(value: &str) -> Option<&'static str> {
    let v = value.trim();
    let checks: [(&'static str, Check); 11] = [
        ("us_ssn", us_ssn),
        ("uk_nino", uk_nino),
        ("fr_nir", fr_nir),
        ("de_tax_id", de_tax_id),
        ("it_codice_fiscale", it_codice_fiscale),
        ("nl_bsn", nl_bsn),
        ("br_cpf", br_cpf),
        ("pl_pesel", pl_pesel),
        ("se_personnummer", se_personnummer),
        ("es_dni", es_dni),
        ("es_nie", es_nie),
    ];
    checks
        .into_iter()
        .find(|(_, check)| check(v))
        .map(|(n, _)| n)
}

fn number(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

/// `AAA-GG-SSSS`: area not 000, 666 or 9xx; group not 00; serial not 0000. Only the dashed
/// form: nine bare digits are as likely an order number (there is no check digit).
pub fn us_ssn(v: &str) -> bool {
    let shaped = v.len() == 11 && v.as_bytes()[3] == b'-' && v.as_bytes()[6] == b'-';
    let Some(d) = digits_only(v).filter(|d| d.len() == 9 && shaped) else {
        return false;
    };
    let (area, group, serial) = (number(&d[..3]), number(&d[3..5]), number(&d[5..]));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// UK National Insurance number: two letters (with the HMRC exclusions), six digits, A–D.
pub fn uk_nino(v: &str) -> bool {
    let c: Vec<u8> = v
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if c.len() != 9 {
        return false;
    }
    let (p1, p2) = (c[0], c[1]);
    let letter_ok = |b: u8, bad: &[u8]| b.is_ascii_uppercase() && !bad.contains(&b);
    letter_ok(p1, b"DFIQUV")
        && letter_ok(p2, b"DFIOQUV")
        && !matches!(
            &c[..2],
            b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
        )
        && c[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&c[8])
}

/// French NIR: 13 digits (Corsica: 2A/2B) and a key = 97 − (number mod 97).
pub fn fr_nir(v: &str) -> bool {
    let c: String = v.chars().filter(|c| *c != ' ').collect();
    if c.len() != 15 || !c.is_ascii() || !matches!(c.as_bytes()[0], b'1' | b'2') {
        return false;
    }
    let body = c[..13].replace("2A", "19").replace("2B", "18");
    let (Ok(n), Ok(key)) = (body.parse::<u64>(), c[13..].parse::<u64>()) else {
        return false;
    };
    let month = &c[3..5];
    month
        .parse::<u32>()
        .is_ok_and(|m| (1..=12).contains(&m) || m >= 20)
        && key == 97 - n % 97
}

/// German tax identifier (Steuer-ID): 11 digits, no leading 0, ISO 7064 mod 11,10 check.
pub fn de_tax_id(v: &str) -> bool {
    let Some(d) = digits_only(v) else {
        return false;
    };
    if d.len() != 11 || d[0] == b'0' {
        return false;
    }
    // In the first ten digits exactly one digit repeats (twice or three times).
    let mut counts = [0u8; 10];
    for b in &d[..10] {
        counts[usize::from(b - b'0')] += 1;
    }
    let repeated = counts.iter().filter(|c| **c > 1).count();
    repeated == 1 && counts.iter().all(|c| *c <= 3) && mod11_10(&d)
}

/// Italian codice fiscale: 16 characters, the last a check letter over odd/even tables.
pub fn it_codice_fiscale(v: &str) -> bool {
    const ODD: [u32; 36] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23, // A-Z
    ];
    let c = v.trim().to_ascii_uppercase();
    let b = c.as_bytes();
    if b.len() != 16 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    // Letters where the layout has letters (surname, name, month, check).
    let letters_at = [0, 1, 2, 3, 4, 5, 8, 11, 15];
    if !letters_at.iter().all(|i| b[*i].is_ascii_uppercase()) {
        return false;
    }
    let index = |ch: u8| -> usize {
        if ch.is_ascii_digit() {
            usize::from(ch - b'0')
        } else {
            usize::from(ch - b'A') + 10
        }
    };
    let mut sum = 0u32;
    for (i, ch) in b[..15].iter().enumerate() {
        if i % 2 == 0 {
            sum += ODD[index(*ch)];
        } else if ch.is_ascii_digit() {
            sum += u32::from(ch - b'0');
        } else {
            sum += u32::from(ch - b'A');
        }
    }
    b[15] == b'A' + (sum % 26) as u8
}

/// Dutch BSN: 9 digits passing the 11-test (weights 9…2, then −1).
pub fn nl_bsn(v: &str) -> bool {
    let Some(d) = digits_only(v) else {
        return false;
    };
    if d.len() != 9 || d.iter().all(|b| *b == b'0') {
        return false;
    }
    let sum: i32 = d[..8]
        .iter()
        .enumerate()
        .map(|(i, b)| (9 - i as i32) * i32::from(b - b'0'))
        .sum::<i32>()
        - i32::from(d[8] - b'0');
    sum % 11 == 0
}

/// Brazilian CPF: 11 digits, two mod-11 check digits, not all the same digit.
pub fn br_cpf(v: &str) -> bool {
    let Some(d) = digits_only(v) else {
        return false;
    };
    if d.len() != 11 || d.iter().all(|b| *b == d[0]) {
        return false;
    }
    let check = |n: usize| -> u8 {
        let sum: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, b)| (n as u32 + 1 - i as u32) * u32::from(b - b'0'))
            .sum();
        let r = (sum * 10) % 11;
        if r == 10 { 0 } else { r as u8 }
    };
    d[9] - b'0' == check(9) && d[10] - b'0' == check(10)
}

/// Polish PESEL: 11 digits, a valid birth date (month carries the century), weighted check.
pub fn pl_pesel(v: &str) -> bool {
    let Some(d) = digits_only(v) else {
        return false;
    };
    if d.len() != 11 || v.len() != 11 {
        return false;
    }
    let month = number(&d[2..4]) % 20;
    let day = number(&d[4..6]);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10]
        .iter()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    (10 - sum % 10) % 10 == u32::from(d[10] - b'0')
}

/// Swedish personnummer: `YYMMDD-XXXX` (or with the century, or `+` for the over-100s), a valid
/// date, Luhn over the 10 digits.
pub fn se_personnummer(v: &str) -> bool {
    if !v.is_ascii() {
        return false;
    }
    let Some(sep) = v.find(['-', '+']) else {
        return false;
    };
    let (date, rest) = (&v[..sep], &v[sep + 1..]);
    if !(date.len() == 6 || date.len() == 8) || rest.len() != 4 {
        return false;
    }
    let Some(d) = digits_only(&format!("{}{rest}", &date[date.len() - 6..])) else {
        return false;
    };
    let (month, day) = (number(&d[2..4]), number(&d[4..6]));
    // Day + 60 marks a co-ordination number.
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day)) && luhn(&d)
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI: 8 digits and the letter of their value mod 23.
pub fn es_dni(v: &str) -> bool {
    let c = v.trim().replace('-', "").to_ascii_uppercase();
    let b = c.as_bytes();
    b.len() == 9
        && b[..8].iter().all(u8::is_ascii_digit)
        && DNI_LETTERS[(number(&b[..8]) % 23) as usize] == b[8]
}

/// Spanish NIE: X, Y or Z (read as 0, 1, 2), 7 digits and the DNI letter.
pub fn es_nie(v: &str) -> bool {
    let c = v.trim().replace('-', "").to_ascii_uppercase();
    let b = c.as_bytes();
    if b.len() != 9 || !b[1..8].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let lead = match b[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        _ => return false,
    };
    DNI_LETTERS[((lead * 10_000_000 + number(&b[1..8])) % 23) as usize] == b[8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_identifiers_of_each_scheme() {
        for (v, scheme) in [
            ("138-73-1034", "us_ssn"),
            ("AB 12 34 56 C", "uk_nino"),
            ("172023417212152", "fr_nir"),
            ("86095742719", "de_tax_id"),
            ("BCCFRC15M25E852P", "it_codice_fiscale"),
            ("214035797", "nl_bsn"),
            ("807.491.632-40", "br_cpf"),
            ("77082414171", "pl_pesel"),
            ("961111-5826", "se_personnummer"),
            ("90404549J", "es_dni"),
            ("Z3295520Q", "es_nie"),
        ] {
            assert_eq!(national_id(v), Some(scheme), "{v}");
        }
    }

    #[test]
    fn near_misses_are_refused() {
        for v in [
            "666-12-3456",      // area 666
            "914-17-7763",      // area 9xx
            "ZZ 91 41 77 T",    // ZZ prefix
            "172023417212153",  // NIR key off by one
            "BCCFRC15M25E852Q", // wrong check letter
            "214035798",        // fails the 11-test
            "807.491.632-41",   // CPF check digit
            "111.111.111-11",   // repeated digit
            "961111-5827",      // Luhn
            "90404549K",        // DNI letter
            "1.2.3.4",
        ] {
            assert_eq!(national_id(v), None, "{v}");
        }
    }
}
