//! PostgreSQL side of pqstage.
//!
//! Today: the binary COPY encoder, which turns the Arrow record batches read
//! from staged Parquet straight into `COPY … FROM STDIN (FORMAT binary)`
//! tuples, with no text round trip. The loader (`pqstage load postgres`)
//! builds on it.

pub mod encode;
mod numeric;

pub use encode::{encode_batch, Constant, EncodeError, HEADER, TRAILER};
