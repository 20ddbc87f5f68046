//! The durable store-and-forward buffer, in one redb file (`buffer.redb` in the data
//! directory): a maintained embedded store with ACID transactions whose commits are fsync'd
//! (redb's default `Durability::Immediate`), so an event acknowledged to its device survives a
//! kill or a power cut.
//!
//! - `events`: sequence number → arrival time (ms, 8 bytes big-endian) and the event's JSON
//!   line, in arrival order.
//! - `seen` / `seen_order`: the keys of the last `dedup_window` events, so that a message the
//!   broker delivers again (the agent died before acknowledging it) is not buffered twice.
//! - `inflight`: the range of the batch being sent, fixed before its first attempt (its id is
//!   derived from it): a retry after a crash sends the same events under the same batch id,
//!   which the node commits once.
//! - `quarantine`: events refused here or by the node, with the reason.
//! - `positions`: where each tailed file was read up to, committed with the events read.
//! - `windows_open` / `windows_closing` / `windows_clock`: the window aggregations' state (see
//!   [`crate::window`]), updated in the transaction that buffers the events it counts.
//! - `meta`: counters that must survive restarts (next sequence number, bytes held, the
//!   buffer's random id that prefixes every batch id).
//!
//! Events arrive in groups ([`Buffer::append`]): one transaction, one fsync per group.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::EdgeError;
use crate::config::Overflow;
use crate::window::{Folded, Windows};

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const SEEN: TableDefinition<&str, u64> = TableDefinition::new("seen");
const SEEN_ORDER: TableDefinition<u64, &str> = TableDefinition::new("seen_order");
const INFLIGHT: TableDefinition<&str, &str> = TableDefinition::new("inflight");
const QUARANTINE: TableDefinition<u64, &str> = TableDefinition::new("quarantine");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_TEXT: TableDefinition<&str, &str> = TableDefinition::new("meta_text");
const POSITIONS: TableDefinition<&str, &str> = TableDefinition::new("positions");

const NEXT_SEQ: &str = "next_seq";
const NEXT_QUARANTINE: &str = "next_quarantine";
const BYTES: &str = "bytes";
const BUFFER_ID: &str = "buffer_id";
const CURRENT: &str = "current";

/// Each of redb's error types, as a buffer error naming what failed.
macro_rules! buffer_error {
    ($($t:ty),*) => {$(
        impl From<$t> for EdgeError {
            fn from(e: $t) -> Self {
                EdgeError::Buffer(e.to_string())
            }
        }
    )*};
}
buffer_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// One event as it arrived, checked.
pub enum Incoming {
    /// A good event: its deduplication key, if the table has one, and its JSON line.
    Event { key: Option<String>, line: String },
    /// An event the contract refused.
    Refused {
        reason: String,
        payload: String,
        source: String,
    },
}

/// What a group's append did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Older events dropped to make room (`overflow = "drop_oldest"`).
    pub dropped: u64,
    /// What the window aggregations made of the accepted events.
    pub windows: Folded,
}

/// A quarantined event, as `agora-edge quarantine` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantinedEvent {
    pub reason: String,
    pub source: String,
    pub payload: String,
    pub at: String,
}

/// The batch being sent: the same events under the same id until the node has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub id: String,
    pub first: u64,
    pub last: u64,
    pub lines: Vec<String>,
    /// When each event of the batch arrived (ms since the epoch).
    pub arrivals: Vec<u64>,
}

/// What the buffer holds now.
#[derive(Debug, Default, Clone, Copy)]
pub struct Held {
    pub events: u64,
    pub bytes: u64,
    /// When the oldest event arrived (ms since the epoch), if any is held.
    pub oldest_ms: Option<u64>,
}

pub struct Buffer {
    db: Database,
    max_bytes: u64,
    overflow: Overflow,
    dedup_window: u64,
    id: String,
    /// The window aggregations over the accepted events, if any are configured.
    windows: Option<std::sync::Arc<Windows>>,
}

