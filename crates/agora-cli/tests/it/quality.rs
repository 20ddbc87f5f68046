//! Quality end to end: contract rules judged on every ingest (a failed blocking rule sends the
//! ingest to quarantine whole, a failed warning commits), the quarantine in SQL, and
//! `agora quality detect` replaying recorded series through the streaming detector.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{Mesh, testdata};

fn nab(series: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/nab/data")
        .join(series)
}

fn detect(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["quality", "detect"])
        .args(args)
        .env_remove("AGORA_DATA")
        .output()
        .expect("the agora binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_real_series_is_scored_row_by_row_and_its_labelled_failures_are_flagged() {
    // An Amazon RDS CPU series from the Numenta Anomaly Benchmark; NAB labels two anomaly
    // windows in it (rows 846–1046 and 2485–2685 of its 4,032).
    let series = nab("realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv");
    let (code, out, err) = detect(&["--series", series.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let input = std::fs::read_to_string(&series).unwrap();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,value,anomaly_score,is_anomaly")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let inputs: Vec<&str> = input.lines().skip(1).collect();
    assert_eq!(rows.len(), inputs.len());
    for (row, given) in rows.iter().zip(&inputs) {
        assert_eq!(
            row[0],
            given.split(',').next().unwrap(),
            "timestamps keep their order"
        );
        assert!(row[3] == "0" || row[3] == "1");
    }
    let flagged: Vec<usize> = (0..rows.len()).filter(|i| rows[*i][3] == "1").collect();
    for (start, end) in [(846, 1046), (2485, 2685)] {
        assert!(
            flagged.iter().any(|i| (start..=end).contains(i)),
            "no flag in the labelled window {start}..{end}: {flagged:?}"
        );
    }
    assert!(flagged.len() < 20, "an alert is rare: {flagged:?}");
}

#[test]
fn json_output_says_what_was_expected_and_why_a_point_is_flagged() {
    let series = nab("realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv");
    let (code, out, err) = detect(&["--series", series.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let flagged: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|p| p["is_anomaly"] == true)
        .collect();
    let first = &flagged[0];
    let value = first["value"].as_f64().unwrap();
    let (low, high) = (
        first["expected"]["low"].as_f64().unwrap(),
        first["expected"]["high"].as_f64().unwrap(),
    );
    // Either the value itself left the range its stretch allowed, or the stretch as a whole
    // is unlike every earlier one.
    assert!(value < low || value > high || first["reason"].as_str().unwrap().contains("stretch"));
    assert!(
        first["reason"].as_str().unwrap().contains("last"),
        "{first}"
    );
    assert!(first["history"].as_u64().unwrap() > 0);
}

#[test]
fn a_series_with_a_bad_value_names_the_line_and_prints_no_verdict_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:05:00,n/a\n",
    )
    .unwrap();
    let (code, out, err) = detect(&["--series", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.csv, line 3: the value `n/a` is not a number"),
        "{err}"
    );
    assert_eq!(
        out.lines().count(),
        2,
        "the header and the one good row: {out}"
    );
    let (code, _, err) = detect(&["--series", "/nonexistent/series.csv"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/series.csv"), "{err}");
}

/// The test contract with two rules on `amount`: no nulls (blocks), more than 2 rows (warns).
pub(crate) fn orders_with_rules(mesh: &Mesh) {
    let yaml = std::fs::read_to_string(testdata("orders.yaml")).unwrap();
    let with_rules = yaml.replace(
        "      - name: amount\n        logicalType: number\n",
        "      - name: amount\n        logicalType: number\n        quality:\n          - metric: nullValues\n            mustBe: 0\n            severity: error\n          - metric: rowCount\n            mustBeGreaterThan: 2\n            description: a load has more than two orders\n",
    );
    assert_ne!(with_rules, yaml, "the rules were inserted");
    let file = mesh.dir.path().join("orders-rules.yaml");
    std::fs::write(&file, with_rules).unwrap();
    mesh.ok(&["product", "apply", file.to_str().unwrap()]);
}

pub(crate) fn csv_file(mesh: &Mesh, name: &str, text: &str) -> String {
    let file = mesh.dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

fn ledger_kinds(mesh: &Mesh) -> String {
    mesh.ok(&["ledger", "tail", "--limit", "50"])
}

#[test]
fn a_failed_blocking_rule_sends_the_whole_ingest_to_quarantine_and_keeps_the_version() {
    let mesh = Mesh::new();
    orders_with_rules(&mesh);
    let good = csv_file(
        &mesh,
        "good.csv",
        "order_id,region,amount,status\n1,EMEA,10,open\n2,NA,20,shipped\n3,NA,30,open\n",
    );
    mesh.ok(&["ingest", "sales.orders", &good]);
    let parquet_files = || {
        walk(&mesh.data().join("tables"))
            .into_iter()
            .filter(|p| p.ends_with(".parquet"))
            .count()
    };
    let files_before = parquet_files();

    // Row 1 has no amount (the blocking rule fails), row 3's amount is not a number.
    let bad = csv_file(
        &mesh,
        "bad.csv",
        "order_id,region,amount,status\n4,EMEA,,open\n5,NA,2,shipped\n6,NA,x,open\n7,NA,3,open\n",
    );
    let out = mesh.ok(&["ingest", "sales.orders", &bad]);
    assert!(
        out.contains("4 rows read, 0 accepted, 4 quarantined → version 1"),
        "{out}"
    );
    assert!(
        out.contains("blocked: a blocking quality rule failed"),
        "{out}"
    );
    assert!(
        out.contains(
            "quality failed (block): column orders.amount quality rule 1 — 1 null values; must be 0"
        ),
        "{out}"
    );
    // The product is as it was: same rows, same version, no file of the blocked ingest left.
    assert_eq!(
        mesh.csv("select order_id from sales.orders order by order_id"),
        "order_id\n1\n2\n3\n"
    );
    assert_eq!(
        parquet_files(),
        files_before,
        "the blocked ingest's files are removed"
    );
    // Every row is in the quarantine with its source, row number and reason.
    let quarantined = mesh.csv(
        "select _row, order_id, amount, _reason, _source = '{bad}' as from_file from sales.orders__quarantine order by _row"
            .replace("{bad}", &bad)
            .as_str(),
    );
    let blocked =
        "blocked by column orders.amount quality rule 1 failed (1 null values; must be 0)";
    assert_eq!(
        quarantined,
        format!(
            "_row,order_id,amount,_reason,from_file\n1,4,,{blocked},true\n2,5,2,{blocked},true\n3,6,x,`amount`: `x` is not a valid Float64,true\n4,7,3,{blocked},true\n"
        )
    );
    // The incident is in the ledger, signed by the domain.
    let tail = ledger_kinds(&mesh);
    assert!(tail.contains("quality.incident_opened"), "{tail}");
    // The blocked rows' keys were never committed: fixed, they go in.
    let fixed = csv_file(
        &mesh,
        "fixed.csv",
        "order_id,region,amount,status
4,EMEA,1,open
5,NA,2,shipped
6,NA,6,open
7,NA,3,open
",
    );
    let out = mesh.ok(&["ingest", "sales.orders", &fixed]);
    assert!(
        out.contains("4 accepted, 0 quarantined → version 2"),
        "{out}"
    );
}

#[test]
fn a_failed_warning_rule_commits_and_opens_an_incident() {
    let mesh = Mesh::new();
    orders_with_rules(&mesh);
    let two = csv_file(
        &mesh,
        "two.csv",
        "order_id,region,amount,status\n1,EMEA,10,open\n2,NA,20,shipped\n",
    );
    let out = mesh.ok(&["ingest", "sales.orders", &two]);
    assert!(
        out.contains("2 accepted, 0 quarantined → version 1"),
        "{out}"
    );
    assert!(
        out.contains(
            "quality failed (warn): column orders.amount quality rule 2 — 2 rows; must be > 2"
        ),
        "{out}"
    );
    assert!(!out.contains("blocked"), "{out}");
    assert_eq!(mesh.csv("select count(*) as n from sales.orders"), "n\n2\n");
    let tail = ledger_kinds(&mesh);
    let index = tail
        .lines()
        .find(|l| l.contains("quality.incident_opened"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no incident entry in:\n{tail}"))
        .to_string();
    let entry: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["ledger", "show", &index])).unwrap();
    let body = &entry["entry"]["body"];
    assert_eq!(body["severity"], "warn", "{entry}");
    assert_eq!(body["observed"], 2.0, "{entry}");
    assert_eq!(body["table_version"], 1, "{entry}");
    assert_eq!(body["explanation"], "2 rows; must be > 2", "{entry}");
    assert_eq!(entry["entry"]["signer"], "sales", "{entry}");
}

#[test]
fn an_empty_quarantine_reads_as_an_empty_table_and_a_contract_cannot_take_its_name() {
    let mesh = Mesh::with_orders();
    assert_eq!(
        mesh.csv("select count(*) as n from sales.orders__quarantine"),
        "n\n0\n"
    );
    for (suffix, what) in [
        ("__quarantine", "the quarantine"),
        ("__quality", "the quality results"),
        ("__metrics", "the batch metrics"),
        ("__events", "the flagged events"),
    ] {
        let yaml = std::fs::read_to_string(testdata("orders.yaml"))
            .unwrap()
            .replace("  - name: orders\n", &format!("  - name: orders{suffix}\n"));
        let file = csv_file(&mesh, "clash.yaml", &yaml);
        let err = mesh.fails(2, &["product", "apply", &file]);
        assert!(
            err.contains(&format!("`{suffix}` is kept for {what} of table `orders`")),
            "{err}"
        );
    }
}

pub(crate) fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Three loads into the orders with rules: two orders (the warning fails), a missing amount
/// (the blocking rule fails, twice), then a clean load that passes everything.
fn orders_through_incidents(mesh: &Mesh) {
    orders_with_rules(mesh);
    let loads = [
        "order_id,region,amount,status\n1,EMEA,10,open\n2,NA,20,shipped\n",
        "order_id,region,amount,status\n3,EMEA,,open\n4,NA,2,shipped\n5,NA,3,open\n",
        "order_id,region,amount,status\n3,EMEA,,open\n4,NA,2,open\n5,NA,3,open\n",
        "order_id,region,amount,status\n6,EMEA,1,open\n7,NA,2,shipped\n8,NA,3,open\n",
    ];
    for (i, load) in loads.iter().enumerate() {
        let file = csv_file(mesh, &format!("load{i}.csv"), load);
        mesh.ok(&["ingest", "sales.orders", &file]);
    }
}

#[test]
fn the_quality_of_a_table_shows_its_rules_score_and_incidents_as_data() {
    let mesh = Mesh::new();
    orders_with_rules(&mesh);
    assert_eq!(
        mesh.ok(&["quality", "sales.orders"]).trim(),
        "sales.orders: no quality rule has been evaluated yet (its contract's rules are judged at each ingest)"
    );
    let mesh = Mesh::new();
    orders_through_incidents(&mesh);

    let report: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    assert_eq!(report["score"], 100.0, "{report:#}");
    assert_eq!(report["table_version"], 2, "{report:#}");
    let rules = report["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3, "{report:#}");
    assert!(rules.iter().all(|r| r["outcome"] == "passed"), "{report:#}");
    let incidents = report["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2, "{report:#}");
    // Newest first: the blocking rule's incident spans two failed loads and closed last.
    let nulls = &incidents[0];
    assert_eq!(nulls["rule"], "column orders.amount quality rule 1");
    assert_eq!(nulls["status"], "closed");
    assert_eq!(nulls["severity"], "block");
    assert_eq!(nulls["failed_checks"], 2);
    assert_eq!(nulls["blocked"], true);
    assert_eq!(nulls["observed"], 1.0);
    assert_eq!(nulls["expected"], "must be 0");
    assert_eq!(nulls["explanation"], "1 null values; must be 0");
    assert_eq!(
        nulls["opened_version"], 1,
        "a blocked load leaves the version"
    );
    let rows = &incidents[1];
    assert_eq!(rows["rule"], "column orders.amount quality rule 2");
    assert_eq!(
        (rows["failed_checks"].clone(), rows["blocked"].clone()),
        (1.into(), false.into())
    );

    let text = mesh.ok(&["quality", "sales.orders"]);
    assert!(
        text.starts_with("sales.orders: quality score 100% at the latest ingest"),
        "{text}"
    );
    assert!(text.contains("incidents: 0 open, 2 closed"), "{text}");

    // The same history is a Delta table an owner queries, and each incident opened and closed
    // once in the ledger.
    assert_eq!(
        mesh.csv("select outcome, incident, table_version, blocked from sales.orders__quality where rule = 'column orders.amount quality rule 1' order by checked_at"),
        "outcome,incident,table_version,blocked\npassed,,1,false\nfailed,opened,1,true\nfailed,ongoing,1,true\npassed,closed,2,false\n"
    );
    let tail = ledger_kinds(&mesh);
    assert_eq!(tail.matches("quality.incident_opened").count(), 2, "{tail}");
    let results = mesh
        .csv("select rule, outcome, incident from sales.orders__quality order by checked_at, rule");
    assert_eq!(
        tail.matches("quality.incident_closed").count(),
        2,
        "{tail}\n{results}"
    );
}

#[test]
fn quality_of_a_table_refuses_what_it_cannot_answer() {
    let mesh = Mesh::new();
    orders_through_incidents(&mesh);
    let err = mesh.fails(3, &["quality", "sales.nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    let err = mesh.fails(2, &["quality", "sales.orders", "--format", "xml"]);
    assert!(err.contains("`xml`: expected text or json"), "{err}");
    let err = mesh.fails(2, &["quality"]);
    assert!(err.contains("name a table"), "{err}");
    // bob has no grant on sales: neither the report nor the results table.
    let err = mesh.fails(4, &["--as", "bob", "quality", "sales.orders"]);
    assert!(
        err.contains("bob may not read product sales.orders"),
        "{err}"
    );
    let err = mesh.fails(
        4,
        &["--as", "bob", "sql", "select * from sales.orders__quality"],
    );
    assert!(err.contains("table sales.orders__quality"), "{err}");
}

#[test]
fn quality_over_http_answers_as_the_cli_does() {
    let mesh = Mesh::new();
    orders_through_incidents(&mesh);
    let carol = crate::server::token(&mesh, "carol");
    let served = crate::server::serve(&mesh);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str, token: &str| {
        let response = client
            .get(format!("{}{path}", served.http))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().unwrap())
    };
    let (status, body) = get("/api/v1/tables/sales/orders/quality", &mesh.admin_token());
    assert_eq!(status, 200, "{body}");
    let cli: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    assert_eq!(body, cli);
    let (status, body) = get("/api/v1/tables/sales/orders/quality", &carol);
    assert_eq!(
        (status, body["kind"].clone()),
        (403, "denied".into()),
        "{body}"
    );
    let (status, _) = get("/api/v1/tables/sales/nosuch/quality", &carol);
    assert_eq!(status, 404);
    let (status, _) = get("/api/v1/tables/Sales/orders/quality", &carol);
    assert_eq!(status, 400);
}

fn conformance(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/odcs/examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn an_sql_rule_judges_the_batch_as_the_domains_owner_and_can_block_it() {
    let mesh = Mesh::new();
    // ODCS's own example: `select count(*) from Air_Quality where DataValue <= 0 or
    // DataValue >= 500` must be 0, severity error.
    mesh.ok(&[
        "product",
        "apply",
        &conformance("quality__column-accuracy.odcs.yaml"),
        "--domain",
        "sales",
    ]);
    let good = csv_file(&mesh, "good.csv", "DataValue\n1.5\n499\n");
    let out = mesh.ok(&["ingest", "sales.air_quality", &good]);
    assert!(
        out.contains("2 accepted, 0 quarantined → version 1"),
        "{out}"
    );
    // One value out of range: the whole batch is blocked.
    let bad = csv_file(&mesh, "bad.csv", "DataValue\n10\n600\n20\n");
    let out = mesh.ok(&["ingest", "sales.air_quality", &bad]);
    assert!(
        out.contains("0 accepted, 3 quarantined → version 1"),
        "{out}"
    );
    assert!(
        out.contains("quality failed (block): column Air_Quality.DataValue quality rule 1 — the query returned 1; must be 0"),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n from sales.air_quality"),
        "n\n2\n"
    );
    assert_eq!(
        mesh.csv("select count(*) as n from sales.air_quality__quarantine"),
        "n\n3\n"
    );
    // The query ran as alice, the domain's owner, audited like any other.
    let tail = mesh.ok(&["ledger", "tail", "--limit", "60"]);
    let runs: Vec<serde_json::Value> = tail
        .lines()
        .filter(|l| l.contains("query.run"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|index| serde_json::from_str(&mesh.ok(&["ledger", "show", index])).unwrap())
        .filter(|e: &serde_json::Value| e["entry"]["body"]["interface"] == "quality")
        .collect();
    assert_eq!(runs.len(), 2, "one run per ingest:\n{tail}");
    assert!(
        runs.iter()
            .all(|e| e["entry"]["body"]["principal"] == "alice"),
        "{runs:?}"
    );

    // A clean batch goes in, appended from the staging table the rule read it in.
    let fixed = csv_file(&mesh, "fixed.csv", "DataValue\n7\n");
    let out = mesh.ok(&["ingest", "sales.air_quality", &fixed]);
    assert!(
        out.contains("1 accepted, 0 quarantined → version 2"),
        "{out}"
    );
}

#[test]
fn an_sql_rule_that_cannot_run_is_refused_with_the_contract() {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "crm", "--owner", "bob"]);
    let example =
        std::fs::read_to_string(conformance("quality__column-accuracy.odcs.yaml")).unwrap();
    let query = "select count(*) from Air_Quality where DataValue <= 0 or DataValue >= 500";
    assert!(example.contains(query));
    for (bad, expected) in [
        (
            "select count(*) from Air_Qualty where DataValue <= 0",
            "table 'agora.sales.air_qualty' not found",
        ),
        (
            "select count(*), max(DataValue) from Air_Quality",
            "returns 2 columns; a rule's query returns one value",
        ),
        (
            "selec count(*) from Air_Quality",
            "cannot run as the domain's owner",
        ),
        (
            "select count(*) from crm.customers",
            "table 'agora.crm.customers' not found",
        ),
    ] {
        let file = csv_file(&mesh, "bad-rule.yaml", &example.replace(query, bad));
        let err = mesh.fails(2, &["product", "apply", &file, "--domain", "sales"]);
        assert!(
            err.contains("column Air_Quality.DataValue quality rule 1") && err.contains(expected),
            "{bad}: {err}"
        );
        mesh.fails(3, &["product", "show", "sales.my_table"]);
    }
    // A product of a domain alice does not own, and may not read.
    mesh.ok(&[
        "--as",
        "bob",
        "product",
        "apply",
        testdata("crm.yaml").to_str().unwrap(),
    ]);
    let file = csv_file(
        &mesh,
        "reads-crm.yaml",
        &example.replace(query, "select count(*) from crm.customers"),
    );
    let err = mesh.fails(2, &["product", "apply", &file, "--domain", "sales"]);
    assert!(
        err.contains("alice may not read product crm.people"),
        "{err}"
    );
}

#[test]
fn sla_latency_and_frequency_are_judged_on_each_batch_and_now() {
    let mesh = Mesh::new();
    let yaml = std::fs::read_to_string(testdata("orders.yaml"))
        .unwrap()
        .replace(
            "      - name: status\n",
            "      - name: placed_at\n        logicalType: date\n      - name: status\n",
        )
        + "slaProperties:\n  - property: latency\n    value: 2\n    unit: d\n    element: orders.placed_at\n  - property: frequency\n    value: 0\n    unit: s\n    element: orders.placed_at\n  - property: retention\n    value: 3\n    unit: y\n    element: orders.placed_at\n";
    let contract = csv_file(&mesh, "orders-sla.yaml", &yaml);
    mesh.ok(&["product", "apply", &contract]);

    let stale = csv_file(
        &mesh,
        "stale.csv",
        "order_id,region,amount,placed_at,status\n1,EU,1,2020-01-01,open\n2,EU,2,2020-01-03,open\n",
    );
    let out = mesh.ok(&["ingest", "sales.orders", &stale]);
    // Late data is let in (an SLA breach warns) and opens an incident.
    assert!(out.contains("2 accepted"), "{out}");
    assert!(
        out.contains(
            "quality failed (warn): sla latency of orders.placed_at — the newest `placed_at` is"
        ),
        "{out}"
    );
    assert!(out.contains("days old; must be ≤ 2 days"), "{out}");
    assert!(
        out.contains("quality not evaluated (warn): sla frequency of orders.placed_at — the table's first batch"),
        "{out}"
    );
    let fresh = csv_file(
        &mesh,
        "fresh.csv",
        "order_id,region,amount,placed_at,status\n3,EU,1,2999-01-01,open\n",
    );
    let out = mesh.ok(&["ingest", "sales.orders", &fresh]);
    assert!(!out.contains("sla latency"), "a fresh batch passes: {out}");
    // Any time at all since the previous batch is more than 0 seconds.
    assert!(
        out.contains("quality failed (warn): sla frequency of orders.placed_at — "),
        "{out}"
    );
    assert!(
        out.contains("seconds since the previous batch; must be ≤ 0 seconds"),
        "{out}"
    );

    // The report judges the frequency now, against the latest batch.
    let report: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    let rules = report["rules"].as_array().unwrap();
    let frequency = rules
        .iter()
        .find(|r| r["rule"] == "sla frequency of orders.placed_at")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(frequency["outcome"], "failed", "{report:#}");
    let latency = rules
        .iter()
        .find(|r| r["rule"] == "sla latency of orders.placed_at")
        .unwrap();
    assert_eq!(latency["outcome"], "passed", "{report:#}");
    assert!(
        !rules
            .iter()
            .any(|r| r["rule"].as_str().unwrap().contains("retention")),
        "retention describes the product's life, not a batch: {report:#}"
    );

    // An SLA property that names a column the table lacks is refused with the contract.
    let bad = csv_file(
        &mesh,
        "bad-sla.yaml",
        &yaml.replace(
            "element: orders.placed_at\n  - property: frequency",
            "element: orders.shipped_at\n  - property: frequency",
        ),
    );
    let err = mesh.fails(2, &["product", "apply", &bad]);
    assert!(
        err.contains("sla latency of orders.shipped_at: `element` names no column of table orders"),
        "{err}"
    );
}

/// `n` orders from id `first`, amounts varied, every `null_every`-th amount missing (0: none).
fn orders_batch(first: usize, n: usize, null_every: usize) -> String {
    let mut rows = String::from("order_id,region,amount,status\n");
    for i in 0..n {
        let id = first + i;
        let amount = match null_every > 0 && i % null_every == 0 {
            true => String::new(),
            false => format!("{}.{:02}", 5 + (id * 37) % 45, (id * 13) % 100),
        };
        let region = ["EMEA", "NA", "APAC"][id % 3];
        rows.push_str(&format!("{id},{region},{amount},open\n"));
    }
    rows
}

#[test]
fn batch_metrics_are_judged_against_their_history_without_a_rule() {
    let mesh = Mesh::with_orders();
    for b in 0..9 {
        let file = csv_file(&mesh, &format!("b{b}.csv"), &orders_batch(b * 50, 50, 0));
        let out = mesh.ok(&["ingest", "sales.orders", &file]);
        assert!(
            !out.contains("metric"),
            "steady batches raise nothing: {out}"
        );
    }
    // Half the amounts go missing: nobody wrote a rule for it.
    let spike = csv_file(&mesh, "spike.csv", &orders_batch(1000, 50, 2));
    let out = mesh.ok(&["ingest", "sales.orders", &spike]);
    assert!(
        out.contains("quality failed (warn): metric null_ratio of amount — null ratio of `amount` jumped from 0% to 50%; expected 0%–"),
        "{out}"
    );
    assert!(
        out.contains("(recent batches, 9 batches of history)"),
        "{out}"
    );
    // Then a load a tenth of the usual size, with its amounts back.
    let small = csv_file(&mesh, "small.csv", &orders_batch(2000, 5, 0));
    let out = mesh.ok(&["ingest", "sales.orders", &small]);
    assert!(
        out.contains("metric row_count — row count dropped from 50 to 5; expected 47.5–52.5"),
        "{out}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    let incidents = report["incidents"].as_array().unwrap();
    let nulls = incidents
        .iter()
        .find(|i| i["rule"] == "metric null_ratio of amount")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(nulls["status"], "closed", "back in range: {report:#}");
    assert_eq!(nulls["observed"], 0.5);
    let volume = incidents
        .iter()
        .find(|i| i["rule"] == "metric row_count")
        .unwrap();
    assert_eq!(
        (volume["status"].clone(), volume["observed"].clone()),
        ("open".into(), 5.0.into())
    );
    assert!(
        volume["expected"]
            .as_str()
            .unwrap()
            .starts_with("47.5–52.5"),
        "{report:#}"
    );

    // The metrics are data; the public ledger gets no value a metric derives from the rows.
    assert_eq!(
        mesh.csv("select count(distinct ingest_id) as n from sales.orders__metrics"),
        "n\n11\n"
    );
    let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
    for line in tail
        .lines()
        .filter(|l| l.contains("quality.incident_opened"))
    {
        let index = line.split_whitespace().next().unwrap();
        let entry: serde_json::Value =
            serde_json::from_str(&mesh.ok(&["ledger", "show", index])).unwrap();
        let body = &entry["entry"]["body"];
        assert!(
            body["rule"].as_str().unwrap().starts_with("metric "),
            "{entry}"
        );
    }
}

#[test]
fn metrics_of_a_masked_table_are_not_for_its_masked_readers() {
    let mesh = crate::governance::crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    // bob sees the email hashed: the metrics (bounds, lengths) of the table are not his.
    let err = mesh.fails(
        2,
        &["--as", "bob", "sql", "select * from crm.customers__metrics"],
    );
    assert!(err.contains("not found"), "{err}");
    let err = mesh.fails(4, &["--as", "bob", "quality", "crm.customers"]);
    assert!(
        err.contains("bob may not read the quality of crm.customers"),
        "{err}"
    );
    // alice owns the domain and reads them.
    let out = mesh.ok(&[
        "--as",
        "alice",
        "sql",
        "select metric from crm.customers__metrics where column_name = 'email' order by metric",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "metric\ndistinct_ratio\nmean_length\nnull_ratio\n");
}

#[test]
fn row_level_anomalies_are_found_within_one_batch() {
    let mesh = Mesh::with_orders();
    // A unit slip (an amount 1000 times the others) and a misspelt region, in one batch.
    let batch = orders_batch(0, 60, 0)
        .replace("\n7,NA,", "\n7,NAA,")
        .replace("\n9,EMEA,", "\n9,EMEA,27000,open\n99,EMEA,");
    let file = csv_file(&mesh, "slips.csv", &batch);
    let out = mesh.ok(&["ingest", "sales.orders", &file]);
    assert!(
        out.contains("quality failed (warn): rows outliers of amount — 1 of 61 values of `amount` lie beyond 3 interquartile ranges of the batch's quartiles"),
        "{out}"
    );
    assert!(
        out.contains("quality failed (warn): rows rare_values of region — 1 values of `region` are seen once in 61 rows where 3 others are frequent"),
        "{out}"
    );
    // The checks quote no value of the rows.
    assert!(!out.contains("27000") && !out.contains("NAA"), "{out}");
    // A clean batch closes both incidents.
    let clean = csv_file(&mesh, "clean.csv", &orders_batch(100, 60, 0));
    let out = mesh.ok(&["ingest", "sales.orders", &clean]);
    assert!(!out.contains("quality failed"), "{out}");
    let tail = mesh.ok(&["ledger", "tail", "--limit", "20"]);
    let results = mesh
        .csv("select rule, outcome, incident from sales.orders__quality order by checked_at, rule");
    assert_eq!(
        tail.matches("quality.incident_closed").count(),
        2,
        "{tail}\n{results}"
    );
}

#[test]
fn outliers_are_judged_within_the_group_the_contract_names() {
    let mesh = Mesh::new();
    let contract = std::fs::read_to_string(crate::harness::testdata("orders.yaml"))
        .unwrap()
        .replace(
            "      - name: amount\n        logicalType: number\n",
            "      - name: amount\n        logicalType: number\n        customProperties:\n          - property: outliersBy\n            value: region\n",
        );
    let wrong = csv_file(
        &mesh,
        "wrong.yaml",
        &contract.replace("value: region", "value: country"),
    );
    let err = mesh.fails(2, &["product", "apply", &wrong]);
    assert!(
        err.contains("property `amount` has customProperties outliersBy `country`: the table has no column `country`"),
        "{err}"
    );
    mesh.ok(&[
        "product",
        "apply",
        &csv_file(&mesh, "orders.yaml", &contract),
    ]);
    // EMEA orders are in the hundreds, NA ones in single digits: an NA order of 520 is usual
    // for the batch and far out for its region.
    let mut rows = String::from("order_id,region,amount,status\n");
    for i in 0..60 {
        let (region, amount) = match i % 2 {
            0 => ("EMEA", 500 + i),
            _ => ("NA", 5 + i % 7),
        };
        rows.push_str(&format!("{i},{region},{amount},open\n"));
    }
    rows.push_str("60,NA,520,open\n");
    let out = mesh.ok(&["ingest", "sales.orders", &csv_file(&mesh, "b.csv", &rows)]);
    assert!(
        out.contains("quality failed (warn): rows outliers of amount — 1 of 61 values of `amount` lie beyond 3 interquartile ranges of the quartiles of their `region` group (2 of 2 groups had 20 values or more to judge)"),
        "{out}"
    );
    assert!(!out.contains("520"), "{out}");
}

#[test]
fn the_shares_of_a_columns_values_are_judged_against_their_history() {
    let mesh = Mesh::with_orders();
    for b in 0..9 {
        let file = csv_file(&mesh, &format!("b{b}.csv"), &orders_batch(b * 150, 150, 0));
        let out = mesh.ok(&["ingest", "sales.orders", &file]);
        assert!(
            !out.contains("frequency"),
            "steady shares raise nothing: {out}"
        );
    }
    // The APAC orders stop arriving (their rows come as EMEA or NA): no count or null ratio
    // moves.
    let drift: String = orders_batch(1350, 150, 0)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let other = ["EMEA", "NA"][i % 2];
            format!("{}\n", line.replace(",APAC,", &format!(",{other},")))
        })
        .collect();
    let out = mesh.ok(&["ingest", "sales.orders", &csv_file(&mesh, "d.csv", &drift)]);
    assert!(
        out.contains("quality failed (warn): metric frequency of region — share of `APAC` in `region` dropped from"),
        "{out}"
    );
    assert!(
        out.contains("to under 6% (fewer than 10 rows hold it); expected"),
        "{out}"
    );
    let shares = mesh.csv(
        "select metric_key, count(*) as batches from sales.orders__metrics where metric = 'frequency' and column_name = 'region' group by metric_key order by metric_key",
    );
    assert_eq!(shares, "metric_key,batches\nAPAC,9\nEMEA,10\nNA,10\n");
    // The ledger's incident names the check, not the value.
    let incident_entries = |kind: &str| -> Vec<String> {
        let tail = mesh.ok(&["ledger", "tail", "--limit", "200"]);
        tail.lines()
            .filter(|l| l.contains(kind))
            .filter_map(|l| l.split_whitespace().next())
            .map(|index| mesh.ok(&["ledger", "show", index]))
            .filter(|entry| entry.contains("metric frequency of region"))
            .collect()
    };
    let opened = incident_entries("quality.incident_opened");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert!(!opened[0].contains("APAC"), "{}", opened[0]);
    // Back to the usual mix: the incident closes.
    let back = csv_file(&mesh, "back.csv", &orders_batch(1500, 150, 0));
    let out = mesh.ok(&["ingest", "sales.orders", &back]);
    assert!(!out.contains("frequency"), "{out}");
    assert_eq!(incident_entries("quality.incident_closed").len(), 1);
    // APAC stops for good: after the first alarm its history learns 0%, and a value under the
    // cut (which 0% is) no longer alarms on every batch.
    let mut alarms = Vec::new();
    for b in 0..16 {
        let gone: String = orders_batch(3000 + b * 150, 150, 0).replace(",APAC,", ",EMEA,");
        let file = csv_file(&mesh, &format!("gone{b}.csv"), &gone);
        let out = mesh.ok(&["ingest", "sales.orders", &file]);
        alarms.push(out.contains("metric frequency of region"));
    }
    assert!(alarms[0], "the first batch without APAC is news");
    assert!(
        alarms[12..].iter().all(|a| !a),
        "a value gone for good still alarms: {alarms:?}"
    );
}

#[test]
fn a_source_that_changes_its_columns_opens_a_schema_drift_incident() {
    let mesh = Mesh::with_orders();
    let first = csv_file(&mesh, "a.csv", &orders_batch(0, 20, 0));
    mesh.ok(&["ingest", "sales.orders", &first]);
    // The producer stops sending amounts and sends the status first: nothing else moves yet.
    let mut dropped = String::from("status,order_id,region\n");
    for i in 20..40 {
        dropped.push_str(&format!("open,{i},EMEA\n"));
    }
    let out = mesh.ok(&[
        "ingest",
        "sales.orders",
        &csv_file(&mesh, "b.csv", &dropped),
    ]);
    assert!(
        out.contains("quality failed (warn): metric source_columns — the source's columns changed since the previous batch: `amount` no longer sent"),
        "{out}"
    );
    let fingerprints = mesh.csv(
        "select metric_key, value from sales.orders__metrics where metric = 'source_columns' order by checked_at",
    );
    assert_eq!(
        fingerprints,
        "metric_key,value\n\"order_id:Utf8,region:Utf8,amount:Utf8,status:Utf8\",4.0\n\"status:Utf8,order_id:Utf8,region:Utf8\",3.0\n"
    );
    // Sent the same way again, the source is steady: the incident closes.
    let again = dropped
        .replace(",EMEA\n", ",NA\n")
        .replace("open,2", "open,5");
    let out = mesh.ok(&["ingest", "sales.orders", &csv_file(&mesh, "c.csv", &again)]);
    assert!(!out.contains("source_columns — the source's"), "{out}");
    let results = mesh.csv(
        "select outcome, incident from sales.orders__quality where rule = 'metric source_columns' order by checked_at",
    );
    assert_eq!(results, "outcome,incident\nfailed,opened\npassed,closed\n");
}

/// `n` orders from id `first` whose first `nulls` amounts are missing.
fn orders_with_nulls(first: usize, n: usize, nulls: usize) -> String {
    let mut rows = String::from("order_id,region,amount,status\n");
    for i in 0..n {
        let id = first + i;
        let amount = match i < nulls {
            true => String::new(),
            false => format!("{}.{:02}", 5 + (id * 37) % 45, (id * 13) % 100),
        };
        rows.push_str(&format!("{id},{},{amount},open\n", ["EMEA", "NA"][id % 2]));
    }
    rows
}

#[test]
fn a_null_ratio_creeping_towards_its_limit_is_predicted_to_pass_it() {
    let mesh = Mesh::new();
    let yaml = std::fs::read_to_string(testdata("orders.yaml")).unwrap();
    let with_rule = yaml.replace(
        "      - name: amount\n        logicalType: number\n",
        "      - name: amount\n        logicalType: number\n        quality:\n          - metric: nullValues\n            mustBeLessThan: 5\n            unit: percent\n",
    );
    let file = csv_file(&mesh, "orders-limit.yaml", &with_rule);
    mesh.ok(&["product", "apply", &file]);
    // Fourteen loads of 1,000 orders, 0.3 points more of them without an amount each time:
    // 3.9% at the latest, 5% about four loads ahead.
    for b in 0..14 {
        let load = csv_file(
            &mesh,
            &format!("b{b}.csv"),
            &orders_with_nulls(b * 1000, 1000, 3 * b),
        );
        mesh.ok(&["ingest", "sales.orders", &load]);
    }
    let report: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    let predicted = report["predicted"].as_array().unwrap();
    assert_eq!(predicted.len(), 1, "{report:#}");
    let p = &predicted[0];
    assert_eq!(p["rule"], "column orders.amount quality rule 1");
    assert_eq!(p["metric"], "the null ratio of `amount`");
    let checks = p["checks"].as_u64().unwrap();
    assert!((2..=8).contains(&checks), "{p:#}");
    assert!(p["earliest_checks"].as_u64().unwrap() <= checks, "{p:#}");
    assert_eq!(p["history_checks"], 14);
    assert_eq!(p["level"], 80);
    let text = mesh.ok(&["quality", "sales.orders"]);
    assert!(
        text.contains("predicted breaches:\n  column orders.amount quality rule 1: at the current trend the null ratio of `amount` passes the contract's 5% in about "),
        "{text}"
    );
    assert!(text.contains("(80% interval "), "{text}");
    assert!(
        text.contains(&format!("{checks} more check(s) at the usual one every ")),
        "{text}"
    );

    // Once it has passed, an incident is open and nothing is predicted.
    let over = csv_file(&mesh, "over.csv", &orders_with_nulls(20_000, 1000, 60));
    mesh.ok(&["ingest", "sales.orders", &over]);
    let report: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["quality", "sales.orders", "--format", "json"])).unwrap();
    assert_eq!(report["predicted"], serde_json::json!([]), "{report:#}");
    assert!(
        report["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["rule"] == "column orders.amount quality rule 1" && i["status"] == "open"),
        "{report:#}"
    );
}
