//! PostgreSQL side of pqstage: the binary COPY encoder, and the PostgreSQL
//! engine of the loader core (`pqstage load postgres`).
//!
//! - [`encode`]: Arrow record batches straight into `COPY … FROM STDIN
//!   (FORMAT binary)` tuples, with no text round trip;
//! - [`read`]: a staged Parquet file's batches, one at a time;
//! - [`connect`]: the connection settings and errors that say who refused;
//! - [`types`]: spec types and names as PostgreSQL spells them;
//! - [`load()`]: each year loaded into its own partition, on several connections.

pub mod connect;
pub mod encode;
mod error;
mod load;
mod numeric;
pub mod read;
mod sql;
pub mod summaries;
pub mod trajectories;
pub mod types;

pub use encode::{encode_batch, Constant, EncodeError, HEADER, TRAILER};
pub use error::PgError;
pub use load::{load, PgOptions, Upsert, KEYED_FILLFACTOR};
