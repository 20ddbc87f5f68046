//! The bounds on a statement, checked before it is planned: its size in tokens (before it is
//! parsed), and how deep it nests (once parsed), with the stack planning gets within them.
//!
//! DataFusion's planner and optimiser recurse on a statement's nesting and do work quadratic in
//! it (measured in debug builds: 250 chained `+` plan in 0.5 s, 1,000 in 7 s, 2,000 in 26 s),
//! so one deep statement could hold a core for minutes and, past the stack, abort the process.
//! sqlparser's recursion limit bounds parentheses and subqueries while parsing, but not the
//! left-deep chains it builds without recursing (`1+1+…`, `a OR b OR …`, `UNION ALL` after
//! `UNION ALL`): this check bounds those.

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Visit, Visitor};

use crate::QueryError;

/// The most tokens one statement may have. It bounds the work of tokenizing and parsing (both
/// linear) and the size of the tree the depth check ([`MAX_DEPTH`]) then walks.
/// 100,000 tokens is far past any hand-written or generated query seen in practice (TPC-H's
/// longest has about 400), and leaves room for `IN` lists of tens of thousands of values; a
/// longer list belongs in a table.
pub const MAX_TOKENS: usize = 100_000;

/// The stack the threads that plan and run queries get. Measured with the debug build: a
/// statement at `MAX_DEPTH` (999 chained `+`) plans in 8 MiB and overflows 4 MiB, and the
/// deepest statement within `MAX_TOKENS` (49,000 chained `+`, refused by the depth check) is
/// parsed, checked and dropped in 4 MiB; this is eight times the first. Interfaces give their
/// async runtime's threads this much.
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

/// Refuses a statement of more than [`MAX_TOKENS`] tokens before anything parses it.
pub(crate) fn check_size(sql: &str) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| QueryError::Sql(e.to_string()))?;
    let count = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count();
    if count > MAX_TOKENS {
        return Err(QueryError::TooLarge(format!(
            "it has {count} tokens and Agora plans at most {MAX_TOKENS}: split it, or put long lists of values in a table and join it"
        )));
    }
    Ok(())
}

/// The deepest nesting of expressions, of queries in queries, and of set operations a statement
/// may have. A list of a thousand alternatives belongs in `IN (…)`, which does not nest.
pub const MAX_DEPTH: usize = 1_000;

/// Refuses `statement` if it nests deeper than [`MAX_DEPTH`].
pub(crate) fn check_depth(statement: &Statement) -> Result<(), QueryError> {
    let mut depth = Depth::default();
    let found = match statement {
        Statement::Statement(s) => s.visit(&mut depth),
        Statement::Explain(e) => return check_depth(&e.statement),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(q) => q.visit(&mut depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        _ => ControlFlow::Continue(()),
    };
    match found {
        ControlFlow::Break(what) => Err(QueryError::TooLarge(format!(
            "its {what} nest more than {MAX_DEPTH} deep, the most Agora plans: for a long list of alternatives use `IN (…)`, or put the values in a table and join it"
        ))),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Counts nesting on the way down and stops as soon as it passes the bound, so the walk itself
/// never recurses deeper than [`MAX_DEPTH`] expressions.
#[derive(Default)]
struct Depth {
    expressions: usize,
    queries: usize,
}

impl Visitor for Depth {
    type Break = &'static str;

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<Self::Break> {
        self.expressions += 1;
        if self.expressions > MAX_DEPTH {
            return ControlFlow::Break("expressions");
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<Self::Break> {
        self.expressions -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Self::Break> {
        self.queries += 1;
        if self.queries > MAX_DEPTH {
            return ControlFlow::Break("subqueries");
        }
        if set_operations_deeper_than_bound(&query.body) {
            return ControlFlow::Break("set operations (UNION, INTERSECT, EXCEPT)");
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<Self::Break> {
        self.queries -= 1;
        ControlFlow::Continue(())
    }
}

/// Whether a query body's set operations nest deeper than [`MAX_DEPTH`], found without
/// recursion (the visitor would recurse as deep as the chain before calling back).
fn set_operations_deeper_than_bound(body: &SetExpr) -> bool {
    let mut pending = vec![(body, 1usize)];
    while let Some((expr, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return true;
        }
        if let SetExpr::SetOperation { left, right, .. } = expr {
            pending.push((left, depth + 1));
            pending.push((right, depth + 1));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn check(sql: &str) -> Result<(), QueryError> {
        let statements = DFParser::parse_sql(sql).unwrap();
        check_depth(&statements[0])
    }

    #[test]
    fn chains_past_the_bound_are_refused_and_those_within_pass() {
        let within = format!("select {}", vec!["1"; MAX_DEPTH - 1].join("+"));
        check(&within).unwrap();
        for sql in [
            format!("select {}", vec!["1"; MAX_DEPTH + 1].join("+")),
            format!(
                "select * from t where {}",
                vec!["a = 1"; MAX_DEPTH].join(" or ")
            ),
            vec!["select 1"; MAX_DEPTH + 1].join(" union all "),
            format!(
                "explain select count(*) from ({}) u",
                vec!["select 1"; MAX_DEPTH + 1].join(" union all ")
            ),
        ] {
            let err = check(&sql).unwrap_err();
            assert!(matches!(err, QueryError::TooLarge(_)), "{err}");
            assert!(err.to_string().contains("1000 deep"), "{err}");
        }
        let list = (0..50_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        check(&format!("select * from t where a in ({list})")).unwrap();
    }
}
