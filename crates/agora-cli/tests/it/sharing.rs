//! Delta Sharing: shares read by the real `delta-sharing` Python client against `agora
//! serve`, with the recipient's masks and row filters holding, every read on the ledger, and
//! the protocol's refusals of bad tokens, names, parameters and file URLs.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::governance::{GLOBAL_POLICY, RAW, assert_no_raw, crm, write};
use crate::harness::{Mesh, python_venv, testdata};
use crate::server::{Served, serve};

/// A Python with the delta-sharing client.
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_venv(
            "delta-sharing-venv",
            &["delta-sharing==1.4.2"],
            "delta_sharing",
        )
    })
}

/// A Python with DuckDB and its HTTP file reader, the second client.
fn duckdb_python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_venv(
            "duckdb-sharing-venv",
            &["duckdb==1.5.5", "duckdb-extension-httpfs==1.5.5"],
            "duckdb, duckdb_extension_httpfs",
        )
    })
}

/// Runs the client script; its stdout as JSON, or its stderr as the error.
fn client(profile: &str, args: &[&str]) -> Result<Value, String> {
    run_script(python(), "delta_sharing_read.py", profile, args)
}

/// Runs the DuckDB client script on one table.
fn duckdb_client(profile: &str, table: &str) -> Result<Value, String> {
    run_script(duckdb_python(), "duckdb_sharing_read.py", profile, &[table])
}

fn run_script(
    python: &PathBuf,
    script: &str,
    profile: &str,
    args: &[&str],
) -> Result<Value, String> {
    let out = Command::new(python)
        .arg(testdata(script))
        .arg(profile)
        .args(args)
        .output()
        .expect("python runs");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("the script prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const ROW_POLICY: &str = "\
kind: AgoraPolicy
domain: crm
rows:
  - table: crm.customers
    filter: region = principal.region
";

/// The crm mesh with masking policies, a row filter, a server, and two shares of
/// `crm.customers` added by the domain's owner: `partner_x` cleared for everything in region
/// EU, `low` cleared for public data in region EU.
fn shared() -> (Mesh, Served, String, String) {
    let mesh = crm();
    mesh.ok(&[
        "policy",
        "apply",
        &write(&mesh, "global.yaml", GLOBAL_POLICY),
    ]);
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "crm.yaml", ROW_POLICY),
    ]);
    let served = serve(&mesh);
    let endpoint = format!("{}/delta-sharing", served.http);
    let mut profiles = Vec::new();
    for (name, clearance) in [("partner_x", "restricted"), ("low", "public")] {
        let profile = mesh.dir.path().join(format!("{name}.share"));
        let profile = profile.to_str().unwrap().to_string();
        let out = mesh.ok(&[
            "share",
            "create",
            name,
            "--clearance",
            clearance,
            "--attr",
            "region=EU",
            "--profile",
            &profile,
            "--endpoint",
            &endpoint,
        ]);
        assert!(out.contains("Profile written to"), "{out}");
        mesh.ok(&["--as", "alice", "share", "add", name, "crm.customers"]);
        profiles.push(profile);
    }
    let low = profiles.pop().unwrap();
    let partner = profiles.pop().unwrap();
    (mesh, served, partner, low)
}

fn emails(rows: &Value) -> Vec<String> {
    let mut e: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap_or("").to_string())
        .collect();
    e.sort();
    e
}

