//! Lineage as the mesh answers it: graphs from the ledger (`agora-lineage`) over the mesh's
//! tables and products, and OpenLineage run events recorded with the output domain's signature.

use std::collections::{BTreeMap, BTreeSet};

use agora_lineage::{KIND_LINEAGE, LineageGraph, LineageRequest, RunEvent};
use agora_model::{Access, Principal, TableRef};

use crate::recorder::Event;
use crate::{Mesh, MeshError};

impl Mesh {
    /// Answers a lineage question from the ledger, as `reader` may see it: only edges whose
    /// mesh tables the reader may read (an ingest's source shows with the table it fed).
    pub async fn lineage(
        &self,
        reader: &Principal,
        request: LineageRequest,
    ) -> Result<LineageGraph, MeshError> {
        let products: BTreeMap<String, Vec<String>> = self
            .catalog
            .products()
            .await?
            .into_iter()
            .map(|p| {
                let tables = p
                    .tables
                    .iter()
                    .map(|t| format!("{}.{t}", p.domain))
                    .collect();
                (format!("{}.{}", p.domain, p.name), tables)
            })
            .collect();
        let tables: BTreeSet<String> = products.values().flatten().cloned().collect();
        let readable = self.readable_tables(reader).await?;
        let recorder = self.recorder.clone();
        let all_tables = tables.clone();
        let mut graph = tokio::task::spawn_blocking(move || {
            agora_lineage::lineage(recorder.log(), &request, &all_tables, &products)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the lineage reader failed: {e}")))??;
        if reader.is_admin {
            return Ok(graph);
        }
        // The table a node stands for: itself, or the table of a column.
        let table_of = |node: &str| -> Option<String> {
            if tables.contains(node) {
                return Some(node.to_string());
            }
            let (table, _) = node.rsplit_once('.')?;
            tables.contains(table).then(|| table.to_string())
        };
        let visible = |node: &str| table_of(node).is_none_or(|t| readable.contains(&t));
        if !visible(&graph.target) {
            return Err(MeshError::Denied {
                principal: reader.name.to_string(),
                action: format!("see the lineage of {} (no read grant)", graph.target),
            });
        }
        graph.edges.retain(|e| visible(&e.from) && visible(&e.to));
        let mut nodes: BTreeSet<String> =
            graph.nodes.iter().filter(|n| visible(n)).cloned().collect();
        nodes.retain(|n| {
            n == &graph.target
                || graph.edges.iter().any(|e| &e.from == n || &e.to == n)
                || table_of(n).is_some()
        });
        graph.nodes = nodes.into_iter().collect();
        Ok(graph)
    }

    /// The tables `reader` may read, as `domain.table`.
    async fn readable_tables(&self, reader: &Principal) -> Result<BTreeSet<String>, MeshError> {
        let viewer = self.viewer(reader).await?;
        Ok(self
            .catalog
            .products()
            .await?
            .iter()
            .flat_map(|p| {
                p.tables
                    .iter()
                    .filter(|t| viewer.may(Access::Read, &p.domain, &p.name, t))
                    .map(|t| format!("{}.{t}", p.domain))
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Records an OpenLineage run event, signed by the domain of its output tables. The caller
    /// must be allowed to write every output table of the mesh; events whose outputs are all
    /// outside the mesh are recorded only for the administrator.
    pub async fn record_lineage(&self, actor: &Principal, body: &[u8]) -> Result<u64, MeshError> {
        let event = RunEvent::parse(body)?;
        let products = self.catalog.products().await?;
        // Datasets named `domain.table` of a table of the mesh are that table.
        let table_of = |name: &str| {
            let table = TableRef::parse(name).ok()?;
            let product = products
                .iter()
                .find(|p| p.domain == table.domain && p.tables.contains(&table.table))?;
            Some((table, product))
        };
        let viewer = self.viewer(actor).await?;
        let mut signer = None;
        for d in &event.outputs {
            let Some((t, product)) = table_of(&d.name) else {
                continue;
            };
            if !viewer.may(Access::Write, &t.domain, &product.name, &t.table) {
                return Err(MeshError::Denied {
                    principal: actor.name.to_string(),
                    action: format!(
                        "record lineage into {t} (product {}.{})",
                        t.domain, product.name
                    ),
                });
            }
            match &signer {
                None => signer = Some(t.domain.clone()),
                Some(d) if *d != t.domain => {
                    return Err(MeshError::bad_input(
                        "OpenLineage event",
                        format!(
                            "outputs in two domains ({d} and {}): send one event per domain",
                            t.domain
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if signer.is_none() && !actor.is_admin {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: "record lineage whose outputs are all outside the mesh".into(),
            });
        }
        let entry = event.entry_body(
            body,
            |name| table_of(name).map(|(t, _)| t),
            actor.name.as_str(),
        );
        let event = match signer {
            Some(domain) => Event::by_domain(KIND_LINEAGE, &domain, entry),
            None => Event::by_admin(KIND_LINEAGE, entry),
        };
        Ok(self.recorder.record(vec![event], None).await?.first_index)
    }
}
