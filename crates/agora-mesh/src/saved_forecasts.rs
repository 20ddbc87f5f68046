//! Saved forecasts (`agora forecast … --save`): a forecast stored as a derived product of the
//! source table's domain, `domain.table_forecast`, whose table holds the latest forecast (each
//! save overwrites it; Delta's history keeps the earlier ones). The rows go in through the
//! ingest pipeline like any other data — classified on arrival, recorded in the ledger — and the
//! same ledger append records a `lineage.run` entry from the source table, at the version the
//! forecast read, to the forecast table, at the version the save made.
//!
//! A forecast is computed from what its maker may see; saved, it is read by the readers of the
//! derived product. So nothing the source's readers may not see may flow into it:
//!
//! - a source table with a row filter is refused (its readers would read totals over rows the
//!   filter hides from them);
//! - a policy rule naming a column the value or group uses is refused (the rule does not follow
//!   the data into another table);
//! - the forecast columns carry the highest sensitivity of the columns the value uses, and the
//!   group column its source column's, as contract `classification`: a reader below it sees
//!   them masked as it would see the source;
//! - a value that reads other tables (a subquery) is refused: the lineage names one source.

use agora_ingest::{IngestMode, Source};
use agora_insight::{ForecastReport, ForecastRow};
use agora_model::{Contract, Name, Principal, Sensitivity, TableRef};
use agora_policy::Matcher;
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::forecasts::{Forecast, ForecastRequest, read_value};
use crate::ingest::IngestOptions;
use crate::{Mesh, MeshError};

/// The columns every forecast table has besides its group and bounds.
const FIXED_COLUMNS: [&str; 4] = ["ts", "forecast", "model", "backtest_mase"];

/// What a save did.
#[derive(Debug, Clone, Serialize)]
pub struct SavedForecast {
    /// `domain.table_forecast`.
    pub table: String,
    pub product: String,
    /// Whether this save created the product (or gave it a new contract version).
    pub contract_applied: bool,
    pub contract_version: String,
    pub version: Option<u64>,
    pub rows: u64,
    /// The groups with no forecast, left out.
    pub groups_left_out: usize,
    pub source: String,
    pub source_version: u64,
    pub ledger_index: u64,
}

impl Mesh {
    /// Stores `forecast` (made for `request` by `actor`) as the table `domain.table_forecast`
    /// of the source's domain. Creating or reshaping the derived product takes the domain's
    /// owner; saving over it takes a write grant on it.
    pub async fn save_forecast(
        &self,
        actor: &Principal,
        request: &ForecastRequest,
        forecast: &Forecast,
    ) -> Result<SavedForecast, MeshError> {
        let source = &forecast.table;
        let refuse = |why: String| MeshError::bad_input("--save", why);
        let policies = self.policy_set().await?;
        if policies
            .documents()
            .flat_map(|d| d.rows.iter())
            .any(|r| &r.table == source)
        {
            return Err(refuse(format!(
                "{source} has a row filter: its readers would read totals over rows it hides from them; forecast without --save"
            )));
        }
        let value = read_value(&request.value)?;
        let columns = value.columns;
        if value.subquery {
            return Err(refuse(format!(
                "`{}` reads other tables: a saved forecast's value uses the columns of {source} alone",
                request.value
            )));
        }
        let used: Vec<&String> = columns.iter().chain(forecast.by.iter()).collect();
        for rule in policies.documents().flat_map(|d| d.columns.iter()) {
            if let Matcher::Column { table, column } = &rule.matcher
                && table == source
                && used.iter().any(|u| u.eq_ignore_ascii_case(column))
            {
                return Err(refuse(format!(
                    "a policy rule names `{source}.{column}`, which the forecast uses: the rule would not follow the data into a saved forecast"
                )));
            }
        }
        let products = self.catalog.products().await?;
        let labels = self.labels(&products).await?;
        let label_of = |column: &str| {
            labels
                .get(source)
                .and_then(|t| t.get(column))
                .map(|l| l.sensitivity)
        };
        let value_level = columns.iter().filter_map(|c| label_of(c)).max();
        let by_level = forecast.by.as_deref().and_then(label_of);

        let name = Name::strict("table", &format!("{}_forecast", source.table))?;
        let target = TableRef {
            domain: source.domain.clone(),
            table: name.clone(),
        };
        if let Some(by) = &forecast.by {
            let bound = |level: u32| [format!("lower_{level}"), format!("upper_{level}")];
            let taken = FIXED_COLUMNS.iter().any(|c| by.eq_ignore_ascii_case(c))
                || request
                    .levels
                    .iter()
                    .flat_map(|l| bound(*l))
                    .any(|c| by.eq_ignore_ascii_case(&c));
            if taken {
                return Err(refuse(format!(
                    "the group column `{by}` has the name of a forecast column: rename it in a view or forecast without --by"
                )));
            }
        }
        let shape = Shape {
            source,
            request,
            time: &forecast.time,
            by: forecast.by.as_deref(),
            value_level,
            by_level,
        };
        let existing = products
            .iter()
            .find(|p| p.domain == target.domain && p.tables.contains(&target.table));
        let (contract_applied, contract_version) = match existing {
            Some(p) => {
                let old = Contract::from_yaml(&p.contract_yaml)?.contract;
                if old.id != shape.contract_id() {
                    return Err(refuse(format!(
                        "{target} belongs to product {}.{}, which is not a forecast of {source}: rename one of them",
                        p.domain, p.name
                    )));
                }
                if old.table(name.as_str())
                    == Contract::from_yaml(&shape.contract(&old.version))?
                        .contract
                        .table(name.as_str())
                {
                    (false, old.version)
                } else {
                    let next = format!("{}.0.0", old.semver.major + 1);
                    self.apply_contract(actor, &shape.contract(&next), None)
                        .await?;
                    (true, next)
                }
            }
            None => {
                self.apply_contract(actor, &shape.contract("1.0.0"), None)
                    .await?;
                (true, "1.0.0".to_string())
            }
        };

        let (batch, left_out) = rows_batch(request, forecast)?;
        let rows = batch.num_rows() as u64;
        let lineage = lineage_body(request, forecast, &target, &columns, actor);
        let report = self
            .ingest_derived(
                actor,
                &target.to_string(),
                Source::Batches {
                    name: format!("forecast of {source} version {}", forecast.version),
                    batches: vec![batch],
                },
                IngestOptions {
                    mode: IngestMode::Overwrite,
                    // Two saves of one forecast are two saves, not a repeated upload.
                    allow_duplicate: true,
                    ..Default::default()
                },
                lineage,
            )
            .await?;
        Ok(SavedForecast {
            table: target.to_string(),
            product: report.product,
            contract_applied,
            contract_version,
            version: report.version,
            rows,
            groups_left_out: left_out,
            source: source.to_string(),
            source_version: forecast.version,
            ledger_index: report.ledger_index,
        })
    }
}

