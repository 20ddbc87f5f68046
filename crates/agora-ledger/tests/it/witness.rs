use agora_ledger::{Cosigner, Log, Witness, WitnessError, cosignatures};

use crate::{fixture, ingest, log_key};

#[test]
fn a_witness_cosigns_growth_and_refuses_rollback_split_view_and_bad_proofs() {
    let f = fixture();
    let state = tempfile::tempdir().unwrap();
    let witness = Witness::new(Cosigner::generate("w.example/1").unwrap(), state.path());
    let key = log_key().verifier();

    f.log.append(&[ingest(&f.sales, 1)]).unwrap();
    let first = f.log.checkpoint().unwrap();
    let line = witness
        .witness(&key, &first.note, &[], 1_800_000_000)
        .unwrap();
    let cosigned = format!("{}{line}", first.note);
    assert_eq!(
        cosignatures(&cosigned, &[witness.cosigner().verifier()])
            .unwrap()
            .len(),
        1
    );

    // A split view: another log under the same key, same size, other entries.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Log::open_or_create(other_dir.path(), log_key()).unwrap();
    let entries: Vec<_> = (0..first.checkpoint.size)
        .map(|i| ingest(&f.sales, 100 + i))
        .collect();
    other.append(&entries).unwrap();
    let forked = other.checkpoint().unwrap();
    assert_eq!(forked.checkpoint.size, first.checkpoint.size);
    let err = witness
        .witness(&key, &forked.note, &[], 1_800_000_001)
        .unwrap_err();
    let WitnessError::SplitView { evidence, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        std::fs::read_to_string(evidence)
            .unwrap()
            .contains(&forked.note)
    );

    // Growth with a valid consistency proof is cosigned; a wrong proof is not.
    f.log
        .append(&[ingest(&f.sales, 2), ingest(&f.sales, 3)])
        .unwrap();
    let grown = f.log.checkpoint().unwrap();
    let proof = f
        .log
        .consistency_proof(first.checkpoint.size, grown.checkpoint.size)
        .unwrap();
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(matches!(
        witness.witness(&key, &grown.note, &bad, 1_800_000_002),
        Err(WitnessError::Inconsistent { .. })
    ));
    witness
        .witness(&key, &grown.note, &proof, 1_800_000_003)
        .unwrap();

    // Going back to the smaller checkpoint is a rollback.
    assert!(matches!(
        witness.witness(&key, &first.note, &[], 1_800_000_004),
        Err(WitnessError::Rollback { .. })
    ));
    // A checkpoint signed by another key is refused.
    let stranger = agora_ledger::NoteSigner::new("agora.test/log", [9; 32]).unwrap();
    let forged = agora_ledger::sign_note(&grown.checkpoint.to_text(), &[&stranger]).unwrap();
    assert!(matches!(
        witness.witness(&key, &forged, &[], 1_800_000_005),
        Err(WitnessError::BadCheckpoint(_))
    ));
}

/// Two witnesses of one state directory (two processes: `agora serve` answering a push, and
/// `agora ledger witness`) shown the two sides of a split view at once: only one is cosigned.
#[test]
fn concurrent_pushes_of_a_split_view_are_not_both_cosigned() {
    let f = fixture();
    let key = log_key().verifier();
    f.log.append(&[ingest(&f.sales, 1)]).unwrap();
    let left = f.log.checkpoint().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = Log::open_or_create(other_dir.path(), log_key()).unwrap();
    let entries: Vec<_> = (0..left.checkpoint.size)
        .map(|i| ingest(&f.sales, 100 + i))
        .collect();
    other.append(&entries).unwrap();
    let right = other.checkpoint().unwrap();
    assert_eq!(right.checkpoint.size, left.checkpoint.size);

    for round in 0..20 {
        let state = tempfile::tempdir().unwrap();
        let cosigner = Cosigner::generate("w.example/1").unwrap();
        let outcomes: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = [&left.note, &right.note]
                .into_iter()
                .map(|note| {
                    let same = Cosigner::parse_secret(&cosigner.encode_secret()).unwrap();
                    let witness = Witness::new(same, state.path());
                    let key = key.clone();
                    s.spawn(move || witness.witness(&key, note, &[], 1_800_000_000).is_ok())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: both sides of a split view were cosigned, or neither"
        );
    }
}
