use agora_ledger::{
    Log, LogError, ProofError, audit, leaf_hash, tile_path, verify_consistency, verify_inclusion,
};

use crate::{fixture, ingest, log_key};

#[test]
fn proofs_from_the_stored_tiles_verify_against_signed_checkpoints() {
    let f = fixture();
    let mut checkpoints = vec![f.log.checkpoint().unwrap()];
    // Batches of varied sizes cross tile boundaries at levels 0 and 1.
    for batch in [1usize, 3, 250, 256, 300, 1000, 7] {
        let entries: Vec<_> = (0..batch as u64).map(|i| ingest(&f.sales, i)).collect();
        let appended = f.log.append(&entries).unwrap();
        assert_eq!(appended.count, batch as u64);
        assert_eq!(
            appended.checkpoint.checkpoint.size,
            appended.first_index + batch as u64
        );
        checkpoints.push(appended.checkpoint);
    }
    let size = f.log.size().unwrap();
    assert_eq!(size, 2 + 1 + 3 + 250 + 256 + 300 + 1000 + 7);

    // Only the log's public key, the proof and the checkpoint are needed to check.
    let reader = Log::open_reader(f.log.files().root(), log_key().verifier()).unwrap();
    for cp in &checkpoints {
        let cp = reader.open_checkpoint(&cp.note).unwrap().checkpoint;
        for index in [0, 1, cp.size / 2, cp.size.saturating_sub(1)] {
            if index >= cp.size {
                continue;
            }
            let leaf = reader.leaf(index, cp.size).unwrap();
            let proof = reader.inclusion_proof(index, cp.size).unwrap();
            verify_inclusion(index, cp.size, &leaf_hash(&leaf), &proof, &cp.root).unwrap();
        }
        let latest = reader.checkpoint().unwrap().checkpoint;
        if cp.size > 0 {
            let proof = reader.consistency_proof(cp.size, latest.size).unwrap();
            verify_consistency(cp.size, latest.size, &proof, &cp.root, &latest.root).unwrap();
        }
    }
    let report = audit(&reader, Some(&f.admin.verifier())).unwrap();
    assert_eq!(report.size, size);
    // The empty log's checkpoint comes first.
    assert_eq!(report.checkpoints, checkpoints.len() + 1);
    assert_eq!(report.signers, vec!["@admin", "sales"]);
}

#[test]
fn requests_beyond_the_log_are_refused() {
    let f = fixture();
    let size = f.log.size().unwrap();
    assert!(matches!(
        f.log.inclusion_proof(size, size),
        Err(LogError::Proof(ProofError::IndexBeyondTree { .. }))
    ));
    assert!(matches!(
        f.log.inclusion_proof(0, size + 1),
        Err(LogError::Proof(ProofError::SizeBeyondLog { .. }))
    ));
    assert!(matches!(
        f.log.consistency_proof(0, size),
        Err(LogError::Proof(ProofError::BadSizes { .. }))
    ));
    assert!(f.log.entry(size).is_err());
}

#[test]
fn superseded_partial_tiles_are_removed_and_storage_stays_small() {
    let f = fixture();
    for i in 0..300 {
        f.log.append(&[ingest(&f.sales, i)]).unwrap();
    }
    // 302 entries: bundle 0 is full, bundle 1 partial with one width kept.
    let root = f.log.files().root();
    assert!(root.join("tile/entries/000").exists());
    assert!(!root.join("tile/entries/000.p").exists());
    let partials: Vec<_> = std::fs::read_dir(root.join("tile/entries/001.p"))
        .unwrap()
        .collect();
    assert_eq!(partials.len(), 1);
    assert!(root.join(tile_path(0, 1, 46)).exists());
}

