//! Reading a contract table's `quality` entries into [`QualityRule`]s, refusing what Agora
//! cannot evaluate as it was meant (an unknown metric or operator) with an error naming the rule.

use agora_model::ContractTable;
use serde_json::Value;

use crate::QualityError;

/// One quality rule of a contract table.
#[derive(Debug, Clone)]
pub struct QualityRule {
    /// Where the rule is written, for messages: `orders`, or `orders.email`, with its position.
    pub place: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub scope: Scope,
    pub kind: RuleKind,
    pub comparison: Option<Comparison>,
    pub unit: Unit,
    pub severity: Severity,
}

impl QualityRule {
    /// Whether the rule can send an ingest's batch to quarantine: a blocking rule Agora
    /// evaluates (custom rules belong to other engines).
    pub fn can_block(&self) -> bool {
        self.severity == Severity::Block && !matches!(self.kind, RuleKind::Custom { .. })
    }

    /// The time since the previous batch an SLA `frequency` rule allows, in seconds.
    pub fn frequency_seconds(&self) -> Option<f64> {
        match (&self.kind, self.comparison) {
            (RuleKind::Frequency { unit }, Some(Comparison::LessOrEqualTo(v))) => {
                Some(v * unit.seconds)
            }
            _ => None,
        }
    }

    /// The query of a `type: sql` rule.
    pub fn sql(&self) -> Option<&str> {
        match &self.kind {
            RuleKind::Sql { query } => Some(query),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Table,
    /// The column's SQL name.
    Column(String),
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Library(Metric),
    Sql {
        query: String,
    },
    Custom {
        engine: Option<String>,
    },
    /// SLA `latency`: the newest value of `column` (a date or timestamp) is at most the bound,
    /// in `unit`, old when the batch arrives.
    Latency {
        column: String,
        unit: super::TimeUnit,
    },
    /// SLA `frequency`: at most the bound, in `unit`, between a batch and the one before it.
    Frequency {
        unit: super::TimeUnit,
    },
}

#[derive(Debug, Clone)]
pub enum Metric {
    NullValues,
    /// Null, or one of the listed values.
    MissingValues {
        missing: Vec<Option<String>>,
    },
    /// Not one of the valid values, or not matching the pattern (nulls are missing, not invalid).
    InvalidValues {
        valid: Option<Vec<Option<String>>>,
        pattern: Option<regex::Regex>,
    },
    /// Rows whose value (or combination of the listed columns' values) another row has too.
    DuplicateValues {
        columns: Vec<String>,
    },
    RowCount,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    MustBe(f64),
    MustNotBe(f64),
    GreaterThan(f64),
    GreaterOrEqualTo(f64),
    LessThan(f64),
    LessOrEqualTo(f64),
    Between(f64, f64),
    NotBetween(f64, f64),
}

impl Comparison {
    pub fn holds(&self, observed: f64) -> bool {
        match *self {
            Comparison::MustBe(v) => observed == v,
            Comparison::MustNotBe(v) => observed != v,
            Comparison::GreaterThan(v) => observed > v,
            Comparison::GreaterOrEqualTo(v) => observed >= v,
            Comparison::LessThan(v) => observed < v,
            Comparison::LessOrEqualTo(v) => observed <= v,
            Comparison::Between(a, b) => (a..=b).contains(&observed),
            Comparison::NotBetween(a, b) => !(a..=b).contains(&observed),
        }
    }

    /// How the values from `low` to `high` stand against the rule: all of them hold it, none
    /// does, or some do (a prediction interval that reaches a bound).
    pub fn band(&self, low: f64, high: f64) -> Band {
        let (all, none) = match *self {
            Comparison::MustBe(v) => (low == v && high == v, v < low || v > high),
            Comparison::MustNotBe(v) => (v < low || v > high, low == v && high == v),
            Comparison::GreaterThan(v) => (low > v, high <= v),
            Comparison::GreaterOrEqualTo(v) => (low >= v, high < v),
            Comparison::LessThan(v) => (high < v, low >= v),
            Comparison::LessOrEqualTo(v) => (high <= v, low > v),
            Comparison::Between(a, b) => (a <= low && high <= b, high < a || low > b),
            Comparison::NotBetween(a, b) => (high < a || low > b, a <= low && high <= b),
        };
        match (all, none) {
            (true, _) => Band::Holds,
            (_, true) => Band::Breaks,
            _ => Band::Straddles,
        }
    }

    /// The comparison as a person reads it: `must be ≤ 5`.
    pub fn describe(&self) -> String {
        match *self {
            Comparison::MustBe(v) => format!("must be {v}"),
            Comparison::MustNotBe(v) => format!("must not be {v}"),
            Comparison::GreaterThan(v) => format!("must be > {v}"),
            Comparison::GreaterOrEqualTo(v) => format!("must be ≥ {v}"),
            Comparison::LessThan(v) => format!("must be < {v}"),
            Comparison::LessOrEqualTo(v) => format!("must be ≤ {v}"),
            Comparison::Between(a, b) => format!("must be between {a} and {b}"),
            Comparison::NotBetween(a, b) => format!("must not be between {a} and {b}"),
        }
    }
}

/// Where a range of values stands against a rule ([`Comparison::band`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Holds,
    Straddles,
    Breaks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Rows,
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The batch commits; an incident is opened.
    Warn,
    /// The batch goes to quarantine whole.
    Block,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }
}

