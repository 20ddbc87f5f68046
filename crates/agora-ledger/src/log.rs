//! The stored log: signed entries appended durably as `tlog-tiles`, a signed checkpoint after
//! every batch, a history of every checkpoint, and proofs read back from the tiles.
//!
//! Crash safety comes from the order of writes. A batch writes its entry bundles and hash tiles
//! (each durably, see [`DurableBatch`]), then appends the new checkpoint to the history and
//! replaces `checkpoint` atomically; only then does it delete the partial tiles the new ones
//! supersede. The `checkpoint` file is the commit point: a crash before it leaves the previous
//! checkpoint, whose tiles are all still there, and the next append first deletes whatever the
//! crashed batch wrote beyond it. Every append runs under an exclusive file lock and re-reads
//! the checkpoint, so several processes (the CLI and a server) can share one log.
//!
//! One file of about 680 lines with its tests, on purpose: the write order above is the log's
//! crash-safety argument, and the append, the recovery of a crashed batch and the reads that
//! rely on it stay where that order can be checked against each of them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::rc::Rc;
use std::sync::{Condvar, Mutex};

use crate::LogError;
use crate::checkpoint::Checkpoint;
use crate::entry::{Leaf, SignedEntry};
use crate::failpoint::failpoint;
use crate::files::{DurableBatch, LogFiles, append_line};
use crate::merkle::{
    Hash, NodeHashes, ProofError, consistency_proof, inclusion_proof, leaf_hash, node_hash, root_at,
};
use crate::note::{NoteSigner, NoteVerifier, open_note, sign_note};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, bundle_path, encode_bundle, encode_tile, tile_path};

const CHECKPOINT: &str = "checkpoint";
const HISTORY: &str = "checkpoints.jsonl";
const LOCK: &str = ".lock";

/// A checkpoint with the signed note it was published in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub note: String,
    pub checkpoint: Checkpoint,
}

/// Where a batch of entries landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Index of the first entry of the batch.
    pub first_index: u64,
    pub count: u64,
    /// The checkpoint that first includes the batch.
    pub checkpoint: SignedCheckpoint,
}

/// Callers waiting for the writer: whoever finds no write in progress writes everything
/// queued so far in one batch (group commit), so concurrent appends share fsyncs and one
/// checkpoint signature.
#[derive(Default)]
struct GroupCommit {
    queue: Vec<(u64, Vec<Vec<u8>>)>,
    next_ticket: u64,
    writing: bool,
    done: HashMap<u64, Result<Appended, LogError>>,
}

/// If a batch write unwinds: fails the batch's callers and clears the "writing" flag, so the
/// callers waiting on it are answered and the next one can write.
struct ResetOnUnwind<'a>(&'a Log, Vec<u64>);

impl Drop for ResetOnUnwind<'_> {
    fn drop(&mut self) {
        if let Ok(mut group) = self.0.group.lock() {
            for t in &self.1 {
                group.done.insert(
                    *t,
                    Err(LogError::Io("the ledger writer failed mid-batch".into())),
                );
            }
            group.writing = false;
        }
        self.0.written.notify_all();
    }
}

/// One stored log.
pub struct Log {
    files: LogFiles,
    signer: Option<NoteSigner>,
    verifier: NoteVerifier,
    group: Mutex<GroupCommit>,
    written: Condvar,
}

impl Log {
    /// Opens the log under `root` for appending, creating an empty one (size 0, signed by
    /// `signer`, whose name is the log's origin) if there is none.
    pub fn open_or_create(
        root: impl Into<std::path::PathBuf>,
        signer: NoteSigner,
    ) -> Result<Log, LogError> {
        let files = LogFiles::new(root);
        fs::create_dir_all(files.root())
            .map_err(|e| LogError::Io(format!("{}: {e}", files.root().display())))?;
        let log = Log {
            verifier: signer.verifier(),
            signer: Some(signer),
            files,
            group: Mutex::default(),
            written: Condvar::new(),
        };
        {
            let _lock = log.lock()?;
            if log.files.read(CHECKPOINT)?.is_none() {
                log.publish(0, &mut DurableBatch::default())?;
            }
            log.roll_forward()?;
        }
        log.checkpoint()?;
        Ok(log)
    }

    /// Opens an existing log to read and prove, checking checkpoints against `verifier`.
    pub fn open_reader(
        root: impl Into<std::path::PathBuf>,
        verifier: NoteVerifier,
    ) -> Result<Log, LogError> {
        let files = LogFiles::new(root);
        if files.read(CHECKPOINT)?.is_none() {
            return Err(LogError::Missing(files.root().display().to_string()));
        }
        Ok(Log {
            files,
            signer: None,
            verifier,
            group: Mutex::default(),
            written: Condvar::new(),
        })
    }

