//! The last stage: accepted rows stream into the product's Delta table and rejected rows into
//! its quarantine table as Parquet files, which nothing references until [`crate::Prepared`]
//! commits them — one Delta commit each, carrying the ingest's id — so a failure before leaves
//! both tables at their previous versions. The held copy of the accepted rows, if validation
//! keeps one, goes to a staging table of the ingest.

use std::collections::BTreeMap;

use agora_model::TableRef;
use agora_storage::{Appender, TableKind, TableStore};
use arrow::array::StringArray;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::validate::QUARANTINE_REASON;
use crate::{IngestContext, IngestError, Stage, StagedBatch, Written};

/// The write stage (see the module docs).
pub struct Write {
    store: TableStore,
    table: TableRef,
    /// `None` once committed.
    product: Option<Appender>,
    /// The product table's columns when the ingest started: a batch with others (new stored
    /// hash columns) makes the append merge the schema.
    table_columns: Vec<String>,
    quarantine: Option<Appender>,
    /// The ingest's id, which names its staging table of held rows.
    ingest_id: String,
    held: Option<Appender>,
    rows_accepted: u64,
    rows_quarantined: u64,
    reasons: BTreeMap<String, u64>,
}

impl Write {
    /// Appends to `product`, the product table of `table` as the ingest found it.
    pub fn new(
        store: TableStore,
        table: TableRef,
        product: Appender,
        table_columns: Vec<String>,
        ingest_id: String,
    ) -> Self {
        Write {
            store,
            table,
            product: Some(product),
            table_columns,
            quarantine: None,
            ingest_id,
            held: None,
            rows_accepted: 0,
            rows_quarantined: 0,
            reasons: BTreeMap::new(),
        }
    }

    fn product(&mut self) -> Result<&mut Appender, IngestError> {
        self.product
            .as_mut()
            .ok_or_else(|| IngestError::Internal("rows arrived after the input ended".into()))
    }

    async fn write_accepted(&mut self, accepted: RecordBatch) -> Result<(), IngestError> {
        self.rows_accepted += accepted.num_rows() as u64;
        let schema = accepted.schema();
        let adds_columns = schema
            .fields()
            .iter()
            .any(|f| !self.table_columns.contains(f.name()));
        if adds_columns {
            let merging = self.product.take().map(Appender::with_schema_merge);
            self.product = merging;
            self.table_columns = schema.fields().iter().map(|f| f.name().clone()).collect();
        }
        Ok(self.product()?.write(accepted).await?)
    }

    async fn write_rejected(&mut self, rejected: RecordBatch) -> Result<(), IngestError> {
        self.rows_quarantined += rejected.num_rows() as u64;
        count_reasons(&rejected, &mut self.reasons);
        if self.quarantine.is_none() {
            let q = self
                .store
                .ensure(&self.table, TableKind::Quarantine, rejected.schema())
                .await?;
            self.quarantine = Some(self.store.appender(q)?.with_schema_merge());
        }
        let quarantine = self
            .quarantine
            .as_mut()
            .expect("INVARIANT: created just above");
        Ok(quarantine.write(rejected).await?)
    }

    async fn write_held(&mut self, held: RecordBatch) -> Result<(), IngestError> {
        if self.held.is_none() {
            let staged = self.store.held(&self.ingest_id, held.schema()).await?;
            self.held = Some(self.store.appender(staged)?);
        }
        let appender = self.held.as_mut().expect("INVARIANT: created just above");
        Ok(appender.write(held).await?)
    }
}

#[async_trait]
impl Stage for Write {
    fn name(&self) -> &'static str {
        "write"
    }

    async fn apply(
        &mut self,
        batch: StagedBatch,
        _context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        if let Some(accepted) = batch.accepted.filter(|b| b.num_rows() > 0) {
            self.write_accepted(accepted).await?;
        }
        if let Some(rejected) = batch.rejected.filter(|b| b.num_rows() > 0) {
            self.write_rejected(rejected).await?;
        }
        if let Some(held) = batch.held.filter(|b| b.num_rows() > 0) {
            self.write_held(held).await?;
        }
        Ok(Vec::new())
    }

    async fn finish(
        &mut self,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let product = self
            .product
            .take()
            .ok_or_else(|| IngestError::Internal("the input ended twice".into()))?;
        let mut reasons: Vec<(String, u64)> =
            std::mem::take(&mut self.reasons).into_iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        context.written = Some(Written {
            rows_accepted: self.rows_accepted,
            rows_quarantined: self.rows_quarantined,
            reasons,
            product: (self.rows_accepted > 0).then_some(product),
            quarantine: self.quarantine.take(),
            held: self.held.take(),
        });
        Ok(Vec::new())
    }
}

/// Tallies reasons by their shape: the first reason of a row, without the offending value.
fn count_reasons(rejected: &RecordBatch, into: &mut BTreeMap<String, u64>) {
    let Some(reasons) = rejected
        .column_by_name(QUARANTINE_REASON)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
    else {
        return;
    };
    for reason in reasons.iter().flatten() {
        let first = reason.split("; ").next().unwrap_or(reason);
        let shape = match first.split_once(": `") {
            Some((column, rest)) => match rest.split_once("` ") {
                Some((_, what)) => format!("{column}: {what}"),
                None => first.to_string(),
            },
            None => first.to_string(),
        };
        *into.entry(shape).or_default() += 1;
    }
}
