//! The C2SP `tlog-tiles` layout (<https://c2sp.org/tlog-tiles>): paths of hash tiles and entry
//! bundles, and their byte formats. A tile at level `L` holds up to 256 consecutive hashes of
//! Merkle level `8·L`; an entry bundle holds up to 256 consecutive entries, each prefixed with
//! its length as a big-endian `u16`. A tile that is not yet full is stored as `<N>.p/<W>`.

use crate::Hash;

/// Hashes (or entries) per full tile: tiles have height 8.
pub const TILE_WIDTH: u64 = 256;
/// Merkle levels per tile level.
pub const TILE_HEIGHT: u32 = 8;

/// `N` as path elements: zero-padded groups of three digits, all but the last prefixed `x`
/// (1234067 → `x001/x234/067`).
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// The path of hash tile `n` at tile level `level`, full (`width` 256) or partial.
pub fn tile_path(level: u32, n: u64, width: u64) -> String {
    with_width(format!("tile/{level}/{}", index_path(n)), width)
}

/// The path of entry bundle `n`, full or partial.
pub fn bundle_path(n: u64, width: u64) -> String {
    with_width(format!("tile/entries/{}", index_path(n)), width)
}

fn with_width(full: String, width: u64) -> String {
    debug_assert!((1..=TILE_WIDTH).contains(&width));
    if width == TILE_WIDTH {
        full
    } else {
        format!("{full}.p/{width}")
    }
}

/// What a tiles-layout path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Hash tile at a tile level.
    Hashes(u32),
    Entries,
}

/// Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` into (kind, N, width).
pub fn parse_tile_path(path: &str) -> Option<(TileKind, u64, u64)> {
    let rest = path.strip_prefix("tile/")?;
    let (kind, rest) = rest.split_once('/')?;
    let kind = match kind {
        "entries" => TileKind::Entries,
        level => {
            if level.len() > 2 || !level.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            TileKind::Hashes(level.parse().ok().filter(|l| *l < 64)?)
        }
    };
    let (index, width) = match rest.split_once(".p/") {
        Some((index, raw)) => {
            let w: u64 = raw.parse().ok().filter(|w| (1..TILE_WIDTH).contains(w))?;
            // Decimal without leading zeros: one width, one path.
            if raw != w.to_string() {
                return None;
            }
            (index, w)
        }
        None => (rest, TILE_WIDTH),
    };
    let groups: Vec<&str> = index.split('/').collect();
    let (last, upper) = groups.split_last()?;
    let mut n: u64 = 0;
    for (i, g) in upper.iter().chain(std::iter::once(last)).enumerate() {
        let digits = if i < upper.len() {
            g.strip_prefix('x')?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    // One number has one path: no leading zero groups.
    if index_path(n) != index {
        return None;
    }
    Some((kind, n, width))
}

/// The concatenated hashes of a tile.
pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Splits a tile into hashes; `None` if its length is not a whole number of hashes.
pub fn decode_tile(bytes: &[u8]) -> Option<Vec<Hash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                c.try_into()
                    .expect("INVARIANT: chunks_exact(32) yields 32 bytes")
            })
            .collect(),
    )
}

/// Entries with their big-endian `u16` length prefixes. Callers keep entries under 64 KiB
/// (`MAX_ENTRY_BYTES`).
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).expect("INVARIANT: entries are checked to fit in u16");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Splits a bundle into entries; `Err(k)` when the bytes after the first `k` entries do not
/// form a whole entry.
pub fn decode_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, usize> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(entries.len());
        };
        let len = u16::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return Err(entries.len());
        }
        entries.push(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn malformed_tile_paths_are_refused() {
        for p in [
            "tile/0/1",
            "tile/0/x000/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/007",
            "tile/64/000",
            "tile/entries/../000",
            "tile/a/000",
            "checkpoint",
            "tile/0/001.p/",
        ] {
            assert_eq!(parse_tile_path(p), None, "{p}");
        }
    }

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 5, 8), "tile/1/005.p/8");
        assert_eq!(bundle_path(1000, 3), "tile/entries/x001/000.p/3");
    }

    proptest! {
        #[test]
        fn index_paths_are_unique_and_decodable(n in any::<u64>()) {
            let p = index_path(n);
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(digits.trim_start_matches('0').parse::<u64>().unwrap_or(0), n);
            prop_assert!(p.split('/').all(|g| g.trim_start_matches('x').len() == 3));
        }

        #[test]
        fn bundles_round_trip_and_truncation_is_detected(
            entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            cut in any::<usize>(),
        ) {
            let bytes = encode_bundle(entries.iter().map(Vec::as_slice));
            let back = decode_bundle(&bytes).unwrap();
            prop_assert_eq!(back.len(), entries.len());
            for (a, b) in back.iter().zip(&entries) {
                prop_assert_eq!(*a, b.as_slice());
            }
            if !bytes.is_empty() {
                let cut = cut % bytes.len();
                // A cut inside an entry is an error; a cut between entries yields fewer entries.
                match decode_bundle(&bytes[..cut]) {
                    Ok(fewer) => prop_assert!(fewer.len() < entries.len()),
                    Err(k) => prop_assert!(k < entries.len()),
                }
            }
        }

        #[test]
        fn tile_paths_parse_back(n in any::<u64>(), level in 0u32..64, width in 1u64..=256) {
            prop_assert_eq!(parse_tile_path(&tile_path(level, n, width)), Some((TileKind::Hashes(level), n, width)));
            prop_assert_eq!(parse_tile_path(&bundle_path(n, width)), Some((TileKind::Entries, n, width)));
        }

        #[test]
        fn tiles_round_trip(hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..256), extra in 1usize..32) {
            let bytes = encode_tile(&hashes);
            prop_assert_eq!(decode_tile(&bytes).unwrap(), hashes);
            let mut longer = bytes.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            prop_assert!(decode_tile(&longer).is_none());
        }
    }
}
