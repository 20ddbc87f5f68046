//! How much the governed query layer costs: each query runs on the same Delta tables through a
//! plain DataFusion `SessionContext` and through `agora_query::GovernedSession` (as a principal
//! with a grant, so the grant check walks every plan), alternating, in one process. With
//! `AGORA_BENCH_MASKED_PRINCIPAL` set, also as that principal, for whom policies mask columns:
//! the cost of masking is that run against the governed one.
//!
//! Usage: `agora-bench-overhead MESH_DIR DOMAIN QUERIES_DIR [RUNS]`, where QUERIES_DIR holds
//! `q1.sql` … files naming the tables of DOMAIN bare. Prints one line per query and the total.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agora_mesh::{Interface, Mesh, SessionOptions};
use agora_model::{Name, Principal, TableRef};
use agora_query::datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider,
};
use agora_query::datafusion::prelude::{SessionConfig, SessionContext};
use agora_storage::{TableKind, TableStore};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mesh_dir), Some(domain), Some(queries_dir)) = (args.get(1), args.get(2), args.get(3))
    else {
        eprintln!("usage: agora-bench-overhead MESH_DIR DOMAIN QUERIES_DIR [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(4).map_or(Ok(5), |r| r.parse())?;
    let domain = Name::strict("domain", domain)?;
    let mesh = Mesh::open(mesh_dir.as_ref()).await?;
    let store = TableStore::new(mesh_dir.as_ref());

    // Plain DataFusion: the same tables, registered directly, no checks; the same engine
    // settings (DATAFUSION_* variables) and the same Delta scans (the session's Parquet options,
    // the table's column statistics).
    let plain = SessionContext::new_with_config(
        SessionConfig::from_env()?.with_default_catalog_and_schema("agora", domain.as_str()),
    );
    let scan_options = Arc::new(plain.state());
    let catalog = MemoryCatalogProvider::new();
    for product in mesh.products().await? {
        let schema = MemorySchemaProvider::new();
        for table in &product.tables {
            let t = TableRef {
                domain: product.domain.clone(),
                table: table.clone(),
            };
            if let Some(delta) = store.open(&t, TableKind::Product).await? {
                let provider = agora_storage::delta_table_provider(
                    &delta,
                    scan_options.clone(),
                    Default::default(),
                )
                .await?;
                schema.register_table(table.to_string(), provider)?;
            }
        }
        catalog.register_schema(product.domain.as_str(), Arc::new(schema))?;
    }
    plain.register_catalog("agora", Arc::new(catalog));

    let principal = std::env::var("AGORA_BENCH_PRINCIPAL").unwrap_or_else(|_| "bench".into());
    let principal = mesh
        .principal(&principal)
        .await
        .unwrap_or_else(|_| Principal::admin());
    let masked = match std::env::var("AGORA_BENCH_MASKED_PRINCIPAL") {
        Ok(name) => Some(mesh.principal(&name).await?),
        Err(_) => None,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(queries_dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort_by_key(|p| {
        p.file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.trim_start_matches('q').parse::<u32>().ok())
    });
    let (mut total_plain, mut total_governed, mut total_masked) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    // A session per query, as every interface builds one per request.
    let governed_run = |who: Principal, sql: String| {
        let (mesh, domain) = (mesh.clone(), domain.clone());
        async move {
            let start = Instant::now();
            let options = SessionOptions {
                default_schema: Some(domain),
                ..Default::default()
            };
            let session = mesh.session(&who, Interface::Cli, options).await?;
            session.sql(&sql).await?.collect().await?;
            Ok::<_, Box<dyn std::error::Error>>(start.elapsed())
        }
    };
    for file in files {
        let sql = std::fs::read_to_string(&file)?;
        let (mut p, mut g, mut m) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let start = Instant::now();
            plain.sql(&sql).await?.collect().await?;
            p.push(start.elapsed());
            g.push(governed_run(principal.clone(), sql.clone()).await?);
            if let Some(masked) = &masked {
                m.push(governed_run(masked.clone(), sql.clone()).await?);
            }
        }
        let (p, g) = (median(p), median(g));
        total_plain += p;
        total_governed += g;
        let masking = if m.is_empty() {
            String::new()
        } else {
            let m = median(m);
            total_masked += m;
            format!(
                "  masked {:>8.3}s  masking {:>+6.1}%",
                m.as_secs_f64(),
                (m.as_secs_f64() / g.as_secs_f64() - 1.0) * 100.0
            )
        };
        println!(
            "{:<8} plain {:>8.3}s  governed {:>8.3}s  overhead {:>+6.1}%{masking}",
            file.file_stem().and_then(|s| s.to_str()).unwrap_or("?"),
            p.as_secs_f64(),
            g.as_secs_f64(),
            (g.as_secs_f64() / p.as_secs_f64() - 1.0) * 100.0
        );
    }
    let masking = if masked.is_some() {
        format!(
            "  masked {:>8.3}s  masking {:>+6.1}%",
            total_masked.as_secs_f64(),
            (total_masked.as_secs_f64() / total_governed.as_secs_f64() - 1.0) * 100.0
        )
    } else {
        String::new()
    };
    println!(
        "total    plain {:>8.3}s  governed {:>8.3}s  overhead {:>+6.1}%{masking}",
        total_plain.as_secs_f64(),
        total_governed.as_secs_f64(),
        (total_governed.as_secs_f64() / total_plain.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}
