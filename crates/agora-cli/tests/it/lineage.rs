//! Lineage from the ledger: OpenLineage events sent by the real openlineage-python client,
//! table and column lineage, point-in-time answers, proofs, and refusals of bad events.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::harness::{Mesh, python_venv, testdata};
use crate::server::{serve, token};

/// A Python with the openlineage-python client.
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_venv(
            "openlineage-venv",
            &["openlineage-python==1.54.0"],
            "openlineage.client",
        )
    })
}

fn lineage_json(mesh: &Mesh, args: &[&str]) -> Value {
    let mut all = vec!["lineage"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    serde_json::from_str(&mesh.ok(&all)).unwrap()
}

fn edges(graph: &Value) -> Vec<(String, String, String)> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
                e["via"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ledger_size(mesh: &Mesh) -> u64 {
    mesh.ok(&["ledger", "checkpoint"])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn openlineage_client_events_become_proven_table_and_column_lineage() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "product",
        "apply",
        testdata("revenue.yaml").to_str().unwrap(),
    ]);
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let etl = token(&mesh, "etl");
    mesh.ok(&["grant", "etl", "write", "sales.revenue"]);
    // The job reads orders and writes revenue; lineage shows it only what it may read.
    mesh.ok(&["grant", "etl", "read", "sales.orders"]);
    mesh.ok(&["grant", "etl", "read", "sales.revenue"]);
    let before_events = ledger_size(&mesh);
    let served = serve(&mesh);

    let sent = Command::new(python())
        .args([
            testdata("openlineage_emit.py").to_str().unwrap(),
            &served.http,
            &etl,
        ])
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert_eq!(ledger_size(&mesh), before_events + 2);

    let source = |column: &str| format!("source:{}@", testdata("orders.csv").display()) + column;
    let up = lineage_json(&mesh, &["sales.revenue", "--upstream", "--verify"]);
    let got = edges(&up);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].0.starts_with(&source("")) && got[0].1 == "sales.orders" && got[0].2 == "ingest"
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_str(), got[1].2.as_str()),
        ("sales.orders", "sales.revenue", "job dbt/daily_revenue")
    );
    assert_eq!(up["verified"], true);
    let job_edge = &up["edges"][1];
    assert_eq!(job_edge["signer"], "sales");
    assert!(job_edge["proof"].as_array().is_some_and(|p| !p.is_empty()));

    // --depth 1 stops at the job's input.
    assert_eq!(
        edges(&lineage_json(
            &mesh,
            &["sales.revenue", "--upstream", "--depth", "1"]
        ))
        .len(),
        1
    );
    // Downstream of the orders is the revenue.
    let down = edges(&lineage_json(&mesh, &["sales.orders", "--downstream"]));
    assert_eq!(
        down,
        [(
            "sales.orders".into(),
            "sales.revenue".into(),
            "job dbt/daily_revenue".into()
        )]
    );

    // Column lineage: the total came from the orders' amount, summed, which came from the file.
    let col = lineage_json(&mesh, &["sales.revenue.total", "--upstream"]);
    let got = edges(&col);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter()
            .any(|e| e.0 == "sales.orders.amount" && e.1 == "sales.revenue.total")
    );
    assert!(
        got.iter()
            .any(|e| e.0.ends_with("#amount") && e.1 == "sales.orders.amount")
    );
    let text = mesh.ok(&["lineage", "sales.revenue.total"]);
    assert!(text.contains("[INDIRECT AGGREGATION sum]"), "{text}");

    // As the ledger stood before the job ran: only the ingest.
    let then = lineage_json(
        &mesh,
        &["sales.revenue", "--checkpoint", &before_events.to_string()],
    );
    assert_eq!(then["checkpoint"]["size"], before_events);
    assert!(edges(&then).is_empty(), "{then}");
    let ingest_time = mesh.ok(&["ledger", "show", &(before_events - 2).to_string()]);
    let ingest_time: Value = serde_json::from_str(&ingest_time).unwrap();
    let as_of = ingest_time["entry"]["time"].as_str().unwrap();
    let then = lineage_json(&mesh, &["sales.orders", "--as-of", as_of, "--verify"]);
    assert!(then["checkpoint"]["size"].as_u64().unwrap() < before_events + 2);
    assert_eq!(edges(&then).len(), 1, "{then}");

    let dot = mesh.ok(&["lineage", "sales.orders", "--format", "dot"]);
    assert!(
        dot.starts_with("digraph lineage {")
            && dot.contains("\"sales.orders\" -> \"sales.revenue\""),
        "{dot}"
    );

    // The same over HTTP.
    let client = reqwest::blocking::Client::new();
    let graph: Value = client
        .get(format!(
            "{}/api/v1/lineage/sales.revenue?direction=upstream",
            served.http
        ))
        .bearer_auth(&etl)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(edges(&graph).len(), 2);
}

#[test]
fn bad_lineage_events_and_questions_are_refused_and_nothing_is_appended() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "product",
        "apply",
        testdata("revenue.yaml").to_str().unwrap(),
    ]);
    let etl = token(&mesh, "etl");
    let served = serve(&mesh);
    let size = ledger_size(&mesh);
    let client = reqwest::blocking::Client::new();
    let post = |token: &str, body: Value| {
        client
            .post(format!("{}/api/v1/lineage", served.http))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap()
    };
    let event = json!({
        "eventType": "COMPLETE",
        "eventTime": "2026-11-26T10:00:00Z",
        "producer": "https://example.com/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0176a8c2-fe01-7439-87e6-56a1a1b4029f"},
        "job": {"namespace": "dbt", "name": "daily_revenue"},
        "inputs": [{"namespace": "agora", "name": "sales.orders"}],
        "outputs": [{"namespace": "agora", "name": "sales.revenue"}]
    });
    let mut no_run_id = event.clone();
    no_run_id["run"] = json!({});
    let resp = post(&etl, no_run_id);
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`run.runId` is required"),
        "{body}"
    );

    let mut bad_type = event.clone();
    bad_type["eventType"] = json!("FINISHED");
    assert_eq!(post(&etl, bad_type).status(), 400);

    // etl has no write grant on sales.revenue yet.
    let resp = post(&etl, event.clone());
    assert_eq!(resp.status(), 403);
    assert_eq!(
        ledger_size(&mesh),
        size,
        "nothing appended for refused events"
    );

    mesh.ok(&["grant", "etl", "write", "sales.revenue"]);
    let resp = post(&etl, event);
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().unwrap();
    assert_eq!(body["ledger_index"], size + 1);

    let err = mesh.fails(3, &["lineage", "sales.nothing"]);
    assert!(
        err.contains("unknown product or table `sales.nothing`"),
        "{err}"
    );
    let err = mesh.fails(2, &["lineage", "sales.orders", "--as-of", "last tuesday"]);
    assert!(err.contains("--as-of"), "{err}");
    mesh.fails(3, &["lineage", "sales.orders", "--checkpoint", "99999"]);
    let resp = client
        .get(format!(
            "{}/api/v1/lineage/sales.orders?direction=sideways",
            served.http
        ))
        .bearer_auth(&etl)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
}
