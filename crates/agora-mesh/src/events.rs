//! Events one by one (`POST /api/v1/tables/{domain}/{table}/events`): each is scored as it
//! arrives by the streaming detector of every numeric column of its table, kept durably in the
//! table's event buffer, and the buffer becomes an ordinary ingest — validation, quarantine,
//! rules, metrics, one Delta commit, one ledger batch — once it holds enough events or its
//! oldest one is old enough. The values the detector found anomalous are flagged in the
//! response and, once their ingest commits, in `domain.table__events` with the row they took.
//!
//! The buffer (`event_buffer.rs`) is a file of JSON lines under
//! `event_buffers/<domain>/<table>.ndjson`, written and synced before a request is answered,
//! so an answered event is never lost. A full or old
//! buffer is sealed (renamed `<table>.<flush id>.sealed`) and ingested in the background, so
//! no request waits for an ingest unless it asks (`?flush=true`); sealed buffers are ingested
//! one at a time, oldest first. A crash leaves the files, and the next flush (or the server's
//! start) ingests them. Its
//! first line names the flush (an idempotency key of the ingest) and the principal whose events
//! it holds, so a flush that a crash interrupted after its ingest committed is not ingested
//! twice; a buffer holds one principal's events (another's first flushes it).
//!
//! The detectors' state lives in memory: after a restart each column's detector warms up
//! again (no flag before [`agora_quality::DetectorConfig::warm_up`] values).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agora_ingest::COMMIT_METADATA_KEY;
use agora_model::{ContractTable, Principal, TableRef};
use agora_quality::{DetectorConfig, StreamingDetector};
use agora_storage::{TableKind, TableStore, events_schema};
use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde_json::Value;

pub use crate::event_buffer::Flag;
use crate::event_buffer::{BufferedEvent, append_events, read_buffer, read_header};
use crate::keys::io;
use crate::{IngestOptions, IngestReport, InputFormat, Mesh, MeshError, Source};

/// A buffer is ingested once it holds this many events…
pub const FLUSH_EVENTS: u64 = 10_000;
/// …or once its oldest event is this old.
pub const FLUSH_AGE: Duration = Duration::from_secs(2);
/// At most this many events in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 100_000;
const BUFFERS_DIR: &str = "event_buffers";

/// The buffers and detectors of a mesh's tables.
#[derive(Default)]
pub(crate) struct EventHub {
    tables: Mutex<HashMap<TableRef, TableSlot>>,
}

/// One table's state, and the lock that lets one of its buffers be ingested at a time.
#[derive(Default, Clone)]
struct TableSlot {
    state: Arc<tokio::sync::Mutex<TableEvents>>,
    flushing: Arc<tokio::sync::Mutex<()>>,
}

/// One table's detectors and buffer.
#[derive(Default)]
struct TableEvents {
    detectors: BTreeMap<String, StreamingDetector>,
    /// Events buffered, and when the oldest arrived (this process's clock).
    pending: u64,
    oldest: Option<Instant>,
    /// Whether a timer will flush the buffer once [`FLUSH_AGE`] has passed.
    timer: bool,
}

/// One event's verdict, in the response.
#[derive(Debug, Clone, Serialize)]
pub struct EventVerdict {
    /// The highest score of its values (1 is the bar of surprise).
    pub score: f64,
    pub anomalous: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

/// What `POST …/events` did.
#[derive(Debug, Clone, Serialize)]
pub struct EventsReport {
    pub table: String,
    pub accepted: u64,
    /// Events in the buffer after this request (0 after a flush).
    pub buffered: u64,
    /// Each event's verdict, in the order sent.
    pub events: Vec<EventVerdict>,
    /// The time scoring took, per event of the request, in microseconds.
    pub scoring_micros_per_event: f64,
    /// The ingest this request's flush made, if it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flushed: Option<IngestReport>,
    /// Why a flush this request started failed: the events stay buffered (they were answered,
    /// so they are kept) and the next flush retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_error: Option<String>,
}

/// A request body as events: a JSON object, an array of objects, or one object per line.
pub fn parse_events(body: &[u8]) -> Result<Vec<serde_json::Map<String, Value>>, MeshError> {
    let bad = |message: String| MeshError::bad_input("request body", message);
    let text = std::str::from_utf8(body).map_err(|_| bad("events are UTF-8 JSON".into()))?;
    let trimmed = text.trim_start();
    let values: Vec<(usize, Value)> = if trimmed.starts_with('[') {
        let array: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| bad(format!("line {}, column {}: {e}", e.line(), e.column())))?;
        array
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, v))
            .collect()
    } else {
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
            values.push((i + 1, value));
        }
        values
    };
    if values.is_empty() {
        return Err(bad(
            "no event: send a JSON object, an array of them, or one per line".into(),
        ));
    }
    if values.len() > MAX_EVENTS_PER_REQUEST {
        return Err(bad(format!(
            "{} events in one request; at most {MAX_EVENTS_PER_REQUEST}",
            values.len()
        )));
    }
    values
        .into_iter()
        .map(|(n, v)| match v {
            Value::Object(map) => Ok(map),
            other => Err(bad(format!(
                "event {n} is not a JSON object but {}",
                match other {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ))),
        })
        .collect()
}

