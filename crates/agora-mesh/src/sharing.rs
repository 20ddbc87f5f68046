//! Delta Sharing shares over their life: create one with its recipient, add and remove
//! tables, list and show, rotate the recipient's token, revoke. A share and its recipient
//! share a name; the recipient is a principal of kind `recipient` with a clearance and
//! attributes like any other, so the same policies decide what it reads. A table joins a
//! share only by its domain's owner or the administrator: a share of tables of several
//! domains holds each with its owner's consent. Every change is one catalog transaction with
//! its signed ledger entry (`changes.rs`); what a recipient reads is in `share_reads.rs`.

use std::collections::BTreeMap;

use agora_catalog::{Change, PrincipalKind, PrincipalRecord, ShareRecord, SharedTable};
use agora_model::{Name, Principal, Sensitivity, TableRef};
use serde::Serialize;
use serde_json::json;

use crate::principal_admin::{expiry, new_principal};
use crate::principals::{new_token, require_admin, token_hash};
use crate::recorder::Event;
use crate::scram::ScramVerifier;
use crate::{Mesh, MeshError};

/// What `agora share show` and `list` tell of a share (never its token or its hash).
#[derive(Debug, Clone, Serialize)]
pub struct ShareSummary {
    pub name: String,
    pub id: String,
    pub recipient: String,
    pub clearance: Sensitivity,
    pub attributes: BTreeMap<String, String>,
    pub token_expires_at: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub tables: Vec<SharedTableSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedTableSummary {
    /// `domain.table`: in the protocol, the share's schema is the domain.
    pub table: String,
    pub as_of_version: Option<i64>,
    pub history: bool,
    pub partition: Option<String>,
    pub added_by: String,
    pub added_at: String,
}

/// A recipient's new token: shown once.
#[derive(Debug, Clone)]
pub struct RecipientToken {
    pub token: String,
    pub expires_at: Option<String>,
}

/// How a table is shared.
#[derive(Debug, Clone, Default)]
pub struct ShareTableOptions {
    /// Pin the share to this version of the table.
    pub as_of_version: Option<u64>,
    /// Let the recipient read earlier versions and the table's changes.
    pub history: bool,
    /// Share only the rows this condition (SQL over the table's columns) selects.
    pub partition: Option<String>,
}

impl Mesh {
    /// Creates the share `name` and its recipient of the same name, with a clearance and
    /// attributes (which the global policy must declare) and a token that expires after
    /// `lifetime` if given; returns the token, shown only this once.
    pub async fn create_share(
        &self,
        actor: &Principal,
        name: &str,
        clearance: Sensitivity,
        attributes: BTreeMap<String, String>,
        lifetime: Option<chrono::Duration>,
    ) -> Result<RecipientToken, MeshError> {
        require_admin(actor, "create shares")?;
        let name = Name::strict("share", name)?;
        self.policy_set()
            .await?
            .check_principal_attributes(&attributes)?;
        if self.catalog.principal(&name).await?.is_some() {
            return Err(MeshError::Conflict(format!(
                "a principal named {name} exists: a share's recipient takes the share's name, pick another"
            )));
        }
        let (recipient, token) = new_principal(
            &name,
            PrincipalKind::Recipient,
            clearance,
            &attributes,
            lifetime,
        );
        let share = ShareRecord {
            name: name.clone(),
            id: uuid::Uuid::new_v4().to_string(),
            recipient: name.clone(),
            created_by: actor.name.clone(),
            created_at: recipient.created_at.clone(),
            revoked_at: None,
        };
        let event = Event::by_admin(
            "share.created",
            json!({
                "share": name.as_str(),
                "id": share.id,
                "recipient": name.as_str(),
                "clearance": clearance.as_str(),
                "attributes": attributes,
                "token_expires_at": recipient.token_expires_at,
            }),
        );
        let expires_at = recipient.token_expires_at.clone();
        self.change(
            vec![
                Change::CreatePrincipal(recipient),
                Change::CreateShare(share),
            ],
            vec![event],
        )
        .await?;
        Ok(RecipientToken { token, expires_at })
    }

