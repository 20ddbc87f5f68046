//! The vocabulary of an Agora mesh, with no I/O.
//!
//! A mesh is made of **domains** (sales, logistics, …) that own **data products**. A product is
//! described by a **data contract** in the Open Data Contract Standard (ODCS v3) and stored as one
//! table per `schema` object of its contract. **Principals** read products through **grants**.
//!
//! Main entry points:
//! - [`Contract::from_yaml`] parses the documented ODCS subset and reports what it keeps but ignores;
//! - [`Name`] turns user-facing names (`my quantum`) into SQL identifiers (`my_quantum`);
//! - [`TableRef`] and [`GrantTarget`] name tables and grant targets as `domain.table`;
//! - [`Category`] and [`Sensitivity`] are the classification vocabulary (a clearance is a
//!   sensitivity level);
//! - [`ColumnTag`] is one source's classification of a column (the classifier's or an owner's);
//! - [`ColumnType`] maps ODCS `logicalType`/`physicalType` to Arrow types.
//!
//! ```
//! use agora_model::Contract;
//! let yaml = "apiVersion: v3.0.2\nkind: DataContract\nid: o1\nname: orders\nversion: 1.0.0\n\
//!             status: active\ndomain: sales\nschema:\n  - name: orders\n    properties:\n\
//!             \x20     - name: id\n        logicalType: integer\n        required: true\n";
//! let parsed = Contract::from_yaml(yaml).unwrap();
//! assert_eq!(parsed.contract.product_name().unwrap().as_str(), "orders");
//! assert_eq!(parsed.contract.tables().len(), 1);
//! ```

mod access;
mod column_type;
mod contract;
pub mod edge_batch;
mod error;
mod name;
mod odcs_reader;
mod sensitivity;
mod tag;

pub use access::{ADMIN, Access, Grant, GrantTarget, Principal};
pub use column_type::ColumnType;
pub use contract::{
    Contract, ContractColumn, ContractTable, Description, ParsedContract, SchemaChange, SemVer,
};
pub use error::ModelError;
pub use name::{Name, TableRef};
pub use sensitivity::{Category, Sensitivity};
pub use tag::{ColumnTag, TagSource};
