//! Dates: which values are calendar dates, which carry a time of day, and how old they are —
//! birth dates are date-only and decades old, event timestamps are recent and timed.

/// A calendar date found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// Whether a time of day follows the date (`2024-03-05 10:22:01`, `…T10:22Z`).
    pub timed: bool,
}

/// Reads `YYYY-MM-DD`, `YYYY/MM/DD`, `DD/MM/YYYY`, `MM/DD/YYYY`, `DD.MM.YYYY` and `DD-MM-YYYY`,
/// optionally followed by a time.
pub fn date(value: &str) -> Option<FoundDate> {
    let v = value.trim();
    let (date_part, rest) = match v.find([' ', 'T']) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, ""),
    };
    let timed = !rest.is_empty();
    if timed && !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<&str> = date_part.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    if ![a, b, c]
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|x| x.is_ascii_digit()))
    {
        return None;
    }
    let n = |s: &str| s.parse::<u32>().ok();
    let (year, month, day) = if a.len() == 4 {
        (n(a)?, n(b)?, n(c)?)
    } else if c.len() == 4 {
        let (x, y) = (n(a)?, n(b)?);
        // Day first unless that cannot be (US order).
        if y > 12 { (n(c)?, x, y) } else { (n(c)?, y, x) }
    } else {
        return None;
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || !(1000..=2999).contains(&year) {
        return None;
    }
    Some(FoundDate {
        year: year as i32,
        month,
        day,
        timed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_forms() {
        assert_eq!(
            date("1980-04-03"),
            Some(FoundDate {
                year: 1980,
                month: 4,
                day: 3,
                timed: false
            })
        );
        assert_eq!(date("03.04.1980").map(|d| (d.month, d.day)), Some((4, 3)));
        assert_eq!(date("12/31/1999").map(|d| (d.month, d.day)), Some((12, 31)));
        assert!(date("2024-03-05 10:22:01").is_some_and(|d| d.timed));
        assert!(date("2024-03-05T10:22:01Z").is_some_and(|d| d.timed));
        assert_eq!(date("1.2.3.4"), None);
        assert_eq!(date("2024-13-01"), None);
    }
}
