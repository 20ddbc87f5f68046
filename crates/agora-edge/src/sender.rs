//! Delivery to the node: the buffer's batches as Arrow IPC streams, each signed and sent under
//! its batch id until the node has committed it, with exponential back-off and jitter while
//! the node is away.

use std::sync::Arc;
use std::time::Duration;

use agora_model::edge_batch::{BATCH_HEADER, SIGNATURE_HEADER, batch_message};
use arrow::ipc::writer::StreamWriter;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::EdgeError;
use crate::buffer::{Batch, Buffer, now_ms};
use crate::config::DeliverySection;
use crate::contract::{Validator, node_message};
use crate::keys::AgentKey;
use crate::metrics::Metrics;

pub struct Sender {
    pub http: reqwest::Client,
    pub node: String,
    pub agent: String,
    pub table: String,
    pub key: Arc<AgentKey>,
    pub buffer: Arc<Buffer>,
    pub validator: Arc<Validator>,
    pub delivery: DeliverySection,
    pub metrics: Metrics,
    /// Notified when events enter the buffer.
    pub wake: Arc<Notify>,
}

/// What one attempt to send a batch came to.
enum Sent {
    Committed,
    /// The node refused what the batch holds (400, 413, 422): retrying cannot help.
    Refused(String),
    /// The node did not answer, failed, or refused for a reason an operator can fix (no grant
    /// yet, an unknown agent): try again later.
    Retry(String),
}

/// The delay before retry `attempt` (from 0): doubling from the initial delay up to the
/// maximum, then a random point in its upper half, so that agents cut off together do not
/// come back together.
pub fn backoff(delivery: &DeliverySection, attempt: u32) -> Duration {
    let ceiling = delivery
        .initial_backoff_ms
        .saturating_mul(1u64 << attempt.min(30))
        .min(delivery.max_backoff_ms);
    let jittered = ceiling / 2 + rand::random_range(0..=ceiling / 2);
    Duration::from_millis(jittered.max(1))
}

fn ipc(validator: &Validator, lines: &[String]) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let batch = validator.batch(lines)?;
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, validator.schema())?;
    writer.write(&batch)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

impl Sender {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Buffer) -> Result<T, EdgeError> + Send + 'static,
    ) -> Result<T, EdgeError> {
        let buffer = Arc::clone(&self.buffer);
        tokio::task::spawn_blocking(move || f(&buffer))
            .await
            .map_err(|e| EdgeError::Buffer(format!("a buffer task failed: {e}")))?
    }

    fn update_gauges(&self, held: crate::buffer::Held) {
        self.metrics.buffered.set(held.events as i64);
        self.metrics.buffered_bytes.set(held.bytes as i64);
        let lag = held
            .oldest_ms
            .map_or(0.0, |t| now_ms().saturating_sub(t) as f64 / 1000.0);
        self.metrics.lag_seconds.set(lag);
    }

    /// Sends batches for as long as the agent runs; returns only on a buffer failure.
    pub async fn run(self) -> Result<(), EdgeError> {
        loop {
            let held = self.blocking(|b| b.held()).await?;
            self.update_gauges(held);
            if held.events == 0 {
                let _ =
                    tokio::time::timeout(self.delivery.linger() * 5, self.wake.notified()).await;
                continue;
            }
            // Let a batch fill for up to `linger`, unless it is full already.
            if (held.events as usize) < self.delivery.batch_events
                && let Some(oldest) = held.oldest_ms
            {
                let age = now_ms().saturating_sub(oldest);
                let linger = self.delivery.linger_ms;
                if age < linger {
                    tokio::time::sleep(Duration::from_millis(linger - age)).await;
                }
            }
            let max = self.delivery.batch_events;
            let Some(batch) = self.blocking(move |b| b.next_batch(max)).await? else {
                continue;
            };
            let n = batch.lines.len() as u64;
            match self.deliver(&batch).await {
                Ok(()) => {
                    // A crash here: the node has the batch, the buffer still holds it, so
                    // the next start sends it again under the same id.
                    agora_ledger::failpoint("edge.after_node_commit");
                    let now = now_ms();
                    for at in &batch.arrivals {
                        self.metrics
                            .delivery_seconds
                            .observe(now.saturating_sub(*at) as f64 / 1000.0);
                    }
                    self.blocking(move |b| b.complete(&batch)).await?;
                    self.metrics.sent.inc_by(n);
                }
                Err(reason) => {
                    tracing::error!(batch = %batch.id, %reason, "the node refused a batch: its events are in the agent's quarantine");
                    self.blocking(move |b| b.refuse(&batch, &reason)).await?;
                    self.metrics.quarantined.inc_by(n);
                }
            }
        }
    }

    /// Sends `batch`, encoded and signed once, until the node commits it (`Ok`) or refuses
    /// what it holds (`Err` with the reason), backing off between failed attempts.
    async fn deliver(&self, batch: &Batch) -> Result<(), String> {
        let body = ipc(&self.validator, &batch.lines)
            .map_err(|e| format!("the events do not fit the contract: {e}"))?;
        let sha = hex::encode(Sha256::digest(&body));
        let signature = self
            .key
            .sign(&batch_message(&self.agent, &self.table, &batch.id, &sha));
        let body = bytes::Bytes::from(body);
        let mut attempt = 0;
        loop {
            match self.send(&batch.id, &signature, body.clone()).await {
                Sent::Committed => return Ok(()),
                Sent::Refused(reason) => return Err(reason),
                Sent::Retry(why) => {
                    self.metrics.send_failures.inc();
                    let delay = backoff(&self.delivery, attempt);
                    tracing::warn!(batch = %batch.id, %why, ?delay, "sending a batch failed; retrying");
                    attempt = attempt.saturating_add(1);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn send(&self, batch_id: &str, signature: &str, body: bytes::Bytes) -> Sent {
        let answer = self
            .http
            .post(format!(
                "{}/api/v1/edge/{}/batches?table={}",
                self.node, self.agent, self.table
            ))
            .header(BATCH_HEADER, batch_id)
            .header(SIGNATURE_HEADER, signature)
            .header("content-type", "application/vnd.apache.arrow.stream")
            .body(body)
            .send()
            .await;
        let response = match answer {
            Ok(r) => r,
            Err(e) => return Sent::Retry(e.to_string()),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => Sent::Committed,
            400 | 413 | 422 => Sent::Refused(format!("HTTP {status}: {}", node_message(&text))),
            _ => Sent::Retry(format!("HTTP {status}: {}", node_message(&text))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_in_the_upper_half() {
        let d = DeliverySection {
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            ..DeliverySection::default()
        };
        for _ in 0..100 {
            let first = backoff(&d, 0).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = backoff(&d, 2).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let late = backoff(&d, 40).as_millis();
            assert!((500..=1000).contains(&late), "{late}");
        }
    }
}
