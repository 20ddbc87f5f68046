//! Predicted breaches, as `agora quality TABLE` shows them: for each contract rule that holds
//! today and measures a number (a null ratio, a batch's row count, the time between batches,
//! a `type: sql` value), its history of checks forecast by `agora-insight` to say when, at the
//! current trend, it will stop holding — in checks, and in time at the table's usual pace.

use agora_insight::{BREACH_LEVEL, BreachForecast, predict_breach};
use agora_quality::rules::{Comparison, Metric, QualityRule, RuleKind, Scope, Unit};
use serde::Serialize;

use crate::quality_results::ResultRow;

/// A rule forecast to break.
#[derive(Debug, Clone, Serialize)]
pub struct PredictedBreach {
    pub rule: String,
    /// What the rule measures, for a person: the null ratio of `email`.
    pub metric: String,
    /// The rule's demand as its verdicts write it: `must be < 5 percent`.
    pub expected: Option<String>,
    /// Checks ahead at which the point forecast breaks the rule, and the interval's first
    /// and (if within the checks looked at) last.
    pub checks: usize,
    pub earliest_checks: usize,
    pub latest_checks: Option<usize>,
    /// The checks looked at.
    pub horizon_checks: usize,
    /// The usual time between checks (the median of the latest), and the breach in time.
    pub pace_seconds: f64,
    pub seconds: f64,
    pub earliest_seconds: f64,
    pub latest_seconds: Option<f64>,
    pub level: u32,
    pub model: String,
    /// How many checks the prediction was made from.
    pub history_checks: usize,
    pub message: String,
}

/// How many of the latest gaps between checks set the pace.
const PACE_GAPS: usize = 20;

/// The breaches the results `rows` (oldest first) predict for `rules`, nearest first. A rule
/// whose history cannot be fitted predicts nothing: the report's verdicts stand without it.
pub(crate) fn predicted_breaches(
    rows: &[ResultRow],
    rules: &[QualityRule],
) -> Vec<PredictedBreach> {
    let Some(pace) = pace_seconds(rows) else {
        return Vec::new();
    };
    let mut breaches: Vec<PredictedBreach> = rules
        .iter()
        .filter_map(|rule| {
            let comparison = rule.comparison?;
            let history: Vec<f64> = rows
                .iter()
                .filter(|r| r.status.rule == rule.place)
                .filter(|r| r.status.outcome == "passed" || r.status.outcome == "failed")
                .filter_map(|r| r.status.observed)
                .collect();
            let expected = rows
                .iter()
                .rev()
                .find(|r| r.status.rule == rule.place)
                .and_then(|r| r.status.expected.clone());
            match predict_breach(&history, &comparison) {
                Ok(Some(b)) => Some(breach(rule, &comparison, expected, &b, pace, history.len())),
                Ok(None) => None,
                Err(e) => {
                    tracing::debug!(rule = %rule.place, error = %e, "no breach prediction");
                    None
                }
            }
        })
        .collect();
    breaches.sort_by_key(|b| b.checks);
    breaches
}

/// The median time between the latest consecutive checks (one per ingest), in seconds.
fn pace_seconds(rows: &[ResultRow]) -> Option<f64> {
    let mut times: Vec<chrono::DateTime<chrono::FixedOffset>> = Vec::new();
    let mut last_ingest: Option<&str> = None;
    for r in rows {
        if last_ingest == Some(r.ingest_id.as_str()) {
            continue;
        }
        last_ingest = Some(&r.ingest_id);
        // `checked_at` is a timestamp read as text: `2026-12-03T10:00:00.123` (UTC).
        let parsed = chrono::DateTime::parse_from_rfc3339(&r.checked_at)
            .ok()
            .or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| chrono::NaiveDateTime::parse_from_str(&r.checked_at, f).ok())
                    .map(|t| t.and_utc().fixed_offset())
            });
        times.extend(parsed);
    }
    let mut gaps: Vec<f64> = times
        .windows(2)
        .rev()
        .take(PACE_GAPS)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .filter(|g| *g > 0.0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(gaps[gaps.len() / 2])
}

