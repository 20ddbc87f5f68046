//! A contract's `slaProperties` that a batch can be held to: `latency` (how old the newest
//! value of `element`, a date or timestamp column, may be when it arrives) and `frequency` (how
//! long the table may go without a new batch). The other properties (`generalAvailability`,
//! `endOfSupport`, `endOfLife`, `retention`, `timeOfAvailability`) describe the product's life
//! rather than a batch, and are not checked.

use agora_model::ContractTable;
use serde_json::Value;

use super::{Comparison, QualityRule, RuleKind, Scope, Severity, Unit};
use crate::QualityError;

/// A length of time in a contract's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeUnit {
    /// As the unit is written out in messages: `days`.
    pub label: &'static str,
    pub seconds: f64,
}

fn time_unit(raw: &str) -> Option<TimeUnit> {
    let (label, seconds) = match raw.to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" | "seconds" => ("seconds", 1.0),
        "min" | "minute" | "minutes" => ("minutes", 60.0),
        "h" | "hr" | "hour" | "hours" => ("hours", 3600.0),
        "d" | "day" | "days" => ("days", 86_400.0),
        "w" | "week" | "weeks" => ("weeks", 7.0 * 86_400.0),
        "y" | "yr" | "year" | "years" => ("years", 365.25 * 86_400.0),
        _ => return None,
    };
    Some(TimeUnit { label, seconds })
}

/// The SLA rules of `table` (from the properties its contract's `slaProperties` attach to it).
pub(super) fn sla_rules_of(table: &ContractTable) -> Result<Vec<QualityRule>, QualityError> {
    let mut rules = Vec::new();
    for raw in &table.sla {
        let property = raw.get("property").and_then(Value::as_str).unwrap_or("");
        let element = raw.get("element").and_then(Value::as_str).unwrap_or("");
        let place = format!("sla {property} of {element}");
        let bad = |message: String| QualityError::BadRule {
            place: place.clone(),
            message,
        };
        let kind_of = |unit: TimeUnit| match property.to_ascii_lowercase().as_str() {
            "latency" | "ly" | "freshness" => Some(RuleKind::Latency {
                column: element.split_once('.').map_or("", |(_, c)| c).to_string(),
                unit,
            }),
            "frequency" | "fy" => Some(RuleKind::Frequency { unit }),
            _ => None,
        };
        let unit_text = raw.get("unit").and_then(Value::as_str).unwrap_or("d");
        let unit = time_unit(unit_text).ok_or_else(|| {
            bad(format!(
                "unknown unit `{unit_text}`: expected s, min, h, d, w or y (or their names)"
            ))
        })?;
        let Some(kind) = kind_of(unit) else {
            continue;
        };
        let value = raw.get("value").and_then(|v| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        });
        let value = value
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad("`value` must be a number of units, 0 or more".into()))?;
        if let RuleKind::Latency { column, .. } = &kind {
            let known = table
                .columns
                .iter()
                .any(|c| c.name == *column || c.sql_name.as_str() == column);
            if !known {
                return Err(bad(format!(
                    "`element` names no column of table {}",
                    table.name
                )));
            }
        }
        let severity = match raw.get("severity").and_then(Value::as_str) {
            Some("error" | "critical" | "blocker" | "block") => Severity::Block,
            _ => Severity::Warn,
        };
        rules.push(QualityRule {
            place,
            name: None,
            description: raw
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            scope: Scope::Table,
            kind,
            comparison: Some(Comparison::LessOrEqualTo(value)),
            unit: Unit::Rows,
            severity,
        });
    }
    Ok(rules)
}
