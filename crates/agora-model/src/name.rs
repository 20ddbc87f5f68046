//! Names of domains, products, tables and columns.
//!
//! ODCS allows any text as a name (`my quantum`, `AnObject`), but Agora uses names as SQL
//! identifiers and as directory names. The normalisation is: lower-case; every run of characters
//! outside `[a-z0-9_]` becomes one `_`; leading and trailing `_` are trimmed; a name that starts
//! with a digit gets a `_` prefix. Names longer than 63 characters (PostgreSQL's identifier limit)
//! are refused rather than truncated, so two names never collide silently.

use std::fmt;

use crate::ModelError;

const MAX_LEN: usize = 63;

/// A normalised identifier: `[a-z_][a-z0-9_]*`, at most 63 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Normalises free text into an identifier (see the module docs).
    pub fn normalize(what: &'static str, raw: &str) -> Result<Self, ModelError> {
        let mut out = String::with_capacity(raw.len());
        let mut pending_sep = false;
        for ch in raw.trim().chars().flat_map(char::to_lowercase) {
            if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' {
                if pending_sep && !out.is_empty() {
                    out.push('_');
                }
                pending_sep = false;
                out.push(ch);
            } else {
                pending_sep = true;
            }
        }
        let out = out.trim_matches('_').to_string();
        let out = if out.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{out}")
        } else {
            out
        };
        Self::check(what, raw, out)
    }

    /// Accepts a name only if it already is an identifier: used for names a user types on the
    /// command line or in a URL, where silently rewriting `../x` into `x` would hide a mistake.
    pub fn strict(what: &'static str, raw: &str) -> Result<Self, ModelError> {
        let valid_chars = raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let starts_ok = raw.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
        if !valid_chars || !starts_ok {
            return Err(ModelError::InvalidName {
                what,
                name: raw.to_string(),
                reason: "use lower-case letters, digits and `_`, starting with a letter or `_`"
                    .into(),
            });
        }
        Self::check(what, raw, raw.to_string())
    }

    fn check(what: &'static str, raw: &str, out: String) -> Result<Self, ModelError> {
        if out.is_empty() {
            return Err(ModelError::InvalidName {
                what,
                name: raw.to_string(),
                reason: "it has no letters or digits".into(),
            });
        }
        if out.len() > MAX_LEN {
            return Err(ModelError::InvalidName {
                what,
                name: raw.to_string(),
                reason: format!("it is longer than {MAX_LEN} characters"),
            });
        }
        Ok(Name(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A table of the mesh as SQL sees it: `domain.table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableRef {
    pub domain: Name,
    pub table: Name,
}

impl TableRef {
    /// Parses `domain.table`, refusing anything that is not two strict identifiers.
    pub fn parse(raw: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidName {
            what: "table",
            name: raw.to_string(),
            reason: "expected `domain.table`, both lower-case identifiers".into(),
        };
        let (domain, table) = raw.split_once('.').ok_or_else(invalid)?;
        Ok(TableRef {
            domain: Name::strict("domain", domain).map_err(|_| invalid())?,
            table: Name::strict("table", table).map_err(|_| invalid())?,
        })
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.domain, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_odcs_names() {
        let n = |s| Name::normalize("product", s).unwrap().0;
        assert_eq!(n("my quantum"), "my_quantum");
        assert_eq!(n("AnObject"), "anobject");
        assert_eq!(n("Air_Quality"), "air_quality");
        assert_eq!(n("  order--lines (v2) "), "order_lines_v2");
        assert_eq!(n("2024 sales"), "_2024_sales");
        assert!(Name::normalize("product", "../..").is_err());
    }

    #[test]
    fn strict_names_refuse_paths() {
        assert!(Name::strict("domain", "../x").is_err());
        assert!(Name::strict("domain", "Sales").is_err());
        assert!(Name::strict("domain", "").is_err());
        assert!(TableRef::parse("sales.orders").is_ok());
        assert!(TableRef::parse("sales/../orders").is_err());
        assert!(TableRef::parse("sales").is_err());
    }

    proptest! {
        #[test]
        fn normalized_names_are_strict_identifiers(raw in "\\PC{0,80}") {
            if let Ok(name) = Name::normalize("column", &raw) {
                prop_assert_eq!(Name::strict("column", name.as_str()), Ok(name.clone()));
                prop_assert_eq!(Name::normalize("column", name.as_str()), Ok(name));
            }
        }
    }
}
