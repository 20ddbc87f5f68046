//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed statement of a log's
//! size and root, as the body of a signed note.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use thiserror::Error;

use crate::Hash;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
}

/// A log's origin (its name), size and root hash, plus optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, decimal size, base64 root, extension lines, each ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            text.push_str(e);
            text.push('\n');
        }
        text
    }

    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let bad = |what: &str| CheckpointError::Malformed(what.to_string());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines.next().ok_or_else(|| bad("no size line"))?;
        // Decimal without sign or leading zeros, so that one checkpoint has one text.
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("the size is not a canonical decimal number"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad("the size does not fit 64 bits"))?;
        let root = lines.next().ok_or_else(|| bad("no root hash line"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root is not a base64 SHA-256 hash"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoteSigner, Tree, leaf_hash, open_note, sign_note};

    #[test]
    fn a_signed_checkpoint_round_trips() {
        let mut tree = Tree::new();
        for i in 0u8..5 {
            tree.append(leaf_hash(&[i]));
        }
        let cp = Checkpoint {
            origin: "agora.example/mesh".into(),
            size: tree.size(),
            root: tree.root(),
            extensions: vec![],
        };
        let key = NoteSigner::new("agora.example/mesh", [7; 32]).unwrap();
        let note = sign_note(&cp.to_text(), &[&key]).unwrap();
        let (text, _) = open_note(&note, &[key.verifier()]).unwrap();
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let root = B64.encode([0u8; 32]);
        for text in [
            String::new(),
            "o\n".into(),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            "o\n1\nAAAA\n".into(),
            format!("o\n1\n{root}"),
        ] {
            assert!(Checkpoint::parse(&text).is_err(), "{text:?}");
        }
        assert!(Checkpoint::parse(&format!("o\n1\n{root}\next\n")).is_ok());
    }
}
