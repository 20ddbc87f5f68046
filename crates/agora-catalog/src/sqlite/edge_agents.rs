//! Edge agents: their registration and the lookup that checks a batch's signature.

use agora_model::Name;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::rows::{conflict, name};
use crate::{CatalogError, EdgeAgentRecord};

pub(super) async fn register(
    tx: &mut SqliteConnection,
    a: &EdgeAgentRecord,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO edge_agents (name, domain, public_key, registered_by, registered_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(a.name.as_str())
    .bind(a.domain.as_str())
    .bind(&a.public_key)
    .bind(a.registered_by.as_str())
    .bind(&a.registered_at)
    .execute(&mut *tx)
    .await
    .map_err(conflict("edge agent", a.name.to_string()))?;
    Ok(())
}

fn agent_from_row(row: &SqliteRow) -> Result<EdgeAgentRecord, CatalogError> {
    Ok(EdgeAgentRecord {
        name: name(row, "name")?,
        domain: name(row, "domain")?,
        public_key: row.try_get("public_key")?,
        registered_by: name(row, "registered_by")?,
        registered_at: row.try_get("registered_at")?,
    })
}

pub(super) async fn agent(
    pool: &SqlitePool,
    agent: &Name,
) -> Result<Option<EdgeAgentRecord>, CatalogError> {
    sqlx::query("SELECT * FROM edge_agents WHERE name = ?")
        .bind(agent.as_str())
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(agent_from_row)
        .transpose()
}

pub(super) async fn agents(pool: &SqlitePool) -> Result<Vec<EdgeAgentRecord>, CatalogError> {
    sqlx::query("SELECT * FROM edge_agents ORDER BY name")
        .fetch_all(pool)
        .await?
        .iter()
        .map(agent_from_row)
        .collect()
}
