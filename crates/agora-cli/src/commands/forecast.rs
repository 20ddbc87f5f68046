//! `agora forecast TABLE --time COL --value EXPR --every 1d --horizon 30`: a product metric's
//! forecast with prediction intervals, per group with `--by`, as a table, CSV or JSON.

use agora_insight::{Every, ForecastReport};
use agora_mesh::{ForecastRequest, GroupForecast, Mesh, MeshError, forecasts_json};
use agora_model::Principal;
use agora_query::Interface;
use clap::Args;

use crate::{print, print_json};

#[derive(Args)]
pub struct ForecastArgs {
    /// `domain.table`.
    table: String,
    /// The column that dates each row (a date or timestamp).
    #[arg(long)]
    time: String,
    /// The metric per period: an aggregate SQL expression such as `sum(amount)` or `count(*)`.
    #[arg(long)]
    value: String,
    /// The period: 1h, 1d, 7d or 1w, 1mo, 3mo or 1q, 1y (and multiples: 6h, 2w).
    #[arg(long)]
    every: String,
    /// How many periods ahead.
    #[arg(long)]
    horizon: usize,
    /// Forecast each value of this column on its own.
    #[arg(long)]
    by: Option<String>,
    /// The prediction intervals, in percent.
    #[arg(long, default_value = "80,95")]
    level: String,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// Also draw the history, the forecast and its intervals to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<std::path::PathBuf>,
    /// Also store the forecast as the derived table `domain.table_forecast`, with a ledger
    /// and lineage entry from the source table's version (each save overwrites it).
    #[arg(long)]
    save: bool,
}

pub async fn run(mesh: &Mesh, me: &Principal, args: ForecastArgs) -> Result<(), MeshError> {
    let bad = |flag: &str, e: agora_insight::InsightError| MeshError::BadInput {
        source_name: flag.into(),
        message: e.to_string(),
    };
    let every: Every = args.every.parse().map_err(|e| bad("--every", e))?;
    let levels = agora_insight::parse_levels(&args.level).map_err(|e| bad("--level", e))?;
    if !["table", "csv", "json"].contains(&args.format.as_str()) {
        return Err(MeshError::BadInput {
            source_name: "--format".into(),
            message: format!("`{}`: choose table, csv or json", args.format),
        });
    }
    let request = ForecastRequest {
        table: args.table,
        time: args.time,
        value: args.value,
        every,
        horizon: args.horizon,
        by: args.by,
        levels: levels.clone(),
    };
    let forecast = mesh.forecast(me, Interface::Cli, &request).await?;
    if let Some(path) = &args.plot {
        crate::commands::forecast_plot::plot(path, &request, &forecast.groups)?;
    }
    let saved = match args.save {
        true => Some(mesh.save_forecast(me, &request, &forecast).await?),
        false => None,
    };
    let groups = &forecast.groups;
    match args.format.as_str() {
        "json" => {
            let mut answer = forecasts_json(&request, &forecast);
            if let Some(saved) = &saved {
                answer["saved"] = serde_json::to_value(saved)
                    .map_err(|e| MeshError::Internal(format!("the save's report: {e}")))?;
            }
            print_json(&answer)
        }
        "csv" => {
            print_csv(&request, &levels, groups)?;
            // The CSV stays machine-readable: the save is told on stderr.
            if let Some(saved) = &saved {
                eprintln!("{}", saved_line(saved));
            }
            Ok(())
        }
        _ => {
            print_table(&request, &levels, groups)?;
            match &saved {
                Some(saved) => print(saved_line(saved)),
                None => Ok(()),
            }
        }
    }
}

fn saved_line(s: &agora_mesh::SavedForecast) -> String {
    let version = s.version.map_or("-".to_string(), |v| v.to_string());
    let contract = match s.contract_applied {
        true => format!(", contract {} applied", s.contract_version),
        false => String::new(),
    };
    let left_out = match s.groups_left_out {
        0 => String::new(),
        n => format!("; {n} group(s) with no forecast left out"),
    };
    format!(
        "saved: {} version {version} ({} rows{contract}) from {} version {}; ledger entry {}{left_out}",
        s.table, s.rows, s.source, s.source_version, s.ledger_index
    )
}

