//! Every change has its ledger entry and a crash leaves nothing half-done: the process is
//! killed at each step of a change, of an ingest and of the log's publication (failpoints of
//! debug builds, `AGORA_FAILPOINT`), and the next command finds the mesh whole.

use crate::governance::{assert_no_raw, crm, path, write};
use crate::harness::Mesh;
use crate::lifecycle::{items, owner_email_as_bob};
use crate::quality::{csv_file, orders_with_rules, walk};
use crate::server::{serve, token};

fn crash(mesh: &Mesh, failpoint: &str, args: &[&str]) {
    let run = mesh.run_env(&[("AGORA_FAILPOINT", failpoint)], args);
    assert!(
        run.stderr.contains(&format!("failpoint {failpoint}")),
        "{failpoint} was not reached by {args:?}: {}{}",
        run.stdout,
        run.stderr
    );
    assert_ne!(run.code, 0);
}

fn count(mesh: &Mesh, sql: &str) -> String {
    mesh.csv(sql).lines().nth(1).unwrap().to_string()
}

fn entries_of_kind(mesh: &Mesh, kind: &str) -> usize {
    mesh.ok(&["ledger", "tail", "--limit", "1000"])
        .lines()
        .filter(|l| l.contains(kind))
        .count()
}

#[test]
fn a_crash_at_any_step_of_a_change_is_finished_on_the_next_open() {
    for failpoint in [
        "change.after_catalog",
        "change.after_ledger",
        "log.after_history",
    ] {
        let mesh = Mesh::new();
        crash(&mesh, failpoint, &["principal", "create", "carol"]);
        // The next command finishes it: carol exists, with exactly one entry, and the log
        // verifies against its checkpoint.
        let verified = mesh.ok(&["ledger", "verify"]);
        assert!(verified.contains("verified"), "{failpoint}: {verified}");
        let tail = mesh.ok(&["ledger", "tail", "--limit", "1000"]);
        // alice, bob, carol: one entry each.
        assert_eq!(
            tail.lines()
                .filter(|l| l.contains("principal.created"))
                .count(),
            3,
            "{failpoint}:\n{tail}"
        );
        mesh.ok(&["principal", "grants", "carol"]);
        // And the mesh goes on: later changes append and verify.
        mesh.ok(&["principal", "create", "dave"]);
        mesh.ok(&["ledger", "verify"]);
    }
}

#[test]
fn a_crash_at_any_step_of_an_ingest_leaves_rows_masked_and_then_traced() {
    for failpoint in [
        "ingest.after_tags",
        "ingest.after_commit",
        "ingest.after_ledger",
    ] {
        let mesh = Mesh::new();
        mesh.ok(&["domain", "create", "crm", "--owner", "alice"]);
        mesh.ok(&["product", "apply", &path("crm.yaml")]);
        mesh.ok(&["grant", "bob", "read", "crm.people"]);
        crash(
            &mesh,
            failpoint,
            &["ingest", "crm.customers", &path("customers.csv")],
        );
        // Whatever a reader sees of the table, it sees masked.
        let bob = mesh.ok(&[
            "--as",
            "bob",
            "sql",
            "select * from crm.customers",
            "--format",
            "csv",
        ]);
        assert_no_raw(failpoint, &bob);
        mesh.ok(&["ledger", "verify"]);
        let rows = count(&mesh, "select count(*) as n from crm.customers");
        if failpoint == "ingest.after_tags" {
            // Nothing was committed: the ingest can simply run again.
            assert_eq!(rows, "0", "{failpoint}");
            assert_eq!(entries_of_kind(&mesh, "ingest.committed"), 0);
            mesh.ok(&["ingest", "crm.customers", &path("customers.csv")]);
        } else {
            // The committed rows got their ingest record and entry: a retry is a duplicate.
            assert_eq!(rows, "12", "{failpoint}");
            let err = mesh.fails(5, &["ingest", "crm.customers", &path("customers.csv")]);
            assert!(err.contains("already ingested"), "{err}");
        }
        assert_eq!(entries_of_kind(&mesh, "ingest.committed"), 1, "{failpoint}");
        let show = mesh.ok(&["product", "show", "crm.people"]);
        assert!(show.contains("customers.csv"), "{failpoint}: {show}");
        let tags = mesh.ok(&["tag", "list", "crm.customers"]);
        assert!(tags.contains("email, confidential"), "{failpoint}: {tags}");
        mesh.ok(&["ledger", "verify"]);
    }
}

