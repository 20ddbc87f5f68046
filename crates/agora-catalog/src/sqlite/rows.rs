//! Reading catalog rows back into records: every stored name is checked again, and a value
//! that no longer parses is reported as a corrupt catalog, naming the value.

use std::str::FromStr;

use agora_model::{
    Access, Category, ColumnTag, Grant, GrantTarget, Name, Sensitivity, TableRef, TagSource,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::{
    CatalogError, CorrectionRecord, DomainRecord, IngestRecord, PrincipalKind, PrincipalRecord,
    ProductRecord,
};

pub(super) fn name(row: &SqliteRow, column: &str) -> Result<Name, CatalogError> {
    let raw: String = row.try_get(column)?;
    Name::strict("stored", &raw).map_err(|e| CatalogError::Corrupt {
        what: "name",
        value: raw,
        reason: e.to_string(),
    })
}

/// Maps a unique-constraint violation to "`what` `name` already exists", other errors as they are.
pub(super) fn conflict(
    what: &'static str,
    name: String,
) -> impl FnOnce(sqlx::Error) -> CatalogError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            CatalogError::AlreadyExists { what, name }
        }
        _ => e.into(),
    }
}

pub(super) fn grant_from_row(row: &SqliteRow) -> Result<Grant, CatalogError> {
    let access: String = row.try_get("access")?;
    let access = Access::parse(&access).map_err(|e| CatalogError::Corrupt {
        what: "access",
        value: access.clone(),
        reason: e.to_string(),
    })?;
    let table: String = row.try_get("table_name")?;
    let (domain, product) = (name(row, "domain")?, name(row, "product")?);
    let target = if table.is_empty() {
        GrantTarget::Product { domain, product }
    } else {
        GrantTarget::Table {
            domain,
            product,
            table: name(row, "table_name")?,
        }
    };
    Ok(Grant {
        principal: name(row, "principal")?,
        access,
        target,
    })
}

pub(super) fn product_from_row(row: &SqliteRow) -> Result<ProductRecord, CatalogError> {
    let table_names: String = row.try_get("table_names")?;
    let tables = table_names
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            Name::strict("stored", t).map_err(|e| CatalogError::Corrupt {
                what: "table name",
                value: t.to_string(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProductRecord {
        domain: name(row, "domain")?,
        name: name(row, "name")?,
        contract_id: row.try_get("contract_id")?,
        version: row.try_get("version")?,
        status: row.try_get("status")?,
        description: row.try_get("description")?,
        contract_yaml: row.try_get("contract_yaml")?,
        tables,
        search_columns: row.try_get("search_columns")?,
        search_tags: row.try_get("search_tags")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) fn domain_from_row(r: &SqliteRow) -> Result<DomainRecord, CatalogError> {
    Ok(DomainRecord {
        name: name(r, "name")?,
        owner: name(r, "owner")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn principal_from_row(r: &SqliteRow) -> Result<PrincipalRecord, CatalogError> {
    let attributes: String = r.try_get("attributes")?;
    Ok(PrincipalRecord {
        name: name(r, "name")?,
        token_hash: r.try_get("token_hash")?,
        is_admin: r.try_get("is_admin")?,
        clearance: term(r, "clearance")?,
        attributes: serde_json::from_str(&attributes).map_err(|e| CatalogError::Corrupt {
            what: "principal attributes",
            value: attributes.clone(),
            reason: e.to_string(),
        })?,
        created_at: r.try_get("created_at")?,
        disabled: r.try_get("disabled")?,
        token_expires_at: r.try_get("token_expires_at")?,
        scram_verifier: r.try_get("scram_verifier")?,
        kind: {
            let kind: String = r.try_get("kind")?;
            PrincipalKind::parse(&kind).ok_or_else(|| CatalogError::Corrupt {
                what: "principal kind",
                value: kind.clone(),
                reason: "neither `user` nor `recipient`".into(),
            })?
        },
    })
}

/// A vocabulary word (category, sensitivity) stored as text.
fn term<T: FromStr<Err = agora_model::ModelError>>(
    row: &SqliteRow,
    column: &'static str,
) -> Result<T, CatalogError> {
    let raw: String = row.try_get(column)?;
    raw.parse()
        .map_err(|e: agora_model::ModelError| CatalogError::Corrupt {
            what: column,
            value: raw,
            reason: e.to_string(),
        })
}

pub(super) fn column_tag_from_row(r: &SqliteRow) -> Result<ColumnTag, CatalogError> {
    let source: String = r.try_get("source")?;
    Ok(ColumnTag {
        table: TableRef {
            domain: name(r, "domain")?,
            table: name(r, "table_name")?,
        },
        column: r.try_get("column_name")?,
        source: match source.as_str() {
            "override" => TagSource::Override,
            _ => TagSource::Auto,
        },
        category: term::<Category>(r, "category")?,
        sensitivity: term::<Sensitivity>(r, "sensitivity")?,
        confidence: r.try_get("confidence")?,
        evidence: r.try_get("evidence")?,
        reason: r.try_get("reason")?,
        set_by: name(r, "set_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub(super) fn ingest_from_row(r: &SqliteRow) -> Result<IngestRecord, CatalogError> {
    Ok(IngestRecord {
        domain: name(r, "domain")?,
        product: name(r, "product")?,
        table: name(r, "table_name")?,
        table_version: r.try_get("table_version")?,
        rows_accepted: r.try_get("rows_accepted")?,
        rows_quarantined: r.try_get("rows_quarantined")?,
        source: r.try_get("source")?,
        input_sha256: r.try_get("input_sha256")?,
        principal: name(r, "principal")?,
        at: r.try_get("at")?,
        ingest_id: r
            .try_get::<Option<String>, _>("ingest_id")?
            .unwrap_or_default(),
        idempotency_key: r.try_get("idempotency_key")?,
    })
}

pub(super) fn correction_from_row(r: &SqliteRow) -> Result<CorrectionRecord, CatalogError> {
    Ok(CorrectionRecord {
        application_id: r.try_get("application_id")?,
        suggestion_id: r.try_get("suggestion_id")?,
        table: TableRef {
            domain: name(r, "domain")?,
            table: name(r, "table_name")?,
        },
        applied_at: r.try_get("applied_at")?,
        reverted_at: r.try_get("reverted_at")?,
        record: r.try_get("record")?,
    })
}
