//! The per-connection state a PostgreSQL session keeps: settings clients `SET` and `SHOW`
//! (`search_path`, `statement_timeout`, `DateStyle`, `application_name`, …), and the
//! transaction statements a read-only session acknowledges.
//!
//! Settings live in the connection's metadata, keyed by their lower-case name, beside the
//! parameters the client sent at start-up; that is also where pgwire's result encoder reads
//! `datestyle`, `intervalstyle`, `bytea_output` and `extra_float_digits` from.

use std::time::Duration;

use agora_model::Name;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use datafusion_postgres::pgwire;
use pgwire::api::ClientInfo;
use pgwire::api::results::Tag;
use pgwire::api::{METADATA_DATABASE, METADATA_USER};

use super::user_error;

/// What a statement that is not a query asks of the session.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SessionStatement {
    /// `SET name = value` (also `SET name TO value`, `SET SESSION name …`, `SET TIME ZONE …`).
    Set {
        name: String,
        value: String,
    },
    /// `RESET name`, `RESET ALL`, `DISCARD ALL`: back to the start-up values.
    Reset {
        name: Option<String>,
    },
    /// `SHOW name`.
    Show {
        name: String,
    },
    /// `SET TRANSACTION …`, `SET SESSION CHARACTERISTICS …`: isolation and access modes mean
    /// nothing to a session that only reads.
    SetTransaction,
    /// `BEGIN`/`START TRANSACTION`, `COMMIT`/`END`, `ROLLBACK`/`ABORT`: sessions only read,
    /// so a transaction changes nothing.
    Begin,
    Commit,
    Rollback,
    /// `SAVEPOINT`, `RELEASE SAVEPOINT`, `ROLLBACK TO SAVEPOINT` (drivers nest transactions
    /// with them): within the transaction, which they do not end.
    Savepoint(&'static str),
}

