//! The ledger as an auditor uses it: every change recorded and signed, proofs checked offline
//! with only the public key, tampering found by `agora ledger verify`, and the same over HTTP.

use crate::harness::{Mesh, testdata};
use crate::server::{serve, token};

fn ingest_orders(mesh: &Mesh) -> u64 {
    let out = mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
        "--allow-duplicate",
    ]);
    out.lines()
        .next()
        .unwrap_or_default()
        .rsplit("(ledger entry ")
        .next()
        .and_then(|s| s.trim().trim_end_matches(')').parse().ok())
        .unwrap_or_else(|| panic!("the ingest names its ledger entry: {out}"))
}

#[test]
fn every_change_is_a_signed_entry_and_proofs_verify_offline() {
    let mesh = Mesh::with_orders();
    mesh.ok(&["grant", "bob", "read", "sales.orders"]);
    let index = ingest_orders(&mesh);

    let tail = mesh.ok(&["ledger", "tail"]);
    let kinds: Vec<(&str, &str)> = tail
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[2], f[3])
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("log.created", "@admin"),
            ("principal.created", "@admin"),
            ("principal.created", "@admin"),
            ("key.registered", "@admin"),
            ("domain.created", "@admin"),
            ("key.registered", "@admin"),
            ("domain.created", "@admin"),
            ("contract.applied", "sales"),
            ("grant.added", "@admin"),
            ("ingest.committed", "sales"),
        ]
    );

    let entry: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["ledger", "show", &index.to_string()])).unwrap();
    assert_eq!(entry["entry"]["kind"], "ingest.committed");
    assert_eq!(entry["entry"]["signer"], "sales");
    let body = &entry["entry"]["body"];
    assert_eq!(body["product"], "sales.orders");
    assert_eq!(body["table_version"], 1);
    assert_eq!(body["by"], "admin");
    assert_eq!(body["input_sha256"].as_str().unwrap().len(), 64);

    // The auditor has the public key and the proof file, nothing else.
    let key = mesh.ok(&["ledger", "key"]).trim().to_string();
    let proof = mesh.ok(&["ledger", "prove-inclusion", &index.to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let proof_file = dir.path().join("proof.json");
    std::fs::write(&proof_file, &proof).unwrap();
    let out = mesh.ok(&[
        "ledger",
        "verify-proof",
        proof_file.to_str().unwrap(),
        "--key",
        &key,
    ]);
    assert!(
        out.starts_with(&format!("OK: entry {index} is in the log")),
        "{out}"
    );

    // A proof whose entry was edited fails, and says so.
    let forged = proof.replace("\\\"rows_accepted\\\":", "\\\"rows_accepted\\\":1");
    assert_ne!(forged, proof);
    std::fs::write(&proof_file, &forged).unwrap();
    let err = mesh.fails(
        2,
        &[
            "ledger",
            "verify-proof",
            proof_file.to_str().unwrap(),
            "--key",
            &key,
        ],
    );
    assert!(err.contains("does not verify"), "{err}");

    // Consistency from the checkpoint the auditor kept before a later ingest.
    let kept = dir.path().join("kept.checkpoint");
    std::fs::write(&kept, mesh.ok(&["ledger", "checkpoint"])).unwrap();
    let size = std::fs::read_to_string(&kept)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    ingest_orders(&mesh);
    let consistency = mesh.ok(&["ledger", "prove-consistency", &size]);
    std::fs::write(&proof_file, consistency).unwrap();
    let out = mesh.ok(&[
        "ledger",
        "verify-proof",
        proof_file.to_str().unwrap(),
        "--key",
        &key,
        "--checkpoint",
        kept.to_str().unwrap(),
    ]);
    assert!(out.contains("extends the log of"), "{out}");

    let out = mesh.ok(&["ledger", "verify"]);
    assert!(out.contains("verified: 11 entries"), "{out}");
    assert!(out.contains("signers: @admin, sales, customers"), "{out}");
}

#[test]
fn verify_names_a_tampered_entry_and_bad_requests_fail_clearly() {
    let mesh = Mesh::with_orders();
    let index = ingest_orders(&mesh);
    let size = index + 1;
    mesh.fails(3, &["ledger", "prove-inclusion", &size.to_string()]);
    let err = mesh.fails(3, &["ledger", "prove-inclusion", "0", "--size", "999"]);
    assert!(err.contains("larger than the log"), "{err}");
    let err = mesh.fails(
        2,
        &["ledger", "verify-proof", "/dev/null", "--key", "nonsense"],
    );
    assert!(err.contains("--key"), "{err}");

    // Someone with write access to the disk changes the ingest's row count.
    let bundle = mesh
        .data()
        .join("ledger/tile/entries/000.p")
        .join(size.to_string());
    let bytes = std::fs::read(&bundle).unwrap();
    let needle = b"\"rows_accepted\":";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
        + needle.len();
    let mut tampered = bytes.clone();
    tampered[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(&bundle, tampered).unwrap();
    let err = mesh.fails(1, &["ledger", "verify"]);
    assert!(
        err.contains(&format!("entry {index}:")) && err.contains("signature"),
        "{err}"
    );
}

#[test]
fn the_ledger_over_http_matches_the_cli_and_refuses_bad_requests() {
    let mesh = Mesh::with_orders();
    let index = ingest_orders(&mesh);
    let bob = token(&mesh, "bob2");
    let served = serve(&mesh);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{}{path}", served.http))
            .bearer_auth(&bob)
            .send()
            .unwrap()
    };

    let proof = get(&format!("/api/v1/ledger/proofs/inclusion?index={index}"));
    assert_eq!(proof.status(), 200);
    let proof_text = proof.text().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proof.json");
    std::fs::write(&file, &proof_text).unwrap();
    let key = get("/api/v1/ledger/key").text().unwrap();
    assert_eq!(key.trim(), mesh.ok(&["ledger", "key"]).trim());
    mesh.ok(&[
        "ledger",
        "verify-proof",
        file.to_str().unwrap(),
        "--key",
        key.trim(),
    ]);

    let entry: serde_json::Value = get(&format!("/api/v1/ledger/entries/{index}"))
        .json()
        .unwrap();
    assert_eq!(entry["entry"]["kind"], "ingest.committed");

    // The tiles layout is served as static files.
    let checkpoint = get("/ledger/checkpoint").text().unwrap();
    assert_eq!(checkpoint, get("/api/v1/ledger/checkpoint").text().unwrap());
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let tile = get(&format!("/ledger/tile/0/000.p/{size}"));
    assert_eq!(tile.status(), 200);
    assert_eq!(tile.bytes().unwrap().len() as u64, 32 * size);

    for (path, status) in [
        ("/api/v1/ledger/entries/9999", 404),
        ("/api/v1/ledger/entries/abc", 400),
        ("/api/v1/ledger/proofs/inclusion?index=9999", 404),
        ("/api/v1/ledger/proofs/inclusion?index=x", 400),
        ("/api/v1/ledger/proofs/consistency?first=0", 400),
        ("/api/v1/ledger/proofs/consistency?first=3&size=99999", 404),
        ("/ledger/..%2Fcatalog.db", 404),
        ("/ledger/.lock", 404),
    ] {
        let resp = get(path);
        assert_eq!(resp.status(), status, "{path}");
        let body: serde_json::Value = resp.json().unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}"
        );
    }
    let anonymous = client
        .get(format!("{}/api/v1/ledger/checkpoint", served.http))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[test]