/// The numeric columns of a table, whose values the detector scores.
fn numeric_columns(contract: &ContractTable) -> Vec<String> {
    contract
        .columns
        .iter()
        .filter(|c| {
            let t = &c.column_type.arrow;
            t.is_integer()
                || t.is_floating()
                || matches!(t, arrow::datatypes::DataType::Decimal128(..))
        })
        .map(|c| c.sql_name.to_string())
        .collect()
}

/// An event's value of a numeric column, when it sent a number (a string of digits too: the
/// ingest reads it as one).
fn number_of(event: &serde_json::Map<String, Value>, column: &str) -> Option<f64> {
    match event.get(column)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl EventHub {
    fn slot(&self, table: &TableRef) -> TableSlot {
        let mut tables = self
            .tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tables.entry(table.clone()).or_default().clone()
    }

    fn table(&self, table: &TableRef) -> Arc<tokio::sync::Mutex<TableEvents>> {
        self.slot(table).state
    }

    fn flushing(&self, table: &TableRef) -> Arc<tokio::sync::Mutex<()>> {
        self.slot(table).flushing
    }
}

impl Mesh {
    fn buffer_path(&self, table: &TableRef) -> PathBuf {
        // Names are strict identifiers: they cannot climb out of the directory.
        self.dir
            .join(BUFFERS_DIR)
            .join(table.domain.as_str())
            .join(format!("{}.ndjson", table.table))
    }

    /// Scores `body`'s events for `table`, buffers them durably, and flushes the buffer when it
    /// is full, old enough, or `flush` asks. Needs a write grant; a body that is not events is
    /// refused whole, before anything is buffered.
    pub async fn post_events(
        &self,
        actor: &Principal,
        table: &str,
        body: &[u8],
        flush: bool,
    ) -> Result<EventsReport, MeshError> {
        let (table, _, contract) = self.writable(actor, table, "send events to").await?;
        let events = parse_events(body)?;
        let state = self.events.table(&table);
        let mut state = state.lock().await;
        let path = self.buffer_path(&table);
        let mut header = read_header(&path)?;
        if let Some(h) = &header
            && h.principal != actor.name.as_str()
        {
            // A buffer is one principal's ingest: another's events go in the next one.
            self.seal(&table, &mut state)?;
            self.ingest_in_background(&table);
            header = None;
        }
        let columns = numeric_columns(&contract);
        let started = Instant::now();
        let mut verdicts = Vec::with_capacity(events.len());
        for event in &events {
            let mut score: f64 = 0.0;
            let mut flags = Vec::new();
            for column in &columns {
                let Some(value) = number_of(event, column) else {
                    continue;
                };
                let detector = state
                    .detectors
                    .entry(column.clone())
                    .or_insert_with(|| StreamingDetector::new(DetectorConfig::default()));
                let v = detector.observe(value);
                score = score.max(v.score);
                if v.is_anomaly {
                    flags.push(Flag {
                        column: column.clone(),
                        value,
                        score: v.score,
                        expected_low: v.expected.map(|e| e.0),
                        expected_high: v.expected.map(|e| e.1),
                        reason: v.reason,
                    });
                }
            }
            verdicts.push(EventVerdict {
                score,
                anomalous: !flags.is_empty(),
                flags,
            });
        }
        let scoring = started.elapsed().as_secs_f64() * 1e6 / events.len() as f64;
        append_events(
            &path,
            header.is_some(),
            actor,
            &events,
            verdicts.iter().map(|v| v.flags.as_slice()),
        )?;
        state.pending += events.len() as u64;
        state.oldest.get_or_insert_with(Instant::now);
        let flushed = if flush {
            // The caller waits for its events to be in the table.
            self.seal(&table, &mut state)?;
            drop(state);
            let result = self.ingest_sealed(&table).await.map(|mut r| r.pop());
            return Ok(EventsReport {
                table: table.to_string(),
                accepted: events.len() as u64,
                buffered: 0,
                events: verdicts,
                scoring_micros_per_event: scoring,
                flush_error: result.as_ref().err().map(|e| e.to_string()),
                flushed: result.ok().flatten(),
            });
        } else if state.pending >= FLUSH_EVENTS
            || state.oldest.is_some_and(|t| t.elapsed() >= FLUSH_AGE)
        {
            // Full or old: ingested in the background, so no request waits for an ingest.
            self.seal(&table, &mut state)?;
            self.ingest_in_background(&table);
            None
        } else {
            if !state.timer {
                state.timer = true;
                let mesh = self.clone();
                let table = table.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(FLUSH_AGE).await;
                    if let Err(e) = mesh.flush_events(&table).await {
                        tracing::warn!(table = %table, error = %e, "ingesting buffered events failed; the next flush retries");
                    }
                });
            }
            None
        };
        Ok(EventsReport {
            table: table.to_string(),
            accepted: events.len() as u64,
            buffered: state.pending,
            events: verdicts,
            scoring_micros_per_event: scoring,
            flushed,
            flush_error: None,
        })
    }

    fn ingest_in_background(&self, table: &TableRef) {
        let mesh = self.clone();
        let table = table.clone();
        tokio::spawn(async move {
            if let Err(e) = mesh.ingest_sealed(&table).await {
                tracing::warn!(table = %table, error = %e, "ingesting buffered events failed; the next flush retries");
            }
        });
    }

    /// Ingests `table`'s buffered events now, if it has any; returns the last ingest made.
    pub async fn flush_events(&self, table: &TableRef) -> Result<Option<IngestReport>, MeshError> {
        let state = self.events.table(table);
        let mut state = state.lock().await;
        state.timer = false;
        self.seal(table, &mut state)?;
        drop(state);
        Ok(self.ingest_sealed(table).await?.pop())
    }

    /// Ingests every buffer a stopped process left (`agora serve` calls it on start).
    pub async fn flush_event_buffers(&self) -> Result<Vec<IngestReport>, MeshError> {
        let root = self.dir.join(BUFFERS_DIR);
        let mut tables = std::collections::BTreeSet::new();
        let Ok(domains) = std::fs::read_dir(&root) else {
            return Ok(Vec::new());
        };
        for domain in domains.flatten() {
            let Ok(files) = std::fs::read_dir(domain.path()) else {
                continue;
            };
            for file in files.flatten() {
                let name = file.file_name().to_string_lossy().to_string();
                // `<table>.ndjson` (live) or `<table>.<flush id>.sealed`.
                let Some((table, _)) = name.split_once('.') else {
                    continue;
                };
                tables.insert(TableRef::parse(&format!(
                    "{}.{table}",
                    domain.file_name().to_string_lossy()
                ))?);
            }
        }
        let mut reports = Vec::new();
        for table in tables {
            let state = self.events.table(&table);
            let mut state = state.lock().await;
            self.seal(&table, &mut state)?;
            drop(state);
            reports.extend(self.ingest_sealed(&table).await?);
        }
        Ok(reports)
    }

    /// Renames the live buffer of `table` for ingest: new events start another.
    fn seal(&self, table: &TableRef, state: &mut TableEvents) -> Result<(), MeshError> {
        let live = self.buffer_path(table);
        if let Some(header) = read_header(&live)? {
            let sealed = live.with_file_name(format!("{}.{}.sealed", table.table, header.flush_id));
            std::fs::rename(&live, &sealed).map_err(io(&live))?;
        }
        state.pending = 0;
        state.oldest = None;
        Ok(())
    }

    /// Ingests the sealed buffers of `table`, oldest first, one flush at a time.
    async fn ingest_sealed(&self, table: &TableRef) -> Result<Vec<IngestReport>, MeshError> {
        let _one_at_a_time = self.events.flushing(table).lock_owned().await;
        let dir = self.dir.join(BUFFERS_DIR).join(table.domain.as_str());
        let prefix = format!("{}.", table.table);
        let mut sealed: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".sealed"))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        // Flush ids begin with their time: the names sort in the order the events came.
        sealed.sort();
        let mut reports = Vec::new();
        for path in sealed {
            if let Some(report) = self.ingest_buffer(table, &path).await? {
                reports.push(report);
            }
        }
        Ok(reports)
    }

    /// Ingests one sealed buffer, records its flags, and removes it; `None` when its ingest had
    /// committed already (a crash before its removal).
    async fn ingest_buffer(
        &self,
        table: &TableRef,
        path: &std::path::Path,
    ) -> Result<Option<IngestReport>, MeshError> {
        let Some((header, events)) = read_buffer(path)? else {
            std::fs::remove_file(path).map_err(io(path))?;
            return Ok(None);
        };
        let key = format!("events-{}", header.flush_id);
        let report = match self.catalog.earlier_ingest(table, "", Some(&key)).await? {
            Some(_) => None,
            None => {
                let actor = match self.principal(&header.principal).await {
                    Ok(p) => p,
                    // Deleted since: its answered events are still the table's data.
                    Err(_) => Principal::admin(),
                };
                let mut lines = Vec::new();
                for e in &events {
                    serde_json::to_writer(&mut lines, &e.event)
                        .map_err(|e| MeshError::Internal(format!("an event: {e}")))?;
                    lines.push(b'\n');
                }
                let options = IngestOptions {
                    format: Some(InputFormat::Json),
                    allow_duplicate: true,
                    idempotency_key: Some(key.clone()),
                    ..IngestOptions::default()
                };
                let source = Source::Bytes {
                    name: format!("events {}", header.flush_id),
                    bytes: lines.into(),
                };
                Some(
                    self.ingest(&actor, &table.to_string(), source, options)
                        .await?,
                )
            }
        };
        let ingest = self
            .catalog
            .earlier_ingest(table, "", Some(&key))
            .await?
            .ok_or_else(|| MeshError::Internal(format!("the ingest of {key} is not recorded")))?;
        record_flags(&self.store, table, &ingest.ingest_id, &events).await?;
        std::fs::remove_file(path).map_err(io(path))?;
        Ok(report)
    }
}

