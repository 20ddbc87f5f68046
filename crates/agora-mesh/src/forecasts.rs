//! Forecasts of a product table's metric (`agora forecast`, `POST /api/v1/forecast`): the
//! metric aggregated per period through the governed query layer as the reader — so its row
//! filters apply and a masked column can be neither the value nor the group — then each
//! group's series forecast by `agora-insight`.

use agora_insight::{Every, ForecastReport, InsightError, RegularSeries};
use agora_model::{Access, Principal, TableRef};
use agora_query::{Interface, SessionOptions};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use chrono::NaiveDateTime;
use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement, visit_expressions};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use serde_json::{Map, Value, json};
use std::ops::ControlFlow;

use crate::{Mesh, MeshError};

/// The most groups one forecast makes (`--by` a column of many values is a mistake, not a
/// request for a million models).
pub const MAX_GROUPS: usize = 1000;

/// What to forecast.
#[derive(Debug, Clone)]
pub struct ForecastRequest {
    /// `domain.table`.
    pub table: String,
    /// The column that dates each row.
    pub time: String,
    /// An aggregate SQL expression over the table's columns: `sum(amount)`, `count(*)`.
    pub value: String,
    pub every: Every,
    pub horizon: usize,
    /// A column whose values are forecast one by one.
    pub by: Option<String>,
    /// Prediction levels in percent.
    pub levels: Vec<u32>,
}

/// A forecast of every group, and the version of the table it was made from.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub table: TableRef,
    pub version: u64,
    /// The time and group columns as the table's contract names them.
    pub time: String,
    pub by: Option<String>,
    pub groups: Vec<GroupForecast>,
}

/// One group's forecast, or why there is none.
#[derive(Debug, Clone)]
pub struct GroupForecast {
    /// The group's value (None without `--by`, or for the rows whose group is null).
    pub group: Option<String>,
    pub outcome: Result<ForecastReport, InsightError>,
}

/// One group's points: each period's start and its value (None when the aggregate is null).
type Points = Vec<(NaiveDateTime, Option<f64>)>;

/// What the aggregation read: each group's points, and the time of the newest row.
struct Aggregated {
    groups: Vec<(Option<String>, Points)>,
    newest: Option<NaiveDateTime>,
    /// How many rows each period holds, over all groups.
    rows: std::collections::BTreeMap<NaiveDateTime, u64>,
}

/// The request's columns as the table names them, checked against the reader's view.
struct Checked {
    table: TableRef,
    time: String,
    by: Option<String>,
}

impl Mesh {
    /// Forecasts `request.value` of `request.table` for `actor`, who needs a read grant.
    pub async fn forecast(
        &self,
        actor: &Principal,
        interface: Interface,
        request: &ForecastRequest,
    ) -> Result<Forecast, MeshError> {
        if request.horizon == 0 || request.horizon > agora_insight::MAX_HORIZON {
            return Err(MeshError::bad_input(
                "--horizon",
                InsightError::BadHorizon(request.horizon).to_string(),
            ));
        }
        let checked = self.check_forecast(actor, request).await?;
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let from = format!("{}.{}", checked.table.domain, checked.table.table);
        let time = &checked.time;
        let time_type = first_type(&session, &format!("\"{time}\""), &from).await?;
        if !matches!(
            time_type,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
        ) {
            return Err(MeshError::bad_input(
                "--time",
                format!(
                    "`{time}` of {} is not a time or date: it holds {time_type}",
                    checked.table
                ),
            ));
        }
        let value_type = first_type(&session, &request.value, &from)
            .await
            .map_err(|e| MeshError::bad_input("--value", e.to_string()))?;
        if !value_type.is_numeric() {
            return Err(MeshError::bad_input(
                "--value",
                format!("`{}` is not numeric: it gives {value_type}", request.value),
            ));
        }
        // The version read, checked after the read: the forecast names the data it was made from.
        let version = self.product_version(&checked.table).await?;
        let mut read = aggregate(&session, request, &checked, &from).await?;
        let after = self.product_version(&checked.table).await?;
        if after != version {
            return Err(MeshError::Conflict(format!(
                "{} changed from version {version} to {after} while the forecast read it: run it again",
                checked.table
            )));
        }
        if read.groups.is_empty() {
            return Err(MeshError::bad_input(
                &request.table,
                format!(
                    "{} has no rows you may read with a `{time}`: nothing to forecast",
                    checked.table
                ),
            ));
        }
        // A date covers its whole day: the data reaches the end of its newest one.
        if matches!(time_type, DataType::Date32 | DataType::Date64) {
            read.newest = read.newest.map(|n| n + chrono::Duration::days(1));
        }
        // Fitting is seconds of computation for many groups: off the async workers, so a
        // server keeps answering while it runs.
        let owned = request.clone();
        let groups = tokio::task::spawn_blocking(move || forecast_groups(&owned, read))
            .await
            .map_err(|e| {
                MeshError::Internal(format!("the forecast of {} failed: {e}", checked.table))
            })?;
        Ok(Forecast {
            table: checked.table,
            version,
            time: checked.time,
            by: checked.by,
            groups,
        })
    }

