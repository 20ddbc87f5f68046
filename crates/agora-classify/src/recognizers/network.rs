//! IP addresses, and the version strings that look like them.

use std::net::IpAddr;

/// An IPv4 or IPv6 address, as the standard library parses it.
pub fn ip_address(value: &str) -> bool {
    value.trim().parse::<IpAddr>().is_ok()
}

/// A dotted string of small numbers (`1.2.3.4`, `10.0.12`, `v2.1`): the form of version
/// numbers, which also parse as IPv4 addresses when they have four parts. Two parts without a
/// `v` are a decimal number (`27.5`), not a version.
pub fn version_like(value: &str) -> bool {
    let value = value.trim();
    let prefixed = value.starts_with('v');
    let parts: Vec<&str> = value.trim_start_matches('v').split('.').collect();
    (if prefixed { 2..=4 } else { 3..=4 }).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_versions() {
        assert!(ip_address("192.168.10.7"));
        assert!(ip_address("2001:db8::1"));
        assert!(!ip_address("300.1.1.1"));
        assert!(version_like("1.2.3.4"));
        assert!(version_like("v2.10.1"));
        assert!(!version_like("192.168.100.7"));
        assert!(version_like("v2.1"));
        assert!(!version_like("27.5"), "a decimal number");
    }
}
