//! Stored hashes on the write path: the stage that appends to each accepted batch the stored
//! hash column of every column some reader sees hashed ([`agora_policy::StoredHash`]).
//!
//! Which columns is decided once per ingest, on the first batch, which the classification
//! stage lets through only once it has decided the ingest's tags: from the labels as readers
//! will get them once those tags are stored, and the policies in force
//! ([`PolicySet::stored_hashes`]).

use std::sync::Arc;

use agora_model::ContractTable;
use agora_policy::{MaskKey, PolicySet, StoredHash, table_labels};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::{IngestContext, IngestError, Stage, StagedBatch};

/// The stored hashes stage (see the module docs).
pub struct StoreHashes {
    key: MaskKey,
    policies: PolicySet,
    contract: ContractTable,
    /// The product table's columns, and whether it had rows, when the ingest started.
    table_columns: Vec<String>,
    table_has_rows: bool,
    /// The stored hash columns this ingest fills, once decided.
    columns: Option<Vec<StoredHash>>,
}

impl StoreHashes {
    pub fn new(
        key: MaskKey,
        policies: PolicySet,
        contract: ContractTable,
        table_columns: Vec<String>,
        table_has_rows: bool,
    ) -> Self {
        StoreHashes {
            key,
            policies,
            contract,
            table_columns,
            table_has_rows,
            columns: None,
        }
    }

    fn decide(&self, context: &IngestContext) -> Result<Vec<StoredHash>, IngestError> {
        let tags = &context
            .classification
            .as_ref()
            .ok_or_else(|| {
                IngestError::Internal(
                    "stored hashes are decided before the classification is known".into(),
                )
            })?
            .tags_after;
        let labels = table_labels(&context.table, &self.contract, tags);
        Ok(self.policies.stored_hashes(
            &context.table,
            &self.contract,
            &labels,
            &self.table_columns,
            self.table_has_rows,
        ))
    }

    /// `batch` with the hash of each chosen column appended, under its stored hash name.
    fn extend(
        &self,
        columns: &[StoredHash],
        batch: RecordBatch,
    ) -> Result<RecordBatch, IngestError> {
        if columns.is_empty() {
            return Ok(batch);
        }
        let schema = batch.schema();
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        let mut arrays = batch.columns().to_vec();
        for stored in columns {
            let column = &stored.column;
            let Some(values) = batch.column_by_name(column) else {
                return Err(IngestError::Internal(format!(
                    "the accepted rows have no column `{column}` to hash"
                )));
            };
            let hashed = self
                .key
                .hash_array(values)
                .map_err(|e| IngestError::Internal(format!("hashing column `{column}`: {e}")))?;
            fields.push(Arc::new(Field::new(
                stored.name(),
                hashed.data_type().clone(),
                true,
            )));
            arrays.push(hashed);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| IngestError::Internal(format!("adding stored hashes to a batch: {e}")))
    }
}

#[async_trait]
impl Stage for StoreHashes {
    fn name(&self) -> &'static str {
        "store hashes"
    }

    async fn apply(
        &mut self,
        mut batch: StagedBatch,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let columns = match self.columns.take() {
            Some(c) => c,
            None => self.decide(context)?,
        };
        if let Some(accepted) = batch.accepted.take() {
            batch.accepted = Some(self.extend(&columns, accepted)?);
        }
        self.columns = Some(columns);
        Ok(vec![batch])
    }
}
