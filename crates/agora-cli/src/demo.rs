//! `agora demo`: a mesh with three domains, realistic generated data and a short tour.
//!
//! The data is generated here (seeded, so every run is the same) and goes through the normal
//! write path, including validation: a small share of orders carry an unknown status and end
//! in quarantine, as they would in real life.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use agora_lineage::{Direction, LineageRequest, PointInTime};
use agora_mesh::{IngestOptions, IngestReport, Interface, Mesh, MeshError, Source};
use agora_model::{Principal, Sensitivity};

use crate::output::{OutputFormat, write_results};

const CUSTOMERS: &str = include_str!("../demo/customers.yaml");
const ORDERS: &str = include_str!("../demo/orders.yaml");
const SHIPMENTS: &str = include_str!("../demo/shipments.yaml");

/// One step of the tour, ready to print.
pub struct TourStep {
    pub title: String,
    pub body: String,
}

/// Everything the demo made and showed.
pub struct Tour {
    pub steps: Vec<TourStep>,
    /// The analyst's API token, for trying `psql` or the HTTP API.
    pub analyst_token: String,
}

const REGIONS: [&str; 5] = ["EMEA", "NA", "LATAM", "APAC", "ANZ"];
const COUNTRIES: [(&str, &str); 8] = [
    ("DE", "EMEA"),
    ("FR", "EMEA"),
    ("GB", "EMEA"),
    ("US", "NA"),
    ("CA", "NA"),
    ("BR", "LATAM"),
    ("JP", "APAC"),
    ("AU", "ANZ"),
];
/// The tour's global policy: names and emails masked (not hashed) so the tour can show them.
const DEMO_POLICY: &str = "kind: AgoraPolicy
columns:
  - category: person_name
    action: mask
  - category: email
    action: mask
";

const FIRST: [&str; 12] = [
    "Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena",
];
const LAST: [&str; 12] = [
    "Silva", "Müller", "Dubois", "Ivanov", "Smith", "Haddad", "Okafor", "Tanaka", "García", "Berg",
    "Mensah", "Novak",
];
const SEGMENTS: [&str; 3] = ["consumer", "small_business", "enterprise"];
const STATUSES: [&str; 4] = ["placed", "paid", "shipped", "delivered"];
const CARRIERS: [&str; 4] = ["DHL", "UPS", "FedEx", "La Poste"];

/// Midnight 2025-01-01 UTC, in days and microseconds since the epoch.
const START_DAY: i32 = 20089;
const START_US: i64 = 20089 * 86_400 * 1_000_000;