/// Writes the flags of `events` (row numbers from 1, as the ingest numbered them) to the
/// table's flagged events, in one commit marked with the ingest's id, unless it exists.
async fn record_flags(
    store: &TableStore,
    table: &TableRef,
    ingest_id: &str,
    events: &[BufferedEvent],
) -> Result<(), MeshError> {
    let flagged: Vec<(usize, &BufferedEvent, &Flag)> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| e.flags.iter().map(move |f| (i + 1, e, f)))
        .collect();
    if flagged.is_empty() {
        return Ok(());
    }
    let mark = (COMMIT_METADATA_KEY, ingest_id);
    if store
        .marked_commit(table, TableKind::Events, mark)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let micros = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| t.timestamp_micros())
            .ok()
    };
    let n = flagged.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            flagged
                .iter()
                .map(|(_, e, _)| micros(&e.received_at))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![ingest_id; n])),
        Arc::new(
            flagged
                .iter()
                .map(|(row, _, _)| Some(*row as i64))
                .collect::<Int64Array>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| Some(f.column.clone()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| Some(f.value))
                .collect::<Float64Array>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| Some(f.score))
                .collect::<Float64Array>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| f.expected_low)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| f.expected_high)
                .collect::<Float64Array>(),
        ),
        Arc::new(
            flagged
                .iter()
                .map(|(_, _, f)| Some(f.reason.clone()))
                .collect::<StringArray>(),
        ),
    ];
    let batch = RecordBatch::try_new(events_schema(), columns)
        .map_err(|e| MeshError::Internal(format!("building the flagged events: {e}")))?;
    let created = store
        .ensure(table, TableKind::Events, batch.schema())
        .await?;
    let mut appender = store.appender(created)?;
    appender.write(batch).await?;
    appender.commit_marked(mark).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_an_object_an_array_or_lines_of_objects() {
        assert_eq!(parse_events(br#"{"a": 1}"#).unwrap().len(), 1);
        assert_eq!(parse_events(br#"[{"a": 1}, {"a": 2}]"#).unwrap().len(), 2);
        assert_eq!(
            parse_events(b"{\"a\": 1}\n\n{\"a\": 2}\n").unwrap().len(),
            2
        );
        let err = parse_events(b"{\"a\": 1}\n{\"a\": \n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_events(b"[1]").unwrap_err().to_string();
        assert!(
            err.contains("event 1 is not a JSON object but a number"),
            "{err}"
        );
        assert!(parse_events(b"  ").is_err());
        assert!(parse_events(&[0xff, 0xfe]).is_err());
    }
}