    /// The current version of a product table.
    pub(crate) async fn product_version(&self, table: &TableRef) -> Result<u64, MeshError> {
        self.store
            .open(table, agora_storage::TableKind::Product)
            .await?
            .and_then(|t| t.version())
            .ok_or_else(|| MeshError::NotFound {
                what: "table",
                name: table.to_string(),
                hint: ": it has no Delta table yet".into(),
            })
    }

    /// The table, the time and group columns as its contract names them, and the refusal of
    /// any column the reader sees masked.
    async fn check_forecast(
        &self,
        actor: &Principal,
        request: &ForecastRequest,
    ) -> Result<Checked, MeshError> {
        let (table, product, contract) = self
            .granted(actor, &request.table, Access::Read, "forecast")
            .await?;
        let view = self.column_view(actor, &table, &product).await?;
        let column = |flag: &str, name: &str| -> Result<String, MeshError> {
            let Some(c) = contract
                .column(&name.to_lowercase())
                .or(contract.column(name))
            else {
                return Err(crate::table_changes::unknown_column(
                    flag, &table, &contract, name,
                ));
            };
            let name = c.sql_name.to_string();
            if view.is_masked(&name) {
                return Err(masked(flag, &table, &name));
            }
            Ok(name)
        };
        let time = column("--time", &request.time)?;
        let by = request
            .by
            .as_deref()
            .map(|b| column("--by", b))
            .transpose()?;
        for name in value_columns(&request.value)? {
            if view.is_masked(&name) {
                return Err(masked("--value", &table, &name));
            }
        }
        Ok(Checked { table, time, by })
    }
}

/// The type `expression` has over `from`, planned without reading a row.
async fn first_type(
    session: &agora_query::GovernedSession,
    expression: &str,
    from: &str,
) -> Result<DataType, MeshError> {
    Ok(session
        .sql(&format!("SELECT\n{expression}\nFROM {from} LIMIT 0"))
        .await?
        .schema()
        .field(0)
        .data_type()
        .clone())
}

/// The value per period and group, through the governed session.
async fn aggregate(
    session: &agora_query::GovernedSession,
    request: &ForecastRequest,
    checked: &Checked,
    from: &str,
) -> Result<Aggregated, MeshError> {
    let time = &checked.time;
    let bucket = bucket_sql(request.every, &format!("CAST(\"{time}\" AS TIMESTAMP)"))?;
    let group = checked
        .by
        .as_ref()
        .map(|b| format!("CAST(\"{b}\" AS VARCHAR)"))
        .unwrap_or_else(|| "CAST(NULL AS VARCHAR)".to_string());
    let sql = format!(
        // The value on lines of its own: a trailing `--` comment in it ends there.
        "SELECT CAST({bucket} AS TIMESTAMP) AS ts, {group} AS grp, CAST(\n{value}\n AS DOUBLE) AS v, \
         max(CAST(\"{time}\" AS TIMESTAMP)) AS newest, count(*) AS n \
         FROM {from} WHERE \"{time}\" IS NOT NULL GROUP BY 1, 2 ORDER BY 2, 1",
        value = request.value
    );
    let batches = session
        .sql(&sql)
        .await?
        .collect()
        .await
        .map_err(|e| MeshError::bad_input("--value", format!("the aggregation failed: {e}")))?;
    let mut read = Aggregated {
        groups: Vec::new(),
        newest: None,
        rows: Default::default(),
    };
    for batch in &batches {
        let ts = micros(batch.column(0))?;
        let last = micros(batch.column(3))?;
        // The engine picks its own string and number layouts: cast to the ones read here.
        let as_type = |i: usize, t: &DataType, flag: &str| {
            arrow::compute::cast(batch.column(i), t)
                .map_err(|e| MeshError::bad_input(flag, e.to_string()))
        };
        let grp = as_type(1, &DataType::Utf8, "--by")?;
        let grp = grp.as_string::<i32>();
        let v = as_type(2, &DataType::Float64, "--value")?;
        let v = v.as_primitive::<Float64Type>();
        let n = as_type(4, &DataType::UInt64, "--value")?;
        let n = n.as_primitive::<arrow::datatypes::UInt64Type>();
        for i in 0..batch.num_rows() {
            read.newest = read.newest.max(last(i));
            let Some(at) = ts(i) else {
                continue;
            };
            *read.rows.entry(at).or_default() += n.value(i);
            let g = grp.is_valid(i).then(|| grp.value(i).to_string());
            let value = v.is_valid(i).then(|| v.value(i));
            match read.groups.last_mut() {
                Some((last, points)) if *last == g => points.push((at, value)),
                _ => {
                    if read.groups.len() == MAX_GROUPS {
                        return Err(MeshError::bad_input(
                            "--by",
                            format!(
                                "`{}` has more than {MAX_GROUPS} values: forecast a coarser group",
                                checked.by.as_deref().unwrap_or_default()
                            ),
                        ));
                    }
                    read.groups.push((g, vec![(at, value)]));
                }
            }
        }
    }
    Ok(read)
}

