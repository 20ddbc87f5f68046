//! What PostgreSQL clients ask on connect and expect PostgreSQL's answers to: `version()` in a
//! form their version parsers read, `session_user`/`current_user` naming the principal (not
//! `postgres`), and `SHOW` of the settings drivers read at start-up.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// The PostgreSQL version Agora answers as: the protocol and catalog it speaks.
const SERVER_VERSION: &str = "16.0";

/// Replaces `pg_catalog`'s `version()` and `session_user()` (the compatibility parser turns
/// `current_user` into the latter) with answers for `principal`.
pub(crate) fn register(ctx: &SessionContext, principal: &str) {
    let version = format!(
        "PostgreSQL {SERVER_VERSION} (Agora {}, Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    );
    ctx.register_udf(constant("version", version));
    ctx.register_udf(constant("session_user", principal.to_string()));
}

fn constant(name: &str, value: String) -> ScalarUDF {
    let answer = move |_: &[ColumnarValue]| {
        let array: ArrayRef = Arc::new(StringArray::from(vec![value.clone()]));
        Ok(ColumnarValue::Array(array))
    };
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(answer),
    )
}

/// `SHOW name` of a setting clients read, as the query that answers it (a one-row, one-column
/// result named as PostgreSQL names it); `None` for other statements.
pub fn show_as_select(statement: &str) -> Option<String> {
    let mut words = statement.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("show") {
        return None;
    }
    let name = words
        .map(|w| w.trim_end_matches(';').to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    let (column, value) = match name.as_str() {
        "server_version" => ("server_version", SERVER_VERSION),
        "server_version_num" => ("server_version_num", "160000"),
        "transaction isolation level" | "transaction_isolation" => {
            ("transaction_isolation", "read committed")
        }
        "standard_conforming_strings" => ("standard_conforming_strings", "on"),
        "client_encoding" => ("client_encoding", "UTF8"),
        "server_encoding" => ("server_encoding", "UTF8"),
        "datestyle" => ("DateStyle", "ISO, MDY"),
        "timezone" | "time zone" => ("TimeZone", "UTC"),
        "integer_datetimes" => ("integer_datetimes", "on"),
        "max_identifier_length" => ("max_identifier_length", "63"),
        "default_transaction_read_only" | "transaction_read_only" => (
            if name == "transaction_read_only" {
                "transaction_read_only"
            } else {
                "default_transaction_read_only"
            },
            "on",
        ),
        _ => return None,
    };
    Some(format!("select '{value}' as \"{column}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_clients_read_are_answered_and_others_left_alone() {
        assert_eq!(
            show_as_select("SHOW server_version").as_deref(),
            Some("select '16.0' as \"server_version\"")
        );
        assert_eq!(
            show_as_select("show transaction isolation level;").as_deref(),
            Some("select 'read committed' as \"transaction_isolation\"")
        );
        assert_eq!(show_as_select("SHOW datafusion.execution.batch_size"), None);
        assert_eq!(show_as_select("select 1"), None);
        assert_eq!(show_as_select(""), None);
    }
}
