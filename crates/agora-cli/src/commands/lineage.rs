//! `agora lineage`: the graph around a product, table or column, from the ledger.

use agora_lineage::{Direction, LineageGraph, LineageRequest, PointInTime};
use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct LineageArgs {
    /// `domain.product`, `domain.table` or `domain.table.column`.
    target: String,
    /// Only what fed the target (the default shows both directions).
    #[arg(long, conflicts_with = "downstream")]
    upstream: bool,
    /// Only what the target feeds.
    #[arg(long)]
    downstream: bool,
    /// At most this many hops from the target.
    #[arg(long)]
    depth: Option<usize>,
    /// text, json or dot.
    #[arg(long, default_value = "text")]
    format: String,
    /// Answer as the ledger stood at this time (RFC 3339).
    #[arg(long, conflicts_with = "checkpoint")]
    as_of: Option<String>,
    /// Answer as of the published checkpoint of this many entries.
    #[arg(long)]
    checkpoint: Option<u64>,
    /// Prove every edge's ledger entry against the checkpoint and check its signature.
    #[arg(long)]
    verify: bool,
}

pub async fn run(mesh: &Mesh, me: &Principal, args: LineageArgs) -> Result<(), MeshError> {
    let at = match (args.as_of, args.checkpoint) {
        (Some(t), _) => PointInTime::AsOf(
            chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|e| MeshError::BadInput {
                    source_name: "--as-of".into(),
                    message: format!("`{t}` is not an RFC 3339 time: {e}"),
                })?
                .to_utc(),
        ),
        (None, Some(size)) => PointInTime::Checkpoint(size),
        (None, None) => PointInTime::Latest,
    };
    let direction = match (args.upstream, args.downstream) {
        (true, _) => Direction::Upstream,
        (_, true) => Direction::Downstream,
        _ => Direction::Both,
    };
    let format = args.format;
    if !["text", "json", "dot"].contains(&format.as_str()) {
        return Err(MeshError::BadInput {
            source_name: "--format".into(),
            message: format!("`{format}`: expected text, json or dot"),
        });
    }
    let graph = mesh
        .lineage(
            me,
            LineageRequest {
                target: args.target,
                direction,
                depth: args.depth,
                at,
                verify: args.verify,
            },
        )
        .await?;
    match format.as_str() {
        "json" => print(
            serde_json::to_string_pretty(&graph).expect("INVARIANT: a lineage graph is plain JSON"),
        ),
        "dot" => print(graph.to_dot().trim_end()),
        _ => print_lineage(&graph),
    }
}

/// The text form of a lineage graph: one edge per line with its ledger entry.
fn print_lineage(g: &LineageGraph) -> Result<(), MeshError> {
    print(format!(
        "lineage of {}{} — ledger checkpoint {} (root {}){}",
        g.target,
        if g.columns { " (columns)" } else { "" },
        g.checkpoint.size,
        &g.checkpoint.root[..16],
        if g.verified {
            ", every edge proven"
        } else {
            ""
        }
    ))?;
    if g.edges.is_empty() {
        return print("  no lineage recorded");
    }
    for e in &g.edges {
        let transformations = if e.transformations.is_empty() {
            String::new()
        } else {
            format!(" [{}]", e.transformations.join("; "))
        };
        print(format!(
            "  {} → {}  via {}{}  (entry {}, {}, signed by {})",
            e.from, e.to, e.via, transformations, e.entry, e.time, e.signer
        ))?;
    }
    Ok(())
}