pub(crate) fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

fn event_value(line: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + line.len());
    v.extend_from_slice(&now_ms().to_be_bytes());
    v.extend_from_slice(line.as_bytes());
    v
}

/// The arrival time and line of a stored event.
fn split_event(v: &[u8]) -> (u64, String) {
    let (at, line) = v.split_at(8.min(v.len()));
    let at = at.try_into().map(u64::from_be_bytes).unwrap_or(0);
    (at, String::from_utf8_lossy(line).into_owned())
}

impl Buffer {
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        overflow: Overflow,
        dedup_window: u64,
    ) -> Result<Buffer, EdgeError> {
        std::fs::create_dir_all(dir).map_err(|e| EdgeError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let file = dir.join("buffer.redb");
        let db = Database::create(&file).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => EdgeError::Buffer(format!(
                "{} is held by a running agent: stop it first, or read its quarantine at /quarantine",
                file.display()
            )),
            e => e.into(),
        })?;
        let txn = db.begin_write()?;
        let id = {
            let mut text = txn.open_table(META_TEXT)?;
            let existing = text.get(BUFFER_ID)?.map(|v| v.value().to_string());
            match existing {
                Some(id) => id,
                None => {
                    let id = hex::encode(rand::random::<[u8; 8]>());
                    text.insert(BUFFER_ID, id.as_str())?;
                    id
                }
            }
        };
        // Every table exists from the first open on, so readers never meet a missing one.
        txn.open_table(EVENTS)?;
        txn.open_table(SEEN)?;
        txn.open_table(SEEN_ORDER)?;
        txn.open_table(INFLIGHT)?;
        txn.open_table(QUARANTINE)?;
        txn.open_table(META)?;
        txn.open_table(POSITIONS)?;
        txn.commit()?;
        Windows::prepare(&db)?;
        Ok(Buffer {
            db,
            max_bytes,
            overflow,
            dedup_window,
            id,
            windows: None,
        })
    }

    /// Counts every event accepted from now on into `windows`, in the transaction that
    /// buffers it.
    pub fn fold_into(&mut self, windows: std::sync::Arc<Windows>) {
        self.windows = Some(windows);
    }

    /// The redb database, for the window aggregations' own transactions.
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Appends one group of events in one transaction. With `overflow = "block"`, a group that
    /// does not fit is refused whole (`EdgeError::Full`): nothing of it is kept, so nothing is
    /// acknowledged, and the source tries again when batches have left.
    pub fn append(&self, group: &[Incoming]) -> Result<Appended, EdgeError> {
        self.append_at(group, None)
    }

    /// [`Self::append`], recording in the same transaction where a source has read up to
    /// (`(source, position)`, e.g. a tailed file's inode and offset): after a crash the source
    /// resumes exactly after the events the buffer holds.
    pub fn append_at(
        &self,
        group: &[Incoming],
        position: Option<(&str, &str)>,
    ) -> Result<Appended, EdgeError> {
        let mut done = Appended::default();
        let incoming: u64 = group
            .iter()
            .map(|i| match i {
                Incoming::Event { line, .. } => 8 + line.len() as u64,
                Incoming::Refused { .. } => 0,
            })
            .sum();
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let mut events = txn.open_table(EVENTS)?;
            let mut seen = txn.open_table(SEEN)?;
            let mut seen_order = txn.open_table(SEEN_ORDER)?;
            let mut quarantine = txn.open_table(QUARANTINE)?;
            let inflight_last = inflight_range(&txn.open_table(INFLIGHT)?)?.map(|(_, l)| l);
            let mut bytes = meta.get(BYTES)?.map_or(0, |v| v.value());
            if bytes + incoming > self.max_bytes {
                match self.overflow {
                    Overflow::Block => return Err(EdgeError::Full),
                    Overflow::DropOldest => {
                        // The oldest event after the batch in flight, which is never dropped.
                        let after_inflight = inflight_last.map_or(0, |l| l + 1);
                        while bytes + incoming > self.max_bytes {
                            let oldest = events
                                .range(after_inflight..)?
                                .next()
                                .map(|r| r.map(|(k, v)| (k.value(), v.value().len() as u64)))
                                .transpose()?;
                            let Some((seq, size)) = oldest else {
                                return Err(EdgeError::Full);
                            };
                            events.remove(seq)?;
                            bytes -= size.min(bytes);
                            done.dropped += 1;
                        }
                    }
                }
            }
            let mut next = meta.get(NEXT_SEQ)?.map_or(1, |v| v.value());
            let mut next_q = meta.get(NEXT_QUARANTINE)?.map_or(1, |v| v.value());
            let mut kept: Vec<&str> = Vec::new();
            for item in group {
                match item {
                    Incoming::Event { key, line } => {
                        if let Some(k) = key {
                            if seen.get(k.as_str())?.is_some() {
                                done.duplicates += 1;
                                continue;
                            }
                            seen.insert(k.as_str(), next)?;
                            seen_order.insert(next, k.as_str())?;
                        }
                        events.insert(next, event_value(line).as_slice())?;
                        kept.push(line.as_str());
                        bytes += 8 + line.len() as u64;
                        next += 1;
                        done.accepted += 1;
                    }
                    Incoming::Refused {
                        reason,
                        payload,
                        source,
                    } => {
                        quarantine_one(&mut quarantine, &mut next_q, reason, source, payload)?;
                        done.quarantined += 1;
                    }
                }
            }
            // Forget the oldest keys past the window.
            let excess = seen_order.len()?.saturating_sub(self.dedup_window);
            if excess > 0 {
                let old: Vec<(u64, String)> = seen_order
                    .iter()?
                    .take(excess as usize)
                    .map(|r| r.map(|(k, v)| (k.value(), v.value().to_string())))
                    .collect::<Result<_, _>>()?;
                for (seq, key) in old {
                    seen_order.remove(seq)?;
                    seen.remove(key.as_str())?;
                }
            }
            meta.insert(NEXT_SEQ, next)?;
            meta.insert(NEXT_QUARANTINE, next_q)?;
            meta.insert(BYTES, bytes)?;
            if let Some((source, at)) = position {
                txn.open_table(POSITIONS)?.insert(source, at)?;
            }
            drop((meta, events, seen, seen_order, quarantine));
            if let Some(w) = &self.windows {
                done.windows = w.fold(&txn, &kept, now_ms() as i64)?;
            }
        }
        txn.commit()?;
        Ok(done)
    }

    /// Where `source` had read up to, as [`Self::append_at`] recorded it.
    pub fn position(&self, source: &str) -> Result<Option<String>, EdgeError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(POSITIONS)?;
        Ok(table.get(source)?.map(|v| v.value().to_string()))
    }

    /// The batch to send: the one in flight if a send was under way, else a new one of the
    /// oldest `max_events` events, recorded as in flight before it is returned.
    pub fn next_batch(&self, max_events: usize) -> Result<Option<Batch>, EdgeError> {
        let txn = self.db.begin_write()?;
        let batch = {
            let mut inflight = txn.open_table(INFLIGHT)?;
            let events = txn.open_table(EVENTS)?;
            let (first, last) = match inflight_range(&inflight)? {
                Some(range) => range,
                None => {
                    let seqs: Vec<u64> = events
                        .iter()?
                        .take(max_events)
                        .map(|r| r.map(|(k, _)| k.value()))
                        .collect::<Result<_, _>>()?;
                    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
                        return Ok(None);
                    };
                    let range = serde_json::json!([first, last]).to_string();
                    inflight.insert(CURRENT, range.as_str())?;
                    (first, last)
                }
            };
            // The buffer's own id keeps batch ids apart across buffers (a data directory
            // started again from nothing numbers its events from 1 again).
            let id = format!("{}-{first}-{last}", self.id);
            let mut lines = Vec::new();
            let mut arrivals = Vec::new();
            for r in events.range(first..=last)? {
                let (_, v) = r?;
                let (at, line) = split_event(v.value());
                arrivals.push(at);
                lines.push(line);
            }
            Batch {
                id,
                first,
                last,
                lines,
                arrivals,
            }
        };
        txn.commit()?;
        Ok(Some(batch))
    }

    /// The node has the batch: its events leave the buffer.
    pub fn complete(&self, batch: &Batch) -> Result<(), EdgeError> {
        self.finish(batch, None)
    }

    /// The node refused the batch for what it holds: its events go to the quarantine with the
    /// node's reason, and leave the buffer.
    pub fn refuse(&self, batch: &Batch, reason: &str) -> Result<(), EdgeError> {
        self.finish(batch, Some(reason))
    }

    fn finish(&self, batch: &Batch, refused: Option<&str>) -> Result<(), EdgeError> {
        let txn = self.db.begin_write()?;
        {
            let mut events = txn.open_table(EVENTS)?;
            let mut meta = txn.open_table(META)?;
            let mut quarantine = txn.open_table(QUARANTINE)?;
            let mut next_q = meta.get(NEXT_QUARANTINE)?.map_or(1, |v| v.value());
            let mut freed = 0;
            for seq in batch.first..=batch.last {
                let Some(v) = events.remove(seq)? else {
                    continue;
                };
                let v = v.value().to_vec();
                freed += v.len() as u64;
                if let Some(reason) = refused {
                    let reason = format!("the node refused batch {}: {reason}", batch.id);
                    quarantine_one(
                        &mut quarantine,
                        &mut next_q,
                        &reason,
                        "node",
                        &split_event(&v).1,
                    )?;
                }
            }
            let bytes = meta.get(BYTES)?.map_or(0, |v| v.value());
            meta.insert(BYTES, bytes.saturating_sub(freed))?;
            meta.insert(NEXT_QUARANTINE, next_q)?;
            let mut inflight = txn.open_table(INFLIGHT)?;
            inflight.remove(CURRENT)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn held(&self) -> Result<Held, EdgeError> {
        let txn = self.db.begin_read()?;
        let events = txn.open_table(EVENTS)?;
        let meta = txn.open_table(META)?;
        let oldest_ms = events.first()?.map(|(_, v)| split_event(v.value()).0);
        Ok(Held {
            events: events.len()?,
            bytes: meta.get(BYTES)?.map_or(0, |v| v.value()),
            oldest_ms,
        })
    }

    /// Every quarantined event, oldest first.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedEvent>, EdgeError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(QUARANTINE)?;
        let mut out = Vec::new();
        for r in table.iter()? {
            let (_, v) = r?;
            if let Ok(q) = serde_json::from_str(v.value()) {
                out.push(q);
            }
        }
        Ok(out)
    }
}