#[test]
fn partners_read_shares_with_the_delta_sharing_client_under_their_own_governance() {
    let (mesh, _served, partner, low) = shared();

    let listed = client(&partner, &["list"]).unwrap();
    assert_eq!(listed, serde_json::json!(["partner_x.crm.customers"]));

    // The fully cleared partner reads the EU rows as they are, and only them.
    let rows = client(&partner, &["load", "partner_x.crm.customers"]).unwrap();
    let expected = mesh.csv("select email from crm.customers where region = 'EU' order by email");
    let expected: Vec<String> = expected.lines().skip(1).map(str::to_string).collect();
    assert_eq!(emails(&rows), expected);
    assert!(rows.to_string().contains("anna.rossi@example.org"));

    // The public-cleared partner gets the same rows with every sensitive value masked, also
    // on a second (cached) read and with a limit.
    for _ in 0..2 {
        let rows = client(&low, &["load", "low.crm.customers"]).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), expected.len());
        assert_no_raw("a masked share", &rows.to_string());
        assert!(
            rows.as_array().unwrap().iter().all(|r| r["region"] == "EU"),
            "{rows}"
        );
    }
    let limited = client(&low, &["load", "low.crm.customers", "--limit", "2"]).unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 2);

    // Each read is a ledger entry naming the version, the files by hash and what was masked;
    // the audit proves each entry's inclusion.
    let audit = mesh.ok(&["share", "audit", "low", "--verify"]);
    let reads: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("read crm.customers"))
        .collect();
    assert_eq!(reads.len(), 3, "{audit}");
    assert!(reads[0].contains("governed files (written now)"), "{audit}");
    assert!(reads[1].contains("governed files (cached)"), "{audit}");
    assert!(
        reads
            .iter()
            .all(|l| l.contains("masked: ") && l.contains("inclusion verified"))
    );
    assert!(audit.contains("created") && audit.contains("table_added crm.customers"));
    let partner_audit = mesh.ok(&["share", "audit", "partner_x"]);
    assert!(!partner_audit.contains("masked:"), "{partner_audit}");
    let entry = mesh.ok(&["ledger", "tail", "--limit", "50"]);
    assert!(entry.contains("share.read"), "{entry}");
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn token_of(profile: &str) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(profile).unwrap()).unwrap();
    v["bearerToken"].as_str().unwrap().to_string()
}

fn error_code(r: reqwest::blocking::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let body: Value = r.json().expect("a protocol error body");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["errorCode"].as_str().unwrap().to_string()
}

