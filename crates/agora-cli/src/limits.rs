//! `--memory-limit` and `--query-timeout`, shared by `agora sql` and `agora serve`, and the
//! sizes and durations they take.

use std::time::Duration;

use agora_mesh::{MeshError, QueryLimits};
use clap::Args;

#[derive(Args)]
pub struct LimitArgs {
    /// Memory one query may hold, as 512MiB, 4GiB or bytes; past it sorts and aggregates
    /// spill to disk where they can, and the query fails where they cannot.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// How long one query may run, as 30s, 5m or 1h; `off` for no limit.
    #[arg(long, value_name = "DURATION")]
    query_timeout: Option<String>,
}

impl LimitArgs {
    /// The limits given, with `default_timeout` when no --query-timeout is.
    pub fn limits(&self, default_timeout: Option<Duration>) -> Result<QueryLimits, MeshError> {
        Ok(QueryLimits {
            memory_bytes: self
                .memory_limit
                .as_deref()
                .map(|text| parse_size("--memory-limit", text))
                .transpose()?,
            timeout: match self.query_timeout.as_deref() {
                Some("off") => None,
                Some(text) => Some(parse_duration(text)?),
                None => default_timeout,
            },
        })
    }
}

fn bad(flag: &str, text: &str, expected: &str) -> MeshError {
    MeshError::BadInput {
        source_name: flag.to_string(),
        message: format!("`{text}` is not {expected}"),
    }
}

/// A size given to `flag`, as 512MiB, 4GiB or bytes.
pub fn parse_size(flag: &str, text: &str) -> Result<usize, MeshError> {
    let expected = "a size: a whole number of bytes, or with KiB, MiB or GiB";
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let n: usize = digits.parse().map_err(|_| bad(flag, text, expected))?;
    let scale: usize = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad(flag, text, expected)),
    };
    match n.checked_mul(scale) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err(bad(flag, text, expected)),
    }
}

fn parse_duration(text: &str) -> Result<Duration, MeshError> {
    let expected = "a duration: a whole number with s, m or h (30s, 5m, 1h), or off";
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    let n: u64 = digits
        .parse()
        .map_err(|_| bad("--query-timeout", text, expected))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    match seconds {
        Some(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(bad("--query-timeout", text, expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_parse_or_say_what_they_expected() {
        assert_eq!(parse_size("--memory-limit", "512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("--memory-limit", "4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("--memory-limit", "1000").unwrap(), 1000);
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        for bad in [
            "",
            "0",
            "4gb",
            "-1MiB",
            "1.5GiB",
            "99999999999999999999GiB",
            "é",
        ] {
            assert!(parse_size("--memory-limit", bad).is_err(), "{bad}");
        }
        for bad in ["", "0s", "30", "1d", "5 m", "é"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