fn batch(fields: Vec<(&str, DataType)>, columns: Vec<ArrayRef>) -> RecordBatch {
    let schema = Schema::new(
        fields
            .into_iter()
            .map(|(n, t)| Field::new(n, t, true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), columns)
        .expect("INVARIANT: demo columns match their schema")
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn customers(rng: &mut StdRng, n: usize) -> RecordBatch {
    let ids: Vec<i64> = (1..=n as i64).collect();
    let names: Vec<String> = (0..n)
        .map(|_| {
            format!(
                "{} {}",
                FIRST[rng.random_range(0..12)],
                LAST[rng.random_range(0..12)]
            )
        })
        .collect();
    let emails: Vec<String> = names
        .iter()
        .zip(&ids)
        .map(|(name, id)| format!("{}.{id}@example.com", name.to_lowercase().replace(' ', ".")))
        .collect();
    let countries: Vec<&str> = (0..n)
        .map(|_| COUNTRIES[rng.random_range(0..COUNTRIES.len())].0)
        .collect();
    let segments: Vec<&str> = (0..n).map(|_| SEGMENTS[rng.random_range(0..3)]).collect();
    let signup: Vec<i32> = (0..n)
        .map(|_| START_DAY - rng.random_range(0..1500))
        .collect();
    batch(
        vec![
            ("customer_id", DataType::Int64),
            ("full_name", DataType::Utf8),
            ("email", DataType::Utf8),
            ("country", DataType::Utf8),
            ("segment", DataType::Utf8),
            ("signup_date", DataType::Date32),
        ],
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
            Arc::new(StringArray::from(emails)),
            Arc::new(StringArray::from(countries)),
            Arc::new(StringArray::from(segments)),
            Arc::new(Date32Array::from(signup)),
        ],
    )
}

fn orders(rng: &mut StdRng, n: usize, customers: usize) -> RecordBatch {
    let ids: Vec<i64> = (1..=n as i64).collect();
    let cust: Vec<i64> = (0..n)
        .map(|_| rng.random_range(1..=customers as i64))
        .collect();
    let regions: Vec<&str> = (0..n).map(|_| REGIONS[rng.random_range(0..5)]).collect();
    let amounts: Vec<f64> = (0..n)
        .map(|_| (rng.random_range(5.0f64..2000.0) * 100.0).round() / 100.0)
        .collect();
    let at: Vec<i64> = (0..n)
        .map(|i| START_US + (i as i64) * 60_000_000 + rng.random_range(0..60_000_000))
        .collect();
    // About one order in a thousand has a status the contract does not allow.
    let status: Vec<&str> = (0..n)
        .map(|_| {
            if rng.random_ratio(1, 1000) {
                "lost_in_space"
            } else {
                STATUSES[rng.random_range(0..4)]
            }
        })
        .collect();
    batch(
        vec![
            ("order_id", DataType::Int64),
            ("customer_id", DataType::Int64),
            ("region", DataType::Utf8),
            ("amount", DataType::Float64),
            ("ordered_at", ts()),
            ("status", DataType::Utf8),
        ],
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Int64Array::from(cust)),
            Arc::new(StringArray::from(regions)),
            Arc::new(Float64Array::from(amounts)),
            Arc::new(TimestampMicrosecondArray::from(at).with_timezone("UTC")),
            Arc::new(StringArray::from(status)),
        ],
    )
}

fn shipments(rng: &mut StdRng, orders: usize) -> RecordBatch {
    let shipped: Vec<i64> = (1..=orders as i64)
        .filter(|_| rng.random_ratio(9, 10))
        .collect();
    let n = shipped.len();
    let ids: Vec<i64> = (1..=n as i64).collect();
    let carriers: Vec<&str> = (0..n).map(|_| CARRIERS[rng.random_range(0..4)]).collect();
    let shipped_at: Vec<i64> = shipped
        .iter()
        .map(|o| START_US + o * 60_000_000 + rng.random_range(3_600_000_000..172_800_000_000))
        .collect();
    let delivered: Vec<Option<i64>> = shipped_at
        .iter()
        .map(|s| {
            rng.random_ratio(4, 5)
                .then(|| s + rng.random_range(86_400_000_000..604_800_000_000))
        })
        .collect();
    let cost: Vec<f64> = (0..n)
        .map(|_| (rng.random_range(3.0f64..80.0) * 100.0).round() / 100.0)
        .collect();
    batch(
        vec![
            ("shipment_id", DataType::Int64),
            ("order_id", DataType::Int64),
            ("carrier", DataType::Utf8),
            ("shipped_at", ts()),
            ("delivered_at", ts()),
            ("cost", DataType::Float64),
        ],
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Int64Array::from(shipped)),
            Arc::new(StringArray::from(carriers)),
            Arc::new(TimestampMicrosecondArray::from(shipped_at).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(delivered).with_timezone("UTC")),
            Arc::new(Float64Array::from(cost)),
        ],
    )
}

fn chunks(batch: RecordBatch) -> Vec<RecordBatch> {
    (0..batch.num_rows())
        .step_by(65_536)
        .map(|o| batch.slice(o, 65_536.min(batch.num_rows() - o)))
        .collect()
}