fn breach(
    rule: &QualityRule,
    comparison: &Comparison,
    expected: Option<String>,
    b: &BreachForecast,
    pace: f64,
    history_checks: usize,
) -> PredictedBreach {
    let metric = metric_name(rule);
    let seconds = b.checks as f64 * pace;
    let earliest = b.earliest as f64 * pace;
    let latest = b.latest.map(|l| l as f64 * pace);
    let unit = time_unit(seconds);
    let interval = match latest {
        Some(l) => format!(
            "{}–{} {}",
            in_unit(earliest, unit),
            in_unit(l, unit),
            unit.0
        ),
        None => format!(
            "{} {} to beyond the {} checks looked at",
            in_unit(earliest, unit),
            unit.0,
            b.horizon
        ),
    };
    let message = format!(
        "at the current trend {metric} {} in about {} {} ({BREACH_LEVEL}% interval {interval}): {} more check(s) at the usual one every {}; forecast by {} from {history_checks} checks",
        crossing(rule, comparison, b.value),
        in_unit(seconds, unit),
        unit.0,
        b.checks,
        spoken(pace),
        b.model,
    );
    PredictedBreach {
        rule: rule.place.clone(),
        metric,
        expected,
        checks: b.checks,
        earliest_checks: b.earliest,
        latest_checks: b.latest,
        horizon_checks: b.horizon,
        pace_seconds: pace,
        seconds,
        earliest_seconds: earliest,
        latest_seconds: latest,
        level: BREACH_LEVEL,
        model: b.model.clone(),
        history_checks,
        message,
    }
}

/// What `rule` measures, for a person.
fn metric_name(rule: &QualityRule) -> String {
    let of = match &rule.scope {
        Scope::Column(c) => format!(" of `{c}`"),
        Scope::Table => String::new(),
    };
    let share = |what: &str| match rule.unit {
        Unit::Percent => format!("the {what} ratio{of}"),
        Unit::Rows => format!("the {what} count{of}"),
    };
    match &rule.kind {
        RuleKind::Library(Metric::NullValues) => share("null"),
        RuleKind::Library(Metric::MissingValues { .. }) => share("missing-value"),
        RuleKind::Library(Metric::InvalidValues { .. }) => share("invalid-value"),
        RuleKind::Library(Metric::DuplicateValues { .. }) => share("duplicate"),
        RuleKind::Library(Metric::RowCount) => "the row count of a batch".into(),
        RuleKind::Sql { .. } => format!("the value of {}'s query", rule.place),
        RuleKind::Latency { column, .. } => format!("the age of the newest `{column}`"),
        RuleKind::Frequency { .. } => "the time between batches".into(),
        RuleKind::Custom { .. } => rule.place.clone(),
    }
}

/// How the metric leaves the rule, for a person: `passes the contract's 5%`.
fn crossing(rule: &QualityRule, comparison: &Comparison, at: f64) -> String {
    let unit = match (&rule.kind, rule.unit) {
        (RuleKind::Latency { unit, .. } | RuleKind::Frequency { unit }, _) => {
            format!(" {}", unit.label)
        }
        (RuleKind::Library(_), Unit::Percent) => "%".into(),
        (RuleKind::Library(_), Unit::Rows) => " rows".into(),
        _ => String::new(),
    };
    match *comparison {
        Comparison::LessThan(v) | Comparison::LessOrEqualTo(v) => {
            format!("passes the contract's {v}{unit}")
        }
        Comparison::GreaterThan(v) | Comparison::GreaterOrEqualTo(v) => {
            format!("falls below the contract's {v}{unit}")
        }
        Comparison::Between(_, b) if at > b => {
            format!("passes the contract's upper bound {b}{unit}")
        }
        Comparison::Between(a, _) => format!("falls below the contract's lower bound {a}{unit}"),
        Comparison::NotBetween(a, b) => {
            format!("enters the range {a}–{b}{unit} the contract excludes")
        }
        Comparison::MustBe(v) => format!("stops being {v}{unit}"),
        Comparison::MustNotBe(v) => format!("becomes {v}{unit}"),
    }
}

/// The unit a length of time reads best in, and its seconds.
fn time_unit(seconds: f64) -> (&'static str, f64) {
    match seconds {
        s if s < 120.0 => ("seconds", 1.0),
        s if s < 7_200.0 => ("minutes", 60.0),
        s if s < 86_400.0 => ("hours", 3_600.0),
        _ => ("days", 86_400.0),
    }
}

/// `seconds` in `unit`, with a decimal below ten.
fn in_unit(seconds: f64, unit: (&str, f64)) -> String {
    let v = seconds / unit.1;
    if v < 10.0 {
        let text = format!("{v:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    } else {
        format!("{v:.0}")
    }
}

/// A length of time as a person says it: `1 day`, `3.5 hours`.
fn spoken(seconds: f64) -> String {
    let unit = time_unit(seconds);
    let amount = in_unit(seconds, unit);
    match amount.as_str() {
        "1" => format!("1 {}", unit.0.trim_end_matches('s')),
        _ => format!("{amount} {}", unit.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_the_unit_that_suits_them() {
        assert_eq!(spoken(86_400.0), "1 day");
        assert_eq!(spoken(3.0 * 3600.0 + 1800.0), "3.5 hours");
        assert_eq!(spoken(0.3), "0.3 seconds");
        assert_eq!(in_unit(9.0 * 86_400.0, time_unit(9.0 * 86_400.0)), "9");
        assert_eq!(in_unit(30.0 * 86_400.0, ("days", 86_400.0)), "30");
    }
}
