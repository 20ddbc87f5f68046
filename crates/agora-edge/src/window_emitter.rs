//! The task that closes windows and hands their rows to each window table's own buffer (and
//! from there to its sender), in the crash-safe order [`crate::window`] describes.

use std::sync::Arc;
use std::time::Duration;

use crate::EdgeError;
use crate::buffer::{Buffer, now_ms};
use crate::intake::{Intake, check};
use crate::window::{ClosedRow, Windows};

/// The windows of the events' buffer, and for each window spec (in the same order) the intake
/// of its table's buffer.
pub struct Emitter {
    pub events: Arc<Buffer>,
    pub windows: Arc<Windows>,
    pub outputs: Vec<Intake>,
    /// How often windows are looked at.
    pub tick: Duration,
}

impl Emitter {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Buffer, &Windows) -> Result<T, EdgeError> + Send + 'static,
    ) -> Result<T, EdgeError> {
        let (buffer, windows) = (Arc::clone(&self.events), Arc::clone(&self.windows));
        tokio::task::spawn_blocking(move || f(&buffer, &windows))
            .await
            .map_err(|e| EdgeError::Buffer(format!("a window task failed: {e}")))?
    }

    /// Closes and emits windows for as long as the agent runs; returns only on a buffer
    /// failure.
    pub async fn run(self) -> Result<(), EdgeError> {
        loop {
            self.blocking(|b, w| w.close(b.database(), now_ms() as i64))
                .await?;
            for (i, output) in self.outputs.iter().enumerate() {
                let rows: Vec<ClosedRow> = self
                    .blocking(move |b, w| w.closing(b.database(), &w.specs[i]))
                    .await?;
                if !rows.is_empty() {
                    let table = &self.windows.specs[i].table;
                    let group = rows
                        .iter()
                        .map(|r| {
                            check(
                                output,
                                r.row.to_string().as_bytes(),
                                format!("window {table}"),
                            )
                        })
                        .collect();
                    output.commit(group, None).await?;
                    // A crash here: the rows are in the window table's buffer and still
                    // closing; after the restart they are appended again and dropped there as
                    // duplicates.
                    agora_ledger::failpoint("edge.after_window_emit");
                    let keys: Vec<String> = rows.into_iter().map(|r| r.key).collect();
                    self.blocking(move |b, w| w.forget(b.database(), &keys))
                        .await?;
                }
                let open = self
                    .blocking(move |b, w| w.open_count(b.database(), &w.specs[i]))
                    .await?;
                output.metrics.windows_open.set(open as i64);
            }
            tokio::time::sleep(self.tick).await;
        }
    }
}
