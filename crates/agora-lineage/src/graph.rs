//! Lineage read from the ledger: the graph of sources, tables, external datasets and jobs,
//! every edge backed by the ledger entry that recorded it.
//!
//! Edges come from two kinds of entries: `ingest.committed` (the source file, identified by its
//! name and SHA-256, feeds the table) and `lineage.run` (OpenLineage run events: each input
//! dataset feeds each output through the job; their `columnLineage` facets give column edges).
//! Because the ledger is append-only, the graph "as it stood" at any published checkpoint is the
//! graph of that checkpoint's first entries, and each edge is proven against that checkpoint.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use agora_ledger::{
    Keyring, Log, LogError, SignedCheckpoint, SignedEntry, leaf_hash, verify_inclusion,
};
use base64::Engine;
use serde::Serialize;
use serde_json::Value;

use crate::{KIND_LINEAGE, LineageError};

/// Which way to walk from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Upstream,
    Downstream,
    Both,
}

/// Which state of the ledger to answer from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointInTime {
    Latest,
    /// The latest checkpoint whose entries were all recorded at or before this time.
    AsOf(chrono::DateTime<chrono::Utc>),
    /// The published checkpoint of this many entries.
    Checkpoint(u64),
}

/// A lineage question.
#[derive(Debug, Clone)]
pub struct LineageRequest {
    /// `domain.table`, `domain.product`, or `domain.table.column` for column lineage.
    pub target: String,
    pub direction: Direction,
    pub depth: Option<usize>,
    pub at: PointInTime,
    /// Prove every edge's entry against the checkpoint and check its signature.
    pub verify: bool,
}

/// One edge: `from` fed `to`, as entry `entry` of the ledger records.
#[derive(Debug, Clone, Serialize)]
pub struct LineageEdge {
    pub from: String,
    pub to: String,
    /// `ingest` or `job <namespace>/<name>`.
    pub via: String,
    /// Transformations a column lineage facet names (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transformations: Vec<String>,
    pub entry: u64,
    pub time: String,
    pub signer: String,
    /// base64 inclusion proof of the entry in the checkpoint (with `verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineageCheckpoint {
    pub size: u64,
    pub root: String,
    pub note: String,
}

/// The answer: the edges reachable from the target, and the checkpoint they are proven in.
#[derive(Debug, Clone, Serialize)]
pub struct LineageGraph {
    pub target: String,
    pub columns: bool,
    pub checkpoint: LineageCheckpoint,
    pub nodes: Vec<String>,
    pub edges: Vec<LineageEdge>,
    /// Whether every edge was proven (and its entry's signature checked).
    pub verified: bool,
}

