//! Check-digit schemes used by cards and national identifiers.

/// The Luhn (mod 10) check over a string of ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// ISO 7064 mod 97-10 over letters (A=10 … Z=35) and digits, as IBANs use it.
pub fn mod97(chars: impl Iterator<Item = char>) -> Option<u32> {
    let mut rem = 0u32;
    for c in chars {
        let v = c.to_digit(36)?;
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    Some(rem)
}

/// ISO 7064 mod 11,10 (the German tax identifier's check digit).
pub fn mod11_10(digits: &[u8]) -> bool {
    let Some((check, body)) = digits.split_last() else {
        return false;
    };
    let mut product = 10u32;
    for d in body {
        let mut sum = (u32::from(d - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let expected = (11 - product) % 10;
    u32::from(check - b'0') == expected
}

/// Digits of `s` with the separators people type (space, `-`, `.`, `/`) removed; `None` if
/// anything else is there.
pub fn digits_only(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => out.push(b),
            b' ' | b'-' | b'.' | b'/' => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert!(luhn(b"4242424242424242"));
        assert!(!luhn(b"4242424242424241"));
        // An IBAN moves its first four characters to the end before the check.
        assert_eq!(mod97("WEST12345698765432GB82".chars()), Some(1));
        assert!(mod11_10(b"86095742719"));
        assert!(!mod11_10(b"86095742718"));
    }

    proptest! {
        /// Changing one digit always breaks the Luhn check (it detects every single error).
        #[test]
        fn luhn_catches_single_digit_errors(body in proptest::collection::vec(0u8..10, 12..18), pos in 0usize..100, delta in 1u8..10) {
            let mut digits: Vec<u8> = body.iter().map(|d| b'0' + d).collect();
            // Append the check digit that makes it valid.
            let check = (0..10u8).find(|c| { let mut v = digits.clone(); v.push(b'0' + c); luhn(&v) }).unwrap();
            digits.push(b'0' + check);
            prop_assert!(luhn(&digits));
            let i = pos % digits.len();
            digits[i] = b'0' + ((digits[i] - b'0' + delta) % 10);
            prop_assert!(!luhn(&digits));
        }
    }
}
