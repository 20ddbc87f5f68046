//! The log's files on a local directory: durable writes (write a temporary file, fsync, rename,
//! fsync the directory) and reads of tiles and bundles with the fallbacks `tlog-tiles` allows.
//!
//! Plain `std::fs` rather than `object_store`: durability needs fsync of files and directories,
//! which `object_store`'s local backend does not do.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::tiles::{TILE_WIDTH, bundle_path, decode_bundle, decode_tile, tile_path};
use crate::{Hash, LogError};

/// The root directory of one stored log.
#[derive(Debug, Clone)]
pub struct LogFiles {
    root: PathBuf,
}

fn io_err(path: &Path, e: io::Error) -> LogError {
    LogError::Io(format!("{}: {e}", path.display()))
}

impl LogFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LogFiles { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The file's bytes, or `None` if it does not exist.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, LogError> {
        let path = self.path(rel);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// The widths of the partial versions of a tile or bundle (`<full path>.p/<W>`), ascending.
    fn partial_widths(&self, full: &str) -> Result<Vec<u64>, LogError> {
        let dir = self.path(&format!("{full}.p"));
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir, e)),
        };
        let mut widths: Vec<u64> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|w| (1..TILE_WIDTH).contains(w))
            .collect();
        widths.sort_unstable();
        Ok(widths)
    }

    /// Tile or bundle bytes holding at least `width` items: the full one if present, else the
    /// narrowest partial that is wide enough (a wider one may be left over from a crash).
    fn read_at_least(
        &self,
        full: &str,
        width: u64,
        partial: impl Fn(u64) -> String,
    ) -> Result<Option<Vec<u8>>, LogError> {
        if let Some(bytes) = self.read(full)? {
            return Ok(Some(bytes));
        }
        for w in self.partial_widths(full)? {
            if w >= width {
                return self.read(&partial(w));
            }
        }
        Ok(None)
    }

    /// The first `width` hashes of tile `n` at tile level `level`.
    pub fn tile(&self, level: u32, n: u64, width: u64) -> Result<Vec<Hash>, LogError> {
        let full = tile_path(level, n, TILE_WIDTH);
        let bytes = self
            .read_at_least(&full, width, |w| tile_path(level, n, w))?
            .ok_or_else(|| LogError::Corrupt(format!("tile {full} (width {width}) is missing")))?;
        let mut hashes = decode_tile(&bytes).ok_or_else(|| {
            LogError::Corrupt(format!("tile {full} is not a whole number of hashes"))
        })?;
        if (hashes.len() as u64) < width {
            return Err(LogError::Corrupt(format!(
                "tile {full} holds {} hashes, {width} expected",
                hashes.len()
            )));
        }
        hashes.truncate(width as usize);
        Ok(hashes)
    }

    /// The whole entries at the start of bundle `n` (at most `width`, fewer if the bundle is
    /// short or cut inside an entry); `Err` only if no version of the bundle exists.
    pub fn bundle_prefix(&self, n: u64, width: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let full = bundle_path(n, TILE_WIDTH);
        let first = n * TILE_WIDTH;
        let bytes = self
            .read_at_least(&full, width, |w| bundle_path(n, w))?
            .ok_or_else(|| {
                LogError::Corrupt(format!(
                    "entry bundle {full} is missing (entries {first}..{})",
                    first + width
                ))
            })?;
        let entries = match decode_bundle(&bytes) {
            Ok(all) => all,
            Err(k) => decode_bundle(&bytes[..prefix_len(&bytes, k)])
                .expect("INVARIANT: the first k entries decoded before"),
        };
        Ok(entries
            .into_iter()
            .take(width as usize)
            .map(<[u8]>::to_vec)
            .collect())
    }

    /// The first `width` entries of bundle `n`; `Err` names what is missing or broken.
    pub fn bundle(&self, n: u64, width: u64) -> Result<Vec<Vec<u8>>, LogError> {
        let entries = self.bundle_prefix(n, width)?;
        if (entries.len() as u64) < width {
            return Err(LogError::Corrupt(format!(
                "entry bundle {} holds {} whole entries, {width} expected: entry {} is missing or cut short",
                bundle_path(n, TILE_WIDTH),
                entries.len(),
                n * TILE_WIDTH + entries.len() as u64
            )));
        }
        Ok(entries)
    }

    /// Removes a file or a `.p` directory if present.
    pub fn remove(&self, rel: &str) -> Result<(), LogError> {
        let path = self.path(rel);
        let result = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Whether a full tile/bundle or any partial of it exists.
    pub fn any_version_exists(&self, full: &str) -> bool {
        self.path(full).exists() || self.path(&format!("{full}.p")).exists()
    }

    /// Partial widths of `full` other than `keep`.
    pub fn other_partials(&self, full: &str, keep: Option<u64>) -> Result<Vec<u64>, LogError> {
        Ok(self
            .partial_widths(full)?
            .into_iter()
            .filter(|w| Some(*w) != keep)
            .collect())
    }
}

/// The byte length of the first `k` length-prefixed entries of a bundle.
fn prefix_len(bytes: &[u8], k: usize) -> usize {
    let mut at = 0;
    for _ in 0..k {
        let len = u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize;
        at += 2 + len;
    }
    at
}

/// A set of files written durably together: each goes to a temporary name, is fsynced and
/// renamed into place; `sync_dirs` then fsyncs every directory that gained a name.
#[derive(Default)]
pub struct DurableBatch {
    dirs: BTreeSet<PathBuf>,
}

impl DurableBatch {
    pub fn write(&mut self, files: &LogFiles, rel: &str, bytes: &[u8]) -> Result<(), LogError> {
        let path = files.path(rel);
        let dir = path
            .parent()
            .expect("INVARIANT: log paths are inside the log root")
            .to_path_buf();
        if !dir.exists() {
            // New directories must reach the disk too: sync every ancestor up to the root.
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            let mut d = dir.parent();
            while let Some(p) = d {
                self.dirs.insert(p.to_path_buf());
                if p == files.root() {
                    break;
                }
                d = p.parent();
            }
        }
        // A name no other writer uses, in this process or another.
        let tmp = dir.join(format!(
            ".{}.{}-{:016x}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .expect("INVARIANT: log file names are ASCII"),
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut f = fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        self.dirs.insert(dir);
        Ok(())
    }

    pub fn sync_dirs(&mut self) -> Result<(), LogError> {
        for dir in std::mem::take(&mut self.dirs) {
            fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&dir, e))?;
        }
        Ok(())
    }
}

/// Appends one line to a file and fsyncs it; first cuts off a partial last line a crash may
/// have left.
pub fn append_line(path: &Path, line: &str) -> Result<(), LogError> {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    let len = f.metadata().map_err(|e| io_err(path, e))?.len();
    let mut last = [0u8];
    if len > 0 {
        f.read_exact_at(&mut last, len - 1)
            .map_err(|e| io_err(path, e))?;
    }
    if len > 0 && last[0] != b'\n' {
        let existing = fs::read(path).map_err(|e| io_err(path, e))?;
        let keep = existing
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        f.set_len(keep as u64).map_err(|e| io_err(path, e))?;
    }
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}
