//! Governance end to end: columns classified on ingest, owners' overrides, policies applied
//! whole or not at all, and masks and row filters that hold against every SQL route and every
//! interface (CLI, HTTP, Postgres wire).

use crate::harness::{Mesh, testdata};
use crate::server::{psql, serve};

/// Raw values of `customers.csv` that a reader below their level must never see.
pub(crate) const RAW: &[&str] = &[
    "anna.rossi@example.org",
    "mary.johnson@example.com",
    "4242 4242 4242 4242",
    "5555555555554444",
    "Anna Rossi",
    "1980-04-03",
];

pub(crate) fn path(name: &str) -> String {
    testdata(name).to_str().unwrap().to_string()
}

/// A mesh with domain `crm` (owner alice) holding customers and tickets, ingested.
pub(crate) fn crm() -> Mesh {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "crm", "--owner", "alice"]);
    mesh.ok(&["product", "apply", &path("crm.yaml")]);
    mesh.ok(&["ingest", "crm.customers", &path("customers.csv")]);
    mesh.ok(&["ingest", "crm.tickets", &path("tickets.csv")]);
    mesh
}

pub(crate) fn write(mesh: &Mesh, name: &str, text: &str) -> String {
    let file = mesh.dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

pub(crate) fn assert_no_raw(what: &str, out: &str) {
    for raw in RAW {
        assert!(!out.contains(raw), "{what} leaked `{raw}`:\n{out}");
    }
}

pub(crate) const GLOBAL_POLICY: &str = "\
kind: AgoraPolicy
attributes:
  region: [EU, US]
columns:
  - category: payment_card
    action: mask
  - category: person_name
    action: mask
  - category: date_of_birth
    action: generalize
";

#[test]
fn classify_a_file_without_ingesting_it() {
    let mesh = Mesh::new();
    let text = mesh.ok(&["classify", &path("customers.csv")]);
    insta::assert_snapshot!("classify_customers", text);
    let out = mesh.ok(&["classify", &path("decoys.csv"), "--format", "json"]);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    for column in &lines {
        assert_eq!(column["category"], "none", "a decoy was flagged: {column}");
        for key in ["column", "sensitivity", "confidence", "evidence"] {
            assert!(!column[key].is_null(), "{key} missing: {column}");
        }
    }
    let err = mesh.fails(3, &["classify", "/nonexistent.csv"]);
    assert!(err.contains("/nonexistent.csv"), "{err}");
}

/// Real tables' names of things, measurements that fit within ±90 and dates of anything are
/// not personal data: each is shown with the evidence that ruled the category out.
#[test]
fn classify_tells_names_of_things_from_names_of_people() {
    let mesh = Mesh::new();
    let file = write(
        &mesh,
        "real.csv",
        "carrier,name,president,start,born,lat,long,age,pop_change_pct,order_id\n\
         9E,Endeavor Air Inc.,George Washington,1789-04-30,1732-02-22,41.1,-80.6,34,0.0932,2015-000006\n\
         AA,American Airlines Inc.,John Adams,1797-03-04,1735-10-30,32.4,-85.6,56,-0.0111,2015-000007\n\
         AS,Alaska Airlines Inc.,Thomas Jefferson,1801-03-04,1743-04-13,41.9,-88.1,23,0.0067,2015-000031\n\
         B6,JetBlue Airways,Barack Obama,2009-01-20,1961-08-04,40.6,181.6,71,0.0773,2016-000002\n\
         DL,Delta Air Lines Inc.,Joe Biden,2021-01-20,1942-11-20,33.6,-84.4,45,-0.0046,2016-000090\n",
    );
    let text = mesh.ok(&["classify", &file]);
    insta::assert_snapshot!("classify_real_table", text);
    let json = mesh.ok(&["classify", &file, "--format", "json"]);
    let by_column: std::collections::HashMap<String, serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|c| (c["column"].as_str().unwrap().to_string(), c))
        .collect();
    let category = |c: &str| by_column[c]["category"].as_str().unwrap().to_string();
    assert_eq!(category("name"), "none");
    assert_eq!(by_column["name"]["ruled_out"][0]["category"], "person_name");
    assert_eq!(category("president"), "person_name");
    assert_eq!(
        category("start"),
        "none",
        "a date is no birth date by itself"
    );
    assert_eq!(
        category("lat"),
        "geolocation",
        "one decimal, named as a latitude"
    );
    assert_eq!(category("long"), "geolocation", "longitudes may run to 360");
    assert_eq!(category("age"), "none");
    assert_eq!(category("pop_change_pct"), "none");
    assert_eq!(category("order_id"), "none", "numbered by year, not phones");
}

