//! Witnesses on other nodes: three real `agora` meshes on loopback. The log's checkpoints gather
//! cosignatures, a verifier requires k of n, a mirror audits on its own, and a split view is
//! refused with evidence.

use crate::harness::{Mesh, testdata};
use crate::server::{serve, token};

fn key_of(mesh: &Mesh, what: &str) -> String {
    mesh.ok(&["ledger", what]).trim().to_string()
}

#[test]
fn witnesses_cosign_mirror_and_refuse_a_split_view() {
    let log = Mesh::with_orders();
    log.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
        "--allow-duplicate",
    ]);
    let (w1, w2) = (Mesh::new(), Mesh::new());
    let log_key = key_of(&log, "key");
    let (w1_key, w2_key) = (key_of(&w1, "witness-key"), key_of(&w2, "witness-key"));
    log.ok(&["ledger", "add-witness", &w1_key]);
    log.ok(&["ledger", "add-witness", &w2_key]);
    assert_eq!(log.ok(&["ledger", "witnesses"]).lines().count(), 2);
    let token = token(&log, "witness_bot");
    let fork = log.fork(); // an operator's copy of the log, same keys and tokens
    let served = serve(&log);

    let witness = |w: &Mesh, extra: &[&str]| {
        let mut args = vec![
            "ledger",
            "witness",
            "--log",
            &served.http,
            "--key",
            &log_key,
            "--token",
            &token,
        ];
        args.extend_from_slice(extra);
        w.ok(&args)
    };
    let out = witness(&w1, &["--mirror"]);
    assert!(
        out.contains("Cosigned checkpoint") && out.contains("mirrored and audited"),
        "{out}"
    );
    witness(&w2, &[]);

    // The proof's checkpoint carries both cosignatures: 2 of 2 required passes.
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("proof.json");
    std::fs::write(&proof, log.ok(&["ledger", "prove-inclusion", "3"])).unwrap();
    let p = proof.to_str().unwrap();
    log.ok(&[
        "ledger",
        "verify-proof",
        p,
        "--key",
        &log_key,
        "--witness",
        &w1_key,
        "--witness",
        &w2_key,
        "--min-witnesses",
        "2",
    ]);
    // A third witness that never cosigned does not count.
    let stranger = key_of(&Mesh::new(), "witness-key");
    let err = log.fails(
        2,
        &[
            "ledger",
            "verify-proof",
            p,
            "--key",
            &log_key,
            "--witness",
            &w1_key,
            "--witness",
            &stranger,
            "--min-witnesses",
            "2",
        ],
    );
    assert!(
        err.contains("carries 1 valid cosignatures of the 2 witnesses given; 2 required"),
        "{err}"
    );

    // The log grows; the witnesses check consistency from what they saw and cosign again.
    log.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.jsonl").to_str().unwrap(),
    ]);
    witness(&w1, &["--mirror"]);
    witness(&w2, &[]);
    let mirror = w1.data().join("mirrors");
    let mirror = std::fs::read_dir(&mirror)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = w1.ok(&[
        "ledger",
        "verify",
        "--from-mirror",
        mirror.to_str().unwrap(),
        "--key",
        &log_key,
    ]);
    let size: u64 = log
        .ok(&["ledger", "checkpoint"])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(out.contains(&format!("verified: {size} entries")), "{out}");

    // Without a cosignature from a registered witness, nothing is stored.
    let client = reqwest::blocking::Client::new();
    let note = client
        .get(format!("{}/api/v1/ledger/checkpoint", served.http))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let resp = client
        .post(format!("{}/api/v1/ledger/cosignatures", served.http))
        .bearer_auth(&token)
        .body(note.lines().take(5).collect::<Vec<_>>().join("\n") + "\n")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);

    // The forked log diverges: same size as the witnessed one, other entries.
    drop(served);
    fork.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
        "--allow-duplicate",
    ]);
    let fork_size: u64 = fork
        .ok(&["ledger", "checkpoint"])
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        fork_size, size,
        "the fork must show a checkpoint of the size the witness saw"
    );
    let fork_served = serve(&fork);
    let err = w1.fails(
        5,
        &[
            "ledger",
            "witness",
            "--log",
            &fork_served.http,
            "--key",
            &log_key,
            "--token",
            &token,
        ],
    );
    assert!(
        err.contains("split view") && err.contains("evidence kept in"),
        "{err}"
    );
    let evidence = err.rsplit("evidence kept in ").next().unwrap().trim();
    let evidence = std::fs::read_to_string(evidence).unwrap();
    assert_eq!(evidence.matches("--- checkpoint").count(), 2, "{evidence}");

    // A wrong log key is refused before anything is cosigned.
    let wrong = key_of(&w2, "key");
    let err = w2.fails(
        5,
        &[
            "ledger",
            "witness",
            "--log",
            &fork_served.http,
            "--key",
            &wrong,
            "--token",
            &token,
        ],
    );
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_witness_node_answers_pushed_checkpoints_with_spec_statuses() {
    let log = Mesh::with_orders();
    let witness = Mesh::new();
    let log_key = key_of(&log, "key");
    witness.ok(&["ledger", "watch", &log_key]);
    let pusher = token(&witness, "pusher");
    let served = serve(&witness);
    let client = reqwest::blocking::Client::new();
    let push = |body: String| {
        let resp = client
            .post(format!("{}/api/v1/witness/add-checkpoint", served.http))
            .bearer_auth(&pusher)
            .body(body)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.text().unwrap())
    };
    let checkpoint = |m: &Mesh| m.ok(&["ledger", "checkpoint"]);
    let size_of = |note: &str| note.lines().nth(1).unwrap().to_string();

    let first = checkpoint(&log);
    let (status, line) = push(format!("old 0\n\n{first}"));
    assert_eq!(status, 200, "{line}");
    let witness_name = key_of(&witness, "witness-key")
        .split('+')
        .next()
        .unwrap()
        .to_string();
    assert!(line.starts_with(&format!("— {witness_name} ")), "{line}");

    // The pusher's idea of what the witness saw is stale: 409 with the size it did see.
    let (status, body) = push(format!("old 0\n\n{first}"));
    assert_eq!((status, body.trim()), (409, size_of(&first).as_str()));

    // Growth with the consistency proof from the size the witness saw.
    log.ok(&[
        "ingest",
        "sales.orders",
        testdata("orders.csv").to_str().unwrap(),
        "--allow-duplicate",
    ]);
    let second = checkpoint(&log);
    let proof: serde_json::Value =
        serde_json::from_str(&log.ok(&["ledger", "prove-consistency", &size_of(&first)])).unwrap();
    let hashes: Vec<&str> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    let mut wrong = hashes.clone();
    wrong[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (status, body) = push(format!(
        "old {}\n{}\n\n{second}",
        size_of(&first),
        wrong.join("\n")
    ));
    assert_eq!(status, 422, "{body}");
    let (status, body) = push(format!(
        "old {}\n{}\n\n{second}",
        size_of(&first),
        hashes.join("\n")
    ));
    assert_eq!(status, 200, "{body}");

    // Another log's checkpoint, a forged signature, garbage.
    let (status, _) = push(format!("old 0\n\n{}", checkpoint(&witness)));
    assert_eq!(status, 404);
    // The size line changed, the signature kept: it no longer verifies.
    let forged = second.replacen(&format!("\n{}\n", size_of(&second)), "\n99999\n", 1);
    assert_ne!(forged, second);
    let (status, _) = push(format!("old {}\n\n{forged}", size_of(&second)));
    assert_eq!(status, 403);
    let (status, _) = push("hello".into());
    assert_eq!(status, 400);
}
