//! The PostgreSQL protocol as sessions use it: TLS, settings per connection, cancellation,
//! and statements prepared under one state of the grants and executed under another.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::clients::{python, script};
use crate::governance::crm;
use crate::server::{psql_with as psql, serve, serve_with, token};

#[test]
fn psql_with_sslmode_require_and_settings_per_connection() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let served = serve(&mesh);
    let conninfo = |ssl: &str| {
        format!(
            "host=127.0.0.1 port={} user=carol dbname=agora sslmode={ssl}",
            served.pg_port
        )
    };
    let (ok, out, err) = psql(&conninfo("require"), &carol, &["\\conninfo", "select 1"]);
    assert!(ok, "{err}");
    assert!(out.contains("SSL connection (protocol: TLSv1."), "{out}");
    // The certificate `agora serve` made is kept in the mesh for the next start.
    assert!(mesh.data().join("tls/pg-cert.pem").exists());

    // search_path holds for the statements after it, in the same message and in later ones.
    let (ok, out, err) = psql(
        &conninfo("require"),
        &carol,
        &[
            "set search_path to crm; select count(*) from customers",
            "select count(*) from customers where region = 'US'",
            "show search_path",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "SET\n12\n4\ncrm\n");
    // … and only on that connection.
    let (ok, _, err) = psql(
        &conninfo("disable"),
        &carol,
        &["select count(*) from customers"],
    );
    assert!(!ok && err.contains("customers"), "{err}");
    let (ok, _, err) = psql(&conninfo("disable"), &carol, &["set search_path = nosuch"]);
    assert!(!ok && err.contains("unknown domain `nosuch`"), "{err}");

    // Settings a client sets it reads back; RESET restores them; the server's own and the
    // session's identity stay as they are.
    let (ok, out, err) = psql(
        &conninfo("disable"),
        &carol,
        &[
            "set application_name = 'reports'",
            "show application_name",
            "set statement_timeout = '30s'",
            "show statement_timeout",
            "reset all",
            "show statement_timeout",
            "set client_encoding = 'UTF8'",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "SET\nreports\nSET\n30s\nRESET\n0\nSET\n", "{out}");
    for (statement, message) in [
        ("set server_version = '9.0'", "cannot be changed"),
        ("set session_authorization = 'admin'", "cannot be changed"),
        (
            "set statement_timeout = 'soon'",
            "invalid value for statement_timeout",
        ),
        (
            "show no_such_setting",
            "unrecognized configuration parameter",
        ),
    ] {
        let (ok, _, err) = psql(&conninfo("disable"), &carol, &[statement]);
        assert!(!ok && err.contains(message), "{statement}: {err}");
    }
}

#[test]
fn a_cancel_request_stops_the_running_query_and_the_connection_goes_on() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    // The server's own timeout is far away: what stops the query is the cancel request.
    let served = serve_with(&mesh, &["--query-timeout", "10m"]);
    let out = Command::new(python())
        .arg(script("psycopg_session.py"))
        .args(["cancel", &served.pg_port, "carol", &carol])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        answers["cancelled"]
            .as_str()
            .is_some_and(|e| e.contains("canceling statement due to user request")),
        "{answers}"
    );
    assert_eq!(answers["after"], 42, "{answers}");
}

#[test]
fn a_grant_revoked_between_prepare_and_execute_holds_at_the_next_execute() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let served = serve(&mesh);
    let mut child = Command::new(python())
        .arg(script("psycopg_session.py"))
        .args(["revoke", &served.pg_port, "carol", &carol])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "prepared");
    mesh.ok(&["revoke", "carol", "read", "crm.people"]);
    writeln!(child.stdin.take().unwrap()).unwrap();
    let answers: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers["before"], 1, "{answers}");
    assert!(
        answers["after"]
            .as_str()
            .is_some_and(|e| e.contains("permission denied: carol may not read product crm.people")),
        "{answers}"
    );
}

#[test]
fn a_prepared_statement_holds_one_command() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    let served = serve(&mesh);
    let out = Command::new(python())
        .arg(script("psycopg_session.py"))
        .args(["multiple", &served.pg_port, "carol", &carol])
        .output()
        .expect("python runs");
    let answers: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert!(
        answers["multiple"].as_str().is_some_and(
            |e| e.contains("cannot insert multiple commands into a prepared statement")
        ),
        "{answers}"
    );
}

