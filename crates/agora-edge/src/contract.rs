//! The target table's contract: fetched from the node with a signed request and cached on
//! disk, so that the agent starts while the node is away; and the check of each event against
//! it, which decides what is buffered and what goes to the agent's quarantine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agora_model::edge_batch::{SIGNATURE_HEADER, SIGNED_AT_HEADER, contract_message};
use agora_model::{Contract, ContractTable, TableRef};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::json::ReaderBuilder;
use serde_json::{Map, Value};

use crate::EdgeError;
use crate::keys::AgentKey;

const CACHE_FILE: &str = "contract.json";

/// What the node answers an agent: its table's contract and what to redact on the device.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct NodeContract {
    pub table: String,
    pub contract: String,
    #[serde(default)]
    pub redact: Vec<String>,
    #[serde(default)]
    pub redact_columns: std::collections::BTreeMap<String, String>,
}

/// Where the contract came from, for the agent's start-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractSource {
    Node,
    /// The node did not answer: the copy cached at the last start.
    Cache,
}

/// Fetches the contract of `table`'s product from the node, or, when the node does not
/// answer, reads the copy cached in `data_dir`. A node that answers with a refusal (an unknown
/// table, a key it does not know) is an error even with a cache: the agent must not run on a
/// contract its node disowns.
pub async fn fetch(
    http: &reqwest::Client,
    node: &str,
    agent: &str,
    key: &AgentKey,
    table: &str,
    data_dir: &Path,
) -> Result<(NodeContract, ContractSource), EdgeError> {
    let cache = data_dir.join(CACHE_FILE);
    let signed_at = chrono::Utc::now().to_rfc3339();
    let answer = http
        // `table` is `domain.table` of identifiers (the config checks it): nothing to escape.
        .get(format!("{node}/api/v1/edge/{agent}/contract?table={table}"))
        .header(SIGNED_AT_HEADER, &signed_at)
        .header(
            SIGNATURE_HEADER,
            key.sign(&contract_message(agent, table, &signed_at)),
        )
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => return cached(&cache, table, &e.to_string()),
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_server_error() {
        return cached(&cache, table, &format!("HTTP {status}"));
    }
    if !status.is_success() {
        return Err(EdgeError::Node(format!(
            "the node refused the contract of {table}: HTTP {status}: {}",
            node_message(&body)
        )));
    }
    let answer: NodeContract = serde_json::from_str(&body).map_err(|e| {
        EdgeError::Node(format!(
            "the node's contract answer is not what an agent reads ({e}): {body}"
        ))
    })?;
    write_atomically(&cache, &serde_json::to_string(&answer).unwrap_or_default())?;
    Ok((answer, ContractSource::Node))
}

fn cached(
    cache: &Path,
    table: &str,
    why: &str,
) -> Result<(NodeContract, ContractSource), EdgeError> {
    let text = std::fs::read_to_string(cache).map_err(|_| {
        EdgeError::Node(format!(
            "the node did not answer ({why}) and no contract of {table} is cached yet: start the agent once while the node is up"
        ))
    })?;
    let answer: NodeContract = serde_json::from_str(&text).map_err(|e| EdgeError::Io {
        path: cache.display().to_string(),
        message: format!(
            "the cached contract is damaged ({e}): delete it and start with the node up"
        ),
    })?;
    if answer.table != table {
        return Err(EdgeError::Node(format!(
            "the node did not answer ({why}) and the cached contract is of {}, not {table}",
            answer.table
        )));
    }
    Ok((answer, ContractSource::Cache))
}

/// The `error` of a node's JSON error body, or the body.
pub fn node_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<(), EdgeError> {
    let io = |p: &PathBuf, e: std::io::Error| EdgeError::Io {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(&path.to_path_buf(), e))
}

/// What an event is checked against: the table's columns, their types, required-ness and
/// enumerations.
pub struct Validator {
    table: ContractTable,
    schema: SchemaRef,
    /// The columns that identify an event (see `config::BufferSection::dedup_key`).
    key: Vec<String>,
}

impl Validator {
    /// The validator of `table` in the contract `yaml`; `dedup_key` columns must be its
    /// columns (default: the contract's primary key).
    pub fn new(
        yaml: &str,
        table: &str,
        dedup_key: Option<&[String]>,
    ) -> Result<Validator, EdgeError> {
        let t = TableRef::parse(table).map_err(|e| EdgeError::Node(e.to_string()))?;
        let contract = Contract::from_yaml(yaml)
            .map_err(|e| EdgeError::Node(format!("the contract of {table}: {e}")))?
            .contract;
        let table_def = contract.table(t.table.as_str()).cloned().ok_or_else(|| {
            EdgeError::Node(format!("the contract of {table} has no table {}", t.table))
        })?;
        let key = match dedup_key {
            Some(columns) => {
                for c in columns {
                    if table_def.column(c).is_none() {
                        return Err(EdgeError::Setting {
                            key: "buffer.dedup_key",
                            message: format!("`{c}` is not a column of {table}"),
                        });
                    }
                }
                columns.to_vec()
            }
            None => table_def
                .columns
                .iter()
                .filter(|c| c.primary_key)
                .map(|c| c.sql_name.to_string())
                .collect(),
        };
        Ok(Validator {
            schema: table_def.arrow_schema(),
            table: table_def,
            key,
        })
    }

