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

use arrow::datatypes::{DataType, TimeUnit};
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tdigest::TDigest;

use crate::EdgeError;
use crate::config::WindowSection;
use crate::contract::Validator;

const OPEN: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_open");
const CLOSING: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_closing");
const CLOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("windows_clock");

/// Separates the parts of a state key: the output table, the window's start, the group.
const SEP: char = '\u{1f}';
/// Centroids a quantile digest keeps: about 1% rank error, a few KiB per window.
const DIGEST_SIZE: usize = 100;

/// One aggregate of a window row.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// Events in the window.
    Count,
    /// Events with a value in the column.
    CountOf(String),
    Sum(String),
    Min(String),
    Max(String),
    Mean(String),
    /// The quantile (0 < q < 1) of the column's values.
    Quantile(String, f64),
}

impl Aggregate {
    fn column(&self) -> Option<&str> {
        match self {
            Aggregate::Count => None,
            Aggregate::CountOf(c)
            | Aggregate::Sum(c)
            | Aggregate::Min(c)
            | Aggregate::Max(c)
            | Aggregate::Mean(c)
            | Aggregate::Quantile(c, _) => Some(c),
        }
    }
}

/// `count`, `count(c)`, `sum(c)`, `min(c)`, `max(c)`, `mean(c)` or `pNN(c)` (a quantile in
/// percent, e.g. `p95`, `p99.9`), optionally `… as name`; the default name is `count` or the
/// column and the function, `temperature_p95`.
pub fn parse_aggregate(text: &str) -> Result<(Aggregate, String), String> {
    let (expr, alias) = match text.split_once(" as ") {
        Some((e, a)) => (e.trim(), Some(a.trim().to_string())),
        None => (text.trim(), None),
    };
    let bad = || {
        format!(
            "`{text}`: expected count, count(c), sum(c), min(c), max(c), mean(c) or pNN(c), optionally followed by `as name`"
        )
    };
    if expr == "count" {
        return Ok((Aggregate::Count, alias.unwrap_or_else(|| "count".into())));
    }
    let (function, rest) = expr.split_once('(').ok_or_else(bad)?;
    let column = rest.strip_suffix(')').ok_or_else(bad)?.trim().to_string();
    if column.is_empty() {
        return Err(bad());
    }
    let function = function.trim();
    let aggregate = match function {
        "count" => Aggregate::CountOf(column.clone()),
        "sum" => Aggregate::Sum(column.clone()),
        "min" => Aggregate::Min(column.clone()),
        "max" => Aggregate::Max(column.clone()),
        "mean" | "avg" => Aggregate::Mean(column.clone()),
        p if p.starts_with('p') => {
            let percent: f64 = p[1..].parse().map_err(|_| bad())?;
            if !(percent > 0.0 && percent < 100.0) {
                return Err(format!("`{text}`: a quantile is between p0 and p100"));
            }
            Aggregate::Quantile(column.clone(), percent / 100.0)
        }
        _ => return Err(bad()),
    };
    let name = alias.unwrap_or_else(|| format!("{column}_{}", function.replace('.', "_")));
    Ok((aggregate, name))
}

/// A duration as `500ms`, `10s`, `5m`, `1h`, `1d`.
fn parse_duration(key: &'static str, text: &str) -> Result<u64, EdgeError> {
    let d: Duration = humantime::parse_duration(text).map_err(|e| EdgeError::Setting {
        key,
        message: format!("`{text}`: {e} (e.g. 500ms, 10s, 5m, 1h)"),
    })?;
    Ok(d.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// Where an event's time comes from.
#[derive(Debug, Clone)]
enum Clock {
    /// A column of the event, of this Arrow type.
    Event(String, DataType),
    /// When the event reached the buffer.
    Arrival,
}

/// One configured window, checked against the source table and its output table.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The output product table, `domain.table`.
    pub table: String,
    size_ms: u64,
    /// A new window starts every `slide_ms` (equal to the size for tumbling windows).
    slide_ms: u64,
    lateness_ms: u64,
    clock: Clock,
    /// Group columns: each combination of their values has its own windows.
    pub by: Vec<String>,
    aggregates: Vec<(Aggregate, String)>,
    /// The most windows open at once (groups × overlapping windows).
    max_open: u64,
    /// Output columns of an integer type, so that a whole number is written as one.
    integer_outputs: Vec<String>,
}

/// The output table's columns that identify a window row: its group and start.
pub fn output_key(section: &WindowSection) -> Vec<String> {
    let mut key = section.by.clone();
    key.push("window_start".into());
    key
}

fn numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..))
}

