//! The user's day on the command line: contract → ingest → query, grants, time travel, search.

use crate::harness::{Mesh, testdata};

#[test]
fn ingest_validates_quarantines_and_reports() {
    let mesh = Mesh::with_orders();
    let out = mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    insta::assert_snapshot!("ingest_report", mesh.redact(&out));
    // Only the valid rows are queryable, with their contract types.
    assert_eq!(
        mesh.csv("select order_id, region, amount, status from sales.orders order by order_id"),
        "order_id,region,amount,status\n1,EMEA,10.5,open\n2,NA,20.0,shipped\n6,NA,4.0,\n"
    );
    // Nothing is dropped: every rejected row is in quarantine with its reason and position.
    let show = mesh.ok(&["product", "show", "sales.orders"]);
    assert!(show.contains("rows 3  quarantined 4"), "{show}");
    let quarantine = std::fs::read_dir(mesh.data().join("quarantine/sales/orders"))
        .unwrap()
        .count();
    assert!(
        quarantine > 1,
        "the quarantine table has a log and data files"
    );
}

#[test]
fn json_lines_and_stdin_ingest() {
    let mesh = Mesh::with_orders();
    let out = mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.jsonl").to_str().unwrap(),
    ]);
    assert!(
        out.contains("2 rows read, 1 accepted, 1 quarantined"),
        "{out}"
    );
    let csv = std::fs::read(testdata("orders.csv")).unwrap();
    let run = mesh.run_with_stdin(&["ingest", "sales.orders", "-", "--format", "csv"], &csv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("7 rows read, 3 accepted, 4 quarantined"),
        "{}",
        run.stdout
    );
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n4\n");
}

#[test]
fn parquet_round_trip_through_the_query_layer() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let file = mesh.dir.path().join("orders.parquet");
    let parquet = mesh.query_bytes(
        "select order_id + 100 as order_id, region, amount, status from sales.orders",
        "parquet",
    );
    std::fs::write(&file, &parquet).unwrap();
    let out = mesh.ok(&["ingest", "sales.orders", file.to_str().unwrap()]);
    assert!(
        out.contains("3 rows read, 3 accepted, 0 quarantined"),
        "{out}"
    );
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n6\n");

    // Parquet from standard input (spooled to a temporary file: its footer comes last) and an
    // Arrow IPC stream from a file, both of rows the table has: decoded whole, and quarantined
    // because `order_id` is unique across batches.
    let piped = mesh.run_with_stdin(
        &[
            "ingest",
            "sales.orders",
            "-",
            "--format",
            "parquet",
            "--allow-duplicate",
        ],
        &parquet,
    );
    assert!(
        piped
            .stdout
            .contains("3 rows read, 0 accepted, 3 quarantined"),
        "{}{}",
        piped.stdout,
        piped.stderr
    );
    assert!(
        piped
            .stdout
            .contains("order_id `101` is already in the table"),
        "{}",
        piped.stdout
    );
    let arrow = mesh.dir.path().join("orders.arrows");
    let stream = mesh.query_bytes("select * from sales.orders where order_id < 100", "arrow");
    std::fs::write(&arrow, stream).unwrap();
    let out = mesh.ok(&["ingest", "sales.orders", arrow.to_str().unwrap()]);
    assert!(
        out.contains("3 rows read, 0 accepted, 3 quarantined"),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n, count(distinct order_id) as ids from sales.orders"),
        "n,ids\n6,6\n"
    );
}

