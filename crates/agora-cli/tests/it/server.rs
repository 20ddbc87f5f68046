//! `agora serve` as a real process, with a real `psql` and a real HTTP client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::{Mesh, agora_cmd, testdata};

pub struct Served {
    child: Child,
    pub http: String,
    pub pg_port: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(mesh: &Mesh) -> Served {
    serve_with(mesh, &[])
}

/// `agora serve` with more flags (limits).
pub fn serve_with(mesh: &Mesh, flags: &[&str]) -> Served {
    let mut child = agora_cmd(&mesh.data())
        .args(["serve", "--http", "127.0.0.1:0", "--pg", "127.0.0.1:0"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("agora serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut http, mut pg) = (None, None);
    while http.is_none() || pg.is_none() {
        let line = lines
            .next()
            .expect("serve prints its addresses")
            .expect("utf-8");
        if let Some(rest) = line.trim().strip_prefix("HTTP API  http://") {
            http = Some(format!("http://{}", rest.split('/').next().unwrap()));
        }
        if let Some(rest) = line.trim().strip_prefix("Postgres  postgresql://") {
            pg = Some(
                rest.split('/')
                    .next()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    // The server goes on printing (TLS, warnings); a closed pipe would stop it.
    std::thread::spawn(move || lines.for_each(drop));
    Served {
        child,
        http: http.unwrap(),
        pg_port: pg.unwrap(),
    }
}

pub fn token(mesh: &Mesh, name: &str) -> String {
    let out = mesh.ok(&["principal", "create", name]);
    out.rsplit(": ").next().unwrap().trim().to_string()
}

pub fn psql(port: &str, user: &str, password: &str, sql: &str) -> (bool, String, String) {
    let conninfo = format!("host=127.0.0.1 port={port} user={user} dbname=agora");
    psql_with(&conninfo, password, &[sql])
}

/// psql with a libpq connection string and `statements`, each its own `-c` (its own message),
/// unaligned and without headers.
pub fn psql_with(conninfo: &str, password: &str, statements: &[&str]) -> (bool, String, String) {
    let mut command = Command::new("psql");
    command.args(["-AtX", conninfo]);
    for s in statements {
        command.args(["-c", s]);
    }
    let out = command
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn psql_reads_under_the_principals_grants() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "sales.orders"]);
    let dan = token(&mesh, "dan");
    let served = serve(&mesh);

    let (ok, out, err) = psql(
        &served.pg_port,
        "carol",
        &carol,
        "select order_id, region from sales.orders order by order_id limit 5",
    );
    assert!(ok, "{err}");
    assert_eq!(out, "1|EMEA\n2|NA\n6|NA\n");

    // psql's own catalog queries work: \dt lists the mesh's tables.
    let (ok, out, err) = psql(&served.pg_port, "carol", &carol, "\\dt");
    assert!(ok, "{err}");
    assert!(out.contains("sales|orders|table"), "{out}");

    let (ok, _, err) = psql(
        &served.pg_port,
        "dan",
        &dan,
        "select * from sales.orders limit 5",
    );
    assert!(!ok);
    assert!(
        err.contains("permission denied: dan may not read product sales.orders"),
        "{err}"
    );

    let (ok, _, err) = psql(&served.pg_port, "carol", "agora_wrong", "select 1");
    assert!(
        !ok && err
            .to_lowercase()
            .contains("password authentication failed"),
        "{err}"
    );
    // A valid token only logs in as its own principal.
    let (ok, _, _) = psql(&served.pg_port, "carol", &dan, "select 1");
    assert!(!ok);
    let (ok, _, err) = psql(&served.pg_port, "carol", &carol, "selec 1");
    assert!(!ok && err.contains("SQL error"), "{err}");

    // Both the read and the refusal over the wire protocol are in the ledger's audit trail.
    let audits: Vec<serde_json::Value> = mesh
        .ok(&["ledger", "tail", "--limit", "50"])
        .lines()
        .filter(|l| l.contains("query.run"))
        .map(|l| {
            let index = l.split_whitespace().next().unwrap();
            serde_json::from_str(&mesh.ok(&["ledger", "show", index])).unwrap()
        })
        .collect();
    let by = |who: &str| {
        audits
            .iter()
            .find(|a| a["entry"]["body"]["principal"] == who)
            .unwrap_or_else(|| panic!("no audit of {who}: {audits:?}"))
    };
    assert_eq!(by("carol")["entry"]["body"]["interface"], "postgres");
    assert!(by("dan")["entry"]["body"]["denied"].is_string());
}

#[test]
fn http_api_ingests_queries_and_answers_errors_in_json() {
    let mesh = Mesh::with_orders();
    let alice = token(&mesh, "alice2");
    mesh.ok(&["grant", "alice2", "write", "sales.orders"]);
    let served = serve(&mesh);
    let client = reqwest::blocking::Client::new();
    let url = |p: &str| format!("{}{p}", served.http);

    let spec: serde_json::Value = client
        .get(url("/api/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(spec["paths"]["/api/v1/query"].is_object(), "{spec}");

    let r = client.get(url("/api/v1/products")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(url("/api/v1/products"))
        .bearer_auth("agora_nope")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    let csv = std::fs::read(testdata("orders.csv")).unwrap();
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().unwrap();
    assert_eq!(
        (
            report["rows_accepted"].as_u64(),
            report["rows_quarantined"].as_u64()
        ),
        (Some(3), Some(4))
    );

    // Arrow IPC and JSON lines bodies, the Arrow one made by `agora sql --format arrow`.
    let arrow = agora_cmd(&mesh.data())
        .args([
            "sql",
            "select order_id + 1000 as order_id, region, amount, status from sales.orders",
            "--format",
            "arrow",
        ])
        .output()
        .unwrap();
    assert!(arrow.status.success());
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "application/vnd.apache.arrow.stream")
        .body(arrow.stdout)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().unwrap();
    assert_eq!(report["rows_accepted"].as_u64(), Some(3), "{report}");
    let jsonl = std::fs::read(testdata("orders.jsonl")).unwrap();
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "application/x-ndjson")
        .body(jsonl)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "application/vnd.apache.arrow.stream")
        .body("not arrow")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    let ragged = std::fs::read(testdata("ragged.csv")).unwrap();
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "text/csv")
        .body(ragged)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert!(body["error"].as_str().unwrap().contains("line 3"), "{body}");

    let r = client
        .post(url("/api/v1/query"))
        .bearer_auth(&alice)
        .body(r#"{"sql": "select sum(amount) as s from sales.orders"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let rows: serde_json::Value = r.json().unwrap();
    assert_eq!(rows[0]["s"], 34.5 * 2.0 + 2.5);

    for (body, status) in [
        (r#"{"sql": "selec"}"#, 400),
        (r#"{"sql": "select * from sales.nope"}"#, 400),
        ("{not json", 400),
    ] {
        let r = client
            .post(url("/api/v1/query"))
            .bearer_auth(&alice)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
        let err: serde_json::Value = r.json().unwrap();
        assert!(err["error"].is_string());
    }
    let r = client
        .get(url("/api/v1/products/sales/nope"))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .post(url("/api/v1/tables/sales/orders/batches"))
        .bearer_auth(&alice)
        .header("content-type", "image/png")
        .body("x")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .post(url("/api/v1/products"))
        .bearer_auth(&alice)
        .body("kind: [")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let contract = std::fs::read(testdata("orders.yaml")).unwrap();
    let r = client
        .post(url("/api/v1/products"))
        .bearer_auth(&alice)
        .body(contract)
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "only owners and the administrator apply contracts"
    );
    let r = client
        .get(url("/api/v1/search?q=orders"))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn postgres_clients_get_postgres_answers_to_what_they_ask_on_connect() {
    let mesh = Mesh::with_orders();
    let carol = token(&mesh, "carol");
    let served = serve(&mesh);
    let ask = |sql: &str| {
        let (ok, out, err) = psql(&served.pg_port, "carol", &carol, sql);
        assert!(ok, "{sql}: {err}");
        out.trim().to_string()
    };
    // SQLAlchemy and pgJDBC parse the version; drivers read these settings at start-up.
    assert!(
        ask("select version()").starts_with("PostgreSQL 16.0 (Agora "),
        "{}",
        ask("select version()")
    );
    assert_eq!(ask("show server_version"), "16.0");
    assert_eq!(ask("show server_version_num"), "160000");
    assert_eq!(ask("show transaction isolation level"), "read committed");
    assert_eq!(ask("show standard_conforming_strings"), "on");
    assert_eq!(ask("show client_encoding"), "UTF8");
    // The session's user is the principal, not `postgres`.
    assert_eq!(ask("select current_user"), "carol");
    assert_eq!(ask("select session_user"), "carol");
    let (ok, _, err) = psql(&served.pg_port, "carol", &carol, "show no_such_setting");
    assert!(!ok && err.contains("ERROR"), "{err}");
}
