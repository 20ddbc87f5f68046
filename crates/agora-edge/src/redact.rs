//! Redaction on the device: what the node's policies (`edge.redact` in the global or the
//! domain's policy) say must never leave it. A column the node already knows to hold such a
//! category (its contract's classification, the classifier's tag, an owner's override) is
//! redacted whole; in every other text value, each word that agora-classify's validated
//! recognisers take for such a category (an e-mail address, a card number passing Luhn, an IBAN
//! passing mod 97, a national identifier with its check digits, a phone number, an IP address)
//! is replaced. Names and postal addresses have no per-value validator: the agent redacts them
//! only in the columns labelled with them.

use std::collections::{BTreeMap, BTreeSet};

use agora_classify::recognizers::{contact, financial, national_id, network};
use agora_model::Category;
use serde_json::{Map, Value};

/// What the agent redacts, from the node's answer.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    categories: BTreeSet<Category>,
    /// Column → the category it holds.
    columns: BTreeMap<String, Category>,
}

/// The text put in place of a redacted value.
pub fn marker(category: Category) -> String {
    format!("[redacted {}]", category.as_str())
}

impl Redactor {
    /// From the node's `redact` and `redact_columns` (unknown category names are refused:
    /// an agent that cannot honour a redaction must not run).
    pub fn new(categories: &[String], columns: &BTreeMap<String, String>) -> Result<Self, String> {
        let parse = |c: &str| {
            c.parse::<Category>()
                .map_err(|e| format!("the node asks to redact `{c}`: {e}"))
        };
        Ok(Redactor {
            categories: categories
                .iter()
                .map(|c| parse(c))
                .collect::<Result<_, _>>()?,
            columns: columns
                .iter()
                .map(|(col, c)| Ok((col.clone(), parse(c)?)))
                .collect::<Result<_, String>>()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    /// The category a validated recogniser takes `word` for, among those to redact.
    fn recognised(&self, word: &str) -> Option<Category> {
        let found = if contact::email(word) {
            Category::Email
        } else if financial::payment_card(word) {
            Category::PaymentCard
        } else if financial::iban(word) {
            Category::Iban
        } else if national_id::national_id(word).is_some() {
            Category::NationalId
        } else if network::ip_address(word) {
            Category::IpAddress
        } else if word.chars().filter(char::is_ascii_digit).count() >= 7
            && contact::phone_number(word)
        {
            Category::PhoneNumber
        } else {
            return None;
        };
        self.categories.contains(&found).then_some(found)
    }

    /// `text` with every run of digits, spaces and dashes that a recogniser takes for a
    /// category to redact replaced (a card written in groups, `4111 1111 1111 1111`).
    fn redact_digit_runs(&self, text: &str) -> Option<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let (mut i, mut changed) = (0, false);
        while i < chars.len() {
            if chars[i].is_ascii_digit() {
                let mut end = i;
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_digit() || chars[j] == ' ' || chars[j] == '-')
                {
                    if chars[j].is_ascii_digit() {
                        end = j;
                    }
                    j += 1;
                }
                let run: String = chars[i..=end].iter().collect();
                let digits = run.chars().filter(char::is_ascii_digit).count();
                if digits >= 12
                    && run.contains([' ', '-'])
                    && let Some(c) = self.recognised(&run)
                {
                    out.push_str(&marker(c));
                    changed = true;
                } else {
                    out.push_str(&run);
                }
                i = end + 1;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        changed.then_some(out)
    }

    /// `text` with every recognised word replaced.
    fn redact_text(&self, text: &str) -> Option<String> {
        let whole = text.trim();
        if let Some(c) = self.recognised(whole) {
            return Some(marker(c));
        }
        let grouped = self.redact_digit_runs(text);
        let text = grouped.as_deref().unwrap_or(text);
        let mut changed = grouped.is_some();
        let words: Vec<String> = text
            .split(' ')
            .map(|word| {
                let core = word.trim_matches(|c: char| ",;:.()<>\"'[]!?".contains(c));
                match (!core.is_empty()).then(|| self.recognised(core)).flatten() {
                    Some(c) => {
                        changed = true;
                        word.replace(core, &marker(c))
                    }
                    None => word.to_string(),
                }
            })
            .collect();
        let joined = words.join(" ");
        changed.then_some(joined)
    }

    /// Redacts `event` in place; returns how many values were redacted.
    pub fn redact(&self, event: &mut Map<String, Value>) -> u64 {
        if self.categories.is_empty() {
            return 0;
        }
        let mut redacted = 0;
        for (column, value) in event.iter_mut() {
            if value.is_null() {
                continue;
            }
            if let Some(c) = self.columns.get(column) {
                *value = match value {
                    Value::String(_) => Value::String(marker(*c)),
                    _ => Value::Null,
                };
                redacted += 1;
            } else if let Value::String(text) = value
                && let Some(clean) = self.redact_text(text)
            {
                *text = clean;
                redacted += 1;
            }
        }
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(
            &["email".into(), "payment_card".into(), "iban".into()],
            &BTreeMap::from([("driver".to_string(), "email".to_string())]),
        )
        .unwrap()
    }

    #[test]
    fn labelled_columns_go_whole_and_recognised_words_one_by_one() {
        let mut event: Map<String, Value> = serde_json::from_str(
            r#"{"driver": "not even an address", "note": "paid with 4111 1111 1111 1111? no: 4111111111111111, mail ann@example.org.", "iban": "DE89370400440532013000", "seq": 7, "plain": "door open"}"#,
        )
        .unwrap();
        let n = redactor().redact(&mut event);
        assert_eq!(event["driver"], "[redacted email]");
        let note = event["note"].as_str().unwrap();
        for raw in ["4111 1111 1111 1111", "4111111111111111", "ann@example.org"] {
            assert!(!note.contains(raw), "{raw} in {note}");
        }
        assert!(
            note.contains("[redacted payment_card]") && note.contains("[redacted email]"),
            "{note}"
        );
        assert_eq!(event["iban"], "[redacted iban]");
        assert_eq!(event["plain"], "door open");
        assert_eq!(event["seq"], 7);
        assert_eq!(n, 3);
    }

    #[test]
    fn what_the_policy_does_not_name_is_left_alone() {
        let r = Redactor::new(&["payment_card".into()], &BTreeMap::new()).unwrap();
        let mut event: Map<String, Value> =
            serde_json::from_str(r#"{"note": "ann@example.org"}"#).unwrap();
        assert_eq!(r.redact(&mut event), 0);
        assert_eq!(event["note"], "ann@example.org");
        assert!(Redactor::new(&["secrets".into()], &BTreeMap::new()).is_err());
    }
}