    /// Adds `table` (`domain.table`) to a share, or changes how it is shared; by the
    /// table's domain owner or the administrator.
    pub async fn add_to_share(
        &self,
        actor: &Principal,
        share: &str,
        table: &str,
        options: ShareTableOptions,
    ) -> Result<(), MeshError> {
        let share = self.open_share(share).await?;
        let table = TableRef::parse(table)?;
        self.require_owner(actor, &table.domain, &format!("share {table}"))
            .await?;
        self.product_of_table(&table).await?;
        if let Some(version) = options.as_of_version {
            self.store.open_at(&table, version).await?;
        }
        let partition = match &options.partition {
            Some(condition) => Some(self.partition_condition(&table, condition).await?),
            None => None,
        };
        let existing = self
            .catalog
            .shared_tables(&share.name)
            .await?
            .into_iter()
            .find(|t| t.table == table);
        let record = SharedTable {
            share: share.name.clone(),
            table: table.clone(),
            id: existing.map_or_else(|| uuid::Uuid::new_v4().to_string(), |t| t.id),
            as_of_version: options.as_of_version.map(|v| v as i64),
            history: options.history,
            partition: partition.clone(),
            added_by: actor.name.clone(),
            added_at: crate::now(),
        };
        let event = Event::by(
            actor.is_admin,
            "share.table_added",
            &table.domain,
            json!({
                "share": share.name.as_str(),
                "table": table.to_string(),
                "id": record.id,
                "as_of_version": options.as_of_version,
                "history": options.history,
                "partition": partition,
                "by": actor.name.as_str(),
            }),
        );
        self.change(vec![Change::PutSharedTable(record)], vec![event])
            .await?;
        Ok(())
    }

    /// Takes `table` out of a share; by the table's domain owner or the administrator.
    pub async fn remove_from_share(
        &self,
        actor: &Principal,
        share: &str,
        table: &str,
    ) -> Result<(), MeshError> {
        let share = self.share_record(share).await?;
        let table = TableRef::parse(table)?;
        self.require_owner(actor, &table.domain, &format!("unshare {table}"))
            .await?;
        let event = Event::by(
            actor.is_admin,
            "share.table_removed",
            &table.domain,
            json!({
                "share": share.name.as_str(),
                "table": table.to_string(),
                "by": actor.name.as_str(),
            }),
        );
        self.change(
            vec![Change::RemoveSharedTable {
                share: share.name,
                table,
            }],
            vec![event],
        )
        .await?;
        Ok(())
    }

    /// Every share (administrator), or those holding a table of a domain `actor` owns.
    pub async fn shares(&self, actor: &Principal) -> Result<Vec<ShareSummary>, MeshError> {
        let owned: Vec<Name> = self
            .catalog
            .domains()
            .await?
            .into_iter()
            .filter(|d| d.owner == actor.name)
            .map(|d| d.name)
            .collect();
        let mut out = Vec::new();
        for share in self.catalog.shares().await? {
            let summary = self.summary(share).await?;
            let sees = actor.is_admin
                || summary.tables.iter().any(|t| {
                    owned.iter().any(|d| {
                        t.table
                            .split_once('.')
                            .is_some_and(|(dom, _)| dom == d.as_str())
                    })
                });
            if sees {
                out.push(summary);
            }
        }
        Ok(out)
    }

