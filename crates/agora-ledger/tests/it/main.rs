//! The stored ledger as its users meet it: appends, proofs a third party can check, reopening
//! after a crash, several writers, and an audit that names every kind of tampering.

mod store;
mod tamper;
mod witness;

use agora_ledger::{Entry, Log, NoteSigner, SignedEntry, genesis, key_registration};
use serde_json::json;

/// A log with a genesis entry and the `sales` domain's key registered.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub log: Log,
    pub admin: NoteSigner,
    pub sales: NoteSigner,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_or_create(dir.path().join("ledger"), log_key()).unwrap();
    let admin = NoteSigner::generate("@admin").unwrap();
    let sales = NoteSigner::generate("sales").unwrap();
    log.append(&[
        genesis(&admin),
        key_registration(&admin, &sales.verifier(), json!({"domain": "sales"})),
    ])
    .unwrap();
    Fixture {
        dir,
        log,
        admin,
        sales,
    }
}

/// The same log key every time, so a reopened log verifies with it.
pub fn log_key() -> NoteSigner {
    NoteSigner::new("agora.test/log", [7; 32]).unwrap()
}

pub fn ingest(sales: &NoteSigner, i: u64) -> SignedEntry {
    Entry::now(
        "ingest.committed",
        "sales",
        json!({"product": "sales.orders", "version": i, "rows": 100 + i}),
    )
    .sign(sales)
}