#[test]
fn verify_reports_changes_without_entries() {
    let mesh = crm();
    mesh.ok(&["ledger", "verify"]);
    // An operator who edits the catalog behind the ledger's back.
    let catalog = mesh.data().join("catalog.db");
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(\"insert into grants values ('bob', 'read', 'crm', 'people', '', '2026-01-01T00:00:00Z')\")\n\
             c.commit()\n",
        )
        .arg(&catalog)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let err = mesh.fails(1, &["ledger", "verify"]);
    assert!(
        err.contains("grant") && err.contains("bob") && err.contains("crm.people"),
        "{err}"
    );
}

#[test]
fn retried_ingests_are_refused_naming_the_earlier_one() {
    let mesh = crm();
    let err = mesh.fails(5, &["ingest", "crm.customers", &path("customers.csv")]);
    assert!(
        err.contains("already ingested into crm.customers as version"),
        "{err}"
    );
    assert!(err.contains("--allow-duplicate"), "{err}");
    assert_eq!(
        count(&mesh, "select count(*) as n from crm.customers"),
        "12"
    );
    mesh.ok(&[
        "ingest",
        "crm.customers",
        &path("customers.csv"),
        "--allow-duplicate",
    ]);
    assert_eq!(
        count(&mesh, "select count(*) as n from crm.customers"),
        "24"
    );

    // Over HTTP, an Idempotency-Key makes a retried request safe.
    let alice = token(&mesh, "wendy");
    mesh.ok(&["grant", "wendy", "write", "crm.people"]);
    let served = serve(&mesh);
    let post = |body: &str, key: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/tables/crm/tickets/batches", served.http))
            .bearer_auth(&alice)
            .header("Content-Type", "text/csv")
            .header("Idempotency-Key", key)
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let batch = "ticket_id,customer_email,subject\n500,a@example.org,Hello\n";
    assert_eq!(post(batch, "k-1").status(), 200);
    let again = post(batch, "k-1");
    assert_eq!(again.status(), 409);
    assert!(again.text().unwrap().contains("k-1"));
    let other = "ticket_id,customer_email,subject\n501,b@example.org,Hi\n";
    assert_eq!(post(other, "k-1").status(), 409, "the key, not the body");
    assert_eq!(post(other, "k-2").status(), 200);
    drop(served);
    assert_eq!(
        count(
            &mesh,
            "select count(*) as n from crm.tickets where ticket_id >= 500"
        ),
        "2"
    );
}

/// The Parquet files under a table's directory, its log left out.
fn data_files(mesh: &Mesh, table: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![mesh.data().join("tables").join(table)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("_delta_log") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn files_of_ingests_that_never_committed_are_removed() {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "crm", "--owner", "alice"]);
    mesh.ok(&["product", "apply", &path("crm.yaml")]);
    mesh.ok(&["ingest", "crm.customers", &path("customers.csv")]);
    let committed = data_files(&mesh, "crm/customers");
    assert!(!committed.is_empty());
    // Stands for the files a writer flushed before its process died in the Delta commit.
    let orphan = committed[0].with_file_name("part-00000-orphan.parquet");
    std::fs::copy(&committed[0], &orphan).unwrap();
    let more = write(&mesh, "more.csv", "id,region\n500,EU\n");
    crash(
        &mesh,
        "ingest.after_tags",
        &["ingest", "crm.customers", &more],
    );
    // The next open removes them: no ingest is running.
    mesh.ok(&["ledger", "verify"]);
    assert_eq!(data_files(&mesh, "crm/customers"), committed);

    // A refused ingest leaves nothing behind either.
    std::fs::copy(&committed[0], &orphan).unwrap();
    mesh.fails(5, &["ingest", "crm.customers", &path("customers.csv")]);
    assert_eq!(data_files(&mesh, "crm/customers"), committed);

    // `agora vacuum` removes orphans whatever left them, and keeps every committed file.
    std::fs::copy(&committed[0], &orphan).unwrap();
    mesh.fails(4, &["--as", "bob", "vacuum"]);
    assert!(orphan.exists());
    let out = mesh.ok(&["vacuum"]);
    assert!(
        out.contains("crm.customers: removed 1 orphaned file(s)") && out.contains("orphan"),
        "{out}"
    );
    assert!(!orphan.exists());
    assert_eq!(data_files(&mesh, "crm/customers"), committed);
    assert_eq!(
        count(&mesh, "select count(*) as n from crm.customers"),
        "12"
    );
    assert_eq!(mesh.ok(&["vacuum"]).trim(), "No orphaned files");
}

