//! How an ingest's accepted rows meet the rows a table has.

use std::fmt;

use crate::IngestError;

/// How an ingest's accepted rows meet the table's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestMode {
    /// Add the rows; a row whose primary key (or unique value) the table has is quarantined.
    #[default]
    Append,
    /// Upsert by the contract's primary key (delta-rs `MERGE`): a row whose key the table has
    /// replaces it, the others are added; an input holding one key twice is refused.
    Merge,
    /// Replace every row of the table with the accepted rows, in one commit.
    Overwrite,
}

impl IngestMode {
    pub fn parse(text: &str) -> Result<IngestMode, IngestError> {
        match text.to_ascii_lowercase().as_str() {
            "append" => Ok(IngestMode::Append),
            "merge" => Ok(IngestMode::Merge),
            "overwrite" => Ok(IngestMode::Overwrite),
            other => Err(IngestError::bad_input(
                "--mode",
                format!("unknown ingest mode `{other}`: use append, merge or overwrite"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IngestMode::Append => "append",
            IngestMode::Merge => "merge",
            IngestMode::Overwrite => "overwrite",
        }
    }
}

impl fmt::Display for IngestMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