    /// One share, as [`Mesh::shares`] shows it to `actor`.
    pub async fn share_details(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<ShareSummary, MeshError> {
        let name = Name::strict("share", name)?;
        self.shares(actor)
            .await?
            .into_iter()
            .find(|s| s.name == name.as_str())
            .ok_or_else(|| share_not_found(&name))
    }

    /// Gives a share's recipient a new token (the old one stops working at once).
    pub async fn rotate_share_token(
        &self,
        actor: &Principal,
        name: &str,
        lifetime: Option<chrono::Duration>,
    ) -> Result<RecipientToken, MeshError> {
        require_admin(actor, "rotate a share's token")?;
        let share = self.open_share(name).await?;
        let mut recipient = self.recipient_record(&share).await?;
        let token = new_token();
        recipient.token_hash = token_hash(&token);
        recipient.scram_verifier = Some(ScramVerifier::for_token(&token).to_string());
        recipient.token_expires_at = expiry(lifetime);
        let event = Event::by_admin(
            "share.token_rotated",
            json!({
                "share": share.name.as_str(),
                "token_expires_at": recipient.token_expires_at,
            }),
        );
        let expires_at = recipient.token_expires_at.clone();
        self.change(vec![Change::UpdatePrincipal(recipient)], vec![event])
            .await?;
        Ok(RecipientToken { token, expires_at })
    }

    /// Revokes a share: its token and every file URL handed out for it stop working; its
    /// record and its tables stay, for the audit.
    pub async fn revoke_share(&self, actor: &Principal, name: &str) -> Result<(), MeshError> {
        require_admin(actor, "revoke shares")?;
        let share = self.open_share(name).await?;
        let mut recipient = self.recipient_record(&share).await?;
        recipient.disabled = true;
        let at = crate::now();
        let event = Event::by_admin(
            "share.revoked",
            json!({ "share": share.name.as_str(), "at": at }),
        );
        self.change(
            vec![
                Change::RevokeShare {
                    share: share.name.clone(),
                    at,
                },
                Change::UpdatePrincipal(recipient),
            ],
            vec![event],
        )
        .await?;
        Ok(())
    }

    /// The ledger entries of a share, with their indexes: its changes and every read by its
    /// recipient (administrator only: they name what was read and when).
    pub fn share_audit(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<Vec<(u64, agora_ledger::SignedEntry)>, MeshError> {
        require_admin(actor, "audit shares")?;
        let name = Name::strict("share", name)?;
        let log = self.log();
        let size = log.size().map_err(MeshError::Ledger)?;
        let mut found = Vec::new();
        let mut start = 0;
        while start < size {
            let end = (start + 1024).min(size);
            for (i, e) in log
                .entries(start, end, size)
                .map_err(MeshError::Ledger)?
                .into_iter()
                .enumerate()
            {
                if e.entry.kind.starts_with("share.")
                    && e.entry.body["share"].as_str() == Some(name.as_str())
                {
                    found.push((start + i as u64, e));
                }
            }
            start = end;
        }
        Ok(found)
    }

    pub(crate) async fn share_record(&self, name: &str) -> Result<ShareRecord, MeshError> {
        let name = Name::strict("share", name)?;
        self.catalog
            .share(&name)
            .await?
            .ok_or_else(|| share_not_found(&name))
    }

    /// A share that is not revoked.
    async fn open_share(&self, name: &str) -> Result<ShareRecord, MeshError> {
        let share = self.share_record(name).await?;
        if let Some(at) = &share.revoked_at {
            return Err(MeshError::Conflict(format!(
                "share {} was revoked at {at}: create a new share",
                share.name
            )));
        }
        Ok(share)
    }

    async fn recipient_record(&self, share: &ShareRecord) -> Result<PrincipalRecord, MeshError> {
        self.catalog
            .principal(&share.recipient)
            .await?
            .ok_or_else(|| {
                MeshError::Internal(format!(
                    "share {} names recipient {}, which the catalog lacks",
                    share.name, share.recipient
                ))
            })
    }

    async fn summary(&self, share: ShareRecord) -> Result<ShareSummary, MeshError> {
        let recipient = self.recipient_record(&share).await?;
        let tables = self
            .catalog
            .shared_tables(&share.name)
            .await?
            .into_iter()
            .map(|t| SharedTableSummary {
                table: t.table.to_string(),
                as_of_version: t.as_of_version,
                history: t.history,
                partition: t.partition,
                added_by: t.added_by.to_string(),
                added_at: t.added_at,
            })
            .collect();
        Ok(ShareSummary {
            name: share.name.to_string(),
            id: share.id,
            recipient: share.recipient.to_string(),
            clearance: recipient.clearance,
            attributes: recipient.attributes,
            token_expires_at: recipient.token_expires_at,
            created_at: share.created_at,
            revoked_at: share.revoked_at,
            tables,
        })
    }
}

impl Mesh {
    /// `condition` as the one SQL expression over the columns of `table` a partition of a
    /// share is, in the parser's canonical form: any other text (a second statement, a
    /// subquery's table, an unknown column) is refused here rather than at a recipient's read,
    /// where it is appended to the recipient's governed query.
    async fn partition_condition(
        &self,
        table: &TableRef,
        condition: &str,
    ) -> Result<String, MeshError> {
        let bad = |why: String| {
            MeshError::bad_input(
                "--partition",
                format!("`{condition}` is not a condition on the columns of {table}: {why}"),
            )
        };
        let canonical = one_expression(condition).map_err(bad)?;
        let stored = self
            .store
            .open(table, agora_storage::TableKind::Product)
            .await?
            .ok_or_else(|| {
                MeshError::bad_input(
                    "--partition",
                    format!(
                        "{table} has no rows yet: share it by partition after its first ingest"
                    ),
                )
            })?;
        let schema = agora_storage::arrow_schema_of(&stored)?;
        let visible: Vec<_> = schema
            .fields()
            .iter()
            .filter(|f| agora_policy::StoredHash::parse(f.name()).is_none())
            .cloned()
            .collect();
        let ctx = datafusion::prelude::SessionContext::new();
        let empty = datafusion::datasource::MemTable::try_new(
            std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(visible)),
            vec![Vec::new()],
        )
        .map_err(|e| MeshError::Internal(e.to_string()))?;
        ctx.register_table("shared", std::sync::Arc::new(empty))
            .map_err(|e| MeshError::Internal(e.to_string()))?;
        ctx.sql(&format!("SELECT * FROM shared WHERE ({canonical})"))
            .await
            .map_err(|e| bad(e.strip_backtrace()))?;
        Ok(canonical)
    }
}

/// `text` as one SQL expression in the parser's canonical form, or why it is not one.
fn one_expression(text: &str) -> Result<String, String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    use datafusion::sql::sqlparser::tokenizer::Token;
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| e.to_string())?;
    let expr = parser.parse_expr().map_err(|e| e.to_string())?;
    match parser.peek_token().token {
        Token::EOF => Ok(expr.to_string()),
        next => Err(format!("unexpected `{next}` after the condition")),
    }
}

fn share_not_found(name: &Name) -> MeshError {
    MeshError::NotFound {
        what: "share",
        name: name.to_string(),
        hint: ": create it with `agora share create`".into(),
    }
}