#[test]
fn grants_decide_who_reads_and_owners_read_their_domain() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let q = "select count(*) as n from sales.orders";
    let denied = mesh.fails(4, &["--as", "bob", "sql", q]);
    insta::assert_snapshot!("denied_query", denied);
    // A denied table hidden in a subquery or a join is still denied.
    mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "sql",
            "select 1 where exists (select 1 from sales.orders)",
        ],
    );
    assert_eq!(
        mesh.ok(&["--as", "alice", "sql", q, "--format", "csv"]),
        "n\n3\n"
    );
    mesh.ok(&["grant", "bob", "read", "sales.orders"]);
    assert_eq!(
        mesh.ok(&["--as", "bob", "sql", q, "--format", "csv"]),
        "n\n3\n"
    );
    // bob may read but not write, and may not grant.
    mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "ingest",
            "sales.orders",
            testdata("orders.csv").to_str().unwrap(),
        ],
    );
    mesh.fails(4, &["--as", "bob", "grant", "bob", "write", "sales.orders"]);
    mesh.ok(&["revoke", "bob", "read", "sales.orders"]);
    mesh.fails(4, &["--as", "bob", "sql", q]);
}

#[test]
fn cross_domain_join_and_output_formats() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "product",
        "apply",
        testdata("profiles.yaml").to_str().unwrap(),
    ]);
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    mesh.run_with_stdin(
        &["ingest", "customers.profiles", "-", "--format", "csv"],
        b"customer_id,email\n1,ana@example.com\n2,ben@example.com\n",
    );
    let join = "select o.order_id, p.email from sales.orders o join customers.profiles p on p.customer_id = o.order_id order by 1";
    assert_eq!(
        mesh.csv(join),
        "order_id,email\n1,ana@example.com\n2,ben@example.com\n"
    );
    let json = mesh.ok(&["sql", join, "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[1]["email"], "ben@example.com");
    let table = mesh.ok(&["sql", join]);
    insta::assert_snapshot!("table_output", table);
}

#[test]
fn time_travel_reads_an_earlier_version() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.jsonl").to_str().unwrap(),
    ]);
    let q = "select count(*) as n from sales.orders";
    assert_eq!(mesh.csv(q), "n\n4\n");
    assert_eq!(
        mesh.ok(&["sql", q, "--format", "csv", "--version", "1"]),
        "n\n3\n"
    );
    // A version the table does not have is not found, not a failure of Agora.
    let err = mesh.fails(3, &["sql", q, "--version", "99"]);
    assert!(err.contains("has no version 99"), "{err}");
}

#[test]
fn contracts_evolve_additively_and_refuse_breaking_changes() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let original = std::fs::read_to_string(testdata("orders.yaml")).unwrap();
    let dir = mesh.dir.path();

    let added = original.replace(
        "      - name: status\n",
        "      - name: channel\n        logicalType: string\n      - name: status\n",
    );
    std::fs::write(dir.join("added.yaml"), &added).unwrap();
    let out = mesh.ok(&["product", "apply", dir.join("added.yaml").to_str().unwrap()]);
    assert!(out.contains("column `orders.channel` is added"), "{out}");
    assert_eq!(
        mesh.csv("select count(channel) as c, count(*) as n from sales.orders"),
        "c,n\n0,3\n"
    );

    let dropped = original.replace("      - name: amount\n        logicalType: number\n", "");
    std::fs::write(dir.join("dropped.yaml"), &dropped).unwrap();
    let err = mesh.fails(
        5,
        &[
            "product",
            "apply",
            dir.join("dropped.yaml").to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("column `orders.amount` is dropped") && err.contains("major version"),
        "{err}"
    );
    assert_eq!(
        mesh.csv("select sum(amount) as s from sales.orders"),
        "s\n34.5\n"
    );

    // With a new major version the break is allowed; old versions stay readable.
    std::fs::write(
        dir.join("v2.yaml"),
        dropped.replace("version: 1.0.0", "version: 2.0.0"),
    )
    .unwrap();
    mesh.ok(&["product", "apply", dir.join("v2.yaml").to_str().unwrap()]);
    assert_eq!(
        mesh.csv("select * from sales.orders order by order_id limit 1"),
        "order_id,region,status\n1,EMEA,open\n"
    );
    assert_eq!(
        mesh.ok(&[
            "sql",
            "select sum(amount) as s from sales.orders",
            "--format",
            "csv",
            "--version",
            "1"
        ]),
        "s\n34.5\n"
    );
}

