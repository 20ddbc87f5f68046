//! Checks on the bytes of text sources as they are read, before any decoder buffers them: no
//! line (and no quoted CSV field) longer than [`MAX_LINE_BYTES`], so `/dev/zero` or a file
//! without newlines is refused at the limit instead of filling memory; and in CSV, no quoted
//! field left open at the end of the input, which the CSV decoder would otherwise accept as one
//! field holding the rest of the file.
//!
//! The check tracks CSV's quoting by RFC 4180's rules (a quote opens a field only at its start;
//! a doubled quote inside one is a quote), which is also how the decoder reads it.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// The longest line a text source may have, and the longest quoted CSV field.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Where CSV's quoting stands after a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field.
    FieldStart,
    /// In a field that did not open with a quote.
    Plain,
    /// In a quoted field.
    Quoted,
    /// In a quoted field, just after a quote: the field's end or the first of a doubled quote.
    QuoteInQuoted,
}

/// A reader that checks what passes through it (see the module docs) and remembers the first
/// violation, which the decoder's error then names.
pub(crate) struct CheckedInput<R> {
    inner: R,
    csv: bool,
    state: Quoting,
    /// The 1-based line being read, and bytes since its start (or the quoted field's).
    line: u64,
    run: usize,
    /// The line the open quoted field started on.
    quote_line: u64,
    violation: Arc<Mutex<Option<String>>>,
}

/// The violation a [`CheckedInput`] found, shared with the decoder that reads through it.
#[derive(Clone, Default)]
pub(crate) struct Violation(Arc<Mutex<Option<String>>>);

impl Violation {
    /// The first violation found, if any.
    pub(crate) fn take(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

impl<R: Read> CheckedInput<R> {
    /// Checks `inner`'s lines; with `csv`, its quoting too.
    pub(crate) fn new(inner: R, csv: bool) -> (Self, Violation) {
        let violation = Violation::default();
        let input = CheckedInput {
            inner,
            csv,
            state: Quoting::FieldStart,
            line: 1,
            run: 0,
            quote_line: 0,
            violation: violation.0.clone(),
        };
        (input, violation)
    }

    fn fail(&self, message: String) -> io::Error {
        let mut slot = self
            .violation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none() {
            *slot = Some(message.clone());
        }
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    fn check(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            self.run += 1;
            if b == b'\n' {
                self.line += 1;
                if self.state != Quoting::Quoted {
                    self.run = 0;
                }
            }
            if self.csv {
                self.state = match (self.state, b) {
                    (Quoting::FieldStart, b'"') => {
                        self.quote_line = self.line;
                        self.run = 1;
                        Quoting::Quoted
                    }
                    (Quoting::FieldStart | Quoting::Plain, b',' | b'\n') => Quoting::FieldStart,
                    (Quoting::FieldStart | Quoting::Plain, _) => Quoting::Plain,
                    (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                    (Quoting::Quoted, _) => Quoting::Quoted,
                    (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                    (Quoting::QuoteInQuoted, b',' | b'\n') => {
                        if b == b'\n' {
                            self.run = 0;
                        }
                        Quoting::FieldStart
                    }
                    (Quoting::QuoteInQuoted, _) => Quoting::Plain,
                };
            }
            if self.run > MAX_LINE_BYTES {
                let what = if self.state == Quoting::Quoted {
                    format!("the quoted field opened on line {}", self.quote_line)
                } else {
                    format!("line {}", self.line)
                };
                return Err(self.fail(format!(
                    "{what} is longer than {MAX_LINE_BYTES} bytes, the most one line or field may hold"
                )));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for CheckedInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.state == Quoting::Quoted {
                return Err(self.fail(format!(
                    "the quoted field opened on line {} is never closed: a quote is missing",
                    self.quote_line
                )));
            }
            return Ok(0);
        }
        self.check(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], csv: bool) -> Result<(), String> {
        let (mut input, violation) = CheckedInput::new(text, csv);
        let mut sink = Vec::new();
        input
            .read_to_end(&mut sink)
            .map(|_| ())
            .map_err(|e| violation.take().unwrap_or(e.to_string()))
    }

    #[test]
    fn quoted_fields_must_close_and_doubled_quotes_are_quotes() {
        assert!(read_all(b"a,b\n1,\"x, \"\"y\"\"\"\n2,\"multi\nline\"\n", true).is_ok());
        assert!(read_all(b"a,b\n1,5'7\"\n", true).is_ok());
        let open = read_all(b"a,b\n1,\"abc\n2,x\n", true).unwrap_err();
        assert!(open.contains("opened on line 2 is never closed"), "{open}");
    }

    #[test]
    fn a_line_without_end_is_refused_at_the_limit() {
        let long = vec![b'0'; MAX_LINE_BYTES + 10];
        let err = read_all(&long, false).unwrap_err();
        assert!(err.contains("line 1 is longer than"), "{err}");
    }
}