/// Creates the demo mesh in `dir` with about `orders` orders (and a quarter as many customers,
/// nine tenths as many shipments), then runs the tour.
pub async fn create(dir: &Path, orders_count: usize) -> Result<Tour, MeshError> {
    let (mesh, _admin_token) = Mesh::init(dir).await?;
    let admin = Principal::admin();
    let analyst_token = populate(&mesh, &admin).await?;
    let ingests = ingest_generated(&mesh, &admin, orders_count).await?;
    mesh.set_grant(&admin, "bob", "read", "sales.orders", false)
        .await?;
    mesh.set_grant(&admin, "bob", "read", "logistics.shipments", false)
        .await?;
    let mut steps = vec![products_step(&mesh, &ingests).await?];
    steps.extend(analyst_steps(&mesh).await?);
    steps.push(governance_step(&mesh, &admin, &ingests).await?);
    if let Some(q) = ingests.iter().find(|i| i.rows_quarantined > 0) {
        let reasons: Vec<String> = q
            .quarantine_reasons
            .iter()
            .map(|(r, n)| format!("  {n} × {r}"))
            .collect();
        steps.push(TourStep {
            title: format!(
                "Rows that broke the contract of {} went to quarantine, not to /dev/null",
                q.table
            ),
            body: reasons.join("\n") + "\n",
        });
    }
    steps.push(ledger_step(&mesh).await?);
    Ok(Tour {
        steps,
        analyst_token,
    })
}

/// The principals, domains and products of the demo; returns the analyst's token.
async fn populate(mesh: &Mesh, admin: &Principal) -> Result<String, MeshError> {
    for p in ["alice", "carol", "dave"] {
        mesh.create_principal(admin, p, Sensitivity::Internal, BTreeMap::new(), None)
            .await?;
    }
    let analyst_token = mesh
        .create_principal(admin, "bob", Sensitivity::Internal, BTreeMap::new(), None)
        .await?;
    for (domain, owner, what) in [
        ("sales", "alice", "Orders and revenue"),
        ("logistics", "carol", "Shipping and delivery"),
        ("customers", "dave", "Customer master data"),
    ] {
        mesh.create_domain(admin, domain, owner, what).await?;
    }
    for contract in [CUSTOMERS, ORDERS, SHIPMENTS] {
        mesh.apply_contract(admin, contract, None).await?;
    }
    Ok(analyst_token)
}

/// Generates the data (seeded) and ingests it through the normal write path.
async fn ingest_generated(
    mesh: &Mesh,
    admin: &Principal,
    orders_count: usize,
) -> Result<Vec<IngestReport>, MeshError> {
    let mut rng = StdRng::seed_from_u64(7);
    let customer_count = (orders_count / 4).max(1);
    let data = [
        ("customers.profiles", customers(&mut rng, customer_count)),
        (
            "sales.orders",
            orders(&mut rng, orders_count, customer_count),
        ),
        ("logistics.shipments", shipments(&mut rng, orders_count)),
    ];
    let mut ingests = Vec::new();
    for (table, b) in data {
        let source = Source::Batches {
            name: format!("generated {table}"),
            batches: chunks(b),
        };
        ingests.push(
            mesh.ingest(admin, table, source, IngestOptions::default())
                .await?,
        );
    }
    Ok(ingests)
}

/// The products and what was ingested into them.
async fn products_step(mesh: &Mesh, ingests: &[IngestReport]) -> Result<TourStep, MeshError> {
    let mut listing = String::new();
    for p in &mesh.products().await? {
        listing.push_str(&format!(
            "  {}.{:<10} v{}  tables: {}  — {}\n",
            p.domain,
            p.name,
            p.version,
            p.tables
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            p.description
        ));
    }
    for i in ingests {
        listing.push_str(&format!(
            "  ingested {:<20} {:>7} rows accepted, {} quarantined (version {})\n",
            i.table,
            i.rows_accepted,
            i.rows_quarantined,
            i.version.unwrap_or(0)
        ));
    }
    Ok(TourStep {
        title: "Data products, one per domain, each from an ODCS contract".into(),
        body: listing,
    })
}

