//! Connecting: the settings from a URL or libpq's environment variables,
//! and errors that say which server refused and why (never the password).

use crate::error::PgError;
use crate::sql::LOAD;

/// The connection settings: the URL, or libpq's environment variables
/// (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`).
///
/// # Errors
/// [`PgError::BadUrl`] when `db` does not parse.
pub fn config(db: Option<&str>) -> Result<postgres::Config, PgError> {
    if let Some(url) = db {
        return url.parse().map_err(|source| PgError::BadUrl { url: url.to_string(), source });
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut c = postgres::Config::new();
    let user = env("PGUSER").or_else(|| env("USER")).unwrap_or_else(|| "postgres".into());
    c.host(&env("PGHOST").unwrap_or_else(|| "/var/run/postgresql".into()));
    c.port(env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432));
    c.dbname(&env("PGDATABASE").unwrap_or_else(|| user.clone()));
    c.user(&user);
    if let Some(p) = env("PGPASSWORD") {
        c.password(p);
    }
    c.application_name(&env("PGAPPNAME").unwrap_or_else(|| "pqstage".into()));
    Ok(c)
}

/// Where a configuration points, for messages (never the password):
/// `host:port/database`.
pub fn describe(c: &postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or(""))
}

/// Connects.
///
/// # Errors
/// [`PgError::Auth`] when the server refuses the role or its credentials
/// (SQLSTATE class 28), else [`PgError::Unreachable`].
pub fn connect(c: &postgres::Config) -> Result<postgres::Client, PgError> {
    c.connect(postgres::NoTls).map_err(|source| {
        let target = describe(c);
        match source.code() {
            Some(code) if code.code().starts_with("28") => {
                PgError::Auth { target, user: c.get_user().unwrap_or("").to_string(), source }
            }
            _ => PgError::Unreachable { target, source },
        }
    })
}

/// A worker's connection, set up for loading one partition at a time (see
/// `configure_worker` in `sql/postgres/load.sql`).
///
/// # Errors
/// As [`connect`], and [`PgError::Db`] when the settings are refused.
pub fn worker_connection(c: &postgres::Config) -> Result<postgres::Client, PgError> {
    let mut client = connect(c)?;
    client.batch_execute(LOAD.configure_worker).map_err(PgError::db("configure the session"))?;
    Ok(client)
}
