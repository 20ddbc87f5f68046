//! No input takes the server down and no malformed input is accepted: statements past any sane
//! size or depth over every interface while another client's query runs, unbounded and
//! malformed files, and the errors a user's SQL earns (bad input, not found, never internal).

use std::process::Command;

use crate::governance::{crm, write};
use crate::harness::Mesh;
use crate::server::{Served, serve, serve_with, token};

/// Statements an 8 KB request could already hold, and far larger ones.
fn shapes() -> Vec<(&'static str, String)> {
    let sum = vec!["1"; 2_000].join("+");
    let ors = (0..30_000)
        .map(|i| format!("id = {i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let list = (0..200_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let unions = vec!["select 1 as x"; 5_000].join(" union all ");
    let parens = format!("select {}1{}", "(".repeat(5_000), ")".repeat(5_000));
    vec![
        ("2,000 terms", format!("select {sum} as n")),
        (
            "30,000 ORs",
            format!("select count(*) as n from crm.customers where {ors}"),
        ),
        (
            "200,000 values",
            format!("select count(*) as n from crm.customers where id in ({list})"),
        ),
        (
            "5,000 UNION ALL",
            format!("select count(*) as n from ({unions}) u"),
        ),
        ("5,000 parentheses", parens),
    ]
}

fn http_query(served: &Served, token: &str, sql: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(token)
        .json(&serde_json::json!({ "sql": sql }))
        .send()
        .expect("the server answers");
    (
        r.status().as_u16(),
        r.text().unwrap().trim_end().to_string(),
    )
}

/// `psql` with the statement in a file: a command line cannot hold the largest shapes.
fn psql_file(mesh: &Mesh, port: &str, user: &str, password: &str, sql: &str) -> (bool, String) {
    let file = write(mesh, "statement.sql", sql);
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", port, "-U", user, "-d", "agora"])
        .args(["-A", "-t", "-X", "-v", "ON_ERROR_STOP=1", "-f", &file])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A query that takes a while: the cross product of the customers with themselves, 12^6 rows.
const BUSY: &str = "select count(*) as n from crm.customers a, crm.customers b, crm.customers c, crm.customers d, crm.customers e, crm.customers f";

#[test]
fn huge_and_deep_statements_are_refused_and_the_server_keeps_serving() {
    let mesh = crm();
    let bob = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let nobody = token(&mesh, "nobody");
    let served = serve(&mesh);
    for (what, sql) in shapes() {
        for (who, secret) in [("carol", &bob), ("nobody", &nobody)] {
            // Another client's query runs while the shape arrives.
            let busy = std::thread::scope(|s| {
                let busy = s.spawn(|| http_query(&served, &bob, BUSY));
                let (status, body) = http_query(&served, secret, &sql);
                assert!(
                    [200, 400, 403, 413].contains(&status),
                    "{what} by {who}: {status} {body}"
                );
                if status != 200 {
                    assert!(body.contains("\"error\""), "{what}: {body}");
                }
                let (ok, out) = psql_file(&mesh, &served.pg_port, who, secret, &sql);
                assert!(
                    ok || out.contains("ERROR"),
                    "{what} by {who} over Postgres: {out}"
                );
                busy.join().unwrap()
            });
            assert_eq!(busy, (200, "[{\"n\":2985984}]".to_string()), "{what}");
        }
    }
    // Each is refused, naming the limit it passes.
    for (i, limit) in [
        (0, "expressions nest more than 1000 deep"),
        (1, "tokens and Agora plans at most 100000"),
        (2, "tokens and Agora plans at most 100000"),
        (
            3,
            "set operations (UNION, INTERSECT, EXCEPT) nest more than 1000 deep",
        ),
        (
            4,
            "parentheses, function calls or subqueries nest more than 50 deep",
        ),
    ] {
        let (what, sql) = &shapes()[i];
        let (status, body) = http_query(&served, &bob, sql);
        assert_eq!(status, 400, "{what}: {body}");
        assert!(body.contains(limit), "{what}: {body}");
    }
    // Shapes within the limits answer.
    let within = |n: usize, joiner: &str, item: &str| vec![item; n].join(joiner);
    let (status, body) = http_query(
        &served,
        &bob,
        &format!("select {} as n", within(500, "+", "1")),
    );
    assert_eq!((status, body.as_str()), (200, "[{\"n\":500}]"));
    let (status, body) = http_query(
        &served,
        &bob,
        &format!(
            "select count(*) as n from ({}) u",
            within(500, " union all ", "select 1 as x")
        ),
    );
    assert_eq!((status, body.as_str()), (200, "[{\"n\":500}]"));
    let list = (0..20_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (status, body) = http_query(
        &served,
        &bob,
        &format!("select count(*) as n from crm.customers where id in ({list})"),
    );
    assert_eq!((status, body.as_str()), (200, "[{\"n\":12}]"));
    // Still serving both interfaces.
    let (ok, out) = psql_file(
        &mesh,
        &served.pg_port,
        "carol",
        &bob,
        "select count(*) from crm.customers",
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "12");

    // The CLI plans on the same stack: the deepest statement within the limit runs, and the
    // deepest the token bound lets through is refused, not a crash.
    let deepest = format!("select {} as n", vec!["1"; 999].join("+"));
    let file = write(&mesh, "deepest.sql", &deepest);
    let out = mesh.ok(&["sql", "--file", &file, "--format", "csv"]);
    assert_eq!(out, "n\n999\n");
    let past = format!("select {} as n", vec!["1"; 49_000].join("+"));
    let file = write(&mesh, "past.sql", &past);
    let err = mesh.fails(2, &["sql", "--file", &file]);
    assert!(err.contains("nest more than 1000 deep"), "{err}");
}

#[test]
fn unbounded_and_malformed_input_is_refused() {
    let mesh = crm();
    let err = mesh.fails(
        2,
        &["ingest", "crm.tickets", "/dev/zero", "--format", "csv"],
    );
    assert!(
        err.contains("line 1") && err.contains("16777216 bytes"),
        "{err}"
    );
    let unterminated = write(
        &mesh,
        "quote.csv",
        "ticket_id,customer_email,subject\n300,a@example.org,\"never closed\n301,b@example.org,swallowed\n",
    );
    let err = mesh.fails(2, &["ingest", "crm.tickets", &unterminated]);
    assert!(
        err.contains("quoted field opened on line 2 is never closed"),
        "{err}"
    );
    let duplicate = write(
        &mesh,
        "dup.jsonl",
        "{\"ticket_id\": 302, \"customer_email\": \"a@example.org\", \"subject\": \"x\", \"subject\": \"y\"}\n",
    );
    let err = mesh.fails(2, &["ingest", "crm.tickets", &duplicate]);
    assert!(err.contains("key `subject` appears twice"), "{err}");
    assert!(err.contains("line 1"), "{err}");
    assert_eq!(
        mesh.csv("select count(*) as n from crm.tickets where ticket_id >= 300"),
        "n\n0\n",
        "nothing was written"
    );
}

#[test]
fn errors_of_the_users_sql_are_bad_input_or_not_found() {
    let mesh = crm();
    let err = mesh.fails(2, &["sql", "select 1/0"]);
    assert!(err.contains("Divide by zero"), "{err}");
    let err = mesh.fails(
        2,
        &["sql", "select cast(full_name as int) from crm.customers"],
    );
    assert!(err.contains("Cannot cast"), "{err}");
    let err = mesh.fails(
        3,
        &["sql", "select * from crm.customers", "--version", "99"],
    );
    assert!(err.contains("99"), "{err}");
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let served = serve(&mesh);
    let (status, body) = http_query(&served, &carol, "select 1/0");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Divide by zero"), "{body}");
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(&carol)
        .json(&serde_json::json!({ "sql": "select * from crm.customers", "version": 99 }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn refused_statements_are_audited_too() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let before = mesh
        .ok(&["ledger", "tail", "--limit", "1000"])
        .lines()
        .filter(|l| l.contains("query.run"))
        .count();
    for sql in [
        "create table x as select 1",
        "insert into crm.customers select * from crm.customers",
        "copy (select * from crm.customers) to '/tmp/agora-leak.csv'",
        "select nope from crm.customers",
        "drop table crm.customers",
    ] {
        let run = mesh.run(&["--as", "bob", "sql", sql]);
        assert!(
            [2, 4].contains(&run.code) && !run.stderr.contains("panicked"),
            "{sql}: {}{}",
            run.stdout,
            run.stderr
        );
    }
    let tail = mesh.ok(&["ledger", "tail", "--limit", "1000"]);
    let runs: Vec<&str> = tail.lines().filter(|l| l.contains("query.run")).collect();
    assert_eq!(runs.len(), before + 5, "{tail}");
    let last = runs.last().unwrap().split_whitespace().next().unwrap();
    let entry: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["ledger", "show", last])).unwrap();
    assert_eq!(entry["entry"]["body"]["refused"], true, "{entry}");
}

/// Far past any sane limit on this data: the distinct values of a 12^7-row cross product.
const HEAVY: &str = "select count(distinct a.id * 1000000 + b.id * 10000 + c.id * 100 + d.id + e.id + f.id + g.id) as n from crm.customers a, crm.customers b, crm.customers c, crm.customers d, crm.customers e, crm.customers f, crm.customers g";

#[test]
fn a_query_past_its_limits_fails_and_the_server_serves_others() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let served = serve_with(&mesh, &["--query-timeout", "2s"]);
    let small = "select count(*) as n from crm.customers";
    std::thread::scope(|s| {
        let heavy = s.spawn(|| http_query(&served, &carol, HEAVY));
        // Others are answered while it runs, and after it stops.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            http_query(&served, &carol, small),
            (200, "[{\"n\":12}]".to_string())
        );
        let (status, body) = heavy.join().unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("ran longer than its limit of 2 s"), "{body}");
    });
    // Results stream out a batch at a time, as one JSON array.
    let (status, body) = http_query(
        &served,
        &carol,
        "select value from generate_series(1, 50000) order by value",
    );
    assert_eq!(status, 200);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (rows.len(), &rows[49_999]),
        (50_000, &serde_json::json!({"value": 50000}))
    );
    let (ok, out) = psql_file(&mesh, &served.pg_port, "carol", &carol, HEAVY);
    assert!(
        !ok && out.contains("ran longer than its limit of 2 s"),
        "{out}"
    );
    assert_eq!(
        http_query(&served, &carol, small),
        (200, "[{\"n\":12}]".to_string())
    );

    // Memory: past the pool, the query fails naming what could not get memory.
    let distinct = "select count(distinct a.id * 1000000 + b.id * 10000 + c.id * 100 + d.id) from crm.customers a, crm.customers b, crm.customers c, crm.customers d";
    let err = mesh.fails(2, &["sql", distinct, "--memory-limit", "64KiB"]);
    assert!(
        err.contains("passed a limit") && err.contains("memory pool"),
        "{err}"
    );
    let err = mesh.fails(2, &["sql", small, "--memory-limit", "lots"]);
    assert!(
        err.contains("--memory-limit: `lots` is not a size"),
        "{err}"
    );
    // Without limits the CLI runs what it is given.
    assert_eq!(mesh.csv(small), "n\n12\n");
}