/// What the derived product's contract says.
struct Shape<'a> {
    source: &'a TableRef,
    request: &'a ForecastRequest,
    /// The time and group columns as the source's contract names them.
    time: &'a str,
    by: Option<&'a str>,
    value_level: Option<Sensitivity>,
    by_level: Option<Sensitivity>,
}

impl Shape<'_> {
    fn contract_id(&self) -> String {
        format!("forecast-of-{}-{}", self.source.domain, self.source.table)
    }

    /// The contract of the derived product at `version`.
    fn contract(&self, version: &str) -> String {
        let r = self.request;
        let classified = |level: Option<Sensitivity>| match level {
            Some(l) => format!("        classification: {}\n", l.as_str()),
            None => String::new(),
        };
        let column = |name: &str,
                      logical: &str,
                      required: bool,
                      level: Option<Sensitivity>,
                      about: &str| {
            format!(
                "      - name: {name}\n        logicalType: {logical}\n        required: {required}\n{}        description: {}\n",
                classified(level),
                yaml_text(about)
            )
        };
        let mut columns = String::new();
        if let Some(by) = self.by {
            columns += &column(
                by,
                "string",
                false,
                self.by_level,
                &format!("the value of `{by}` of {} forecast", self.source),
            );
        }
        columns += &column(
            "ts",
            "timestamp",
            true,
            None,
            &format!("the start of the period ({})", r.every),
        );
        columns += &column(
            "forecast",
            "number",
            true,
            self.value_level,
            &format!("the point forecast of {}", r.value),
        );
        for level in &r.levels {
            for side in ["lower", "upper"] {
                columns += &column(
                    &format!("{side}_{level}"),
                    "number",
                    true,
                    self.value_level,
                    &format!("the {side} bound of the {level}% prediction interval"),
                );
            }
        }
        columns += &column(
            "model",
            "string",
            true,
            None,
            "the model chosen by rolling-origin cross-validation",
        );
        columns += &column(
            "backtest_mase",
            "number",
            false,
            None,
            "the chosen model's backtest mean absolute scaled error",
        );
        let by = self.by.map(|b| format!(" per `{b}`")).unwrap_or_default();
        let purpose = format!(
            "Forecast of {} of {} per period of {} over `{}`{by}: made by agora forecast --save, which overwrites it at each save (the ledger entry of each save names its horizon and the source version)",
            r.value, self.source, r.every, self.time
        );
        format!(
            "apiVersion: v3.0.2\nkind: DataContract\nid: {id}\nname: {name}_forecast\nversion: {version}\nstatus: active\ndomain: {domain}\ndescription:\n  purpose: {purpose}\nschema:\n  - name: {name}_forecast\n    description: {purpose}\n    properties:\n{columns}",
            id = self.contract_id(),
            name = self.source.table,
            domain = self.source.domain,
            purpose = yaml_text(&purpose),
        )
    }
}

