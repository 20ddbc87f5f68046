//! Coordinates: a latitude or longitude alone, or a `lat, lon` pair.

/// A decimal number with at least 4 decimals (coordinates are precise to about 10 m; prices,
/// scores and measurements rarely are), and its value.
fn precise_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    let (_, decimals) = s.split_once('.')?;
    if decimals.len() < 4 || !decimals.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A precise decimal within [-90, 90].
pub fn latitude(value: &str) -> bool {
    precise_decimal(value).is_some_and(|v| (-90.0..=90.0).contains(&v))
}

/// A precise decimal within [-180, 180].
pub fn longitude(value: &str) -> bool {
    precise_decimal(value).is_some_and(|v| (-180.0..=180.0).contains(&v))
}

/// `lat, lon` (or `lat lon`, or in parentheses / `POINT(lon lat)`).
pub fn coordinate_pair(value: &str) -> bool {
    let v = value
        .trim()
        .trim_start_matches("POINT")
        .trim_matches(|c| c == '(' || c == ')' || c == ' ');
    let parts: Vec<&str> = v.split([',', ' ', ';']).filter(|p| !p.is_empty()).collect();
    let [a, b] = parts.as_slice() else {
        return false;
    };
    (latitude(a) && longitude(b)) || (longitude(a) && latitude(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates() {
        assert!(latitude("48.858370"));
        assert!(!latitude("148.858370"));
        assert!(longitude("-122.4194"));
        assert!(!longitude("12.5")); // a price, not a coordinate
        assert!(!latitude("36.125")); // a score
        assert!(coordinate_pair("48.8583, 2.2945"));
        assert!(coordinate_pair("POINT(2.2945 48.8583)"));
        assert!(!coordinate_pair("1.2.3.4"));
    }
}
