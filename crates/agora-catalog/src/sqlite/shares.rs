//! Shares and their tables: the writes [`crate::Change`] makes and the reads the sharing
//! protocol needs.

use agora_model::{Name, TableRef};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::rows::{conflict, name};
use crate::{CatalogError, ShareRecord, SharedTable};

pub(super) async fn create_share(
    tx: &mut SqliteConnection,
    s: &ShareRecord,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO shares (name, id, recipient, created_by, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(s.name.as_str())
    .bind(&s.id)
    .bind(s.recipient.as_str())
    .bind(s.created_by.as_str())
    .bind(&s.created_at)
    .bind(&s.revoked_at)
    .execute(&mut *tx)
    .await
    .map_err(conflict("share", s.name.to_string()))?;
    Ok(())
}

pub(super) async fn revoke_share(
    tx: &mut SqliteConnection,
    share: &Name,
    at: &str,
) -> Result<(), CatalogError> {
    let done = sqlx::query("UPDATE shares SET revoked_at = ? WHERE name = ?")
        .bind(at)
        .bind(share.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(not_found(share));
    }
    Ok(())
}

pub(super) async fn put_shared_table(
    tx: &mut SqliteConnection,
    t: &SharedTable,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO share_tables (share, domain, table_name, id, as_of_version, history, partition_filter, added_by, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (share, domain, table_name) DO UPDATE SET
           as_of_version = excluded.as_of_version, history = excluded.history,
           partition_filter = excluded.partition_filter,
           added_by = excluded.added_by, added_at = excluded.added_at",
    )
    .bind(t.share.as_str())
    .bind(t.table.domain.as_str())
    .bind(t.table.table.as_str())
    .bind(&t.id)
    .bind(t.as_of_version)
    .bind(t.history)
    .bind(&t.partition)
    .bind(t.added_by.as_str())
    .bind(&t.added_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(super) async fn remove_shared_table(
    tx: &mut SqliteConnection,
    share: &Name,
    table: &TableRef,
) -> Result<(), CatalogError> {
    let done =
        sqlx::query("DELETE FROM share_tables WHERE share = ? AND domain = ? AND table_name = ?")
            .bind(share.as_str())
            .bind(table.domain.as_str())
            .bind(table.table.as_str())
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            what: "shared table",
            name: format!("{table} in share {share}"),
        });
    }
    Ok(())
}

pub(super) async fn share(
    pool: &SqlitePool,
    name: &Name,
) -> Result<Option<ShareRecord>, CatalogError> {
    sqlx::query("SELECT * FROM shares WHERE name = ?")
        .bind(name.as_str())
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(share_from_row)
        .transpose()
}

pub(super) async fn shares(pool: &SqlitePool) -> Result<Vec<ShareRecord>, CatalogError> {
    sqlx::query("SELECT * FROM shares ORDER BY name")
        .fetch_all(pool)
        .await?
        .iter()
        .map(share_from_row)
        .collect()
}

pub(super) async fn shared_tables(
    pool: &SqlitePool,
    share: &Name,
) -> Result<Vec<SharedTable>, CatalogError> {
    sqlx::query("SELECT * FROM share_tables WHERE share = ? ORDER BY domain, table_name")
        .bind(share.as_str())
        .fetch_all(pool)
        .await?
        .iter()
        .map(shared_table_from_row)
        .collect()
}

fn not_found(share: &Name) -> CatalogError {
    CatalogError::NotFound {
        what: "share",
        name: share.to_string(),
    }
}

fn share_from_row(r: &SqliteRow) -> Result<ShareRecord, CatalogError> {
    Ok(ShareRecord {
        name: name(r, "name")?,
        id: r.try_get("id")?,
        recipient: name(r, "recipient")?,
        created_by: name(r, "created_by")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

fn shared_table_from_row(r: &SqliteRow) -> Result<SharedTable, CatalogError> {
    Ok(SharedTable {
        share: name(r, "share")?,
        table: TableRef {
            domain: name(r, "domain")?,
            table: name(r, "table_name")?,
        },
        id: r.try_get("id")?,
        as_of_version: r.try_get("as_of_version")?,
        history: r.try_get("history")?,
        partition: r.try_get("partition_filter")?,
        added_by: name(r, "added_by")?,
        added_at: r.try_get("added_at")?,
    })
}
