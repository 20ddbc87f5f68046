//! The data lifecycle on Delta Lake: ingest modes (append keeps primary keys unique across
//! batches, merge upserts, overwrite replaces), deletes through the governed layer, erasure of
//! a data subject down to the files on disk, compaction and vacuum — each audited, with masks
//! and row filters right afterwards.

use std::path::Path;

use crate::governance::{crm, path, write};
use crate::harness::Mesh;

const ITEMS: &str = "\
apiVersion: v3.0.2
kind: DataContract
id: sales-items
name: items
version: 1.0.0
status: active
domain: sales
schema:
  - name: items
    properties:
      - name: item_id
        logicalType: integer
        primaryKey: true
        required: true
      - name: owner_email
        logicalType: string
      - name: region
        logicalType: string
      - name: price
        logicalType: number
";

/// A mesh with `sales.items` (primary key `item_id`, owner alice) holding three rows.
pub(crate) fn items() -> Mesh {
    let mesh = Mesh::new();
    mesh.ok(&["product", "apply", &write(&mesh, "items.yaml", ITEMS)]);
    let first = "item_id,owner_email,region,price\n\
        1,anna@example.org,EU,10\n2,bob@example.org,US,20\n3,carl@example.org,EU,30\n";
    mesh.ok(&["ingest", "sales.items", &write(&mesh, "first.csv", first)]);
    mesh
}

/// The `owner_email` of item `id` as bob reads it (masked: he reads below its level).
pub(crate) fn owner_email_as_bob(mesh: &Mesh, id: u32) -> String {
    mesh.ok(&[
        "--as",
        "bob",
        "sql",
        &format!("select owner_email from sales.items where item_id = {id}"),
        "--format",
        "csv",
    ])
}

fn rows(mesh: &Mesh) -> String {
    mesh.csv("select item_id, owner_email, price from sales.items order by item_id")
}

/// Every file under `dir` that holds `needle`: in its bytes, or for a Parquet file in the
/// decoded values of any column (compression can split a value's bytes).
pub(crate) fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let in_bytes = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            let is_parquet = p.extension().is_some_and(|x| x == "parquet");
            if in_bytes || (is_parquet && parquet_holds(&p, needle)) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn parquet_holds(file: &Path, needle: &str) -> bool {
    use arrow::array::{Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
        .unwrap()
        .build()
        .unwrap();
    for batch in reader {
        let batch = batch.unwrap();
        for column in batch.columns() {
            let Ok(text) = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8) else {
                continue;
            };
            let text = text.as_any().downcast_ref::<StringArray>().unwrap();
            if (0..text.len()).any(|i| text.is_valid(i) && text.value(i).contains(needle)) {
                return true;
            }
        }
    }
    false
}

/// The ledger entry a command's output names (`ledger entry N`), as `agora ledger show` prints it.
fn entry_of(mesh: &Mesh, out: &str) -> String {
    let index: String = out
        .split("ledger entry ")
        .nth(1)
        .unwrap_or_else(|| panic!("no ledger entry in {out}"))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    mesh.ok(&["ledger", "show", &index])
}

fn parquet_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        .count()
}