const OPERATORS: [&str; 8] = [
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
];

/// The rules of a contract table: its own `quality` entries, then each column's, then the SLA
/// properties that name it.
pub fn rules_of(table: &ContractTable) -> Result<Vec<QualityRule>, QualityError> {
    let mut rules = Vec::new();
    for (i, raw) in table.quality.iter().enumerate() {
        let place = format!("table {} quality rule {}", table.name, i + 1);
        rules.push(parse_rule(raw, place, Scope::Table)?);
    }
    for column in &table.columns {
        for (i, raw) in column.quality.iter().enumerate() {
            let place = format!(
                "column {}.{} quality rule {}",
                table.name,
                column.name,
                i + 1
            );
            let scope = Scope::Column(column.sql_name.as_str().to_string());
            rules.push(parse_rule(raw, place, scope)?);
        }
    }
    rules.extend(super::sla::sla_rules_of(table)?);
    Ok(rules)
}

fn parse_rule(raw: &Value, place: String, scope: Scope) -> Result<QualityRule, QualityError> {
    let bad = |message: String| QualityError::BadRule {
        place: place.clone(),
        message,
    };
    let obj = raw
        .as_object()
        .ok_or_else(|| bad("a quality rule must be a mapping".into()))?;
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    let rule_type = text("type").unwrap_or_else(|| "library".into());
    let kind = match rule_type.as_str() {
        "library" => RuleKind::Library(parse_metric(obj, &scope, &bad)?),
        "sql" => RuleKind::Sql {
            query: text("query")
                .filter(|q| !q.trim().is_empty())
                .ok_or_else(|| bad("a `type: sql` rule needs a `query`".into()))?,
        },
        "custom" => RuleKind::Custom {
            engine: text("engine"),
        },
        "text" => RuleKind::Custom { engine: None },
        other => {
            return Err(bad(format!(
                "unknown rule type `{other}`: expected library, sql, custom or text"
            )));
        }
    };
    let mut comparison = parse_comparison(obj, &bad)?;
    // An enumeration without a tolerance allows no other value (see agora-model's contract).
    if comparison.is_none() && matches!(kind, RuleKind::Library(Metric::InvalidValues { .. })) {
        comparison = Some(Comparison::MustBe(0.0));
    }
    if comparison.is_none() && matches!(kind, RuleKind::Library(_) | RuleKind::Sql { .. }) {
        return Err(bad(format!(
            "the rule compares nothing: give one of {}",
            OPERATORS.join(", ")
        )));
    }
    let unit = match text("unit")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("rows") => Unit::Rows,
        Some("percent") => Unit::Percent,
        Some(other) => {
            return Err(bad(format!(
                "unknown unit `{other}`: expected rows or percent"
            )));
        }
    };
    let severity = match text("severity")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("error" | "critical" | "fatal" | "blocker" | "block" | "major" | "high") => {
            Severity::Block
        }
        // ODCS leaves the default open; a rule that names no severity reports and opens an
        // incident but does not stop the data (`severity: error` does).
        None | Some("warning" | "warn" | "info" | "minor" | "low") => Severity::Warn,
        Some(other) => {
            return Err(bad(format!(
                "unknown severity `{other}`: expected error (the batch is quarantined) or warning (it commits and an incident opens)"
            )));
        }
    };
    Ok(QualityRule {
        place: place.clone(),
        name: text("name"),
        description: text("description"),
        scope,
        kind,
        comparison,
        unit,
        severity,
    })
}

fn parse_metric(
    obj: &serde_json::Map<String, Value>,
    scope: &Scope,
    bad: &dyn Fn(String) -> QualityError,
) -> Result<Metric, QualityError> {
    let name = obj
        .get("metric")
        .or_else(|| obj.get("rule"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a library rule needs a `metric`".into()))?;
    let arguments = obj.get("arguments").and_then(Value::as_object);
    let list = |key: &str| -> Option<Vec<Option<String>>> {
        arguments
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|values| values.iter().map(value_text).collect())
    };
    let column_only = |metric: &str| match scope {
        Scope::Column(_) => Ok(()),
        Scope::Table => Err(bad(format!(
            "`{metric}` is a column metric: write it under the column's `quality`"
        ))),
    };
    Ok(match name {
        "nullValues" => {
            column_only(name)?;
            Metric::NullValues
        }
        "missingValues" => {
            column_only(name)?;
            Metric::MissingValues {
                missing: list("missingValues").unwrap_or_else(|| vec![None, Some(String::new())]),
            }
        }
        "invalidValues" => {
            column_only(name)?;
            let pattern = match arguments.and_then(|a| a.get("pattern")) {
                None => None,
                Some(Value::String(p)) => {
                    Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                        bad(format!(
                            "the pattern `{p}` is not a regular expression: {e}"
                        ))
                    })?)
                }
                Some(_) => return Err(bad("`arguments.pattern` must be a string".into())),
            };
            let valid = list("validValues");
            if valid.is_none() && pattern.is_none() {
                return Err(bad(
                    "`invalidValues` needs `arguments.validValues` or `arguments.pattern`".into(),
                ));
            }
            Metric::InvalidValues { valid, pattern }
        }
        "duplicateValues" => Metric::DuplicateValues {
            columns: match scope {
                Scope::Column(c) => vec![c.clone()],
                Scope::Table => {
                    let columns: Vec<String> = list("properties")
                        .unwrap_or_default()
                        .into_iter()
                        .flatten()
                        .collect();
                    if columns.is_empty() {
                        return Err(bad(
                            "a table-level `duplicateValues` needs `arguments.properties`".into(),
                        ));
                    }
                    columns
                }
            },
        },
        "rowCount" => Metric::RowCount,
        other => {
            return Err(bad(format!(
                "unknown metric `{other}`: expected nullValues, missingValues, invalidValues, duplicateValues or rowCount"
            )));
        }
    })
}