/// The analyst's cross-domain query, and the query the analyst is refused.
async fn analyst_steps(mesh: &Mesh) -> Result<Vec<TourStep>, MeshError> {
    let cross = "select o.region, count(*) as orders, round(avg(extract(epoch from s.delivered_at - o.ordered_at) / 3600), 1) as avg_hours_to_delivery \
                     from sales.orders o join logistics.shipments s on s.order_id = o.order_id \
                     where s.delivered_at is not null group by o.region order by orders desc";
    let bob = mesh.principal("bob").await?;
    let session = mesh
        .session(&bob, Interface::Cli, Default::default())
        .await?;
    let mut out = Vec::new();
    write_results(session.sql(cross).await?, OutputFormat::Table, &mut out).await?;
    let denied = "select email from customers.profiles limit 5";
    let refusal = match session.sql(denied).await {
        Ok(_) => {
            return Err(MeshError::Internal(
                "the demo expected bob to be refused customers.profiles".into(),
            ));
        }
        Err(e) => e.to_string(),
    };
    Ok(vec![
        TourStep {
            title: format!("A cross-domain query by analyst bob (sales × logistics):\n  {cross}"),
            body: String::from_utf8_lossy(&out).into_owned(),
        },
        TourStep {
            title: format!("A denied query: bob has no grant on customers.profiles\n  {denied}"),
            body: format!("  {refusal}\n"),
        },
    ])
}

/// What the classifier found on ingest, and a policy that masks it for a reader.
async fn governance_step(
    mesh: &Mesh,
    admin: &Principal,
    ingests: &[IngestReport],
) -> Result<TourStep, MeshError> {
    let mut body = String::new();
    for i in ingests {
        for c in &i.classified {
            body.push_str(&format!(
                "  {}.{}: {} ({}, confidence {:.2})\n",
                i.table, c.column, c.category, c.sensitivity, c.confidence
            ));
        }
    }
    mesh.apply_policy(admin, "demo policy", DEMO_POLICY).await?;
    mesh.create_principal(admin, "erin", Sensitivity::Internal, BTreeMap::new(), None)
        .await?;
    mesh.set_grant(admin, "erin", "read", "customers.profiles", false)
        .await?;
    let erin = mesh.principal("erin").await?;
    let session = mesh
        .session(&erin, Interface::Cli, Default::default())
        .await?;
    let masked =
        "select full_name, email, country from customers.profiles order by customer_id limit 3";
    let mut out = Vec::new();
    write_results(session.sql(masked).await?, OutputFormat::Table, &mut out).await?;
    body.push_str(&format!(
        "\n  The policy masks names and emails for readers below `confidential`; erin (clearance internal) runs:\n  {masked}\n{}",
        String::from_utf8_lossy(&out)
    ));
    Ok(TourStep {
        title: "Sensitive columns were classified on arrival, and every read is masked by policy"
            .into(),
        body,
    })
}

/// The ledger audited from scratch, and the lineage it proves.
async fn ledger_step(mesh: &Mesh) -> Result<TourStep, MeshError> {
    let report =
        agora_ledger::audit(mesh.log(), None).map_err(|f| MeshError::LedgerAudit(f.to_string()))?;
    let lineage = mesh
        .lineage(
            &Principal::admin(),
            LineageRequest {
                target: "sales.orders".into(),
                direction: Direction::Upstream,
                depth: None,
                at: PointInTime::Latest,
                verify: true,
            },
        )
        .await?;
    let mut body = format!(
        "  {} signed entries (domains and their keys, principals, grants, contracts, ingests, classifications, the policy, the tour's queries), verified from scratch: root {}\n",
        report.size,
        &report.root[..16]
    );
    for e in &lineage.edges {
        body.push_str(&format!(
            "  lineage: {} → {} via {} (entry {}, signed by {}, proven)\n",
            e.from, e.to, e.via, e.entry, e.signer
        ));
    }
    Ok(TourStep {
        title: "Everything above is in the ledger: signed by the acting domain, Merkle-logged, provable".into(),
        body,
    })
}