impl Spec {
    /// Checks `section` against the events' table (`source`) and the window's own table
    /// (`output`): every named column exists, aggregated columns are numeric, and every output
    /// column the rows carry is a column of the output table.
    pub fn new(
        section: &WindowSection,
        source: &Validator,
        output: &Validator,
    ) -> Result<Spec, EdgeError> {
        let setting = |key: &'static str, message: String| EdgeError::Setting { key, message };
        let size_ms = parse_duration("window.size", &section.size)?;
        if size_ms == 0 {
            return Err(setting("window.size", "at least 1ms".into()));
        }
        let slide_ms = match &section.slide {
            Some(s) => parse_duration("window.slide", s)?,
            None => size_ms,
        };
        if slide_ms == 0 || slide_ms > size_ms || size_ms % slide_ms != 0 {
            return Err(setting(
                "window.slide",
                format!(
                    "`{}` must divide the size `{}` (a sliding window starts every slide)",
                    section.slide.as_deref().unwrap_or(""),
                    section.size
                ),
            ));
        }
        let lateness_ms = match &section.lateness {
            Some(l) => parse_duration("window.lateness", l)?,
            None => 0,
        };
        let in_source = |key: &'static str, c: &str| {
            source
                .schema()
                .field_with_name(c)
                .map(|f| f.data_type().clone())
                .map_err(|_| {
                    setting(
                        key,
                        format!("`{c}` is not a column of {}", section_source(source)),
                    )
                })
        };
        let clock = match &section.time {
            Some(c) => {
                let t = in_source("window.time", c)?;
                if !matches!(t, DataType::Timestamp(..) | DataType::Date32) {
                    return Err(setting(
                        "window.time",
                        format!("`{c}` is not a timestamp or date column ({t})"),
                    ));
                }
                Clock::Event(c.clone(), t)
            }
            None => Clock::Arrival,
        };
        for c in &section.by {
            in_source("window.by", c)?;
        }
        if section.aggregates.is_empty() {
            return Err(setting(
                "window.aggregates",
                "name at least one, e.g. [\"count\", \"mean(temperature)\"]".into(),
            ));
        }
        let mut aggregates = Vec::new();
        for text in &section.aggregates {
            let (aggregate, name) =
                parse_aggregate(text).map_err(|m| setting("window.aggregates", m))?;
            if let Some(c) = aggregate.column() {
                let t = in_source("window.aggregates", c)?;
                if !numeric(&t) {
                    return Err(setting(
                        "window.aggregates",
                        format!("`{c}` is not numeric ({t})"),
                    ));
                }
            }
            aggregates.push((aggregate, name));
        }
        let mut outputs: Vec<&str> = section.by.iter().map(String::as_str).collect();
        outputs.extend(["window_start", "window_end"]);
        outputs.extend(aggregates.iter().map(|(_, n)| n.as_str()));
        // A required column the rows do not carry would send every row to the quarantine.
        if let Some(missing) = output.required_columns().find(|c| !outputs.contains(c)) {
            return Err(setting(
                "window.aggregates",
                format!(
                    "{} requires `{}`, which the window rows do not carry (they carry {})",
                    section.table,
                    missing,
                    outputs.join(", ")
                ),
            ));
        }
        let mut integer_outputs = Vec::new();
        for name in outputs {
            let field = output.schema().field_with_name(name).map_err(|_| {
                setting(
                    "window.table",
                    format!(
                        "the window rows carry `{name}`, which is not a column of {}",
                        section.table
                    ),
                )
            })?;
            if field.data_type().is_integer() {
                integer_outputs.push(name.to_string());
            }
        }
        Ok(Spec {
            table: section.table.clone(),
            size_ms,
            slide_ms,
            lateness_ms,
            clock,
            by: section.by.clone(),
            aggregates,
            max_open: section.max_open,
            integer_outputs,
        })
    }

    /// The starts of the windows an event at `t` (ms) belongs to.
    fn starts(&self, t: i64) -> impl Iterator<Item = i64> + use<> {
        let (size, slide) = (self.size_ms as i64, self.slide_ms as i64);
        let last = t.div_euclid(slide) * slide;
        (0..size / slide)
            .map(move |k| last - k * slide)
            .filter(move |s| t < s + size)
    }

    /// The event's time in ms since the epoch: its time column, or its arrival.
    fn time_of(&self, event: &Map<String, Value>, arrived_ms: i64) -> Option<i64> {
        match &self.clock {
            Clock::Arrival => Some(arrived_ms),
            Clock::Event(column, t) => event_time(event.get(column)?, t),
        }
    }

    fn group_of(&self, event: &Map<String, Value>) -> String {
        let values: Vec<&Value> = self
            .by
            .iter()
            .map(|c| event.get(c).unwrap_or(&Value::Null))
            .collect();
        // A list of JSON values always serialises.
        serde_json::to_string(&values).expect("JSON values serialise")
    }

    fn prefix(&self) -> String {
        format!("{}{SEP}", self.table)
    }

    fn key(&self, start: i64, group: &str) -> String {
        // Offset so that negative starts (before 1970) sort before positive ones.
        let ordered = (start as i128 + i64::MAX as i128 + 1) as u64;
        format!("{}{SEP}{ordered:020}{SEP}{group}", self.table)
    }

    fn parse_key(&self, key: &str) -> Option<(i64, String)> {
        let rest = key.strip_prefix(&self.prefix())?;
        let (start, group) = rest.split_once(SEP)?;
        let ordered: u64 = start.parse().ok()?;
        let start = (ordered as i128 - i64::MAX as i128 - 1) as i64;
        Some((start, group.to_string()))
    }

    /// The window row of a closed window.
    fn row(&self, start: i64, group: &str, state: &State) -> Value {
        let mut row = Map::new();
        let values: Vec<Value> = serde_json::from_str(group).unwrap_or_default();
        for (c, v) in self.by.iter().zip(values) {
            row.insert(c.clone(), v);
        }
        row.insert("window_start".into(), Value::String(rfc3339(start)));
        row.insert(
            "window_end".into(),
            Value::String(rfc3339(start + self.size_ms as i64)),
        );
        for (aggregate, name) in &self.aggregates {
            let column = aggregate.column().and_then(|c| state.columns.get(c));
            let value = match aggregate {
                Aggregate::Count => Some(state.count as f64),
                Aggregate::CountOf(_) => Some(column.map_or(0.0, |c| c.n as f64)),
                Aggregate::Sum(_) => Some(column.map_or(0.0, |c| c.sum)),
                Aggregate::Min(_) => column.filter(|c| c.n > 0).map(|c| c.min),
                Aggregate::Max(_) => column.filter(|c| c.n > 0).map(|c| c.max),
                Aggregate::Mean(_) => column.filter(|c| c.n > 0).map(|c| c.sum / c.n as f64),
                Aggregate::Quantile(_, q) => column
                    .and_then(|c| c.digest.as_ref())
                    .filter(|d| !d.is_empty())
                    .map(|d| d.estimate_quantile(*q)),
            };
            let json = match value {
                None => Value::Null,
                Some(v) if self.integer_outputs.contains(name) && v.fract() == 0.0 => {
                    Value::from(v as i64)
                }
                Some(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
            };
            row.insert(name.clone(), json);
        }
        Value::Object(row)
    }

    fn quantile_columns(&self) -> impl Iterator<Item = &str> {
        self.aggregates.iter().filter_map(|(a, _)| match a {
            Aggregate::Quantile(c, _) => Some(c.as_str()),
            _ => None,
        })
    }
}