fn header(request: &ForecastRequest, levels: &[u32]) -> Vec<String> {
    let mut h = Vec::new();
    if request.by.is_some() {
        h.push("group".to_string());
    }
    h.push("ts".into());
    h.push("forecast".into());
    for level in levels {
        h.push(format!("lower_{level}"));
        h.push(format!("upper_{level}"));
    }
    h
}

fn cells(
    request: &ForecastRequest,
    group: &Option<String>,
    r: &ForecastReport,
) -> Vec<Vec<String>> {
    r.rows
        .iter()
        .map(|row| {
            let mut c = Vec::new();
            if request.by.is_some() {
                c.push(group.clone().unwrap_or_default());
            }
            c.push(row.ts_text());
            c.push(number(row.forecast));
            for (_, lower, upper) in &row.bands {
                c.push(number(*lower));
                c.push(number(*upper));
            }
            c
        })
        .collect()
}

fn number(v: f64) -> String {
    format!("{v:.4}")
}

/// The group a forecast is of, for a person (`region = EU`); None without `--by`.
pub(crate) fn group_label(request: &ForecastRequest, group: &Option<String>) -> Option<String> {
    let by = request.by.as_ref()?;
    Some(match group {
        Some(value) => format!("{by} = {value}"),
        None => format!("{by} is null"),
    })
}

/// The chosen model's backtest error, for a person.
pub(crate) fn backtest_text(r: &ForecastReport) -> String {
    match (r.backtest_mase, r.backtest_smape) {
        (Some(m), Some(s)) => format!("backtest MASE {m:.3}, sMAPE {s:.1}%"),
        _ => "not backtested".to_string(),
    }
}

/// What a group's forecast is and how it was chosen, in one line for a person.
fn summary(request: &ForecastRequest, g: &GroupForecast) -> String {
    let who = group_label(request, &g.group)
        .map(|label| format!("{label}: "))
        .unwrap_or_default();
    match &g.outcome {
        Err(e) => format!("{who}no forecast: {e}"),
        Ok(r) => {
            let backtest = backtest_text(r);
            let seasons = if r.seasons.is_empty() {
                "no season".to_string()
            } else {
                format!(
                    "seasons of {} periods",
                    r.seasons
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            };
            let mut line = format!(
                "{who}{} ({backtest}; {seasons}; {} periods of history)",
                r.model,
                r.history.len()
            );
            for note in &r.notes {
                line.push_str(&format!("\n  note: {note}"));
            }
            line
        }
    }
}

fn print_csv(
    request: &ForecastRequest,
    levels: &[u32],
    groups: &[GroupForecast],
) -> Result<(), MeshError> {
    let failed = |e: csv::Error| crate::stdout_failed(std::io::Error::other(e));
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record(header(request, levels)).map_err(failed)?;
    for g in groups {
        eprintln!("{}", summary(request, g));
        if let Ok(r) = &g.outcome {
            for row in cells(request, &g.group, r) {
                out.write_record(row).map_err(failed)?;
            }
        }
    }
    out.flush().map_err(crate::stdout_failed)
}

fn print_table(
    request: &ForecastRequest,
    levels: &[u32],
    groups: &[GroupForecast],
) -> Result<(), MeshError> {
    let head = header(request, levels);
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            print("")?;
        }
        print(summary(request, g))?;
        let Ok(r) = &g.outcome else { continue };
        let rows = cells(request, &g.group, r);
        let widths: Vec<usize> = (0..head.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].len())
                    .chain([head[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:>w$}"))
                .collect::<Vec<_>>()
                .join("  ")
        };
        print(line(&head))?;
        for row in &rows {
            print(line(row))?;
        }
    }
    Ok(())
}