const FLEET: &str = "\
apiVersion: v3.0.2
kind: DataContract
id: fleet-cars
name: cars
version: 1.0.0
status: active
domain: fleet
schema:
  - name: cars
    properties:
      - name: id
        logicalType: integer
      - name: contact
        logicalType: string
      - name: make
        logicalType: string
";

/// Car models read like names to the model, which is unsure of them: the category is a
/// suggestion, masked like any label until the domain's owner rejects it (or confirms another).
#[test]
fn a_suggested_category_masks_until_an_owner_confirms_or_rejects_it() {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "fleet", "--owner", "alice"]);
    mesh.ok(&["product", "apply", &write(&mesh, "fleet.yaml", FLEET)]);
    let cars = write(
        &mesh,
        "cars.csv",
        "id,contact,make\n1,Heald,Acura Integra\n2,Desjardins,Audi Quattro\n3,Mackay,Buick Century\n\
         4,Pratte,Chevrolet Cavalier\n5,Marceau,Dodge Colt\n6,Stone,Ford Festiva\n\
         7,Urie,Honda Civic\n8,Hugessen,Mazda Protege\n",
    );
    let ingested = mesh.ok(&["ingest", "fleet.cars", &cars]);
    assert!(
        ingested.contains("a suggestion: `agora tag confirm fleet.cars.make`"),
        "{ingested}"
    );
    let list = mesh.ok(&["tag", "list", "fleet.cars"]);
    let line = |list: &str, column: &str| {
        list.lines()
            .find(|l| l.starts_with(column))
            .unwrap_or_else(|| panic!("no {column} in:\n{list}"))
            .to_string()
    };
    assert!(
        line(&list, "make").contains("person_name, confidential"),
        "{list}"
    );
    assert!(line(&list, "make").contains("a suggestion"), "{list}");
    assert!(!line(&list, "contact").contains("suggestion"), "{list}");

    mesh.ok(&["principal", "create", "erin"]);
    mesh.ok(&["grant", "erin", "read", "fleet.cars"]);
    let read = [
        "--as",
        "erin",
        "sql",
        "select make from fleet.cars where id = 1",
    ];
    assert!(
        !mesh.ok(&read).contains("Acura Integra"),
        "a suggestion masks"
    );

    // Only the domain's owner decides; a decision needs the classifier's category.
    let denied = mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "tag",
            "reject",
            "fleet.cars.make",
            "--reason",
            "cars",
        ],
    );
    assert!(denied.contains("fleet"), "{denied}");
    let rejected = mesh.ok(&[
        "--as",
        "alice",
        "tag",
        "reject",
        "fleet.cars.make",
        "--reason",
        "car models, not people",
    ]);
    assert!(
        rejected.contains("person_name rejected by alice"),
        "{rejected}"
    );
    assert!(
        mesh.ok(&read).contains("Acura Integra"),
        "rejected: readable"
    );
    let again = mesh.fails(
        2,
        &[
            "--as",
            "alice",
            "tag",
            "reject",
            "fleet.cars.make",
            "--reason",
            "again",
        ],
    );
    assert!(
        again.contains("override: car models, not people"),
        "{again}"
    );

    mesh.ok(&["--as", "alice", "tag", "confirm", "fleet.cars.contact"]);
    let list = mesh.ok(&["tag", "list", "fleet.cars"]);
    assert!(
        line(&list, "contact").contains("person_name, confidential, override: confirmed"),
        "{list}"
    );
    assert!(
        line(&list, "make").contains("none, public, override: car models"),
        "{list}"
    );
    // A later ingest's classifier does not undo either decision.
    mesh.ok(&["ingest", "fleet.cars", &cars, "--allow-duplicate"]);
    assert_eq!(mesh.ok(&["tag", "list", "fleet.cars"]), list);
}

