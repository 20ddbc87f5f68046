//! Governance fails closed, tried as an attacker would: no ingest lowers a label, no plan,
//! statistic or error carries a masked value or a hidden row count, row filters are barriers,
//! old versions keep their strictest label, writers get no tokens, the ledger publishes no
//! literals, and metadata follows grants.

use crate::governance::{GLOBAL_POLICY, RAW, assert_no_raw, crm, path, write};
use crate::harness::Mesh;

fn tag_of(mesh: &Mesh, column: &str) -> String {
    let tags = mesh.ok(&["tag", "list", "crm.customers"]);
    tags.lines()
        .find(|l| l.starts_with(&format!("{column} ")))
        .unwrap_or_else(|| panic!("no tag for {column}:\n{tags}"))
        .to_string()
}

/// Bob's view of anna's email: a 32-character token while the column is masked for him.
fn bobs_email(mesh: &Mesh) -> String {
    let out = mesh.ok(&[
        "--as",
        "bob",
        "sql",
        "select email from crm.customers where id = 1",
        "--format",
        "csv",
    ]);
    out.lines().nth(1).unwrap_or_default().to_string()
}

/// The crm mesh with erin (region EU) who may read crm.people under a row filter on region.
fn crm_with_row_filter() -> Mesh {
    let mesh = crm();
    mesh.ok(&[
        "policy",
        "apply",
        &write(&mesh, "global.yaml", GLOBAL_POLICY),
    ]);
    let crm_policy = "\
kind: AgoraPolicy
domain: crm
rows:
  - table: crm.customers
    filter: region = principal.region
";
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "crm-policy.yaml", crm_policy),
    ]);
    mesh.ok(&["principal", "create", "erin", "--attr", "region=EU"]);
    mesh.ok(&["grant", "erin", "read", "crm.people"]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    mesh
}

