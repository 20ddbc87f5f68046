//! Every change to the catalog, each run inside the transaction of [`crate::Catalog::apply`].

use agora_model::{ColumnTag, Grant, Name};
use sqlx::SqliteConnection;

use super::now;
use super::rows::conflict;
use super::{edge_agents, shares};
use crate::{
    CatalogError, Change, CorrectionRecord, DomainRecord, IngestRecord, PolicyRecord,
    PrincipalRecord, ProductRecord, QueryText,
};

pub(super) async fn apply(tx: &mut SqliteConnection, change: &Change) -> Result<(), CatalogError> {
    match change {
        Change::CreateDomain(d) => create_domain(tx, d).await,
        Change::CreatePrincipal(p) => create_principal(tx, p).await,
        Change::UpdatePrincipal(p) => update_principal(tx, p).await,
        Change::DeletePrincipal(name) => delete_principal(tx, name).await,
        Change::PutProduct(p) => put_product(tx, p).await,
        Change::PutGrant(g) => put_grant(tx, g).await,
        Change::RemoveGrant(g) => remove_grant(tx, g).await,
        Change::RecordIngest(i) => record_ingest(tx, i).await,
        Change::PutColumnTag(t) => put_column_tag(tx, t).await,
        Change::PutPolicy(p) => put_policy(tx, p).await,
        Change::PutQueryText(q) => put_query_text(tx, q).await,
        Change::PutCorrection(c) => put_correction(tx, c).await,
        Change::ForgetCorrections(t) => {
            sqlx::query("DELETE FROM corrections WHERE domain = ? AND table_name = ?")
                .bind(t.domain.as_str())
                .bind(t.table.as_str())
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        Change::CreateShare(s) => shares::create_share(tx, s).await,
        Change::RevokeShare { share, at } => shares::revoke_share(tx, share, at).await,
        Change::PutSharedTable(t) => shares::put_shared_table(tx, t).await,
        Change::RemoveSharedTable { share, table } => {
            shares::remove_shared_table(tx, share, table).await
        }
        Change::RegisterEdgeAgent(a) => edge_agents::register(tx, a).await,
    }
}

async fn create_domain(tx: &mut SqliteConnection, d: &DomainRecord) -> Result<(), CatalogError> {
    sqlx::query("INSERT INTO domains (name, owner, description, created_at) VALUES (?, ?, ?, ?)")
        .bind(d.name.as_str())
        .bind(d.owner.as_str())
        .bind(&d.description)
        .bind(&d.created_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("domain", d.name.to_string()))?;
    Ok(())
}

async fn create_principal(
    tx: &mut SqliteConnection,
    p: &PrincipalRecord,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO principals (name, token_hash, is_admin, clearance, attributes, created_at, disabled, token_expires_at, scram_verifier, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(p.name.as_str())
    .bind(&p.token_hash)
    .bind(p.is_admin)
    .bind(p.clearance.as_str())
    .bind(serde_json::to_string(&p.attributes).expect("INVARIANT: a string map serialises"))
    .bind(&p.created_at)
    .bind(p.disabled)
    .bind(&p.token_expires_at)
    .bind(&p.scram_verifier)
    .bind(p.kind.as_str())
    .execute(&mut *tx)
    .await
    .map_err(conflict("principal", p.name.to_string()))?;
    Ok(())
}

/// Replaces what may change of a principal: its token (and the token's SCRAM verifier),
/// clearance, attributes, whether it is disabled, and when its token expires.
async fn update_principal(
    tx: &mut SqliteConnection,
    p: &PrincipalRecord,
) -> Result<(), CatalogError> {
    let done = sqlx::query(
        "UPDATE principals SET token_hash = ?, clearance = ?, attributes = ?, disabled = ?, token_expires_at = ?, scram_verifier = ? WHERE name = ?",
    )
    .bind(&p.token_hash)
    .bind(p.clearance.as_str())
    .bind(serde_json::to_string(&p.attributes).expect("INVARIANT: a string map serialises"))
    .bind(p.disabled)
    .bind(&p.token_expires_at)
    .bind(&p.scram_verifier)
    .bind(p.name.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            what: "principal",
            name: p.name.to_string(),
        });
    }
    Ok(())
}