#[test]
fn every_odcs_example_contract_applies() {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "seller", "--owner", "alice"]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/odcs/examples");
    let mut applied = 0;
    for entry in std::fs::read_dir(&dir).expect("the ODCS examples in ../shared/conformance") {
        let path = entry.unwrap().path();
        // Each example goes in a mesh of its own: several reuse the same product name.
        let fresh = Mesh::new();
        fresh.ok(&["domain", "create", "seller", "--owner", "alice"]);
        let run = fresh.run(&[
            "product",
            "apply",
            path.to_str().unwrap(),
            "--domain",
            "seller",
        ]);
        assert_eq!(run.code, 0, "{}: {}", path.display(), run.stderr);
        assert!(!run.stderr.contains("panicked"));
        applied += 1;
    }
    assert!(applied >= 18, "applied {applied} examples");
    // A contract's own `domain` wins when no --domain is given.
    let full = dir.join("all__full-example.odcs.yaml");
    let run = mesh.run(&["product", "apply", full.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("Created product seller.my_quantum"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("`servers` is kept but not used"),
        "{}",
        run.stderr
    );
}

#[test]
fn search_ranks_products_by_meaning_words() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "product",
        "apply",
        testdata("profiles.yaml").to_str().unwrap(),
    ]);
    let out = mesh.ok(&["search", "customer email"]);
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with("customers.profiles"), "{out}");
}