#[test]
fn no_ingest_lowers_a_tag_only_an_owner_does() {
    let mesh = crm();
    mesh.ok(&["principal", "create", "wendy"]);
    mesh.ok(&["grant", "wendy", "write", "crm.people"]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    assert!(tag_of(&mesh, "email").contains("email, confidential"));
    assert_eq!(bobs_email(&mesh).len(), 32);

    let placeholders: String = std::iter::once("id,email,region\n".to_string())
        .chain((0..2000).map(|i| format!("{},n/a,EU\n", 1000 + i)))
        .chain((0..5).map(|i| format!("{},someone{i}@example.org,EU\n", 5000 + i)))
        .collect();
    let harmless: String = std::iter::once("id,email,region\n".to_string())
        .chain((0..50).map(|i| format!("{},x{i},EU\n", 6000 + i)))
        .collect();
    for (what, text) in [
        (
            "rows without the column",
            "id,region\n100,EU\n101,US\n".to_string(),
        ),
        (
            "an all-null column",
            "id,email,region\n102,,EU\n103,,US\n".to_string(),
        ),
        ("2,000 placeholders before real emails", placeholders),
        ("values that merely look harmless", harmless),
    ] {
        let file = write(&mesh, "batch.csv", &text);
        let out = mesh.ok(&["--as", "wendy", "ingest", "crm.customers", &file]);
        assert!(
            tag_of(&mesh, "email").contains("email, confidential"),
            "{what} lowered the tag:\n{out}\n{}",
            tag_of(&mesh, "email")
        );
        assert_eq!(
            bobs_email(&mesh).len(),
            32,
            "{what} unmasked the column for bob"
        );
    }
    // A decision that would have lowered it says so, and who may.
    let file = write(
        &mesh,
        "harmless2.csv",
        "id,email,region\n7000,y1,EU\n7001,y2,EU\n7002,y3,EU\n",
    );
    let out = mesh.ok(&["--as", "wendy", "ingest", "crm.customers", &file]);
    assert!(
        out.contains("kept email: email") && out.contains("agora tag set"),
        "{out}"
    );

    // Only an owner lowers a tag, with a reason, and the ledger says so.
    mesh.fails(
        4,
        &[
            "--as",
            "wendy",
            "tag",
            "set",
            "crm.customers.email",
            "none",
            "--reason",
            "mine",
        ],
    );
    mesh.ok(&[
        "--as",
        "alice",
        "tag",
        "set",
        "crm.customers.email",
        "none",
        "--reason",
        "test addresses only",
    ]);
    assert!(tag_of(&mesh, "email").contains("override: test addresses only"));
    assert_eq!(bobs_email(&mesh), "anna.rossi@example.org");
}

#[test]
fn old_versions_are_read_with_the_strictest_label_they_had() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let version = |mesh: &Mesh| {
        let show = mesh.ok(&["product", "show", "crm.people"]);
        let line = show
            .lines()
            .find(|l| l.starts_with("table crm.customers"))
            .unwrap()
            .to_string();
        line.split_whitespace().nth(3).unwrap().to_string()
    };
    let first = version(&mesh);
    mesh.ok(&[
        "--as",
        "alice",
        "tag",
        "set",
        "crm.customers.email",
        "none",
        "--reason",
        "test addresses only",
    ]);
    // The owner's decision holds from now on …
    assert_eq!(bobs_email(&mesh), "anna.rossi@example.org");
    // … but a read of any version is masked by the strictest label the column ever had.
    let old = mesh.ok(&[
        "--as",
        "bob",
        "sql",
        "select email from crm.customers where id = 1",
        "--version",
        &first,
        "--format",
        "csv",
    ]);
    let token = old.lines().nth(1).unwrap();
    assert_eq!(token.len(), 32, "{old}");
    assert_no_raw("a time-travel read", &old);

    // Contract labels of earlier contract versions count too.
    let contract = std::fs::read_to_string(path("crm.yaml")).unwrap();
    let strict = contract.replace(
        "      - name: region\n        logicalType: string\n",
        "      - name: region\n        logicalType: string\n        classification: restricted\n",
    );
    assert_ne!(strict, contract);
    mesh.ok(&["product", "apply", &write(&mesh, "strict.yaml", &strict)]);
    let relaxed = contract.replace("version: 1.0.0", "version: 1.2.0");
    mesh.ok(&["product", "apply", &write(&mesh, "relaxed.yaml", &relaxed)]);
    let region = |extra: &[&str]| {
        let mut args = vec![
            "--as",
            "bob",
            "sql",
            "select region from crm.customers where id = 1",
            "--format",
            "csv",
        ];
        args.extend_from_slice(extra);
        mesh.run(&args)
    };
    assert_eq!(region(&[]).stdout, "region\nEU\n");
    // Restricted is past bob's clearance: masked or denied, never the value.
    let old_region = region(&["--version", &first]);
    assert!(
        !old_region.stdout.contains("EU") && [0, 4].contains(&old_region.code),
        "{}{}",
        old_region.stdout,
        old_region.stderr
    );
}

#[test]
fn plans_statistics_and_errors_carry_nothing_a_reader_could_not_select() {
    let mesh = crm_with_row_filter();
    let statements = [
        "explain verbose select * from crm.customers",
        "explain verbose select min(card), max(email) from crm.customers",
        "explain analyze select * from crm.customers",
        "explain analyze select count(*) from crm.customers",
        "explain analyze verbose select email, card from crm.customers where id > 0",
        "explain select * from crm.customers",
    ];
    for who in ["bob", "erin"] {
        for sql in statements {
            let out = mesh.ok(&["--as", who, "sql", sql]);
            assert_no_raw(&format!("{who}: {sql}"), &out);
            // Twelve rows in the table, eight of them EU: erin may count eight, never twelve.
            for hidden in ["Exact(12)", "Inexact(12)", "output_rows=12", "rows=12"] {
                assert!(
                    !out.contains(hidden),
                    "{who}: {sql} shows the table's row count ({hidden}):\n{out}"
                );
            }
        }
    }
    // The administrator's plans keep their statistics.
    let admin = mesh.ok(&["sql", "explain analyze select * from crm.customers"]);
    assert!(admin.contains("output_rows=12"), "{admin}");
    // Errors quote masked values only as the reader sees them.
    for sql in [
        "select cast(email as int) from crm.customers",
        "select cast(full_name as date) from crm.customers",
        "select cast(card as bigint) from crm.customers",
    ] {
        let run = mesh.run(&["--as", "erin", "sql", sql]);
        assert_eq!(run.code, 2, "{sql}: {}{}", run.stdout, run.stderr);
        assert_no_raw(sql, &run.stderr);
    }
}

