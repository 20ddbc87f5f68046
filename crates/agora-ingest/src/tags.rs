//! The automatic tags an ingest's classification decides, against the table's tags before it.
//!
//! An automatic decision may raise a column's sensitivity, never lower it: whoever may write a
//! table can steer what the classifier sees (2,000 rows of `n/a`, then the real emails), so
//! a classification that would lower a column's label is kept as a proposal and the label
//! stands until an owner decides (`agora tag set`, with its reason, on the ledger).

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
    /// The classification would lower the column's label: it is not stored (see the module
    /// docs).
    pub lowering_refused: bool,
}

impl TagDecision {
    /// Whether the tag differs from the stored one and may replace it, so that it must be
    /// stored.
    pub fn changed(&self) -> bool {
        !self.lowering_refused && self.previous != Some(self.tag.category)
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
        .map(|c| {
            let previous = before
                .iter()
                .find(|t| &t.table == table && t.source == TagSource::Auto && t.column == c.column);
            TagDecision {
                tag: auto_tag(table, c, actor, now),
                classification: c.clone(),
                previous: previous.map(|t| t.category),
                lowering_refused: previous
                    .is_some_and(|p| p.category != c.category && c.sensitivity <= p.sensitivity),
            }
        })
        .collect()
}

/// The tags once the changed `decisions` are stored: they replace the table's automatic tags
/// of the same columns.
pub(crate) fn after(before: &[ColumnTag], decisions: &[TagDecision]) -> Vec<ColumnTag> {
    let stored: Vec<&TagDecision> = decisions.iter().filter(|d| d.changed()).collect();
    let mut tags: Vec<ColumnTag> = before
        .iter()
        .filter(|t| {
            !(t.source == TagSource::Auto
                && stored
                    .iter()
                    .any(|d| d.tag.table == t.table && d.tag.column == t.column))
        })
        .cloned()
        .collect();
    tags.extend(stored.iter().map(|d| d.tag.clone()));
    tags
}

#[cfg(test)]
mod tests {
    use agora_classify::Classification;
    use agora_model::Sensitivity;

    use super::*;

    fn classification(column: &str, category: Category) -> Classification {
        Classification {
            column: column.into(),
            category,
            sensitivity: category.default_sensitivity(),
            confidence: 0.9,
            evidence: Vec::new(),
            ruled_out: Vec::new(),
        }
    }

    #[test]
    fn a_classification_raises_a_label_but_never_lowers_it() {
        let table = TableRef::parse("crm.customers").unwrap();
        let actor = Name::strict("principal", "bob").unwrap();
        let before = vec![auto_tag(
            &table,
            &classification("email", Category::Email),
            &actor,
            "t0",
        )];
        let lowered = decide(
            &table,
            &[classification("email", Category::None)],
            &before,
            &actor,
            "t1",
        );
        assert!(lowered[0].lowering_refused && !lowered[0].changed());
        assert_eq!(after(&before, &lowered), before);
        let raised = decide(
            &table,
            &[classification("email", Category::PaymentCard)],
            &before,
            &actor,
            "t1",
        );
        assert!(raised[0].changed() && raised[0].is_news());
        assert_eq!(
            after(&before, &raised)[0].sensitivity,
            Sensitivity::Restricted
        );
        // Another category at the same level could change what readers see: it waits too.
        let sideways = decide(
            &table,
            &[classification("email", Category::PersonName)],
            &before,
            &actor,
            "t1",
        );
        assert!(sideways[0].lowering_refused);
    }
}