#[test]
fn psql_introspection_answers_as_postgres_does() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let served = serve(&mesh);
    let conninfo = format!(
        "host=127.0.0.1 port={} user=carol dbname=agora sslmode=disable",
        served.pg_port
    );
    // Tables carol sees masked are tables still, not views; each has its quarantine beside it (the quality
    // results and metrics are for readers who see the tables unmasked).
    let (ok, out, err) = psql(&conninfo, &carol, &["\\dt crm.*"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "crm|customers|table|postgres\ncrm|customers__quarantine|table|postgres\ncrm|tickets|table|postgres\ncrm|tickets__quarantine|table|postgres\n"
    );
    // `\d` finds the table's oid in one statement and its columns in the next.
    for _ in 0..2 {
        let (ok, out, err) = psql(&conninfo, &carol, &["\\d crm.customers"]);
        assert!(ok, "{err}");
        let columns: Vec<&str> = out.lines().filter_map(|l| l.split('|').next()).collect();
        assert_eq!(
            columns,
            [
                "id",
                "full_name",
                "email",
                "card",
                "birth_date",
                "region",
                "ip"
            ],
            "{out}"
        );
    }
    // `\d+` asks for storage options with an array constructor over a subquery.
    let (ok, out, err) = psql(&conninfo, &carol, &["\\d+ crm.customers"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("email|")), "{out}");
    // information_schema names PostgreSQL's types, not Arrow's, for the tables carol sees, as
    // she sees them: her birth dates are masked, so text.
    let (ok, out, err) = psql(
        &conninfo,
        &carol,
        &[
            "select column_name, data_type from information_schema.columns where table_schema = 'crm' and table_name = 'customers' and column_name in ('id', 'full_name', 'birth_date') order by column_name",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "birth_date|text\nfull_name|text\nid|bigint\n");
    let (ok, out, err) = psql(
        &conninfo,
        &carol,
        &[
            "select count(*) from information_schema.columns where table_name = 'customers__quality'",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out, "0\n",
        "the quality results of a table masked for carol are not hers"
    );
    // Columns are named as PostgreSQL names them, duplicates included.
    let (ok, out, err) = psql(
        &conninfo,
        &carol,
        &[
            "\\pset tuples_only off",
            "select 1, 2, current_user, session_user, count(*) from crm.customers",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("?column?|?column?|current_user|session_user|count\n1|2|carol|carol|12\n"),
        "{out}"
    );
}

/// The login method the server asked `user` for, and whether each method logged in.
fn logins(port: &str, user: &str, token: &str) -> serde_json::Value {
    let out = Command::new(python())
        .arg(script("psycopg_session.py"))
        .args(["auth", port, user, token])
        .output()
        .expect("python runs");
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn tokens_are_proved_by_scram_and_never_sent() {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    let served = serve(&mesh);
    let answers = logins(&served.pg_port, "carol", &carol);
    assert_eq!(answers["scram-sha-256"], "carol", "{answers}");
    // Over TLS the login can be bound to the server's certificate (SCRAM-SHA-256-PLUS); a
    // client that demands it without TLS is refused by its own driver.
    assert_eq!(answers["channel_binding"], "carol", "{answers}");
    assert!(
        answers["channel_binding_without_tls"]
            .as_str()
            .is_some_and(|e| e.starts_with("refused") && e.contains("channel binding")),
        "{answers}"
    );
    assert!(
        answers["password"]
            .as_str()
            .is_some_and(|e| e.contains("server requested SASL")),
        "the server never asks for the token itself: {answers}"
    );
    // A wrong token, and a user that is no principal, fail alike, at the proof.
    for (user, password) in [("carol", "agora_wrong"), ("nobody", "agora_wrong")] {
        let answers = logins(&served.pg_port, user, password);
        assert!(
            answers["scram-sha-256"]
                .as_str()
                .is_some_and(|e| e.contains(&format!(
                    "Password authentication failed for user \"{user}\""
                ))),
            "{answers}"
        );
    }
    // A rotated token's verifier is gone with it: the old token no longer logs in.
    let rotated = mesh.ok(&["principal", "rotate-token", "carol"]);
    let new = rotated.rsplit(": ").next().unwrap().trim();
    assert!(
        logins(&served.pg_port, "carol", &carol)["scram-sha-256"]
            .as_str()
            .is_some_and(|e| e.starts_with("refused"))
    );
    assert_eq!(
        logins(&served.pg_port, "carol", new)["scram-sha-256"],
        "carol"
    );
}
