//! The policy file: YAML, parsed strictly (an unknown key is an error, not ignored: a typo in a
//! policy must not silently weaken it) and validated whole before anything is applied.
//!
//! ```yaml
//! kind: AgoraPolicy
//! domain: sales              # omit for the global policy
//! attributes:                # global policy only: the principal attributes row filters use
//!   region: [EU, US, APAC]   # the values allowed ([] allows any)
//! columns:                   # columns above the reader's clearance; the first match wins
//!   - category: email        # or `sensitivity: restricted`, or `column: sales.customers.email`
//!     action: mask           # redact | mask | hash | generalize | deny
//!   - category: person_name
//!     action: redact
//!     marker: "[withheld]"   # redact only: a marker for text columns instead of NULL
//! rows:
//!   - table: sales.orders
//!     filter: "region = principal.region"
//!     exempt: restricted     # readers with this clearance see every row (optional)
//! ```

use std::collections::BTreeMap;

use agora_model::{Category, Name, Sensitivity, TableRef};
use serde::Deserialize;

use crate::PolicyError;
use crate::row_filter::FilterTemplate;

/// The `kind` every policy file declares, so a contract is never applied as a policy.
pub const POLICY_KIND: &str = "AgoraPolicy";

/// What happens to a column whose sensitivity is above the reader's clearance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// NULL, or `marker` in text columns.
    Redact { marker: Option<String> },
    /// Keep the last 4 characters (cards, phones, identifiers) or an email's domain.
    Mask,
    /// Keyed HMAC-SHA-256 with the mesh's secret: equal values stay equal, so joins still work.
    Hash,
    /// Coarser values: a birth date's year, coordinates to 1 decimal, an IP's /24 (IPv6: /48).
    Generalize,
    /// Any query that uses the column fails, naming it.
    Deny,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Redact { .. } => "redact",
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Generalize => "generalize",
            Action::Deny => "deny",
        }
    }
}

/// Which columns a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Category(Category),
    Sensitivity(Sensitivity),
    Column { table: TableRef, column: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRule {
    pub matcher: Matcher,
    pub action: Action,
}

/// Rows of `table` a reader sees: those where `filter` holds with the reader's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRule {
    pub table: TableRef,
    pub filter: FilterTemplate,
    /// Readers with at least this clearance see every row.
    pub exempt: Option<Sensitivity>,
}

