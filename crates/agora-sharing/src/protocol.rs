//! The messages of the Delta Sharing REST protocol: list items, the error body, and the
//! actions of a table's metadata, query and change responses (newline-delimited JSON, each
//! line one action wrapped in its name: `{"protocol": …}`, `{"metaData": …}`, `{"file": …}`;
//! [`crate::response_format`] writes them in either of the protocol's formats).

use std::collections::BTreeMap;

use serde::Serialize;

/// The response header that carries a table's version.
pub const TABLE_VERSION_HEADER: &str = "delta-table-version";
/// The request and response header of capabilities (`responseformat=parquet`): see
/// [`crate::ResponseFormat`].
pub const CAPABILITIES_HEADER: &str = "delta-sharing-capabilities";
/// The content type of the newline-delimited responses.
pub const NDJSON: &str = "application/x-ndjson; charset=utf-8";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareItem {
    pub name: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaItem {
    pub name: String,
    pub share: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableItem {
    pub name: String,
    pub schema: String,
    pub share: String,
    pub share_id: String,
    pub id: String,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    pub message: String,
}

/// The `protocol` action: Agora's files need no reader feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolAction {
    pub min_reader_version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Format {
    pub provider: String,
}

/// The `metaData` action: the table as the recipient sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataAction {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub format: Format,
    /// The schema in Delta's JSON form.
    pub schema_string: String,
    pub partition_columns: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configuration: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A data file: the `file` action of a query, or the `cdf` action of a change feed (whose
/// governed files hold `_change_type`, so no `add` or `remove` action is needed).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAction {
    pub url: String,
    pub id: String,
    pub partition_values: BTreeMap<String, String>,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    /// When `url` stops working, in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<i64>,
    /// The version that added the file (in a change feed or a query from a version on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// When that version was committed, in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// One line of a newline-delimited response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
    #[serde(rename = "protocol")]
    Protocol(ProtocolAction),
    #[serde(rename = "metaData")]
    Metadata(MetadataAction),
    #[serde(rename = "file")]
    File(FileAction),
    #[serde(rename = "cdf")]
    Cdf(FileAction),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_wrapped_in_their_names_one_per_line() {
        let text = crate::ResponseFormat::Parquet.ndjson(&[
            Action::Protocol(ProtocolAction {
                min_reader_version: 1,
            }),
            Action::File(FileAction {
                url: "http://h/f".into(),
                id: "f1".into(),
                partition_values: BTreeMap::new(),
                size: 10,
                stats: Some(r#"{"numRecords":2}"#.into()),
                expiration_timestamp: Some(5),
                version: None,
                timestamp: None,
            }),
        ]);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["protocol"]["minReaderVersion"], 1);
        assert_eq!(lines[1]["file"]["partitionValues"], serde_json::json!({}));
        assert_eq!(lines[1]["file"]["expirationTimestamp"], 5);
        assert!(lines[1]["file"].get("version").is_none());
    }
}
