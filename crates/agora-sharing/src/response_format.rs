//! The two shapes of a newline-delimited answer. A client names the one it wants in the
//! `delta-sharing-capabilities` request header (`responseformat=delta;readerfeatures=…`); the
//! `parquet` format is the protocol's default, and `delta` wraps each action as the Delta
//! log action it stands for (`deltaProtocol`, `deltaMetadata`, `deltaSingleAction`), which a
//! client writes into a local `_delta_log` and reads with a Delta library (the Python client
//! does this with delta-kernel-rs when asked to `use_delta_format`).
//!
//! Agora's shared files need no reader feature, so when a client accepts both formats it gets
//! `parquet`, as the protocol allows; it gets `delta` when that is the only one it names.

use serde_json::{Value, json};

use crate::protocol::{Action, FileAction, MetadataAction};

/// The format of a newline-delimited answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    Parquet,
    Delta,
}

impl ResponseFormat {
    /// The format a request's `delta-sharing-capabilities` header asks for: capabilities are
    /// `key=value1,value2` separated by `;`, keys and values case-insensitive; an unknown
    /// capability or value is ignored, as the protocol adds them over time.
    pub fn requested(capabilities: Option<&str>) -> ResponseFormat {
        let formats: Vec<String> = capabilities
            .unwrap_or_default()
            .split(';')
            .filter_map(|c| c.split_once('='))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("responseformat"))
            .flat_map(|(_, values)| values.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect();
        let delta = formats.iter().any(|f| f == "delta");
        let parquet = formats.iter().any(|f| f == "parquet");
        if delta && !parquet {
            ResponseFormat::Delta
        } else {
            ResponseFormat::Parquet
        }
    }

    /// The capability the response header carries.
    pub fn capability(self) -> &'static str {
        match self {
            ResponseFormat::Parquet => "responseformat=parquet",
            ResponseFormat::Delta => "responseformat=delta",
        }
    }

    /// `actions` as newline-delimited JSON in this format.
    pub fn ndjson(self, actions: &[Action]) -> String {
        let mut out = String::new();
        for action in actions {
            let line = match self {
                ResponseFormat::Parquet => serde_json::to_string(action),
                ResponseFormat::Delta => serde_json::to_string(&delta_action(action)),
            };
            out.push_str(&line.expect("INVARIANT: actions are plain data"));
            out.push('\n');
        }
        out
    }
}

/// The writer version of the protocol action, which a Delta log needs: 4, the first with the
/// change data feed, which product tables record (a Delta reader refuses to read the changes of
/// a table whose protocol predates it). Readers need no feature.
const MIN_WRITER_VERSION: u32 = 4;

/// One action in the delta format.
fn delta_action(action: &Action) -> Value {
    match action {
        Action::Protocol(p) => json!({"protocol": {"deltaProtocol": {
            "minReaderVersion": p.min_reader_version,
            "minWriterVersion": MIN_WRITER_VERSION,
        }}}),
        Action::Metadata(m) => json!({"metaData": delta_metadata(m)}),
        Action::File(f) => {
            // An added file changes the table's data; its modification time is its version's.
            let add = json!({"add": {
                "path": f.url,
                "partitionValues": f.partition_values,
                "size": f.size,
                "modificationTime": f.timestamp.unwrap_or(0),
                "dataChange": true,
                "stats": f.stats,
            }});
            delta_file(f, add)
        }
        Action::Cdf(f) => {
            // A change file holds `_change_type` itself, as Delta's own change data files do.
            let cdc = json!({"cdc": {
                "path": f.url,
                "partitionValues": f.partition_values,
                "size": f.size,
                "dataChange": false,
            }});
            delta_file(f, cdc)
        }
    }
}

fn delta_metadata(m: &MetadataAction) -> Value {
    let mut wrapper = json!({"deltaMetadata": {
        "id": m.id,
        "format": {"provider": m.format.provider, "options": {}},
        "schemaString": m.schema_string,
        "partitionColumns": m.partition_columns,
        "configuration": m.configuration,
    }});
    let inner = &mut wrapper["deltaMetadata"];
    if let Some(name) = &m.name {
        inner["name"] = json!(name);
    }
    if let Some(description) = &m.description {
        inner["description"] = json!(description);
    }
    for (key, value) in [
        ("version", m.version),
        ("numFiles", m.num_files),
        ("size", m.size),
    ] {
        if let Some(v) = value {
            wrapper[key] = json!(v);
        }
    }
    wrapper
}

