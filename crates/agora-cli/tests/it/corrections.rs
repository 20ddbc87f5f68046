//! Suggested corrections end to end: `agora quality suggest` lists them with their evidence,
//! `--preview` shows the rows before and after, `apply` makes one new version and a signed
//! ledger entry without values, `revert` undoes exactly the rows it changed; and the ways this
//! goes wrong (an id that does not exist or was applied, rows changed since, rows a keyless
//! table cannot tell apart, a reader without a write grant, masked readers' tokens).

use serde_json::Value;

use crate::governance::{crm, path};
use crate::harness::Mesh;
use crate::quality::csv_file;

/// 120 accounts over three countries, with one of each fault the suggestions know: a typo
/// (5), swapped country and city (6), an amount in cents (7), an e-mail with capitals and
/// spaces (8), a date in another format (9), a case variant (10).
fn accounts_csv() -> String {
    let places = [
        ("Germany", "Berlin"),
        ("France", "Paris"),
        ("Spain", "Madrid"),
    ];
    let mut out = String::from("customer_id,email,country,city,amount,signed_up\n");
    for i in 1..=120u32 {
        let (mut country, mut city) = places[i as usize % 3];
        let mut amount = format!("{}.{:02}", 20 + i % 30, (i * 7) % 100);
        let mut email = format!("user{i}@example.com");
        let mut date = format!("2024-0{}-{}", 1 + i % 9, 10 + i % 18);
        match i {
            5 => country = "Germny",
            6 => (country, city) = (city, country),
            7 => amount = format!("{}", (20 + i % 30) * 1000 + 490),
            8 => email = " User8@Example.COM".to_string(),
            9 => date = "31/01/2024".to_string(),
            10 => country = "germany ",
            _ => {}
        }
        out.push_str(&format!("{i},{email},{country},{city},{amount},{date}\n"));
    }
    out
}

fn accounts() -> Mesh {
    let mesh = Mesh::new();
    mesh.ok(&["product", "apply", &path("accounts.yaml")]);
    let file = csv_file(&mesh, "accounts.csv", &accounts_csv());
    mesh.ok(&["ingest", "sales.accounts", &file]);
    mesh
}

