//! Errors of the converter. A bad row names file, line, column, value and reason.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::convert::options::ConvertOption;

/// A row that could not be converted, with everything needed to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Source file as given.
    pub source: Arc<str>,
    /// Physical line (1-based) where the record starts, or where an
    /// unterminated quote opened.
    pub line: u64,
    /// Column name, when one column is at fault.
    pub column: Option<String>,
    /// The value, when one is at fault: cut at 200 characters, bytes that
    /// are not text shown as `\xNN`.
    pub value: Option<String>,
    /// Why the row was refused.
    pub reason: String,
    /// The record's bytes, as read (after decompression and transcoding).
    pub record: Vec<u8>,
}

pub use pqstage_stage::fmt::group_digits;

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}", self.source, group_digits(self.line))?;
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        match &self.value {
            Some(v) => write!(f, ": value '{v}' {}", self.reason),
            None => write!(f, ": {}", self.reason),
        }
    }
}

/// Errors of `infer` and `convert`.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The first bad row, when rejects are not kept (nothing was written).
    #[error("{0}")]
    BadRow(Box<RowError>),
    /// More bad rows than the limit of rejects allows.
    #[error("{count} rows refused, more than the limit of {max}; nothing was written. First: {first}")]
    TooManyRejects {
        /// Rows refused so far.
        count: u64,
        /// The limit.
        max: u64,
        /// The first refused row.
        first: Box<RowError>,
    },
    /// An input file with no bytes.
    #[error("{0} is empty: expected a header line")]
    EmptyFile(String),
    /// A source that is not CSV text pqstage reads: an archive, a binary
    /// file, an unsupported encoding, a corrupt compressed stream.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What it is, or what is wrong with it.
        reason: String,
    },
    /// A header that is not valid text, or has no columns.
    #[error("{path} line {line}: {reason}")]
    BadHeader {
        /// The file.
        path: String,
        /// The header's line.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The same source given twice.
    #[error("{0}")]
    DuplicateSource(String),
    /// The header does not name the spec's columns.
    #[error("{path} line {line}: header does not match the spec: {reason}")]
    HeaderMismatch {
        /// The file.
        path: String,
        /// The header's line.
        line: u64,
        /// What differs.
        reason: String,
    },
    /// A quote that does not close before the record limit.
    #[error(
        "{path} line {line}: unterminated quoted field: the quote opened here does not close within {limit_mib} MiB"
    )]
    UnterminatedQuote {
        /// The file.
        path: String,
        /// Line where the quote opened.
        line: u64,
        /// The record size limit.
        limit_mib: u64,
    },
    /// A record with no line break (outside quotes) within the record limit.
    #[error(
        "{path} line {line}: a record longer than {limit_mib} MiB (no line break within {limit_mib} MiB of its start)"
    )]
    RecordTooLong {
        /// The file.
        path: String,
        /// Line where the record starts.
        line: u64,
        /// The record size limit.
        limit_mib: u64,
    },
    /// A setting out of its bounds, or malformed.
    #[error("{option}: {reason}")]
    Option {
        /// The setting.
        option: ConvertOption,
        /// What is wrong with it.
        reason: String,
    },
    /// No input files were given.
    #[error("no input files")]
    NoSources,
    /// A source with more columns than pqstage reads.
    #[error("{path}: more than {max} columns (PostgreSQL tables hold at most 1,600; split the file's columns first)")]
    TooManyColumns {
        /// The file.
        path: String,
        /// The limit.
        max: usize,
    },
    /// A spec problem.
    #[error("{0}")]
    Spec(#[from] pqstage_spec::SpecError),
    /// The stage failed.
    #[error("{0}")]
    Stage(#[from] pqstage_stage::StageError),
    /// The rows of a partition cannot be put in the order of its `cluster_by` column.
    #[error("ordering by cluster_by column {column}")]
    Cluster {
        /// The column.
        column: String,
        /// Why.
        #[source]
        source: ClusterRefusal,
    },
    /// Reading or writing a local file failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Parquet encoding failed (a bug or a full disk, not bad data).
    #[error("{context}")]
    Parquet {
        /// What was being written.
        context: String,
        /// Parquet's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An Arrow operation failed (a bug or a full disk, not bad data).
    #[error("{context}")]
    Arrow {
        /// What was being done.
        context: String,
        /// Arrow's error.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A trajectory session or episode that cannot be converted.
    #[error("{0}")]
    Trajectory(#[from] crate::trajectories::TrajectoryError),
    /// Two rows of the input have the same `[target] key`; nothing is committed.
    #[error(
        "duplicate key ({key}) in {partition}: {first} and {second} have it; a key must name one record \
         (fix the source, or change [target] key in the spec); nothing was written"
    )]
    DuplicateKey {
        /// The partition folder, e.g. `year=2001`.
        partition: String,
        /// `column=value, ...` of the key.
        key: String,
        /// Where the first row with it came from: `FILE line N`.
        first: String,
        /// Where the second did.
        second: String,
    },
    /// A merge or append that cannot build on the staged version, or input
    /// it refuses (an appended key already staged, a key both upserted and
    /// deleted); nothing is committed.
    #[error("{0}")]
    Mode(String),
    /// The previous version's files, read for its change sets, are missing or
    /// not what its manifest says.
    #[error("reading the dataset's previous version, to tell what changed: {0}")]
    PreviousVersion(pqstage_stage::verify::FileProblem),
    /// The manifest's counts do not reconcile (a bug: nothing is committed).
    #[error("reconciling counts")]
    Unreconciled(#[source] pqstage_stage::manifest::CountsDisagree),
}

/// Why a partition's rows cannot be put in the order of a column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterRefusal {
    /// More distinct values than buckets.
    #[error("more than {0} distinct values in one partition")]
    TooManyValues(usize),
    /// A type without an order here.
    #[error("cannot order Arrow type {0}")]
    Unordered(arrow_schema::DataType),
}

impl ConvertError {
    /// True when the data, not the system, was at fault (exit code 1 in the CLI).
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            Self::BadRow(_)
                | Self::TooManyRejects { .. }
                | Self::EmptyFile(_)
                | Self::Unreadable { .. }
                | Self::BadHeader { .. }
                | Self::DuplicateSource(_)
                | Self::HeaderMismatch { .. }
                | Self::UnterminatedQuote { .. }
                | Self::RecordTooLong { .. }
                | Self::TooManyColumns { .. }
                | Self::DuplicateKey { .. }
                | Self::Mode(_)
                | Self::Trajectory(_)
        )
    }

    /// Maps an I/O error on `path` while doing `op`.
    pub(crate) fn io<'p>(op: &'static str, path: &'p std::path::Path) -> impl FnOnce(std::io::Error) -> Self + 'p {
        move |source| Self::Io { op, path: path.to_path_buf(), source }
    }

    pub(crate) fn parquet(context: impl Into<String>) -> impl FnOnce(parquet::errors::ParquetError) -> Self {
        let context = context.into();
        move |source| Self::Parquet { context, source }
    }

    pub(crate) fn arrow(context: impl Into<String>, source: arrow_schema::ArrowError) -> Self {
        Self::Arrow { context: context.into(), source }
    }

    pub(crate) fn option(option: ConvertOption, reason: impl Into<String>) -> Self {
        Self::Option { option, reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_error_message_names_everything() {
        let e = RowError {
            source: "violations.csv".into(),
            line: 1_204_118,
            column: Some("nr_exposed".into()),
            value: Some("abc".into()),
            reason: "is not a valid int64".into(),
            record: Vec::new(),
        };
        assert_eq!(e.to_string(), "violations.csv line 1,204,118, column nr_exposed: value 'abc' is not a valid int64");
    }
}