fn section_source(source: &Validator) -> String {
    format!(
        "the events' table ({} columns)",
        source.schema().fields().len()
    )
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// A timestamp value as the node's decoder reads it: an RFC 3339 or ISO 8601 text (UTC when
/// it has no offset), or a number in the column's unit (days for a date).
fn event_time(v: &Value, t: &DataType) -> Option<i64> {
    match v {
        Value::String(s) => {
            if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(s) {
                return Some(ts.timestamp_millis());
            }
            for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(s, format) {
                    return Some(ts.and_utc().timestamp_millis());
                }
            }
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
        }
        Value::Number(n) => {
            let n = n.as_i64()?;
            match t {
                DataType::Date32 => n.checked_mul(86_400_000),
                DataType::Timestamp(TimeUnit::Second, _) => n.checked_mul(1000),
                DataType::Timestamp(TimeUnit::Millisecond, _) => Some(n),
                DataType::Timestamp(TimeUnit::Microsecond, _) => Some(n / 1000),
                DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(n / 1_000_000),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A numeric JSON value (decimals may come as text).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

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

    #[test]
    fn aggregates_parse_with_their_default_names_and_aliases() {
        let p = |t: &str| parse_aggregate(t).unwrap();
        assert_eq!(p("count"), (Aggregate::Count, "count".into()));
        assert_eq!(
            p("mean(temperature)"),
            (
                Aggregate::Mean("temperature".into()),
                "temperature_mean".into()
            )
        );
        let (tail, name) = p("p99.9(t) as t_tail");
        assert_eq!(name, "t_tail");
        assert!(matches!(tail, Aggregate::Quantile(c, q) if c == "t" && (q - 0.999).abs() < 1e-12));
        assert_eq!(p("p99.9(t)").1, "t_p99_9");
        assert_eq!(
            p("p95( t )"),
            (Aggregate::Quantile("t".into(), 0.95), "t_p95".into())
        );
        for bad in [
            "median(t)",
            "sum",
            "sum()",
            "p100(t)",
            "p0(t)",
            "px(t)",
            "max(t",
        ] {
            assert!(parse_aggregate(bad).is_err(), "{bad}");
        }
    }

    fn spec(size: u64, slide: u64) -> Spec {
        Spec {
            table: "iot.w".into(),
            size_ms: size,
            slide_ms: slide,
            lateness_ms: 0,
            clock: Clock::Arrival,
            by: vec![],
            aggregates: vec![],
            max_open: 10,
            integer_outputs: vec![],
        }
    }

    #[test]
    fn an_event_belongs_to_one_tumbling_window_and_size_over_slide_sliding_ones() {
        let starts = |s: &Spec, t| s.starts(t).collect::<Vec<_>>();
        assert_eq!(starts(&spec(60_000, 60_000), 125_000), vec![120_000]);
        assert_eq!(starts(&spec(60_000, 60_000), 120_000), vec![120_000]);
        assert_eq!(starts(&spec(60_000, 60_000), -1), vec![-60_000]);
        assert_eq!(
            starts(&spec(60_000, 20_000), 125_000),
            vec![120_000, 100_000, 80_000]
        );
    }

    #[test]
    fn state_keys_sort_by_start_and_read_back() {
        let s = spec(1000, 1000);
        let keys: Vec<String> = [-5000, -1, 0, 7, 1 << 40]
            .iter()
            .map(|&t| s.key(t, "[\"d1\"]"))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(s.parse_key(&keys[0]), Some((-5000, "[\"d1\"]".into())));
        assert_eq!(s.parse_key(&keys[4]), Some((1 << 40, "[\"d1\"]".into())));
    }

    #[test]
    fn event_times_read_as_the_node_reads_them() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let t = |v: Value| event_time(&v, &ts);
        assert_eq!(t("1970-01-01T00:00:01Z".into()), Some(1000));
        assert_eq!(t("1970-01-01T01:00:01+01:00".into()), Some(1000));
        assert_eq!(t("1970-01-01 00:00:01.5".into()), Some(1500));
        assert_eq!(t(Value::from(2_000_000)), Some(2000));
        assert_eq!(
            event_time(&Value::from(1), &DataType::Date32),
            Some(86_400_000)
        );
        assert_eq!(t("yesterday".into()), None);
    }

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
