//! Precomputed hashes on the write path: for each column some reader sees hashed, the ingest
//! stores the column's `hash` mask in a hidden column beside it ([`agora_policy::StoredHash`]).
//! A reader below the column's level then reads the stored hash instead of paying an HMAC per
//! value on every query (and the raw column is not read at all).
//!
//! Which columns: decided once per ingest, after the classification sample, from the labels as
//! readers will get them once the ingest's decisions are stored (`Mesh::labels_from`) and the
//! policies in force. A hidden column created with the table's first rows is *complete*; one
//! added to a table that has rows is *partial* (the mask computes the hash for older rows). A
//! column keeps its hidden hash in later ingests even if its label drops, so that every file of
//! the table has the table's columns and a complete one stays complete.

use std::sync::Arc;

use agora_catalog::{ProductRecord, TagSource};
use agora_classify::Classification;
use agora_model::{Principal, TableRef};
use agora_policy::{MaskKey, StoredHash};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::{Mesh, MeshError};

/// Appends the precomputed hashes of some columns to each accepted batch.
pub(crate) struct PrecomputedHashes {
    key: MaskKey,
    /// The hidden columns this ingest fills.
    columns: Vec<StoredHash>,
    /// Whether some of them are new to the table (the append must add them to its schema).
    adds_columns: bool,
}

impl PrecomputedHashes {
    /// `batch` with the hash of each chosen column appended, under its hidden name.
    pub(crate) fn extend(&self, batch: RecordBatch) -> Result<RecordBatch, MeshError> {
        if self.columns.is_empty() {
            return Ok(batch);
        }
        let schema = batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        let mut arrays = batch.columns().to_vec();
        for hidden in &self.columns {
            let column = &hidden.column;
            let Some(values) = batch.column_by_name(column) else {
                return Err(MeshError::Internal(format!(
                    "the accepted rows have no column `{column}` to hash"
                )));
            };
            let hashed = self
                .key
                .hash_array(values)
                .map_err(|e| MeshError::Internal(format!("hashing column `{column}`: {e}")))?;
            fields.push(Arc::new(Field::new(
                hidden.name(),
                hashed.data_type().clone(),
                true,
            )));
            arrays.push(hashed);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| MeshError::Internal(format!("adding precomputed hashes to a batch: {e}")))
    }

    /// Whether the table lacks some of the hidden columns this ingest writes.
    pub(crate) fn adds_columns(&self) -> bool {
        self.adds_columns
    }
}

impl Mesh {
    /// The hidden hash columns this ingest fills: those the table has (`table_columns` are the
    /// Delta table's columns) and new ones for the columns some reader would see hashed under
    /// the labels as they will be once `fresh` is stored — complete if the table has no rows yet
    /// (`table_has_rows`), else partial.
    pub(crate) async fn precomputed_hashes(
        &self,
        table: &TableRef,
        product: &ProductRecord,
        fresh: &[Classification],
        actor: &Principal,
        table_columns: &[String],
        table_has_rows: bool,
    ) -> Result<PrecomputedHashes, MeshError> {
        let (_, contract_table) = crate::products::table_in(std::slice::from_ref(product), table)?;
        let policies = self.policy_set().await?;
        // The tags after this ingest: its decisions replace the table's earlier automatic ones.
        let mut tags: Vec<_> = self
            .catalog
            .column_tags()
            .await?
            .into_iter()
            .filter(|t| {
                !(&t.table == table
                    && t.source == TagSource::Auto
                    && fresh.iter().any(|r| r.column == t.column))
            })
            .collect();
        tags.extend(fresh.iter().map(|r| super::auto_tag(table, r, actor)));
        let labels = Mesh::labels_from(std::slice::from_ref(product), &tags)?;
        let current = labels.get(table);
        let mut columns = Vec::new();
        for c in &contract_table.columns {
            let name = c.sql_name.as_str();
            let stored_before = table_columns
                .iter()
                .filter_map(|t| StoredHash::parse(t))
                .find(|h| h.column == name);
            let label = current.and_then(|l| l.get(name)).map(|(label, _)| *label);
            match stored_before {
                Some(hidden) => columns.push(hidden),
                None if label.is_some_and(|l| policies.may_hash(table, name, l)) => {
                    columns.push(StoredHash {
                        column: name.to_string(),
                        complete: !table_has_rows,
                    })
                }
                None => {}
            }
        }
        let adds_columns = columns.iter().any(|c| !table_columns.contains(&c.name()));
        Ok(PrecomputedHashes {
            key: self.masks.key().clone(),
            columns,
            adds_columns,
        })
    }
}
