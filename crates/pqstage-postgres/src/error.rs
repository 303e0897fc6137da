//! Errors of the PostgreSQL loader.

use std::path::PathBuf;

use postgres::error::SqlState;
use pqstage_load::LoadError;

use crate::connect::SettingsError;
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
    #[error("PostgreSQL at {target} refused user {user}{note}")]
    Auth {
        /// `host:port/database`.
        target: String,
        /// The role.
        user: String,
        /// Why the password file was not used, if it was not (else empty).
        note: String,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// TLS could not be set up, or a check of `sslmode` failed.
    #[error("TLS to PostgreSQL at {target} failed: {check}")]
    Tls {
        /// `host:port/database`.
        target: String,
        /// The check that failed, in words.
        check: String,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },
    /// The connection settings cannot be used (the message never shows a
    /// password).
    #[error(transparent)]
    Settings(#[from] SettingsError),
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
    /// The loading role lacks a privilege the load needs.
    #[error("PostgreSQL: {what}: role {role} lacks {needs}")]
    Privilege {
        /// What was being done.
        what: String,
        /// The role.
        role: String,
        /// The privilege, and on what.
        needs: String,
        /// A statement an administrator can run to grant it.
        grant: String,
        /// The server's error.
        #[source]
        source: postgres::Error,
    },
    /// A trajectory episode the target cannot take (a value its lookup
    /// tables do not define).
    #[error("{0}")]
    Refused(String),
    /// Something in the target stands in the way (a relation of a summary's
    /// name that pqstage did not make) or is missing (no summaries to
    /// print): exit 2, as a table that conflicts with the spec.
    #[error("{0}")]
    Conflict(String),
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
        matches!(self, Self::Load(e) if e.is_data_error()) || matches!(self, Self::Refused(_))
    }

    /// The server's SQLSTATE, when the server refused something.
    pub fn sqlstate(&self) -> Option<&SqlState> {
        match self {
            Self::Unreachable { source, .. }
            | Self::Auth { source, .. }
            | Self::Tls { source, .. }
            | Self::Privilege { source, .. }
            | Self::Db { source, .. } => source.code(),
            _ => None,
        }
    }

    /// A statement refused for want of a privilege (SQLSTATE 42501) becomes
    /// [`PgError::Privilege`], naming what `role` lacks and the grant that
    /// gives it; other errors are returned as they are.
    /// `schema` is the target table's: a table the server names without its
    /// schema is in it (except `load_state`, in `pqstage`).
    pub(crate) fn with_role(self, role: &str, schema: &str) -> Self {
        let Self::Db { what, source } = self else { return self };
        let Some(db) = source.as_db_error().filter(|d| *d.code() == SqlState::INSUFFICIENT_PRIVILEGE) else {
            return Self::Db { what, source };
        };
        let (needs, grant) = privilege_needed(db.message(), role, schema);
        Self::Privilege { what, role: role.to_string(), needs, grant, source }
    }

    /// Maps a driver error while doing `what`.
    pub(crate) fn db(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> Self {
        let what = what.into();
        move |source| Self::Db { what, source }
    }
}

/// What a "permission denied" message says is missing, and the statement
/// that grants it. The object's name is taken from the server's message.
fn privilege_needed(message: &str, role: &str, target_schema: &str) -> (String, String) {
    let role = ident(role);
    let qualified = |name: &str| {
        let schema = if name == "load_state" { "pqstage" } else { target_schema };
        format!("{}.{}", ident(schema), ident(name))
    };
    if let Some(schema) = message.strip_prefix("permission denied for schema ") {
        let schema = ident(schema);
        return (
            format!("USAGE and CREATE on schema {schema}"),
            format!("GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}"),
        );
    }
    if let Some(db) = message.strip_prefix("permission denied for database ") {
        return (
            format!("CREATE on database {db}, needed to create a missing schema"),
            format!("CREATE SCHEMA <schema> AUTHORIZATION {role} (or GRANT CREATE ON DATABASE {db} TO {role})"),
        );
    }
    if let Some(table) =
        message.strip_prefix("must be owner of table ").or_else(|| message.strip_prefix("must be owner of relation "))
    {
        let table = qualified(table);
        return (format!("ownership of table {table}"), format!("ALTER TABLE {table} OWNER TO {role}"));
    }
    if let Some(table) = message.strip_prefix("permission denied for table ") {
        let table = qualified(table);
        return (
            format!("SELECT, INSERT, UPDATE and DELETE on table {table}"),
            format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}"),
        );
    }
    (format!("a privilege (\"{message}\")"), "see the README's \"The loading role\"".to_string())
}

/// An identifier as a person would type it: bare when it needs no quotes.
fn ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        pqstage_load::sql::quote_ident(name)
    }
}

#[cfg(test)]
mod tests {
    use super::privilege_needed;

    #[test]
    fn permission_messages_become_grants() {
        let (needs, grant) = privilege_needed("permission denied for schema public", "loader", "public");
        assert_eq!(needs, "USAGE and CREATE on schema public");
        assert_eq!(grant, "GRANT USAGE, CREATE ON SCHEMA public TO loader");
        let (_, grant) = privilege_needed("permission denied for schema Sales", "loader", "Sales");
        assert_eq!(grant, "GRANT USAGE, CREATE ON SCHEMA \"Sales\" TO loader");
        let (needs, grant) = privilege_needed("must be owner of table violations", "Loader", "warehouse");
        assert_eq!(needs, "ownership of table warehouse.violations");
        assert_eq!(grant, "ALTER TABLE warehouse.violations OWNER TO \"Loader\"");
        let (_, grant) = privilege_needed("permission denied for table load_state", "l", "warehouse");
        assert_eq!(grant, "GRANT SELECT, INSERT, UPDATE, DELETE ON pqstage.load_state TO l");
        let (needs, _) = privilege_needed("permission denied to create extension", "l", "public");
        assert!(needs.contains("permission denied to create extension"), "{needs}");
    }
}
