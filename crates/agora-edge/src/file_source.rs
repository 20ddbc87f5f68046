//! The file source: a file tailed as JSON lines or CSV (a header line, then rows), surviving
//! rotation. Where the file was read up to (its inode and byte offset, and a CSV file's header)
//! is committed in the same buffer transaction as the events read, so after a crash the agent
//! resumes exactly after what the buffer holds: nothing read twice, nothing skipped.
//!
//! Rotation: when the path names another file (a new inode), the rest of the old one is read
//! first if it is still in the same directory under another name (`app.log` renamed to
//! `app.log.1`), then the new file from its start. A file that shrank below the offset was
//! truncated in place (copytruncate) and is read again from its start. A rotated file deleted
//! before the agent finished it loses its unread lines: the agent logs how many bytes.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EdgeError;
use crate::buffer::Incoming;
use crate::config::{FileFormat, FileSection};
use crate::contract::Validator;
use crate::intake::{Intake, check};

/// The most bytes read in one go; a line longer than this is refused.
const CHUNK: usize = 4 << 20;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Position {
    inode: u64,
    offset: u64,
    /// A CSV file's column names, from its first line.
    header: Option<Vec<String>>,
}

pub struct FileSource {
    pub section: FileSection,
    pub intake: Intake,
}

fn io(path: &Path, e: std::io::Error) -> EdgeError {
    EdgeError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The file in `dir` whose inode is `inode`, if one is.
fn find_by_inode(dir: &Path, inode: u64) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.metadata().is_ok_and(|m| m.ino() == inode))
        .map(|e| e.path())
}

/// One CSV row as a JSON object of the table's columns: numbers and booleans where the
/// column's type says so and the text is one, empty fields as null, the rest as text (which
/// the contract check then refuses with the column named).
fn csv_row(header: &[String], line: &[u8], validator: &Validator) -> Result<Vec<u8>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line);
    let record = reader
        .records()
        .next()
        .ok_or("an empty CSV row")?
        .map_err(|e| format!("not a CSV row: {e}"))?;
    if record.len() != header.len() {
        return Err(format!(
            "{} fields where the header names {}",
            record.len(),
            header.len()
        ));
    }
    let schema = validator.schema();
    let mut object = Map::new();
    for (name, text) in header.iter().zip(record.iter()) {
        let kind = schema
            .field_with_name(name)
            .map(|f| f.data_type().clone())
            .ok();
        let value = if text.is_empty() {
            Value::Null
        } else {
            match kind {
                Some(t) if t.is_integer() => text
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(text)),
                Some(t) if t.is_floating() || matches!(t, DataType::Decimal128(..)) => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::from(text)),
                Some(DataType::Boolean) => match text {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::from(text),
                },
                _ => Value::from(text),
            }
        };
        object.insert(name.clone(), value);
    }
    Ok(Value::Object(object).to_string().into_bytes())
}

impl FileSource {
    fn key(&self) -> String {
        format!("file:{}", self.section.path.display())
    }

    /// Tails the file for as long as the agent runs; returns only on a buffer failure.
    pub async fn run(self) -> Result<(), EdgeError> {
        let path = self.section.path.clone();
        let buffer = self.intake.buffer.clone();
        let key = self.key();
        // A damaged record must stop the source: reading the file again from its start would
        // send every line twice.
        let mut at: Option<Position> = buffer
            .position(&key)?
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    EdgeError::Buffer(format!(
                        "the read position of {} is damaged: {e}",
                        path.display()
                    ))
                })
            })
            .transpose()?;
        let poll = Duration::from_millis(self.section.poll_ms);
        loop {
            let Ok(meta) = std::fs::metadata(&path) else {
                tokio::time::sleep(poll).await;
                continue;
            };
            let inode = meta.ino();
            let current = match at.take() {
                None => Position {
                    inode,
                    ..Position::default()
                },
                Some(p) if p.inode != inode => {
                    self.finish_rotated(&path, p).await?;
                    Position {
                        inode,
                        ..Position::default()
                    }
                }
                Some(p) if meta.len() < p.offset => {
                    tracing::warn!(path = %path.display(), "the file shrank: truncated in place, reading it again from its start");
                    Position {
                        inode,
                        ..Position::default()
                    }
                }
                Some(p) => p,
            };
            let (next, read) = self.read_from(&path, current, false).await?;
            at = Some(next);
            if read == 0 {
                tokio::time::sleep(poll).await;
            }
        }
    }

    /// Reads what is left of a rotated file, if it is still in its directory.
    async fn finish_rotated(&self, path: &Path, mut p: Position) -> Result<(), EdgeError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let Some(old) = find_by_inode(dir, p.inode) else {
            tracing::warn!(path = %path.display(), offset = p.offset, "the rotated file is gone: its unread lines are lost");
            return Ok(());
        };
        loop {
            let (next, read) = self.read_from(&old, p, true).await?;
            if read == 0 {
                return Ok(());
            }
            p = next;
        }
    }

    /// Reads the complete lines of `file` after `p` (with `last`, a final line without its
    /// newline too: a rotated file grows no more), commits their events with the new position;
    /// returns it and the bytes read.
    async fn read_from(
        &self,
        file: &Path,
        mut p: Position,
        last: bool,
    ) -> Result<(Position, usize), EdgeError> {
        let mut f = std::fs::File::open(file).map_err(|e| io(file, e))?;
        f.seek(SeekFrom::Start(p.offset)).map_err(|e| io(file, e))?;
        let mut chunk = Vec::with_capacity(CHUNK.min(1 << 16));
        f.take(CHUNK as u64)
            .read_to_end(&mut chunk)
            .map_err(|e| io(file, e))?;
        let end = match chunk.iter().rposition(|b| *b == b'\n') {
            Some(i) => i + 1,
            None if last || chunk.len() == CHUNK => chunk.len(),
            None => 0,
        };
        if end == 0 {
            return Ok((p, 0));
        }
        let mut group = Vec::new();
        let mut offset = p.offset;
        for line in chunk[..end].split_inclusive(|b| *b == b'\n') {
            let at = offset;
            offset += line.len() as u64;
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let source = format!("file {} at byte {at}", file.display());
            if line.len() == CHUNK {
                group.push(Incoming::Refused {
                    reason: format!("a line longer than {CHUNK} bytes"),
                    payload: String::from_utf8_lossy(&text[..200.min(text.len())]).into_owned(),
                    source,
                });
                continue;
            }
            group.push(match self.section.format {
                FileFormat::Jsonl => check(&self.intake, text, source),
                FileFormat::Csv => match &p.header {
                    None => {
                        p.header = Some(
                            csv::ReaderBuilder::new()
                                .has_headers(false)
                                .from_reader(text)
                                .records()
                                .next()
                                .and_then(Result::ok)
                                .map(|r| r.iter().map(str::to_string).collect())
                                .unwrap_or_default(),
                        );
                        continue;
                    }
                    Some(header) => match csv_row(header, text, &self.intake.validator) {
                        Ok(json) => check(&self.intake, &json, source),
                        Err(reason) => Incoming::Refused {
                            reason,
                            payload: String::from_utf8_lossy(text).into_owned(),
                            source,
                        },
                    },
                },
            });
        }
        p.offset = offset;
        let position = serde_json::to_string(&p).unwrap_or_default();
        self.intake
            .commit_at(group, Some((self.key(), position)), None)
            .await?;
        Ok((p, end))
    }
}
