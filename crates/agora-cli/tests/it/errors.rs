//! Bad input gets one clear line naming what and where, a non-zero exit, and loses nothing.

use crate::harness::{Mesh, testdata};

#[test]
fn malformed_yaml_names_the_line() {
    let mesh = Mesh::new();
    let err = mesh.fails(
        2,
        &[
            "product",
            "apply",
            testdata("malformed.yaml").to_str().unwrap(),
        ],
    );
    insta::assert_snapshot!("malformed_yaml", mesh.redact(&err));
}

#[test]
fn contract_for_an_unknown_domain() {
    let mesh = Mesh::new();
    let yaml = std::fs::read_to_string(testdata("orders.yaml"))
        .unwrap()
        .replace("domain: sales", "domain: marketing");
    let file = mesh.dir.path().join("c.yaml");
    std::fs::write(&file, yaml).unwrap();
    let err = mesh.fails(3, &["product", "apply", file.to_str().unwrap()]);
    assert_eq!(
        err.trim(),
        "error: unknown domain `marketing`: create it with `agora domain create`"
    );
}

#[test]
fn ragged_csv_names_the_line_and_writes_nothing() {
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let err = mesh.fails(
        2,
        &[
            "ingest",
            "sales.orders",
            testdata("ragged.csv").to_str().unwrap(),
        ],
    );
    insta::assert_snapshot!("ragged_csv", mesh.redact(&err));
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n3\n");
    let show = mesh.ok(&["product", "show", "sales.orders"]);
    assert!(
        show.contains("version 1  rows 3"),
        "the product is still at version 1: {show}"
    );
}

#[test]
fn a_json_line_that_is_not_json() {
    let mesh = Mesh::with_orders();
    let err = mesh.fails(
        2,
        &[
            "ingest",
            "sales.orders",
            testdata("bad.jsonl").to_str().unwrap(),
        ],
    );
    insta::assert_snapshot!("bad_json_line", mesh.redact(&err));
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n0\n");
}

#[test]
fn parquet_with_the_wrong_schema() {
    let mesh = Mesh::with_orders();
    let make = |name: &str, sql: &str| {
        let path = mesh.dir.path().join(name);
        std::fs::write(&path, mesh.query_bytes(sql, "parquet")).unwrap();
        path
    };
    let unknown = make("unknown.parquet", "select 1 as order_id, 'x' as colour");
    let err = mesh.fails(2, &["ingest", "sales.orders", unknown.to_str().unwrap()]);
    assert!(
        err.contains("column `colour` is not in the contract of table orders"),
        "{err}"
    );
    let wrong_type = make("list.parquet", "select make_array(1, 2) as order_id");
    let err = mesh.fails(2, &["ingest", "sales.orders", wrong_type.to_str().unwrap()]);
    assert!(
        err.contains("column `order_id` has type List")
            && err.contains("cannot be read as the contract's Int64"),
        "{err}"
    );
    let not_parquet = mesh.dir.path().join("fake.parquet");
    std::fs::write(&not_parquet, "order_id\n1\n").unwrap();
    let err = mesh.fails(
        2,
        &["ingest", "sales.orders", not_parquet.to_str().unwrap()],
    );
    assert!(err.contains("not a readable Parquet file"), "{err}");
}

#[test]
fn unknown_products_tables_and_principals() {
    let mesh = Mesh::with_orders();
    let err = mesh.fails(3, &["product", "show", "sales.returns"]);
    assert!(err.contains("unknown product `sales.returns`"), "{err}");
    let err = mesh.fails(
        3,
        &[
            "ingest",
            "sales.returns",
            testdata("orders.csv").to_str().unwrap(),
        ],
    );
    assert!(err.contains("unknown table `sales.returns`"), "{err}");
    let err = mesh.fails(3, &["--as", "mallory", "sql", "select 1"]);
    assert!(err.contains("unknown principal `mallory`"), "{err}");
    let err = mesh.fails(3, &["ingest", "sales.orders", "/no/such/file.csv"]);
    assert!(err.contains("/no/such/file.csv"), "{err}");
}

