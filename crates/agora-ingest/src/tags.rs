//! The automatic tags an ingest's classification decides, against the table's tags before it.

use agora_classify::Classification;
use agora_model::{Category, ColumnTag, Name, TableRef, TagSource};

/// What an ingest's classification decides for one column's automatic tag.
#[derive(Debug, Clone)]
pub struct TagDecision {
    /// The automatic tag as this ingest's classification gives it.
    pub tag: ColumnTag,
    /// The classification it comes from (its evidence in full).
    pub classification: Classification,
    /// The column's automatic category before this ingest, if it had one.
    pub previous: Option<Category>,
}

impl TagDecision {
    /// Whether the tag differs from the stored one, so that it must be stored.
    pub fn changed(&self) -> bool {
        self.previous != Some(self.tag.category)
    }

    /// Whether the change is worth reporting: a first `none` is stored (later drift is measured
    /// against it) but is not news.
    pub fn is_news(&self) -> bool {
        self.changed() && !(self.previous.is_none() && self.tag.category == Category::None)
    }
}

/// The automatic tag of `table` a classification decision stands for.
fn auto_tag(table: &TableRef, decision: &Classification, actor: &Name, now: &str) -> ColumnTag {
    ColumnTag {
        table: table.clone(),
        column: decision.column.clone(),
        source: TagSource::Auto,
        category: decision.category,
        sensitivity: decision.sensitivity,
        confidence: decision.confidence,
        evidence: serde_json::to_string(&decision.evidence)
            .expect("INVARIANT: evidence is plain JSON"),
        reason: String::new(),
        set_by: actor.clone(),
        updated_at: now.to_string(),
    }
}

/// One decision per classified column, given the table's tags before the ingest (`before`).
pub(crate) fn decide(
    table: &TableRef,
    classified: &[Classification],
    before: &[ColumnTag],
    actor: &Name,
    now: &str,
) -> Vec<TagDecision> {
    classified
        .iter()
        .map(|c| TagDecision {
            tag: auto_tag(table, c, actor, now),
            classification: c.clone(),
            previous: before
                .iter()
                .find(|t| &t.table == table && t.source == TagSource::Auto && t.column == c.column)
                .map(|t| t.category),
        })
        .collect()
}

/// The tags once `decisions` are stored: they replace the table's automatic tags of the same
/// columns.
pub(crate) fn after(before: &[ColumnTag], decisions: &[TagDecision]) -> Vec<ColumnTag> {
    let mut tags: Vec<ColumnTag> = before
        .iter()
        .filter(|t| {
            !(t.source == TagSource::Auto
                && decisions
                    .iter()
                    .any(|d| d.tag.table == t.table && d.tag.column == t.column))
        })
        .cloned()
        .collect();
    tags.extend(decisions.iter().map(|d| d.tag.clone()));
    tags
}
