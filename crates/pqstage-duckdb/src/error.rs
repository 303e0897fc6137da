//! Errors of the DuckDB loader.

use std::path::PathBuf;

/// Errors of the DuckDB loader. On any of them nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum DuckdbError {
    /// Another process has the database file open.
    #[error("DuckDB file {} is in use by another process; close it (or its DuckDB shell) and retry\n  ({detail})", db.display())]
    Locked {
        /// The database file.
        db: PathBuf,
        /// DuckDB's own message (names the holder's PID).
        detail: String,
    },
    /// The database file could not be opened.
    #[error("cannot open DuckDB file {}", db.display())]
    Open {
        /// The database file.
        db: PathBuf,
        /// DuckDB's error.
        #[source]
        source: duckdb::Error,
    },
    /// A database to read does not exist.
    #[error("no DuckDB file at {}; run `pqstage load duckdb` first", .0.display())]
    NoDatabase(PathBuf),
    /// The stage (or the local cache of a remote one) failed.
    #[error(transparent)]
    Stage(#[from] pqstage_stage::StageError),
    /// `--table` is not `name` or `schema.name`.
    #[error("bad table name '{0}': use NAME or SCHEMA.NAME")]
    BadTableName(String),
    /// The manifest has several tables and none has the target's name.
    #[error("dataset {dataset} has several tables ({}); name one with --table", tables.join(", "))]
    WhichTable {
        /// The dataset.
        dataset: String,
        /// Its tables.
        tables: Vec<String>,
    },
    /// `--years` was given for an unpartitioned table.
    #[error("table {0} is not partitioned; --years does not apply")]
    NotPartitioned(String),
    /// `--years` named a partition that is neither staged nor loaded.
    #[error("--years: {partition} is not a partition of {dataset}, nor loaded in the table")]
    NoSuchPartition {
        /// The partition asked for.
        partition: String,
        /// The dataset.
        dataset: String,
    },
    /// The existing table's columns are not the spec's.
    #[error(
        "table {table} conflicts with the staged spec at column {column}: {reason}; \
         drop the table (DROP TABLE {table}) or load into another --table"
    )]
    Conflict {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// How they differ.
        reason: String,
    },
    /// A staged file is missing, differs from the manifest, or does not read.
    #[error(transparent)]
    File(#[from] pqstage_stage::verify::FileProblem),
    /// DuckDB failed while reading the staged Parquet.
    #[error("reading the staged Parquet failed: {0}")]
    Read(String),
    /// Rows in the table disagree with the manifest after the load.
    #[error("{table}: partition {partition} holds {actual} rows after the load, the manifest says {expected}; nothing was committed")]
    CountMismatch {
        /// The table.
        table: String,
        /// The partition.
        partition: String,
        /// Rows per the manifest.
        expected: u64,
        /// Rows in the table.
        actual: u64,
    },
    /// A statement failed.
    #[error("DuckDB: {what}")]
    Sql {
        /// What was being done.
        what: &'static str,
        /// DuckDB's error.
        #[source]
        source: duckdb::Error,
    },
    /// A local file operation failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl DuckdbError {
    pub(crate) fn sql(what: &'static str, source: duckdb::Error) -> Self {
        Self::Sql { what, source }
    }

    pub(crate) fn read(source: duckdb::Error) -> Self {
        Self::Read(source.to_string())
    }

    /// True when the data disagrees with its manifest (exit code 1), as
    /// opposed to usage and system errors.
    pub fn is_data_error(&self) -> bool {
        matches!(self, Self::CountMismatch { .. })
    }
}