#[test]
fn verify_reports_entries_without_changes_and_delta_versions_without_entries() {
    let mesh = crm();
    let log = mesh.data().join("tables/crm/customers/_delta_log");
    let mut commits: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    commits.sort();
    let last = commits.last().unwrap().clone();
    let version: u64 = last.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    // An operator who appends to the Delta table behind Agora's back (the same commit again,
    // as the next version) …
    std::fs::copy(&last, log.join(format!("{:020}.json", version + 1))).unwrap();
    let err = mesh.fails(1, &["ledger", "verify"]);
    assert!(
        err.contains(&format!(
            "Delta version {} of crm.customers changed rows that no ledger entry records",
            version + 1
        )),
        "{err}"
    );
    // … and one who deletes an ingest's catalog row.
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(\"delete from ingests where table_name = 'tickets'\")\n\
             c.commit()\n",
        )
        .arg(mesh.data().join("catalog.db"))
        .status()
        .unwrap();
    assert!(status.success());
    let err = mesh.fails(1, &["ledger", "verify"]);
    assert!(
        err.contains("the ledger records an ingest of crm.tickets@"),
        "{err}"
    );
}

#[test]
fn a_crash_in_a_delete_is_recorded_or_undone_on_the_next_open() {
    // Killed before the commit: nothing happened, nothing is recorded.
    let mesh = crm();
    let us = "select count(*) from crm.customers where region = 'US'";
    let before = count(&mesh, us);
    let delete = ["delete", "crm.customers", "--where", "region = 'US'"];
    crash(&mesh, "table_change.after_pending", &delete);
    assert_eq!(count(&mesh, us), before);
    assert_eq!(entries_of_kind(&mesh, "data.deleted"), 0);
    mesh.ok(&["ledger", "verify"]);

    // Killed after the commit: the next open records it (as interrupted, to be run again).
    crash(&mesh, "table_change.after_step", &delete);
    assert_eq!(count(&mesh, us), "0");
    assert_eq!(entries_of_kind(&mesh, "data.deleted"), 1);
    mesh.ok(&["ledger", "verify"]);
    // Running it again finishes it, and the mesh goes on.
    mesh.ok(&delete);
    assert_eq!(entries_of_kind(&mesh, "data.deleted"), 2);
    mesh.ok(&["ledger", "verify"]);
}

#[test]
fn a_crash_in_a_blocked_ingest_leaves_the_product_as_it_was() {
    for failpoint in [
        "ingest.after_tags",
        "ingest.after_commit",
        "ingest.after_ledger",
    ] {
        let mesh = Mesh::new();
        orders_with_rules(&mesh);
        let good = csv_file(
            &mesh,
            "good.csv",
            "order_id,region,amount,status\n1,EMEA,10,open\n2,NA,20,shipped\n3,NA,30,open\n",
        );
        mesh.ok(&["ingest", "sales.orders", &good]);
        let bad = csv_file(
            &mesh,
            "bad.csv",
            "order_id,region,amount,status\n4,EMEA,,open\n5,NA,2,shipped\n6,NA,3,open\n",
        );
        crash(&mesh, failpoint, &["ingest", "sales.orders", &bad]);
        mesh.ok(&["ledger", "verify"]);
        assert_eq!(
            count(&mesh, "select count(*) from sales.orders"),
            "3",
            "{failpoint}"
        );
        let quarantined = count(&mesh, "select count(*) from sales.orders__quarantine");
        let committed = entries_of_kind(&mesh, "ingest.committed");
        match failpoint {
            // Before the quarantine's commit: nothing of the ingest is visible.
            "ingest.after_tags" => assert_eq!((quarantined.as_str(), committed), ("0", 1)),
            // After it: every row is in quarantine, and the ingest recorded once.
            _ => assert_eq!((quarantined.as_str(), committed), ("3", 2), "{failpoint}"),
        }
        let parquet = walk(&mesh.data().join("tables"))
            .into_iter()
            .filter(|p| p.ends_with(".parquet"))
            .count();
        assert_eq!(
            parquet, 1,
            "{failpoint}: the blocked ingest's product files are removed"
        );
    }
}

