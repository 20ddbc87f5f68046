//! A mirror: a copy of another node's log in the same `tlog-tiles` layout, kept by a witness so
//! the log's history survives the loss of the primary. It holds the tiles and bundles, the
//! checkpoints it was shown (its history) and the latest one, so [`crate::audit`] can check it
//! on its own with only the log's public key.

use std::path::PathBuf;

use crate::LogError;
use crate::files::{DurableBatch, LogFiles, append_line};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, bundle_path, tile_path};

/// The tile and bundle paths that hold entries `from..to` of a tree of `to` entries (the last
/// tile of each level as the partial of that size).
pub fn tile_paths(from: u64, to: u64) -> Vec<String> {
    let mut paths = Vec::new();
    let covering = |count_from: u64,
                    count_to: u64,
                    path: &dyn Fn(u64, u64) -> String,
                    out: &mut Vec<String>| {
        for n in count_from / TILE_WIDTH..count_to.div_ceil(TILE_WIDTH) {
            out.push(path(n, (count_to - n * TILE_WIDTH).min(TILE_WIDTH)));
        }
    };
    covering(from, to, &bundle_path, &mut paths);
    let mut level = 0;
    while to >> (TILE_HEIGHT * level) > 0 {
        covering(
            from >> (TILE_HEIGHT * level),
            to >> (TILE_HEIGHT * level),
            &|n, w| tile_path(level, n, w),
            &mut paths,
        );
        level += 1;
    }
    paths
}

/// A mirror directory being filled.
pub struct Mirror {
    files: LogFiles,
}

impl Mirror {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Mirror {
            files: LogFiles::new(dir),
        }
    }

    pub fn files(&self) -> &LogFiles {
        &self.files
    }

    /// Stores fetched tiles and bundles (relative paths from [`tile_paths`]) durably.
    pub fn store(&self, files: &[(String, Vec<u8>)]) -> Result<(), LogError> {
        let mut batch = DurableBatch::default();
        for (rel, bytes) in files {
            batch.write(&self.files, rel, bytes)?;
        }
        batch.sync_dirs()
    }

    /// Records a checkpoint whose tiles are stored: appends it to the history and makes it the
    /// mirror's current one.
    pub fn publish(&self, note: &str) -> Result<(), LogError> {
        std::fs::create_dir_all(self.files.root())
            .map_err(|e| LogError::Io(format!("{}: {e}", self.files.root().display())))?;
        append_line(
            &self.files.path("checkpoints.jsonl"),
            &serde_json::to_string(note).expect("INVARIANT: a string serializes"),
        )?;
        let mut batch = DurableBatch::default();
        batch.write(&self.files, "checkpoint", note.as_bytes())?;
        batch.sync_dirs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_cover_new_entries_and_the_right_edge() {
        assert_eq!(tile_paths(0, 3), ["tile/entries/000.p/3", "tile/0/000.p/3"]);
        assert_eq!(
            tile_paths(250, 300),
            [
                "tile/entries/000",
                "tile/entries/001.p/44",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1"
            ]
        );
    }
}
