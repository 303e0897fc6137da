//! CSV → typed, partitioned Parquet: the converter of pqstage.
//!
//! [`convert()`] reads CSV sources with a [`pqstage_spec::Spec`], parses on
//! all cores with a quote-aware splitter, keeps or refuses bad rows (each
//! named by file, line, column, value and reason), and stages Hive-style
//! partitions (`year=1987/part-….parquet`) plus a manifest through
//! [`pqstage_stage::Stage`]. Output is deterministic: a partition's files
//! depend only on its rows and the spec. [`infer()`] writes a spec from the
//! data.
//!
//! Inside, the converter is laid out as its phases:
//!
//! - `read`: phase one's reading — sources cut into chunks, tokenized,
//!   typed into Arrow columns, grouped by partition; derived columns;
//! - `spill`: the per-partition scratch files between the phases, and
//!   their reordering by `cluster_by`;
//! - `write`: phase two's writing — our own Parquet column encoder
//!   (dictionaries, pages, levels, statistics, compression), the files
//!   being written and the refused rows;
//! - `convert`: the two phases run in order, and the manifest committed;
//!   `layout`: the spec's schemas, which both phases read; `direct`:
//!   direct I/O for scratch and staged files.
//!
//! ```
//! use pqstage_convert::{convert, ConvertOptions};
//! use pqstage_spec::Spec;
//! use pqstage_stage::Stage;
//!
//! let data = std::path::Path::new("../../tests/data");
//! let spec = Spec::from_toml(&std::fs::read_to_string(data.join("small.toml"))?)?;
//! let stage = Stage::open("memory://doc")?;
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! let opts = ConvertOptions::builder(vec![data.join("good.csv")], "small", spec).with_jobs(2).build()?;
//! let summary = convert(&stage, rt.handle(), &opts)?;
//! let table = &summary.manifest.tables[0];
//! assert_eq!((table.rows_read, table.rows_written, table.rows_rejected), (5, 5, 0));
//! let years: Vec<&str> = table.partitions.iter().map(|p| p.path.as_str()).collect();
//! assert_eq!(years, ["year=1969", "year=2019", "year=2020", "year=__HIVE_DEFAULT_PARTITION__"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod changes;
mod convert;
mod direct;
mod error;
mod infer;
mod keys;
mod layout;
mod read;
mod spill;
pub mod trajectories;
mod write;

pub use convert::{
    convert, Codec, ConvertOption, ConvertOptions, ConvertOptionsBuilder, ConvertSummary, Mode, CHUNK_BYTES,
    DEFAULT_CHUNK_BYTES, DEFAULT_FILE_BYTES, DEFAULT_KEEP_VERSIONS, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL,
    MAX_JOBS, MAX_ROW_GROUP_ROWS,
};
pub use error::{group_digits, ClusterRefusal, ConvertError, RowError};
pub use infer::{finish_spec, infer, HeaderChoice, InferOptions};
pub use read::derive::normalize::normalize_name;

/// Internals for the benchmarks (`cargo bench`, feature `hooks`): not a
/// stable interface.
#[cfg(feature = "hooks")]
pub mod hooks {
    pub use crate::layout::Layout;
    pub use crate::read::chunk::{process, Chunk};
    pub use crate::read::derive::derive;
    pub use crate::read::split::last_boundary;
    pub use crate::read::tokenize::Table;
    pub use crate::read::Dialect;
    pub use crate::write::choice::choose_dictionaries;
    pub use crate::write::encode::{column_kinds, ColumnEncoder, Kind, PAGE_ROWS};
}
