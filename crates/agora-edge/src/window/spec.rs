//! What a `[[window]]` section means once checked: its aggregates, clock, size and slide, and
//! how an event maps to the windows (and state keys) it belongs to, and a closed window to its
//! row.

use std::time::Duration;

use arrow::datatypes::{DataType, TimeUnit};
use serde_json::{Map, Value};

use crate::EdgeError;
use crate::config::WindowSection;
use crate::contract::Validator;

/// Separates the parts of a state key: the output table, the window's start, the group.
const SEP: char = '\u{1f}';

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
    pub(super) fn column(&self) -> Option<&str> {
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
pub(super) enum Clock {
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
    pub(super) size_ms: u64,
    /// A new window starts every `slide_ms` (equal to the size for tumbling windows).
    pub(super) slide_ms: u64,
    pub(super) lateness_ms: u64,
    pub(super) clock: Clock,
    /// Group columns: each combination of their values has its own windows.
    pub by: Vec<String>,
    pub(super) aggregates: Vec<(Aggregate, String)>,
    /// The most windows open at once (groups × overlapping windows).
    pub(super) max_open: u64,
    /// Output columns of an integer type, so that a whole number is written as one.
    pub(super) integer_outputs: Vec<String>,
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
    pub(super) fn starts(&self, t: i64) -> impl Iterator<Item = i64> + use<> {
        let (size, slide) = (self.size_ms as i64, self.slide_ms as i64);
        let last = t.div_euclid(slide) * slide;
        (0..size / slide)
            .map(move |k| last - k * slide)
            .filter(move |s| t < s + size)
    }

    /// The event's time in ms since the epoch: its time column, or its arrival.
    pub(super) fn time_of(&self, event: &Map<String, Value>, arrived_ms: i64) -> Option<i64> {
        match &self.clock {
            Clock::Arrival => Some(arrived_ms),
            Clock::Event(column, t) => event_time(event.get(column)?, t),
        }
    }

    pub(super) fn group_of(&self, event: &Map<String, Value>) -> String {
        let values: Vec<&Value> = self
            .by
            .iter()
            .map(|c| event.get(c).unwrap_or(&Value::Null))
            .collect();
        // A list of JSON values always serialises.
        serde_json::to_string(&values).expect("JSON values serialise")
    }

    pub(super) fn prefix(&self) -> String {
        format!("{}{SEP}", self.table)
    }

    pub(super) fn key(&self, start: i64, group: &str) -> String {
        // Offset so that negative starts (before 1970) sort before positive ones.
        let ordered = (start as i128 + i64::MAX as i128 + 1) as u64;
        format!("{}{SEP}{ordered:020}{SEP}{group}", self.table)
    }

    pub(super) fn parse_key(&self, key: &str) -> Option<(i64, String)> {
        let rest = key.strip_prefix(&self.prefix())?;
        let (start, group) = rest.split_once(SEP)?;
        let ordered: u64 = start.parse().ok()?;
        let start = (ordered as i128 - i64::MAX as i128 - 1) as i64;
        Some((start, group.to_string()))
    }

    /// The window row of a closed window.
    pub(super) fn row(&self, start: i64, group: &str, state: &super::State) -> Value {
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

    pub(super) fn quantile_columns(&self) -> impl Iterator<Item = &str> {
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
pub(super) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
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
}