/// Each group's forecast, the period the data has not finished left out (and said so).
fn forecast_groups(request: &ForecastRequest, read: Aggregated) -> Vec<GroupForecast> {
    let newest = read.newest;
    let incomplete = newest
        .and_then(|n| unfinished_period(request.every, n))
        .filter(|(start, _)| fewer_rows_than_usual(&read.rows, *start));
    read.groups
        .into_iter()
        .map(|(group, mut points)| {
            let mut note = None;
            if let Some((start, end)) = incomplete {
                let before = points.len();
                points.retain(|(at, _)| request.every.floor(*at) != start);
                if points.len() < before {
                    note = Some(format!(
                        "the last period (from {start}) is left out: the data reaches only {}, before the period ends at {end}, and a period half-counted would read as a drop",
                        newest.map(|n| n.to_string()).unwrap_or_default()
                    ));
                }
            }
            let outcome = RegularSeries::from_points(request.every, &points)
                .and_then(|series| agora_insight::forecast(&series, request.horizon, &request.levels))
                .map(|mut report| {
                    report.notes.extend(note);
                    report
                });
            GroupForecast { group, outcome }
        })
        .collect()
}

/// The JSON of `agora forecast --format json` and of `POST /api/v1/forecast`.
pub fn forecasts_json(request: &ForecastRequest, forecast: &Forecast) -> Value {
    let forecasts: Vec<Value> = forecast
        .groups
        .iter()
        .map(|g| {
            let mut out = Map::new();
            if request.by.is_some() {
                out.insert("group".into(), json!(g.group));
            }
            match &g.outcome {
                Ok(r) => {
                    out.insert("model".into(), json!(r.model));
                    out.insert(
                        "backtest".into(),
                        json!({"mase": r.backtest_mase, "smape": r.backtest_smape}),
                    );
                    out.insert("seasons".into(), json!(r.seasons));
                    out.insert("history_periods".into(), json!(r.history.len()));
                    out.insert("filled_periods".into(), json!(r.filled));
                    out.insert("notes".into(), json!(r.notes));
                    out.insert(
                        "candidates".into(),
                        json!(r.scores.iter().map(|s| json!({
                            "model": s.candidate, "mase": s.mase, "smape": s.smape, "error": s.error
                        })).collect::<Vec<_>>()),
                    );
                    out.insert("rows".into(), json!(rows_json(r)));
                }
                Err(e) => {
                    out.insert("error".into(), json!(e.to_string()));
                }
            }
            Value::Object(out)
        })
        .collect();
    json!({
        "table": request.table,
        "table_version": forecast.version,
        "time": request.time,
        "value": request.value,
        "every": request.every.to_string(),
        "horizon": request.horizon,
        "by": request.by,
        "forecasts": forecasts,
    })
}

fn rows_json(r: &ForecastReport) -> Vec<Value> {
    r.rows
        .iter()
        .map(|row| {
            let mut o = Map::new();
            o.insert("ts".into(), json!(row.ts_text()));
            o.insert("forecast".into(), json!(row.forecast));
            for (level, lower, upper) in &row.bands {
                o.insert(format!("lower_{level}"), json!(lower));
                o.insert(format!("upper_{level}"), json!(upper));
            }
            Value::Object(o)
        })
        .collect()
}

/// The period `newest` (the table's newest row) falls in, when that row is not in the last
/// tenth of it: the data has not reached the period's end, so its aggregate is partial.
fn unfinished_period(
    every: Every,
    newest: NaiveDateTime,
) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let start = every.floor(newest);
    let end = every.advance(start, 1);
    ((end - newest) * 10 > end - start).then_some((start, end))
}

/// Whether the period starting at `start` holds fewer rows than nine tenths of the median
/// period before it: with the data short of the period's end, that is a period still filling.
/// A table of one row per period (a monthly figure stamped on the 1st) is never short.
/// With fewer than three periods before it, the time alone decides.
fn fewer_rows_than_usual(
    rows: &std::collections::BTreeMap<NaiveDateTime, u64>,
    start: NaiveDateTime,
) -> bool {
    let mut before: Vec<u64> = rows.range(..start).map(|(_, n)| *n).collect();
    if before.len() < 3 {
        return true;
    }
    before.sort_unstable();
    let median = before[before.len() / 2] as f64;
    (rows.get(&start).copied().unwrap_or(0) as f64) < 0.9 * median
}