fn queries_are_audited_with_the_columns_they_read_and_refusals_too() {
    let mesh = Mesh::with_orders();
    ingest_orders(&mesh);
    mesh.ok(&[
        "sql",
        "select region, sum(amount) from sales.orders group by region",
    ]);
    mesh.fails(
        4,
        &["--as", "bob", "sql", "select status from sales.orders"],
    );
    // Catalog queries read no product: nothing to audit.
    mesh.ok(&["sql", "select count(*) from information_schema.tables"]);

    let size: u64 = mesh
        .ok(&["ledger", "checkpoint"])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let entry = |i: u64| -> serde_json::Value {
        serde_json::from_str(&mesh.ok(&["ledger", "show", &i.to_string()])).unwrap()
    };
    let read = entry(size - 2);
    assert_eq!(read["entry"]["kind"], "query.run");
    let body = &read["entry"]["body"];
    assert_eq!(body["principal"], "admin");
    assert_eq!(body["interface"], "cli");
    assert_eq!(body["reads"][0]["table"], "sales.orders");
    let mut columns: Vec<&str> = body["reads"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    columns.sort();
    assert_eq!(columns, ["amount", "region"]);
    assert!(body["denied"].is_null());

    let refused = entry(size - 1);
    let body = &refused["entry"]["body"];
    assert_eq!(body["principal"], "bob");
    assert!(
        body["denied"]
            .as_str()
            .is_some_and(|d| d.contains("may not read product sales.orders")),
        "{body}"
    );
    mesh.ok(&["ledger", "verify"]);
}
