//! `agora-bench-ledger DIR [ENTRIES] [PROOF_ENTRIES]`: measures the ledger on the local disk
//! under DIR and prints one JSON object (see docs/benchmarks.md for the method).
//!
//! 1. Physical reference: single-core Ed25519 signatures of 1 KiB entries per second, and
//!    SHA-256 throughput.
//! 2. ENTRIES durable appends of 1 KiB signed entries: in batches of 1,024 from one caller, and
//!    one entry per call from 64 threads (group commit), each with every fsync; the time to
//!    sign and to leaf-hash the same entries is measured on its own, so the breakdown shows what
//!    the storage costs.
//! 3. Storage: bytes on disk per entry against the canonical entry size.
//! 4. A log of PROOF_ENTRIES entries (small ones: proof cost does not depend on entry size),
//!    then inclusion and consistency proofs from the stored tiles, and their verification.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agora_ledger::{
    Entry, Leaf, Log, NoteSigner, SignedEntry, leaf_hash, verify_consistency, verify_inclusion,
};
use serde_json::json;
use sha2::{Digest, Sha256};

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// A signed entry whose canonical form is `target` bytes.
fn entry_of_size(key: &NoteSigner, i: u64, target: usize) -> SignedEntry {
    let make = |pad: usize| {
        Entry::now(
            "ingest.committed",
            "sales",
            json!({"product": "sales.orders", "table_version": i, "pad": "x".repeat(pad)}),
        )
        .sign(key)
    };
    let base = make(0).to_leaf().expect("small entry").len();
    make(target.saturating_sub(base))
}

fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("readable bench dir") {
        let entry = entry.expect("dir entry");
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() {
            disk_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: agora-bench-ledger DIR [ENTRIES] [PROOF_ENTRIES]"),
    );
    let entries: u64 = args
        .next()
        .map_or(200_000, |s| s.parse().expect("ENTRIES is a number"));
    let proof_entries: u64 = args.next().map_or(10_000_000, |s| {
        s.parse().expect("PROOF_ENTRIES is a number")
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    let sales = NoteSigner::generate("sales").expect("key");
    let log_key = || NoteSigner::new("bench/log", [1; 32]).expect("key");

    // 1. Physical reference, one core.
    let message = vec![0x5au8; 1024];
    let raw_key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let start = Instant::now();
    let n_sig = 20_000u64;
    for _ in 0..n_sig {
        std::hint::black_box(ed25519_dalek::Signer::sign(&raw_key, &message));
    }
    let sign_rate = per_sec(n_sig, start.elapsed());
    let start = Instant::now();
    let mut h = Sha256::new();
    for _ in 0..200_000 {
        h.update(&message);
    }
    std::hint::black_box(h.finalize());
    let sha_mb_s = 200_000.0 * 1024.0 / 1e6 / start.elapsed().as_secs_f64();

    // 2. Durable appends of 1 KiB entries.
    let prepared: Vec<SignedEntry> = (0..entries)
        .map(|i| entry_of_size(&sales, i, 1024))
        .collect();
    let canonical = prepared[0].to_leaf().expect("fits").len();
    let start = Instant::now();
    let leaves: Vec<Vec<u8>> = prepared
        .iter()
        .map(|e| e.to_leaf().expect("fits"))
        .collect();
    let encode_time = start.elapsed();
    let start = Instant::now();
    for l in &leaves {
        std::hint::black_box(leaf_hash(l));
    }
    let hash_time = start.elapsed();
    // Signing as the mesh does it (`Entry::sign_leaf`): canonical JSON of the entry, Ed25519,
    // and the stored form around them.
    let unsigned: Vec<Entry> = prepared
        .iter()
        .take(20_000)
        .map(|e| e.entry.clone())
        .collect();
    let n_signed = unsigned.len();
    let start = Instant::now();
    for e in unsigned {
        std::hint::black_box(e.sign_leaf(&sales).expect("fits"));
    }
    let sign_time_per_entry = start.elapsed().as_secs_f64() / n_signed as f64;

    let batch_dir = dir.join("batched");
    let log = Log::open_or_create(&batch_dir, log_key()).expect("log");
    // The stored form, as `Entry::sign_leaf` returns it to the mesh.
    let prepared_leaves: Vec<Leaf> = prepared
        .iter()
        .map(|e| Leaf::try_from(e).expect("fits"))
        .collect();
    let start = Instant::now();
    for chunk in prepared_leaves.chunks(1024) {
        log.append_leaves(chunk.to_vec()).expect("append");
    }
    let batched = start.elapsed();
    let batched_rate = per_sec(entries, batched);
    let bytes = disk_bytes(&batch_dir);

    let group_dir = dir.join("group");
    let log = Log::open_or_create(&group_dir, log_key()).expect("log");
    let threads = 64usize;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let log = &log;
            let prepared_leaves = &prepared_leaves;
            s.spawn(move || {
                for e in prepared_leaves.iter().skip(t).step_by(threads) {
                    log.append_leaves(vec![e.clone()]).expect("append");
                }
            });
        }
    });
    let grouped = start.elapsed();
    let grouped_rate = per_sec(entries, grouped);
    let checkpoints = log.history().expect("history").len();

    // 4. Proofs at scale.
    let proof_dir = dir.join("large");
    let log = Log::open_or_create(&proof_dir, log_key()).expect("log");
    let small = entry_of_size(&sales, 0, 200);
    let chunk = vec![Leaf::try_from(&small).expect("fits"); 65_536];
    let start = Instant::now();
    let mut appended = 0;
    while appended < proof_entries {
        let n = (proof_entries - appended).min(chunk.len() as u64) as usize;
        log.append_leaves(chunk[..n].to_vec()).expect("append");
        appended += n as u64;
    }
    let build = start.elapsed();
    let checkpoint = log.checkpoint().expect("checkpoint").checkpoint;
    let size = checkpoint.size;
    let leaf = leaf_hash(&small.to_leaf().expect("fits"));
    let samples = 2_000u64;
    let indexes: Vec<u64> = (0..samples).map(|_| rand::random::<u64>() % size).collect();
    let start = Instant::now();
    let proofs: Vec<_> = indexes
        .iter()
        .map(|&i| log.inclusion_proof(i, size).expect("proof"))
        .collect();
    let prove = start.elapsed() / samples as u32;
    let start = Instant::now();
    for (i, p) in indexes.iter().zip(&proofs) {
        verify_inclusion(*i, size, &leaf, p, &checkpoint.root).expect("verifies");
    }
    let verify = start.elapsed() / samples as u32;
    let firsts: Vec<u64> = (0..200)
        .map(|_| 1 + rand::random::<u64>() % (size - 1))
        .collect();
    let start = Instant::now();
    let mut consistency = Vec::new();
    for &f in &firsts {
        consistency.push(log.consistency_proof(f, size).expect("proof"));
    }
    let prove_consistency = start.elapsed() / firsts.len() as u32;
    let start = Instant::now();
    for (&f, p) in firsts.iter().zip(&consistency) {
        let old = log.root_at(f).expect("root");
        std::hint::black_box(verify_consistency(f, size, p, &old, &checkpoint.root).is_ok());
    }
    let root_and_verify = start.elapsed() / firsts.len() as u32;

    let report = json!({
        "reference": {
            "ed25519_sign_1kib_per_s_one_core": sign_rate.round(),
            "sha256_mb_per_s_one_core": sha_mb_s.round(),
        },
        "appends": {
            "entries": entries,
            "canonical_entry_bytes": canonical,
            "batched_1024_per_call_per_s": batched_rate.round(),
            "group_commit_64_threads_per_s": grouped_rate.round(),
            "group_commit_checkpoints": checkpoints,
            "cost_per_entry_us": {
                "canonical_json_and_sign": sign_time_per_entry * 1e6,
                "canonical_json": encode_time.as_secs_f64() * 1e6 / entries as f64,
                "leaf_hash": hash_time.as_secs_f64() * 1e6 / entries as f64,
                "append_total_batched": batched.as_secs_f64() * 1e6 / entries as f64,
            },
        },
        "storage": {
            "bytes_on_disk": bytes,
            "bytes_per_entry": bytes as f64 / entries as f64,
            "overhead_ratio": bytes as f64 / (entries as f64 * canonical as f64),
        },
        "proofs": {
            "entries": size,
            "build_seconds": build.as_secs_f64(),
            "inclusion_prove_us": prove.as_secs_f64() * 1e6,
            "inclusion_verify_us": verify.as_secs_f64() * 1e6,
            "consistency_prove_us": prove_consistency.as_secs_f64() * 1e6,
            "consistency_old_root_and_verify_us": root_and_verify.as_secs_f64() * 1e6,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
}
