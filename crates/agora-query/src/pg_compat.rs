//! What PostgreSQL clients ask on connect and expect PostgreSQL's answers to: `version()` in a
//! form their version parsers read, `session_user`/`current_user` naming the principal (not
//! `postgres`), and `SHOW` of the settings drivers read at start-up.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, SelectItem, SetExpr, Statement,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

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

/// A setting PostgreSQL clients read at start-up or `SHOW`, with the value Agora answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgSetting {
    /// The name as PostgreSQL shows it (the column of `SHOW`): `DateStyle`, `server_version`.
    pub name: &'static str,
    /// The value before any `SET`.
    pub value: &'static str,
    /// Whether the value is the server's (its version, its encoding, a read-only session)
    /// rather than the session's to change.
    pub fixed: bool,
}

/// The setting `name` (any case; `transaction isolation level` as `SHOW` spells it), if it is
/// one Agora knows.
pub fn pg_setting(name: &str) -> Option<PgSetting> {
    let name = name.trim().to_ascii_lowercase();
    let (shown, value, fixed) = match name.as_str() {
        "server_version" => ("server_version", SERVER_VERSION, true),
        "server_version_num" => ("server_version_num", "160000", true),
        "transaction isolation level" | "transaction_isolation" => {
            ("transaction_isolation", "read committed", true)
        }
        "default_transaction_isolation" => {
            ("default_transaction_isolation", "read committed", true)
        }
        "standard_conforming_strings" => ("standard_conforming_strings", "on", true),
        "client_encoding" => ("client_encoding", "UTF8", true),
        "server_encoding" => ("server_encoding", "UTF8", true),
        "integer_datetimes" => ("integer_datetimes", "on", true),
        "max_identifier_length" => ("max_identifier_length", "63", true),
        "transaction_read_only" => ("transaction_read_only", "on", true),
        "default_transaction_read_only" => ("default_transaction_read_only", "on", true),
        "datestyle" => ("DateStyle", "ISO, MDY", false),
        "intervalstyle" => ("IntervalStyle", "postgres", false),
        "timezone" | "time zone" => ("TimeZone", "UTC", false),
        "search_path" => ("search_path", "\"$user\", public", false),
        "statement_timeout" => ("statement_timeout", "0", false),
        "application_name" => ("application_name", "", false),
        "extra_float_digits" => ("extra_float_digits", "1", false),
        "bytea_output" => ("bytea_output", "hex", false),
        "client_min_messages" => ("client_min_messages", "notice", false),
        "lock_timeout" => ("lock_timeout", "0", false),
        "idle_in_transaction_session_timeout" => {
            ("idle_in_transaction_session_timeout", "0", false)
        }
        _ => return None,
    };
    Some(PgSetting {
        name: shown,
        value,
        fixed,
    })
}