/// Forgets a principal and its grants (the ledger keeps their history).
async fn delete_principal(tx: &mut SqliteConnection, name: &Name) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM grants WHERE principal = ?")
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM principals WHERE name = ? AND is_admin = 0")
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            what: "principal",
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Creates or replaces a product, its tables and its search entry, and keeps the contract
/// version in the history (time travel reads with every label a column has had).
async fn put_product(tx: &mut SqliteConnection, p: &ProductRecord) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO products (domain, name, contract_id, version, status, description, contract_yaml, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (domain, name) DO UPDATE SET contract_id = excluded.contract_id,
           version = excluded.version, status = excluded.status, description = excluded.description,
           contract_yaml = excluded.contract_yaml, updated_at = excluded.updated_at",
    )
    .bind(p.domain.as_str())
    .bind(p.name.as_str())
    .bind(&p.contract_id)
    .bind(&p.version)
    .bind(&p.status)
    .bind(&p.description)
    .bind(&p.contract_yaml)
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO contract_history (domain, product, version, contract_yaml, applied_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(p.domain.as_str())
    .bind(p.name.as_str())
    .bind(&p.version)
    .bind(&p.contract_yaml)
    .bind(&p.updated_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM product_tables WHERE domain = ? AND product = ?")
        .bind(p.domain.as_str())
        .bind(p.name.as_str())
        .execute(&mut *tx)
        .await?;
    for t in &p.tables {
        sqlx::query("INSERT INTO product_tables (domain, name, product) VALUES (?, ?, ?)")
            .bind(p.domain.as_str())
            .bind(t.as_str())
            .bind(p.name.as_str())
            .execute(&mut *tx)
            .await
            .map_err(conflict(
                "table",
                format!("{}.{t} (it belongs to another product)", p.domain),
            ))?;
    }
    sqlx::query("DELETE FROM product_search WHERE domain = ? AND product = ?")
        .bind(p.domain.as_str())
        .bind(p.name.as_str())
        .execute(&mut *tx)
        .await?;
    let names = format!(
        "{} {} {}",
        p.domain,
        p.name.as_str().replace('_', " "),
        p.tables
            .iter()
            .map(|t| t.as_str().replace('_', " "))
            .collect::<Vec<_>>()
            .join(" ")
    );
    sqlx::query("INSERT INTO product_search (domain, product, name, description, columns, tags) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(p.domain.as_str())
        .bind(p.name.as_str())
        .bind(names)
        .bind(&p.description)
        .bind(&p.search_columns)
        .bind(&p.search_tags)
        .execute(&mut *tx)
        .await?;
    refresh_classifications(tx, p.domain.as_str(), p.name.as_str()).await
}

async fn put_grant(tx: &mut SqliteConnection, g: &Grant) -> Result<(), CatalogError> {
    sqlx::query("INSERT OR IGNORE INTO grants (principal, access, domain, product, table_name, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(g.principal.as_str())
        .bind(g.access.as_str())
        .bind(g.target.domain().as_str())
        .bind(g.target.product().as_str())
        .bind(g.target.table().map(Name::as_str).unwrap_or(""))
        .bind(now())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Removes a grant; a grant that does not exist is an error, so the change is not recorded.
async fn remove_grant(tx: &mut SqliteConnection, g: &Grant) -> Result<(), CatalogError> {
    let done = sqlx::query("DELETE FROM grants WHERE principal = ? AND access = ? AND domain = ? AND product = ? AND table_name = ?")
        .bind(g.principal.as_str())
        .bind(g.access.as_str())
        .bind(g.target.domain().as_str())
        .bind(g.target.product().as_str())
        .bind(g.target.table().map(Name::as_str).unwrap_or(""))
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            what: "grant",
            name: format!("{} {} on {}", g.principal, g.access, g.target),
        });
    }
    Ok(())
}

async fn record_ingest(tx: &mut SqliteConnection, i: &IngestRecord) -> Result<(), CatalogError> {
    sqlx::query("INSERT INTO ingests (domain, product, table_name, table_version, rows_accepted, rows_quarantined, source, input_sha256, principal, at, ingest_id, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(i.domain.as_str())
        .bind(i.product.as_str())
        .bind(i.table.as_str())
        .bind(i.table_version)
        .bind(i.rows_accepted)
        .bind(i.rows_quarantined)
        .bind(&i.source)
        .bind(&i.input_sha256)
        .bind(i.principal.as_str())
        .bind(&i.at)
        .bind(&i.ingest_id)
        .bind(&i.idempotency_key)
        .execute(&mut *tx)
        .await
        .map_err(conflict("ingest", i.ingest_id.clone()))?;
    Ok(())
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds a tag's eleven columns, in the order `column_tags` and `tag_history` share.
fn bind_tag<'q>(query: SqliteQuery<'q>, t: &'q ColumnTag) -> SqliteQuery<'q> {
    query
        .bind(t.table.domain.as_str())
        .bind(t.table.table.as_str())
        .bind(&t.column)
        .bind(t.source.as_str())
        .bind(t.category.as_str())
        .bind(t.sensitivity.as_str())
        .bind(t.confidence)
        .bind(&t.evidence)
        .bind(&t.reason)
        .bind(t.set_by.as_str())
        .bind(&t.updated_at)
}

/// Creates or replaces the tag of one column from one source, keeps it in the tag history,
/// and refreshes the product's search entry.
async fn put_column_tag(tx: &mut SqliteConnection, t: &ColumnTag) -> Result<(), CatalogError> {
    bind_tag(
        sqlx::query(
        "INSERT INTO column_tags (domain, table_name, column_name, source, category, sensitivity, confidence, evidence, reason, set_by, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (domain, table_name, column_name, source) DO UPDATE SET
           category = excluded.category, sensitivity = excluded.sensitivity,
           confidence = excluded.confidence, evidence = excluded.evidence,
           reason = excluded.reason, set_by = excluded.set_by, updated_at = excluded.updated_at",
    ),
        t,
    )
    .execute(&mut *tx)
    .await?;
    bind_tag(
        sqlx::query(
            "INSERT INTO tag_history (domain, table_name, column_name, source, category, sensitivity, confidence, evidence, reason, set_by, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        t,
    )
    .execute(&mut *tx)
    .await?;
    let product: Option<String> =
        sqlx::query_scalar("SELECT product FROM product_tables WHERE domain = ? AND name = ?")
            .bind(t.table.domain.as_str())
            .bind(t.table.table.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(product) = product {
        refresh_classifications(tx, t.table.domain.as_str(), &product).await?;
    }
    Ok(())
}

async fn put_policy(tx: &mut SqliteConnection, p: &PolicyRecord) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO policies (scope, document, applied_by, applied_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope) DO UPDATE SET document = excluded.document,
           applied_by = excluded.applied_by, applied_at = excluded.applied_at",
    )
    .bind(p.domain.as_ref().map_or("", Name::as_str))
    .bind(&p.document)
    .bind(p.applied_by.as_str())
    .bind(&p.applied_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn put_query_text(tx: &mut SqliteConnection, q: &QueryText) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT OR IGNORE INTO query_texts (sql_hmac, sql, principal, first_seen) VALUES (?, ?, ?, ?)",
    )
    .bind(&q.sql_hmac)
    .bind(&q.sql)
    .bind(q.principal.as_str())
    .bind(&q.first_seen)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn put_correction(
    tx: &mut SqliteConnection,
    c: &CorrectionRecord,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT OR REPLACE INTO corrections (application_id, suggestion_id, domain, table_name, applied_at, reverted_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&c.application_id)
    .bind(&c.suggestion_id)
    .bind(c.table.domain.as_str())
    .bind(c.table.table.as_str())
    .bind(&c.applied_at)
    .bind(&c.reverted_at)
    .bind(&c.record)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Rewrites the categories a product's search entry matches: each column's effective tag (an
/// override wins over the classifier), `none` left out.
async fn refresh_classifications(
    tx: &mut SqliteConnection,
    domain: &str,
    product: &str,
) -> Result<(), CatalogError> {
    sqlx::query(
        "UPDATE product_search SET classifications = (
            SELECT coalesce(group_concat(replace(t.category, '_', ' '), ' '), '')
            FROM column_tags t JOIN product_tables pt ON pt.domain = t.domain AND pt.name = t.table_name
            WHERE pt.domain = ?1 AND pt.product = ?2 AND t.category != 'none'
              AND (t.source = 'override' OR NOT EXISTS (
                SELECT 1 FROM column_tags o WHERE o.source = 'override' AND o.domain = t.domain
                  AND o.table_name = t.table_name AND o.column_name = t.column_name)))
         WHERE domain = ?1 AND product = ?2",
    )
    .bind(domain)
    .bind(product)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