#[test]
fn primary_keys_stay_unique_across_batches_and_merge_upserts_by_them() {
    let mesh = items();
    let second = write(
        &mesh,
        "second.csv",
        "item_id,owner_email,region,price\n2,bobby@example.org,US,21\n4,dora@example.org,EU,40\n",
    );
    // An append may not add a second row for a key the table has: that row is quarantined.
    let out = mesh.ok(&["ingest", "sales.items", &second]);
    assert!(out.contains("1 accepted, 1 quarantined"), "{out}");
    assert!(
        out.contains("primary key item_id `2` is already in the table"),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n, count(distinct item_id) as k from sales.items"),
        "n,k\n4,4\n"
    );

    // A merge replaces the row of a key the table has and adds the others.
    let out = mesh.ok(&[
        "ingest",
        "sales.items",
        &second,
        "--mode",
        "merge",
        "--allow-duplicate",
    ]);
    assert!(out.contains("0 inserted, 2 updated"), "{out}");
    let third = write(
        &mesh,
        "third.csv",
        "item_id,owner_email,region,price\n3,carla@example.org,EU,31\n5,emil@example.org,US,50\n",
    );
    let out = mesh.ok(&["ingest", "sales.items", &third, "--mode", "merge"]);
    assert!(out.contains("1 inserted, 1 updated"), "{out}");
    let merged = entry_of(&mesh, &out);
    assert!(
        merged.contains("ingest.committed") && merged.contains("\"mode\": \"merge\""),
        "{merged}"
    );
    assert_eq!(
        rows(&mesh),
        "item_id,owner_email,price\n1,anna@example.org,10.0\n2,bobby@example.org,21.0\n\
         3,carla@example.org,31.0\n4,dora@example.org,40.0\n5,emil@example.org,50.0\n"
    );

    // An input that holds a key twice is refused whole: which row should win is unknowable.
    let before = mesh.ok(&["product", "show", "sales.items"]);
    let dup = write(
        &mesh,
        "dup.csv",
        "item_id,owner_email,region,price\n6,x@example.org,EU,1\n6,y@example.org,EU,2\n",
    );
    let err = mesh.fails(2, &["ingest", "sales.items", &dup, "--mode", "merge"]);
    assert!(
        err.contains("rows 1 and 2 have the same primary key item_id `6`")
            && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(mesh.ok(&["product", "show", "sales.items"]), before);
    assert!(!rows(&mesh).contains("x@example.org"));

    // An overwrite replaces every row in one commit; the earlier version stays readable.
    let history = mesh.csv("select count(*) as n from sales.items");
    let replacement = write(
        &mesh,
        "replacement.csv",
        "item_id,owner_email,region,price\n9,zed@example.org,EU,90\n",
    );
    let out = mesh.ok(&["ingest", "sales.items", &replacement, "--mode", "overwrite"]);
    let version: String = out
        .split("→ version ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(
        rows(&mesh),
        "item_id,owner_email,price\n9,zed@example.org,90.0\n"
    );
    let previous = (version.parse::<u64>().unwrap() - 1).to_string();
    assert_eq!(
        mesh.ok(&[
            "sql",
            "select count(*) as n from sales.items",
            "--format",
            "csv",
            "--version",
            &previous
        ]),
        history
    );

    // A merge needs a primary key to match rows by.
    mesh.ok(&["product", "apply", &path("orders.yaml")]);
    let err = mesh.fails(
        2,
        &[
            "ingest",
            "sales.orders",
            &path("orders.csv"),
            "--mode",
            "merge",
        ],
    );
    assert!(err.contains("names none"), "{err}");
    let err = mesh.fails(2, &["ingest", "sales.items", &second, "--mode", "upsert"]);
    assert!(err.contains("unknown ingest mode `upsert`"), "{err}");

    // The ledger accounts for every version these made.
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn a_merge_keeps_the_stored_hashes_of_the_rows_it_replaces_right() {
    let mesh = items();
    mesh.ok(&["grant", "bob", "read", "sales.items"]);
    let masked = |id: u32| owner_email_as_bob(&mesh, id);
    let before = masked(2);
    assert!(!before.contains("bob@example.org"), "{before}");
    let update = write(
        &mesh,
        "update.csv",
        "item_id,owner_email,region,price\n2,carl@example.org,US,22\n",
    );
    mesh.ok(&["ingest", "sales.items", &update, "--mode", "merge"]);
    // Row 2 now holds row 3's value: its hash must be row 3's, not the replaced value's.
    let after = masked(2);
    assert_ne!(after, before);
    assert_eq!(after, masked(3));
    assert!(!after.contains("carl@example.org"), "{after}");
}

#[test]
fn deletes_need_a_write_grant_and_stay_inside_what_the_writer_may_see() {
    let mesh = items();
    let global = "kind: AgoraPolicy\nattributes:\n  region: [EU, US]\n";
    mesh.ok(&["policy", "apply", &write(&mesh, "global.yaml", global)]);
    let policy = "\
kind: AgoraPolicy
domain: sales
rows:
  - table: sales.items
    filter: region = principal.region
";
    mesh.ok(&["policy", "apply", &write(&mesh, "policy.yaml", policy)]);
    mesh.ok(&["principal", "create", "wendy", "--attr", "region=EU"]);
    mesh.ok(&["grant", "wendy", "write", "sales.items"]);
    mesh.ok(&["grant", "wendy", "read", "sales.items"]);
    mesh.ok(&["grant", "bob", "read", "sales.items"]);

    // A reader may not delete.
    let err = mesh.fails(
        4,
        &[
            "--as",
            "bob",
            "delete",
            "sales.items",
            "--where",
            "price > 0",
        ],
    );
    assert!(err.contains("a write grant is needed"), "{err}");
    // A writer may not pick rows by a value it sees masked: the count would tell it.
    let err = mesh.fails(
        4,
        &[
            "--as",
            "wendy",
            "delete",
            "sales.items",
            "--where",
            "owner_email = 'bob@example.org'",
        ],
    );
    assert!(err.contains("by `owner_email`"), "{err}");
    // Nor by a stored hash column, whatever it is called.
    let err = mesh.fails(
        2,
        &[
            "--as",
            "wendy",
            "delete",
            "sales.items",
            "--where",
            "__agora_hash__owner_email is not null",
        ],
    );
    assert!(err.contains("has no column"), "{err}");
    // A column that does not exist is named, and the table's hidden columns are not.
    let err = mesh.fails(2, &["delete", "sales.items", "--where", "nosuch > 1"]);
    assert!(
        err.contains(
            "sales.items has no column `nosuch` (its columns: item_id, owner_email, region, price)"
        ) && !err.contains("__agora"),
        "{err}"
    );
    let err = mesh.fails(2, &["delete", "sales.items", "--where", "price >"]);
    assert!(err.contains("sales.items"), "{err}");

    // Wendy sees EU rows only, so `price > 0` deletes the EU rows and leaves bob's US row.
    let out = mesh.ok(&[
        "--as",
        "wendy",
        "delete",
        "sales.items",
        "--where",
        "price > 0",
    ]);
    assert!(out.contains("Deleted 2 row(s) from sales.items"), "{out}");
    let deleted = entry_of(&mesh, &out);
    assert!(
        deleted.contains("data.deleted") && deleted.contains("\"row_filter_applied\": true"),
        "{deleted}"
    );
    assert_eq!(
        rows(&mesh),
        "item_id,owner_email,price\n2,bob@example.org,20.0\n"
    );
    // The administrator's delete is not narrowed.
    let out = mesh.ok(&["delete", "sales.items", "--where", "item_id = 2"]);
    assert!(out.contains("Deleted 1 row(s)"), "{out}");
    assert_eq!(rows(&mesh), "item_id,owner_email,price\n");

    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn erasure_with_purge_leaves_the_value_in_no_file_of_the_mesh() {
    let mesh = crm();
    let subject = "jean.dupont@mail.example.fr";
    // The subject also sits in a quarantined row (its date is not a date).
    let rejected = write(
        &mesh,
        "late.csv",
        &format!("id,full_name,email,birth_date,region\n77,Jean Dupont,{subject},someday,EU\n"),
    );
    let out = mesh.ok(&["ingest", "crm.customers", &rejected]);
    assert!(out.contains("1 quarantined"), "{out}");
    let data = mesh.data();
    assert!(!files_holding(&data.join("tables"), subject).is_empty());
    assert!(!files_holding(&data.join("quarantine"), subject).is_empty());

    // Without --purge: the rows are gone from the latest versions, earlier ones keep them.
    let out = mesh.ok(&[
        "erase",
        "--column-category",
        "email",
        "--value",
        "  Jean.Dupont@mail.example.FR ",
    ]);
    assert!(
        out.contains("Erased 1 row(s) from crm.customers →"),
        "{out}"
    );
    assert!(out.contains("Erased 1 row(s) from crm.tickets →"), "{out}");
    assert!(out.contains("from crm.customers (quarantine)"), "{out}");
    for table in ["crm.customers", "crm.tickets"] {
        let q = format!("select * from {table}");
        assert!(!mesh.csv(&q).contains(subject), "{table}");
    }
    assert!(
        mesh.ok(&["sql", "select email from crm.customers", "--version", "1"])
            .contains(subject),
        "time travel reaches the rows until a purge"
    );
    assert!(!files_holding(&data.join("tables"), subject).is_empty());

    // With --purge: no file of any table, log or catalog holds the value any more.
    let out = mesh.ok(&[
        "erase",
        "--column-category",
        "email",
        "--value",
        subject,
        "--purge",
    ]);
    assert!(out.contains("file(s) of earlier versions purged"), "{out}");
    let erased = entry_of(&mesh, &out);
    assert_eq!(files_holding(&data, subject), Vec::<String>::new());
    // The other subjects are still there, masked as before.
    assert!(
        mesh.csv("select email from crm.customers")
            .contains("giulia.b@example.it")
    );
    let err = mesh.fails(3, &["sql", "select * from crm.customers", "--version", "1"]);
    assert!(err.contains("version 1"), "{err}");

    // The ledger proves what was erased, where and when, naming the value only by its hash.
    assert!(
        erased.contains("data.erased")
            && erased.contains("value_hmac")
            && erased.contains("crm.tickets"),
        "{erased}"
    );
    assert!(!erased.to_lowercase().contains("jean"), "{erased}");
    mesh.ok(&["ledger", "verify"]);

    // Erasure crosses domains: an owner may not run it.
    let err = mesh.fails(
        4,
        &[
            "--as",
            "alice",
            "erase",
            "--where",
            "email = 'giulia.b@example.it'",
        ],
    );
    assert!(err.contains("administrators only"), "{err}");
    // A condition no table can answer is refused.
    let err = mesh.fails(2, &["erase", "--where", "nosuch = 'x'"]);
    assert!(err.contains("no product table has every column"), "{err}");
    // By condition, in every table that has its columns.
    let out = mesh.ok(&["erase", "--where", "email = 'giulia.b@example.it'"]);
    assert!(out.contains("Erased 1 row(s) from crm.customers"), "{out}");
    assert!(!out.contains("crm.tickets"), "{out}");
}

#[test]
fn optimize_compacts_and_vacuum_ends_time_travel_past_its_retention() {
    let mesh = items();
    for i in 0..3 {
        let more = format!(
            "item_id,owner_email,region,price\n{},x{i}@example.org,EU,1\n",
            10 + i
        );
        mesh.ok(&[
            "ingest",
            "sales.items",
            &write(&mesh, &format!("more{i}.csv"), &more),
        ]);
    }
    mesh.ok(&["grant", "bob", "read", "sales.items"]);
    let bob = || {
        mesh.ok(&[
            "--as",
            "bob",
            "sql",
            "select * from sales.items order by item_id",
            "--format",
            "csv",
        ])
    };
    let (before, masked_before) = (rows(&mesh), bob());
    let table_dir = mesh.data().join("tables/sales/items");
    let files_before = parquet_files(&table_dir);

    let err = mesh.fails(4, &["--as", "bob", "optimize", "sales.items"]);
    assert!(err.contains("write grant"), "{err}");
    let out = mesh.ok(&["optimize", "sales.items"]);
    assert!(
        out.contains("Optimized sales.items: 4 file(s) compacted into 1"),
        "{out}"
    );
    assert_eq!(rows(&mesh), before);
    assert_eq!(bob(), masked_before, "masks hold after a compaction");

    // A vacuum within the retention period removes nothing; time travel still works.
    let out = mesh.ok(&["vacuum", "sales.items"]);
    assert!(out.contains("sales.items: removed 0 file(s)"), "{out}");
    assert_eq!(parquet_files(&table_dir), files_before + 1);
    mesh.ok(&["sql", "select count(*) from sales.items", "--version", "1"]);
    let err = mesh.fails(
        4,
        &["--as", "alice", "vacuum", "sales.items", "--retain", "0"],
    );
    assert!(err.contains("administrators only"), "{err}");
    let err = mesh.fails(2, &["vacuum", "sales.items", "--retain", "soon"]);
    assert!(err.contains("not a lifetime"), "{err}");

    // With no retention the compacted files go: the rows stay, the old versions do not.
    let out = mesh.ok(&["vacuum", "sales.items", "--retain", "0"]);
    assert!(out.contains("sales.items: removed 4 file(s)"), "{out}");
    assert_eq!(parquet_files(&table_dir), 1);
    assert_eq!(rows(&mesh), before);
    assert_eq!(bob(), masked_before);
    let run = mesh.run(&["sql", "select * from sales.items", "--version", "1"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);

    let vacuumed = entry_of(&mesh, &out);
    assert!(vacuumed.contains("table.vacuumed"), "{vacuumed}");
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn a_frequent_personal_value_is_not_copied_into_the_metrics_where_erasure_would_miss_it() {
    let mesh = crm();
    // One customer writes a dozen tickets: a frequent value of a low-cardinality column, and
    // an e-mail address all the same.
    let heavy = "heavy.user@example.org";
    let mut tickets = String::from("ticket_id,customer_email,subject\n");
    for i in 0..30 {
        let email = match i % 5 {
            0..=1 => "ana.l@example.org",
            _ => heavy,
        };
        let subject = ["Late parcel", "Refund"][i % 2];
        tickets.push_str(&format!("{},{email},{subject}\n", 200 + i));
    }
    mesh.ok(&["ingest", "crm.tickets", &write(&mesh, "more.csv", &tickets)]);
    let kept = mesh.csv(
        "select column_name, count(*) as n from crm.tickets__metrics where metric = 'frequency' group by column_name order by column_name",
    );
    assert_eq!(kept, "column_name,n\nsubject,2\n", "no e-mail is a key");
    mesh.ok(&[
        "erase",
        "--column-category",
        "email",
        "--value",
        heavy,
        "--purge",
    ]);
    assert_eq!(files_holding(&mesh.data(), heavy), Vec::<String>::new());
}

#[test]
fn an_erasure_that_keeps_the_rows_empties_only_their_personal_values() {
    let mesh = items();
    mesh.ok(&["grant", "bob", "read", "sales.items"]);
    let out = mesh.ok(&[
        "erase",
        "--column-category",
        "email",
        "--value",
        "anna@example.org",
        "--keep-rows",
    ]);
    assert!(
        out.contains("Emptied the personal values of 1 row(s) of sales.items →"),
        "{out}"
    );
    // The row stays with its business values; only the e-mail address is gone.
    assert_eq!(
        mesh.csv("select item_id, owner_email, region, price from sales.items order by item_id"),
        "item_id,owner_email,region,price\n1,,EU,10.0\n2,bob@example.org,US,20.0\n\
         3,carl@example.org,EU,30.0\n"
    );
    // Its stored hash went with it: a masked reader sees nothing for the row, not a hash
    // of the address that would still link it to the subject's rows elsewhere.
    let bob = |id: u32| {
        mesh.ok(&[
            "--as",
            "bob",
            "sql",
            &format!("select owner_email is null as gone from sales.items where item_id = {id}"),
            "--format",
            "csv",
        ])
    };
    assert_eq!(bob(1), "gone\ntrue\n");
    assert_eq!(bob(2), "gone\nfalse\n");
    let erased = entry_of(&mesh, &out);
    assert!(
        erased.contains("data.erased") && erased.contains("\"rows_kept\": true"),
        "{erased}"
    );

    // With --purge no file holds the value any more, and the row is still there.
    let subject = "carl@example.org";
    let out = mesh.ok(&[
        "erase",
        "--where",
        &format!("owner_email = '{subject}'"),
        "--keep-rows",
        "--purge",
    ]);
    assert!(out.contains("file(s) of earlier versions purged"), "{out}");
    assert_eq!(files_holding(&mesh.data(), subject), Vec::<String>::new());
    assert_eq!(mesh.csv("select count(*) as n from sales.items"), "n\n3\n");

    // A column the contract requires cannot be emptied: refused before anything changes.
    mesh.ok(&[
        "tag",
        "set",
        "sales.items.item_id",
        "national_id",
        "--reason",
        "test",
    ]);
    let before = rows(&mesh);
    let err = mesh.fails(
        2,
        &[
            "erase",
            "--where",
            "owner_email = 'bob@example.org'",
            "--keep-rows",
        ],
    );
    assert!(
        err.contains("sales.items.item_id is the primary key in its contract")
            && err.contains("without --keep-rows"),
        "{err}"
    );
    assert_eq!(rows(&mesh), before);
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn a_condition_on_a_column_the_contract_added_later_reads_it_as_null_in_older_tables() {
    let mesh = items();
    let subject = "dora@example.org";
    // Dora's row is quarantined (its price is not a number) while the contract has no phone.
    let rejected = write(
        &mesh,
        "rejected.csv",
        &format!("item_id,owner_email,region,price\n4,{subject},EU,lots\n"),
    );
    assert!(
        mesh.ok(&["ingest", "sales.items", &rejected])
            .contains("1 quarantined")
    );
    let v2 = ITEMS.replace("version: 1.0.0", "version: 1.1.0")
        + "      - name: owner_phone\n        logicalType: string\n";
    mesh.ok(&["product", "apply", &write(&mesh, "items-v2.yaml", &v2)]);

    // The product table was written before the column existed: a condition on it matches
    // nothing there instead of failing.
    let out = mesh.ok(&[
        "delete",
        "sales.items",
        "--where",
        "owner_phone = '+33 6 12 34 56 78'",
    ]);
    assert!(out.contains("Deleted 0 row(s) from sales.items"), "{out}");

    let phones = "item_id,owner_email,region,price,owner_phone\n\
        5,emil@example.org,US,50,+33 6 12 34 56 78\n6,fay@example.org,EU,60,+49 30 1234567\n\
        7,gus@example.org,EU,70,+44 20 7946 0958\n8,hal@example.org,US,80,+1 202 555 0143\n";
    mesh.ok(&["ingest", "sales.items", &write(&mesh, "phones.csv", phones)]);
    // The quarantine still has no owner_phone column: the erasure goes through it by the
    // other column and removes Dora's quarantined row.
    let out = mesh.ok(&[
        "erase",
        "--where",
        &format!("owner_email = '{subject}' OR owner_phone = '+49 30 1234567'"),
    ]);
    assert!(out.contains("Erased 1 row(s) from sales.items →"), "{out}");
    assert!(
        out.contains("Erased 1 row(s) from sales.items (quarantine)"),
        "{out}"
    );
    assert!(
        !mesh
            .csv("select * from sales.items__quarantine")
            .contains(subject)
    );
    assert!(!rows(&mesh).contains("fay@example.org"));
    // By category too, once the new column is labelled as phones.
    mesh.ok(&[
        "tag",
        "set",
        "sales.items.owner_phone",
        "phone_number",
        "--reason",
        "owners' phones",
    ]);
    let out = mesh.ok(&[
        "erase",
        "--column-category",
        "phone_number",
        "--value",
        "+33 6 12 34 56 78",
    ]);
    assert!(out.contains("Erased 1 row(s) from sales.items →"), "{out}");
    assert!(!rows(&mesh).contains("emil@example.org"));
    // A name no contract declares is still an error, naming the table's columns.
    let err = mesh.fails(2, &["delete", "sales.items", "--where", "owner_fax = 'x'"]);
    assert!(err.contains("has no column `owner_fax`"), "{err}");
    mesh.ok(&["ledger", "verify"]);
}