/// Puts one event in the quarantine under the next quarantine number.
fn quarantine_one(
    table: &mut redb::Table<u64, &str>,
    next: &mut u64,
    reason: &str,
    source: &str,
    payload: &str,
) -> Result<(), EdgeError> {
    let q = QuarantinedEvent {
        reason: reason.to_string(),
        source: source.to_string(),
        payload: payload.to_string(),
        at: chrono::Utc::now().to_rfc3339(),
    };
    // A struct of four strings always serialises.
    let json = serde_json::to_string(&q).expect("a QuarantinedEvent serialises");
    table.insert(*next, json.as_str())?;
    *next += 1;
    Ok(())
}

fn inflight_range(
    table: &impl ReadableTable<&'static str, &'static str>,
) -> Result<Option<(u64, u64)>, EdgeError> {
    let Some(v) = table.get(CURRENT)? else {
        return Ok(None);
    };
    let range: (u64, u64) = serde_json::from_str(v.value())
        .map_err(|e| EdgeError::Buffer(format!("the in-flight batch record is damaged: {e}")))?;
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str) -> Incoming {
        Incoming::Event {
            key: Some(key.to_string()),
            line: format!(r#"{{"seq": {key}}}"#),
        }
    }

    fn open(dir: &Path, max: u64, overflow: Overflow) -> Buffer {
        Buffer::open(dir, max, overflow, 1000).unwrap()
    }

    #[test]
    fn a_batch_keeps_its_events_and_id_across_a_reopen_until_it_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let first_id;
        {
            let b = open(dir.path(), 1 << 20, Overflow::Block);
            let done = b.append(&[event("1"), event("2"), event("3")]).unwrap();
            assert_eq!(done.accepted, 3);
            let batch = b.next_batch(2).unwrap().unwrap();
            assert_eq!((batch.first, batch.last, batch.lines.len()), (1, 2, 2));
            first_id = batch.id;
            // More events arrive while the batch is in flight; then the agent dies.
            b.append(&[event("4")]).unwrap();
        }
        let b = open(dir.path(), 1 << 20, Overflow::Block);
        let again = b.next_batch(10).unwrap().unwrap();
        assert_eq!(
            (again.id.as_str(), again.first, again.last),
            (first_id.as_str(), 1, 2)
        );
        b.complete(&again).unwrap();
        let next = b.next_batch(10).unwrap().unwrap();
        assert_eq!((next.first, next.last), (3, 4));
        assert_ne!(next.id, first_id);
        b.complete(&next).unwrap();
        assert!(b.next_batch(10).unwrap().is_none());
        assert_eq!(b.held().unwrap().bytes, 0);
    }

    #[test]
    fn a_redelivered_event_is_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path(), 1 << 20, Overflow::Block);
        b.append(&[event("1"), event("2")]).unwrap();
        let done = b.append(&[event("2"), event("3")]).unwrap();
        assert_eq!((done.accepted, done.duplicates), (1, 1));
        // Also after the batch holding it has left.
        let batch = b.next_batch(10).unwrap().unwrap();
        b.complete(&batch).unwrap();
        assert_eq!(b.append(&[event("1")]).unwrap().duplicates, 1);
    }

    #[test]
    fn a_full_buffer_blocks_or_drops_the_oldest_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(&dir.path().join("block"), 100, Overflow::Block);
        b.append(&[event("1"), event("2"), event("3"), event("4")])
            .unwrap();
        assert!(matches!(
            b.append(&[event("5"), event("6")]),
            Err(EdgeError::Full)
        ));
        assert_eq!(b.held().unwrap().events, 4, "a refused group keeps nothing");

        let d = open(&dir.path().join("drop"), 100, Overflow::DropOldest);
        d.append(&[event("1"), event("2"), event("3"), event("4")])
            .unwrap();
        let in_flight = d.next_batch(1).unwrap().unwrap();
        let done = d.append(&[event("5"), event("6")]).unwrap();
        assert_eq!((done.accepted, done.dropped), (2, 1));
        // The batch in flight is never what is dropped.
        assert_eq!(d.next_batch(10).unwrap().unwrap(), in_flight);
    }

    #[test]
    fn refused_events_and_refused_batches_land_in_the_quarantine_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path(), 1 << 20, Overflow::Block);
        b.append(&[
            event("1"),
            Incoming::Refused {
                reason: "not JSON".into(),
                payload: "{oops".into(),
                source: "mqtt sensors/1".into(),
            },
        ])
        .unwrap();
        let batch = b.next_batch(10).unwrap().unwrap();
        b.refuse(&batch, "no write grant").unwrap();
        let q = b.quarantined().unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].reason, "not JSON");
        assert!(q[1].reason.contains("no write grant") && q[1].payload.contains("\"seq\""));
    }
}
