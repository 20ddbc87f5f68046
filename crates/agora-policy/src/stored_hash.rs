//! Stored hashes: for each column some reader sees hashed, the write path stores the column's
//! `hash` mask in a column of its own beside it, so a reader below the column's level reads the
//! stored hash instead of paying an HMAC per value on every query (and the raw column is not
//! read at all). Stored hash columns are never shown to any reader, administrators included.

/// The prefixes of stored hash columns. Column names of contracts never start with `_` twice
/// (normalisation trims leading underscores), so these cannot clash.
const COMPLETE_PREFIX: &str = "__agora_hash__";
const PARTIAL_PREFIX: &str = "__agora_hash_partial__";

/// A stored hash column: the hashes of one column of the table.
///
/// A *complete* one was created with the table's first rows, and every later write fills it, so
/// every row of every table version that has the column holds its hash: the mask reads it
/// alone. A *partial* one was added to a table that had rows already (the column became hashed
/// later): the mask computes the hash for the rows that have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHash {
    /// The column whose hashes it holds.
    pub column: String,
    pub complete: bool,
}

impl StoredHash {
    /// The stored hash column's name.
    pub fn name(&self) -> String {
        let prefix = if self.complete {
            COMPLETE_PREFIX
        } else {
            PARTIAL_PREFIX
        };
        format!("{prefix}{}", self.column)
    }

    /// The stored hash a column name stands for, if it is one.
    pub fn parse(name: &str) -> Option<StoredHash> {
        let (column, complete) = match name.strip_prefix(COMPLETE_PREFIX) {
            Some(c) => (c, true),
            None => (name.strip_prefix(PARTIAL_PREFIX)?, false),
        };
        Some(StoredHash {
            column: column.to_string(),
            complete,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hash_names_round_trip_and_never_clash_with_contract_columns() {
        for complete in [true, false] {
            let stored = StoredHash {
                column: "email".into(),
                complete,
            };
            assert_eq!(StoredHash::parse(&stored.name()), Some(stored.clone()));
            let normalized = agora_model::Name::normalize("column", &stored.name()).unwrap();
            assert_eq!(StoredHash::parse(normalized.as_str()), None);
        }
        assert_eq!(StoredHash::parse("email"), None);
    }
}
