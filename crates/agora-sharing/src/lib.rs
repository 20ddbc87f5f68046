//! The Delta Sharing protocol as Agora speaks it
//! (<https://github.com/delta-io/delta-sharing/blob/main/PROTOCOL.md>): the JSON a sharing
//! server answers ([`protocol`]) in the format a client asks for ([`response_format`]), the
//! profile file a recipient loads into its client ([`profile`]), the parameters of a table query ([`query`]), page tokens of the list calls
//! ([`pages`]), and the pre-signed, expiring URLs through which a recipient fetches data files
//! from Agora itself ([`file_urls`]).
//!
//! Nothing here reads the mesh: the mesh decides what a recipient sees, this crate says it in
//! the protocol's words.

pub mod file_urls;
pub mod pages;
pub mod profile;
pub mod protocol;
pub mod query;
pub mod response_format;

pub use file_urls::{FileTicket, TicketError, UrlSigner};
pub use pages::{Page, PageError, PageRequest};
pub use profile::Profile;
pub use query::{Bound, ChangesRequest, ParameterError, QueryRequest, Snapshot};
pub use response_format::ResponseFormat;
