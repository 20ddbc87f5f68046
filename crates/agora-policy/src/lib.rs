//! Every governance decision of a mesh, and its enforcement.
//!
//! **Labels** ([`labels`], [`table_labels`]): the classification a column is governed by, from
//! the contract's `classification`, the classifier's tags and owners' overrides, in that order
//! of precedence ([`ColumnLabel`] says which one decided).
//!
//! A **policy file** ([`PolicyDocument`], YAML) says what a reader sees of columns whose
//! sensitivity is above the reader's clearance — `redact`, `mask`, `hash`, `generalize` or
//! `deny`, chosen per category, sensitivity or column — and which rows of a table a reader sees
//! (row filters over principal attributes such as `region = principal.region`). There is one
//! global policy and at most one per domain; a [`PolicySet`] holds the ones in force and makes
//! the decisions for a reader (domain rules first, then global, then the default: hash
//! confidential and restricted data).
//!
//! **Enforcement** is a rewrite of the DataFusion logical plan: [`governed_provider`] turns a
//! table into a per-reader view of masked columns over filtered rows, inlined wherever a query
//! names the table, so every interface built on the governed query layer gives the same answer
//! and no SQL construct reaches the raw values. [`Masks`] builds the masking expressions; the
//! hash is an HMAC-SHA-256 keyed with a per-mesh secret, so equal values still join; the write
//! path stores it beside the columns a policy may hash ([`StoredHash`], chosen by
//! [`PolicySet::stored_hashes`], never shown to any reader), so reading a hashed column costs a
//! column read, not an HMAC per value. [`withhold_examples`] applies the same decisions to the
//! examples of a contract.
//!
//! ```
//! use agora_model::{Category, Principal, Sensitivity, TableRef};
//! use agora_policy::{Action, Label, PolicyDocument, PolicySet};
//! let doc = PolicyDocument::from_yaml(
//!     "policy.yaml",
//!     "kind: AgoraPolicy\ncolumns:\n  - category: email\n    action: mask\n",
//! ).unwrap();
//! let set = PolicySet::new([doc]).unwrap();
//! let mut bob = Principal::admin();
//! bob.is_admin = false;
//! bob.clearance = Sensitivity::Internal;
//! let email = Label { category: Category::Email, sensitivity: Sensitivity::Confidential };
//! let table = TableRef::parse("sales.customers").unwrap();
//! assert_eq!(set.column_action(&bob, &table, "email", email), Some(Action::Mask));
//! ```

mod contract_view;
mod document;
mod error;
mod governed_view;
mod labels;
mod masks;
mod policy_set;
mod row_barrier;
mod row_filter;
mod stored_hash;

pub use contract_view::withhold_examples;
pub use document::{Action, ColumnRule, Matcher, POLICY_KIND, PolicyDocument, RowRule};
pub use error::PolicyError;
pub use governed_view::{TableGovernance, check_row_filter, denied_columns, governed_provider};
pub use labels::{
    ColumnLabel, Label, Labels, SUGGESTION_BELOW, TableLabels, is_suggestion, labels,
    labels_protecting_most, table_labels,
};
pub use masks::{MaskKey, Masks};
pub use policy_set::{PolicySet, TOKENS_WITHHELD};
pub use row_filter::FilterTemplate;
pub use stored_hash::StoredHash;