#[test]
fn a_readers_predicates_never_run_on_rows_their_filter_hides() {
    let mesh = crm_with_row_filter();
    let erin = |sql: &str| mesh.run(&["--as", "erin", "sql", sql, "--format", "csv"]);
    for sql in [
        // Each fails on a US row only: an error would tell erin a hidden row exists.
        "select count(*) as n from crm.customers where 1 / (case when region = 'US' then 0 else 1 end) = 1",
        "select count(*) as n from crm.customers where cast(case when region = 'US' then 'x' else '1' end as int) = 1",
        "select count(*) as n from crm.customers where regexp_like(full_name, case when region = 'US' then '(' else '.' end)",
        "select count(*) as n from (select * from crm.customers) c where 10 % (case when region = 'US' then 0 else 3 end) >= 0",
    ] {
        let run = erin(sql);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, "n\n8\n"),
            "{sql}\n{}",
            run.stderr
        );
    }
    // The same expression on a visible row still fails, as it would for any table.
    let run = erin(
        "select count(*) as n from crm.customers where 1 / (case when region = 'EU' then 0 else 1 end) = 1",
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("Divide by zero"), "{}", run.stderr);
}

#[test]
fn writers_of_a_domain_get_no_tokens_to_match() {
    let mesh = crm();
    mesh.ok(&["principal", "create", "wendy"]);
    mesh.ok(&["grant", "wendy", "write", "crm.people"]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    // Wendy could ingest guessed emails and compare their tokens with bob's view: she gets none.
    let guess = write(
        &mesh,
        "guess.csv",
        "ticket_id,customer_email,subject\n900,anna.rossi@example.org,guess\n",
    );
    mesh.ok(&["--as", "wendy", "ingest", "crm.tickets", &guess]);
    let wendy = mesh.ok(&[
        "--as",
        "wendy",
        "sql",
        "select customer_email from crm.tickets where ticket_id = 900",
        "--format",
        "csv",
    ]);
    assert_eq!(
        wendy,
        "customer_email\n[token withheld from writers of this domain]\n"
    );
    let bob = bobs_email(&mesh);
    assert_eq!(bob.len(), 32);
    assert!(!wendy.contains(&bob));
    // A join on the column gives her nothing either: every row carries the same marker.
    let joined = mesh.ok(&[
        "--as",
        "wendy",
        "sql",
        "select count(distinct c.email) as n from crm.customers c join crm.tickets t on c.email = t.customer_email",
        "--format",
        "csv",
    ]);
    assert_eq!(joined, "n\n1\n");
}

#[test]
fn the_ledger_publishes_no_literals() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let secret = "zed.secret@example.net";
    let sql = format!("select id from crm.customers where email = '{secret}' and id > -987654321");
    mesh.ok(&["sql", &sql]);
    let tail = mesh.ok(&["ledger", "tail", "--limit", "1"]);
    let index = tail
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let entry = mesh.ok(&["--as", "bob", "ledger", "show", index]);
    assert!(
        !entry.contains(secret) && !entry.contains("987654321"),
        "{entry}"
    );
    let entry: serde_json::Value = serde_json::from_str(&entry).unwrap();
    let body = &entry["entry"]["body"];
    assert_eq!(entry["entry"]["kind"], "query.run");
    assert_eq!(
        body["sql_shape"],
        "SELECT id FROM crm.customers WHERE email = ? AND id > -?"
    );
    assert_eq!(body["sql_hmac"].as_str().unwrap().len(), 64, "{body}");
    // The exact text reaches the administrator only.
    let err = mesh.fails(4, &["--as", "bob", "ledger", "show", index, "--sql"]);
    assert!(!err.contains(secret), "{err}");
    assert_eq!(mesh.ok(&["ledger", "show", index, "--sql"]).trim(), sql);
    // Nothing the log publishes (entries, tiles, checkpoints) holds the literal.
    let mut stack = vec![mesh.data().join("ledger")];
    while let Some(dir) = stack.pop() {
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.is_dir() {
                stack.push(file);
            } else {
                let bytes = std::fs::read(&file).unwrap();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds the literal",
                    file.display()
                );
            }
        }
    }
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn metadata_follows_grants() {
    let mesh = crm();
    mesh.ok(&["principal", "create", "dave"]);
    let show = mesh.ok(&["--as", "dave", "product", "show", "crm.people"]);
    assert!(
        show.contains("table crm.customers  version -  rows -  quarantined -"),
        "{show}"
    );
    assert!(!show.contains("customers.csv"), "ingest sources: {show}");
    assert_no_raw("product show", &show);
    let admin = mesh.ok(&["product", "show", "crm.people"]);
    assert!(admin.contains("rows 12"), "{admin}");
    // Names stay discoverable to the administrator; a reader finds only what it may read.
    assert!(mesh.ok(&["search", "payment card"]).contains("crm.people"));
    let found = mesh.ok(&["--as", "dave", "search", "payment card"]);
    assert!(!found.contains("crm.people"), "{found}");
    let err = mesh.fails(4, &["--as", "dave", "lineage", "crm.customers"]);
    assert!(err.contains("dave"), "{err}");
    mesh.ok(&["grant", "dave", "read", "crm.people"]);
    assert!(
        mesh.ok(&["--as", "dave", "search", "payment card"])
            .contains("crm.people")
    );
}

