//! Window aggregations on the device (`[[window]]`): tumbling or sliding windows over event
//! time (a timestamp column of the event) or arrival time, per group (`by`), with `count`,
//! `sum`, `min`, `max`, `mean` and quantiles (`p95`: a t-digest, mergeable and bounded); each
//! closed window becomes one row of its own product table, sent like any event.
//!
//! Crash safety, in three steps that each survive a kill:
//!
//! 1. The open windows' state lives in the buffer's redb file and is updated in the same
//!    transaction that buffers the events it counts ([`Windows::fold`]): an event is counted
//!    exactly when it is buffered, and a redelivered duplicate neither.
//! 2. Closing moves the windows whose end the watermark has passed to `windows_closing` and
//!    records that watermark, in one transaction ([`Windows::close`]): from then on an event
//!    of such a window is late (counted, still buffered as an event, not aggregated).
//! 3. The closing windows' rows are appended to the output's own buffer, then forgotten. A
//!    crash between the two appends them again after the restart, and the output buffer drops
//!    the second as a duplicate (its key is the group and the window's start): each window is
//!    emitted once.
//!
//! Event-time windows close when the largest event time seen, less `lateness`, passes their
//! end; when no event has arrived for `size + lateness` (a device gone quiet), every open
//! window closes. Arrival-time windows close `lateness` after their end. Windows are aligned
//! to the Unix epoch in UTC.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tdigest::TDigest;

use crate::EdgeError;

mod spec;

pub use spec::{Aggregate, Spec, output_key, parse_aggregate};
use spec::{Clock, number};

const OPEN: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_open");
const CLOSING: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_closing");
const CLOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_clock");

/// Centroids a quantile digest keeps: about 1% rank error, a few KiB per window.
const DIGEST_SIZE: usize = 100;

/// One open window of one group.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    count: u64,
    columns: BTreeMap<String, ColumnState>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ColumnState {
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
    digest: Option<TDigest>,
}

impl Default for ColumnState {
    fn default() -> Self {
        ColumnState {
            n: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            digest: None,
        }
    }
}

/// Where a window spec's time has got to.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct Progress {
    /// The largest event time seen (event-time windows).
    max_event_ms: Option<i64>,
    /// Every window ending at or before this is closed: an event of one is late.
    closed_through_ms: Option<i64>,
    /// Windows open now (bounded by `max_open`).
    open: u64,
    /// When the last event arrived (wall clock), to close the windows of a quiet source.
    last_arrival_ms: i64,
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // postcard writes plain structs of numbers, maps and vectors to memory: it cannot fail.
    postcard::to_allocvec(v).expect("a window state encodes")
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8], what: &str) -> Result<T, EdgeError> {
    postcard::from_bytes(bytes)
        .map_err(|e| EdgeError::Buffer(format!("a damaged window {what} in the buffer: {e}")))
}

fn progress(txn: &WriteTransaction, table: &str) -> Result<Progress, EdgeError> {
    let clocks = txn.open_table(CLOCKS)?;
    let value = clocks.get(table)?;
    match value {
        Some(v) => decode(v.value(), "clock"),
        None => Ok(Progress::default()),
    }
}

/// What folding a group of events into their windows did, per (event, window) pair.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Folded {
    /// The window had closed already.
    pub late: u64,
    /// Not counted: the event has no time, its time is more than a window ahead of the
    /// agent's clock (a device clock gone wrong must not close every window), or it would open
    /// a window past `max_open`.
    pub skipped: u64,
}

/// A closed window's row, and the key to forget it by once the output buffer holds it.
pub struct ClosedRow {
    pub key: String,
    pub row: Value,
}

/// Every configured window.
pub struct Windows {
    pub specs: Vec<Spec>,
}

impl Windows {
    /// How often the emitter looks for windows to close: a quarter of the shortest slide,
    /// between 50 ms and 1 s.
    pub fn tick(&self) -> Duration {
        let shortest = self.specs.iter().map(|s| s.slide_ms).min().unwrap_or(1000);
        Duration::from_millis((shortest / 4).clamp(50, 1000))
    }

    /// Creates the tables, so that readers never meet a missing one.
    pub fn prepare(db: &Database) -> Result<(), EdgeError> {
        let txn = db.begin_write()?;
        txn.open_table(OPEN)?;
        txn.open_table(CLOSING)?;
        txn.open_table(CLOCKS)?;
        txn.commit()?;
        Ok(())
    }

