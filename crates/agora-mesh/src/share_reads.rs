//! What a share's recipient reads through the Delta Sharing protocol. A recipient reads as
//! any principal does: through a governed, audited session whose only grants are the share's
//! tables, so the same labels and policies mask its columns and filter its rows. Where that
//! view is the table as stored (nothing masked or filtered for the recipient, no stored hash
//! column in the files), it gets the table's own data files; otherwise the rows of the
//! governed query, written once per table version and view as governed files
//! (`agora_storage::write_governed_files`) and served from there on. Either way it receives
//! URLs to files Agora serves itself, each signed for its share and expiring
//! (`agora_sharing::UrlSigner`), and every query is a signed `share.read` ledger entry naming
//! the version, the files by SHA-256, and what was masked.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agora_catalog::{PrincipalKind, ShareRecord, SharedTable};
use agora_model::{Access, Grant, GrantTarget, Principal};
use agora_query::{Interface, SessionOptions, Viewer};
use agora_sharing::protocol::{
    Action, FileAction, Format, MetadataAction, ProtocolAction, SchemaItem, ShareItem, TableItem,
};
use agora_sharing::{FileTicket, QueryRequest, Snapshot, UrlSigner};
use agora_storage::{DataFile, TableKind};
use datafusion::prelude::DataFrame;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::principals::{token_hash, unexpired};
use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// How long a file URL works after the query that handed it out.
pub const FILE_URL_LIFETIME: chrono::Duration = chrono::Duration::hours(1);
/// The most rows one governed file holds: clients fetch files in parallel.
const ROWS_PER_GOVERNED_FILE: usize = 1 << 20;

/// The sharing side of an open mesh: the URL signer and the SHA-256 of table files already
/// hashed (a Delta data file never changes once written).
pub(crate) struct Sharing {
    signer: UrlSigner,
    file_hashes: Mutex<HashMap<String, String>>,
}

impl Sharing {
    pub(crate) fn new(key: [u8; 32]) -> Arc<Sharing> {
        Arc::new(Sharing {
            signer: UrlSigner::new(key),
            file_hashes: Mutex::default(),
        })
    }
}

/// A recipient whose token checked out, and its share.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub principal: Principal,
    pub share: ShareRecord,
}

/// A table version's answer: the version and the actions of the response.
#[derive(Debug, Clone)]
pub struct SharedAnswer {
    pub version: u64,
    pub actions: Vec<Action>,
}

/// How a query's files were chosen, for the response and the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilesPath {
    /// The table's own data files: nothing is masked or filtered for the recipient.
    Table,
    /// Governed files written for this version and view now.
    Governed,
    /// Governed files written by an earlier read of the same version and view.
    GovernedCached,
}

impl FilesPath {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FilesPath::Table => "table files",
            FilesPath::Governed => "governed files (written now)",
            FilesPath::GovernedCached => "governed files (cached)",
        }
    }
}