fn delta_file(f: &FileAction, single_action: Value) -> Value {
    let mut file = json!({"id": f.id, "deltaSingleAction": single_action});
    for (key, value) in [
        ("expirationTimestamp", f.expiration_timestamp),
        ("timestamp", f.timestamp),
    ] {
        if let Some(v) = value {
            file[key] = json!(v);
        }
    }
    if let Some(v) = f.version {
        file["version"] = json!(v);
    }
    json!({ "file": file })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::protocol::{Format, ProtocolAction};

    #[test]
    fn delta_only_when_it_is_the_only_format_named() {
        let f = ResponseFormat::requested;
        assert_eq!(f(None), ResponseFormat::Parquet);
        assert_eq!(
            f(Some("responseformat=delta;readerfeatures=deletionvectors")),
            ResponseFormat::Delta
        );
        assert_eq!(f(Some(" ResponseFormat = DELTA ")), ResponseFormat::Delta);
        assert_eq!(
            f(Some("responseformat=delta,parquet")),
            ResponseFormat::Parquet
        );
        assert_eq!(f(Some("responseformat=parquet")), ResponseFormat::Parquet);
        assert_eq!(
            f(Some("includeendstreamaction=true;nonsense")),
            ResponseFormat::Parquet
        );
        assert_eq!(
            f(Some("readerfeatures=delta;responseformat=orc")),
            ResponseFormat::Parquet
        );
    }

    fn file(version: Option<u64>) -> FileAction {
        FileAction {
            url: "http://h/delta-sharing/files/t?sp=r".into(),
            id: "f1".into(),
            partition_values: BTreeMap::new(),
            size: 10,
            stats: Some(r#"{"numRecords":2}"#.into()),
            expiration_timestamp: Some(5),
            version,
            timestamp: version.map(|_| 7),
        }
    }

    #[test]
    fn each_action_wraps_the_delta_log_action_it_stands_for() {
        let metadata = Action::Metadata(MetadataAction {
            id: "t1".into(),
            name: Some("orders".into()),
            description: None,
            format: Format {
                provider: "parquet".into(),
            },
            schema_string: "{}".into(),
            partition_columns: vec![],
            configuration: BTreeMap::from([("delta.enableChangeDataFeed".into(), "true".into())]),
            version: Some(3),
            num_files: None,
            size: None,
        });
        let text = ResponseFormat::Delta.ndjson(&[
            Action::Protocol(ProtocolAction {
                min_reader_version: 1,
            }),
            metadata,
            Action::File(file(None)),
            Action::Cdf(file(Some(4))),
        ]);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0]["protocol"]["deltaProtocol"],
            json!({"minReaderVersion": 1, "minWriterVersion": 4})
        );
        let meta = &lines[1]["metaData"];
        assert_eq!(meta["version"], 3);
        assert_eq!(meta["deltaMetadata"]["name"], "orders");
        assert_eq!(meta["deltaMetadata"]["format"]["options"], json!({}));
        assert_eq!(
            meta["deltaMetadata"]["configuration"]["delta.enableChangeDataFeed"],
            "true"
        );
        let add = &lines[2]["file"]["deltaSingleAction"]["add"];
        assert_eq!(add["path"], "http://h/delta-sharing/files/t?sp=r");
        assert_eq!(
            (add["size"].as_u64(), add["dataChange"].as_bool()),
            (Some(10), Some(true))
        );
        assert_eq!(add["stats"], r#"{"numRecords":2}"#);
        assert_eq!(lines[2]["file"]["expirationTimestamp"], 5);
        assert!(lines[2]["file"].get("version").is_none());
        let change = &lines[3]["file"];
        assert_eq!(
            (change["version"].as_u64(), change["timestamp"].as_i64()),
            (Some(4), Some(7))
        );
        assert_eq!(change["deltaSingleAction"]["cdc"]["dataChange"], false);
        // The parquet format is the actions as they are.
        let parquet = ResponseFormat::Parquet.ndjson(&[Action::File(file(None))]);
        let line: Value = serde_json::from_str(parquet.trim()).unwrap();
        assert_eq!(line["file"]["url"], "http://h/delta-sharing/files/t?sp=r");
    }
}
