//! The embedded catalog: one SQLite file in the mesh directory.

use std::path::Path;
use std::str::FromStr;

use agora_model::{ColumnTag, Grant, Name};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{
    Catalog, CatalogError, DomainRecord, IngestRecord, PolicyRecord, PrincipalRecord,
    ProductRecord, SearchHit,
};

mod rows;

use rows::{
    column_tag_from_row, conflict, domain_from_row, grant_from_row, ingest_from_row, name,
    principal_from_row, product_from_row,
};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A catalog in a SQLite database file (WAL mode, so readers never wait for the writer).
#[derive(Clone)]
pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await?;
        Ok(SqliteCatalog { pool })
    }
}

/// Products with their table names and search text, in one statement (no query per product:
/// every query session lists the products). A macro so that the statements stay `&'static str`.
macro_rules! product_select {
    () => {
        "SELECT p.*,
    COALESCE((SELECT group_concat(t.name, ',' ORDER BY t.rowid) FROM product_tables t
              WHERE t.domain = p.domain AND t.product = p.name), '') AS table_names,
    COALESCE(s.columns, '') AS search_columns, COALESCE(s.tags, '') AS search_tags
    FROM products p LEFT JOIN product_search s ON s.domain = p.domain AND s.product = p.name"
    };
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn create_domain(&self, d: &DomainRecord) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO domains (name, owner, description, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(d.name.as_str())
        .bind(d.owner.as_str())
        .bind(&d.description)
        .bind(&d.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict("domain", d.name.to_string()))?;
        Ok(())
    }

    async fn domain(&self, n: &Name) -> Result<Option<DomainRecord>, CatalogError> {
        let row = sqlx::query("SELECT * FROM domains WHERE name = ?")
            .bind(n.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| domain_from_row(&r)).transpose()
    }

    async fn domains(&self) -> Result<Vec<DomainRecord>, CatalogError> {
        sqlx::query("SELECT * FROM domains ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(domain_from_row)
            .collect()
    }

    async fn create_principal(&self, p: &PrincipalRecord) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO principals (name, token_hash, is_admin, clearance, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(p.name.as_str())
        .bind(&p.token_hash)
        .bind(p.is_admin)
        .bind(p.clearance.as_str())
        .bind(serde_json::to_string(&p.attributes).expect("INVARIANT: a string map serialises"))
        .bind(&p.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict("principal", p.name.to_string()))?;
        Ok(())
    }

    async fn principal(&self, n: &Name) -> Result<Option<PrincipalRecord>, CatalogError> {
        let row = sqlx::query("SELECT * FROM principals WHERE name = ?")
            .bind(n.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| principal_from_row(&r)).transpose()
    }

    async fn principal_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<PrincipalRecord>, CatalogError> {
        let row = sqlx::query("SELECT * FROM principals WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| principal_from_row(&r)).transpose()
    }

    async fn put_product(&self, p: &ProductRecord) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
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
        sqlx::query("INSERT INTO product_search (domain, product, name, description, columns, tags) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(p.domain.as_str())
            .bind(p.name.as_str())
            .bind(format!("{} {} {}", p.domain, p.name.as_str().replace('_', " "), p.tables.iter().map(|t| t.as_str().replace('_', " ")).collect::<Vec<_>>().join(" ")))
            .bind(&p.description)
            .bind(&p.search_columns)
            .bind(&p.search_tags)
            .execute(&mut *tx)
            .await?;
        refresh_classifications(&mut tx, p.domain.as_str(), p.name.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn product(
        &self,
        domain: &Name,
        n: &Name,
    ) -> Result<Option<ProductRecord>, CatalogError> {
        let row = sqlx::query(concat!(
            product_select!(),
            " WHERE p.domain = ? AND p.name = ?"
        ))
        .bind(domain.as_str())
        .bind(n.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| product_from_row(&r)).transpose()
    }

    async fn products(&self) -> Result<Vec<ProductRecord>, CatalogError> {
        sqlx::query(concat!(product_select!(), " ORDER BY p.domain, p.name"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(product_from_row)
            .collect()
    }

    async fn put_grant(&self, g: &Grant) -> Result<(), CatalogError> {
        sqlx::query("INSERT OR IGNORE INTO grants (principal, access, domain, product, table_name, created_at) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(g.principal.as_str())
            .bind(g.access.as_str())
            .bind(g.target.domain().as_str())
            .bind(g.target.product().as_str())
            .bind(g.target.table().map(Name::as_str).unwrap_or(""))
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_grant(&self, g: &Grant) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM grants WHERE principal = ? AND access = ? AND domain = ? AND product = ? AND table_name = ?")
            .bind(g.principal.as_str())
            .bind(g.access.as_str())
            .bind(g.target.domain().as_str())
            .bind(g.target.product().as_str())
            .bind(g.target.table().map(Name::as_str).unwrap_or(""))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn grants_of(&self, principal: &Name) -> Result<Vec<Grant>, CatalogError> {
        sqlx::query(
            "SELECT * FROM grants WHERE principal = ? ORDER BY domain, product, table_name, access",
        )
        .bind(principal.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(grant_from_row)
        .collect()
    }

    async fn record_ingest(&self, i: &IngestRecord) -> Result<(), CatalogError> {
        sqlx::query("INSERT INTO ingests (domain, product, table_name, table_version, rows_accepted, rows_quarantined, source, input_sha256, principal, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ingests(
        &self,
        domain: &Name,
        product: &Name,
        limit: u32,
    ) -> Result<Vec<IngestRecord>, CatalogError> {
        sqlx::query(
            "SELECT * FROM ingests WHERE domain = ? AND product = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(domain.as_str())
        .bind(product.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ingest_from_row)
        .collect()
    }

    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, CatalogError> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        // Weights: product and table names count most, then columns, tags and classifications,
        // then prose.
        let rows = sqlx::query(
            "SELECT s.domain, s.product, p.description,
                    bm25(product_search, 10.0, 2.0, 5.0, 5.0, 5.0) AS rank,
                    snippet(product_search, -1, '[', ']', '…', 12) AS snippet
             FROM product_search s JOIN products p ON p.domain = s.domain AND p.name = s.product
             WHERE product_search MATCH ? ORDER BY rank LIMIT ?",
        )
        .bind(fts)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SearchHit {
                    domain: name(r, "domain")?,
                    product: name(r, "product")?,
                    description: r.try_get("description")?,
                    rank: r.try_get("rank")?,
                    snippet: r.try_get("snippet")?,
                })
            })
            .collect()
    }

    async fn put_column_tag(&self, t: &ColumnTag) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO column_tags (domain, table_name, column_name, source, category, sensitivity, confidence, evidence, reason, set_by, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (domain, table_name, column_name, source) DO UPDATE SET
               category = excluded.category, sensitivity = excluded.sensitivity,
               confidence = excluded.confidence, evidence = excluded.evidence,
               reason = excluded.reason, set_by = excluded.set_by, updated_at = excluded.updated_at",
        )
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
        .execute(&mut *tx)
        .await?;
        let product: Option<String> =
            sqlx::query_scalar("SELECT product FROM product_tables WHERE domain = ? AND name = ?")
                .bind(t.table.domain.as_str())
                .bind(t.table.table.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(product) = product {
            refresh_classifications(&mut tx, t.table.domain.as_str(), &product).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn column_tags(&self) -> Result<Vec<ColumnTag>, CatalogError> {
        sqlx::query("SELECT * FROM column_tags ORDER BY domain, table_name, column_name, source")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(column_tag_from_row)
            .collect()
    }

    async fn put_policy(&self, p: &PolicyRecord) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO policies (scope, document, applied_by, applied_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (scope) DO UPDATE SET document = excluded.document,
               applied_by = excluded.applied_by, applied_at = excluded.applied_at",
        )
        .bind(p.domain.as_ref().map_or("", Name::as_str))
        .bind(&p.document)
        .bind(p.applied_by.as_str())
        .bind(&p.applied_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn policies(&self) -> Result<Vec<PolicyRecord>, CatalogError> {
        sqlx::query("SELECT * FROM policies ORDER BY scope")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let scope: String = r.try_get("scope")?;
                Ok(PolicyRecord {
                    domain: if scope.is_empty() {
                        None
                    } else {
                        Some(name(r, "scope")?)
                    },
                    document: r.try_get("document")?,
                    applied_by: name(r, "applied_by")?,
                    applied_at: r.try_get("applied_at")?,
                })
            })
            .collect()
    }
}

/// Turns free text into an FTS5 query: every word becomes a quoted prefix term, joined by OR, so
/// products matching more words rank higher and no user text is read as FTS5 syntax.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

/// Rewrites the categories a product's search entry matches: each column's effective tag (an
/// override wins over the classifier), `none` left out.
async fn refresh_classifications(
    tx: &mut sqlx::SqliteConnection,
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::strict("test", s).unwrap()
    }

    fn product(domain: &str, name: &str, description: &str, columns: &str) -> ProductRecord {
        ProductRecord {
            domain: n(domain),
            name: n(name),
            contract_id: name.into(),
            version: "1.0.0".into(),
            status: "active".into(),
            description: description.into(),
            contract_yaml: String::new(),
            tables: vec![n(name)],
            search_columns: columns.into(),
            search_tags: String::new(),
            created_at: now(),
            updated_at: now(),
        }
    }

    #[tokio::test]
    async fn search_ranks_by_names_columns_and_descriptions() {
        let dir = tempfile::tempdir().unwrap();
        let c = SqliteCatalog::open(&dir.path().join("c.db")).await.unwrap();
        for d in ["sales", "customers"] {
            c.create_domain(&DomainRecord {
                name: n(d),
                owner: n("alice"),
                description: String::new(),
                created_at: now(),
            })
            .await
            .unwrap();
        }
        c.put_product(&product(
            "sales",
            "orders",
            "Orders placed",
            "order_id amount",
        ))
        .await
        .unwrap();
        c.put_product(&product(
            "customers",
            "profiles",
            "Customer master data",
            "customer_id email full_name",
        ))
        .await
        .unwrap();
        let hits = c.search("customer email", 10).await.unwrap();
        assert_eq!(hits[0].product.as_str(), "profiles");
        assert!(hits.iter().all(|h| h.product.as_str() != "orders"));
        assert!(c.search("\"; DROP", 10).await.unwrap().is_empty());
        let sales_again = DomainRecord {
            name: n("sales"),
            owner: n("bob"),
            description: String::new(),
            created_at: now(),
        };
        let dup = c.create_domain(&sales_again).await;
        assert!(matches!(dup, Err(CatalogError::AlreadyExists { .. })));
    }
}
