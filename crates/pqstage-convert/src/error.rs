//! Errors of the converter. A bad row names file, line, column, value and reason.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The raw value (lossy UTF-8, cut at 200 characters), when one is at fault.
    pub value: Option<String>,
    /// Why the row was refused.
    pub reason: String,
    /// The raw record (lossy UTF-8).
    pub record: String,
}

/// Digits with thousands separators: 1,204,118.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
    /// The first bad row, when rejects are not kept.
    #[error("{0}\n(nothing was written; rerun with --rejects to keep bad rows under _rejects/ and go on)")]
    BadRow(Box<RowError>),
    /// More bad rows than `--max-rejects` allows.
    #[error("{count} rows refused, more than --max-rejects {max}; nothing was written. First: {first}")]
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
    /// An input file with a header and no rows.
    #[error("{0} has a header but no data rows")]
    HeaderOnly(String),
    /// The header does not name the spec's columns.
    #[error("{path}: header does not match the spec: {reason}")]
    HeaderMismatch {
        /// The file.
        path: String,
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
    /// Invalid options.
    #[error("{0}")]
    Options(String),
    /// A spec problem.
    #[error(transparent)]
    Spec(#[from] pqstage_spec::SpecError),
    /// The stage failed.
    #[error(transparent)]
    Stage(#[from] pqstage_stage::StageError),
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
    /// Arrow or Parquet encoding failed (a bug or a full disk, not bad data).
    #[error("{context}: {message}")]
    Encode {
        /// What was being written.
        context: String,
        /// The library's message.
        message: String,
    },
}

impl ConvertError {
    /// True when the data, not the system, was at fault (exit code 1 in the CLI).
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            Self::BadRow(_)
                | Self::TooManyRejects { .. }
                | Self::EmptyFile(_)
                | Self::HeaderOnly(_)
                | Self::HeaderMismatch { .. }
                | Self::UnterminatedQuote { .. }
        )
    }

    /// Maps an I/O error on `path` while doing `op`.
    pub(crate) fn io<'p>(op: &'static str, path: &'p std::path::Path) -> impl FnOnce(std::io::Error) -> Self + 'p {
        move |source| Self::Io { op, path: path.to_path_buf(), source }
    }

    pub(crate) fn encode(context: impl Into<String>, e: impl fmt::Display) -> Self {
        Self::Encode { context: context.into(), message: e.to_string() }
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
            record: String::new(),
        };
        assert_eq!(e.to_string(), "violations.csv line 1,204,118, column nr_exposed: value 'abc' is not a valid int64");
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
    }
}
