//! Connecting as libpq does: a connection string (URL or `key=value`), a
//! service file, the `PG*` environment variables and the password file, in
//! libpq's order; TLS with libpq's `sslmode` meanings; and errors that say
//! which server refused, which check failed and why, never the password.
//!
//! The settings are resolved once per load ([`Settings::resolve`]) and every
//! connection of the load (the control one, each `--jobs` worker) is opened
//! from them ([`connect`]).

mod conninfo;
mod files;
mod resolve;
mod tls;

use std::path::PathBuf;

use postgres::config::SslMode as DriverSsl;

pub use conninfo::Origin;
pub use tls::end_point_hash;
use tls::{MakeRustls, Roots};

use crate::error::PgError;
use crate::sql::LOAD;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; TLS if the server insists.
    Allow,
    /// TLS if the server offers it, else plaintext (the default).
    Prefer,
    /// TLS, the server's certificate checked only if a root certificate
    /// file exists (as libpq does).
    Require,
    /// TLS, the certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A connection setting that cannot be used. Messages never include a
/// password, nor a URL that could hold one.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The connection string does not parse.
    #[error("bad connection string: {reason}")]
    Syntax {
        /// What is wrong, and where.
        reason: String,
    },
    /// A parameter libpq does not have.
    #[error("unknown connection parameter '{name}' in {origin} (known: {})", conninfo::accepted())]
    UnknownParameter {
        /// The parameter.
        name: String,
        /// Where it was set.
        origin: Origin,
    },
    /// A libpq parameter pqstage does not honour.
    #[error("connection parameter '{name}' (in {origin}) is not supported: {why}")]
    Unsupported {
        /// The parameter.
        name: String,
        /// Where it was set.
        origin: Origin,
        /// Why, and what to do instead.
        why: String,
    },
    /// A value out of its parameter's range.
    #[error("connection parameter {name}='{value}' (in {origin}): expected {expected}")]
    BadValue {
        /// The parameter.
        name: &'static str,
        /// The value as given.
        value: String,
        /// Where it was set.
        origin: Origin,
        /// What is allowed.
        expected: String,
    },
    /// A certificate or key file that cannot be used.
    #[error("{param} {}: {reason}", path.display())]
    File {
        /// The parameter naming the file.
        param: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS setting rustls refuses.
    #[error("TLS settings: {reason}")]
    Tls {
        /// Why.
        reason: String,
    },
    /// `service=` names a service no service file defines.
    #[error("service '{name}' is not defined in any service file (searched: {searched})")]
    NoService {
        /// The service.
        name: String,
        /// The files searched.
        searched: String,
    },
}

/// How one load connects: the driver's configuration and the TLS to use,
/// resolved once and shared by every connection of the load.
#[derive(Debug, Clone)]
pub struct Settings {
    config: postgres::Config,
    ssl: SslMode,
    tls: Option<MakeRustls>,
    roots: Roots,
    /// Why the password file was not used, for an authentication failure.
    passfile_note: Option<String>,
}

impl Settings {
    /// Resolves `db` (a URL or `key=value` pairs; `None`: only the
    /// environment) as libpq does, reading the process's environment.
    ///
    /// # Errors
    /// [`PgError::Settings`] when a setting cannot be used.
    pub fn resolve(db: Option<&str>) -> Result<Self, PgError> {
        Self::resolve_with(db, &|k| std::env::var(k).ok())
    }

    /// As [`Settings::resolve`], with the environment given as a function
    /// (for tests).
    ///
    /// # Errors
    /// [`PgError::Settings`] when a setting cannot be used.
    pub fn resolve_with(db: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, PgError> {
        Ok(resolve::build(db, env)?)
    }

    /// The driver's configuration (the password stays inside it; its
    /// `Debug` redacts it).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The `sslmode` in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl
    }

    /// Where the connection goes, for messages: `host:port/database`.
    pub fn describe(&self) -> String {
        describe(&self.config)
    }
}

/// Where a configuration points, for messages (never the password):
/// `host:port/database`, hosts separated by commas.
pub fn describe(c: &postgres::Config) -> String {
    let ports = c.get_ports();
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_string() } else { hosts.join(",") };
    format!("{hosts}/{}", c.get_dbname().unwrap_or(""))
}