    pub fn files(&self) -> &LogFiles {
        &self.files
    }

    /// The log's public key: it signs every checkpoint.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The latest checkpoint, read from disk and its signature checked.
    pub fn checkpoint(&self) -> Result<SignedCheckpoint, LogError> {
        let bytes = self
            .files
            .read(CHECKPOINT)?
            .ok_or_else(|| LogError::Missing(self.files.root().display().to_string()))?;
        let note = String::from_utf8(bytes)
            .map_err(|_| LogError::Corrupt("the checkpoint is not UTF-8".into()))?;
        self.open_checkpoint(&note)
    }

    /// Checks a checkpoint note against the log key.
    pub fn open_checkpoint(&self, note: &str) -> Result<SignedCheckpoint, LogError> {
        let (text, _) = open_note(note, std::slice::from_ref(&self.verifier))?;
        Ok(SignedCheckpoint {
            note: note.to_string(),
            checkpoint: Checkpoint::parse(&text)?,
        })
    }

    /// Every checkpoint the log published, oldest first (a line a crash cut short is skipped:
    /// it was never acknowledged).
    pub fn history(&self) -> Result<Vec<SignedCheckpoint>, LogError> {
        let bytes = self.files.read(HISTORY)?.unwrap_or_default();
        let text = String::from_utf8(bytes)
            .map_err(|_| LogError::Corrupt(format!("{HISTORY} is not UTF-8")))?;
        let complete = text.rfind('\n').map_or("", |i| &text[..i]);
        complete
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let note: String = serde_json::from_str(line).map_err(|_| {
                    LogError::Corrupt(format!("{HISTORY} line {} is not a JSON string", i + 1))
                })?;
                self.open_checkpoint(&note)
                    .map_err(|e| LogError::Corrupt(format!("{HISTORY} line {}: {e}", i + 1)))
            })
            .collect()
    }

    /// Appends signed entries durably; returns once they are covered by a published
    /// checkpoint. Concurrent callers are batched together.
    pub fn append(&self, entries: &[SignedEntry]) -> Result<Appended, LogError> {
        let leaves = entries
            .iter()
            .map(Leaf::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.append_leaves(leaves)
    }

    /// [`Log::append`] for entries already in their stored form ([`Entry::sign_leaf`]).
    ///
    /// [`Entry::sign_leaf`]: crate::Entry::sign_leaf
    pub fn append_leaves(&self, leaves: Vec<Leaf>) -> Result<Appended, LogError> {
        if self.signer.is_none() {
            return Err(LogError::ReadOnly);
        }
        let leaves: Vec<Vec<u8>> = leaves.into_iter().map(Leaf::into_bytes).collect();
        let mut group = self
            .group
            .lock()
            .expect("INVARIANT: no panic while holding the group lock");
        let ticket = group.next_ticket;
        group.next_ticket += 1;
        group.queue.push((ticket, leaves));
        loop {
            if let Some(result) = group.done.remove(&ticket) {
                return result;
            }
            if group.writing {
                group = self
                    .written
                    .wait(group)
                    .expect("INVARIANT: no panic while holding the group lock");
                continue;
            }
            group.writing = true;
            let batch = std::mem::take(&mut group.queue);
            drop(group);
            let counts: Vec<(u64, u64)> = batch.iter().map(|(t, l)| (*t, l.len() as u64)).collect();
            let leaves: Vec<Vec<u8>> = batch.into_iter().flat_map(|(_, l)| l).collect();
            // If the write panics, the next caller must still be able to become the writer.
            let reset = ResetOnUnwind(self, counts.iter().map(|(t, _)| *t).collect());
            let result = self.write_batch(leaves);
            std::mem::forget(reset);
            group = self
                .group
                .lock()
                .expect("INVARIANT: no panic while holding the group lock");
            match result {
                Ok((mut first_index, checkpoint)) => {
                    for (t, count) in counts {
                        group.done.insert(
                            t,
                            Ok(Appended {
                                first_index,
                                count,
                                checkpoint: checkpoint.clone(),
                            }),
                        );
                        first_index += count;
                    }
                }
                Err(e) => {
                    for (t, _) in counts {
                        group.done.insert(t, Err(e.clone()));
                    }
                }
            }
            group.writing = false;
            self.written.notify_all();
        }
    }

    fn lock(&self) -> Result<fs::File, LogError> {
        let path = self.files.path(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LogError::Io(format!("{}: {e}", path.display())))?;
        file.lock()
            .map_err(|e| LogError::Io(format!("locking {}: {e}", path.display())))?;
        Ok(file)
    }

    /// Writes one batch under the file lock; returns its first index and the new checkpoint.
    fn write_batch(&self, leaves: Vec<Vec<u8>>) -> Result<(u64, SignedCheckpoint), LogError> {
        let _lock = self.lock()?;
        self.roll_forward()?;
        let size = self.checkpoint()?.checkpoint.size;
        self.trim_beyond(size)?;
        if leaves.is_empty() {
            return Ok((size, self.checkpoint()?));
        }
        let count = leaves.len() as u64;
        let mut batch = DurableBatch::default();
        let mut became_full = Vec::new();
        let mut now_partial = Vec::new();

        // Entry bundles.
        let mut hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let (mut n, width) = (size / TILE_WIDTH, size % TILE_WIDTH);
        let mut bundle = if width > 0 {
            self.files.bundle(n, width)?
        } else {
            Vec::new()
        };
        for leaf in leaves {
            bundle.push(leaf);
            if bundle.len() as u64 == TILE_WIDTH {
                let full = bundle_path(n, TILE_WIDTH);
                batch.write(
                    &self.files,
                    &full,
                    &encode_bundle(bundle.iter().map(Vec::as_slice)),
                )?;
                became_full.push(full);
                bundle.clear();
                n += 1;
            }
        }
        if !bundle.is_empty() {
            let w = bundle.len() as u64;
            batch.write(
                &self.files,
                &bundle_path(n, w),
                &encode_bundle(bundle.iter().map(Vec::as_slice)),
            )?;
            now_partial.push((bundle_path(n, TILE_WIDTH), w));
        }

        // Hash tiles, level by level: each full tile's root is the next level's new hash.
        let mut level = 0;
        let mut before = size;
        while !hashes.is_empty() {
            let (mut n, width) = (before / TILE_WIDTH, before % TILE_WIDTH);
            let mut tile = if width > 0 {
                self.files.tile(level, n, width)?
            } else {
                Vec::new()
            };
            let mut up = Vec::new();
            for h in hashes {
                tile.push(h);
                if tile.len() as u64 == TILE_WIDTH {
                    let full = tile_path(level, n, TILE_WIDTH);
                    batch.write(&self.files, &full, &encode_tile(&tile))?;
                    became_full.push(full);
                    up.push(subtree_root(&tile));
                    tile.clear();
                    n += 1;
                }
            }
            if !tile.is_empty() {
                let w = tile.len() as u64;
                batch.write(&self.files, &tile_path(level, n, w), &encode_tile(&tile))?;
                now_partial.push((tile_path(level, n, TILE_WIDTH), w));
            }
            hashes = up;
            before /= TILE_WIDTH;
            level += 1;
        }
        batch.sync_dirs()?;

        let checkpoint = self.publish(size + count, &mut batch)?;

        // The new tiles are committed: the partial ones they supersede can go.
        for full in became_full {
            self.files.remove(&format!("{full}.p"))?;
        }
        for (full, keep) in now_partial {
            for w in self.files.other_partials(&full, Some(keep))? {
                self.files.remove(&format!("{full}.p/{w}"))?;
            }
        }
        Ok((size, checkpoint))
    }

    /// Signs the checkpoint for `size` (whose tiles are on disk), records it in the history
    /// and makes it current.
    fn publish(&self, size: u64, batch: &mut DurableBatch) -> Result<SignedCheckpoint, LogError> {
        let signer = self.signer.as_ref().ok_or(LogError::ReadOnly)?;
        let root = root_at(&TiledTree::new(&self.files, size), size)?;
        let checkpoint = Checkpoint {
            origin: signer.name().to_string(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = sign_note(&checkpoint.to_text(), &[signer])?;
        append_line(
            &self.files.path(HISTORY),
            &serde_json::to_string(&note).expect("INVARIANT: a string serializes"),
        )?;
        failpoint("log.after_history");
        batch.write(&self.files, CHECKPOINT, note.as_bytes())?;
        batch.sync_dirs()?;
        Ok(SignedCheckpoint { note, checkpoint })
    }

    /// Finishes a publish a crash interrupted between the history and the `checkpoint` file:
    /// the history's newest checkpoint was signed over tiles already durable, so it becomes
    /// current — the next batch builds on it, and no second root is ever signed for its size.
    fn roll_forward(&self) -> Result<(), LogError> {
        let Some(last) = self.newest_in_history()? else {
            return Ok(());
        };
        let current = self.checkpoint()?;
        if last.checkpoint.size <= current.checkpoint.size {
            return Ok(());
        }
        let size = last.checkpoint.size;
        let root = root_at(&TiledTree::new(&self.files, size), size)?;
        if root != last.checkpoint.root {
            return Err(LogError::Corrupt(format!(
                "the history's checkpoint of {size} entries does not match the tiles"
            )));
        }
        let mut batch = DurableBatch::default();
        batch.write(&self.files, CHECKPOINT, last.note.as_bytes())?;
        batch.sync_dirs()
    }

    /// The newest complete line of the history, read from its end.
    fn newest_in_history(&self) -> Result<Option<SignedCheckpoint>, LogError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.files.path(HISTORY);
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LogError::Io(format!("{}: {e}", path.display()))),
        };
        let io = |e: std::io::Error| LogError::Io(format!("{}: {e}", path.display()));
        let len = file.metadata().map_err(io)?.len();
        // A signed checkpoint is a few hundred bytes; with cosignatures, a few kilobytes.
        let from = len.saturating_sub(64 * 1024);
        file.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).map_err(io)?;
        let Some(line) = last_complete_line(&tail) else {
            return Ok(None);
        };
        let note: String = serde_json::from_str(line).map_err(|_| {
            LogError::Corrupt(format!("the last line of {HISTORY} is not a JSON string"))
        })?;
        self.open_checkpoint(&note).map(Some)
    }

    /// Deletes whatever a crashed batch wrote beyond the checkpoint of `size` entries, so that
    /// a later batch never leaves stale tiles a reader could mistake for its own.
    fn trim_beyond(&self, size: u64) -> Result<(), LogError> {
        let mut removed = false;
        let mut trim = |full_of: &dyn Fn(u64) -> String, count: u64| -> Result<(), LogError> {
            let (n, width) = (count / TILE_WIDTH, count % TILE_WIDTH);
            let full = full_of(n);
            if self.files.path(&full).exists() {
                self.files.remove(&full)?;
                removed = true;
            }
            for w in self.files.other_partials(&full, None)? {
                if w > width {
                    self.files.remove(&format!("{full}.p/{w}"))?;
                    removed = true;
                }
            }
            let mut next = n + 1;
            while self.files.any_version_exists(&full_of(next)) {
                self.files.remove(&full_of(next))?;
                self.files.remove(&format!("{}.p", full_of(next)))?;
                removed = true;
                next += 1;
            }
            Ok(())
        };
        trim(&|n| bundle_path(n, TILE_WIDTH), size)?;
        let mut level = 0;
        while self.files.path(&format!("tile/{level}")).exists() {
            let count = size >> (TILE_HEIGHT * level);
            trim(&|n| tile_path(level, n, TILE_WIDTH), count)?;
            level += 1;
        }
        if removed {
            // Make the deletions durable before anything new is written in their place.
            for level in 0..level {
                sync_tree(&self.files.path(&format!("tile/{level}")))?;
            }
            sync_tree(&self.files.path("tile/entries"))?;
        }
        Ok(())
    }

    /// The size of the latest checkpoint.
    pub fn size(&self) -> Result<u64, LogError> {
        Ok(self.checkpoint()?.checkpoint.size)
    }

    /// The stored bytes of entry `index` (its leaf), within the tree of `size` entries.
    pub fn leaf(&self, index: u64, size: u64) -> Result<Vec<u8>, LogError> {
        if index >= size {
            return Err(ProofError::IndexBeyondTree { index, size }.into());
        }
        let n = index / TILE_WIDTH;
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
        let mut bundle = self.files.bundle(n, width)?;
        Ok(bundle.swap_remove((index % TILE_WIDTH) as usize))
    }

    /// Entries `start..end` of the tree of `size` entries, reading each bundle once.
    pub fn entries(&self, start: u64, end: u64, size: u64) -> Result<Vec<SignedEntry>, LogError> {
        if end > size {
            return Err(ProofError::IndexBeyondTree {
                index: end - 1,
                size,
            }
            .into());
        }
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let mut index = start;
        while index < end {
            let n = index / TILE_WIDTH;
            let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
            let bundle = self.files.bundle(n, width)?;
            let from = (index % TILE_WIDTH) as usize;
            let to = ((end - n * TILE_WIDTH).min(TILE_WIDTH)) as usize;
            for leaf in &bundle[from..to] {
                out.push(SignedEntry::from_leaf(leaf)?);
            }
            index = n * TILE_WIDTH + to as u64;
        }
        Ok(out)
    }

    /// Entry `index` of the current log.
    pub fn entry(&self, index: u64) -> Result<SignedEntry, LogError> {
        let leaf = self.leaf(index, self.size()?)?;
        Ok(SignedEntry::from_leaf(&leaf)?)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (at most the
    /// current size).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        let current = self.size()?;
        if size > current {
            return Err(ProofError::SizeBeyondLog {
                requested: size,
                size: current,
            }
            .into());
        }
        Ok(inclusion_proof(
            &TiledTree::new(&self.files, size),
            index,
            size,
        )?)
    }

    /// The consistency proof between the trees of `first` and `second` entries.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        let current = self.size()?;
        if second > current {
            return Err(ProofError::SizeBeyondLog {
                requested: second,
                size: current,
            }
            .into());
        }
        Ok(consistency_proof(
            &TiledTree::new(&self.files, second),
            first,
            second,
        )?)
    }

    /// The root of the tree of `size` entries, from the tiles.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        Ok(root_at(&TiledTree::new(&self.files, size), size)?)
    }
}

