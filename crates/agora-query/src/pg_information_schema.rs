//! `information_schema` as PostgreSQL clients read it: DataFusion's, whose `columns.data_type`
//! names Arrow types (`Int64`, `Utf8View`), with PostgreSQL's names instead (`bigint`, `text`),
//! which SQL editors and BI tools show and map to their own types. Every other table, and every
//! other column, is DataFusion's as it is; like DataFusion's, it lists only the session's
//! catalog, which holds only what the principal may see.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

/// The `information_schema` schema of a Postgres session.
#[derive(Debug)]
pub(crate) struct PgInformationSchema {
    inner: InformationSchemaProvider,
}

impl PgInformationSchema {
    pub(crate) fn new(catalogs: Arc<dyn CatalogProviderList>) -> Self {
        PgInformationSchema {
            inner: InformationSchemaProvider::new(catalogs),
        }
    }
}

#[async_trait]
impl SchemaProvider for PgInformationSchema {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        Ok(match table {
            Some(columns) if name.eq_ignore_ascii_case("columns") => {
                Some(Arc::new(PgTypedColumns { inner: columns }))
            }
            other => other,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `information_schema.columns` with PostgreSQL's type names.
#[derive(Debug)]
struct PgTypedColumns {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for PgTypedColumns {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A catalog's column list is small: read it whole, rename, and serve it from memory.
        let all = self.inner.scan(state, None, &[], None).await?;
        let schema = self.schema();
        let at = schema.index_of("data_type")?;
        let batches = collect(all, state.task_ctx())
            .await?
            .into_iter()
            .map(|batch| {
                let mut columns = batch.columns().to_vec();
                columns[at] = pg_names(&columns[at]);
                RecordBatch::try_new(schema.clone(), columns).map_err(DataFusionError::from)
            })
            .collect::<Result<Vec<_>>>()?;
        MemTable::try_new(schema.clone(), vec![batches])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// The PostgreSQL name of each Arrow type name in `names`.
fn pg_names(names: &ArrayRef) -> ArrayRef {
    let names = names.as_string::<i32>();
    Arc::new(
        (0..names.len())
            .map(|i| {
                names
                    .is_valid(i)
                    .then(|| pg_type_name(names.value(i)).to_string())
            })
            .collect::<StringArray>(),
    )
}

/// PostgreSQL's name for the Arrow type named `arrow` (as `information_schema.columns` writes
/// it): `USER-DEFINED` for what PostgreSQL has no type of, as it says of extension types.
pub(crate) fn pg_type_name(arrow: &str) -> &'static str {
    let Ok(t) = DataType::from_str(arrow) else {
        return "USER-DEFINED";
    };
    match t {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::UInt8 | DataType::Int16 => "smallint",
        DataType::UInt16 | DataType::Int32 => "integer",
        DataType::UInt32 | DataType::Int64 | DataType::UInt64 => "bigint",
        DataType::Float16 | DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => "numeric",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(_, None) => "timestamp without time zone",
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone",
        DataType::Time32(_) | DataType::Time64(_) => "time without time zone",
        DataType::Interval(_) | DataType::Duration(_) => "interval",
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::FixedSizeList(..) => "ARRAY",
        DataType::Dictionary(_, value) => pg_type_name(&value.to_string()),
        _ => "USER-DEFINED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

    #[test]
    fn arrow_types_get_postgres_names() {
        for (t, name) in [
            (DataType::Int64, "bigint"),
            (DataType::Utf8View, "text"),
            (DataType::Float64, "double precision"),
            (DataType::Date32, "date"),
            (DataType::Decimal128(12, 2), "numeric"),
            (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                "timestamp with time zone",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "timestamp without time zone",
            ),
            (DataType::new_list(DataType::Utf8, true), "ARRAY"),
        ] {
            assert_eq!(pg_type_name(&t.to_string()), name, "{t}");
        }
        assert_eq!(pg_type_name("not a type"), "USER-DEFINED");
    }
}