#[test]
fn a_crash_at_any_step_of_a_merge_leaves_the_table_as_it_was_or_merged_and_traced() {
    let original = "item_id,owner_email,price\n1,anna@example.org,10.0\n2,bob@example.org,20.0\n\
        3,carl@example.org,30.0\n";
    let merged = "item_id,owner_email,price\n1,anna@example.org,10.0\n2,bobby@example.org,21.0\n\
        3,carl@example.org,30.0\n4,dora@example.org,40.0\n";
    for failpoint in [
        "ingest.after_tags",
        "ingest.between_commits",
        "ingest.after_commit",
        "ingest.after_ledger",
    ] {
        let mesh = items();
        mesh.ok(&["grant", "bob", "read", "sales.items"]);
        let update = write(
            &mesh,
            "update.csv",
            "item_id,owner_email,region,price\n2,bobby@example.org,US,21\n4,dora@example.org,EU,40\n",
        );
        let merge = ["ingest", "sales.items", update.as_str(), "--mode", "merge"];
        crash(&mesh, failpoint, &merge);
        mesh.ok(&["ledger", "verify"]);
        let rows =
            || mesh.csv("select item_id, owner_email, price from sales.items order by item_id");
        let committed = entries_of_kind(&mesh, "ingest.committed");
        match failpoint {
            // Before the MERGE commit: the table is as it was, and the merge can run again.
            "ingest.after_tags" | "ingest.between_commits" => {
                assert_eq!((rows().as_str(), committed), (original, 1), "{failpoint}");
                let out = mesh.ok(&merge);
                assert!(out.contains("1 inserted, 1 updated"), "{failpoint}: {out}");
            }
            // After it: merged once, recorded once with the merge's counts, and a retry is a
            // duplicate.
            _ => {
                assert_eq!((rows().as_str(), committed), (merged, 2), "{failpoint}");
                let tail = mesh.ok(&["ledger", "tail", "--limit", "1000"]);
                let index = tail
                    .lines()
                    .rfind(|l| l.contains("ingest.committed"))
                    .and_then(|l| l.split_whitespace().next())
                    .unwrap()
                    .to_string();
                let entry = mesh.ok(&["ledger", "show", &index]);
                assert!(
                    entry.contains("\"rows_inserted\": 1") && entry.contains("\"rows_updated\": 1"),
                    "{failpoint}: {entry}"
                );
                let err = mesh.fails(5, &merge);
                assert!(err.contains("already ingested"), "{failpoint}: {err}");
            }
        }
        assert_eq!(rows(), merged, "{failpoint}");
        assert_eq!(entries_of_kind(&mesh, "ingest.committed"), 2, "{failpoint}");
        // Keys stay unique, and the replaced row's stored hash is the new value's: bob's
        // masked view of row 2 is that of a row holding bobby's address, not bob's.
        assert_eq!(
            count(
                &mesh,
                "select count(*) - count(distinct item_id) from sales.items"
            ),
            "0"
        );
        let masked = |id: u32| owner_email_as_bob(&mesh, id);
        assert!(!masked(2).contains("bobby@example.org"), "{failpoint}");
        let again = write(
            &mesh,
            "again.csv",
            "item_id,owner_email,region,price\n9,bobby@example.org,US,1\n",
        );
        mesh.ok(&["ingest", "sales.items", &again]);
        assert_eq!(masked(2), masked(9), "{failpoint}");
        // The staging table of the interrupted merge is gone.
        let staged: Vec<String> = walk(&mesh.data())
            .into_iter()
            .filter(|p| p.contains("/staging/"))
            .collect();
        assert_eq!(staged, Vec::<String>::new(), "{failpoint}");
        mesh.ok(&["ledger", "verify"]);
    }
}
