//! CSV → typed, partitioned Parquet: the converter of pqstage.
//!
//! [`convert::convert`] reads CSV sources with a [`pqstage_spec::Spec`],
//! parses on all cores with a quote-aware splitter, keeps or refuses bad rows
//! (each named by file, line, column, value and reason), and stages Hive-style
//! partitions (`year=1987/part-….parquet`) plus a manifest through
//! [`pqstage_stage::Stage`]. Output is deterministic: a partition's files
//! depend only on its rows and the spec. [`infer::infer`] writes a spec from
//! the data.

pub mod chunk;
pub mod columns;
pub mod convert;
pub mod error;
pub mod infer;
pub mod normalize;
pub mod parse;
pub mod plan;
pub mod rejects;
pub mod spill;
pub mod split;
pub mod tokenize;
pub mod write;

pub use convert::{convert, Codec, ConvertOptions, ConvertSummary, Progress};
pub use error::{ConvertError, RowError};
