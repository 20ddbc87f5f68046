//! Anomaly flags on the device: agora-quality's streaming detector — the one the node scores
//! events with, one configuration for every series — judges each configured numeric column's
//! values as they arrive, per series (`by`, a device id), and an event whose value it finds
//! new gets the detector's reason in the `flag` column before it is buffered. The detectors'
//! memory is bounded (`max_series` of them) and lives in the process: after a restart each
//! series warms up again (no flag before its first 100 values).

use std::collections::HashMap;

use agora_quality::{DetectorConfig, StreamingDetector};
use arrow::datatypes::DataType;
use serde_json::{Map, Value};

use crate::config::AnomalySection;
use crate::contract::Validator;

pub struct Flagger {
    section: AnomalySection,
    detectors: HashMap<(String, String), StreamingDetector>,
}

/// What scoring an event did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Scored {
    pub flagged: bool,
    /// The event belongs to a series past `max_series`: not scored.
    pub unscored: bool,
}

impl Flagger {
    /// Checks the section against the table: the columns numeric, the flag a text column.
    pub fn new(section: AnomalySection, validator: &Validator) -> Result<Flagger, String> {
        let schema = validator.schema();
        let field = |name: &str, key: &str| {
            schema
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .map_err(|_| format!("anomaly.{key}: `{name}` is not a column of the table"))
        };
        for c in &section.columns {
            let t = field(c, "columns")?;
            if !(t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..))) {
                return Err(format!("anomaly.columns: `{c}` is not numeric ({t})"));
            }
        }
        if !matches!(
            field(&section.flag, "flag")?,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(format!(
                "anomaly.flag: `{}` is not a text column",
                section.flag
            ));
        }
        if let Some(by) = &section.by {
            field(by, "by")?;
        }
        Ok(Flagger {
            section,
            detectors: HashMap::new(),
        })
    }

    /// Scores `event`'s values, writing the reasons of what is new into its flag column.
    pub fn score(&mut self, event: &mut Map<String, Value>) -> Scored {
        let series = self
            .section
            .by
            .as_ref()
            .map(|by| event.get(by).map_or("null".to_string(), Value::to_string))
            .unwrap_or_default();
        let mut reasons = Vec::new();
        let mut scored = Scored::default();
        for column in &self.section.columns {
            let Some(value) = event.get(column).and_then(Value::as_f64) else {
                continue;
            };
            let key = (column.clone(), series.clone());
            if !self.detectors.contains_key(&key) && self.detectors.len() >= self.section.max_series
            {
                scored.unscored = true;
                continue;
            }
            let verdict = self
                .detectors
                .entry(key)
                .or_insert_with(|| StreamingDetector::new(DetectorConfig::default()))
                .observe(value);
            if verdict.is_anomaly {
                reasons.push(format!("{column}: {}", verdict.reason));
            }
        }
        if !reasons.is_empty() {
            event.insert(self.section.flag.clone(), Value::String(reasons.join("; ")));
            scored.flagged = true;
        }
        scored
    }
}