#[test]
fn two_meshes_never_mix() {
    let a = Mesh::with_orders();
    let b = Mesh::new();
    a.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let err = b.fails(2, &["sql", "select * from sales.orders"]);
    assert!(
        err.contains("sales.orders") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn demo_builds_a_mesh_and_tours_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::harness::agora_cmd(&dir.path().join("demo"))
        .args(["demo", "--rows", "3000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "customers.profiles",
        "logistics.shipments",
        "sales.orders",
        "A cross-domain query",
        "permission denied: bob may not read product customers.profiles",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn a_default_schema_lets_sql_name_tables_bare_and_still_checks_grants() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let q = "select count(*) as n from orders";
    assert_eq!(
        mesh.ok(&["sql", q, "--schema", "sales", "--format", "csv"]),
        "n\n3\n"
    );
    // Bare names are resolved before the grant check: no way around it.
    let err = mesh.fails(4, &["--as", "bob", "sql", q, "--schema", "sales"]);
    assert!(
        err.contains("bob may not read product sales.orders"),
        "{err}"
    );
    let err = mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "sql",
            "with o as (select * from orders) select count(*) from o",
            "--schema",
            "sales",
        ],
    );
    assert!(err.contains("permission denied"), "{err}");
    mesh.fails(3, &["sql", q, "--schema", "nowhere"]);
    // Without a default schema a bare name is simply unknown.
    mesh.fails(2, &["sql", q]);
}

#[test]
fn a_sql_script_runs_in_order_audits_each_statement_and_stops_at_the_first_failure() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let script_file = mesh.data().join("report.sql");
    let script = "select count(*) as n from sales.orders;\n-- a comment; with a semicolon\nselect 'a;b' as s, order_id from sales.orders where order_id = 1;\n";
    std::fs::write(&script_file, script).unwrap();
    let path = script_file.to_str().unwrap();
    let expected = "n\n3\ns,order_id\na;b,1\n";
    assert_eq!(
        mesh.ok(&["sql", "--file", path, "--format", "csv"]),
        expected
    );
    let piped = mesh.run_with_stdin(
        &["sql", "-f", "-", "--format", "csv", "--timing"],
        script.as_bytes(),
    );
    assert_eq!((piped.code, piped.stdout.as_str()), (0, expected));
    assert_eq!(
        piped
            .stderr
            .lines()
            .filter(|l| l.starts_with("Time: ") && l.ends_with(" ms"))
            .count(),
        2,
        "one timing line per statement: {}",
        piped.stderr
    );
    // Several statements on the command line run the same way.
    assert_eq!(mesh.csv("select 1 as a; select 2 as b"), "a\n1\nb\n2\n");

    // Each statement is audited with its own text (its exact text is the administrator's to
    // read, checked against the entry's keyed hash; the entry itself keeps its shape).
    let audited: Vec<String> = mesh
        .ok(&["ledger", "tail", "--limit", "3"])
        .lines()
        .filter(|l| l.contains("query.run"))
        .map(|l| {
            let index = l.split_whitespace().next().unwrap();
            let entry: serde_json::Value =
                serde_json::from_str(&mesh.ok(&["ledger", "show", index])).unwrap();
            assert!(
                !entry["entry"]["body"]["sql_shape"]
                    .as_str()
                    .unwrap()
                    .contains("'a;b'"),
                "{entry}"
            );
            mesh.ok(&["ledger", "show", index, "--sql"])
                .trim_end()
                .to_string()
        })
        .collect();
    assert!(
        audited.contains(&"-- a comment; with a semicolon\nselect 'a;b' as s, order_id from sales.orders where order_id = 1".to_string()),
        "{audited:?}"
    );

    // The first failing statement stops the run and is named; the ones before it have run.
    let failing = mesh.data().join("failing.sql");
    std::fs::write(
        &failing,
        "select 1 as one;\n\nselect * from sales.nowhere;\nselect 2 as two;",
    )
    .unwrap();
    let run = mesh.run(&["sql", "-f", failing.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "one\n1\n");
    assert_eq!(
        mesh.redact(run.stderr.trim_end())
            .split(": SQL error")
            .next()
            .unwrap(),
        "error: statement 2 of 3 (<mesh>/failing.sql, line 3)"
    );
    // A denied statement keeps its exit code inside a script.
    let err = mesh.fails(
        4,
        &["--as", "bob", "sql", "select 1; select * from sales.orders"],
    );
    assert!(
        err.starts_with("error: statement 2 of 2 (query, line 1): permission denied"),
        "{err}"
    );

    // Scripts a run cannot honour are refused before anything runs.
    let err = mesh.fails(2, &["sql", "select 1; select 2", "--format", "parquet"]);
    assert!(err.contains("there are 2 statements"), "{err}");
    let err = mesh.fails(2, &["sql", " -- nothing\n;"]);
    assert!(err.contains("no SQL statement"), "{err}");
    let err = mesh.fails(2, &["sql", "select 'unterminated"]);
    assert!(err.contains("Line: 1, Column: 8"), "{err}");
    mesh.fails(
        3,
        &[
            "sql",
            "-f",
            mesh.data().join("missing.sql").to_str().unwrap(),
        ],
    );
}

#[test]
fn first_ingests_of_a_new_table_at_the_same_time_all_commit() {
    // Each first ingest classifies `email` and adds its stored-hash column: they used to fail
    // but one with Delta's "Metadata changed since last commit".
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "crm", "--owner", "alice"]);
    let contract = mesh.dir.path().join("contacts.yaml");
    std::fs::write(
        &contract,
        "apiVersion: v3.0.2\nkind: DataContract\nid: contacts\nname: contacts\nversion: 1.0.0\nstatus: active\ndomain: crm\nschema:\n  - name: contacts\n    properties:\n      - name: id\n        logicalType: integer\n      - name: email\n        logicalType: string\n",
    )
    .unwrap();
    mesh.ok(&["product", "apply", contract.to_str().unwrap()]);
    let runs: Vec<_> = (1..=4)
        .map(|i| {
            let file = mesh.dir.path().join(format!("c{i}.csv"));
            std::fs::write(
                &file,
                format!(
                    "id,email\n{i},person{i}@example.com\n{},other{i}@example.org\n",
                    i + 10
                ),
            )
            .unwrap();
            crate::harness::agora_cmd(&mesh.data())
                .args(["ingest", "crm.contacts"])
                .arg(&file)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        mesh.csv("select count(*) as n, count(distinct id) as ids from crm.contacts"),
        "n,ids\n8,8\n"
    );
    mesh.ok(&["ledger", "verify"]);
}