fn sync_tree(dir: &std::path::Path) -> Result<(), LogError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(|e| LogError::Io(format!("{}: {e}", dir.display())))? {
        let path = entry
            .map_err(|e| LogError::Io(format!("{}: {e}", dir.display())))?
            .path();
        if path.is_dir() {
            sync_tree(&path)?;
        }
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::Io(format!("{}: {e}", dir.display())))
}

/// The root of a power-of-two run of sibling hashes.
fn subtree_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut layer = hashes.to_vec();
    while layer.len() > 1 {
        layer = layer
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    layer[0]
}

/// A hash tile: (tile level, index).
type TileId = (u32, u64);

/// The Merkle tree of the first `size` entries, read from the hash tiles: the node at Merkle
/// level `8·L + k` is computed from the `2^k` hashes it covers in a tile at level `L`.
pub struct TiledTree<'a> {
    files: &'a LogFiles,
    size: u64,
    cache: RefCell<HashMap<TileId, Rc<Vec<Hash>>>>,
}

impl<'a> TiledTree<'a> {
    pub fn new(files: &'a LogFiles, size: u64) -> Self {
        TiledTree {
            files,
            size,
            cache: RefCell::default(),
        }
    }
}

impl NodeHashes for TiledTree<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let (tile_level, k) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let first = index << k;
        let (n, offset) = (first / TILE_WIDTH, (first % TILE_WIDTH) as usize);
        let count_at_level = self.size >> (TILE_HEIGHT * tile_level);
        let width = (count_at_level - n * TILE_WIDTH).min(TILE_WIDTH);
        let tile = self.cache.borrow().get(&(tile_level, n)).cloned();
        let tile = match tile {
            Some(t) => t,
            None => {
                let t = Rc::new(
                    self.files
                        .tile(tile_level, n, width)
                        .map_err(|e| ProofError::Storage(e.to_string()))?,
                );
                self.cache.borrow_mut().insert((tile_level, n), t.clone());
                t
            }
        };
        let run = tile.get(offset..offset + (1 << k)).ok_or_else(|| {
            ProofError::Storage(format!(
                "tile {} is too short for node ({level}, {index})",
                tile_path(tile_level, n, TILE_WIDTH)
            ))
        })?;
        Ok(subtree_root(run))
    }
}

/// The last line of `tail` that ends with a newline, as text. `tail` is the end of a file read
/// from an arbitrary offset, so it may start inside a line — and inside a character (signed
/// notes hold `—`): only whole lines are decoded.
fn last_complete_line(tail: &[u8]) -> Option<&str> {
    let end = tail.iter().rposition(|b| *b == b'\n')?;
    let start = tail[..end]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = std::str::from_utf8(&tail[start..end]).ok()?;
    (!line.is_empty()).then_some(line)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_line_is_found_when_the_tail_starts_inside_a_character() {
        let history = "\"first — note\"\n\"second — note\"\n\"partial";
        let bytes = history.as_bytes();
        // From every offset, even one inside the three bytes of `—`.
        for from in 0..bytes.len() {
            let found = super::last_complete_line(&bytes[from..]);
            if from <= history.find("\"second").unwrap() {
                assert_eq!(found, Some("\"second — note\""), "from {from}");
            }
        }
        assert_eq!(super::last_complete_line(b"no newline"), None);
    }
}