/// The times of a timestamp column, by row.
fn micros(
    column: &arrow::array::ArrayRef,
) -> Result<impl Fn(usize) -> Option<NaiveDateTime>, MeshError> {
    let ts = arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
        .map_err(|e| MeshError::bad_input("--time", e.to_string()))?;
    Ok(move |i: usize| {
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        ts.is_valid(i)
            .then(|| chrono::DateTime::from_timestamp_micros(ts.value(i)))
            .flatten()
            .map(|t| t.naive_utc())
    })
}

fn masked(flag: &str, table: &TableRef, column: &str) -> MeshError {
    MeshError::bad_input(
        flag,
        format!(
            "`{column}` of {table} is masked for you: a masked column cannot be a forecast's time, value or group"
        ),
    )
}

/// The columns `value` (a SQL expression) names: its identifiers, the last part of a
/// qualified one. Anything but a single expression is refused.
pub(crate) fn value_columns(value: &str) -> Result<Vec<String>, MeshError> {
    Ok(read_value(value)?.columns)
}

/// What a value expression reads.
pub(crate) struct ValueRead {
    /// The columns it names (see [`value_columns`]).
    pub columns: Vec<String>,
    /// Whether it holds a subquery, which reads other tables.
    pub subquery: bool,
}

/// The columns and subqueries of `value`, from one parse of it.
pub(crate) fn read_value(value: &str) -> Result<ValueRead, MeshError> {
    let bad = |why: String| MeshError::bad_input("--value", why);
    let statements = Parser::parse_sql(&GenericDialect {}, &format!("SELECT {value}"))
        .map_err(|e| bad(format!("`{value}` is not a SQL expression: {e}")))?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return Err(bad(format!("`{value}` is not one SQL expression")));
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err(bad(format!("`{value}` is not one SQL expression")));
    };
    if select.projection.len() != 1 || !select.from.is_empty() {
        return Err(bad(format!("`{value}` is not one SQL expression")));
    }
    if !matches!(select.projection[0], SelectItem::UnnamedExpr(_)) {
        return Err(bad(format!(
            "`{value}` is not one SQL expression (no alias)"
        )));
    }
    let mut names = Vec::new();
    let mut subquery = false;
    let _ = visit_expressions(&statements, |e| {
        match e {
            Expr::Identifier(i) => names.push(normalised(i)),
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    names.push(normalised(last));
                }
            }
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => subquery = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(ValueRead {
        columns: names,
        subquery,
    })
}

fn normalised(ident: &datafusion::sql::sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The SQL that puts `t` (a timestamp) in its period, the same period [`Every::floor`] gives.
fn bucket_sql(every: Every, t: &str) -> Result<String, MeshError> {
    Ok(match every {
        Every::Hours(n) => {
            format!("date_bin(INTERVAL '{n} hours', {t}, TIMESTAMP '1970-01-01T00:00:00')")
        }
        Every::Days(n) => {
            format!("date_bin(INTERVAL '{n} days', {t}, TIMESTAMP '1970-01-01T00:00:00')")
        }
        Every::Weeks(n) => format!(
            "date_bin(INTERVAL '{} days', {t}, TIMESTAMP '1970-01-05T00:00:00')",
            7 * n
        ),
        Every::Months(n) if 12 % n == 0 => format!(
            "make_date(CAST(date_part('year', {t}) AS INT), CAST(floor((date_part('month', {t}) - 1) / {n}) * {n} + 1 AS INT), 1)"
        ),
        Every::Months(n) if n % 12 == 0 => format!(
            "make_date(CAST(1970 + floor((date_part('year', {t}) - 1970) / {k}) * {k} AS INT), 1, 1)",
            k = n / 12
        ),
        Every::Months(n) => {
            return Err(MeshError::bad_input(
                "--every",
                format!(
                    "{n} months: a period of months must divide a year (1, 2, 3, 4 or 6 months) or be whole years"
                ),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_of_a_value_are_found_however_it_is_written() {
        assert_eq!(value_columns("sum(amount)").unwrap(), vec!["amount"]);
        assert_eq!(
            value_columns("SUM(o.Amount) / count(DISTINCT \"Email\")").unwrap(),
            vec!["amount", "Email"]
        );
        assert_eq!(value_columns("count(*)").unwrap(), Vec::<String>::new());
        for bad in [
            "sum(amount), count(*)",
            "sum(amount) FROM x",
            "1; drop table x",
            "sum(",
            "sum(amount) AS total",
        ] {
            assert!(value_columns(bad).is_err(), "{bad}");
        }
    }
}