    /// The identity of an event for deduplication, if the table has key columns.
    pub fn key_of(&self, event: &Map<String, Value>) -> Option<String> {
        if self.key.is_empty() {
            return None;
        }
        Some(
            self.key
                .iter()
                .map(|c| event.get(c).map_or("null".to_string(), Value::to_string))
                .collect::<Vec<_>>()
                .join("\u{1f}"),
        )
    }

    /// The event as one JSON line of the table's columns, or why it is refused.
    pub fn check(&self, payload: &[u8]) -> Result<(Map<String, Value>, String), String> {
        let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(event) = value else {
            return Err("not a JSON object: each message is one event".into());
        };
        for name in event.keys() {
            if self.table.column(name).is_none() {
                return Err(format!("field `{name}` is not a column of the table"));
            }
        }
        for c in &self.table.columns {
            let v = event.get(c.sql_name.as_str()).unwrap_or(&Value::Null);
            if v.is_null() {
                if c.required {
                    return Err(format!("required field `{}` is missing", c.sql_name));
                }
                continue;
            }
            if let Some(valid) = &c.valid_values {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                if !valid.contains(&text) {
                    return Err(format!(
                        "`{}` = {v} is not one of {}",
                        c.sql_name,
                        valid.join(", ")
                    ));
                }
            }
        }
        // A map of JSON values always serialises.
        let line = serde_json::to_string(&event).expect("a JSON object serialises");
        // The types: Arrow's own JSON decoder, the one batches are built with, on this line.
        self.batch(std::slice::from_ref(&line))
            .map_err(|e| format!("a value does not fit its column's type: {e}"))?;
        Ok((event, line))
    }

    /// Checked event lines as one Arrow batch of the table's schema.
    pub fn batch(&self, lines: &[String]) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut decoder = ReaderBuilder::new(Arc::clone(&self.schema))
            .with_batch_size(lines.len().max(1))
            .build_decoder()?;
        for line in lines {
            decoder.decode(line.as_bytes())?;
            decoder.decode(b"\n")?;
        }
        Ok(decoder
            .flush()?
            .unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(&self.schema))))
    }

    /// The columns every event must have a value in.
    pub fn required_columns(&self) -> impl Iterator<Item = &str> {
        self.table
            .columns
            .iter()
            .filter(|c| c.required)
            .map(|c| c.sql_name.as_str())
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: readings
name: readings
version: 1.0.0
status: active
domain: iot
schema:
  - name: readings
    properties:
      - name: seq
        logicalType: integer
        required: true
        primaryKey: true
      - name: device
        logicalType: string
        required: true
      - name: state
        logicalType: string
        quality:
          - metric: invalidValues
            arguments:
              validValues: [ok, fault]
            mustBe: 0
      - name: temperature
        logicalType: number
      - name: at
        logicalType: timestamp
"#;

    fn validator() -> Validator {
        Validator::new(CONTRACT, "iot.readings", None).unwrap()
    }

    #[test]
    fn a_good_event_is_a_line_of_the_tables_columns_keyed_by_its_primary_key() {
        let v = validator();
        let (event, line) = v
            .check(
                br#"{"seq": 7, "device": "d1", "temperature": 21.5, "at": "2026-12-04T10:00:00Z"}"#,
            )
            .unwrap();
        assert_eq!(v.key_of(&event).as_deref(), Some("7"));
        let batch = v.batch(&[line]).unwrap();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema().fields().len(), 5);
    }

    #[test]
    fn each_refusal_says_what_is_wrong() {
        let v = validator();
        for (payload, named) in [
            (&b"{oops"[..], "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (br#"{"seq": 1, "device": "d", "humidity": 3}"#, "`humidity`"),
            (br#"{"device": "d"}"#, "required field `seq`"),
            (
                br#"{"seq": 1, "device": "d", "state": "melted"}"#,
                "`state`",
            ),
            (br#"{"seq": "x", "device": "d"}"#, "type"),
        ] {
            let e = v.check(payload).unwrap_err();
            assert!(
                e.contains(named),
                "{}: {e}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn a_dedup_key_outside_the_table_is_named() {
        let e = Validator::new(CONTRACT, "iot.readings", Some(&["serial".to_string()]))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("serial"), "{e}");
        let e = Validator::new(CONTRACT, "iot.nosuch", None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nosuch"), "{e}");
    }
}
