//! Row filters: a SQL boolean expression over the table's columns in which `principal.<attr>`
//! stands for the reader's attribute. The attribute is substituted as a quoted SQL literal at
//! the token level (never by pasting text), and a reader without the attribute gets `NULL`, so
//! the filter holds for no row: a missing attribute fails closed.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The name row filters use for the reader.
const PRINCIPAL: &str = "principal";

/// A parsed row filter, ready to be rendered for one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTemplate {
    text: String,
    tokens: Vec<Token>,
    attributes: BTreeSet<String>,
}

impl FilterTemplate {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<FilterTemplate, String> {
        let tokens = Tokenizer::new(&GenericDialect {}, text)
            .tokenize()
            .map_err(|e| format!("row filter `{text}` does not parse: {e}"))?;
        let mut attributes = BTreeSet::new();
        for (i, token) in tokens.iter().enumerate() {
            if let Token::Word(w) = token {
                if w.keyword == Keyword::SELECT {
                    return Err(format!(
                        "row filter `{text}`: subqueries are not allowed; compare this table's columns with `principal.<attribute>`"
                    ));
                }
                if w.value.eq_ignore_ascii_case(PRINCIPAL) && w.quote_style.is_none() {
                    match (tokens.get(i + 1), tokens.get(i + 2)) {
                        (Some(Token::Period), Some(Token::Word(attr))) => {
                            attributes.insert(attr.value.to_ascii_lowercase());
                        }
                        _ => {
                            return Err(format!(
                                "row filter `{text}`: `principal` must be followed by `.<attribute>`"
                            ));
                        }
                    }
                }
            }
        }
        let template = FilterTemplate {
            text: text.to_string(),
            tokens,
            attributes,
        };
        // The rendered form must be one expression and nothing more (`x = 1; drop …` is not).
        let probe = template.render(&BTreeMap::new());
        let mut parser = Parser::new(&GenericDialect {})
            .try_with_sql(&probe)
            .map_err(|e| format!("row filter `{text}` does not parse: {e}"))?;
        parser
            .parse_expr()
            .map_err(|e| format!("row filter `{text}` does not parse: {e}"))?;
        if parser.peek_token().token != Token::EOF {
            return Err(format!(
                "row filter `{text}`: expected one boolean expression, found more after it"
            ));
        }
        Ok(template)
    }

    /// The filter as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The principal attributes the filter uses.
    pub fn attributes(&self) -> &BTreeSet<String> {
        &self.attributes
    }

    /// The filter for a reader with `attributes`: each `principal.<attr>` becomes the reader's
    /// value as a string literal, or `NULL` if the reader has none.
    pub fn render(&self, attributes: &BTreeMap<String, String>) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut i = 0;
        while i < self.tokens.len() {
            if let (Token::Word(w), Some(Token::Period), Some(Token::Word(attr))) = (
                &self.tokens[i],
                self.tokens.get(i + 1),
                self.tokens.get(i + 2),
            ) && w.value.eq_ignore_ascii_case(PRINCIPAL)
                && w.quote_style.is_none()
            {
                match attributes.get(&attr.value.to_ascii_lowercase()) {
                    // The standard SQL escape (a doubled quote); sqlparser's token printer
                    // does not escape, and the generic dialect reads no backslash escapes.
                    Some(value) => {
                        out.push('\'');
                        out.push_str(&value.replace('\'', "''"));
                        out.push('\'');
                    }
                    None => out.push_str("NULL"),
                }
                i += 3;
                continue;
            }
            out.push_str(&self.tokens[i].to_string());
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn substitutes_attributes_as_literals_and_missing_ones_as_null() {
        let f = FilterTemplate::parse("region = principal.region AND tier <> 'x'").unwrap();
        assert_eq!(
            f.attributes().iter().collect::<Vec<_>>(),
            vec![&"region".to_string()]
        );
        assert_eq!(
            f.render(&attrs(&[("region", "EU")])),
            "region = 'EU' AND tier <> 'x'"
        );
        assert_eq!(f.render(&attrs(&[])), "region = NULL AND tier <> 'x'");
    }

    #[test]
    fn refuses_subqueries_trailing_statements_and_bare_principal() {
        for bad in [
            "region IN (SELECT region FROM sales.orders)",
            "region = 'EU'; DROP TABLE x",
            "region = principal",
            "region = = 1",
        ] {
            assert!(FilterTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        /// Whatever an attribute holds, it stays one string literal: it cannot close the quote
        /// and add a condition.
        #[test]
        fn attribute_values_cannot_inject_sql(value in ".{0,40}") {
            let f = FilterTemplate::parse("region = principal.region").unwrap();
            let rendered = f.render(&attrs(&[("region", &value)]));
            let tokens = Tokenizer::new(&GenericDialect {}, &rendered).tokenize().unwrap();
            let significant: Vec<_> = tokens
                .into_iter()
                .filter(|t| !matches!(t, Token::Whitespace(_)))
                .collect();
            prop_assert_eq!(significant.len(), 3);
            prop_assert_eq!(&significant[2], &Token::SingleQuotedString(value));
        }
    }
}
