//! OpenLineage run events (<https://openlineage.io/spec>) into the ledger.
//!
//! An event is checked against the spec's `RunEvent` required fields and types (eventTime a
//! date-time, producer and schemaURL URIs, run.runId a UUID, job namespace and name, datasets
//! with namespace and name, eventType one of the spec's values). What the ledger keeps is the
//! lineage part of the event (run, job, eventType/Time, producer, the input and output datasets
//! with their `columnLineage` facet) plus the SHA-256 of the whole event as received, so very
//! large facets (schemas, statistics) do not bloat the log but the event stays bound to it.
//!
//! Datasets map to mesh tables by name: a dataset whose name is `domain.table` of a table in
//! the mesh (with any namespace, e.g. `agora`, `postgres://…` or the warehouse's) is that
//! table; any other dataset stays an external node of the graph, named `namespace/name`.

use agora_model::TableRef;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::LineageError;

const EVENT_TYPES: &[&str] = &["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"];

fn bad(message: impl Into<String>) -> LineageError {
    LineageError::BadEvent(message.into())
}

fn string<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    field: &str,
) -> Result<&'a str, LineageError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(bad(format!("`{path}{field}` is empty"))),
        Some(other) => Err(bad(format!(
            "`{path}{field}` must be a string, not {}",
            kind_of(other)
        ))),
        None => Err(bad(format!("`{path}{field}` is required"))),
    }
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    path: &str,
    field: &str,
) -> Result<&'a Map<String, Value>, LineageError> {
    match obj.get(field) {
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(bad(format!(
            "`{path}{field}` must be an object, not {}",
            kind_of(other)
        ))),
        None => Err(bad(format!("`{path}{field}` is required"))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_uri(s: &str) -> bool {
    // RFC 3986: a scheme (letter, then letters, digits, + - .) and a colon.
    s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

/// A dataset of the event: namespace, name, and its column lineage facet if any.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
    pub column_lineage: Option<Value>,
}

/// The validated lineage content of a run event.
#[derive(Debug, Clone)]
pub struct RunEvent {
    pub event_type: Option<String>,
    pub event_time: String,
    pub producer: String,
    pub schema_url: String,
    pub run_id: String,
    pub job_namespace: String,
    pub job_name: String,
    pub inputs: Vec<Dataset>,
    pub outputs: Vec<Dataset>,
}

fn datasets(root: &Map<String, Value>, field: &str) -> Result<Vec<Dataset>, LineageError> {
    let items = match root.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(bad(format!(
                "`{field}` must be an array, not {}",
                kind_of(other)
            )));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{field}[{i}].");
            let obj = item
                .as_object()
                .ok_or_else(|| bad(format!("`{field}[{i}]` must be an object")))?;
            let facets = match obj.get("facets") {
                None | Some(Value::Null) => None,
                Some(Value::Object(f)) => Some(f),
                Some(other) => {
                    return Err(bad(format!(
                        "`{path}facets` must be an object, not {}",
                        kind_of(other)
                    )));
                }
            };
            let column_lineage = facets.and_then(|f| f.get("columnLineage")).cloned();
            if let Some(cl) = &column_lineage {
                check_column_lineage(cl, &format!("{path}facets.columnLineage."))?;
            }
            Ok(Dataset {
                namespace: string(obj, &path, "namespace")?.to_string(),
                name: string(obj, &path, "name")?.to_string(),
                column_lineage,
            })
        })
        .collect()
}

/// The `columnLineage` facet: `fields: {column: {inputFields: [{namespace, name, field}]}}`.
fn check_column_lineage(facet: &Value, path: &str) -> Result<(), LineageError> {
    let fields = facet
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(format!("`{path}fields` must be an object")))?;
    for (column, spec) in fields {
        let inputs = spec
            .get("inputFields")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                bad(format!(
                    "`{path}fields.{column}.inputFields` must be an array"
                ))
            })?;
        for (i, input) in inputs.iter().enumerate() {
            let obj = input.as_object().ok_or_else(|| {
                bad(format!(
                    "`{path}fields.{column}.inputFields[{i}]` must be an object"
                ))
            })?;
            let p = format!("{path}fields.{column}.inputFields[{i}].");
            for f in ["namespace", "name", "field"] {
                string(obj, &p, f)?;
            }
        }
    }
    Ok(())
}