#[test]
fn an_ingest_body_past_the_servers_maximum_is_refused_whole() {
    let mesh = crm();
    let served = serve_with(&mesh, &["--max-ingest-body", "1KiB"]);
    let admin = mesh.admin_token();
    let post = |body: String| {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/tables/crm/tickets/batches", served.http))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .expect("the server answers");
        (r.status().as_u16(), r.text().unwrap())
    };
    let rows = |from: u32, n: u32| {
        let mut csv = String::from("ticket_id,customer_email,subject\n");
        for i in from..from + n {
            csv.push_str(&format!("{i},someone{i}@example.org,a question\n"));
        }
        csv
    };
    let count = || mesh.csv("select count(*) as n from crm.tickets where ticket_id >= 1000");
    let big = rows(1000, 100);
    assert!(big.len() > 1024);
    let (status, body) = post(big);
    assert_eq!(status, 413, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("maximum ingest body of 1024 bytes")
            && error.contains("--max-ingest-body")
            && error.contains("nothing was ingested"),
        "{error}"
    );
    assert_eq!(body["kind"], "too_large");
    assert_eq!(count(), "n\n0\n");
    // A body within the limit goes in, and the server serves on.
    let (status, body) = post(rows(1000, 3));
    assert_eq!(status, 200, "{body}");
    assert_eq!(count(), "n\n3\n");
    // The flag itself is checked before the server starts.
    let err = mesh.fails(2, &["serve", "--max-ingest-body", "lots"]);
    assert!(
        err.contains("--max-ingest-body: `lots` is not a size"),
        "{err}"
    );
}
