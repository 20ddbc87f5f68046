use thiserror::Error;

/// Errors of the table store.
#[derive(Debug, Error)]
pub enum StorageError {
    #[error("Delta Lake error on {table}: {source}")]
    Delta {
        table: String,
        // Boxed: the Delta error is large, and every Result of the write path carries it.
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
    #[error("table {table} has no version {version}")]
    NoSuchVersion { table: String, version: u64 },
    #[error("{table}: `{predicate}` is not a condition on the table's columns: {reason}")]
    BadPredicate {
        table: String,
        predicate: String,
        reason: String,
    },
    #[error("cannot use {path} as a table location: {reason}")]
    Location { path: String, reason: String },
    /// Another writer changed the table's columns while an append ran, so that its files no
    /// longer fit (it would drop a column the other added, or write one of another type).
    #[error(
        "{table} changed while this write ran ({source}): another writer changed its columns to \
         {columns}, which the rows written here do not fit; run the write again"
    )]
    ConcurrentChange {
        table: String,
        columns: String,
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },
}
