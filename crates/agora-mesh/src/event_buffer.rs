//! The event buffer file of a table (`event_buffers/<domain>/<table>.ndjson`): a header line
//! naming the flush and the principal, then one line per event with the detector's flags.
//! Appends are synced before a request is answered; a line a crash cut short is left out when
//! the buffer is read back.

use std::io::{BufRead, Write};

use agora_model::Principal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MeshError;
use crate::keys::io;

/// One value of an event the detector found anomalous.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flag {
    pub column: String,
    pub value: f64,
    pub score: f64,
    /// The range of values the column's history made ordinary.
    pub expected_low: Option<f64>,
    pub expected_high: Option<f64>,
    pub reason: String,
}

/// The first line of a buffer file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BufferHeader {
    pub flush_id: String,
    pub principal: String,
}

/// Every other line: one event and what the detector found in it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct BufferedEvent {
    pub received_at: String,
    pub event: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

pub(crate) fn read_header(path: &std::path::Path) -> Result<Option<BufferHeader>, MeshError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut first = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut first)
        .map_err(io(path))?;
    Ok(serde_json::from_str(&first).ok())
}

/// The buffer's header and events; `None` if there is no buffer or it holds no event. A line
/// a crash cut short (the last, unsynced, never answered) is left out.
pub(crate) fn read_buffer(
    path: &std::path::Path,
) -> Result<Option<(BufferHeader, Vec<BufferedEvent>)>, MeshError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut lines = text.lines();
    let Some(header) = lines.next().and_then(|l| serde_json::from_str(l).ok()) else {
        return Ok(None);
    };
    let events: Vec<BufferedEvent> = lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    Ok((!events.is_empty()).then_some((header, events)))
}

/// Appends `events` to the buffer at `path` and syncs it; without `has_header` (no buffer, or
/// one whose header [`read_header`] could not read) the buffer starts anew with its header.
pub(crate) fn append_events<'a>(
    path: &std::path::Path,
    has_header: bool,
    actor: &Principal,
    events: &[serde_json::Map<String, Value>],
    flags: impl Iterator<Item = &'a [Flag]>,
) -> Result<(), MeshError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // A buffer whose header a crash cut short holds no answered event (the header and the
    // first events are one synced write): it starts again.
    let new = !has_header;
    if new && path.exists() {
        std::fs::remove_file(path).map_err(io(path))?;
    }
    let mut out = Vec::new();
    if new {
        let header = BufferHeader {
            flush_id: format!("{}-{:08x}", crate::now(), rand::random::<u32>()),
            principal: actor.name.to_string(),
        };
        serde_json::to_writer(&mut out, &header)
            .map_err(|e| MeshError::Internal(format!("a buffer header: {e}")))?;
        out.push(b'\n');
    }
    let now = crate::now();
    for (event, flags) in events.iter().zip(flags) {
        let line = BufferedEvent {
            received_at: now.clone(),
            event: Value::Object(event.clone()),
            flags: flags.to_vec(),
        };
        serde_json::to_writer(&mut out, &line)
            .map_err(|e| MeshError::Internal(format!("an event: {e}")))?;
        out.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    file.write_all(&out).map_err(io(path))?;
    file.sync_data().map_err(io(path))?;
    Ok(())
}