    /// Counts the buffered `lines` (arrived at `now_ms`) into their open windows, inside the
    /// transaction that buffers them.
    pub fn fold(
        &self,
        txn: &WriteTransaction,
        lines: &[&str],
        now_ms: i64,
    ) -> Result<Folded, EdgeError> {
        let mut folded = Folded::default();
        if lines.is_empty() {
            return Ok(folded);
        }
        let events: Vec<Map<String, Value>> = lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        for spec in &self.specs {
            let mut clock = progress(txn, &spec.table)?;
            clock.last_arrival_ms = now_ms;
            let mut open = txn.open_table(OPEN)?;
            // What this group of events adds to each window, merged into the stored state once.
            let mut added: HashMap<String, (State, HashMap<String, Vec<f64>>)> = HashMap::new();
            let quantiles: Vec<&str> = spec.quantile_columns().collect();
            for event in &events {
                let Some(t) = spec.time_of(event, now_ms) else {
                    folded.skipped += 1;
                    continue;
                };
                if t > now_ms.saturating_add(spec.size_ms as i64) {
                    folded.skipped += 1;
                    continue;
                }
                if matches!(spec.clock, Clock::Event(..)) {
                    clock.max_event_ms = Some(clock.max_event_ms.map_or(t, |m| m.max(t)));
                }
                let group = spec.group_of(event);
                for start in spec.starts(t) {
                    let end = start + spec.size_ms as i64;
                    if clock.closed_through_ms.is_some_and(|c| end <= c) {
                        folded.late += 1;
                        continue;
                    }
                    let key = spec.key(start, &group);
                    if !added.contains_key(&key) && open.get(key.as_str())?.is_none() {
                        if clock.open >= spec.max_open {
                            folded.skipped += 1;
                            continue;
                        }
                        clock.open += 1;
                    }
                    let (state, values) = added.entry(key).or_default();
                    state.count += 1;
                    for (aggregate, _) in &spec.aggregates {
                        if let Some(c) = aggregate.column() {
                            state.columns.entry(c.to_string()).or_default();
                        }
                    }
                    for (c, column) in state.columns.iter_mut() {
                        let Some(v) = event.get(c).and_then(number).filter(|v| v.is_finite())
                        else {
                            continue;
                        };
                        column.n += 1;
                        column.sum += v;
                        column.min = column.min.min(v);
                        column.max = column.max.max(v);
                        if quantiles.contains(&c.as_str()) {
                            values.entry(c.clone()).or_default().push(v);
                        }
                    }
                }
            }
            for (key, (add, values)) in added {
                let mut state: State = match open.get(key.as_str())? {
                    Some(v) => decode(v.value(), "state")?,
                    None => State::default(),
                };
                state.count += add.count;
                for (c, a) in add.columns {
                    let s = state.columns.entry(c.clone()).or_default();
                    s.n += a.n;
                    s.sum += a.sum;
                    s.min = s.min.min(a.min);
                    s.max = s.max.max(a.max);
                    if let Some(v) = values.get(&c) {
                        let digest = s
                            .digest
                            .take()
                            .unwrap_or_else(|| TDigest::new_with_size(DIGEST_SIZE));
                        s.digest = Some(digest.merge_unsorted(v.clone()));
                    }
                }
                open.insert(key.as_str(), encode(&state).as_slice())?;
            }
            drop(open);
            txn.open_table(CLOCKS)?
                .insert(spec.table.as_str(), encode(&clock).as_slice())?;
        }
        Ok(folded)
    }