/// Connects with the load's settings. As libpq does, `allow` tries plaintext
/// first and TLS when the server refuses it; `prefer` tries TLS first and
/// plaintext when the server has none or the TLS handshake fails.
///
/// # Errors
/// [`PgError::Auth`] when the server refuses the role or its credentials
/// (SQLSTATE class 28), [`PgError::Tls`] when TLS fails (naming the check),
/// [`PgError::Db`] when it refuses the session for another reason (too
/// many connections, no such database), else [`PgError::Unreachable`].
pub fn connect(s: &Settings) -> Result<postgres::Client, PgError> {
    let result = match (&s.tls, s.ssl) {
        (Some(tls), SslMode::Allow) => match s.config.connect(postgres::NoTls) {
            Err(e) if e.code().is_some_and(|c| c.code() == "28000") => {
                let mut c = s.config.clone();
                c.ssl_mode(DriverSsl::Require);
                c.connect(tls.clone())
            }
            other => other,
        },
        (Some(tls), SslMode::Prefer) => match s.config.connect(tls.clone()) {
            // The handshake failed, or the server refused the session over
            // TLS (pg_hba.conf has no hostssl line for it): plaintext.
            Err(e) if tls_failure(s, &e).is_some() || e.code().is_some_and(|c| c.code() == "28000") => {
                let mut c = s.config.clone();
                c.ssl_mode(DriverSsl::Disable);
                c.connect(postgres::NoTls)
            }
            other => other,
        },
        (Some(tls), _) => s.config.connect(tls.clone()),
        (None, _) => s.config.connect(postgres::NoTls),
    };
    result.map_err(|source| connect_error(s, source))
}

fn connect_error(s: &Settings, source: postgres::Error) -> PgError {
    let target = describe(&s.config);
    let user = s.config.get_user().unwrap_or("").to_string();
    let ignored = s.passfile_note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    if source.code().is_some_and(|c| c.code().starts_with("28")) {
        return PgError::Auth { target, user, note: ignored, source };
    }
    // The driver's words when the server asks for a password it was not given.
    if std::error::Error::source(&source).is_some_and(|c| c.to_string() == "password missing") {
        let note = match &s.passfile_note {
            Some(why) => format!(": the server asks for a password and none was given; {why}"),
            None => ": the server asks for a password and none was given (in the connection string, PGPASSWORD \
                      or the password file)"
                .to_string(),
        };
        return PgError::Auth { target, user, note, source };
    }
    match tls_failure(s, &source) {
        Some(check) => PgError::Tls { target, check, source },
        // The server answered, and refused the session for another reason
        // (too many connections, no such database, shutting down).
        None if source.as_db_error().is_some() => PgError::Db { what: format!("connect to {target}"), source },
        None => PgError::Unreachable { target, source },
    }
}

/// Which TLS check failed, in words, if TLS is what failed.
fn tls_failure(s: &Settings, e: &postgres::Error) -> Option<String> {
    use rustls::{AlertDescription, CertificateError as C, Error as R};
    let mode = s.ssl.as_str();
    let roots = match &s.roots {
        Roots::File(f) => format!("sslrootcert {}", f.display()),
        Roots::System => "the system's trusted CAs".to_string(),
        Roots::None => "no roots".to_string(),
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        let rustls_err = err
            .downcast_ref::<R>()
            .or_else(|| err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()?.downcast_ref::<R>()));
        if let Some(r) = rustls_err {
            return Some(match r {
                R::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
                    "the server's certificate is not signed by a CA in {roots} (sslmode={mode} checks the chain)"
                ),
                R::InvalidCertificate(C::NotValidForNameContext { expected, presented }) => format!(
                    "the server's certificate is for {}, not for host '{}' (sslmode=verify-full checks the host name; connect by a name the certificate lists, or use sslmode=verify-ca)",
                    presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", "),
                    expected.to_str()
                ),
                R::InvalidCertificate(C::NotValidForName) => {
                    "the server's certificate does not name the host (sslmode=verify-full checks the host name)"
                        .to_string()
                }
                R::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
                    "the server's certificate has expired".to_string()
                }
                R::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
                    "the server's certificate is not valid yet (check the clocks)".to_string()
                }
                R::AlertReceived(
                    AlertDescription::CertificateRequired
                    | AlertDescription::BadCertificate
                    | AlertDescription::UnknownCA
                    | AlertDescription::CertificateUnknown,
                ) => "the server refused the client certificate (sslcert, sslkey)".to_string(),
                other => format!("the TLS handshake failed: {other}"),
            });
        }
        if err.to_string().contains("server does not support TLS") {
            return Some(format!(
                "the server does not offer TLS, and sslmode={mode} requires it (use sslmode=prefer or disable only for a server on a trusted network)"
            ));
        }
        cause = err.source();
    }
    None
}

/// A certificate name as webpki reports it (`DnsName("db.example.com")`,
/// `IpAddress(10.0.0.1)`), without the wrapper.
fn plain_name(n: &str) -> &str {
    n.strip_prefix("DnsName(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .or_else(|| n.strip_prefix("IpAddress(").and_then(|s| s.strip_suffix(')')))
        .unwrap_or(n)
}

/// A worker's connection, set up for loading one partition at a time (see
/// `configure_worker` in `sql/postgres/load.sql`).
///
/// # Errors
/// As [`connect`], and [`PgError::Db`] when the settings are refused.
pub fn worker_connection(s: &Settings) -> Result<postgres::Client, PgError> {
    let mut client = connect(s)?;
    client.batch_execute(LOAD.configure_worker).map_err(PgError::db("configure the session"))?;
    Ok(client)
}
