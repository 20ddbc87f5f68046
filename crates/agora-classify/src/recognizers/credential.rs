//! Secrets: the token shapes of well-known services, and high-entropy strings that are neither
//! hex digests nor UUIDs (those identify things; they do not open them).

/// Prefixes of well-known secret formats (cloud keys, code-hosting tokens, payment keys, chat
/// bot tokens, private keys, JSON Web Tokens).
const KNOWN_PREFIXES: &[&str] = &[
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "AIza",
    "-----BEGIN",
    "SG.",
    "npm_",
    "hf_",
];

/// A value in the form of a known secret.
pub fn known_secret_shape(value: &str) -> bool {
    let v = value.trim();
    v.len() >= 16 && (KNOWN_PREFIXES.iter().any(|p| v.starts_with(p)) || jwt(v))
}

fn jwt(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && v.starts_with("eyJ")
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Shannon entropy in bits per character.
pub fn entropy(v: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in v.bytes() {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / f64::from(n);
            -p * p.log2()
        })
        .sum()
}

/// A lowercase or uppercase hex string of a digest's length (MD5, SHA-1, SHA-256, SHA-512).
pub fn hex_digest(value: &str) -> bool {
    let v = value.trim();
    matches!(v.len(), 32 | 40 | 64 | 128) && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `8-4-4-4-12` hex digits.
pub fn uuid(value: &str) -> bool {
    let v = value.trim();
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A password or token: no spaces, 8+ characters of at least three character classes with
/// high entropy, or 20+ characters of very high entropy; not a digest, UUID or plain word.
pub fn high_entropy_secret(value: &str) -> bool {
    let v = value.trim();
    if v.len() < 8 || v.len() > 512 || v.contains(' ') || hex_digest(v) || uuid(v) {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    // Runs like `0000` belong to codes and padded numbers (`Customer#000000042`), not secrets.
    let padded = v
        .as_bytes()
        .windows(4)
        .any(|w| w.iter().all(|b| *b == w[0]));
    let h = entropy(v);
    !padded && ((classes >= 3 && h >= 3.0) || (v.len() >= 20 && classes >= 2 && h >= 4.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_decoys() {
        assert!(known_secret_shape("AKIAIOSFODNN7EXAMPLE"));
        assert!(known_secret_shape(
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
        ));
        assert!(known_secret_shape(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWhlcmU"
        ));
        assert!(high_entropy_secret("x7#Qp!9zLm2&"));
        assert!(!high_entropy_secret("d41d8cd98f00b204e9800998ecf8427e")); // MD5
        assert!(!high_entropy_secret("123e4567-e89b-12d3-a456-426614174000")); // UUID
        assert!(!high_entropy_secret("password")); // one class
        assert!(!high_entropy_secret("Customer#000000042")); // a padded code
        assert!(hex_digest("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
        assert!(uuid("123e4567-e89b-12d3-a456-426614174000"));
    }
}
