//! The embedded catalog: one SQLite file in the mesh directory.

use std::path::Path;
use std::str::FromStr;

use agora_model::{ColumnTag, Grant, Name, TableRef};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::{
    Catalog, CatalogError, Change, CorrectionRecord, DomainRecord, EdgeAgentRecord, IngestRecord,
    PendingRecord, PolicyRecord, PrincipalRecord, ProductRecord, QueryText, SearchHit, ShareRecord,
    SharedTable,
};

mod edge_agents;
mod rows;
mod shares;
mod writes;

use rows::{
    column_tag_from_row, correction_from_row, domain_from_row, grant_from_row, ingest_from_row,
    name, principal_from_row, product_from_row,
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
    async fn apply(
        &self,
        changes: &[Change],
        pending: Option<&PendingRecord>,
    ) -> Result<Option<i64>, CatalogError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            writes::apply(&mut tx, change).await?;
        }
        let id = match pending {
            Some(p) => Some(
                sqlx::query_scalar(
                    "INSERT INTO pending_entries (intent, payload, log_size, pid, process_start, created_at)
                     VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(&p.intent)
                .bind(&p.payload)
                .bind(p.log_size as i64)
                .bind(p.pid as i64)
                .bind(p.process_start as i64)
                .bind(&p.created_at)
                .fetch_one(&mut *tx)
                .await?,
            ),
            None => None,
        };
        tx.commit().await?;
        Ok(id)
    }

    async fn pending(&self) -> Result<Vec<(i64, PendingRecord)>, CatalogError> {
        sqlx::query("SELECT * FROM pending_entries ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let count = |c: &str| -> Result<i64, CatalogError> { Ok(r.try_get(c)?) };
                Ok((
                    r.try_get("id")?,
                    PendingRecord {
                        intent: r.try_get("intent")?,
                        payload: r.try_get("payload")?,
                        log_size: count("log_size")? as u64,
                        pid: count("pid")? as u32,
                        process_start: count("process_start")? as u64,
                        created_at: r.try_get("created_at")?,
                    },
                ))
            })
            .collect()
    }

    async fn complete(&self, id: i64, changes: &[Change]) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            writes::apply(&mut tx, change).await?;
        }
        sqlx::query("DELETE FROM pending_entries WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn principals(&self) -> Result<Vec<PrincipalRecord>, CatalogError> {
        sqlx::query("SELECT * FROM principals ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(principal_from_row)
            .collect()
    }

    async fn grants(&self) -> Result<Vec<Grant>, CatalogError> {
        sqlx::query("SELECT * FROM grants ORDER BY principal, domain, product, table_name, access")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(grant_from_row)
            .collect()
    }

    async fn all_ingests(&self) -> Result<Vec<IngestRecord>, CatalogError> {
        sqlx::query("SELECT * FROM ingests ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(ingest_from_row)
            .collect()
    }

    async fn contract_history(&self) -> Result<Vec<ProductRecord>, CatalogError> {
        sqlx::query("SELECT * FROM contract_history ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ProductRecord {
                    domain: name(r, "domain")?,
                    name: name(r, "product")?,
                    contract_id: String::new(),
                    version: r.try_get("version")?,
                    status: String::new(),
                    description: String::new(),
                    contract_yaml: r.try_get("contract_yaml")?,
                    tables: Vec::new(),
                    search_columns: String::new(),
                    search_tags: String::new(),
                    created_at: r.try_get("applied_at")?,
                    updated_at: r.try_get("applied_at")?,
                })
            })
            .collect()
    }

    async fn ingest(
        &self,
        table: &TableRef,
        ingest_id: &str,
    ) -> Result<Option<IngestRecord>, CatalogError> {
        sqlx::query("SELECT * FROM ingests WHERE domain = ? AND table_name = ? AND ingest_id = ?")
            .bind(table.domain.as_str())
            .bind(table.table.as_str())
            .bind(ingest_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| ingest_from_row(&r))
            .transpose()
    }

    async fn earlier_ingest(
        &self,
        table: &TableRef,
        input_sha256: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Option<IngestRecord>, CatalogError> {
        sqlx::query(
            "SELECT * FROM ingests WHERE domain = ? AND table_name = ?
               AND (input_sha256 = ? OR idempotency_key = ?) ORDER BY id LIMIT 1",
        )
        .bind(table.domain.as_str())
        .bind(table.table.as_str())
        .bind(input_sha256)
        .bind(idempotency_key)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| ingest_from_row(&r))
        .transpose()
    }

    async fn tag_history(&self) -> Result<Vec<ColumnTag>, CatalogError> {
        sqlx::query("SELECT * FROM tag_history ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(column_tag_from_row)
            .collect()
    }

    async fn query_text(&self, sql_hmac: &str) -> Result<Option<QueryText>, CatalogError> {
        sqlx::query("SELECT * FROM query_texts WHERE sql_hmac = ?")
            .bind(sql_hmac)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(QueryText {
                    sql_hmac: r.try_get("sql_hmac")?,
                    sql: r.try_get("sql")?,
                    principal: name(&r, "principal")?,
                    first_seen: r.try_get("first_seen")?,
                })
            })
            .transpose()
    }

    async fn corrections(
        &self,
        suggestion_id: &str,
    ) -> Result<Vec<CorrectionRecord>, CatalogError> {
        sqlx::query(
            "SELECT * FROM corrections WHERE suggestion_id = ? ORDER BY applied_at DESC, rowid DESC",
        )
        .bind(suggestion_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(correction_from_row)
        .collect()
    }

    async fn corrections_of(
        &self,
        table: &TableRef,
    ) -> Result<Vec<CorrectionRecord>, CatalogError> {
        sqlx::query(
            "SELECT * FROM corrections WHERE domain = ? AND table_name = ? ORDER BY applied_at DESC, rowid DESC",
        )
        .bind(table.domain.as_str())
        .bind(table.table.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(correction_from_row)
        .collect()
    }

    async fn share(&self, name: &Name) -> Result<Option<ShareRecord>, CatalogError> {
        shares::share(&self.pool, name).await
    }

    async fn shares(&self) -> Result<Vec<ShareRecord>, CatalogError> {
        shares::shares(&self.pool).await
    }

    async fn shared_tables(&self, share: &Name) -> Result<Vec<SharedTable>, CatalogError> {
        shares::shared_tables(&self.pool, share).await
    }

    async fn edge_agent(&self, name: &Name) -> Result<Option<EdgeAgentRecord>, CatalogError> {
        edge_agents::agent(&self.pool, name).await
    }

    async fn edge_agents(&self) -> Result<Vec<EdgeAgentRecord>, CatalogError> {
        edge_agents::agents(&self.pool).await
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

    async fn column_tags(&self) -> Result<Vec<ColumnTag>, CatalogError> {
        sqlx::query("SELECT * FROM column_tags ORDER BY domain, table_name, column_name, source")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(column_tag_from_row)
            .collect()
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
            let domain = DomainRecord {
                name: n(d),
                owner: n("alice"),
                description: String::new(),
                created_at: now(),
            };
            c.apply(&[Change::CreateDomain(domain)], None)
                .await
                .unwrap();
        }
        let products = [
            product("sales", "orders", "Orders placed", "order_id amount"),
            product(
                "customers",
                "profiles",
                "Customer master data",
                "customer_id email full_name",
            ),
        ];
        let changes: Vec<Change> = products.into_iter().map(Change::PutProduct).collect();
        c.apply(&changes, None).await.unwrap();
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
        let dup = c.apply(&[Change::CreateDomain(sales_again)], None).await;
        assert!(matches!(dup, Err(CatalogError::AlreadyExists { .. })));
    }
}