/// Rewrites what clients call that DataFusion lacks into what it plans: `to_regtype(name)`
/// (psycopg's type lookup, which SQLAlchemy runs on connect) becomes a lookup of the name in
/// `pg_catalog.pg_type`, NULL when there is no such type, as in PostgreSQL; the array
/// constructor `ARRAY(SELECT x FROM …)` (psql's `\d+`) becomes `(SELECT array_agg(x) FROM …)`,
/// which is NULL rather than empty when the query has no rows; `pg_class.reloptions` (storage
/// parameters, of which Agora's tables have none) is a NULL array, and `col_description` and
/// `obj_description` are NULL.
pub fn rewrite_pg_functions(statement: &mut Statement) {
    let null_array = || {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql("CAST(NULL AS TEXT[])")
            .and_then(|mut p| p.parse_expr())
    };
    // An array of the (absent) storage parameters is as absent as they are: psql's `\d+`
    // builds one from `unnest(tc.reloptions)`, which has nothing to unnest.
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(function) = expr
            && function.name.to_string().eq_ignore_ascii_case("array")
            && let FunctionArguments::Subquery(query) = &function.args
            && query
                .to_string()
                .to_ascii_lowercase()
                .contains("reloptions")
            && let Ok(null) = null_array()
        {
            *expr = null;
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = visit_expressions_mut(statement, |expr| {
        // Comments on columns and objects: Agora keeps descriptions in contracts, not here.
        if let Expr::Function(function) = expr
            && ["col_description", "obj_description", "shobj_description"]
                .iter()
                .any(|f| {
                    function
                        .name
                        .0
                        .last()
                        .is_some_and(|part| part.to_string().eq_ignore_ascii_case(f))
                })
            && let Ok(null) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql("CAST(NULL AS TEXT)")
                .and_then(|mut p| p.parse_expr())
        {
            *expr = null;
            return ControlFlow::<()>::Continue(());
        }
        let reloptions = match expr {
            Expr::Identifier(i) => i.value.eq_ignore_ascii_case("reloptions"),
            Expr::CompoundIdentifier(parts) => parts
                .last()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("reloptions")),
            _ => false,
        };
        if reloptions && let Ok(null) = null_array() {
            *expr = null;
        }
        if let Expr::Function(function) = expr
            && function.name.to_string().eq_ignore_ascii_case("array")
            && let FunctionArguments::Subquery(query) = &function.args
            && let SetExpr::Select(select) = query.body.as_ref()
            && let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
                select.projection.as_slice()
        {
            let aggregated = format!("array_agg({item})");
            if let Ok(aggregate) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&aggregated)
                .and_then(|mut p| p.parse_expr())
            {
                let mut query = query.clone();
                if let SetExpr::Select(select) = query.body.as_mut() {
                    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
                }
                *expr = Expr::Subquery(query);
            }
        }
        if let Expr::Function(function) = expr
            && function.name.to_string().eq_ignore_ascii_case("to_regtype")
            && let FunctionArguments::List(list) = &function.args
            && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(name))] = list.args.as_slice()
        {
            let lookup =
                format!("(SELECT oid FROM pg_catalog.pg_type WHERE typname = {name} LIMIT 1)");
            if let Ok(lookup) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&lookup)
                .and_then(|mut p| p.parse_expr())
            {
                *expr = lookup;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The names PostgreSQL gives the columns of `statement`'s result, one per select item, for
/// a query whose items can be counted (no `*`): an unnamed expression is `?column?`, a function
/// call its function's name, a cast its operand's name or else its type's, `CASE` `case` —
/// where DataFusion would name them `Int64(1)` or `count(*)`. PostgreSQL allows two columns
/// of one name (`select 1, 2`); DataFusion's plans do not, so these names are given to the
/// result as it is sent, not to the plan. Read off the statement as the client wrote it,
/// before any compatibility rewrite.
pub fn pg_column_names(statement: &Statement) -> Option<Vec<String>> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let mut body = query.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(select) = body else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(expr) => Some(expression_name(expr)),
            SelectItem::ExprWithAlias { alias, .. } => Some(identifier(alias)),
            _ => None,
        })
        .collect()
}

/// Gives the unnamed expressions of `statement`'s select list names of their own when it has
/// more than one: PostgreSQL runs `select 1, 2` or `select current_user, session_user` (which
/// the compatibility rewrite makes two calls of one function), DataFusion refuses two
/// columns of one name. The names the client sees are [`pg_column_names`]'s.
pub fn name_unnamed_columns(statement: &mut Statement) {
    let Statement::Query(query) = statement else {
        return;
    };
    let mut body = query.body.as_mut();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_mut();
    }
    let SetExpr::Select(select) = body else {
        return;
    };
    let unnamed = |item: &SelectItem| {
        matches!(item, SelectItem::UnnamedExpr(e)
            if !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)))
    };
    if select
        .projection
        .iter()
        .filter(|item| unnamed(item))
        .count()
        < 2
    {
        return;
    }
    for (i, item) in select.projection.iter_mut().enumerate() {
        if unnamed(item)
            && let SelectItem::UnnamedExpr(expr) = item
        {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', format!("column {}", i + 1)),
            };
        }
    }
}

