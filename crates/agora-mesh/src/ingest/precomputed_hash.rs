//! Precomputed hashes on the write path: for each column some reader sees hashed, the ingest
//! stores the column's `hash` mask in a hidden column beside it
//! ([`agora_policy::precomputed_hash_column`]). A reader below the column's level then reads
//! the stored hash instead of paying an HMAC per value on every query; the mask falls back to
//! computing it for rows that have none (files written before the column was classified).
//!
//! Which columns: decided once per ingest, after the classification sample, from the labels the
//! ingest will store (overrides first, the contract's level, the fresh classification) and the
//! policies in force. A column keeps its hidden hash in later ingests even if its label drops,
//! so that every file of the table has the table's columns.

use std::sync::Arc;

use agora_catalog::ProductRecord;
use agora_classify::Classification;
use agora_model::{ContractTable, TableRef};
use agora_policy::{Label, MaskKey, hashed_source_column, precomputed_hash_column};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::{Mesh, MeshError};

/// Appends the precomputed hashes of some columns to each accepted batch.
pub(crate) struct PrecomputedHashes {
    key: MaskKey,
    /// The product columns whose hashes are stored.
    columns: Vec<String>,
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
        for column in &self.columns {
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
                precomputed_hash_column(column),
                hashed.data_type().clone(),
                true,
            )));
            arrays.push(hashed);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| MeshError::Internal(format!("adding precomputed hashes to a batch: {e}")))
    }

    /// Whether the table lacks some of the hidden columns this ingest writes.
    pub(crate) fn adds_columns(&self, table_columns: &[String]) -> bool {
        self.columns
            .iter()
            .any(|c| !table_columns.contains(&precomputed_hash_column(c)))
    }
}

impl Mesh {
    /// The columns of `table` whose hashes this ingest stores: those that already have a
    /// hidden hash column (`table_columns` are the Delta table's columns) and those some reader
    /// would see hashed under the labels after `fresh` is stored.
    pub(crate) async fn precomputed_hashes(
        &self,
        table: &TableRef,
        product: &ProductRecord,
        contract_table: &ContractTable,
        fresh: &[Classification],
        table_columns: &[String],
    ) -> Result<PrecomputedHashes, MeshError> {
        let policies = self.policy_set().await?;
        let labels = self.labels(std::slice::from_ref(product)).await?;
        let current = labels.get(table);
        let mut columns = Vec::new();
        for c in &contract_table.columns {
            let name = c.sql_name.as_str();
            let stored_before = table_columns
                .iter()
                .any(|t| hashed_source_column(t) == Some(name));
            let classified = fresh.iter().find(|r| r.column == name);
            // The same precedence as the labels readers get: an override stands; the
            // contract's level stays with the classifier's category; else the classifier's.
            let label = match (current.and_then(|l| l.get(name)), classified) {
                (Some((label, tag)), _) if tag.source == "override" => Some(*label),
                (Some((label, tag)), Some(r)) if tag.source == "contract" => Some(Label {
                    category: r.category,
                    sensitivity: label.sensitivity,
                }),
                (_, Some(r)) => Some(Label {
                    category: r.category,
                    sensitivity: r.sensitivity,
                }),
                (Some((label, _)), None) => Some(*label),
                (None, None) => None,
            };
            if stored_before || label.is_some_and(|l| policies.may_hash(table, name, l)) {
                columns.push(name.to_string());
            }
        }
        Ok(PrecomputedHashes {
            key: self.masks.key().clone(),
            columns,
        })
    }
}