#[test]
fn a_crash_mid_append_leaves_a_log_that_opens_verifies_and_grows() {
    let f = fixture();
    let entries: Vec<_> = (0..100).map(|i| ingest(&f.sales, i)).collect();
    f.log.append(&entries).unwrap();
    let before = f.log.checkpoint().unwrap();
    let root = f.log.files().root().to_path_buf();

    // A crashed batch wrote tiles and bundles beyond the checkpoint, but not the checkpoint:
    // a wider partial bundle, a partial hash tile and a full tile, all with foreign content.
    std::fs::write(root.join("tile/entries/000.p/200"), vec![0u8; 50]).unwrap();
    std::fs::write(root.join(tile_path(0, 0, 200)), vec![9u8; 200 * 32]).unwrap();
    std::fs::create_dir_all(root.join("tile/0")).unwrap();
    std::fs::write(root.join(tile_path(0, 1, 256)), vec![9u8; 256 * 32]).unwrap();
    // And the history line it was writing is cut short.
    let mut history = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join("checkpoints.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut history, b"\"agora.test/log\\n5").unwrap();

    // The log reopens at the last checkpoint and still verifies.
    let reopened = Log::open_or_create(&root, log_key()).unwrap();
    assert_eq!(reopened.checkpoint().unwrap(), before);
    audit(&reopened, None).unwrap();

    // Growing it discards the crashed batch's files; everything still proves.
    let more: Vec<_> = (0..200).map(|i| ingest(&f.sales, 1000 + i)).collect();
    let appended = reopened.append(&more).unwrap();
    let cp = appended.checkpoint.checkpoint;
    assert_eq!(cp.size, before.checkpoint.size + 200);
    for index in [0, 101, 150, 255, 256, cp.size - 1] {
        let leaf = reopened.leaf(index, cp.size).unwrap();
        let proof = reopened.inclusion_proof(index, cp.size).unwrap();
        verify_inclusion(index, cp.size, &leaf_hash(&leaf), &proof, &cp.root).unwrap();
    }
    audit(&reopened, None).unwrap();
}

#[test]
fn concurrent_writers_in_two_handles_share_one_consistent_log() {
    let f = fixture();
    let root = f.log.files().root().to_path_buf();
    // A second handle stands for a second process (the CLI beside a server).
    let other = Log::open_or_create(&root, log_key()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let log = if t % 2 == 0 { &f.log } else { &other };
            let sales = &f.sales;
            s.spawn(move || {
                for i in 0..50 {
                    log.append(&[ingest(sales, t * 1000 + i), ingest(sales, t * 1000 + i)])
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(f.log.size().unwrap(), 2 + 4 * 50 * 2);
    let report = audit(&f.log, None).unwrap();
    assert_eq!(report.size, 402);
}

#[test]
fn proof_bundles_verify_with_the_public_key_alone() {
    let f = fixture();
    let entries: Vec<_> = (0..40).map(|i| ingest(&f.sales, i)).collect();
    let first = f
        .log
        .append(&entries[..10])
        .unwrap()
        .checkpoint
        .checkpoint
        .size;
    f.log.append(&entries[10..]).unwrap();
    let key = log_key().verifier();

    let proof = f.log.prove_inclusion(5, None).unwrap();
    proof.verify(&key).unwrap();
    let json = serde_json::to_string(&proof).unwrap();
    let back: agora_ledger::InclusionProof = serde_json::from_str(&json).unwrap();
    back.verify(&key).unwrap();

    // Against an older published checkpoint too.
    f.log
        .prove_inclusion(5, Some(first))
        .unwrap()
        .verify(&key)
        .unwrap();
    assert!(matches!(
        f.log.prove_inclusion(5, Some(first + 1)),
        Err(LogError::NoCheckpoint(_))
    ));

    let mut changed = proof.clone();
    changed.entry = changed.entry.replace("\"rows\":103", "\"rows\":104");
    assert!(changed.verify(&key).is_err());
    let stranger = agora_ledger::NoteSigner::new("agora.test/log", [8; 32]).unwrap();
    assert!(proof.verify(&stranger.verifier()).is_err());

    let consistency = f.log.prove_consistency(first, None).unwrap();
    consistency.verify(&key, None).unwrap();
    let old = f.log.checkpoint_of_size(Some(first)).unwrap().note;
    consistency.verify(&key, Some(&old)).unwrap();
    // An auditor's checkpoint from a different history does not match.
    let other = f.log.checkpoint_of_size(Some(2)).unwrap().note;
    assert!(consistency.verify(&key, Some(&other)).is_err());
}