impl LineageGraph {
    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = format!(
            "digraph lineage {{\n  rankdir=LR;\n  {} [style=bold];\n",
            quote(&self.target)
        );
        for e in &self.edges {
            out.push_str(&format!(
                "  {} -> {} [label={}];\n",
                quote(&e.from),
                quote(&e.to),
                quote(&format!("{} (entry {})", e.via, e.entry))
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// The id of a dataset recorded in a lineage entry: its mesh table, or `namespace/name`.
fn dataset_id(d: &Value) -> String {
    match d["table"].as_str() {
        Some(t) => t.to_string(),
        None => format!(
            "{}/{}",
            d["namespace"].as_str().unwrap_or_default(),
            d["name"].as_str().unwrap_or_default()
        ),
    }
}

/// The id of a column of a dataset named in a column lineage facet.
fn column_id(namespace: &str, name: &str, field: &str, tables: &BTreeSet<String>) -> String {
    if tables.contains(name) {
        format!("{name}.{field}")
    } else {
        format!("{namespace}/{name}.{field}")
    }
}

/// Every edge an entry records: table-level, and column-level.
fn edges_of(
    index: u64,
    e: &SignedEntry,
    tables: &BTreeSet<String>,
) -> (Vec<LineageEdge>, Vec<LineageEdge>) {
    let body = &e.entry.body;
    let edge = |from: String, to: String, via: String, transformations: Vec<String>| LineageEdge {
        from,
        to,
        via,
        transformations,
        entry: index,
        time: e.entry.time.clone(),
        signer: e.entry.signer.clone(),
        proof: None,
    };
    let (mut table_edges, mut column_edges) = (Vec::new(), Vec::new());
    match e.entry.kind.as_str() {
        "ingest.committed" => {
            let (Some(table), Some(source)) = (body["table"].as_str(), body["source"].as_str())
            else {
                return (table_edges, column_edges);
            };
            let sha = body["input_sha256"].as_str().unwrap_or_default();
            let from = format!("source:{source}@{}", &sha[..sha.len().min(12)]);
            table_edges.push(edge(from, table.to_string(), "ingest".into(), Vec::new()));
        }
        KIND_LINEAGE => {
            let via = format!(
                "job {}/{}",
                body["job"]["namespace"].as_str().unwrap_or_default(),
                body["job"]["name"].as_str().unwrap_or_default()
            );
            let empty = Vec::new();
            let inputs = body["inputs"].as_array().unwrap_or(&empty);
            let outputs = body["outputs"].as_array().unwrap_or(&empty);
            for o in outputs {
                for i in inputs {
                    table_edges.push(edge(dataset_id(i), dataset_id(o), via.clone(), Vec::new()));
                }
                let Some(fields) = o["columnLineage"]["fields"].as_object() else {
                    continue;
                };
                let out_table = dataset_id(o);
                for (column, spec) in fields {
                    let to = format!("{out_table}.{column}");
                    for input in spec["inputFields"].as_array().unwrap_or(&empty) {
                        let transformations = input["transformations"]
                            .as_array()
                            .map(|ts| {
                                ts.iter()
                                    .map(|t| {
                                        [
                                            t["type"].as_str(),
                                            t["subtype"].as_str(),
                                            t["description"].as_str(),
                                        ]
                                        .into_iter()
                                        .flatten()
                                        .filter(|s| !s.is_empty())
                                        .collect::<Vec<_>>()
                                        .join(" ")
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let from = column_id(
                            input["namespace"].as_str().unwrap_or_default(),
                            input["name"].as_str().unwrap_or_default(),
                            input["field"].as_str().unwrap_or_default(),
                            tables,
                        );
                        column_edges.push(edge(from, to.clone(), via.clone(), transformations));
                    }
                }
            }
        }
        _ => {}
    }
    (table_edges, column_edges)
}

/// The edges reachable from `start` in `direction`, at most `depth` hops away.
fn reachable(
    edges: &[LineageEdge],
    start: &BTreeSet<String>,
    direction: Direction,
    depth: Option<usize>,
) -> Vec<usize> {
    let mut seen_nodes: BTreeSet<&str> = start.iter().map(String::as_str).collect();
    let mut picked = BTreeSet::new();
    let mut queue: VecDeque<(&str, usize)> = start.iter().map(|s| (s.as_str(), 0)).collect();
    while let Some((node, d)) = queue.pop_front() {
        if depth.is_some_and(|max| d >= max) {
            continue;
        }
        for (i, e) in edges.iter().enumerate() {
            let next = match direction {
                Direction::Upstream if e.to == node => &e.from,
                Direction::Downstream if e.from == node => &e.to,
                Direction::Both if e.to == node => &e.from,
                Direction::Both if e.from == node => &e.to,
                _ => continue,
            };
            picked.insert(i);
            if seen_nodes.insert(next) {
                queue.push_back((next, d + 1));
            }
        }
    }
    picked.into_iter().collect()
}

/// Answers `request` from `log`, whose mesh has the `tables` (`domain.table`) and the `products`
/// (`domain.product` → its tables). Reads the log: call it off the async threads.
pub fn lineage(
    log: &Log,
    request: &LineageRequest,
    tables: &BTreeSet<String>,
    products: &BTreeMap<String, Vec<String>>,
) -> Result<LineageGraph, LineageError> {
    let latest = log.checkpoint()?;
    let all = log.entries(0, latest.checkpoint.size, latest.checkpoint.size)?;
    let checkpoint = checkpoint_at(log, &request.at, latest, &all)?;
    let size = checkpoint.checkpoint.size;
    let entries = &all[..size as usize];

    let target = request.target.trim().to_string();
    let columns = target.split('.').count() == 3;
    let start = start_nodes(&target, columns, tables, products)?;
    let edges = latest_edges(edges_in(entries, tables, columns, &start));
    let picked = reachable(&edges, &start, request.direction, request.depth);
    let mut edges: Vec<LineageEdge> = picked.into_iter().map(|i| edges[i].clone()).collect();
    edges.sort_by_key(|e| e.entry);
    if request.verify {
        prove(&mut edges, entries, log, &checkpoint)?;
    }
    let mut nodes: BTreeSet<String> = start.clone();
    for e in &edges {
        nodes.insert(e.from.clone());
        nodes.insert(e.to.clone());
    }
    Ok(LineageGraph {
        target,
        columns,
        checkpoint: LineageCheckpoint {
            size,
            root: hex::encode(checkpoint.checkpoint.root),
            note: checkpoint.note,
        },
        nodes: nodes.into_iter().collect(),
        edges,
        verified: request.verify,
    })
}

/// The published checkpoint `at` names (`latest` is the log's newest), given all entries.
fn checkpoint_at(
    log: &Log,
    at: &PointInTime,
    latest: SignedCheckpoint,
    all: &[SignedEntry],
) -> Result<SignedCheckpoint, LineageError> {
    match at {
        PointInTime::Latest => Ok(latest),
        PointInTime::Checkpoint(size) => Ok(log.checkpoint_of_size(Some(*size))?),
        PointInTime::AsOf(t) => {
            let recorded_by = |size: u64| {
                size == 0
                    || chrono::DateTime::parse_from_rfc3339(&all[size as usize - 1].entry.time)
                        .is_ok_and(|at| at <= *t)
            };
            log.history()?
                .into_iter()
                .rev()
                .find(|c| recorded_by(c.checkpoint.size))
                .ok_or_else(|| LineageError::not_found("checkpoint at or before", t.to_rfc3339()))
        }
    }
}

/// The nodes a question about `target` starts from: a column, a table, or a product's tables.
fn start_nodes(
    target: &str,
    columns: bool,
    tables: &BTreeSet<String>,
    products: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeSet<String>, LineageError> {
    if columns {
        let table = target.rsplit_once('.').map_or(target, |(table, _)| table);
        if !tables.contains(table) {
            return Err(LineageError::not_found("table", table));
        }
        return Ok(BTreeSet::from([target.to_string()]));
    }
    if let Some(product_tables) = products.get(target) {
        return Ok(product_tables.iter().cloned().collect());
    }
    if tables.contains(target) {
        return Ok(BTreeSet::from([target.to_string()]));
    }
    Err(LineageError::NotFound {
        what: "product or table",
        name: target.to_string(),
        hint: ": name it `domain.product`, `domain.table` or `domain.table.column`".into(),
    })
}

/// Every edge `entries` record, at table or at column level; a column of an ingested table
/// came from the source's column of the same name.
fn edges_in(
    entries: &[SignedEntry],
    tables: &BTreeSet<String>,
    columns: bool,
    start: &BTreeSet<String>,
) -> Vec<LineageEdge> {
    let mut edges = Vec::new();
    let mut ingests: Vec<LineageEdge> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let (table_edges, column_edges) = edges_of(i as u64, e, tables);
        if columns {
            ingests.extend(table_edges.into_iter().filter(|t| t.via == "ingest"));
            edges.extend(column_edges);
        } else {
            edges.extend(table_edges);
        }
    }
    if columns {
        let column_nodes: BTreeSet<String> = edges
            .iter()
            .flat_map(|e| [e.from.clone(), e.to.clone()])
            .chain(start.iter().cloned())
            .collect();
        for node in column_nodes {
            let Some((table, column)) = node.rsplit_once('.') else {
                continue;
            };
            for ingest in ingests.iter().filter(|t| t.to == table) {
                let mut edge = ingest.clone();
                edge.from = format!("{}#{column}", ingest.from);
                edge.to = node.clone();
                edges.push(edge);
            }
        }
    }
    edges
}

/// Several runs of one job (START, COMPLETE, each day's run) make one edge: the latest.
fn latest_edges(edges: Vec<LineageEdge>) -> Vec<LineageEdge> {
    type EdgeKey = (String, String, String, Vec<String>);
    let mut latest: BTreeMap<EdgeKey, LineageEdge> = BTreeMap::new();
    for e in edges {
        let key = (
            e.from.clone(),
            e.to.clone(),
            e.via.clone(),
            e.transformations.clone(),
        );
        match latest.get(&key) {
            Some(kept) if kept.entry > e.entry => {}
            _ => {
                latest.insert(key, e);
            }
        }
    }
    latest.into_values().collect()
}

/// Proves each edge's entry against `checkpoint` and checks its signature with the keys the
/// log itself registered; the proofs go into the edges.
fn prove(
    edges: &mut [LineageEdge],
    entries: &[SignedEntry],
    log: &Log,
    checkpoint: &SignedCheckpoint,
) -> Result<(), LineageError> {
    let size = checkpoint.checkpoint.size;
    // Signatures: learn the keys from the start of the log.
    let mut keys = Keyring::default();
    for (i, e) in entries.iter().enumerate() {
        keys.observe(i as u64, e)
            .map_err(|f| LineageError::Verification(f.to_string()))?;
    }
    for edge in edges {
        let leaf = entries[edge.entry as usize]
            .to_leaf()
            .map_err(LogError::from)?;
        let proof = log.inclusion_proof(edge.entry, size)?;
        verify_inclusion(
            edge.entry,
            size,
            &leaf_hash(&leaf),
            &proof,
            &checkpoint.checkpoint.root,
        )
        .map_err(|e| LineageError::Verification(format!("entry {}: {e}", edge.entry)))?;
        edge.proof = Some(
            proof
                .iter()
                .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
                .collect(),
        );
    }
    Ok(())
}
