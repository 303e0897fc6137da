//! Errors of the PostgreSQL loader.

use std::path::PathBuf;

use crate::EncodeError;

/// Errors of the PostgreSQL loader. Partitions committed before the error stay
/// loaded and recorded; the failing one is rolled back, leaving no table behind.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server could not be reached.
    #[error("cannot reach PostgreSQL at {target}: {detail}")]
    Unreachable {
        /// host:port/database (no password).
        target: String,
        /// Why.
        detail: String,
    },
    /// The server refused the credentials.
    #[error("PostgreSQL at {target} refused user {user}: {detail}")]
    Auth {
        /// host:port/database.
        target: String,
        /// The user.
        user: String,
        /// The server's message.
        detail: String,
    },
    /// `--db` is not a valid connection URL.
    #[error("bad --db '{0}': use postgres://user[:password]@host[:port]/database")]
    BadUrl(String),
    /// The stage (or the local cache of a remote one) failed.
    #[error(transparent)]
    Stage(#[from] pqstage_stage::StageError),
    /// The dataset has no partition column.
    #[error("table {0} is not partitioned; load postgres loads year-partitioned datasets")]
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
         drop the table or load into another --table"
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
    /// A column the encoder cannot map.
    #[error("staged file {}: {source}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: EncodeError,
    },
    /// Rows copied disagree with the manifest.
    #[error("{table}: partition {partition} received {actual} rows, the manifest says {expected}; it was rolled back")]
    CountMismatch {
        /// The table.
        table: String,
        /// The partition.
        partition: String,
        /// Rows per the manifest.
        expected: u64,
        /// Rows COPY reported.
        actual: u64,
    },
    /// A statement failed.
    #[error("PostgreSQL: {what}: {detail}")]
    Sql {
        /// What was being done.
        what: String,
        /// The server's (or the client's) message.
        detail: String,
    },
}

impl PgError {
    /// True when the data disagrees with its manifest (exit code 1).
    pub fn is_data_error(&self) -> bool {
        matches!(self, Self::CountMismatch { .. })
    }

    pub(crate) fn sql(what: impl Into<String>, e: &postgres::Error) -> Self {
        let detail = match e.as_db_error() {
            Some(db) => match db.detail() {
                Some(d) => format!("{} ({d})", db.message()),
                None => db.message().to_string(),
            },
            None => e.to_string(),
        };
        Self::Sql { what: what.into(), detail }
    }
}