/// An identifier as PostgreSQL stores it: folded to lower case unless quoted.
fn identifier(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// PostgreSQL's name for an unaliased select item (its `FigureColname`).
fn expression_name(expr: &Expr) -> String {
    named_expression(expr).unwrap_or_else(|| "?column?".to_string())
}

fn named_expression(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(identifier(ident)),
        Expr::CompoundIdentifier(parts) => parts.last().map(identifier),
        Expr::Function(function) => function
            .name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(identifier),
        Expr::Cast {
            expr, data_type, ..
        } => named_expression(expr).or_else(|| {
            let shown = data_type.to_string().to_lowercase();
            Some(match shown.split('(').next().unwrap_or(&shown).trim() {
                "int" | "integer" => "int4".to_string(),
                "bigint" => "int8".to_string(),
                "smallint" => "int2".to_string(),
                "varchar" | "character varying" => "varchar".to_string(),
                "boolean" => "bool".to_string(),
                "double precision" | "double" => "float8".to_string(),
                "real" => "float4".to_string(),
                other => other.to_string(),
            })
        }),
        Expr::Nested(inner) => named_expression(inner),
        Expr::Case { .. } => Some("case".to_string()),
        Expr::Exists { .. } => Some("exists".to_string()),
        Expr::Array(_) => Some("array".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_clients_read_are_known_and_others_are_not() {
        let version = pg_setting("SERVER_VERSION").unwrap();
        assert_eq!(
            (version.name, version.value, version.fixed),
            ("server_version", "16.0", true)
        );
        let isolation = pg_setting("transaction isolation level").unwrap();
        assert_eq!(isolation.value, "read committed");
        let datestyle = pg_setting("datestyle").unwrap();
        assert_eq!((datestyle.name, datestyle.fixed), ("DateStyle", false));
        assert_eq!(pg_setting("datafusion.execution.batch_size"), None);
        assert_eq!(pg_setting(""), None);
    }

    #[test]
    fn columns_are_named_as_postgres_names_them() {
        let names =
            |sql: &str| pg_column_names(&Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0]);
        let expect = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(names("select 1"), expect(&["?column?"]));
        assert_eq!(names("select 1, 2 + 3"), expect(&["?column?", "?column?"]));
        assert_eq!(
            names("select current_user, session_user"),
            expect(&["current_user", "session_user"])
        );
        assert_eq!(
            names("select count(*), Upper(x) from t"),
            expect(&["count", "upper"])
        );
        assert_eq!(
            names("select 1::text, id::text, '1'::integer"),
            expect(&["text", "id", "int4"])
        );
        assert_eq!(
            names("select ID, \"Name\", t.Region as R from t"),
            expect(&["id", "Name", "r"])
        );
        assert_eq!(names("select case when true then 1 end"), expect(&["case"]));
        assert_eq!(names("select 1 union all select 2"), expect(&["?column?"]));
        assert_eq!(names("select * from t"), None);
        assert_eq!(names("values (1)"), None);
    }

    #[test]
    fn unnamed_columns_get_names_of_their_own_only_when_they_would_collide() {
        let named = |sql: &str| {
            let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .unwrap()
                .remove(0);
            name_unnamed_columns(&mut statement);
            statement.to_string()
        };
        assert_eq!(
            named("select upper(x), id, upper(x) from t"),
            "SELECT upper(x) AS \"column 1\", id, upper(x) AS \"column 3\" FROM t"
        );
        assert_eq!(
            named("select count(*), id from t"),
            "SELECT count(*), id FROM t"
        );
    }

    #[test]
    fn to_regtype_becomes_a_pg_type_lookup() {
        let parse = |sql: &str| {
            Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .unwrap()
                .remove(0)
        };
        let mut statement = parse("select oid from pg_type t where t.oid = to_regtype($1)");
        rewrite_pg_functions(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT oid FROM pg_type t WHERE t.oid = (SELECT oid FROM pg_catalog.pg_type WHERE typname = $1 LIMIT 1)"
        );
        let mut other = parse("select upper('x')");
        rewrite_pg_functions(&mut other);
        assert_eq!(other.to_string(), "SELECT upper('x')");
    }
}