/// The files a query answers with, as (id, URL).
fn file_urls(base: &str, token: &str, body: &str) -> Vec<(String, String)> {
    let r = http()
        .post(format!(
            "{base}/shares/low/schemas/crm/tables/customers/query"
        ))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text()
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("file").is_some())
        .map(|v| {
            let file = &v["file"];
            (
                file["id"].as_str().unwrap().to_string(),
                file["url"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn sharing_refuses_bad_tokens_names_parameters_and_file_urls() {
    let (mesh, served, partner, low) = shared();
    let base = format!("{}/delta-sharing", served.http);
    let low_token = token_of(&low);
    let get = |path: &str, token: Option<&str>| {
        let mut r = http().get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().unwrap()
    };

    // No token, a user's token, the administrator's: no share opens.
    assert_eq!(error_code(get("/shares", None), 401), "UNAUTHENTICATED");
    assert_eq!(
        error_code(get("/shares", Some(&mesh.admin_token())), 401),
        "UNAUTHENTICATED"
    );
    // A recipient's token opens nothing but its share.
    let api = http()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(&low_token)
        .body(r#"{"sql": "select 1"}"#)
        .send()
        .unwrap();
    assert_eq!(api.status(), 401);
    // Another recipient's share, a table not shared, names that climb: unknown to it.
    for path in [
        "/shares/partner_x/schemas",
        "/shares/low/schemas/crm/tables/tickets/metadata",
        "/shares/low/schemas/..%2F..%2Fkeys/tables/mask.key/metadata",
        "/shares/..%2Fpartner_x/all-tables",
    ] {
        assert_eq!(
            error_code(get(path, Some(&low_token)), 404),
            "RESOURCE_DOES_NOT_EXIST",
            "{path}"
        );
    }
    // Bad parameters: a clear 400, nothing read.
    for body in [
        r#"{"version": -1}"#,
        r#"{"limitHint": -1}"#,
        "{not json",
        r#"{"version": 0}"#,
    ] {
        let r = http()
            .post(format!(
                "{base}/shares/low/schemas/crm/tables/customers/query"
            ))
            .bearer_auth(&low_token)
            .body(body)
            .send()
            .unwrap();
        let status = if body.contains("\"version\": 0") {
            403
        } else {
            400
        };
        error_code(r, status);
    }
    assert_eq!(
        error_code(get("/shares?maxResults=-1", Some(&low_token)), 400),
        "INVALID_PARAMETER_VALUE"
    );

    // Hints never widen what the recipient gets: a malformed one is ignored, one selecting
    // filtered rows returns the same governed files.
    let plain = file_urls(&base, &low_token, "{}");
    let hinted = file_urls(
        &base,
        &low_token,
        r#"{"predicateHints": ["region = 'US'"], "jsonPredicateHints": "{broken"}"#,
    );
    assert_eq!(plain.len(), 1);
    let ids =
        |files: &[(String, String)]| files.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&plain), ids(&hinted));
    let plain: Vec<String> = plain.into_iter().map(|(_, url)| url).collect();
    // The file: whole, and by range; its bytes hold no raw value.
    let file = http().get(&plain[0]).send().unwrap();
    assert_eq!(file.status(), 200);
    let bytes = file.bytes().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for raw in RAW {
        assert!(!text.contains(raw), "the governed file holds {raw}");
    }
    let ranged = http()
        .get(&plain[0])
        .header("Range", "bytes=0-3")
        .send()
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().unwrap().as_ref(), b"PAR1");
    // A changed signature or a changed path: refused.
    let (head, signature) = plain[0].rsplit_once('.').unwrap();
    let mut forged_sig = signature.to_string();
    forged_sig.replace_range(0..1, if signature.starts_with('A') { "B" } else { "A" });
    let forged = format!("{head}.{forged_sig}");
    assert_eq!(
        error_code(http().get(&forged).send().unwrap(), 403),
        "PERMISSION_DENIED"
    );
    let other_path = plain[0].replacen("/files/", "/files/x", 1);
    assert_eq!(
        error_code(http().get(&other_path).send().unwrap(), 403),
        "PERMISSION_DENIED"
    );

    // An expired token: refused, naming what renews it.
    let catalog = mesh.data().join("catalog.db");
    let expire = |name: &str, at: &str| {
        let done = Command::new("python3")
            .arg("-c")
            .arg("import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('update principals set token_expires_at = ? where name = ?', (sys.argv[3], sys.argv[2]))\nc.commit()\n")
            .arg(&catalog)
            .arg(name)
            .arg(at)
            .status()
            .unwrap();
        assert!(done.success());
    };
    expire("low", "2020-01-01T00:00:00.000Z");
    let r = get("/shares", Some(&low_token));
    assert_eq!(r.status(), 401);
    let body = r.text().unwrap();
    assert!(
        body.contains("expired at 2020-01-01") && body.contains("agora share rotate-token"),
        "{body}"
    );
    let refused = client(&low, &["list"]).unwrap_err();
    assert!(
        refused.contains("401") || refused.contains("UNAUTHENTICATED"),
        "{refused}"
    );
    expire("low", "2999-01-01T00:00:00.000Z");

    // A rotated-away token stops at once; the new profile works.
    mesh.ok(&[
        "share",
        "rotate-token",
        "low",
        "--profile",
        &low,
        "--endpoint",
        &base,
    ]);
    assert_eq!(
        error_code(get("/shares", Some(&low_token)), 401),
        "UNAUTHENTICATED"
    );
    assert!(client(&low, &["list"]).is_ok());
    // Revoked: the token and every file URL handed out stop working.
    mesh.ok(&["share", "revoke", "low"]);
    assert_eq!(
        error_code(get("/shares", Some(&token_of(&low))), 401),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(http().get(&plain[0]).send().unwrap(), 403),
        "PERMISSION_DENIED"
    );
    let refused = client(&low, &["load", "low.crm.customers"]).unwrap_err();
    assert!(
        refused.contains("401") || refused.contains("UNAUTHENTICATED"),
        "{refused}"
    );
    // The other share is untouched.
    assert!(
        client(
            &partner,
            &["load", "partner_x.crm.customers", "--limit", "1"]
        )
        .is_ok()
    );
}

#[test]
fn share_administration_refuses_bad_input_and_changes_nothing() {
    let mesh = crm();
    mesh.ok(&[
        "share",
        "create",
        "partner_y",
        "--profile",
        mesh.dir.path().join("p.share").to_str().unwrap(),
    ]);
    let before = mesh.ok(&["share", "show", "partner_y"]);
    assert!(
        mesh.fails(2, &["share", "create", "not a name"])
            .contains("share")
    );
    assert!(
        mesh.fails(5, &["share", "create", "alice"])
            .contains("alice")
    );
    assert!(
        mesh.fails(3, &["share", "add", "partner_y", "crm.nosuch"])
            .contains("crm.nosuch")
    );
    assert!(
        mesh.fails(3, &["share", "add", "nosuch", "crm.customers"])
            .contains("nosuch")
    );
    assert!(
        mesh.fails(
            4,
            &["--as", "bob", "share", "add", "partner_y", "crm.customers"]
        )
        .contains("bob")
    );
    assert!(
        mesh.fails(
            3,
            &[
                "share",
                "add",
                "partner_y",
                "crm.customers",
                "--as-of-version",
                "99"
            ]
        )
        .contains("99")
    );
    assert_eq!(mesh.ok(&["share", "show", "partner_y"]), before);
    // The domain's owner adds its table; the share shows it under the recipient's name.
    mesh.ok(&[
        "--as",
        "alice",
        "share",
        "add",
        "partner_y",
        "crm.customers",
        "--history",
    ]);
    let shown = mesh.ok(&["share", "show", "partner_y"]);
    assert!(
        shown.contains("partner_y.crm.customers [with history]  (added by alice)"),
        "{shown}"
    );
}

/// Both shares of [`shared`] include the history of crm.customers.
fn with_history(mesh: &Mesh) {
    for name in ["partner_x", "low"] {
        let args = ["--as", "alice", "share", "add", name, "crm.customers"];
        mesh.ok(&[&args[..], &["--history"]].concat());
    }
}

/// Two versions for a change feed: one ingest adds an EU and a US customer (Lena Vogel, Tom
/// Baker); one delete takes an EU customer out (id 2).
fn add_and_delete_customers(mesh: &Mesh) {
    let more = write(
        mesh,
        "more.csv",
        "id,full_name,email,card,birth_date,region,ip\n\
         20,Lena Vogel,lena.vogel@example.de,4111111111111111,1990-05-06,EU,10.1.1.1\n\
         21,Tom Baker,tom.baker@example.com,4012888888881881,1985-01-02,US,10.1.1.2\n",
    );
    mesh.ok(&["ingest", "crm.customers", &more]);
    mesh.ok(&["delete", "crm.customers", "--where", "id = 2"]);
}

/// The table version a recipient's share reads now.
fn shared_version(base: &str, token: &str, share: &str) -> u64 {
    let r = http()
        .get(format!(
            "{base}/shares/{share}/schemas/crm/tables/customers/version"
        ))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["delta-table-version"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn partners_follow_a_tables_changes_masked_and_filtered_like_its_rows() {
    let (mesh, served, partner, low) = shared();
    let base = format!("{}/delta-sharing", served.http);
    // Without history, the share holds no changes.
    let refused = client(&low, &["changes", "low.crm.customers", "--from", "0"]).unwrap_err();
    assert!(
        refused.contains("403") || refused.contains("PERMISSION_DENIED"),
        "{refused}"
    );
    let before = shared_version(&base, &token_of(&low), "low");
    // Nor does it hold earlier versions.
    let refused = client(
        &low,
        &[
            "load",
            "low.crm.customers",
            "--version",
            &(before - 1).to_string(),
        ],
    )
    .unwrap_err();
    assert!(
        refused.contains("403") || refused.contains("PERMISSION_DENIED"),
        "{refused}"
    );
    with_history(&mesh);

    add_and_delete_customers(&mesh);
    let from = (before + 1).to_string();

    // With history, `load_as_pandas(version=…)` reads the table as it was: the earlier version
    // without the new customer and with the deleted one, masked and filtered like the latest.
    let earlier = client(
        &low,
        &[
            "load",
            "low.crm.customers",
            "--version",
            &before.to_string(),
        ],
    )
    .unwrap();
    let latest = client(&low, &["load", "low.crm.customers"]).unwrap();
    for rows in [&earlier, &latest] {
        assert_no_raw("a masked versioned read", &rows.to_string());
        assert!(!rows.to_string().contains("lena.vogel"), "{rows}");
        assert!(rows.as_array().unwrap().iter().all(|r| r["region"] == "EU"));
    }
    let ids = |rows: &Value| {
        let mut ids: Vec<i64> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    assert!(
        ids(&earlier).contains(&2) && !ids(&earlier).contains(&20),
        "{earlier}"
    );
    assert!(
        !ids(&latest).contains(&2) && ids(&latest).contains(&20),
        "{latest}"
    );
    let unmasked = client(
        &partner,
        &[
            "load",
            "partner_x.crm.customers",
            "--version",
            &before.to_string(),
        ],
    )
    .unwrap();
    assert!(unmasked.to_string().contains("jean.dupont@mail.example.fr"));
    assert!(!unmasked.to_string().contains("lena.vogel"));

    // The cleared partner sees its region's changes as they are.
    let changes = client(
        &partner,
        &["changes", "partner_x.crm.customers", "--from", &from],
    )
    .unwrap();
    let rows = changes.as_array().unwrap();
    let summary: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["_change_type"].as_str().unwrap().to_string(),
                r["email"].as_str().unwrap().to_string(),
                r["_commit_version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("insert".into(), "lena.vogel@example.de".into(), before + 1),
            (
                "delete".into(),
                "jean.dupont@mail.example.fr".into(),
                before + 2
            ),
        ],
        "{changes}"
    );
    assert!(
        rows.iter()
            .all(|r| r["_commit_timestamp"].as_i64().is_some_and(|t| t > 0))
    );

    // The public-cleared partner gets the same changes, every sensitive value masked, also
    // from the cache on a second read.
    for _ in 0..2 {
        let changes = client(&low, &["changes", "low.crm.customers", "--from", &from]).unwrap();
        let rows = changes.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{changes}");
        let text = changes.to_string();
        assert_no_raw("a masked change feed", &text);
        for raw in [
            "lena.vogel@example.de",
            "Lena Vogel",
            "4111111111111111",
            "Jean Dupont",
            "jean.dupont@mail.example.fr",
        ] {
            assert!(
                !text.contains(raw),
                "the masked change feed holds {raw}: {text}"
            );
        }
        assert!(
            !text.contains("tom.baker") && !text.contains("\"US\""),
            "{text}"
        );
    }
    // A range ending before its start, one past the latest version, a bad parameter: 400.
    let token = token_of(&low);
    for query in [
        format!("startingVersion={}&endingVersion={before}", before + 2),
        format!("startingVersion={}", before + 10),
        "startingVersion=abc".to_string(),
        String::new(),
    ] {
        let r = http()
            .get(format!(
                "{base}/shares/low/schemas/crm/tables/customers/changes?{query}"
            ))
            .bearer_auth(&token)
            .send()
            .unwrap();
        assert_eq!(error_code(r, 400), "INVALID_PARAMETER_VALUE", "{query}");
    }
    // An erasure with purge takes the erased rows out of the change feed and out of every
    // governed file served before, and the feed of the versions it purged ends.
    mesh.ok(&["erase", "--where", "id = 20", "--purge"]);
    assert_eq!(
        crate::lifecycle::files_holding(&mesh.data(), "lena.vogel@example.de"),
        Vec::<String>::new(),
        "files still holding the erased e-mail"
    );
    let r = http()
        .get(format!(
            "{base}/shares/low/schemas/crm/tables/customers/changes?startingVersion={from}"
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(error_code(r, 400), "INVALID_PARAMETER_VALUE");
    let after = shared_version(&base, &token, "low");
    let gone = client(
        &low,
        &[
            "changes",
            "low.crm.customers",
            "--from",
            &(after + 1).to_string(),
        ],
    );
    assert!(gone.is_err(), "nothing after the latest version: {gone:?}");

    let audit = mesh.ok(&["share", "audit", "low", "--verify"]);
    let reads: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains("read the changes of crm.customers"))
        .collect();
    assert_eq!(reads.len(), 2, "{audit}");
    assert!(
        reads
            .iter()
            .all(|l| l.contains("masked: ") && l.contains("inclusion verified")),
        "{audit}"
    );
}

#[test]
fn a_partition_shares_only_the_rows_its_condition_selects() {
    let (mesh, _served, partner, _low) = shared();
    // Conditions that are not one expression over the table's columns: refused, nothing changed.
    let before = mesh.ok(&["share", "show", "partner_x"]);
    for (condition, named) in [
        ("id <> 1) OR (1 = 1", "unexpected `)`"),
        ("nosuch = 1", "No field named nosuch"),
        ("id IN (SELECT id FROM crm.tickets)", "not found"),
        ("id = 1; DROP TABLE x", "unexpected `;`"),
    ] {
        let out = mesh.fails(
            2,
            &[
                "--as",
                "alice",
                "share",
                "add",
                "partner_x",
                "crm.customers",
                "--partition",
                condition,
            ],
        );
        let reason = out.split("is not a condition").nth(1).unwrap_or_default();
        assert!(
            out.contains("--partition") && reason.contains(named),
            "{condition}: {out}"
        );
    }
    assert_eq!(mesh.ok(&["share", "show", "partner_x"]), before);

    mesh.ok(&[
        "--as",
        "alice",
        "share",
        "add",
        "partner_x",
        "crm.customers",
        "--partition",
        "id <> 1",
    ]);
    let shown = mesh.ok(&["share", "show", "partner_x"]);
    assert!(shown.contains("rows where id <> 1"), "{shown}");
    let rows = client(&partner, &["load", "partner_x.crm.customers"]).unwrap();
    let emails = emails(&rows);
    assert!(
        !emails.contains(&"anna.rossi@example.org".to_string()),
        "{rows}"
    );
    assert!(
        emails.contains(&"jean.dupont@mail.example.fr".to_string()),
        "{rows}"
    );
    // The table's own files hold every row: the partner gets governed files instead.
    let audit = mesh.ok(&["share", "audit", "partner_x"]);
    assert!(
        audit.lines().last().unwrap().contains("governed files"),
        "{audit}"
    );
}

#[test]
fn duckdb_reads_the_same_governed_rows_through_the_file_urls() {
    let (mesh, _served, partner, low) = shared();
    let expected = mesh.csv("select email from crm.customers where region = 'EU' order by email");
    let expected: Vec<String> = expected.lines().skip(1).map(str::to_string).collect();

    // A second client, DuckDB's HTTP reader with its ranged requests, gets what the Python
    // client gets: the cleared partner its region's rows as they are...
    let rows = duckdb_client(&partner, "partner_x.crm.customers").unwrap();
    assert_eq!(emails(&rows), expected);
    // ...and the low-cleared partner the same rows with every sensitive value masked.
    let rows = duckdb_client(&low, "low.crm.customers").unwrap();
    assert_eq!(rows.as_array().unwrap().len(), expected.len());
    assert_no_raw("DuckDB's read of a masked share", &rows.to_string());
    assert!(rows.as_array().unwrap().iter().all(|r| r["region"] == "EU"));
    // A table outside the share: the protocol's refusal, no files.
    let refused = duckdb_client(&low, "low.crm.tickets").unwrap_err();
    assert!(
        refused.contains("HTTP 404") || refused.contains("HTTP 403"),
        "{refused}"
    );
}

/// (change type, e-mail, commit version) of each row of a change feed, in the feed's order.
fn change_summary(changes: &Value) -> Vec<(String, String, u64)> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["_change_type"].as_str().unwrap().to_string(),
                r["email"].as_str().unwrap_or("").to_string(),
                r["_commit_version"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_client_asking_for_the_delta_format_reads_the_same_governed_rows_and_changes() {
    let (mesh, served, partner, low) = shared();
    let base = format!("{}/delta-sharing", served.http);
    with_history(&mesh);
    let before = shared_version(&base, &token_of(&low), "low");
    add_and_delete_customers(&mesh);
    let from = (before + 1).to_string();

    // The Python client reads the delta format with delta-kernel-rs, fetching the files
    // through the same signed URLs: the rows are those of the parquet format, the masked
    // partner's without a raw value.
    for (profile, table) in [
        (&partner, "partner_x.crm.customers"),
        (&low, "low.crm.customers"),
    ] {
        let parquet = client(profile, &["load", table]).unwrap();
        let delta = client(profile, &["load", table, "--format", "delta"]).unwrap();
        assert_eq!(emails(&delta), emails(&parquet), "{table}");
        assert!(
            delta
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["region"] == "EU")
        );
        let earlier = client(
            profile,
            &[
                "load",
                table,
                "--version",
                &before.to_string(),
                "--format",
                "delta",
            ],
        )
        .unwrap();
        let parquet_earlier =
            client(profile, &["load", table, "--version", &before.to_string()]).unwrap();
        assert_eq!(emails(&earlier), emails(&parquet_earlier), "{table}");
        assert_ne!(emails(&earlier), emails(&delta), "{table}");

        let changes = client(
            profile,
            &["changes", table, "--from", &from, "--format", "delta"],
        )
        .unwrap();
        let parquet_changes = client(profile, &["changes", table, "--from", &from]).unwrap();
        assert_eq!(change_summary(&changes), change_summary(&parquet_changes));
        assert_eq!(changes.as_array().unwrap().len(), 2, "{changes}");
    }
    let delta = client(&low, &["load", "low.crm.customers", "--format", "delta"]).unwrap();
    assert_no_raw("a masked share in the delta format", &delta.to_string());
    let changes = client(
        &low,
        &[
            "changes",
            "low.crm.customers",
            "--from",
            &from,
            "--format",
            "delta",
        ],
    )
    .unwrap();
    assert_no_raw(
        "a masked change feed in the delta format",
        &changes.to_string(),
    );
    assert!(!changes.to_string().contains("lena.vogel"), "{changes}");

    // On the wire: delta only when it is the only format named, and the answer says which.
    let token = token_of(&low);
    let query = |capabilities: &str| {
        let r = http()
            .post(format!(
                "{base}/shares/low/schemas/crm/tables/customers/query"
            ))
            .bearer_auth(&token)
            .header("delta-sharing-capabilities", capabilities)
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let format = r.headers()["delta-sharing-capabilities"]
            .to_str()
            .unwrap()
            .to_string();
        let lines: Vec<Value> = r
            .text()
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (format, lines)
    };
    let (format, lines) = query("responseformat=delta;readerfeatures=deletionvectors");
    assert_eq!(format, "responseformat=delta");
    assert_eq!(lines[0]["protocol"]["deltaProtocol"]["minReaderVersion"], 1);
    assert!(lines[1]["metaData"]["deltaMetadata"]["schemaString"].is_string());
    let add = &lines[2]["file"]["deltaSingleAction"]["add"];
    assert!(add["path"].as_str().unwrap().contains("/files/"), "{add}");
    assert_eq!(add["dataChange"], true);
    let (format, lines) = query("responseformat=delta,parquet");
    assert_eq!(format, "responseformat=parquet");
    assert!(lines[2]["file"]["url"].is_string(), "{:?}", lines[2]);
}
