//! End-to-end tests of the `agora` binary: real processes, real Delta tables, a real SQLite
//! catalog, and for the server a real `psql` and HTTP client.

mod cli_flow;
mod clients;
mod corrections;
mod crashes;
mod errors;
mod events;
mod forecast;
mod governance;
mod harness;
mod hostile_input;
mod leaks;
mod ledger;
mod lifecycle;
mod lineage;
mod openapi;
mod pg_protocol;
mod principals;
mod quality;
mod readmission;
mod server;
mod sharing;
mod witness;
