//! What every source does with what it receives: each payload checked against the contract
//! into an [`Incoming`], and a group of them committed to the buffer in one transaction, waiting
//! while a blocking buffer is full.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::EdgeError;
use crate::anomaly::{Flagger, Scored};
use crate::buffer::{Appended, Buffer, Incoming};
use crate::contract::Validator;
use crate::metrics::Metrics;
use crate::redact::Redactor;
use serde_json::Value;

/// One payload (a JSON object) from `source`, checked against the contract, then redacted
/// as the node's policies say (the key is taken before, so that redaction cannot make two
/// events one).
pub fn check(intake: &Intake, payload: &[u8], source: String) -> Incoming {
    match intake.validator.check(payload) {
        Ok((mut event, line)) => {
            let key = intake.validator.key_of(&event);
            let scored = match &intake.flagger {
                Some(f) => f
                    .lock()
                    .map(|mut f| f.score(&mut event))
                    .unwrap_or_default(),
                None => Scored::default(),
            };
            if scored.flagged {
                intake.metrics.flagged.inc();
            }
            if scored.unscored {
                intake.metrics.unscored.inc();
            }
            let redacted = intake.redactor.redact(&mut event);
            intake.metrics.redacted.inc_by(redacted);
            let line = if redacted == 0 && !scored.flagged {
                line
            } else {
                Value::Object(event).to_string()
            };
            Incoming::Event { key, line }
        }
        Err(reason) => Incoming::Refused {
            reason,
            payload: String::from_utf8_lossy(payload).into_owned(),
            source,
        },
    }
}

/// The sources' shared handles.
#[derive(Clone)]
pub struct Intake {
    pub validator: Arc<Validator>,
    pub redactor: Arc<Redactor>,
    /// The anomaly detectors, if configured; one lock, as events are scored in arrival order.
    pub flagger: Option<Arc<std::sync::Mutex<Flagger>>>,
    pub buffer: Arc<Buffer>,
    pub metrics: Metrics,
    /// Notified when events enter the buffer, and when a full buffer waits for the sender.
    pub wake: Arc<Notify>,
}

impl Intake {
    /// Commits `group` (fsync'd) and counts it. While a blocking buffer is full, waits for
    /// batches to leave — forever, or until `give_up` has passed (then `EdgeError::Full`, and
    /// nothing of the group is kept).
    pub async fn commit(
        &self,
        group: Vec<Incoming>,
        give_up: Option<Duration>,
    ) -> Result<Appended, EdgeError> {
        self.commit_at(group, None, give_up).await
    }

    /// [`Self::commit`] with the source's position recorded in the same transaction.
    pub async fn commit_at(
        &self,
        group: Vec<Incoming>,
        position: Option<(String, String)>,
        give_up: Option<Duration>,
    ) -> Result<Appended, EdgeError> {
        let started = Instant::now();
        let group = Arc::new(group);
        let position = Arc::new(position);
        let done = loop {
            let (b, items, at) = (
                Arc::clone(&self.buffer),
                Arc::clone(&group),
                Arc::clone(&position),
            );
            let appended = tokio::task::spawn_blocking(move || {
                b.append_at(
                    &items,
                    at.as_ref().as_ref().map(|(s, p)| (s.as_str(), p.as_str())),
                )
            })
            .await
            .map_err(|e| EdgeError::Buffer(format!("a buffer task failed: {e}")))?;
            match appended {
                Ok(done) => break done,
                Err(EdgeError::Full) if give_up.is_none_or(|g| started.elapsed() < g) => {
                    self.wake.notify_one();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        };
        // A crash here: the group is in the buffer (with the window state it changed and the
        // source's position) and nothing is acknowledged yet.
        agora_ledger::failpoint("edge.after_buffer_commit");
        self.metrics.accepted.inc_by(done.accepted);
        self.metrics.duplicates.inc_by(done.duplicates);
        self.metrics.quarantined.inc_by(done.quarantined);
        self.metrics.dropped.inc_by(done.dropped);
        self.metrics.late.inc_by(done.windows.late);
        self.metrics.skipped.inc_by(done.windows.skipped);
        self.wake.notify_one();
        Ok(done)
    }
}
