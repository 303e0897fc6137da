//! CSV → typed, partitioned Parquet: the converter of pqstage.
//!
//! [`convert::convert`] reads CSV sources with a [`pqstage_spec::Spec`],
//! parses on all cores with a quote-aware splitter, keeps or refuses bad rows
//! (each named by file, line, column, value and reason), and stages Hive-style
//! partitions (`year=1987/part-….parquet`) plus a manifest through
//! [`pqstage_stage::Stage`]. Output is deterministic: a partition's files
//! depend only on its rows and the spec. [`infer::infer`] writes a spec from
//! the data.
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
//! let opts = ConvertOptions::new(vec![data.join("good.csv")], "small", spec).with_jobs(2).build()?;
//! let summary = convert(&stage, rt.handle(), &opts)?;
//! let table = &summary.manifest.tables[0];
//! assert_eq!((table.rows_read, table.rows_written, table.rows_rejected), (5, 5, 0));
//! let years: Vec<&str> = table.partitions.iter().map(|p| p.path.as_str()).collect();
//! assert_eq!(years, ["year=1969", "year=2019", "year=2020", "year=__HIVE_DEFAULT_PARTITION__"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod chunk;
pub mod cluster;
pub mod columns;
pub mod convert;
pub mod dictionary;
pub mod direct;
pub mod encode;
pub mod error;
pub mod infer;
pub mod normalize;
pub mod parse;
pub mod plan;
pub mod rejects;
pub mod sink;
pub mod spill;
pub mod split;
pub mod tokenize;
pub mod write;

pub use convert::{convert, Codec, ConvertOptions, ConvertSummary, Progress};
pub use error::{ConvertError, RowError};