impl RunEvent {
    /// Validates a run event against the spec's required fields and types.
    pub fn parse(body: &[u8]) -> Result<RunEvent, LineageError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
        let root = value
            .as_object()
            .ok_or_else(|| bad("the event must be a JSON object"))?;
        let event_time = string(root, "", "eventTime")?;
        chrono::DateTime::parse_from_rfc3339(event_time)
            .map_err(|e| bad(format!("`eventTime` is not an ISO 8601 date-time: {e}")))?;
        let producer = string(root, "", "producer")?;
        let schema_url = string(root, "", "schemaURL")?;
        for (field, v) in [("producer", producer), ("schemaURL", schema_url)] {
            if !is_uri(v) {
                return Err(bad(format!("`{field}` must be a URI, got `{v}`")));
            }
        }
        let event_type = match root.get("eventType") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if EVENT_TYPES.contains(&t.as_str()) => Some(t.clone()),
            Some(other) => {
                return Err(bad(format!(
                    "`eventType` must be one of {}, got {other}",
                    EVENT_TYPES.join(", ")
                )));
            }
        };
        let run = object(root, "", "run")?;
        let run_id = string(run, "run.", "runId")?;
        if !is_uuid(run_id) {
            return Err(bad(format!("`run.runId` must be a UUID, got `{run_id}`")));
        }
        let job = object(root, "", "job")?;
        Ok(RunEvent {
            event_type,
            event_time: event_time.to_string(),
            producer: producer.to_string(),
            schema_url: schema_url.to_string(),
            run_id: run_id.to_string(),
            job_namespace: string(job, "job.", "namespace")?.to_string(),
            job_name: string(job, "job.", "name")?.to_string(),
            inputs: datasets(root, "inputs")?,
            outputs: datasets(root, "outputs")?,
        })
    }
}

fn dataset_json(d: &Dataset, table: Option<&TableRef>) -> Value {
    let mut v = json!({"namespace": d.namespace, "name": d.name});
    if let Some(t) = table {
        v["table"] = json!(t.to_string());
    }
    if let Some(cl) = &d.column_lineage {
        v["columnLineage"] = cl.clone();
    }
    v
}

impl RunEvent {
    /// The body of the event's ledger entry: its lineage part, each dataset with the mesh
    /// table it names (`table_of`), the SHA-256 of the event as received (`raw`), and who
    /// sent it.
    pub fn entry_body(
        &self,
        raw: &[u8],
        table_of: impl Fn(&str) -> Option<TableRef>,
        by: &str,
    ) -> Value {
        let datasets = |ds: &[Dataset]| {
            ds.iter()
                .map(|d| dataset_json(d, table_of(&d.name).as_ref()))
                .collect::<Vec<_>>()
        };
        json!({
            "eventType": self.event_type,
            "eventTime": self.event_time,
            "producer": self.producer,
            "schemaURL": self.schema_url,
            "run": {"runId": self.run_id},
            "job": {"namespace": self.job_namespace, "name": self.job_name},
            "inputs": datasets(&self.inputs),
            "outputs": datasets(&self.outputs),
            "event_sha256": hex::encode(Sha256::digest(raw)),
            "by": by,
        })
    }
}

/// The ledger kind of an OpenLineage run event.
pub const KIND_LINEAGE: &str = "lineage.run";

#[cfg(test)]
mod tests {
    use super::*;

    fn event(patch: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v = json!({
            "eventType": "COMPLETE",
            "eventTime": "2026-11-26T10:00:00.000Z",
            "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/client/python",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": "0176a8c2-fe01-7439-87e6-56a1a1b4029f"},
            "job": {"namespace": "dbt", "name": "daily_revenue"},
            "inputs": [{"namespace": "agora", "name": "sales.orders"}],
            "outputs": [{"namespace": "agora", "name": "sales.revenue", "facets": {"columnLineage": {
                "fields": {"total": {"inputFields": [{"namespace": "agora", "name": "sales.orders", "field": "amount"}]}}
            }}}]
        });
        patch(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_spec_event_parses_with_its_column_lineage() {
        let e = RunEvent::parse(&event(|_| {})).unwrap();
        assert_eq!(e.job_name, "daily_revenue");
        assert_eq!(e.inputs[0].name, "sales.orders");
        assert!(e.outputs[0].column_lineage.is_some());
    }

    #[test]
    fn schema_invalid_events_are_refused_naming_the_field() {
        type Patch = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Patch, &str)> = vec![
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("eventTime");
                }),
                "`eventTime` is required",
            ),
            (
                Box::new(|v| v["eventTime"] = json!("yesterday")),
                "`eventTime` is not an ISO 8601",
            ),
            (
                Box::new(|v| v["run"]["runId"] = json!("42")),
                "`run.runId` must be a UUID",
            ),
            (
                Box::new(|v| v["job"] = json!("x")),
                "`job` must be an object",
            ),
            (
                Box::new(|v| v["eventType"] = json!("DONE")),
                "`eventType` must be one of",
            ),
            (
                Box::new(|v| v["producer"] = json!("me")),
                "`producer` must be a URI",
            ),
            (
                Box::new(|v| v["inputs"][0]["name"] = json!(3)),
                "`inputs[0].name` must be a string",
            ),
            (
                Box::new(|v| {
                    v["outputs"][0]["facets"]["columnLineage"]["fields"]["total"]["inputFields"]
                        [0] = json!({"name": "x"})
                }),
                "`outputs[0].facets.columnLineage.fields.total.inputFields[0].namespace` is required",
            ),
        ];
        for (patch, expected) in cases {
            let err = RunEvent::parse(&event(patch)).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
        assert!(RunEvent::parse(b"[1,2]").is_err());
        assert!(RunEvent::parse(b"{oops").is_err());
    }
}