#[test]
fn ingest_classifies_and_owners_override() {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "crm", "--owner", "alice"]);
    mesh.ok(&["product", "apply", &path("crm.yaml")]);
    let out = mesh.ok(&["ingest", "crm.customers", &path("customers.csv")]);
    for line in [
        "classified email: email (confidential",
        "classified card: payment_card (restricted",
        "classified full_name: person_name (confidential",
        "classified birth_date: date_of_birth (confidential",
        "classified ip: ip_address (internal",
    ] {
        assert!(out.contains(line), "{line} missing from:\n{out}");
    }
    let show = mesh.ok(&["product", "show", "crm.people"]);
    assert!(
        show.lines()
            .any(|l| l.trim_start().starts_with("email") && l.contains("[email, confidential,")),
        "{show}"
    );
    // Search finds the product by what its columns hold.
    let found = mesh.ok(&["search", "payment card"]);
    assert!(found.contains("crm.people"), "{found}");

    // An owner overrides; the override survives later automatic runs.
    mesh.ok(&[
        "--as",
        "alice",
        "tag",
        "set",
        "crm.customers.ip",
        "none",
        "--reason",
        "documentation ranges only, no real clients",
    ]);
    mesh.ok(&[
        "ingest",
        "crm.customers",
        &path("customers.csv"),
        "--allow-duplicate",
    ]);
    let tags = mesh.ok(&["tag", "list", "crm.customers"]);
    let ip = tags.lines().find(|l| l.starts_with("ip ")).unwrap();
    assert!(
        ip.contains("none, public, override: documentation ranges"),
        "{ip}"
    );

    // Bad overrides: a missing column, an unknown category, someone who is not an owner.
    let err = mesh.fails(
        3,
        &[
            "tag",
            "set",
            "crm.customers.phone",
            "phone_number",
            "--reason",
            "x",
        ],
    );
    assert!(
        err.contains("unknown column `crm.customers.phone`"),
        "{err}"
    );
    assert!(err.contains("email"), "the error lists the columns: {err}");
    let err = mesh.fails(
        2,
        &[
            "tag",
            "set",
            "crm.customers.email",
            "emails",
            "--reason",
            "x",
        ],
    );
    assert!(err.contains("unknown category `emails`"), "{err}");
    let err = mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "tag",
            "set",
            "crm.customers.email",
            "none",
            "--reason",
            "x",
        ],
    );
    assert!(
        err.contains("bob may not tag columns of domain crm"),
        "{err}"
    );

    // Values that drift to another category get a new tag on the next ingest.
    mesh.ok(&["ingest", "crm.tickets", &path("tickets.csv")]);
    let drifted: String = std::iter::once("ticket_id,customer_email,subject\n".to_string())
        .chain((0..20).map(|i| {
            format!(
                "{},x{i}@example.org,reply-to{i}@mail.example.com\n",
                200 + i
            )
        }))
        .collect();
    let out = mesh.ok(&[
        "ingest",
        "crm.tickets",
        &write(&mesh, "drift.csv", &drifted),
    ]);
    assert!(
        out.contains("classified subject: email (confidential") && out.contains("was none"),
        "{out}"
    );

    let tail = mesh.ok(&["ledger", "tail", "--limit", "50"]);
    assert!(tail.contains("classification.decided"), "{tail}");
    assert!(tail.contains("classification.overridden"), "{tail}");
}

/// The crm mesh under the global policy, with bob granted read on crm.people.
fn crm_read_by_bob() -> Mesh {
    let mesh = crm();
    mesh.ok(&[
        "policy",
        "apply",
        &write(&mesh, "global.yaml", GLOBAL_POLICY),
    ]);
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    mesh
}