fn not_in_share(what: &'static str, name: &str) -> MeshError {
    MeshError::NotFound {
        what,
        name: name.to_string(),
        hint: " in this share".into(),
    }
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Mesh {
    /// The recipient whose token this is, if the token is a recipient's, unexpired, and its
    /// share is not revoked. Any other token (a user's, the administrator's) opens no share.
    pub async fn authenticate_recipient(&self, token: &str) -> Result<Recipient, MeshError> {
        let record = self
            .catalog
            .principal_by_token_hash(&token_hash(token.trim()))
            .await?
            .ok_or(MeshError::BadToken)?;
        if record.kind != PrincipalKind::Recipient {
            return Err(MeshError::InactivePrincipal {
                principal: record.name.to_string(),
                why: "is no share's recipient: a sharing profile holds a recipient's token (`agora share create`)".into(),
            });
        }
        let share = self.catalog.share(&record.name).await?.ok_or_else(|| {
            MeshError::Internal(format!("recipient {} has no share", record.name))
        })?;
        if let Some(at) = &share.revoked_at {
            return Err(MeshError::InactivePrincipal {
                principal: record.name.to_string(),
                why: format!("lost its share, revoked at {at}"),
            });
        }
        let principal = unexpired(record)?;
        Ok(Recipient { principal, share })
    }

    /// The shares the recipient may list: its own.
    pub fn recipient_shares(&self, r: &Recipient) -> Vec<ShareItem> {
        vec![ShareItem {
            name: r.share.name.to_string(),
            id: r.share.id.clone(),
        }]
    }

    /// The recipient's share by the name a request gives (case-insensitive, as the protocol
    /// says); any other name is unknown to it, whether or not such a share exists.
    pub fn recipient_share(&self, r: &Recipient, share: &str) -> Result<ShareItem, MeshError> {
        if share.eq_ignore_ascii_case(r.share.name.as_str()) {
            Ok(ShareItem {
                name: r.share.name.to_string(),
                id: r.share.id.clone(),
            })
        } else {
            Err(not_in_share("share", share))
        }
    }

    /// The tables of the recipient's share whose products still exist, by schema and name.
    pub async fn recipient_tables(
        &self,
        r: &Recipient,
        share: &str,
    ) -> Result<Vec<TableItem>, MeshError> {
        self.recipient_share(r, share)?;
        let products = self.catalog.products().await?;
        Ok(self
            .catalog
            .shared_tables(&r.share.name)
            .await?
            .into_iter()
            .filter(|t| crate::products::table_in(&products, &t.table).is_ok())
            .map(|t| TableItem {
                name: t.table.table.to_string(),
                schema: t.table.domain.to_string(),
                share: r.share.name.to_string(),
                share_id: r.share.id.clone(),
                id: t.id,
            })
            .collect())
    }

    /// The schemas (domains) of the recipient's share.
    pub async fn recipient_schemas(
        &self,
        r: &Recipient,
        share: &str,
    ) -> Result<Vec<SchemaItem>, MeshError> {
        let mut schemas: Vec<SchemaItem> = Vec::new();
        for t in self.recipient_tables(r, share).await? {
            if schemas.last().is_none_or(|s| s.name != t.schema) {
                schemas.push(SchemaItem {
                    name: t.schema,
                    share: t.share,
                });
            }
        }
        Ok(schemas)
    }

    /// The tables of one schema of the recipient's share; an unknown schema is an error.
    pub async fn recipient_schema_tables(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
    ) -> Result<Vec<TableItem>, MeshError> {
        let tables: Vec<TableItem> = self
            .recipient_tables(r, share)
            .await?
            .into_iter()
            .filter(|t| t.schema.eq_ignore_ascii_case(schema))
            .collect();
        if tables.is_empty() {
            return Err(not_in_share("schema", schema));
        }
        Ok(tables)
    }

    pub(crate) async fn shared_table(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
    ) -> Result<SharedTable, MeshError> {
        self.recipient_share(r, share)?;
        let products = self.catalog.products().await?;
        self.catalog
            .shared_tables(&r.share.name)
            .await?
            .into_iter()
            .find(|t| {
                t.table.domain.as_str().eq_ignore_ascii_case(schema)
                    && t.table.table.as_str().eq_ignore_ascii_case(table)
                    && crate::products::table_in(&products, &t.table).is_ok()
            })
            .ok_or_else(|| not_in_share("table", &format!("{schema}.{table}")))
    }

    /// The version a request reads: the share's pinned version, or the latest; an earlier
    /// one (by version or timestamp) only where the share includes the table's history.
    async fn shared_version(&self, t: &SharedTable, snapshot: &Snapshot) -> Result<u64, MeshError> {
        let latest = self.latest_shared(t).await?;
        let no_history = || no_history(t, "other versions");
        match *snapshot {
            Snapshot::Latest => Ok(latest),
            Snapshot::Version(v) if v == latest => Ok(v),
            Snapshot::Version(v) => {
                if !t.history {
                    return Err(no_history());
                }
                if v > latest {
                    return Err(MeshError::not_found(
                        "version",
                        format!("{v} of {} (the latest shared is {latest})", t.table),
                    ));
                }
                Ok(v)
            }
            Snapshot::Timestamp(ms) => {
                if !t.history {
                    return Err(no_history());
                }
                self.store
                    .history(&t.table, None)
                    .await?
                    .into_iter()
                    .filter(|c| c.version <= latest && c.timestamp_ms.is_some_and(|ts| ts <= ms))
                    .map(|c| c.version)
                    .max()
                    .ok_or_else(|| {
                        MeshError::not_found(
                            "version",
                            format!("of {} at or before timestamp {ms} ms", t.table),
                        )
                    })
            }
            Snapshot::From(..) => Err(MeshError::bad_input(
                "startingVersion",
                "queries from a version on are not offered: read the table's changes (`…/changes`) instead",
            )),
        }
    }

    /// The latest version of a shared table the recipient may read: the pinned one, if the
    /// share pins one.
    pub(crate) async fn latest_shared(&self, t: &SharedTable) -> Result<u64, MeshError> {
        match t.as_of_version {
            Some(v) => Ok(v as u64),
            None => self
                .store
                .open(&t.table, TableKind::Product)
                .await?
                .and_then(|d| d.version())
                .ok_or_else(|| {
                    MeshError::not_found("version of table", format!("{} (no rows yet)", t.table))
                }),
        }
    }

    /// The recipient's governed view of a table version: the planned `SELECT *` (audited like
    /// every query) and what the view does to the table.
    async fn governed_read(
        &self,
        r: &Recipient,
        t: &SharedTable,
        version: u64,
    ) -> Result<(DataFrame, agora_policy::TableGovernance), MeshError> {
        let options = SessionOptions {
            as_of: Some(version),
            ..Default::default()
        };
        self.governed_query(r, t, options).await
    }

    /// The recipient's governed `SELECT *` of a shared table in a session with `options`,
    /// restricted to the share's partition if it has one, and what the view does to the table.
    pub(crate) async fn governed_query(
        &self,
        r: &Recipient,
        t: &SharedTable,
        options: SessionOptions,
    ) -> Result<(DataFrame, agora_policy::TableGovernance), MeshError> {
        let (product, _) = self.product_of_table(&t.table).await?;
        let viewer = Viewer {
            principal: r.principal.clone(),
            grants: vec![Grant {
                principal: r.principal.name.clone(),
                access: Access::Read,
                target: GrantTarget::Table {
                    domain: t.table.domain.clone(),
                    product: product.name,
                    table: t.table.table.clone(),
                },
            }],
            owned_domains: Vec::new(),
        };
        let governance = self
            .mesh_tables(&viewer, true)
            .await?
            .into_iter()
            .find(|m| m.table == t.table && m.kind == TableKind::Product)
            .map(|m| m.governance)
            .ok_or_else(|| {
                MeshError::Internal(format!("{} is missing from the mesh's tables", t.table))
            })?;
        let session = self.session_of(viewer, Interface::Sharing, options).await?;
        // The partition was checked to be one expression over the table's columns when it was
        // added (`Mesh::add_to_share`), so it cannot end the statement or name another table.
        let partition = t
            .partition
            .as_ref()
            .map(|p| format!(" WHERE ({p})"))
            .unwrap_or_default();
        let df = session
            .sql(&format!(
                "SELECT * FROM \"{}\".\"{}\"{partition}",
                t.table.domain, t.table.table
            ))
            .await?;
        Ok((df, governance))
    }

    /// A table's version (`GET …/version`), at `timestamp` if given.
    pub async fn shared_table_version(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
        timestamp: Option<&str>,
    ) -> Result<u64, MeshError> {
        let t = self.shared_table(r, share, schema, table).await?;
        let snapshot = match timestamp {
            Some(ts) => Snapshot::Timestamp(
                agora_sharing::query::parse_timestamp(ts)
                    .map_err(|e| MeshError::bad_input("startingTimestamp", e.to_string()))?,
            ),
            None => Snapshot::Latest,
        };
        self.shared_version(&t, &snapshot).await
    }

    /// A table's protocol and metadata (`GET …/metadata`), as the recipient sees it.
    pub async fn shared_table_metadata(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
    ) -> Result<SharedAnswer, MeshError> {
        let t = self.shared_table(r, share, schema, table).await?;
        let version = self.shared_version(&t, &Snapshot::Latest).await?;
        let (df, _) = self.governed_read(r, &t, version).await?;
        Ok(SharedAnswer {
            version,
            actions: vec![
                protocol(),
                Action::Metadata(metadata(&t, df.schema().as_arrow())?),
            ],
        })
    }
}

/// The `metaData` action of a shared table whose recipient sees the columns of `schema`.
pub(crate) fn metadata(
    t: &SharedTable,
    schema: &datafusion::arrow::datatypes::Schema,
) -> Result<MetadataAction, MeshError> {
    Ok(MetadataAction {
        id: t.id.clone(),
        name: Some(t.table.table.to_string()),
        description: None,
        format: Format {
            provider: "parquet".into(),
        },
        schema_string: agora_storage::delta_schema_json(schema)?,
        partition_columns: Vec::new(),
        configuration: BTreeMap::new(),
        version: None,
        num_files: None,
        size: None,
    })
}

impl Mesh {
    /// The files of a table version for the recipient (`POST …/query`), with URLs under
    /// `files_url` (the server's `…/delta-sharing/files`); recorded as a `share.read` entry.
    pub async fn query_shared_table(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
        request: &QueryRequest,
        files_url: &str,
    ) -> Result<SharedAnswer, MeshError> {
        let t = self.shared_table(r, share, schema, table).await?;
        let bad = |field: &str, e: agora_sharing::ParameterError| {
            MeshError::bad_input(format!("query request {field}"), e.to_string())
        };
        let snapshot = request.snapshot().map_err(|e| bad("version", e))?;
        let limit = request.limit().map_err(|e| bad("limitHint", e))?;
        if request.json_hints_are_malformed() {
            tracing::warn!(share = %t.share, table = %t.table, "ignoring malformed jsonPredicateHints");
        }
        let version = self.shared_version(&t, &snapshot).await?;
        let (df, governance) = self.governed_read(r, &t, version).await?;
        let (files, path) = self.files_for(&t, version, df.clone(), &governance).await?;
        let files = self.with_hashes(files).await?;
        // The limit is a hint: whole files, until their rows reach it.
        let chosen: Vec<&DataFile> = match limit {
            None => files.iter().collect(),
            Some(limit) => {
                let mut rows = 0u64;
                files
                    .iter()
                    .take_while(|f| {
                        let take = rows < limit;
                        // A file without a row count may hold the rest.
                        rows = rows.saturating_add(f.rows.unwrap_or(u64::MAX));
                        take
                    })
                    .collect()
            }
        };
        let expires = chrono::Utc::now() + FILE_URL_LIFETIME;
        let mut actions = vec![
            protocol(),
            Action::Metadata(metadata(&t, df.schema().as_arrow())?),
        ];
        for f in &chosen {
            actions.push(Action::File(self.file_action(&t, f, files_url, expires)));
        }
        let masked: Vec<&String> = governance.masked.keys().collect();
        let event = Event::by_admin(
            "share.read",
            json!({
                "share": t.share.as_str(),
                "recipient": r.principal.name.as_str(),
                "table": t.table.to_string(),
                "version": version,
                "files_path": path.as_str(),
                "masked_columns": masked,
                "row_filtered": governance.row_filter.is_some(),
                "limit_hint": limit,
                "files": file_records(chosen.iter().copied()),
            }),
        );
        self.recorder.record(vec![event], None).await?;
        Ok(SharedAnswer { version, actions })
    }

    /// The protocol's description of `f`, with a URL under `files_url` signed for the share
    /// until `expires`.
    pub(crate) fn file_action(
        &self,
        t: &SharedTable,
        f: &DataFile,
        files_url: &str,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> FileAction {
        let url = self.sharing.signer.url(
            files_url,
            &FileTicket {
                share: t.share.to_string(),
                path: f.path.clone(),
                expires_at: expires.timestamp(),
            },
        );
        FileAction {
            url,
            id: file_id(&f.path),
            partition_values: f.partition_values.clone(),
            size: f.size,
            stats: f.stats.clone(),
            expiration_timestamp: Some(expires.timestamp_millis()),
            version: None,
            timestamp: None,
        }
    }

    /// The files that hold the recipient's view of a version: the table's own where the view
    /// is the table as stored, governed files otherwise.
    async fn files_for(
        &self,
        t: &SharedTable,
        version: u64,
        df: DataFrame,
        governance: &agora_policy::TableGovernance,
    ) -> Result<(Vec<DataFile>, FilesPath), MeshError> {
        let table = self.store.open_at(&t.table, version).await?;
        let stored = agora_storage::arrow_schema_of(&table)?;
        let stored_names: Vec<&String> = stored.fields().iter().map(|f| f.name()).collect();
        let viewed_names: Vec<&String> = df.schema().fields().iter().map(|f| f.name()).collect();
        if governance.is_open() && t.partition.is_none() && stored_names == viewed_names {
            let dir = format!("tables/{}/{}", t.table.domain, t.table.table);
            return Ok((self.store.data_files(&table, &dir)?, FilesPath::Table));
        }
        let dir = agora_storage::governed_dir(&t.table, version, &fingerprint(&df));
        self.governed_files(&dir, df).await
    }

    /// The governed files of `df` under `dir`: written by an earlier read of the same view, or
    /// now.
    pub(crate) async fn governed_files(
        &self,
        dir: &str,
        df: DataFrame,
    ) -> Result<(Vec<DataFile>, FilesPath), MeshError> {
        if let Some(files) = agora_storage::governed_files(&self.dir, dir)? {
            return Ok((files, FilesPath::GovernedCached));
        }
        let stream = df
            .execute_stream()
            .await
            .map_err(agora_query::QueryError::from_datafusion)?;
        let files =
            agora_storage::write_governed_files(&self.dir, dir, stream, ROWS_PER_GOVERNED_FILE)
                .await?;
        Ok((files, FilesPath::Governed))
    }

    /// `files` with the SHA-256 of each, hashing table files once per process.
    async fn with_hashes(&self, files: Vec<DataFile>) -> Result<Vec<DataFile>, MeshError> {
        let sharing = self.sharing.clone();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|mut f| {
                    if f.sha256.is_some() {
                        return Ok(f);
                    }
                    let known = sharing
                        .file_hashes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&f.path)
                        .cloned();
                    let hash = match known {
                        Some(h) => h,
                        None => {
                            let path = dir.join(&f.path);
                            let mut file =
                                std::fs::File::open(&path).map_err(crate::keys::io(&path))?;
                            let mut hasher = Sha256::new();
                            std::io::copy(&mut file, &mut hasher)
                                .map_err(crate::keys::io(&path))?;
                            let h = hex::encode(hasher.finalize());
                            sharing
                                .file_hashes
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(f.path.clone(), h.clone());
                            h
                        }
                    };
                    f.sha256 = Some(hash);
                    Ok(f)
                })
                .collect()
        })
        .await
        .map_err(|e| MeshError::Internal(format!("hashing shared files failed: {e}")))?
    }

    /// The file a signed URL segment names, if the signature holds, it has not expired, its
    /// share is not revoked and the file exists.
    pub async fn shared_file(&self, segment: &str) -> Result<PathBuf, MeshError> {
        let ticket = self
            .sharing
            .signer
            .verify(segment, now_secs())
            .map_err(|e| MeshError::Denied {
                principal: "the holder of a file URL".into(),
                action: format!("read it: {e}"),
            })?;
        let share = self.share_record(&ticket.share).await?;
        if let Some(at) = share.revoked_at {
            return Err(MeshError::Denied {
                principal: "the holder of a file URL".into(),
                action: format!("read it: share {} was revoked at {at}", share.name),
            });
        }
        let path = self.dir.join(&ticket.path);
        if !path.is_file() {
            return Err(MeshError::not_found(
                "file",
                "of this URL (removed since by a vacuum): query the table again",
            ));
        }
        Ok(path)
    }
}

pub(crate) fn protocol() -> Action {
    Action::Protocol(ProtocolAction {
        min_reader_version: 1,
    })
}

/// What identifies a governed view: its plan, with every mask, filter and column in it.
pub(crate) fn fingerprint(df: &DataFrame) -> String {
    let plan = df.logical_plan().display_indent_schema().to_string();
    hex::encode(&Sha256::digest(plan.as_bytes())[..12])
}

pub(crate) fn no_history(t: &SharedTable, what: &str) -> MeshError {
    MeshError::Denied {
        principal: t.share.to_string(),
        action: format!(
            "read {what} of {}: the share does not include its history (`agora share add --history`)",
            t.table
        ),
    }
}

/// What the ledger keeps of files handed to a recipient: path, size and SHA-256 of each.
pub(crate) fn file_records<'a>(
    files: impl IntoIterator<Item = &'a DataFile>,
) -> Vec<serde_json::Value> {
    files
        .into_iter()
        .map(|f| json!({"path": f.path, "size": f.size, "sha256": f.sha256}))
        .collect()
}

/// A file's protocol `id`: stable for the file, not revealing its path.
fn file_id(path: &str) -> String {
    hex::encode(&Sha256::digest(path.as_bytes())[..16])
}
