//! The quality rules of a data contract (ODCS v3 `quality`), read and checked when the
//! contract is applied and evaluated over the batches of an ingest.
//!
//! Supported: `type: library` (the default) with the metrics `nullValues`, `missingValues`
//! (`arguments.missingValues`, default null and the empty string), `invalidValues`
//! (`arguments.validValues` and/or `arguments.pattern`), `duplicateValues` and `rowCount`, at
//! column level (all of them) or table level (`rowCount`, `duplicateValues` over
//! `arguments.properties`); `type: sql` (a query whose single value is compared, run by the
//! mesh as the product's owner); `type: custom` rules are kept and reported as not evaluated.
//! Each has one comparison (`mustBe`, `mustNotBe`, `mustBeGreaterThan`,
//! `mustBeGreaterOrEqualTo`, `mustBeLessThan`, `mustBeLessOrEqualTo`, `mustBeBetween`,
//! `mustNotBeBetween`; an `invalidValues` rule without one means `mustBe: 0`), a `unit` (`rows`, the default, or `percent`) and a `severity`:
//! `warning`/`warn`/`info`/`minor`/`low` (and no severity) let the batch in and open an
//! incident; `error`, `critical`, `fatal`, `blocker`, `major`, `high` send it to quarantine
//! whole. The contract's SLA `latency` and `frequency` become rules of the table their
//! `element` names (`sla.rs`).

mod evaluate;
mod parse;
mod sla;

pub use evaluate::{RuleEvaluation, RuleOutcome, RuleResult, frequency_verdict, sql_verdict};
pub use parse::{Band, Comparison, Metric, QualityRule, RuleKind, Scope, Severity, Unit, rules_of};
pub use sla::TimeUnit;