    /// Step 2: moves the windows the watermark has passed to the closing table and records
    /// the watermark, in one transaction. Returns how many windows closed.
    pub fn close(&self, db: &Database, now_ms: i64) -> Result<u64, EdgeError> {
        let txn = db.begin_write()?;
        let mut closed = 0;
        for spec in &self.specs {
            let mut clock = progress(&txn, &spec.table)?;
            let mut open = txn.open_table(OPEN)?;
            let prefix = spec.prefix();
            let keys: Vec<(String, i64)> = open
                .range(prefix.as_str()..)?
                .map(|r| r.map(|(k, _)| k.value().to_string()))
                .take_while(|k| k.as_ref().map_or(true, |k| k.starts_with(&prefix)))
                .filter_map(|k| match k {
                    Ok(k) => spec.parse_key(&k).map(|(s, _)| Ok((k, s))),
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()?;
            if keys.is_empty() {
                continue;
            }
            let lateness = spec.lateness_ms as i64;
            let size = spec.size_ms as i64;
            let mut watermark = match spec.clock {
                Clock::Arrival => now_ms - lateness,
                Clock::Event(..) => clock.max_event_ms.map_or(i64::MIN, |m| m - lateness),
            };
            let quiet = now_ms - clock.last_arrival_ms >= size + lateness;
            if quiet {
                let latest_end = keys.iter().map(|(_, s)| s + size).max().unwrap_or(i64::MIN);
                watermark = watermark.max(latest_end);
            }
            let mut closing = txn.open_table(CLOSING)?;
            for (key, start) in keys {
                if start + size > watermark {
                    continue;
                }
                let state = open
                    .remove(key.as_str())?
                    .map(|v| v.value().to_vec())
                    .unwrap_or_default();
                closing.insert(key.as_str(), state.as_slice())?;
                closed += 1;
                clock.open = clock.open.saturating_sub(1);
                clock.closed_through_ms = Some(
                    clock
                        .closed_through_ms
                        .map_or(start + size, |c| c.max(start + size)),
                );
            }
            drop((open, closing));
            txn.open_table(CLOCKS)?
                .insert(spec.table.as_str(), encode(&clock).as_slice())?;
        }
        txn.commit()?;
        Ok(closed)
    }

    /// Step 3's rows: every closing window of `spec`.
    pub fn closing(&self, db: &Database, spec: &Spec) -> Result<Vec<ClosedRow>, EdgeError> {
        use redb::ReadableDatabase;
        let txn = db.begin_read()?;
        let closing = txn.open_table(CLOSING)?;
        let prefix = spec.prefix();
        let mut rows = Vec::new();
        for r in closing.range(prefix.as_str()..)? {
            let (k, v) = r?;
            let key = k.value().to_string();
            if !key.starts_with(&prefix) {
                break;
            }
            let Some((start, group)) = spec.parse_key(&key) else {
                continue;
            };
            let state: State = decode(v.value(), "state")?;
            rows.push(ClosedRow {
                row: spec.row(start, &group, &state),
                key,
            });
        }
        Ok(rows)
    }

    /// Forgets closing windows whose rows the output buffer holds.
    pub fn forget(&self, db: &Database, keys: &[String]) -> Result<(), EdgeError> {
        let txn = db.begin_write()?;
        {
            let mut closing = txn.open_table(CLOSING)?;
            for k in keys {
                closing.remove(k.as_str())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Windows of `spec` open now, for the metrics.
    pub fn open_count(&self, db: &Database, spec: &Spec) -> Result<u64, EdgeError> {
        use redb::ReadableDatabase;
        let txn = db.begin_read()?;
        let clocks = txn.open_table(CLOCKS)?;
        let value = clocks.get(spec.table.as_str())?;
        Ok(match value {
            Some(v) => decode::<Progress>(v.value(), "clock")?.open,
            None => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WindowSection;
    use crate::contract::Validator;

    #[test]
    fn a_state_with_a_digest_encodes_and_decodes() {
        let mut s = State {
            count: 3,
            ..State::default()
        };
        s.columns.insert(
            "t".into(),
            ColumnState {
                n: 3,
                sum: 6.0,
                min: 1.0,
                max: 3.0,
                digest: Some(
                    TDigest::new_with_size(DIGEST_SIZE).merge_unsorted(vec![1.0, 2.0, 3.0]),
                ),
            },
        );
        let back: State = decode(&encode(&s), "state").unwrap();
        assert_eq!(back.count, 3);
        let c = &back.columns["t"];
        assert_eq!((c.n, c.sum, c.min, c.max), (3, 6.0, 1.0, 3.0));
        assert_eq!(c.digest.as_ref().unwrap().estimate_quantile(0.5), 2.0);
        assert!(decode::<State>(&[0xff, 0xff, 0xff], "state").is_err());
    }

    const SOURCE: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: r
name: r
version: 1.0.0
status: active
domain: iot
schema:
  - name: r
    properties:
      - name: seq
        logicalType: integer
        primaryKey: true
      - name: device
        logicalType: string
      - name: at
        logicalType: timestamp
      - name: t
        logicalType: number
      - name: label
        logicalType: string
"#;

    const OUTPUT: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: w
name: w
version: 1.0.0
status: active
domain: iot
schema:
  - name: w
    properties:
      - name: device
        logicalType: string
      - name: window_start
        logicalType: timestamp
      - name: window_end
        logicalType: timestamp
      - name: count
        logicalType: integer
      - name: t_sum
        logicalType: number
      - name: t_p90
        logicalType: number
"#;

    fn section(extra: &str) -> WindowSection {
        toml::from_str(&format!(
            "table = \"iot.w\"\nsize = \"1m\"\ntime = \"at\"\nby = [\"device\"]\naggregates = [\"count\", \"sum(t)\", \"p90(t)\"]\n{extra}"
        ))
        .unwrap()
    }

    fn validators() -> (Validator, Validator) {
        (
            Validator::new(SOURCE, "iot.r", None).unwrap(),
            Validator::new(OUTPUT, "iot.w", Some(&[])).unwrap(),
        )
    }

    /// A buffer in `dir` folding into windows of `section`.
    fn buffer(
        dir: &std::path::Path,
        section: &WindowSection,
    ) -> (crate::buffer::Buffer, std::sync::Arc<Windows>) {
        let (source, output) = validators();
        let windows = std::sync::Arc::new(Windows {
            specs: vec![Spec::new(section, &source, &output).unwrap()],
        });
        let mut b = crate::buffer::Buffer::open(dir, 1 << 20, crate::config::Overflow::Block, 1000)
            .unwrap();
        b.fold_into(std::sync::Arc::clone(&windows));
        (b, windows)
    }

    fn event(seq: u64, device: &str, second: u64, t: f64) -> crate::buffer::Incoming {
        let line = format!(
            "{{\"seq\":{seq},\"device\":\"{device}\",\"at\":\"2026-01-01T00:{:02}:{:02}Z\",\"t\":{t}}}",
            second / 60,
            second % 60
        );
        crate::buffer::Incoming::Event {
            key: Some(seq.to_string()),
            line,
        }
    }

    fn closed_rows(b: &crate::buffer::Buffer, w: &Windows) -> Vec<Value> {
        w.close(b.database(), i64::MAX / 2).unwrap();
        let rows = w.closing(b.database(), &w.specs[0]).unwrap();
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        w.forget(b.database(), &keys).unwrap();
        rows.into_iter().map(|r| r.row).collect()
    }

    #[test]
    fn tumbling_windows_count_each_buffered_event_once_per_group() {
        let dir = tempfile::tempdir().unwrap();
        let (b, w) = buffer(dir.path(), &section(""));
        let group: Vec<_> = (0..100)
            .map(|i| event(i, if i % 2 == 0 { "a" } else { "b" }, i, i as f64))
            .collect();
        b.append(&group).unwrap();
        // Redelivered: the buffer drops them, and the windows do not count them again.
        let again = b.append(&group[..10]).unwrap();
        assert_eq!(again.duplicates, 10);
        // Nothing has passed the end of the second minute yet: one window closes per group.
        w.close(b.database(), 0).unwrap();
        let rows = w.closing(b.database(), &w.specs[0]).unwrap();
        let mut got: Vec<(String, String, i64, f64)> = rows
            .iter()
            .map(|r| {
                (
                    r.row["device"].as_str().unwrap().to_string(),
                    r.row["window_start"].as_str().unwrap().to_string(),
                    r.row["count"].as_i64().unwrap(),
                    r.row["t_sum"].as_f64().unwrap(),
                )
            })
            .collect();
        got.sort_by(|x, y| x.partial_cmp(y).unwrap());
        // Even seconds 0–58 in minute 0 for `a` (30 events, sum 870), odd for `b` (sum 900).
        assert_eq!(
            got,
            vec![
                ("a".into(), "2026-01-01T00:00:00.000Z".into(), 30, 870.0),
                ("b".into(), "2026-01-01T00:00:00.000Z".into(), 30, 900.0),
            ]
        );
        assert_eq!(rows[0].row["window_end"], "2026-01-01T00:01:00.000Z");
        assert!(rows.iter().all(|r| r.row["count"].is_i64()));
    }

    #[test]
    fn closing_again_after_a_crash_gives_the_same_rows_and_late_events_leave_them_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (b, w) = buffer(dir.path(), &section(""));
        b.append(&(0..130).map(|i| event(i, "a", i, 1.0)).collect::<Vec<_>>())
            .unwrap();
        w.close(b.database(), 0).unwrap();
        let first = w.closing(b.database(), &w.specs[0]).unwrap();
        assert_eq!(first.len(), 2, "minutes 0 and 1 closed, 2 open");
        // The agent dies before forgetting them: the same rows come again.
        drop((b, w));
        let (b, w) = buffer(dir.path(), &section(""));
        w.close(b.database(), 0).unwrap();
        let again = w.closing(b.database(), &w.specs[0]).unwrap();
        assert_eq!(
            first.iter().map(|r| &r.row).collect::<Vec<_>>(),
            again.iter().map(|r| &r.row).collect::<Vec<_>>()
        );
        let keys: Vec<String> = again.iter().map(|r| r.key.clone()).collect();
        w.forget(b.database(), &keys).unwrap();
        // A reading of minute 0 now: late, not counted, and no window of minute 0 reopens.
        let done = b.append(&[event(500, "a", 30, 1.0)]).unwrap();
        assert_eq!((done.accepted, done.windows.late), (1, 1));
        let rows = closed_rows(&b, &w);
        assert_eq!(rows.len(), 1, "only minute 2: {rows:?}");
        assert_eq!(rows[0]["window_start"], "2026-01-01T00:02:00.000Z");
        assert_eq!(rows[0]["count"], 10);
    }

    #[test]
    fn sliding_windows_hold_every_event_of_their_span_and_quantiles_come_from_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let (b, w) = buffer(dir.path(), &section("slide = \"30s\""));
        // One event a second for two minutes, t = 0..119.
        b.append(
            &(0..120)
                .map(|i| event(i, "a", i, i as f64))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let rows = closed_rows(&b, &w);
        let spans: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r["window_start"].as_str().unwrap(),
                    r["count"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            spans,
            vec![
                ("2025-12-31T23:59:30.000Z", 30),
                ("2026-01-01T00:00:00.000Z", 60),
                ("2026-01-01T00:00:30.000Z", 60),
                ("2026-01-01T00:01:00.000Z", 60),
                ("2026-01-01T00:01:30.000Z", 30),
            ]
        );
        // The window 00:00:30–00:01:30 holds t = 30..89: its 90th percentile is about 83.5.
        let p90 = rows[2]["t_p90"].as_f64().unwrap();
        assert!((p90 - 83.5).abs() <= 1.5, "{p90}");
    }

    #[test]
    fn a_clock_far_ahead_and_too_many_groups_do_not_take_over_the_windows() {
        let dir = tempfile::tempdir().unwrap();
        let (b, w) = buffer(dir.path(), &section("max_open = 3"));
        // A device whose clock says 2099: not aggregated, and it closes nothing.
        let ahead = crate::buffer::Incoming::Event {
            key: Some("1".into()),
            line: r#"{"seq":1,"device":"a","at":"2099-01-01T00:00:00Z","t":1}"#.into(),
        };
        let done = b.append(&[ahead]).unwrap();
        assert_eq!((done.accepted, done.windows.skipped), (1, 1));
        // Five devices, three windows allowed: two devices' events are not aggregated.
        let group: Vec<_> = (0..5)
            .map(|i| event(10 + i, &format!("d{i}"), 5, 1.0))
            .collect();
        let done = b.append(&group).unwrap();
        assert_eq!((done.accepted, done.windows.skipped), (5, 2));
        assert_eq!(w.open_count(b.database(), &w.specs[0]).unwrap(), 3);
        assert_eq!(closed_rows(&b, &w).len(), 3);
        assert_eq!(w.open_count(b.database(), &w.specs[0]).unwrap(), 0);
    }

    #[test]
    fn a_window_naming_what_the_tables_lack_is_refused_with_the_key() {
        let (source, output) = validators();
        let refused = |extra: &str, aggregates: &str| {
            let size = if extra.starts_with("size") {
                ""
            } else {
                "size = \"1m\"\n"
            };
            let text = format!(
                "table = \"iot.w\"\n{size}by = [\"device\"]\naggregates = {aggregates}\n{extra}"
            );
            let s: WindowSection = toml::from_str(&text).unwrap();
            Spec::new(&s, &source, &output).unwrap_err().to_string()
        };
        let e = refused("", "[\"count\", \"sum(t)\", \"max(t)\"]");
        assert!(e.contains("window.table") && e.contains("t_max"), "{e}");
        let e = refused("", "[\"sum(label)\"]");
        assert!(e.contains("`label` is not numeric"), "{e}");
        let e = refused("time = \"label\"", "[\"count\"]");
        assert!(e.contains("window.time"), "{e}");
        let e = refused("slide = \"25s\"", "[\"count\"]");
        assert!(e.contains("window.slide"), "{e}");
        let required = OUTPUT.replace(
            "      - name: t_p90\n",
            "      - name: t_p90\n        required: true\n",
        );
        let strict = Validator::new(&required, "iot.w", Some(&[])).unwrap();
        let s: WindowSection = toml::from_str(
            "table = \"iot.w\"\nsize = \"1m\"\nby = [\"device\"]\naggregates = [\"count\"]",
        )
        .unwrap();
        let e = Spec::new(&s, &source, &strict).unwrap_err().to_string();
        assert!(e.contains("requires `t_p90`"), "{e}");
        let e = refused("", "[\"sum(nope)\"]");
        assert!(e.contains("`nope` is not a column"), "{e}");
        let e = refused("size = \"soon\"", "[\"count\"]");
        assert!(e.contains("window.size"), "{e}");
    }
}