fn suggestions(mesh: &Mesh) -> Vec<Value> {
    let out = mesh.ok(&["quality", "suggest", "sales.accounts", "--format", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["suggestions"].as_array().unwrap().clone()
}

fn id_of(list: &[Value], kind: &str) -> String {
    list.iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} suggestion in {list:#?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn row(mesh: &Mesh, id: u32) -> String {
    mesh.csv(&format!(
        "select email, country, city, amount, signed_up from sales.accounts where customer_id = {id}"
    ))
    .lines()
    .nth(1)
    .unwrap()
    .to_string()
}

fn version(mesh: &Mesh) -> String {
    let out = mesh.ok(&["product", "show", "sales.accounts"]);
    out.lines()
        .find_map(|l| l.strip_prefix("table sales.accounts  version "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no version in {out}"))
        .to_string()
}

#[test]
fn each_fault_gets_the_right_correction_with_its_evidence() {
    let mesh = accounts();
    let list = suggestions(&mesh);
    let proposed = |kind: &str| {
        let s = list.iter().find(|s| s["kind"] == kind).unwrap();
        (
            s["column"].as_str().unwrap().to_string(),
            s["original"].as_str().unwrap().to_string(),
            s["proposed"].as_str().unwrap().to_string(),
            s["rows"].as_u64().unwrap(),
        )
    };
    let owned = |c: &str, o: &str, p: &str| (c.to_string(), o.to_string(), p.to_string(), 1);
    assert_eq!(proposed("typo"), owned("country", "Germny", "Germany"));
    assert_eq!(proposed("variant"), owned("country", "germany ", "Germany"));
    assert_eq!(
        proposed("swap"),
        owned("country, city", "Berlin | Germany", "Germany | Berlin")
    );
    assert_eq!(proposed("unit_slip"), owned("amount", "27490", "27.49"));
    assert_eq!(
        proposed("email_format"),
        owned("email", " User8@Example.COM", "user8@example.com")
    );
    assert_eq!(
        proposed("date_format"),
        owned("signed_up", "31/01/2024", "2024-01-31")
    );
    assert_eq!(list.len(), 6, "nothing else is suggested: {list:#?}");
    for s in &list {
        let confidence = s["confidence"].as_f64().unwrap();
        assert!((0.5..1.0).contains(&confidence), "{s}");
        assert!(!s["evidence"].as_str().unwrap().is_empty(), "{s}");
    }
    let confidences: Vec<f64> = list
        .iter()
        .map(|s| s["confidence"].as_f64().unwrap())
        .collect();
    assert!(
        confidences.windows(2).all(|w| w[0] >= w[1]),
        "ranked: {confidences:?}"
    );

    // The text listing has the same ids, and the same data gives the same ids again.
    let text = mesh.ok(&["quality", "suggest", "sales.accounts"]);
    insta::assert_snapshot!("suggestions", text);
    for s in &list {
        assert!(text.contains(s["id"].as_str().unwrap()), "{text}");
    }
    assert_eq!(suggestions(&mesh), list);
}

#[test]
fn a_preview_shows_the_rows_before_and_after_and_changes_nothing() {
    let mesh = accounts();
    let typo = id_of(&suggestions(&mesh), "typo");
    let before_version = version(&mesh);
    let out = mesh.ok(&[
        "quality",
        "suggest",
        "sales.accounts",
        "--preview",
        &typo,
        "--format",
        "json",
    ]);
    let preview: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(preview["before"][0]["customer_id"], 5, "{preview}");
    assert_eq!(preview["before"][0]["country"], "Germny", "{preview}");
    assert_eq!(preview["after"][0]["country"], "Germany", "{preview}");
    assert_eq!(preview["after"][0]["city"], preview["before"][0]["city"]);
    let text = mesh.ok(&["quality", "suggest", "sales.accounts", "--preview", &typo]);
    assert!(
        text.contains("before:") && text.contains("after:"),
        "{text}"
    );
    assert_eq!(version(&mesh), before_version, "a preview writes nothing");
    assert!(row(&mesh, 5).contains("Germny"));
}

#[test]
fn apply_makes_one_version_and_a_signed_entry_and_revert_undoes_exactly_its_rows() {
    let mesh = accounts();
    let list = suggestions(&mesh);
    let (typo, swap, slip) = (
        id_of(&list, "typo"),
        id_of(&list, "swap"),
        id_of(&list, "unit_slip"),
    );
    let untouched = row(&mesh, 11);
    let row6 = row(&mesh, 6);
    // Alice owns the domain: her changes are signed with its key.
    let out = mesh.ok(&[
        "--as",
        "alice",
        "quality",
        "apply",
        "sales.accounts",
        &typo,
        &swap,
        &slip,
        "--format",
        "json",
    ]);
    let applied: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(applied["rows"], 3, "{applied}");
    assert_eq!(applied["version"], 2, "{applied}");
    assert_eq!(
        row(&mesh, 5),
        "user5@example.com,Germany,Madrid,25.35,2024-06-15"
    );
    assert_eq!(
        row(&mesh, 6),
        "user6@example.com,Germany,Berlin,26.42,2024-07-16"
    );
    assert!(row(&mesh, 7).contains(",27.49,"), "{}", row(&mesh, 7));
    assert_eq!(row(&mesh, 11), untouched);

    // One entry, signed by the domain, naming the suggestions and never their values.
    let entry = ledger_entry(&mesh, "quality.correction_applied");
    assert_eq!(entry["signer"], "sales", "{entry}");
    assert_eq!(entry["body"]["by"], "alice", "{entry}");
    let body = entry["body"].to_string();
    assert!(body.contains(&typo) && body.contains(&swap), "{body}");
    for value in ["Germny", "Berlin", "27490"] {
        assert!(!body.contains(value), "the entry quotes `{value}`: {body}");
    }

    // Applied suggestions are gone from the list; applying one again is a conflict.
    assert!(!suggestions(&mesh).iter().any(|s| s["id"] == typo.as_str()));
    let err = mesh.fails(5, &["quality", "apply", "sales.accounts", &typo]);
    assert!(
        err.contains(&format!("{typo} was applied to sales.accounts")),
        "{err}"
    );

    // Reverting the swap puts back row 6 alone, as another version; the others stay fixed.
    let out = mesh.ok(&[
        "--as", "alice", "quality", "revert", &swap, "--format", "json",
    ]);
    let reverted: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (reverted["rows"].as_u64(), reverted["version"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(row(&mesh, 6), row6);
    assert!(row(&mesh, 5).contains("Germany"));
    assert_eq!(
        ledger_entry(&mesh, "quality.correction_reverted")["signer"],
        "sales"
    );
    // Time travel still reads the corrected version.
    let at2 = mesh.ok(&[
        "sql",
        "select country from sales.accounts where customer_id = 6",
        "--version",
        "2",
        "--format",
        "csv",
    ]);
    assert_eq!(at2, "country\nGermany\n");
    let err = mesh.fails(5, &["quality", "revert", &swap]);
    assert!(err.contains("reverted already"), "{err}");
    // Reverted, the swap is suggested again, under the same id.
    assert!(suggestions(&mesh).iter().any(|s| s["id"] == swap.as_str()));
    mesh.ok(&["ledger", "verify"]);
}

fn ledger_entry(mesh: &Mesh, kind: &str) -> Value {
    let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
    let index = tail
        .lines()
        .rev()
        .find(|l| l.contains(kind))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {kind} entry in:\n{tail}"))
        .to_string();
    let entry: Value = serde_json::from_str(&mesh.ok(&["ledger", "show", &index])).unwrap();
    entry["entry"].clone()
}

#[test]
fn bad_ids_write_nothing() {
    let mesh = accounts();
    let typo = id_of(&suggestions(&mesh), "typo");
    let before = version(&mesh);
    // One good id beside an unknown one: nothing is applied.
    let err = mesh.fails(
        3,
        &["quality", "apply", "sales.accounts", &typo, "typo-00000000"],
    );
    assert!(
        err.contains("unknown suggestion `typo-00000000` for sales.accounts"),
        "{err}"
    );
    assert_eq!(version(&mesh), before);
    assert!(row(&mesh, 5).contains("Germny"));
    let err = mesh.fails(3, &["quality", "revert", "typo-00000000"]);
    assert!(
        err.contains("unknown applied correction `typo-00000000`"),
        "{err}"
    );
    let err = mesh.fails(
        3,
        &["quality", "suggest", "sales.accounts", "--preview", "nope"],
    );
    assert!(err.contains("unknown suggestion `nope`"), "{err}");
    let err = mesh.fails(3, &["quality", "suggest", "sales.nothing"]);
    assert!(err.contains("sales.nothing"), "{err}");
    let err = mesh.fails(
        2,
        &["quality", "suggest", "sales.accounts", "--format", "xml"],
    );
    assert!(err.contains("--format"), "{err}");
}

#[test]
fn a_reader_without_a_write_grant_sees_no_suggestions_and_applies_none() {
    let mesh = accounts();
    mesh.ok(&["grant", "bob", "read", "sales.accounts"]);
    let typo = id_of(&suggestions(&mesh), "typo");
    let err = mesh.fails(4, &["--as", "bob", "quality", "suggest", "sales.accounts"]);
    assert!(err.contains("a write grant is needed"), "{err}");
    mesh.fails(
        4,
        &["--as", "bob", "quality", "apply", "sales.accounts", &typo],
    );
    mesh.ok(&["quality", "apply", "sales.accounts", &typo]);
    mesh.fails(4, &["--as", "bob", "quality", "revert", &typo]);
}

#[test]
fn rows_changed_since_a_correction_keep_their_newer_values_on_revert() {
    let mesh = accounts();
    let list = suggestions(&mesh);
    let (typo, variant) = (id_of(&list, "typo"), id_of(&list, "variant"));
    mesh.ok(&["quality", "apply", "sales.accounts", &typo, &variant]);
    // Account 5 moves to Spain after the correction; account 10 is untouched since.
    let update = csv_file(
        &mesh,
        "update.csv",
        "customer_id,email,country,city,amount,signed_up\n5,user5@example.com,Spain,Madrid,25.35,2024-06-15\n",
    );
    mesh.ok(&["ingest", "sales.accounts", &update, "--mode", "merge"]);
    let err = mesh.fails(5, &["quality", "revert", &typo]);
    assert!(err.contains("has changed since"), "{err}");
    assert!(row(&mesh, 5).contains("Spain"));
    let out = mesh.ok(&["quality", "revert", &variant]);
    assert!(out.contains("1 row(s) changed"), "{out}");
    assert!(row(&mesh, 10).contains(",germany ,"), "{}", row(&mesh, 10));
}

fn visits(mesh: &Mesh, rows: &str) {
    let contract = "\
apiVersion: v3.0.2
kind: DataContract
id: sales-visits
name: visits
version: 1.0.0
status: active
domain: sales
schema:
  - name: visits
    properties:
      - name: region
        logicalType: string
      - name: country
        logicalType: string
";
    mesh.ok(&["product", "apply", &csv_file(mesh, "visits.yaml", contract)]);
    mesh.ok(&["ingest", "sales.visits", &csv_file(mesh, "v.csv", rows)]);
}

fn only_suggestion(mesh: &Mesh, kind: &str) -> String {
    let out = mesh.ok(&["quality", "suggest", "sales.visits", "--format", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    id_of(list["suggestions"].as_array().unwrap(), kind)
}

#[test]
fn a_keyless_table_refuses_a_revert_it_cannot_make_exactly() {
    let mesh = Mesh::new();
    let mut rows = String::from("region,country\n");
    for i in 0..60 {
        rows.push_str(if i % 2 == 0 {
            "EMEA,Germany\n"
        } else {
            "EMEA,France\n"
        });
    }
    rows.push_str("EMEA,Germny\n");
    visits(&mesh, &rows);
    let typo = only_suggestion(&mesh, "typo");
    mesh.ok(&["quality", "apply", "sales.visits", &typo]);
    // The corrected row is now one of 31 identical rows: which one to put back is unknowable.
    let err = mesh.fails(5, &["quality", "revert", &typo]);
    assert!(
        err.contains("31 rows of sales.visits look like the 1 it corrected"),
        "{err}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n from sales.visits where country = 'Germany'"),
        "n\n31\n"
    );
}

#[test]
fn a_corrected_value_gets_its_own_token_for_readers_who_see_it_hashed() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    // Anna's address again, written with capitals and a space, on a new customer row.
    let again = csv_file(
        &mesh,
        "more.csv",
        "id,full_name,email,card,birth_date,region,ip\n10,Anna Rossi, Anna.Rossi@Example.ORG,4242 4242 4242 4242,1980-04-03,EU,192.168.10.7\n",
    );
    mesh.ok(&["ingest", "crm.customers", &again]);
    let tokens = || {
        mesh.ok(&[
            "--as",
            "bob",
            "sql",
            "select email from crm.customers where id in (1, 10) order by id",
            "--format",
            "csv",
        ])
    };
    let before = tokens();
    let lines: Vec<&str> = before.lines().skip(1).collect();
    assert_ne!(lines[0], lines[1], "{before}");
    let out = mesh.ok(&["quality", "suggest", "crm.customers", "--format", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let email = id_of(list["suggestions"].as_array().unwrap(), "email_format");
    mesh.ok(&["quality", "apply", "crm.customers", &email]);
    let after = tokens();
    let lines: Vec<&str> = after.lines().skip(1).collect();
    assert_eq!(
        lines[0], lines[1],
        "the stored hash follows the value: {after}"
    );
    assert!(!after.contains("anna"), "{after}");
}

#[test]
fn the_same_over_http() {
    let mesh = accounts();
    let wendy = crate::server::token(&mesh, "wendy");
    mesh.ok(&["grant", "wendy", "write", "sales.accounts"]);
    let reader = crate::server::token(&mesh, "rita");
    mesh.ok(&["grant", "rita", "read", "sales.accounts"]);
    let served = crate::server::serve(&mesh);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str, token: &str| {
        let r = client
            .get(format!("{}{path}", served.http))
            .bearer_auth(token)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let post = |path: &str, token: &str, body: &str| {
        let r = client
            .post(format!("{}{path}", served.http))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, list) = get("/api/v1/tables/sales/accounts/suggestions", &wendy);
    assert_eq!(status, 200, "{list}");
    let list = list["suggestions"].as_array().unwrap().clone();
    let out = mesh.ok(&[
        "--as",
        "wendy",
        "quality",
        "suggest",
        "sales.accounts",
        "--format",
        "json",
    ]);
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        &list,
        cli["suggestions"].as_array().unwrap(),
        "the CLI and HTTP list the same"
    );
    // Wendy sees the e-mails hashed: no suggestion quotes or changes them for her.
    assert!(
        suggestions(&mesh)
            .iter()
            .any(|s| s["kind"] == "email_format")
    );
    assert!(
        !list.iter().any(|s| s["kind"] == "email_format"),
        "{list:#?}"
    );
    assert!(!serde_json::to_string(&list).unwrap().contains("User8"));
    let typo = id_of(&list, "typo");
    let (status, preview) = get(
        &format!("/api/v1/tables/sales/accounts/suggestions/{typo}/preview"),
        &wendy,
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["after"][0]["country"], "Germany");

    // A reader may not; bad bodies and unknown ids are refused with what was wrong.
    let (status, _) = get("/api/v1/tables/sales/accounts/suggestions", &reader);
    assert_eq!(status, 403);
    let path = "/api/v1/tables/sales/accounts/corrections";
    let (status, err) = post(path, &wendy, "{\"suggestion\": []}");
    assert_eq!(status, 400, "{err}");
    let (status, err) = post(path, &wendy, "{\"suggestions\": [\"typo-00000000\"]}");
    assert_eq!(status, 404, "{err}");
    let (status, err) = post(path, &wendy, "{\"suggestions\": []}");
    assert_eq!(status, 400, "{err}");

    let (status, applied) = post(path, &wendy, &format!("{{\"suggestions\": [\"{typo}\"]}}"));
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["rows"], 1);
    let (status, again) = post(path, &wendy, &format!("{{\"suggestions\": [\"{typo}\"]}}"));
    assert_eq!(status, 409, "{again}");
    let revert = format!("/api/v1/corrections/{typo}/revert");
    let (status, _) = post(&revert, &reader, "");
    assert_eq!(status, 403);
    let (status, reverted) = post(&revert, &wendy, "");
    assert_eq!(status, 200, "{reverted}");
    assert_eq!(reverted["rows"], 1);
    let (status, _) = post(&revert, &wendy, "");
    assert_eq!(status, 409);
    drop(served);
    assert!(row(&mesh, 5).contains("Germny"));
}

#[test]
fn a_crash_at_any_step_of_a_correction_leaves_it_whole_and_revertible() {
    for failpoint in [
        "table_change.after_pending",
        "table_change.after_step",
        "table_change.after_ledger",
    ] {
        let mesh = accounts();
        let typo = id_of(&suggestions(&mesh), "typo");
        let run = mesh.run_env(
            &[("AGORA_FAILPOINT", failpoint)],
            &["quality", "apply", "sales.accounts", &typo],
        );
        assert!(
            run.stderr.contains(failpoint),
            "{failpoint}: {}",
            run.stderr
        );
        // The next command finishes it: the log verifies, and either the correction is made
        // and recorded (so it reverts), or it is not made and is still suggested.
        mesh.ok(&["ledger", "verify"]);
        if row(&mesh, 5).contains("Germny") {
            assert_eq!(failpoint, "table_change.after_pending");
            assert!(suggestions(&mesh).iter().any(|s| s["id"] == typo.as_str()));
            mesh.ok(&["quality", "apply", "sales.accounts", &typo]);
        } else {
            let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
            assert_eq!(
                tail.matches("quality.correction_applied").count(),
                1,
                "{failpoint}: one entry\n{tail}"
            );
        }
        mesh.ok(&["quality", "revert", &typo]);
        assert!(row(&mesh, 5).contains("Germny"), "{failpoint}");
    }
}

/// Makes `writer` a writer of `table` (a `sales` table with a `city` column) who sees only the
/// rows of `city`.
pub(crate) fn city_writer(mesh: &Mesh, table: &str, writer: &str, city: &str) {
    let global = "kind: AgoraPolicy\nattributes:\n  city: [Paris, Berlin, Madrid]\n";
    mesh.ok(&["policy", "apply", &csv_file(mesh, "global.yaml", global)]);
    let policy = format!(
        "kind: AgoraPolicy\ndomain: sales\nrows:\n  - table: {table}\n    filter: city = principal.city\n"
    );
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &csv_file(mesh, "sales-policy.yaml", &policy),
    ]);
    let attr = format!("city={city}");
    mesh.ok(&["principal", "create", writer, "--attr", &attr]);
    mesh.ok(&["grant", writer, "write", table]);
}

#[test]
fn a_writer_under_a_row_filter_neither_sees_nor_changes_rows_outside_it() {
    let mesh = accounts();
    city_writer(&mesh, "sales.accounts", "paula", "Paris");
    // Account 5 (the typo) lives in Madrid: Paula's suggestions come from Paris rows only,
    // and the administrator's id for it names no suggestion of hers.
    let typo = id_of(&suggestions(&mesh), "typo");
    let out = mesh.ok(&[
        "--as",
        "paula",
        "quality",
        "suggest",
        "sales.accounts",
        "--format",
        "json",
    ]);
    assert!(!out.contains("Germny"), "{out}");
    let err = mesh.fails(
        3,
        &["--as", "paula", "quality", "apply", "sales.accounts", &typo],
    );
    assert!(err.contains(&typo), "{err}");
    assert!(row(&mesh, 5).contains("Germny"));
}

#[test]
fn quotes_and_accents_in_values_are_values_and_a_keyless_revert_is_exact_when_rows_differ() {
    let mesh = Mesh::new();
    let mut rows = String::from("region,country\n");
    for i in 0..60 {
        let country = if i % 2 == 0 {
            "Côte d'Ivoire"
        } else {
            "France"
        };
        rows.push_str(&format!("r{i},\"{country}\"\n"));
    }
    rows.push_str("r99,\"Côte d'Ivoir\"\n");
    visits(&mesh, &rows);
    let typo = only_suggestion(&mesh, "typo");
    mesh.ok(&["quality", "apply", "sales.visits", &typo]);
    let count = |country: &str| {
        mesh.csv(&format!(
            "select count(*) as n from sales.visits where country = '{}'",
            country.replace('\'', "''")
        ))
    };
    assert_eq!(count("Côte d'Ivoire"), "n\n31\n");
    let out = mesh.ok(&["quality", "revert", &typo]);
    assert!(out.contains("1 row(s) changed"), "{out}");
    assert_eq!(count("Côte d'Ivoire"), "n\n30\n");
    assert_eq!(
        mesh.csv("select region from sales.visits where country = 'Côte d''Ivoir'"),
        "region\nr99\n"
    );
}

#[test]
fn an_erasure_forgets_the_corrections_that_hold_the_erased_values() {
    let mesh = crm();
    let again = csv_file(
        &mesh,
        "more.csv",
        "id,full_name,email,card,birth_date,region,ip\n10,Anna Rossi, Anna.Rossi@Example.ORG,4242 4242 4242 4242,1980-04-03,EU,192.168.10.7\n",
    );
    mesh.ok(&["ingest", "crm.customers", &again]);
    let out = mesh.ok(&["quality", "suggest", "crm.customers", "--format", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let email = id_of(list["suggestions"].as_array().unwrap(), "email_format");
    mesh.ok(&["quality", "apply", "crm.customers", &email]);
    // The correction's record keeps ` Anna.Rossi@Example.ORG`; erasing Anna takes it too.
    mesh.ok(&[
        "erase",
        "--column-category",
        "email",
        "--value",
        "anna.rossi@example.org",
    ]);
    let err = mesh.fails(3, &["quality", "revert", &email]);
    assert!(err.contains("unknown applied correction"), "{err}");
}
