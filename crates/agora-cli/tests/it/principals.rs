//! Principals over their life: rotated tokens, expiry, disabled and deleted principals stop at
//! once on every interface (HTTP, Postgres connections already open, `--as`), changed
//! clearances govern the next read, and every step is a ledger entry.

use std::process::Command;

use crate::governance::{crm, write};
use crate::harness::Mesh;
use crate::server::{Served, serve};

fn token_of(out: &str) -> String {
    out.rsplit(": ").next().unwrap().trim().to_string()
}

fn http_status(served: &Served, token: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(token)
        .json(&serde_json::json!({ "sql": "select count(*) as n from crm.customers" }))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// One `psql` connection that runs a statement, then `command` (an `agora` run against the
/// mesh, through psql's `\!`), then the statement again.
fn psql_around(mesh: &Mesh, served: &Served, user: &str, token: &str, command: &str) -> String {
    let agora = env!("CARGO_BIN_EXE_agora");
    let script = format!(
        "select 'before';\n\\! {agora} --data {} {command} > /dev/null\nselect 'after';\n",
        mesh.data().display()
    );
    let file = write(mesh, "around.sql", &script);
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &served.pg_port,
            "-U",
            user,
            "-d",
            "agora",
        ])
        .args(["-A", "-t", "-X", "-f", &file])
        .env("PGPASSWORD", token)
        .output()
        .expect("psql is installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn rotated_disabled_and_deleted_principals_stop_at_once() {
    let mesh = crm();
    let bob = token_of(&mesh.ok(&["principal", "create", "bob2", "--expires", "90d"]));
    mesh.ok(&["grant", "bob2", "read", "crm.people"]);
    let served = serve(&mesh);
    assert_eq!(http_status(&served, &bob).0, 200);
    let list = mesh.ok(&["principal", "list"]);
    let line = list.lines().find(|l| l.starts_with("bob2 ")).unwrap();
    assert!(
        line.contains("internal") && line.contains("token expires 20"),
        "{line}"
    );

    // Rotation: an open Postgres connection stops on its next statement, HTTP at once.
    let out = psql_around(&mesh, &served, "bob2", &bob, "principal rotate-token bob2");
    assert!(out.contains("before") && !out.contains("after"), "{out}");
    assert!(out.contains("invalid or unknown API token"), "{out}");
    let (status, body) = http_status(&served, &bob);
    assert_eq!(status, 401, "{body}");
    let rotated = mesh.ok(&["principal", "rotate-token", "bob2"]);
    assert!(rotated.contains("the old one no longer works"), "{rotated}");
    let bob = token_of(&rotated);
    assert_eq!(http_status(&served, &bob).0, 200);

    // Disabled: refused everywhere, grants kept; enabled again, it works as before.
    let out = psql_around(&mesh, &served, "bob2", &bob, "principal disable bob2");
    assert!(out.contains("before") && !out.contains("after"), "{out}");
    assert!(out.contains("bob2 is disabled"), "{out}");
    let (status, body) = http_status(&served, &bob);
    assert_eq!(status, 401);
    assert!(body.contains("bob2 is disabled"), "{body}");
    let err = mesh.fails(4, &["--as", "bob2", "sql", "select 1"]);
    assert!(err.contains("bob2 is disabled"), "{err}");
    let err = mesh.fails(5, &["principal", "disable", "bob2"]);
    assert!(err.contains("already disabled"), "{err}");
    assert!(mesh.ok(&["principal", "list"]).contains("disabled"));
    mesh.ok(&["principal", "enable", "bob2"]);
    assert_eq!(http_status(&served, &bob).0, 200);

    // An expired token is refused, naming what to do.
    let catalog = mesh.data().join("catalog.db");
    let expired = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(\"update principals set token_expires_at = '2020-01-01T00:00:00.000Z' where name = 'bob2'\")\n\
             c.commit()\n",
        )
        .arg(&catalog)
        .status()
        .unwrap();
    assert!(expired.success());
    let (status, body) = http_status(&served, &bob);
    assert_eq!(status, 401);
    assert!(
        body.contains("expired at 2020-01-01") && body.contains("rotate-token"),
        "{body}"
    );
    let bob = token_of(&mesh.ok(&["principal", "rotate-token", "bob2"]));
    assert_eq!(http_status(&served, &bob).0, 200);

    // Deleted: its grants go with it; an owner of a domain cannot be deleted.
    let err = mesh.fails(5, &["principal", "delete", "alice"]);
    assert!(err.contains("owns domain"), "{err}");
    mesh.ok(&["principal", "delete", "bob2"]);
    assert_eq!(http_status(&served, &bob).0, 401);
    assert!(!mesh.ok(&["grant", "list"]).contains("bob2"));
    mesh.fails(3, &["principal", "rotate-token", "bob2"]);

    let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
    for kind in [
        "principal.token_rotated",
        "principal.disabled",
        "principal.enabled",
        "principal.deleted",
    ] {
        assert!(tail.contains(kind), "{kind} missing:\n{tail}");
    }
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn clearance_and_attributes_change_what_the_next_read_shows() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let email = |mesh: &Mesh| {
        mesh.ok(&[
            "--as",
            "bob",
            "sql",
            "select email from crm.customers where id = 1",
            "--format",
            "csv",
        ])
    };
    assert_eq!(email(&mesh).lines().nth(1).unwrap().len(), 32);
    mesh.ok(&["principal", "set", "bob", "--clearance", "confidential"]);
    assert_eq!(email(&mesh), "email\nanna.rossi@example.org\n");
    let err = mesh.fails(2, &["principal", "set", "bob", "--clearance", "secret"]);
    assert!(err.contains("unknown sensitivity `secret`"), "{err}");
    let err = mesh.fails(2, &["principal", "set", "bob", "--attr", "region=EU"]);
    assert!(
        err.contains("unknown principal attribute `region`"),
        "{err}"
    );
    let err = mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "principal",
            "set",
            "bob",
            "--clearance",
            "restricted",
        ],
    );
    assert!(err.contains("bob may not change principals"), "{err}");
    let tail = mesh.ok(&["ledger", "tail", "--limit", "5"]);
    assert!(tail.contains("principal.updated"), "{tail}");
}

