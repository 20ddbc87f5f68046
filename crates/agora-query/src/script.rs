//! A SQL script split into its statements, each with its own text and the line it starts on.
//!
//! A session plans one statement at a time, and the audit records each statement's own text,
//! so a script (`agora sql --file`, several statements in one string) is cut at the semicolons
//! that end statements. The cut uses the SQL tokenizer, not a search for `;`, so semicolons in
//! string literals, quoted identifiers and comments stay where they are.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer, Whitespace};

use crate::QueryError;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement as written, without its terminating semicolon and surrounding whitespace.
    pub text: String,
    /// The line of the script the statement starts on, from 1.
    pub line: u64,
}

/// Splits `script` into its statements; empty statements (`;;`, comments alone) are skipped.
pub fn split_statements(script: &str) -> Result<Vec<ScriptStatement>, QueryError> {
    let tokens = Tokenizer::new(&GenericDialect {}, script)
        .tokenize_with_location()
        .map_err(|e| QueryError::Sql(e.to_string()))?;
    let offsets = ByteOffsets::new(script);
    let mut statements = Vec::new();
    // Where the statement being read starts: its first token other than blanks (a comment
    // before it belongs to it, as a tag on a query would).
    let mut start: Option<Location> = None;
    // Whether it has a token other than blanks and comments: comments alone are no statement.
    let mut has_sql = false;
    for t in &tokens {
        match &t.token {
            Token::SemiColon => {
                if let Some(from) = start.take()
                    && std::mem::take(&mut has_sql)
                {
                    let text = &script[offsets.of(from)..offsets.of(t.span.start)];
                    statements.push(statement(text, from));
                }
            }
            Token::EOF
            | Token::Whitespace(Whitespace::Space | Whitespace::Tab | Whitespace::Newline) => {}
            Token::Whitespace(_) => {
                start.get_or_insert(t.span.start);
            }
            _ => {
                start.get_or_insert(t.span.start);
                has_sql = true;
            }
        }
    }
    if let Some(from) = start
        && has_sql
    {
        statements.push(statement(&script[offsets.of(from)..], from));
    }
    Ok(statements)
}

fn statement(text: &str, from: Location) -> ScriptStatement {
    ScriptStatement {
        text: text.trim_end().to_string(),
        line: from.line,
    }
}

/// Turns the tokenizer's locations (line and column from 1, counted in characters) into byte
/// offsets of the script.
struct ByteOffsets<'a> {
    script: &'a str,
    /// The byte offset at which each line starts.
    line_starts: Vec<usize>,
}

impl<'a> ByteOffsets<'a> {
    fn new(script: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(script.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        ByteOffsets {
            script,
            line_starts,
        }
    }

    fn of(&self, at: Location) -> usize {
        let line_start = self
            .line_starts
            .get(at.line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(self.script.len());
        let chars = at.column.saturating_sub(1) as usize;
        self.script[line_start..]
            .char_indices()
            .nth(chars)
            .map_or(self.script.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(script: &str) -> Vec<String> {
        split_statements(script)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn statements_split_at_their_semicolons_only() {
        let script = "select 'a;b' as \"x;y\" -- c;d\nfrom t;\n\n  /* e; */ select 2;;\nselect 3";
        assert_eq!(
            texts(script),
            [
                "select 'a;b' as \"x;y\" -- c;d\nfrom t",
                "/* e; */ select 2",
                "select 3"
            ]
        );
        let lines: Vec<u64> = split_statements(script)
            .unwrap()
            .iter()
            .map(|s| s.line)
            .collect();
        assert_eq!(lines, [1, 4, 5]);
    }

    #[test]
    fn comments_and_blank_lines_alone_are_no_statement() {
        assert!(texts("  -- nothing\n ; /* at all */ ;\n").is_empty());
    }

    #[test]
    fn an_unterminated_string_names_its_line_and_column() {
        let e = split_statements("select 1;\nselect 'oops").unwrap_err();
        assert!(
            e.to_string().contains("Line: 2, Column: 8"),
            "the error should say where the string starts: {e}"
        );
    }

    /// A statement that holds no top-level semicolon, with literals, identifiers and
    /// comments that may hold semicolons and non-ASCII text.
    fn statement_text() -> impl Strategy<Value = String> {
        let literal = "[a-zé;ü 字]{0,6}".prop_map(|s| format!("'{s}'"));
        let ident = "[a-zé;ü 字]{1,6}".prop_map(|s| format!("\"{s}\""));
        let comment = "[a-z;é 字]{0,6}".prop_map(|s| format!("/* {s} */"));
        let part = prop_oneof![literal, ident, comment, Just("x".to_string())];
        proptest::collection::vec(part, 0..5).prop_map(|parts| {
            format!("select {}", parts.join(" , "))
                .trim_end()
                .to_string()
        })
    }

    proptest! {
        #[test]
        fn joined_statements_split_back_into_themselves(
            statements in proptest::collection::vec(statement_text(), 1..5),
            separator in "[ \n\t]{0,3};[ \n\t;]{0,3}",
        ) {
            let script = statements.join(&separator);
            prop_assert_eq!(texts(&script), statements);
        }
    }
}
