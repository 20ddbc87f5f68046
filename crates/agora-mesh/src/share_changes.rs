//! A shared table's change data feed (`GET …/changes`): the rows each commit in a range of
//! versions inserted, deleted or updated, as the recipient sees them. Each commit's changes
//! are read through the recipient's governed, audited session (`SessionOptions::changes_of`),
//! so a masked column is masked and a filtered row absent in the feed exactly as in the
//! table, and always served as governed files written once per commit and view: a commit's
//! own files mix rows added, rows removed and change-data files, which only a reader of the
//! Delta log could tell apart. Every request is one signed `share.read` ledger entry naming
//! the versions and the files by SHA-256.

use std::collections::BTreeMap;

use agora_catalog::SharedTable;
use agora_query::SessionOptions;
use agora_sharing::protocol::Action;
use agora_sharing::{Bound, ChangesRequest};
use agora_storage::{COMMIT_TIMESTAMP, COMMIT_VERSION};
use serde_json::json;

use crate::recorder::Event;
use crate::share_reads::{FILE_URL_LIFETIME, file_records, metadata, no_history, protocol};
use crate::{Mesh, MeshError, Recipient, SharedAnswer};

impl Mesh {
    /// The changes of a shared table over the versions `request` names, with file URLs under
    /// `files_url`; the answer's version is the first version of the range.
    pub async fn shared_table_changes(
        &self,
        r: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
        request: &ChangesRequest,
        files_url: &str,
    ) -> Result<SharedAnswer, MeshError> {
        let t = self.shared_table(r, share, schema, table).await?;
        if !t.history {
            return Err(no_history(&t, "the changes"));
        }
        let (start, end) = request
            .range()
            .map_err(|e| MeshError::bad_input("change feed request", e.to_string()))?;
        let commits: BTreeMap<u64, Option<i64>> = self
            .store
            .history(&t.table, None)
            .await?
            .into_iter()
            .map(|c| (c.version, c.timestamp_ms))
            .collect();
        let (first, last) = self.change_range(&t, &commits, start, end).await?;

        let expires = chrono::Utc::now() + FILE_URL_LIFETIME;
        let mut actions = Vec::new();
        let mut schema = None;
        let mut read = Vec::new();
        let mut masked = Vec::new();
        let mut row_filtered = false;
        for version in first..=last {
            let options = SessionOptions {
                changes_of: Some(version),
                ..Default::default()
            };
            let (df, governance) = self.governed_query(r, &t, options).await?;
            // The client adds the commit's version and time from the action.
            let df = df
                .drop_columns(&[COMMIT_VERSION, COMMIT_TIMESTAMP])
                .map_err(agora_query::QueryError::from_datafusion)?;
            schema = Some(df.schema().as_arrow().clone());
            masked = governance.masked.keys().cloned().collect();
            row_filtered |= governance.row_filter.is_some() || t.partition.is_some();
            let dir = agora_storage::governed_changes_dir(
                &t.table,
                version,
                &crate::share_reads::fingerprint(&df),
            );
            let (files, path) = self.governed_files(&dir, df).await?;
            let timestamp = commits.get(&version).copied().flatten();
            for f in &files {
                let mut action = self.file_action(&t, f, files_url, expires);
                action.version = Some(version);
                action.timestamp = timestamp;
                actions.push(Action::Cdf(action));
            }
            read.push(json!({
                "version": version,
                "files_path": path.as_str(),
                "files": file_records(&files),
            }));
        }
        let mut schema = schema.expect("INVARIANT: a change range holds at least one version");
        // The data columns: `_change_type` is the feed's own.
        schema = datafusion::arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .filter(|f| f.name() != agora_storage::CHANGE_TYPE)
                .cloned()
                .collect::<Vec<_>>(),
        );
        // The feed's metadata names the version it starts at, and that the table records its
        // changes: a client reading the delta format writes both into the log it replays.
        let mut feed_metadata = metadata(&t, &schema)?;
        feed_metadata.version = Some(first);
        feed_metadata
            .configuration
            .insert("delta.enableChangeDataFeed".into(), "true".into());
        let mut answer = vec![protocol(), Action::Metadata(feed_metadata)];
        answer.extend(actions);
        let event = Event::by_admin(
            "share.read",
            json!({
                "share": t.share.as_str(),
                "recipient": r.principal.name.as_str(),
                "table": t.table.to_string(),
                "changes": {"starting_version": first, "ending_version": last},
                "masked_columns": masked,
                "row_filtered": row_filtered,
                "versions": read,
            }),
        );
        self.recorder.record(vec![event], None).await?;
        Ok(SharedAnswer {
            version: first,
            actions: answer,
        })
    }

    /// The versions, first and last, a change feed request covers: within what the share
    /// allows (up to its pinned version) and where the table recorded its changes.
    async fn change_range(
        &self,
        t: &SharedTable,
        commits: &BTreeMap<u64, Option<i64>>,
        start: Bound,
        end: Option<Bound>,
    ) -> Result<(u64, u64), MeshError> {
        let latest = self.latest_shared(t).await?;
        let first = match start {
            Bound::Version(v) => v,
            Bound::Timestamp(ms) => commits
                .iter()
                .find(|(_, ts)| ts.is_some_and(|ts| ts >= ms))
                .map(|(v, _)| *v)
                .ok_or_else(|| {
                    MeshError::bad_input(
                        "startingTimestamp",
                        format!(
                            "no version of {} was committed at or after {ms} ms",
                            t.table
                        ),
                    )
                })?,
        };
        let last = match end {
            None => latest,
            Some(Bound::Version(v)) => v.min(latest),
            Some(Bound::Timestamp(ms)) => commits
                .iter()
                .rev()
                .find(|(_, ts)| ts.is_some_and(|ts| ts <= ms))
                .map(|(v, _)| *v)
                .ok_or_else(|| {
                    MeshError::bad_input(
                        "endingTimestamp",
                        format!(
                            "no version of {} was committed at or before {ms} ms",
                            t.table
                        ),
                    )
                })?
                .min(latest),
        };
        if first > latest {
            return Err(MeshError::bad_input(
                "startingVersion",
                format!(
                    "{first} is after the latest version of {} the share holds ({latest})",
                    t.table
                ),
            ));
        }
        if first > last {
            return Err(MeshError::bad_input(
                "change feed request",
                format!("it starts at version {first} and ends before it, at {last}"),
            ));
        }
        let readable = self.store.first_change_version(&t.table)?;
        if first < readable {
            return Err(MeshError::bad_input(
                "startingVersion",
                format!(
                    "the changes of {} before version {readable} were purged by an erasure: start at {readable} or later",
                    t.table
                ),
            ));
        }
        let at_start = self.store.open_at(&t.table, first).await?;
        if !agora_storage::records_changes(&at_start)? {
            return Err(MeshError::bad_input(
                "startingVersion",
                format!(
                    "{} did not record its changes at version {first} (it was created before Agora recorded them)",
                    t.table
                ),
            ));
        }
        Ok((first, last))
    }
}
