//! `agora ledger …`: read the mesh's ledger, prove what it holds, audit it, and check proofs
//! offline with nothing but the log's public key.

use std::path::{Path, PathBuf};

use agora_ledger::CosignerKey;
use agora_ledger::{ConsistencyProof, InclusionProof, NoteVerifier, audit};
use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::{Args, Subcommand};
use serde::Deserialize;

use crate::print;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint in a signed note).
    Checkpoint,
    /// Print the log's public key, which verifies checkpoints and proofs.
    Key,
    /// Print one entry.
    Show {
        index: u64,
        /// For a `query.run` entry: also the query's exact text (administrator only; the
        /// entry itself holds its shape and a keyed hash).
        #[arg(long)]
        sql: bool,
    },
    /// List the latest entries: index, time, kind, signer.
    Tail {
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Print a JSON proof that entry INDEX is in the log.
    ProveInclusion {
        index: u64,
        /// Prove against the published checkpoint of this size (default: the latest).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print a JSON proof that the log of SIZE entries extends the one of FIRST entries.
    ProveConsistency {
        first: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Audit the whole log: every hash, every signature, every checkpoint.
    Verify {
        /// Audit a mirror this mesh keeps of another log instead (give that log's key).
        #[arg(long, requires = "key")]
        from_mirror: Option<PathBuf>,
        #[arg(long)]
        key: Option<String>,
    },
    /// Print this mesh's witness key, to register with the logs it witnesses.
    WitnessKey,
    /// Accept cosignatures from this witness key on this mesh's checkpoints.
    AddWitness { key: String },
    /// List the witnesses this mesh's log accepts.
    Witnesses,
    /// Witness the log whose checkpoints KEY signs when it pushes them to this node's
    /// `POST /api/v1/witness/add-checkpoint`.
    Watch { key: String },
    /// Witness another node's log: check its checkpoint is consistent with the last one seen,
    /// cosign it and send the cosignature back (and, with --mirror, copy and audit its tiles).
    Witness {
        /// The log's HTTP base URL, e.g. http://127.0.0.1:8765
        #[arg(long)]
        log: String,
        /// The log's public key (`agora ledger key` on that node).
        #[arg(long)]
        key: String,
        /// An API token of that node.
        #[arg(long, env = "AGORA_LOG_TOKEN")]
        token: Option<String>,
        #[arg(long)]
        mirror: bool,
    },
    /// Check a proof printed by prove-inclusion or prove-consistency, offline.
    VerifyProof(VerifyProofArgs),
}

#[derive(Args)]
pub struct VerifyProofArgs {
    file: PathBuf,
    /// The log's public key (`agora ledger key`).
    #[arg(long)]
    key: String,
    /// For a consistency proof: the earlier checkpoint you kept (a signed note file).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A witness key whose cosignature counts (repeat for each witness).
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned the checkpoint.
    #[arg(long, default_value_t = 0)]
    min_witnesses: usize,
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("INVARIANT: proofs and entries are plain JSON")
}

pub async fn run(mesh: &Mesh, me: &Principal, command: LedgerCommand) -> Result<(), MeshError> {
    let log = mesh.log();
    match command {
        LedgerCommand::Checkpoint => {
            let cp = log.checkpoint().map_err(MeshError::Ledger)?;
            print(cp.note.trim_end())
        }
        LedgerCommand::Key => print(mesh.log_key().encode()),
        LedgerCommand::Show { index, sql } => {
            let entry = log.entry(index).map_err(MeshError::Ledger)?;
            if !sql {
                return print(to_json(&entry));
            }
            match mesh.query_text(me, &entry).await? {
                Some(text) => print(text),
                None => Err(MeshError::NotFound {
                    what: "query text of entry",
                    name: index.to_string(),
                    hint: ": only query.run entries have one".into(),
                }),
            }
        }
        LedgerCommand::Tail { limit } => {
            let size = log.size().map_err(MeshError::Ledger)?;
            for index in size.saturating_sub(limit)..size {
                let e = log.entry(index).map_err(MeshError::Ledger)?.entry;
                print(format!(
                    "{index:>6}  {}  {:<18} {}",
                    e.time, e.kind, e.signer
                ))?;
            }
            Ok(())
        }
        LedgerCommand::ProveInclusion { index, size } => print(to_json(
            &log.prove_inclusion(index, size)
                .map_err(MeshError::Ledger)?,
        )),
        LedgerCommand::ProveConsistency { first, size } => print(to_json(
            &log.prove_consistency(first, size)
                .map_err(MeshError::Ledger)?,
        )),
        LedgerCommand::Verify { from_mirror, key } => {
            let report = match (from_mirror, key) {
                (Some(dir), Some(key)) => {
                    let key = NoteVerifier::parse(&key).map_err(|e| MeshError::BadInput {
                        source_name: "--key".into(),
                        message: e.to_string(),
                    })?;
                    super::witness::verify_mirror(&dir, &key)?
                }
                _ => {
                    let report =
                        audit(log, None).map_err(|f| MeshError::LedgerAudit(f.to_string()))?;
                    let problems = mesh.cross_check().await?;
                    if !problems.is_empty() {
                        return Err(MeshError::LedgerAudit(format!(
                            "the log is intact, but the mesh and its ledger disagree:\n  {}",
                            problems.join("\n  ")
                        )));
                    }
                    report
                }
            };
            print(format!(
                "Ledger {} verified: {} entries, {} checkpoints, root {}\n  signers: {}",
                report.origin,
                report.size,
                report.checkpoints,
                report.root,
                report.signers.join(", ")
            ))
        }
        LedgerCommand::WitnessKey => print(mesh.witness()?.cosigner().verifier().encode()),
        LedgerCommand::AddWitness { key } => {
            let key = mesh.add_witness(me, &key).await?;
            print(format!("Witness {} added", key.name))
        }
        LedgerCommand::Watch { key } => {
            let key = mesh.watch_log(me, &key)?;
            print(format!("Witnessing log {} on pushes", key.name))
        }
        LedgerCommand::Witnesses => {
            for w in log.witnesses().map_err(MeshError::Ledger)? {
                print(w.encode())?;
            }
            Ok(())
        }
        LedgerCommand::Witness {
            log,
            key,
            token,
            mirror,
        } => {
            let remote = super::witness::Remote::new(&log, token);
            super::witness::witness(mesh, &remote, &key, mirror).await
        }
        LedgerCommand::VerifyProof(_) => unreachable!("handled without opening the mesh"),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyProof {
    Inclusion(InclusionProof),
    Consistency(ConsistencyProof),
}

fn read(path: &Path) -> Result<String, MeshError> {
    std::fs::read_to_string(path).map_err(|source| MeshError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Checks a proof file with only the public key (and the witnesses' keys): no mesh needed.
pub fn verify_proof(args: VerifyProofArgs) -> Result<(), MeshError> {
    let VerifyProofArgs {
        file,
        key,
        checkpoint,
        witnesses,
        min_witnesses,
    } = args;
    let file = file.as_path();
    let bad = |message: String| MeshError::BadInput {
        source_name: file.display().to_string(),
        message,
    };
    let key = NoteVerifier::parse(&key).map_err(|e| MeshError::BadInput {
        source_name: "--key".into(),
        message: e.to_string(),
    })?;
    let witnesses = witnesses
        .iter()
        .map(|w| {
            CosignerKey::parse(w).map_err(|e| MeshError::BadInput {
                source_name: "--witness".into(),
                message: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if min_witnesses > witnesses.len() {
        return Err(MeshError::BadInput {
            source_name: "--min-witnesses".into(),
            message: format!(
                "{min_witnesses} required but only {} --witness keys given",
                witnesses.len()
            ),
        });
    }
    let proof: AnyProof = serde_json::from_str(&read(file)?)
        .map_err(|e| bad(format!("not an inclusion or consistency proof: {e}")))?;
    match proof {
        AnyProof::Inclusion(p) => {
            p.verify_witnessed(&key, &witnesses, min_witnesses)
                .map_err(|e| bad(format!("the proof does not verify: {e}")))?;
            print(format!(
                "OK: entry {} is in the log of {} entries signed by {}",
                p.index, p.tree_size, key.name
            ))
        }
        AnyProof::Consistency(p) => {
            let trusted = checkpoint.as_deref().map(read).transpose()?;
            p.verify_witnessed(&key, trusted.as_deref(), &witnesses, min_witnesses)
                .map_err(|e| bad(format!("the proof does not verify: {e}")))?;
            print(format!(
                "OK: the log of {} entries extends the log of {} entries ({})",
                p.second, p.first, key.name
            ))
        }
    }
}