#[test]
fn grants_are_listed_to_whom_they_concern() {
    let mesh = crm();
    mesh.ok(&["principal", "create", "carol"]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    mesh.ok(&["grant", "carol", "write", "crm.customers"]);
    let all = mesh.ok(&["grant", "list"]);
    assert_eq!(
        all,
        "bob read on product crm.people\ncarol write on table crm.customers\n"
    );
    assert_eq!(
        mesh.ok(&["grant", "list", "--principal", "carol"]),
        "carol write on table crm.customers\n"
    );
    assert_eq!(mesh.ok(&["grant", "list", "--product", "crm.people"]), all);
    // A principal sees its own grants; the domain's owner sees every grant on it.
    assert_eq!(
        mesh.ok(&["--as", "bob", "grant", "list"]),
        "bob read on product crm.people\n"
    );
    assert_eq!(mesh.ok(&["--as", "alice", "grant", "list"]), all);
    mesh.fails(3, &["grant", "list", "--product", "crm.nothing"]);
    mesh.fails(4, &["--as", "bob", "principal", "list"]);
}

#[test]
fn the_http_admin_api_does_what_the_cli_does_with_the_same_checks() {
    let mesh = crm();
    let admin = mesh.admin_token();
    let served = serve(&mesh);
    let client = reqwest::blocking::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<&str>| {
        let mut r = client
            .request(method, format!("{}{path}", served.http))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        let r = r.send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };
    use reqwest::Method;
    let (status, body) = call(
        Method::POST,
        "/api/v1/principals",
        &admin,
        Some(r#"{"name": "hana", "clearance": "confidential", "expires": "30d"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let hana: serde_json::Value = serde_json::from_str(&body).unwrap();
    let hana = hana["token"].as_str().unwrap().to_string();
    // Grants, then a read as hana.
    let grant = r#"{"principal": "hana", "access": "read", "target": "crm.people"}"#;
    let (status, body) = call(Method::POST, "/api/v1/grants", &hana, Some(grant));
    assert_eq!(status, 403, "only an owner grants: {body}");
    assert_eq!(
        call(Method::POST, "/api/v1/grants", &admin, Some(grant)).0,
        201
    );
    assert_eq!(http_status(&served, &hana).0, 200);
    let (_, grants) = call(Method::GET, "/api/v1/grants?principal=hana", &hana, None);
    assert_eq!(
        grants,
        r#"[{"access":"read","principal":"hana","target":"product crm.people"}]"#
    );
    // Principals are the administrator's.
    assert_eq!(call(Method::GET, "/api/v1/principals", &hana, None).0, 403);
    let (_, list) = call(Method::GET, "/api/v1/principals", &admin, None);
    assert!(
        list.contains("\"hana\"") && !list.contains("token_hash"),
        "{list}"
    );
    let (status, body) = call(
        Method::PATCH,
        "/api/v1/principals/hana",
        &admin,
        Some(r#"{"clearance": "secret"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown sensitivity `secret`"), "{body}");
    assert_eq!(
        call(
            Method::POST,
            "/api/v1/principals/hana/disable",
            &admin,
            None
        )
        .0,
        200
    );
    assert_eq!(http_status(&served, &hana).0, 401);
    assert_eq!(
        call(
            Method::POST,
            "/api/v1/principals/hana/disable",
            &admin,
            None
        )
        .0,
        409
    );
    assert_eq!(
        call(Method::POST, "/api/v1/principals/hana/enable", &admin, None).0,
        200
    );
    let (status, body) = call(
        Method::POST,
        "/api/v1/principals/hana/rotate-token",
        &admin,
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(http_status(&served, &hana).0, 401, "the old token stopped");
    assert_eq!(
        call(Method::POST, "/api/v1/grants/revoke", &admin, Some(grant)).0,
        200
    );
    assert_eq!(
        call(Method::DELETE, "/api/v1/principals/hana", &admin, None).0,
        204
    );
    assert_eq!(
        call(Method::DELETE, "/api/v1/principals/hana", &admin, None).0,
        404
    );

    // Policies and tags: the domain's owner decides, with a reason.
    let alice = token_of(&mesh.ok(&["principal", "rotate-token", "alice"]));
    let policy = "kind: AgoraPolicy\ndomain: crm\ncolumns:\n  - column: crm.customers.card\n    action: deny\n";
    let (status, body) = call(Method::POST, "/api/v1/policies", &alice, Some(policy));
    assert_eq!(status, 200, "{body}");
    let (_, policies) = call(Method::GET, "/api/v1/policies", &alice, None);
    assert!(policies.contains("crm.customers.card"), "{policies}");
    let (status, body) = call(
        Method::POST,
        "/api/v1/policies",
        &alice,
        Some("kind: AgoraPolicy\ncolums: []\n"),
    );
    assert_eq!(status, 400);
    assert!(body.contains("unknown field `colums`"), "{body}");
    let (_, tags) = call(
        Method::GET,
        "/api/v1/tables/crm/customers/tags",
        &alice,
        None,
    );
    assert!(tags.contains("\"payment_card\""), "{tags}");
    let tag = r#"{"category": "none", "reason": "documentation ranges only"}"#;
    let (status, body) = call(
        Method::PUT,
        "/api/v1/tables/crm/customers/tags/ip",
        &alice,
        Some(tag),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("override"), "{body}");
    let bob = token_of(&mesh.ok(&["principal", "rotate-token", "bob"]));
    assert_eq!(
        call(
            Method::PUT,
            "/api/v1/tables/crm/customers/tags/ip",
            &bob,
            Some(tag)
        )
        .0,
        403
    );
    mesh.ok(&["ledger", "verify"]);
}
