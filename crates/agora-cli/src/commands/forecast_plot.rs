//! `agora forecast --plot FILE.svg`: the history, the forecast and its intervals, drawn with
//! plotters' SVG backend, one panel per group, each titled with the model and its backtest
//! error so that the chart reads without the command line beside it.

use std::path::Path;

use agora_insight::ForecastReport;
use agora_mesh::{ForecastRequest, GroupForecast, MeshError};

use crate::commands::forecast::{backtest_text, group_label};
use plotters::prelude::*;

/// The periods of history drawn: five horizons, two of the longest season, at least 60 —
/// enough to see the seasons, few enough to see the forecast.
fn history_shown(r: &ForecastReport) -> usize {
    let season = r.seasons.iter().max().copied().unwrap_or(0);
    (5 * r.rows.len()).max(2 * season).max(60)
}

const HEIGHT_PER_PANEL: u32 = 420;

/// The most groups one chart draws (a panel each).
const MAX_PANELS: usize = 24;

pub fn plot(
    path: &Path,
    request: &ForecastRequest,
    groups: &[GroupForecast],
) -> Result<(), MeshError> {
    let failed = |e: String| MeshError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    };
    let drawn: Vec<(String, &ForecastReport)> = groups
        .iter()
        .filter_map(|g| {
            let label = group_label(request, &g.group).unwrap_or_default();
            g.outcome.as_ref().ok().map(|r| (label, r))
        })
        .collect();
    if drawn.is_empty() {
        return Err(MeshError::BadInput {
            source_name: "--plot".into(),
            message: "no group could be forecast: nothing to draw".into(),
        });
    }
    if drawn.len() > MAX_PANELS {
        return Err(MeshError::BadInput {
            source_name: "--plot".into(),
            message: format!(
                "{} groups are too many to draw (at most {MAX_PANELS} panels): forecast fewer groups, or leave out --plot",
                drawn.len()
            ),
        });
    }
    let root =
        SVGBackend::new(path, (1100, HEIGHT_PER_PANEL * drawn.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
    for (panel, (label, report)) in root.split_evenly((drawn.len(), 1)).iter().zip(&drawn) {
        draw_panel(panel, request, label, report).map_err(failed)?;
    }
    root.present().map_err(|e| failed(e.to_string()))
}

fn draw_panel(
    panel: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    request: &ForecastRequest,
    label: &str,
    r: &ForecastReport,
) -> Result<(), String> {
    let skip = r.history.len().saturating_sub(history_shown(r));
    let history: Vec<(f64, f64)> = r.history[skip..]
        .iter()
        .enumerate()
        .map(|(i, (_, v))| (i as f64, *v))
        .collect();
    let n = history.len();
    let ahead = |i: usize| (n + i) as f64;
    let forecast: Vec<(f64, f64)> = r
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| (ahead(i), row.forecast))
        .collect();
    let mut ys: Vec<f64> = history.iter().chain(&forecast).map(|p| p.1).collect();
    for row in &r.rows {
        for (_, lower, upper) in &row.bands {
            ys.push(*lower);
            ys.push(*upper);
        }
    }
    let (low, high) = ys
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), y| (l.min(*y), h.max(*y)));
    let pad = ((high - low) * 0.05).max(high.abs() * 1e-3).max(1e-9);
    let times: Vec<String> = r.history[skip..]
        .iter()
        .map(|(t, _)| *t)
        .chain(r.rows.iter().map(|row| row.ts))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .collect();
    let title = format!(
        "{}{}: {} per {} — {} ({})",
        request.table,
        if label.is_empty() {
            String::new()
        } else {
            format!(" ({label})")
        },
        request.value,
        request.every,
        r.model,
        backtest_text(r),
    );
    let mut chart = ChartBuilder::on(panel)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(
            0f64..(times.len().max(2) - 1) as f64,
            (low - pad)..(high + pad),
        )
        .map_err(|e| e.to_string())?;
    let date_of = |x: &f64| {
        times
            .get(x.round().max(0.0) as usize)
            .cloned()
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&date_of)
        .y_labels(8)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    // The widest interval first, so that the narrower one is drawn over it.
    let levels: Vec<u32> = r
        .rows
        .first()
        .map(|row| row.bands.iter().map(|b| b.0).collect())
        .unwrap_or_default();
    for (k, level) in levels.iter().enumerate().rev() {
        let upper = r
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| (ahead(i), row.bands[k].2));
        let lower = r
            .rows
            .iter()
            .enumerate()
            .rev()
            .map(|(i, row)| (ahead(i), row.bands[k].1));
        let shade = BLUE.mix(if k + 1 == levels.len() { 0.15 } else { 0.3 });
        chart
            .draw_series(std::iter::once(Polygon::new(
                upper.chain(lower).collect::<Vec<_>>(),
                shade.filled(),
            )))
            .map_err(|e| e.to_string())?
            .label(format!("{level}% prediction interval"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], shade.filled()));
    }
    chart
        .draw_series(LineSeries::new(history.clone(), BLACK.stroke_width(1)))
        .map_err(|e| e.to_string())?
        .label(format!(
            "history ({} periods{})",
            n,
            if skip > 0 {
                format!(", the last of {}", r.history.len())
            } else {
                String::new()
            }
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
    // The forecast starts from the last value, so the line does not jump.
    let joined: Vec<(f64, f64)> = history
        .last()
        .copied()
        .into_iter()
        .chain(forecast)
        .collect();
    chart
        .draw_series(LineSeries::new(joined, BLUE.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label(format!("forecast, {} periods", r.rows.len()))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())
}
