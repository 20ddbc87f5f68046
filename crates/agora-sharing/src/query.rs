//! The parameters of a table query (the body of `POST …/query`) and of a change feed (the
//! query string of `GET …/changes`), checked before anything is read.

use serde::Deserialize;

/// The body of a query request. Every field is optional; unknown fields are ignored, as the
/// protocol adds fields over time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    /// SQL predicates a client hopes prune files: a hint Agora does not use (it returns every
    /// file of what the recipient may see, which the protocol allows).
    pub predicate_hints: Option<Vec<String>>,
    /// The JSON form of predicate hints, likewise a hint only; a malformed one is ignored.
    pub json_predicate_hints: Option<String>,
    /// Rows the client means to read: files are returned until their row counts reach it.
    pub limit_hint: Option<i64>,
    pub version: Option<i64>,
    pub timestamp: Option<String>,
    pub starting_version: Option<i64>,
    pub ending_version: Option<i64>,
}

/// What a query asks for, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Snapshot {
    /// The table's latest version (or the version the share pins).
    Latest,
    Version(u64),
    /// The version current at this moment (milliseconds since the epoch).
    Timestamp(i64),
    /// Every file added from this version on (up to the second, if given).
    From(u64, Option<u64>),
}

/// Why query parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("{0} must not be negative")]
    Negative(&'static str),
    #[error("give at most one of version, timestamp and startingVersion")]
    Conflicting,
    #[error("`{0}` is not a timestamp: write it as 2024-01-31T00:00:00Z")]
    Timestamp(String),
    #[error("endingVersion {ending} is before startingVersion {starting}")]
    Backwards { starting: u64, ending: u64 },
    #[error("give startingVersion or startingTimestamp")]
    NoStart,
}

fn version(name: &'static str, v: Option<i64>) -> Result<Option<u64>, ParameterError> {
    v.map(|v| u64::try_from(v).map_err(|_| ParameterError::Negative(name)))
        .transpose()
}

/// Milliseconds since the epoch of a protocol timestamp (RFC 3339).
pub fn parse_timestamp(text: &str) -> Result<i64, ParameterError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| ParameterError::Timestamp(text.to_string()))
}

impl QueryRequest {
    /// Which snapshot of the table the request reads.
    pub fn snapshot(&self) -> Result<Snapshot, ParameterError> {
        let given = [
            self.version.is_some(),
            self.timestamp.is_some(),
            self.starting_version.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ParameterError::Conflicting);
        }
        if let Some(v) = version("version", self.version)? {
            return Ok(Snapshot::Version(v));
        }
        if let Some(t) = &self.timestamp {
            return Ok(Snapshot::Timestamp(parse_timestamp(t)?));
        }
        if let Some(start) = version("startingVersion", self.starting_version)? {
            let end = version("endingVersion", self.ending_version)?;
            if let Some(end) = end
                && end < start
            {
                return Err(ParameterError::Backwards {
                    starting: start,
                    ending: end,
                });
            }
            return Ok(Snapshot::From(start, end));
        }
        Ok(Snapshot::Latest)
    }

    /// The row limit the client hinted at.
    pub fn limit(&self) -> Result<Option<u64>, ParameterError> {
        version("limitHint", self.limit_hint)
    }

    /// Whether `jsonPredicateHints`, if given, is JSON at all (a malformed one is ignored and
    /// logged by the server).
    pub fn json_hints_are_malformed(&self) -> bool {
        self.json_predicate_hints
            .as_deref()
            .is_some_and(|h| serde_json::from_str::<serde_json::Value>(h).is_err())
    }
}

/// The query string of a change-feed request.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangesRequest {
    pub starting_version: Option<i64>,
    pub starting_timestamp: Option<String>,
    pub ending_version: Option<i64>,
    pub ending_timestamp: Option<String>,
}

/// One end of a change feed's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Version(u64),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

impl ChangesRequest {
    /// The range asked for: its start, and its end if given (the latest version otherwise).
    pub fn range(&self) -> Result<(Bound, Option<Bound>), ParameterError> {
        let start = match (
            version("startingVersion", self.starting_version)?,
            &self.starting_timestamp,
        ) {
            (Some(_), Some(_)) => return Err(ParameterError::Conflicting),
            (Some(v), None) => Bound::Version(v),
            (None, Some(t)) => Bound::Timestamp(parse_timestamp(t)?),
            (None, None) => return Err(ParameterError::NoStart),
        };
        let end = match (
            version("endingVersion", self.ending_version)?,
            &self.ending_timestamp,
        ) {
            (Some(_), Some(_)) => return Err(ParameterError::Conflicting),
            (Some(v), None) => Some(Bound::Version(v)),
            (None, Some(t)) => Some(Bound::Timestamp(parse_timestamp(t)?)),
            (None, None) => None,
        };
        if let (Bound::Version(s), Some(Bound::Version(e))) = (start, end)
            && e < s
        {
            return Err(ParameterError::Backwards {
                starting: s,
                ending: e,
            });
        }
        Ok((start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> QueryRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_query_reads_one_snapshot() {
        assert_eq!(body("{}").snapshot(), Ok(Snapshot::Latest));
        assert_eq!(
            body(r#"{"version": 3}"#).snapshot(),
            Ok(Snapshot::Version(3))
        );
        assert_eq!(
            body(r#"{"startingVersion": 1, "endingVersion": 4, "futureField": true}"#).snapshot(),
            Ok(Snapshot::From(1, Some(4)))
        );
        assert_eq!(
            body(r#"{"timestamp": "2024-01-31T00:00:00Z"}"#).snapshot(),
            Ok(Snapshot::Timestamp(1_706_659_200_000))
        );
    }

    #[test]
    fn contradictory_or_impossible_parameters_are_refused() {
        assert_eq!(
            body(r#"{"version": 1, "timestamp": "2024-01-31T00:00:00Z"}"#).snapshot(),
            Err(ParameterError::Conflicting)
        );
        assert_eq!(
            body(r#"{"version": -1}"#).snapshot(),
            Err(ParameterError::Negative("version"))
        );
        assert_eq!(
            body(r#"{"startingVersion": 4, "endingVersion": 1}"#).snapshot(),
            Err(ParameterError::Backwards {
                starting: 4,
                ending: 1
            })
        );
        assert!(matches!(
            body(r#"{"timestamp": "yesterday"}"#).snapshot(),
            Err(ParameterError::Timestamp(_))
        ));
        assert_eq!(
            body(r#"{"limitHint": -5}"#).limit(),
            Err(ParameterError::Negative("limitHint"))
        );
        assert_eq!(
            ChangesRequest::default().range(),
            Err(ParameterError::NoStart)
        );
    }

    #[test]
    fn malformed_json_hints_are_noticed() {
        assert!(body(r#"{"jsonPredicateHints": "{not json"}"#).json_hints_are_malformed());
        assert!(
            !body(r#"{"jsonPredicateHints": "{\"op\":\"isNull\"}"}"#).json_hints_are_malformed()
        );
    }
}