#[test]
fn sql_that_does_not_parse_or_writes() {
    let mesh = Mesh::with_orders();
    let err = mesh.fails(2, &["sql", "selec * form sales.orders"]);
    assert!(err.starts_with("error: SQL error:"), "{err}");
    let err = mesh.fails(
        2,
        &[
            "sql",
            "create external table x stored as csv location '/etc/passwd'",
        ],
    );
    assert!(err.contains("only queries are allowed"), "{err}");
    mesh.fails(
        2,
        &[
            "sql",
            "insert into sales.orders values (1, 'x', 1.0, 'open')",
        ],
    );
}

#[test]
fn path_like_names_are_refused() {
    let mesh = Mesh::new();
    let err = mesh.fails(2, &["domain", "create", "../x", "--owner", "alice"]);
    assert!(err.contains("invalid domain name `../x`"), "{err}");
    let err = mesh.fails(
        2,
        &[
            "ingest",
            "../x.orders",
            testdata("orders.csv").to_str().unwrap(),
        ],
    );
    assert!(err.contains("`../x.orders`"), "{err}");
    let err = mesh.fails(2, &["product", "show", "sales/../../etc.passwd"]);
    assert!(err.contains("invalid"), "{err}");
    assert!(!mesh.data().join("../x").exists());
}

#[test]
fn commands_outside_a_mesh_say_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::harness::agora_cmd(&dir.path().join("nothing"))
        .args(["product", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `agora init` first"), "{err}");
    let mesh = Mesh::new();
    mesh.fails(5, &["init"]);
}

#[test]
fn unknown_ingest_format() {
    let mesh = Mesh::with_orders();
    let file = mesh.dir.path().join("orders.txt");
    std::fs::write(&file, "order_id\n1\n").unwrap();
    let err = mesh.fails(2, &["ingest", "sales.orders", file.to_str().unwrap()]);
    assert!(err.contains("pass --format"), "{err}");
}

#[test]
fn a_killed_ingest_leaves_the_product_at_its_previous_version() {
    use std::io::Write;
    use std::process::Stdio;
    let mesh = Mesh::with_orders();
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
    ]);
    let mut child = crate::harness::agora_cmd(&mesh.data())
        .args(["ingest", "sales.orders", "-", "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "order_id,region,amount,status").unwrap();
    // Enough rows for several batches to be decoded, validated and written to Parquet files.
    for i in 100..200_000 {
        writeln!(stdin, "{i},EMEA,1.0,open").unwrap();
    }
    stdin.flush().unwrap();
    // The input is still open, so the ingest cannot have committed: kill it mid-way.
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n3\n");
    let show = mesh.ok(&["product", "show", "sales.orders"]);
    assert!(show.contains("version 1  rows 3"), "{show}");
    // The next ingest works as if nothing happened.
    mesh.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n4\n");
}

#[test]
fn a_contract_with_a_quality_rule_agora_cannot_evaluate_is_refused_and_nothing_is_created() {
    let mesh = Mesh::new();
    let yaml = std::fs::read_to_string(testdata("orders.yaml")).unwrap();
    for (rule, expected) in [
        (
            "          - metric: nullCount\n            mustBe: 0\n",
            "error: contract: column orders.amount quality rule 1: unknown metric `nullCount`: expected nullValues, missingValues, invalidValues, duplicateValues or rowCount",
        ),
        (
            "          - metric: nullValues\n            mustBeAtMost: 3\n",
            "error: contract: column orders.amount quality rule 1: unknown operator `mustBeAtMost`: expected one of mustBe, mustNotBe, mustBeGreaterThan, mustBeGreaterOrEqualTo, mustBeLessThan, mustBeLessOrEqualTo, mustBeBetween, mustNotBeBetween",
        ),
    ] {
        let bad = yaml.replace(
            "      - name: amount\n        logicalType: number\n",
            &format!("      - name: amount\n        logicalType: number\n        quality:\n{rule}"),
        );
        assert_ne!(bad, yaml, "the rule was inserted");
        let file = mesh.dir.path().join("bad-rule.yaml");
        std::fs::write(&file, bad).unwrap();
        let err = mesh.fails(2, &["product", "apply", file.to_str().unwrap()]);
        assert_eq!(err.trim(), expected);
        mesh.fails(3, &["product", "show", "sales.orders"]);
    }
}
