//! End-to-end tests of the `agora` binary: real processes, real Delta tables, a real SQLite
//! catalog, and for the server a real `psql` and HTTP client.

mod cli_flow;
mod errors;
mod governance;
mod harness;
mod ledger;
mod lineage;
mod server;
mod witness;