#[test]
fn masks_hold_against_every_sql_route() {
    let mesh = crm_read_by_bob();
    let bob = |sql: &str| mesh.ok(&["--as", "bob", "sql", sql, "--format", "csv"]);

    // Each category its own action; the email (confidential, no rule) is hashed by default.
    let row = bob("select full_name, email, card, birth_date, ip from crm.customers where id = 1");
    assert_eq!(
        row.lines().nth(1).unwrap().split(',').collect::<Vec<_>>()[..1],
        ["A. R."],
        "{row}"
    );
    assert!(row.contains("**** **** **** 4242"), "{row}");
    assert!(row.contains("1980-01-01"), "{row}");
    assert!(
        row.contains("192.168.10.7"),
        "internal data is within bob's clearance: {row}"
    );
    let hashed = row
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(hashed.len(), 32, "{row}");

    for (what, sql) in [
        ("select *", "select * from crm.customers"),
        (
            "an alias",
            "select email as e, card as c from crm.customers",
        ),
        (
            "a subquery",
            "select e from (select email as e from crm.customers) s",
        ),
        (
            "a CTE",
            "with x as (select * from crm.customers) select email, full_name from x",
        ),
        (
            "a union",
            "select email from crm.customers union all select customer_email from crm.tickets",
        ),
        (
            "aggregates",
            "select min(email), max(email), min(card), max(full_name) from crm.customers",
        ),
        (
            "string functions",
            "select upper(email), substr(card, 1, 19), concat(full_name, '') from crm.customers",
        ),
        (
            "a case on the raw value",
            "select case when email = 'anna.rossi@example.org' then email else 'x' end as v from crm.customers",
        ),
        (
            "a window",
            "select first_value(email) over (order by id) from crm.customers",
        ),
        (
            "a cast",
            "select cast(birth_date as varchar) from crm.customers",
        ),
    ] {
        assert_no_raw(what, &bob(sql));
    }
    // Filtering on a masked column compares the masked value: counting cannot probe raw data.
    for sql in [
        "select count(*) as n from crm.customers where email = 'anna.rossi@example.org'",
        "select count(*) as n from crm.customers where email like 'anna%'",
        "select count(*) as n from crm.customers where card = '4242 4242 4242 4242'",
        "select count(*) as n from crm.customers where birth_date = date '1980-04-03'",
        "select count(*) as n from crm.customers where full_name in (select 'Anna Rossi')",
    ] {
        assert_eq!(bob(sql), "n\n0\n", "{sql}");
    }
    // Hashes are keyed and deterministic: the same email joins across tables.
    assert_eq!(
        bob(
            "select count(*) as n from crm.customers c join crm.tickets t on c.email = t.customer_email"
        ),
        "n\n6\n"
    );
    // The rewrite is visible, and cannot be called or bypassed.
    let plan = bob("explain select email from crm.customers");
    assert!(plan.contains("agora_hash"), "{plan}");
    let err = mesh.fails(
        2,
        &[
            "--as",
            "bob",
            "sql",
            "select agora_hash('anna.rossi@example.org')",
        ],
    );
    assert!(err.contains("agora_hash"), "{err}");
    let out_file = mesh.dir.path().join("leak.csv");
    let copy = format!(
        "copy (select * from crm.customers) to '{}'",
        out_file.display()
    );
    mesh.fails(2, &["--as", "bob", "sql", &copy]);
    assert!(!out_file.exists());
    mesh.fails(
        2,
        &[
            "--as",
            "bob",
            "sql",
            "create function f(x varchar) returns varchar return x",
        ],
    );

    // Contract examples are values too: withheld from a reader who sees the column masked.
    let shown = mesh.ok(&["--as", "bob", "product", "show", "crm.people"]);
    assert_no_raw("product show", &shown);
    assert!(shown.contains("[withheld by policy]"), "{shown}");
    // Its sample rows go through the same governed read: masked for bob, raw for the
    // administrator, absent for someone who may not read the product.
    assert!(
        shown.contains("sample rows") && shown.contains("**** **** **** 4242"),
        "{shown}"
    );
    let admin_show = mesh.ok(&["product", "show", "crm.people"]);
    assert!(admin_show.contains("4242 4242 4242 4242"), "{admin_show}");
    mesh.ok(&["principal", "create", "dave"]);
    let dave_show = mesh.ok(&["--as", "dave", "product", "show", "crm.people"]);
    assert!(!dave_show.contains("sample rows"), "{dave_show}");
    assert_no_raw("product show without a grant", &dave_show);
    assert!(
        mesh.ok(&["product", "show", "crm.people"])
            .contains("anna.rossi@example.org")
    );

    // The administrator reads everything; the audit entry names what was masked.
    let admin = mesh.csv("select email from crm.customers where id = 1");
    assert_eq!(admin, "email\nanna.rossi@example.org\n");
    bob("select email, id from crm.customers");
    let tail = mesh.ok(&["ledger", "tail", "--limit", "3"]);
    let last = tail.lines().last().unwrap();
    let index = last.split_whitespace().next().unwrap();
    let entry: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["ledger", "show", index])).unwrap();
    assert_eq!(entry["entry"]["kind"], "query.run");
    assert_eq!(
        entry["entry"]["body"]["masked_columns"],
        serde_json::json!(["crm.customers.email"])
    );
}

