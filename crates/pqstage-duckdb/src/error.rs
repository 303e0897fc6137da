//! Errors of the DuckDB loader.

use std::path::PathBuf;

use pqstage_load::LoadError;

/// Errors of the DuckDB loader. On any of them nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum DuckdbError {
    /// Another process has the database file open.
    #[error("DuckDB file {} is in use by another process", db.display())]
    Locked {
        /// The database file.
        db: PathBuf,
        /// DuckDB's error (it names the holder's PID).
        #[source]
        source: duckdb::Error,
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
    #[error("no DuckDB file at {}", .0.display())]
    NoDatabase(PathBuf),
    /// What every loader can meet: a conflicting table, a count that
    /// disagrees with the manifest, a bad staged file, the stage.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// DuckDB failed while reading the staged Parquet.
    #[error("reading the staged Parquet failed")]
    Read {
        /// DuckDB's error.
        #[source]
        source: duckdb::Error,
    },
    /// A trajectory episode or session the target cannot take as staged.
    #[error("{0}")]
    Trajectory(String),
    /// Something the target holds or the spec asks stops the work (a
    /// relation in the way of a summary, an unknown set of summaries).
    #[error("{0}")]
    Refused(String),
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
    pub(crate) fn sql(what: &'static str) -> impl FnOnce(duckdb::Error) -> Self {
        move |source| Self::Sql { what, source }
    }

    /// True when the data disagrees with its manifest (exit code 1), as
    /// opposed to usage and system errors.
    pub fn is_data_error(&self) -> bool {
        matches!(self, Self::Load(e) if e.is_data_error()) || matches!(self, Self::Trajectory(_))
    }
}