#[test]
fn a_denied_column_is_withheld_from_product_show() {
    let mesh = crm();
    let policy = "\
kind: AgoraPolicy
domain: crm
columns:
  - column: crm.customers.card
    action: deny
";
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "deny.yaml", policy),
    ]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let show = mesh.ok(&["--as", "bob", "product", "show", "crm.people"]);
    assert!(
        show.contains("(withheld, denied by policy: card)"),
        "{show}"
    );
    assert!(show.contains("sample rows"), "{show}");
    for raw in RAW
        .iter()
        .filter(|r| r.contains("4242") || r.contains("5555"))
    {
        assert!(!show.contains(raw), "{show}");
    }
}

#[test]
fn a_row_filter_holds_on_the_quarantine_and_keeps_the_batch_results_away() {
    let mesh = crm_with_row_filter();
    // One refused row per region: the ids are not numbers.
    let bad = write(
        &mesh,
        "bad-regions.csv",
        "id,full_name,email,card,birth_date,region,ip\n\
         eu1,Anna Rossi,anna.rossi@example.org,,,EU,\n\
         us1,Mary Johnson,mary.johnson@example.com,,,US,\n",
    );
    mesh.ok(&["ingest", "crm.customers", &bad]);
    let erin = |sql: &str| mesh.run(&["--as", "erin", "sql", sql, "--format", "csv"]);
    let seen = erin("select id, region from crm.customers__quarantine");
    assert_eq!(seen.stdout, "id,region\neu1,EU\n", "{}", seen.stderr);
    for sql in [
        "select count(*) from crm.customers__quarantine where region = 'US'",
        "explain verbose select * from crm.customers__quarantine",
    ] {
        let out = erin(sql);
        assert!(!out.stdout.contains("us1"), "{sql}: {}", out.stdout);
        assert!(
            !out.stdout.contains("mary.johnson"),
            "{sql}: {}",
            out.stdout
        );
    }
    // The quality results count rows of whole batches, hers and others': not hers to read.
    let results = erin("select * from crm.customers__quality");
    assert_ne!(results.code, 0);
    assert!(results.stderr.contains("not found"), "{}", results.stderr);
}
