//! A statement's shape: its text with every literal replaced by `?`, as the public audit keeps
//! it. Who ran what against which tables stays readable by everyone who reads the ledger, while
//! the values a statement compared with (`where email = 'anna@…'`) do not.

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};

/// `sql` with its literals replaced by `?`, or `None` when it does not parse or nests too deep
/// to be planned (then only a keyed hash of it can be published) or holds statements whose
/// literals cannot be reached (`CREATE EXTERNAL TABLE`, `COPY`: refused anyway).
pub fn sql_shape(sql: &str) -> Option<String> {
    if crate::statement_limits::check_size(sql).is_err() {
        return None;
    }
    let mut statements = DFParser::parse_sql(sql).ok()?;
    if statements
        .iter()
        .any(|s| crate::statement_limits::check_depth(s).is_err())
    {
        return None;
    }
    let mut shapes = Vec::with_capacity(statements.len());
    for statement in statements.iter_mut() {
        if !redact(statement) {
            return None;
        }
        shapes.push(statement.to_string());
    }
    Some(shapes.join("; "))
}

/// Replaces the literals of `statement`; false if some may be out of reach.
fn redact(statement: &mut Statement) -> bool {
    match statement {
        Statement::Statement(s) => {
            let _ = visit_expressions_mut(&mut **s, |e| {
                match e {
                    Expr::Value(v) => v.value = placeholder(),
                    Expr::TypedString(t) => t.value.value = placeholder(),
                    _ => {}
                }
                ControlFlow::<()>::Continue(())
            });
            true
        }
        Statement::Explain(e) => redact(&mut e.statement),
        _ => false,
    }
}

fn placeholder() -> Value {
    Value::Placeholder("?".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_placeholders_and_names_stay() {
        let shape = sql_shape(
            "select name from crm.customers where email = 'anna@example.org' and age > 42 and born < DATE '1990-01-01'",
        )
        .unwrap();
        assert!(!shape.contains("anna"), "{shape}");
        assert!(!shape.contains("42"), "{shape}");
        assert!(!shape.contains("1990"), "{shape}");
        assert!(
            shape.contains("crm.customers") && shape.contains("email = ?"),
            "{shape}"
        );
        let explained = sql_shape("explain select * from t where a = 'secret'").unwrap();
        assert!(
            !explained.contains("secret") && explained.contains("EXPLAIN"),
            "{explained}"
        );
        assert_eq!(sql_shape("select (1"), None);
    }
}
