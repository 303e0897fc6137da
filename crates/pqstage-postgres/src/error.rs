//! Errors of the PostgreSQL loader.

use std::path::PathBuf;

use postgres::error::SqlState;
use pqstage_load::LoadError;

use crate::EncodeError;

/// Errors of the PostgreSQL loader. Partitions committed before the error
/// stay loaded and recorded; the failing one is rolled back, leaving no
/// table behind. Errors from the server keep it as their source, so its
/// SQLSTATE is reachable ([`PgError::sqlstate`]).
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The server could not be reached.
    #[error("cannot reach PostgreSQL at {target}")]
    Unreachable {
        /// `host:port/database` (no password).
        target: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The server refused the role or its credentials.
    #[error("PostgreSQL at {target} refused user {user}")]
    Auth {
        /// `host:port/database`.
        target: String,
        /// The role.
        user: String,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// The connection URL does not parse.
    #[error("bad connection URL '{url}': use postgres://user[:password]@host[:port]/database")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// What every loader can meet: a conflicting table, a count that
    /// disagrees with the manifest, a bad staged file, the stage.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// A staged column the encoder cannot send.
    #[error("staged file {}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: EncodeError,
    },
    /// A statement failed.
    #[error("PostgreSQL: {what}")]
    Db {
        /// What was being done.
        what: String,
        /// The server's (or the driver's) error.
        #[source]
        source: postgres::Error,
    },
    /// Sending COPY data failed.
    #[error("PostgreSQL: {what}")]
    Send {
        /// What was being done.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl PgError {
    /// True when the data disagrees with its manifest (exit code 1).
    pub fn is_data_error(&self) -> bool {
        matches!(self, Self::Load(e) if e.is_data_error())
    }

    /// The server's SQLSTATE, when the server refused something.
    pub fn sqlstate(&self) -> Option<&SqlState> {
        match self {
            Self::Unreachable { source, .. } | Self::Auth { source, .. } | Self::Db { source, .. } => source.code(),
            _ => None,
        }
    }

    /// Maps a driver error while doing `what`.
    pub(crate) fn db(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> Self {
        let what = what.into();
        move |source| Self::Db { what, source }
    }
}
