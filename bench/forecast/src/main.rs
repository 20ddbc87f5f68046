//! Forecasts the held-out end of each series of a JSON file (made by `bench/forecast/accuracy.py`
//! from data `statsmodels` ships) with `agora_insight::forecast` — the same call `agora forecast`
//! makes after its query — and prints, per series, the forecast, its 80% and 95% intervals, the
//! model chosen and the seconds the call took (seasons, backtest of every candidate, final fit).
//!
//! `cargo run --release -p agora-bench-forecast -- SERIES.json`
//!
//! Input: `[{"name", "every": "1mo", "start": "1959-01-01", "values": [...], "horizon": 12}]`;
//! the last `horizon` values are held out.

use std::time::Instant;

use agora_insight::{Every, RegularSeries, forecast};
use serde_json::{Value, json};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: agora-bench-forecast SERIES.json")?;
    let series: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let mut out = Vec::new();
    for s in &series {
        let name = s["name"].as_str().ok_or("a series without a name")?;
        let every: Every = s["every"].as_str().ok_or("no every")?.parse()?;
        let start =
            chrono::NaiveDate::parse_from_str(s["start"].as_str().ok_or("no start")?, "%Y-%m-%d")?
                .and_hms_opt(0, 0, 0)
                .ok_or("midnight is a time")?;
        let values: Vec<f64> = s["values"]
            .as_array()
            .ok_or("no values")?
            .iter()
            .map(|v| v.as_f64().ok_or("a value that is not a number"))
            .collect::<Result<_, _>>()?;
        let horizon = s["horizon"].as_u64().ok_or("no horizon")? as usize;
        let train = RegularSeries {
            every,
            start,
            values: values[..values.len() - horizon].to_vec(),
            filled: 0,
        };
        let began = Instant::now();
        let report = forecast(&train, horizon, &[80, 95])?;
        let seconds = began.elapsed().as_secs_f64();
        let band = |level: u32, upper: bool| -> Vec<f64> {
            report
                .rows
                .iter()
                .map(|r| {
                    let b = r
                        .bands
                        .iter()
                        .find(|b| b.0 == level)
                        .expect("both levels were asked for");
                    if upper { b.2 } else { b.1 }
                })
                .collect()
        };
        out.push(json!({
            "name": name,
            "model": report.model,
            "seasons": report.seasons,
            "point": report.rows.iter().map(|r| r.forecast).collect::<Vec<_>>(),
            "lower_80": band(80, false), "upper_80": band(80, true),
            "lower_95": band(95, false), "upper_95": band(95, true),
            "seconds": seconds,
        }));
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