/// One validated policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// `None` for the global policy.
    pub domain: Option<Name>,
    /// Attribute name → allowed values (empty: any value).
    pub attributes: BTreeMap<String, Vec<String>>,
    pub columns: Vec<ColumnRule>,
    pub rows: Vec<RowRule>,
    /// Categories an edge agent redacts before anything leaves its device (`edge.redact`).
    pub edge_redact: Vec<Category>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdge {
    #[serde(default)]
    redact: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    kind: String,
    domain: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    columns: Vec<RawColumnRule>,
    #[serde(default)]
    rows: Vec<RawRowRule>,
    edge: Option<RawEdge>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumnRule {
    category: Option<String>,
    sensitivity: Option<String>,
    column: Option<String>,
    action: String,
    marker: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRowRule {
    table: String,
    filter: String,
    exempt: Option<String>,
}

impl PolicyDocument {
    /// Parses and validates a policy file; `source` names it in errors.
    pub fn from_yaml(source: &str, yaml: &str) -> Result<PolicyDocument, PolicyError> {
        let raw: RawPolicy = serde_norway::from_str(yaml).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("{source}:{}:{}", l.line(), l.column()))
                .unwrap_or_else(|| source.to_string());
            PolicyError::invalid(&at, format!("malformed policy YAML: {e}"))
        })?;
        if raw.kind != POLICY_KIND {
            return Err(PolicyError::invalid(
                source,
                format!("`kind` is `{}`, expected `{POLICY_KIND}`", raw.kind),
            ));
        }
        let domain = raw
            .domain
            .as_deref()
            .map(|d| Name::strict("domain", d))
            .transpose()
            .map_err(|e| PolicyError::invalid(&format!("{source}: domain"), e.to_string()))?;
        if domain.is_some() && !raw.attributes.is_empty() {
            return Err(PolicyError::invalid(
                &format!("{source}: attributes"),
                "principal attributes are declared in the global policy (the one without `domain`)",
            ));
        }
        for name in raw.attributes.keys() {
            if !is_identifier(name) {
                return Err(PolicyError::invalid(
                    &format!("{source}: attributes.{name}"),
                    "an attribute name is lower-case letters, digits and `_`, starting with a letter",
                ));
            }
        }
        let columns = raw
            .columns
            .into_iter()
            .enumerate()
            .map(|(i, r)| column_rule(r, domain.as_ref(), &format!("{source}: columns[{i}]")))
            .collect::<Result<_, _>>()?;
        let rows = raw
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| row_rule(r, domain.as_ref(), &format!("{source}: rows[{i}]")))
            .collect::<Result<_, _>>()?;
        let edge_redact = raw
            .edge
            .map(|e| e.redact)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.parse::<Category>().map_err(|e| {
                    PolicyError::invalid(&format!("{source}: edge.redact[{i}]"), e.to_string())
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(PolicyDocument {
            domain,
            attributes: raw.attributes,
            columns,
            rows,
            edge_redact,
        })
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn column_rule(
    raw: RawColumnRule,
    domain: Option<&Name>,
    at: &str,
) -> Result<ColumnRule, PolicyError> {
    let matcher = match (raw.category, raw.sensitivity, raw.column) {
        (Some(c), None, None) => Matcher::Category(
            c.parse()
                .map_err(|e: agora_model::ModelError| PolicyError::invalid(at, e.to_string()))?,
        ),
        (None, Some(s), None) => Matcher::Sensitivity(
            s.parse()
                .map_err(|e: agora_model::ModelError| PolicyError::invalid(at, e.to_string()))?,
        ),
        (None, None, Some(c)) => {
            let (table, column) = column_path(&c, at)?;
            in_domain(&table, domain, at)?;
            Matcher::Column { table, column }
        }
        _ => {
            return Err(PolicyError::invalid(
                at,
                "give exactly one of `category`, `sensitivity` or `column`",
            ));
        }
    };
    let action = match raw.action.as_str() {
        "redact" => Action::Redact { marker: raw.marker },
        other => {
            if raw.marker.is_some() {
                return Err(PolicyError::invalid(
                    at,
                    "`marker` goes with `action: redact` only",
                ));
            }
            match other {
                "mask" => Action::Mask,
                "hash" => Action::Hash,
                "generalize" => Action::Generalize,
                "deny" => Action::Deny,
                _ => {
                    return Err(PolicyError::invalid(
                        at,
                        format!(
                            "unknown action `{other}`; expected redact, mask, hash, generalize or deny"
                        ),
                    ));
                }
            }
        }
    };
    Ok(ColumnRule { matcher, action })
}

fn row_rule(raw: RawRowRule, domain: Option<&Name>, at: &str) -> Result<RowRule, PolicyError> {
    let table = TableRef::parse(&raw.table).map_err(|e| PolicyError::invalid(at, e.to_string()))?;
    in_domain(&table, domain, at)?;
    let filter = FilterTemplate::parse(&raw.filter).map_err(|e| PolicyError::invalid(at, e))?;
    let exempt = raw
        .exempt
        .map(|s| s.parse::<Sensitivity>())
        .transpose()
        .map_err(|e| PolicyError::invalid(at, e.to_string()))?;
    Ok(RowRule {
        table,
        filter,
        exempt,
    })
}

/// `domain.table.column` → the table and the column's SQL name.
fn column_path(raw: &str, at: &str) -> Result<(TableRef, String), PolicyError> {
    let Some((table, column)) = raw.rsplit_once('.') else {
        return Err(PolicyError::invalid(
            at,
            format!("column `{raw}` is not `domain.table.column`"),
        ));
    };
    let table = TableRef::parse(table).map_err(|e| PolicyError::invalid(at, e.to_string()))?;
    let column = Name::strict("column", column)
        .map_err(|e| PolicyError::invalid(at, e.to_string()))?
        .to_string();
    Ok((table, column))
}

fn in_domain(table: &TableRef, domain: Option<&Name>, at: &str) -> Result<(), PolicyError> {
    match domain {
        Some(d) if *d != table.domain => Err(PolicyError::invalid(
            at,
            format!("`{table}` is not in domain `{d}`: a domain's policy covers its own tables"),
        )),
        _ => Ok(()),
    }
}
