//! What a reader sees of a product's contract: examples are values too, so the `examples` of
//! every column masked for the reader are withheld.

use agora_model::{Name, TableRef};
use serde_norway::Value;

/// What stands in for withheld examples.
const WITHHELD: &str = "[withheld by policy]";

/// The contract document `yaml` of a product of `domain` with the `examples` of every column
/// for which `masked(table, column)` holds replaced by a marker; `None` when nothing is
/// withheld, so the caller shows the document exactly as applied.
pub fn withhold_examples(
    yaml: &str,
    domain: &Name,
    masked: impl Fn(&TableRef, &str) -> bool,
) -> Result<Option<String>, serde_norway::Error> {
    let mut doc: Value = serde_norway::from_str(yaml)?;
    let mut withheld = false;
    let schema = doc.get_mut("schema").and_then(Value::as_sequence_mut);
    for object in schema.into_iter().flatten() {
        let Some(table) = object
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| Name::normalize("table", n).ok())
        else {
            continue;
        };
        let table = TableRef {
            domain: domain.clone(),
            table,
        };
        let properties = object
            .get_mut("properties")
            .and_then(Value::as_sequence_mut);
        for property in properties.into_iter().flatten() {
            let column = property
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| Name::normalize("column", n).ok());
            let hidden = column.is_some_and(|c| masked(&table, c.as_str()));
            if let (true, Some(map)) = (hidden, property.as_mapping_mut())
                && map.contains_key("examples")
            {
                map.insert("examples".into(), Value::Sequence(vec![WITHHELD.into()]));
                withheld = true;
            }
        }
    }
    if !withheld {
        return Ok(None);
    }
    serde_norway::to_string(&doc).map(Some)
}