impl SessionStatement {
    /// The session statement `statement` is, if it is one.
    pub(super) fn of(statement: &Statement) -> Option<SessionStatement> {
        Some(match statement {
            Statement::Set(Set::SingleAssignment {
                variable, values, ..
            }) => SessionStatement::Set {
                name: variable.to_string().trim_matches('"').to_ascii_lowercase(),
                value: values
                    .iter()
                    .map(setting_text)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            Statement::Set(Set::SetTransaction { .. }) => SessionStatement::SetTransaction,
            Statement::Set(Set::SetTimeZone { value, .. }) => SessionStatement::Set {
                name: "timezone".to_string(),
                value: setting_text(value),
            },
            Statement::ShowVariable { variable } => SessionStatement::Show {
                name: variable
                    .iter()
                    .map(|i| i.value.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(" "),
            },
            Statement::StartTransaction { .. } => SessionStatement::Begin,
            Statement::Commit { .. } => SessionStatement::Commit,
            Statement::Rollback {
                savepoint: Some(_), ..
            } => SessionStatement::Savepoint("ROLLBACK"),
            Statement::Rollback { .. } => SessionStatement::Rollback,
            Statement::Savepoint { .. } => SessionStatement::Savepoint("SAVEPOINT"),
            Statement::ReleaseSavepoint { .. } => SessionStatement::Savepoint("RELEASE"),
            Statement::Discard { .. } => SessionStatement::Reset { name: None },
            Statement::Reset(reset) => {
                let name = reset.to_string();
                let name = name
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim()
                    .to_ascii_lowercase();
                SessionStatement::Reset {
                    name: (name != "all").then_some(name),
                }
            }
            _ => return None,
        })
    }

    /// The command tag PostgreSQL answers the statement with (all but `SHOW`, which answers
    /// rows).
    pub(super) fn tag(&self) -> Tag {
        Tag::new(match self {
            SessionStatement::Set { .. } | SessionStatement::SetTransaction => "SET",
            SessionStatement::Reset { .. } => "RESET",
            SessionStatement::Show { .. } => "SHOW",
            SessionStatement::Begin => "BEGIN",
            SessionStatement::Commit => "COMMIT",
            SessionStatement::Rollback => "ROLLBACK",
            SessionStatement::Savepoint(tag) => tag,
        })
    }
}

/// A setting's value as written, without the quotes: `'ISO, MDY'` is `ISO, MDY`, `sales` is
/// `sales`.
fn setting_text(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// Settings that name who the session is: never changed by the session itself.
const FIXED: &[&str] = &[
    METADATA_USER,
    METADATA_DATABASE,
    "session_authorization",
    "role",
    "is_superuser",
];

/// Prefix of the metadata key holding a setting's start-up value, kept for `RESET`.
const STARTUP: &str = "startup:";

/// The metadata key of setting `name`: its PostgreSQL name in lower case (`SET TIME ZONE` and
/// `SET timezone` are one setting).
fn key(name: &str) -> String {
    agora_query::pg_setting(name).map_or_else(
        || name.to_ascii_lowercase(),
        |s| s.name.to_ascii_lowercase(),
    )
}

/// Applies `SET name = value` to the connection. The server's own settings (its version, its
/// encoding) keep their value; `search_path` must name domains that exist (checked by the
/// caller, which can see the mesh); `statement_timeout` must be a duration.
pub(super) fn set<C: ClientInfo>(
    client: &mut C,
    name: &str,
    value: &str,
) -> pgwire::error::PgWireResult<()> {
    let name = key(name);
    if FIXED.contains(&name.as_str()) || name.starts_with(STARTUP) {
        return Err(user_error(
            "42501",
            format!("{name} cannot be changed: a session is its principal's, as it logged in"),
        ));
    }
    if let Some(setting) = agora_query::pg_setting(&name)
        && setting.fixed
    {
        let comparable = |v: &str| v.replace(['-', '_'], "").to_ascii_uppercase();
        if comparable(value) != comparable(setting.value) {
            return Err(user_error(
                "55P02",
                format!(
                    "parameter \"{}\" cannot be changed: it is {} here",
                    setting.name, setting.value
                ),
            ));
        }
        return Ok(());
    }
    if name == "statement_timeout" {
        parse_timeout(value)?;
    }
    let metadata = client.metadata_mut();
    let saved = format!("{STARTUP}{name}");
    if !metadata.contains_key(&saved) {
        let startup = metadata.get(&name).cloned().unwrap_or_default();
        metadata.insert(saved, startup);
    }
    metadata.insert(name, value.to_string());
    Ok(())
}

/// Undoes `SET name` (every `SET`, without a name).
pub(super) fn reset<C: ClientInfo>(client: &mut C, name: Option<&str>) {
    let name = name.map(key);
    let metadata = client.metadata_mut();
    let saved: Vec<String> = metadata
        .keys()
        .filter_map(|k| k.strip_prefix(STARTUP))
        .filter(|k| name.as_deref().is_none_or(|n| n == *k))
        .map(str::to_string)
        .collect();
    for key in saved {
        let startup = metadata
            .remove(&format!("{STARTUP}{key}"))
            .unwrap_or_default();
        if startup.is_empty() {
            metadata.remove(&key);
        } else {
            metadata.insert(key, startup);
        }
    }
}

/// The connection's value of setting `name`: what it `SET`, or what the client sent at
/// start-up (whose names keep the client's case, `DateStyle`).
pub(super) fn value<C: ClientInfo>(client: &C, name: &str) -> Option<String> {
    let name = key(name);
    if FIXED.contains(&name.as_str()) {
        return None;
    }
    let metadata = client.metadata();
    metadata.get(&name).cloned().or_else(|| {
        metadata
            .iter()
            .find(|(k, _)| !k.starts_with(STARTUP) && k.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.clone())
    })
}

/// `SHOW name`: the column PostgreSQL names and the connection's value.
pub(super) fn show<C: ClientInfo>(
    client: &C,
    name: &str,
) -> pgwire::error::PgWireResult<(String, String)> {
    match agora_query::pg_setting(name) {
        Some(setting) if setting.fixed => Ok((setting.name.into(), setting.value.into())),
        Some(setting) => Ok((
            setting.name.into(),
            value(client, name).unwrap_or_else(|| setting.value.into()),
        )),
        None => value(client, name)
            .map(|v| (name.to_string(), v))
            .ok_or_else(|| {
                user_error(
                    "42704",
                    format!("unrecognized configuration parameter \"{name}\""),
                )
            }),
    }
}

/// The domain bare table names resolve to: the first schema of `search_path` that is not one
/// of PostgreSQL's own (`public`, `pg_catalog`, `"$user"`, `information_schema`).
pub(super) fn default_domain(search_path: &str) -> pgwire::error::PgWireResult<Option<Name>> {
    for schema in search_path.split(',') {
        let schema = schema.trim().trim_matches('"').trim_matches('\'');
        if schema.is_empty()
            || ["public", "pg_catalog", "$user", "information_schema"].contains(&schema)
        {
            continue;
        }
        return Name::strict("schema", schema).map(Some).map_err(|e| {
            user_error(
                "3F000",
                format!("search_path names {schema:?}, which is not a domain: {e}"),
            )
        });
    }
    Ok(None)
}

/// `statement_timeout` as PostgreSQL reads it: milliseconds, or a number with a unit
/// (`ms`, `s`, `min`, `h`, `d`); 0 means none.
pub(super) fn parse_timeout(value: &str) -> pgwire::error::PgWireResult<Option<Duration>> {
    let text = value.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let invalid = || {
        user_error(
            "22023",
            format!(
                "invalid value for statement_timeout: {value:?} (a duration such as 5000, 5s or 2min)"
            ),
        )
    };
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let millis = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid()),
    };
    let millis = number * millis;
    if !millis.is_finite() || millis < 0.0 || millis > i32::MAX as f64 {
        return Err(invalid());
    }
    Ok((millis >= 1.0).then(|| Duration::from_millis(millis as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn classify(sql: &str) -> Option<SessionStatement> {
        let statements = PostgresCompatibilityParser::new().parse(sql).unwrap();
        SessionStatement::of(&statements[0])
    }

    #[test]
    fn the_forms_clients_send_are_recognised() {
        let set = |name: &str, value: &str| {
            Some(SessionStatement::Set {
                name: name.to_string(),
                value: value.to_string(),
            })
        };
        assert_eq!(
            classify("SET search_path TO sales, public"),
            set("search_path", "sales, public")
        );
        assert_eq!(
            classify("set search_path = 'sales'"),
            set("search_path", "sales")
        );
        assert_eq!(
            classify("SET SESSION DateStyle = 'ISO, MDY'"),
            set("datestyle", "ISO, MDY")
        );
        assert_eq!(classify("SET TIME ZONE 'UTC'"), set("timezone", "UTC"));
        assert_eq!(
            classify("SET extra_float_digits = 3"),
            set("extra_float_digits", "3")
        );
        assert_eq!(
            classify("SHOW transaction isolation level"),
            Some(SessionStatement::Show {
                name: "transaction isolation level".into()
            })
        );
        assert_eq!(classify("BEGIN"), Some(SessionStatement::Begin));
        assert_eq!(classify("COMMIT"), Some(SessionStatement::Commit));
        assert_eq!(classify("ROLLBACK"), Some(SessionStatement::Rollback));
        assert_eq!(
            classify("ROLLBACK TO SAVEPOINT \"_pg3_1\""),
            Some(SessionStatement::Savepoint("ROLLBACK"))
        );
        assert_eq!(
            classify("SAVEPOINT \"_pg3_1\""),
            Some(SessionStatement::Savepoint("SAVEPOINT"))
        );
        assert_eq!(
            classify("RELEASE SAVEPOINT \"_pg3_1\""),
            Some(SessionStatement::Savepoint("RELEASE"))
        );
        assert_eq!(classify("select 1"), None);
    }

    #[test]
    fn search_path_skips_postgres_schemas_and_refuses_what_is_not_a_name() {
        assert_eq!(default_domain("\"$user\", public").unwrap(), None);
        assert_eq!(
            default_domain("public, sales")
                .unwrap()
                .map(|n| n.to_string()),
            Some("sales".to_string())
        );
        assert!(default_domain("public, \"no such; thing\"").is_err());
    }

    #[test]
    fn timeouts_read_as_postgres_reads_them() {
        assert_eq!(parse_timeout("5000").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("5s").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_timeout("2min").unwrap(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("1e400").is_err());
    }
}
