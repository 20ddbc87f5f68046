//! The MQTT source: a persistent session (the broker keeps the subscriptions and every message
//! not yet acknowledged while the agent is away) with manual acknowledgements, sent only once
//! the message's event is committed to the buffer — PUBACK for QoS 1, PUBREC (then PUBCOMP)
//! for QoS 2. A message whose event was committed but whose acknowledgement was lost to a
//! crash comes again; the buffer's deduplication keeps it once.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;

use crate::EdgeError;
use crate::config::MqttSection;
use crate::intake::{Intake, check};

/// The most messages committed to the buffer in one transaction.
const MAX_GROUP: usize = 1000;

pub struct MqttSource {
    pub section: MqttSection,
    pub client_id: String,
    pub intake: Intake,
}

fn qos(level: u8) -> QoS {
    if level == 2 {
        QoS::ExactlyOnce
    } else {
        QoS::AtLeastOnce
    }
}

impl MqttSource {
    /// Receives messages for as long as the agent runs; returns only on a buffer failure.
    pub async fn run(self) -> Result<(), EdgeError> {
        let m = &self.section;
        let mut options = MqttOptions::new(self.client_id.clone(), &m.host, m.port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false)
            .set_manual_acks(true);
        let (client, mut eventloop) = AsyncClient::new(options, 4 * MAX_GROUP);
        let (tx, rx) = mpsc::channel::<Publish>(4 * MAX_GROUP);
        let writer = tokio::spawn(write_groups(rx, client.clone(), self.intake.clone()));
        let topics = m.topics.clone();
        let level = qos(m.qos);
        loop {
            if writer.is_finished() {
                return writer
                    .await
                    .map_err(|e| EdgeError::Buffer(format!("the buffer writer failed: {e}")))?;
            }
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send(p).await.is_err() {
                        continue; // the writer stopped: its result is read above
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    tracing::info!(
                        session_present = ack.session_present,
                        "connected to the MQTT broker"
                    );
                    if !ack.session_present {
                        for t in &topics {
                            client
                                .try_subscribe(t.clone(), level)
                                .map_err(|e| EdgeError::Mqtt(format!("subscribing to {t}: {e}")))?;
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // rumqttc reconnects on the next poll; the broker resends what was not
                    // acknowledged.
                    tracing::warn!(error = %e, "MQTT connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

/// Checks each message against the contract and commits it to the buffer in groups (one
/// fsync per group), then acknowledges the group's messages.
async fn write_groups(
    mut rx: mpsc::Receiver<Publish>,
    client: AsyncClient,
    intake: Intake,
) -> Result<(), EdgeError> {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let incoming = group
            .iter()
            .map(|p| check(&intake, &p.payload, format!("mqtt {}", p.topic)))
            .collect();
        // Blocked while the buffer is full: nothing acknowledged, so the broker keeps the
        // messages until batches have left.
        intake.commit(incoming, None).await?;
        // A crash here (`edge.after_buffer_commit`, in the commit): events in the buffer,
        // their messages unacknowledged, so the broker sends them again and the deduplication
        // must keep each once.
        for p in &group {
            client
                .ack(p)
                .await
                .map_err(|e| EdgeError::Mqtt(format!("acknowledging a message: {e}")))?;
        }
    }
    Ok(())
}