fn parse_comparison(
    obj: &serde_json::Map<String, Value>,
    bad: &dyn Fn(String) -> QualityError,
) -> Result<Option<Comparison>, QualityError> {
    let unknown: Vec<&String> = obj
        .keys()
        .filter(|k| k.starts_with("must") && !OPERATORS.contains(&k.as_str()))
        .collect();
    if let Some(key) = unknown.first() {
        return Err(bad(format!(
            "unknown operator `{key}`: expected one of {}",
            OPERATORS.join(", ")
        )));
    }
    let given: Vec<&str> = OPERATORS
        .iter()
        .copied()
        .filter(|op| obj.contains_key(*op))
        .collect();
    let [op] = given.as_slice() else {
        return if given.is_empty() {
            Ok(None)
        } else {
            Err(bad(format!(
                "the rule gives {} operators: give one",
                given.join(" and ")
            )))
        };
    };
    let value = &obj[*op];
    let number = |v: &Value| {
        v.as_f64()
            .ok_or_else(|| bad(format!("`{op}` must be a number, not {v}")))
    };
    let range = || -> Result<(f64, f64), QualityError> {
        match value.as_array().map(Vec::as_slice) {
            Some([a, b]) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(bad(format!(
                        "`{op}` [{a}, {b}]: the lower bound is above the upper"
                    )));
                }
                Ok((a, b))
            }
            _ => Err(bad(format!(
                "`{op}` must be a list of two numbers, not {value}"
            ))),
        }
    };
    Ok(Some(match *op {
        "mustBe" => Comparison::MustBe(number(value)?),
        "mustNotBe" => Comparison::MustNotBe(number(value)?),
        "mustBeGreaterThan" => Comparison::GreaterThan(number(value)?),
        "mustBeGreaterOrEqualTo" => Comparison::GreaterOrEqualTo(number(value)?),
        "mustBeLessThan" => Comparison::LessThan(number(value)?),
        "mustBeLessOrEqualTo" => Comparison::LessOrEqualTo(number(value)?),
        "mustBeBetween" => {
            let (a, b) = range()?;
            Comparison::Between(a, b)
        }
        _ => {
            let (a, b) = range()?;
            Comparison::NotBetween(a, b)
        }
    }))
}

/// A listed value as the text an Arrow value is compared with; `null` is `None`.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn comparison() -> impl Strategy<Value = Comparison> {
        let v = -10.0..10.0f64;
        prop_oneof![
            v.clone().prop_map(Comparison::MustBe),
            v.clone().prop_map(Comparison::MustNotBe),
            v.clone().prop_map(Comparison::GreaterThan),
            v.clone().prop_map(Comparison::GreaterOrEqualTo),
            v.clone().prop_map(Comparison::LessThan),
            v.clone().prop_map(Comparison::LessOrEqualTo),
            (v.clone(), v.clone()).prop_map(|(a, b)| Comparison::Between(a.min(b), a.max(b))),
            (v.clone(), v).prop_map(|(a, b)| Comparison::NotBetween(a.min(b), a.max(b))),
        ]
    }

    proptest! {
        /// A band that holds has every value in it holding the rule, one that breaks has none,
        /// and a band of one value is that value's verdict.
        #[test]
        fn a_band_agrees_with_the_values_in_it(
            c in comparison(),
            low in -12.0..12.0f64,
            width in 0.0..8.0f64,
            share in 0.0..=1.0f64,
        ) {
            let high = low + width;
            let inside = low + width * share;
            match c.band(low, high) {
                Band::Holds => prop_assert!(c.holds(low) && c.holds(inside) && c.holds(high)),
                Band::Breaks => prop_assert!(!c.holds(low) && !c.holds(inside) && !c.holds(high)),
                Band::Straddles => prop_assert!(width > 0.0),
            }
            let single = if c.holds(inside) { Band::Holds } else { Band::Breaks };
            prop_assert_eq!(c.band(inside, inside), single);
        }
    }
}
