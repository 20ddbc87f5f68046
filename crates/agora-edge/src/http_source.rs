//! The HTTP source: `POST /events` with JSON lines (one event per line). The answer comes after
//! the lines' events are committed to the buffer, so a 200 means the agent has them, and each
//! refused line is named with its reason; a full buffer that blocks answers 503 with
//! `Retry-After`, keeping nothing of the request.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::EdgeError;
use crate::buffer::Incoming;
use crate::config::HttpSection;
use crate::intake::{Intake, check};

/// How long a request waits for room in a full, blocking buffer before it gets 503.
const WAIT_FOR_ROOM: Duration = Duration::from_secs(5);

pub struct HttpSource {
    pub section: HttpSection,
    pub intake: Intake,
}

impl HttpSource {
    /// Serves `POST /events` until the agent stops.
    pub async fn run(self) -> Result<(), EdgeError> {
        let listener = tokio::net::TcpListener::bind(&self.section.listen)
            .await
            .map_err(|e| EdgeError::Setting {
                key: "http.listen",
                message: format!("cannot listen on {}: {e}", self.section.listen),
            })?;
        if let Ok(addr) = listener.local_addr() {
            println!("events at http://{addr}/events");
        }
        let app = Router::new()
            .route("/events", post(events))
            .layer(DefaultBodyLimit::max(self.section.max_body_bytes))
            .with_state(self.intake);
        axum::serve(listener, app).await.map_err(|e| EdgeError::Io {
            path: self.section.listen.clone(),
            message: e.to_string(),
        })
    }
}

async fn events(State(intake): State<Intake>, body: Bytes) -> Response {
    let mut group = Vec::new();
    let mut refused = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = check(&intake, line, format!("http line {}", n + 1));
        if let Incoming::Refused { reason, .. } = &item {
            refused.push(json!({"line": n + 1, "reason": reason}));
        }
        group.push(item);
    }
    match intake.commit(group, Some(WAIT_FOR_ROOM)).await {
        Ok(done) => (
            StatusCode::OK,
            axum::Json(json!({
                "accepted": done.accepted,
                "duplicates": done.duplicates,
                "quarantined": refused,
                "dropped": done.dropped,
            })),
        )
            .into_response(),
        Err(EdgeError::Full) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "5")],
            axum::Json(json!({"error": "the agent's buffer is full: nothing of this request was kept; send it again later"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}
