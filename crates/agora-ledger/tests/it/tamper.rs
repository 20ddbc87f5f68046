//! Each way of tampering with the stored entries is detected and the entry named.

use std::path::Path;

use agora_ledger::{Log, audit, bundle_path};

use crate::{fixture, ingest, log_key};

/// A log of 2 + 298 entries: bundle 0 full, bundle 1 partial.
fn log_of_300() -> (crate::Fixture, std::path::PathBuf) {
    let f = fixture();
    for chunk in 0..3u64 {
        let entries: Vec<_> = (0..100)
            .map(|i| ingest(&f.sales, chunk * 100 + i))
            .take(if chunk == 2 { 98 } else { 100 })
            .collect();
        f.log.append(&entries).unwrap();
    }
    let root = f.log.files().root().to_path_buf();
    (f, root)
}

fn entries_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u16::from_be_bytes([bytes[at], bytes[at + 1]]) as usize;
        out.push(bytes[at + 2..at + 2 + len].to_vec());
        at += 2 + len;
    }
    out
}

fn bundle_of(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

fn rewrite_bundle(root: &Path, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let path = root.join(bundle_path(0, 256));
    let mut entries = entries_of(&std::fs::read(&path).unwrap());
    f(&mut entries);
    std::fs::write(&path, bundle_of(&entries)).unwrap();
}

fn failure(root: &Path) -> agora_ledger::AuditFailure {
    let log = Log::open_reader(root, log_key().verifier()).unwrap();
    audit(&log, None).expect_err("the audit must detect the tampering")
}

#[test]
fn an_untouched_log_passes() {
    let (_f, root) = log_of_300();
    let log = Log::open_reader(&root, log_key().verifier()).unwrap();
    assert_eq!(audit(&log, None).unwrap().size, 300);
}

#[test]
fn a_flipped_byte_is_named() {
    let (_f, root) = log_of_300();
    rewrite_bundle(&root, |e| {
        // Inside the body's row count, so the JSON stays valid: the signature catches it.
        let pos = e[40].iter().position(|b| *b == b'1').unwrap();
        e[40][pos] = b'9';
    });
    let fail = failure(&root);
    assert_eq!(fail.entry, Some(40), "{fail}");
    assert!(fail.reason.contains("signature"), "{fail}");
}

#[test]
fn a_deleted_entry_is_named() {
    let (_f, root) = log_of_300();
    rewrite_bundle(&root, |e| {
        e.remove(17);
    });
    let fail = failure(&root);
    assert_eq!(fail.entry, Some(17), "{fail}");
}

#[test]
fn two_reordered_entries_are_named() {
    let (_f, root) = log_of_300();
    rewrite_bundle(&root, |e| e.swap(60, 61));
    let fail = failure(&root);
    assert_eq!(fail.entry, Some(60), "{fail}");
    assert!(fail.reason.contains("hash differs"), "{fail}");
}

#[test]
fn a_truncated_file_is_named() {
    let (_f, root) = log_of_300();
    let partial = root.join(bundle_path(1, 44));
    let bytes = std::fs::read(&partial).unwrap();
    std::fs::write(&partial, &bytes[..bytes.len() - 10]).unwrap();
    let fail = failure(&root);
    assert_eq!(fail.entry, Some(299), "{fail}");
}

#[test]
fn an_entry_forged_for_another_domain_is_refused() {
    let (f, root) = log_of_300();
    // An attacker with the log's files but not the sales key re-signs an entry with a key of
    // its own under the name `sales`, and rebuilds every hash so the tiles agree.
    let impostor = agora_ledger::NoteSigner::generate("sales").unwrap();
    let forged = ingest(&impostor, 5);
    let copy = tempfile::tempdir().unwrap();
    let log = Log::open_or_create(copy.path().join("ledger"), log_key()).unwrap();
    let mut entries: Vec<_> = (0..2).map(|i| f.log.entry(i).unwrap()).collect();
    entries.push(forged);
    log.append(&entries).unwrap();
    let fail = audit(&log, None).unwrap_err();
    assert_eq!(fail.entry, Some(2), "{fail}");
    assert!(fail.reason.contains("no registered key"), "{fail}");
    drop(root);
}

#[test]
fn a_rewritten_history_is_detected_even_with_consistent_tiles() {
    let (f, root) = log_of_300();
    // Rebuild a whole different log under the same log key (an operator with the key): the
    // tiles and the checkpoint agree, but the published history does not.
    let old_history = std::fs::read(root.join("checkpoints.jsonl")).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    let log = Log::open_or_create(&root, log_key()).unwrap();
    log.append(&[
        agora_ledger::genesis(&f.admin),
        agora_ledger::key_registration(&f.admin, &f.sales.verifier(), serde_json::json!({})),
    ])
    .unwrap();
    let entries: Vec<_> = (0..298).map(|i| ingest(&f.sales, 9000 + i)).collect();
    log.append(&entries).unwrap();
    let mut history = old_history;
    history.extend(std::fs::read(root.join("checkpoints.jsonl")).unwrap());
    std::fs::write(root.join("checkpoints.jsonl"), history).unwrap();
    let fail = failure(&root);
    assert!(
        fail.reason.contains("not a prefix") || fail.reason.contains("shrinks"),
        "{fail}"
    );
}