#[test]
fn hashes_stored_on_ingest_are_the_hashes_readers_get() {
    let mesh = crm();
    mesh.ok(&["grant", "bob", "read", "crm.people"]);
    let bob = |sql: &str| mesh.ok(&["--as", "bob", "sql", sql, "--format", "csv"]);

    // The first ingest stored the email's hash; the reader's plan reads it instead of the raw
    // column, and no one sees the hidden column.
    let plan = bob("explain select email from crm.customers");
    let scan = plan
        .lines()
        .find(|l| l.contains("TableScan"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(scan.contains("projection=[__agora_hash__email]"), "{plan}");
    for who in [None, Some("bob")] {
        let mut args = vec!["sql", "select * from crm.customers", "--format", "csv"];
        if let Some(who) = who {
            args.splice(0..0, ["--as", who]);
        }
        let out = mesh.ok(&args);
        assert_eq!(
            out.lines().next().unwrap(),
            "id,full_name,email,card,birth_date,region,ip",
            "{who:?}"
        );
    }
    let err = mesh.fails(2, &["sql", "select __agora_hash__email from crm.customers"]);
    assert!(err.contains("__agora_hash__email"), "{err}");

    // A column classified `none` becomes confidential by an override: the rows ingested before
    // have no stored hash (the mask computes it), the rows ingested after do. Both give the
    // same hash for the same value, so each subject still counts twice.
    mesh.ok(&[
        "tag",
        "set",
        "crm.tickets.subject",
        "none",
        "--sensitivity",
        "confidential",
        "--reason",
        "subjects quote customers",
    ]);
    mesh.ok(&[
        "ingest",
        "crm.tickets",
        &path("tickets.csv"),
        "--allow-duplicate",
    ]);
    let plan = bob("explain select subject from crm.tickets");
    assert!(
        plan.contains("__agora_hash_partial__subject") && plan.contains("agora_hash("),
        "{plan}"
    );
    assert_eq!(
        bob("select count(*) as n, count(distinct subject) as d from crm.tickets"),
        mesh.csv("select count(*) as n, count(distinct subject) as d from crm.tickets")
    );
    let per_value =
        bob("select subject, count(*) as n from crm.tickets group by subject order by subject");
    let rows: Vec<&str> = per_value.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{per_value}");
    for row in rows {
        let (hash, n) = row.split_once(',').unwrap();
        assert_eq!((hash.len(), n), (32, "2"), "{per_value}");
    }
    assert!(!per_value.contains("Late delivery"), "{per_value}");
}

#[test]
fn deny_and_row_filters_fail_closed_on_every_interface() {
    let mesh = crm();
    mesh.ok(&[
        "policy",
        "apply",
        &write(&mesh, "global.yaml", GLOBAL_POLICY),
    ]);
    let crm_policy = "\
kind: AgoraPolicy
domain: crm
columns:
  - column: crm.customers.card
    action: deny
rows:
  - table: crm.customers
    filter: region = principal.region
";
    // The domain's owner applies its policy.
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "crm.yaml", crm_policy),
    ]);
    let erin = mesh.ok(&["principal", "create", "erin", "--attr", "region=EU"]);
    let erin_token = erin.rsplit(": ").next().unwrap().trim().to_string();
    for who in ["bob", "erin"] {
        mesh.ok(&["grant", who, "read", "crm.people"]);
    }
    let sql = |who: &str, q: &str| mesh.ok(&["--as", who, "sql", q, "--format", "csv"]);

    // Deny: any use of the column fails naming it; queries without it run.
    for q in [
        "select card from crm.customers",
        "select * from crm.customers",
        "select count(*) from crm.customers where card is null",
    ] {
        let err = mesh.fails(4, &["--as", "erin", "sql", q]);
        assert!(
            err.contains("may not read column crm.customers.card"),
            "{q}: {err}"
        );
    }
    // Row filters: erin sees the EU rows only, bob (no region) sees none.
    assert_eq!(
        sql("erin", "select count(*) as n from crm.customers"),
        "n\n8\n"
    );
    assert_eq!(
        sql(
            "erin",
            "select count(*) as n from crm.customers where region = 'US'"
        ),
        "n\n0\n"
    );
    assert_eq!(
        sql("bob", "select count(*) as n from crm.customers"),
        "n\n0\n"
    );
    let cli = sql("erin", "select id, email from crm.customers order by id");

    // The same answers through HTTP and the Postgres wire protocol.
    let served = serve(&mesh);
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(&erin_token)
        .body(r#"{"sql": "select id, email from crm.customers order by id"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let rows: Vec<serde_json::Value> = r.json().unwrap();
    let http: Vec<String> = rows
        .iter()
        .map(|r| format!("{},{}", r["id"], r["email"].as_str().unwrap()))
        .collect();
    assert_eq!(cli.lines().skip(1).collect::<Vec<_>>(), http);
    let (ok, out, err) = psql(
        &served.pg_port,
        "erin",
        &erin_token,
        "select id, email from crm.customers order by id",
    );
    assert!(ok, "{err}");
    let pg: Vec<String> = out.lines().map(|l| l.replace('|', ",")).collect();
    assert_eq!(http, pg);
    let (ok, _, err) = psql(
        &served.pg_port,
        "erin",
        &erin_token,
        "select card from crm.customers",
    );
    assert!(!ok);
    assert!(err.contains("crm.customers.card"), "{err}");
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/query", served.http))
        .bearer_auth(&erin_token)
        .body(r#"{"sql": "select * from crm.customers"}"#)
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn bad_policies_are_refused_whole() {
    let mesh = crm();
    mesh.ok(&[
        "policy",
        "apply",
        &write(&mesh, "global.yaml", GLOBAL_POLICY),
    ]);
    let before = mesh.ok(&["policy", "show"]);
    for (name, text, needle) in [
        (
            "malformed.yaml",
            "kind: AgoraPolicy\ncolumns: [\n",
            "malformed policy YAML",
        ),
        (
            "typo.yaml",
            "kind: AgoraPolicy\ncolums: []\n",
            "unknown field `colums`",
        ),
        (
            "category.yaml",
            "kind: AgoraPolicy\ncolumns:\n  - category: emails\n    action: hash\n",
            "unknown category `emails`",
        ),
        (
            "action.yaml",
            "kind: AgoraPolicy\ncolumns:\n  - category: email\n    action: scramble\n",
            "unknown action `scramble`",
        ),
        (
            "attr.yaml",
            "kind: AgoraPolicy\ndomain: crm\nrows:\n  - table: crm.customers\n    filter: region = principal.team\n",
            "unknown principal attribute `team`",
        ),
        (
            "column.yaml",
            "kind: AgoraPolicy\ndomain: crm\nrows:\n  - table: crm.customers\n    filter: country = principal.region\n",
            "country",
        ),
        (
            "other.yaml",
            "kind: AgoraPolicy\ndomain: crm\ncolumns:\n  - column: sales.orders.amount\n    action: deny\n",
            "not in domain `crm`",
        ),
        (
            "missing.yaml",
            "kind: AgoraPolicy\ndomain: crm\ncolumns:\n  - column: crm.customers.phone\n    action: deny\n",
            "has no column `phone`",
        ),
        (
            "kind.yaml",
            "kind: DataContract\n",
            "expected `AgoraPolicy`",
        ),
    ] {
        let err = mesh.fails(2, &["policy", "apply", &write(&mesh, name, text)]);
        assert!(err.contains(needle), "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: the error names the file: {err}"
        );
    }
    assert_eq!(
        mesh.ok(&["policy", "show"]),
        before,
        "nothing was half-applied"
    );

    let err = mesh.fails(2, &["principal", "create", "fay", "--attr", "regoin=EU"]);
    assert!(
        err.contains("unknown principal attribute `regoin`"),
        "{err}"
    );
    assert!(err.contains("region"), "{err}");
    let err = mesh.fails(2, &["principal", "create", "fay", "--attr", "region=APAC"]);
    assert!(
        err.contains("`APAC` is not one the global policy allows"),
        "{err}"
    );
    let err = mesh.fails(2, &["principal", "create", "fay", "--clearance", "secret"]);
    assert!(err.contains("unknown sensitivity `secret`"), "{err}");
    let crm_policy = write(&mesh, "crm.yaml", "kind: AgoraPolicy\ndomain: crm\n");
    let err = mesh.fails(4, &["--as", "bob", "policy", "apply", &crm_policy]);
    assert!(
        err.contains("bob may not apply the policy of domain crm"),
        "{err}"
    );
}

#[test]
fn a_quarantine_is_governed_like_its_table() {
    let mesh = crm_read_by_bob();
    mesh.ok(&["principal", "create", "carol"]);
    // Two rows validation refuses: an id that is not a number, a date that does not exist.
    let bad = write(
        &mesh,
        "bad-customers.csv",
        "id,full_name,email,card,birth_date,region,ip\n\
         x,Anna Rossi,anna.rossi@example.org,4242 4242 4242 4242,1980-04-03,EU,192.168.10.7\n\
         9,Mary Johnson,mary.johnson@example.com,5555555555554444,31/02/1980,US,10.0.0.1\n",
    );
    let out = mesh.ok(&["ingest", "crm.customers", &bad]);
    assert!(out.contains("0 accepted, 2 quarantined"), "{out}");

    // The domain's owner, whose work is to fix them, sees the rows as they came, and why each
    // is there (in the table itself the email is withheld even from her).
    let alice = mesh.ok(&[
        "--as",
        "alice",
        "sql",
        "select _row, _reason, email from crm.customers__quarantine order by _row",
        "--format",
        "csv",
    ]);
    assert!(alice.contains("anna.rossi@example.org"), "{alice}");
    assert!(
        alice.contains("`birth_date`: `31/02/1980` is not a valid Date32"),
        "{alice}"
    );

    // A reader sees it as the table: masked, hashed, and without reasons, which quote values.
    let bob = |sql: &str| mesh.ok(&["--as", "bob", "sql", sql, "--format", "csv"]);
    for sql in [
        "select * from crm.customers__quarantine",
        "select _reason, email, card, full_name, birth_date from crm.customers__quarantine where email like 'anna%' or true",
        "select q._reason from crm.customers__quarantine q join crm.customers c on q.region = c.region",
        "explain verbose select * from crm.customers__quarantine",
    ] {
        let out = bob(sql);
        assert_no_raw(sql, &out);
        assert!(
            !out.contains("31/02/1980"),
            "{sql} leaked a value through its reason:\n{out}"
        );
    }
    assert!(
        bob("select _reason from crm.customers__quarantine")
            .contains("(hidden: the reason may quote masked values)")
    );
    assert_eq!(
        bob(
            "select count(*) as n from crm.customers__quarantine where email = 'anna.rossi@example.org'"
        ),
        "n\n0\n",
        "a filter on the raw value finds nothing: the reader's rows hold the hash"
    );

    // Someone who may not read the table may not read its quarantine.
    let err = mesh.fails(
        4,
        &[
            "--as",
            "carol",
            "sql",
            "select count(*) from crm.customers__quarantine",
        ],
    );
    assert!(
        err.contains("carol may not read product crm.people (table crm.customers__quarantine)"),
        "{err}"
    );
}
