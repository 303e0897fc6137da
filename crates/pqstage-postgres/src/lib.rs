//! PostgreSQL side of pqstage.
//!
//! The binary COPY encoder turns the Arrow record batches read from staged
//! Parquet straight into `COPY … FROM STDIN (FORMAT binary)` tuples, with no
//! text round trip; the loader (`pqstage load postgres`) loads each year into
//! its own partition with it.

pub mod encode;
mod error;
pub mod load;
mod numeric;

pub use encode::{encode_batch, Constant, EncodeError, HEADER, TRAILER};
pub use error::PgError;
pub use load::{load, LoadOptions, LoadReport, Progress};
pub use pqstage_stage::plan::{Action, PartitionReport};