/// `text` as a YAML scalar: quoted, with JSON's escapes (YAML reads a JSON string as itself).
fn yaml_text(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The forecast's rows, one per future period and group, and how many groups had none.
fn rows_batch(
    request: &ForecastRequest,
    forecast: &Forecast,
) -> Result<(RecordBatch, usize), MeshError> {
    // Every row with the group and report it belongs to.
    let rows: Vec<(&Option<String>, &ForecastReport, &ForecastRow)> = forecast
        .groups
        .iter()
        .filter_map(|g| g.outcome.as_ref().ok().map(|r| (&g.group, r)))
        .flat_map(|(group, report)| report.rows.iter().map(move |row| (group, report, row)))
        .collect();
    let left_out = forecast
        .groups
        .iter()
        .filter(|g| g.outcome.is_err())
        .count();
    if left_out == forecast.groups.len() {
        return Err(MeshError::bad_input(
            "--save",
            format!(
                "no group of {} could be forecast: nothing to save",
                forecast.table
            ),
        ));
    }
    let numbers = |f: &dyn Fn(&ForecastRow) -> f64| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|(_, _, row)| f(row))
                .collect::<Float64Array>(),
        )
    };
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    if let Some(by) = &forecast.by {
        fields.push(Field::new(by, DataType::Utf8, true));
        arrays.push(Arc::new(
            rows.iter()
                .map(|(g, _, _)| g.as_deref())
                .collect::<StringArray>(),
        ));
    }
    fields.push(Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    arrays.push(Arc::new(
        TimestampMicrosecondArray::from_iter_values(
            rows.iter()
                .map(|(_, _, row)| row.ts.and_utc().timestamp_micros()),
        )
        .with_timezone("UTC"),
    ));
    fields.push(Field::new("forecast", DataType::Float64, false));
    arrays.push(numbers(&|row| row.forecast));
    // Each row's bands are in the order of the levels asked for.
    for (i, level) in request.levels.iter().enumerate() {
        fields.push(Field::new(
            format!("lower_{level}"),
            DataType::Float64,
            false,
        ));
        arrays.push(numbers(&|row| row.bands[i].1));
        fields.push(Field::new(
            format!("upper_{level}"),
            DataType::Float64,
            false,
        ));
        arrays.push(numbers(&|row| row.bands[i].2));
    }
    fields.push(Field::new("model", DataType::Utf8, false));
    arrays.push(Arc::new(
        rows.iter()
            .map(|(_, r, _)| Some(r.model.as_str()))
            .collect::<StringArray>(),
    ));
    fields.push(Field::new("backtest_mase", DataType::Float64, true));
    arrays.push(Arc::new(
        rows.iter()
            .map(|(_, r, _)| r.backtest_mase)
            .collect::<Float64Array>(),
    ));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| MeshError::Internal(format!("the forecast's rows: {e}")))?;
    Ok((batch, left_out))
}

/// The `lineage.run` entry body of a save, as `agora-lineage` reads it: the source table at
/// the version read, the forecast table (its version set when the save commits), and which
/// source columns each forecast column comes from.
fn lineage_body(
    request: &ForecastRequest,
    forecast: &Forecast,
    target: &TableRef,
    value_columns: &[String],
    actor: &Principal,
) -> Value {
    let source = forecast.table.to_string();
    let from = |field: &str, kind: &str| {
        json!({"namespace": "agora", "name": source, "field": field,
               "transformations": [{"type": kind, "subtype": "AGGREGATION", "description": request.value}]})
    };
    let mut fields = serde_json::Map::new();
    let value_inputs: Vec<Value> = value_columns.iter().map(|c| from(c, "DIRECT")).collect();
    let mut forecast_columns = vec!["forecast".to_string()];
    for level in &request.levels {
        forecast_columns.push(format!("lower_{level}"));
        forecast_columns.push(format!("upper_{level}"));
    }
    for c in forecast_columns {
        fields.insert(c, json!({"inputFields": value_inputs}));
    }
    if let Some(by) = &forecast.by {
        fields.insert(
            by.clone(),
            json!({"inputFields": [{"namespace": "agora", "name": source, "field": by,
            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]}),
        );
    }
    fields.insert(
        "ts".into(),
        json!({"inputFields": [{"namespace": "agora", "name": source, "field": forecast.time,
            "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "description": format!("period of {}", request.every)}]}]}),
    );
    json!({
        "eventType": "COMPLETE",
        "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "producer": "agora forecast --save",
        "job": {"namespace": "agora", "name": format!("forecast {target}")},
        "inputs": [{"namespace": "agora", "name": source, "table": source, "version": forecast.version}],
        "outputs": [{"namespace": "agora", "name": target.to_string(), "table": target.to_string(),
                     "version": null, "columnLineage": {"fields": fields}}],
        "forecast": {
            "value": request.value, "time": forecast.time, "every": request.every.to_string(),
            "horizon": request.horizon, "by": forecast.by, "levels": request.levels,
        },
        "by": actor.name.as_str(),
    })
}
