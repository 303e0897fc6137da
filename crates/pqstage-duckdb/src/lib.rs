//! Loads a staged dataset into a DuckDB table, as a [`pqstage_load::Engine`].
//!
//! DuckDB reads the Parquet itself (`read_parquet` over exactly the files the
//! manifest names), so the load costs what DuckDB's own
//! `CREATE TABLE … AS SELECT * FROM read_parquet(…)` costs. The loader core
//! plans the partitions and reports; what is DuckDB's own:
//!
//! - `pqstage.load_state` lives in the same DuckDB file, so the state commits
//!   and rolls back with the data;
//! - the whole load is one transaction: a changed partition is replaced by a
//!   delete of its key and an insert of its files, rows per partition are
//!   counted before the commit, and an interrupted or refused load leaves the
//!   previous table exactly as it was;
//! - a remote stage's files go through a bounded local cache, since DuckDB
//!   reads local files only (no extension is fetched at run time).
//!
//! [`run_queries`] runs named queries (say a dataset's summaries) against a
//! loaded table.

pub mod allocator;
mod cache;
mod error;
mod load;
mod patch;
mod query;
mod sql;
pub mod summaries;
pub mod trajectories;

use std::path::Path;

use duckdb::{Config, Connection};

pub use error::DuckdbError;
pub use load::{load, DuckdbOptions, DEFAULT_VACUUM_ABOVE};
pub use query::{run_queries, run_trajectory_summary, Cell, ResultTable};
pub use sql::type_name;
pub use summaries::read_summaries;

/// Opens a DuckDB file, with extension auto-loading off: nothing is ever
/// fetched from the network at run time. A file opened for writing is
/// created (with its folder) when missing.
///
/// # Errors
/// [`DuckdbError::Locked`] when another process holds the file,
/// [`DuckdbError::NoDatabase`] when a file to read does not exist, else
/// [`DuckdbError::Open`].
pub fn open(db: &Path, threads: Option<usize>, read_only: bool) -> Result<Connection, DuckdbError> {
    let open_err = |source: duckdb::Error| {
        let text = source.to_string();
        if text.contains("Could not set lock") || text.contains("Conflicting lock") {
            DuckdbError::Locked { db: db.to_path_buf(), source }
        } else {
            DuckdbError::Open { db: db.to_path_buf(), source }
        }
    };
    let mut config = Config::default().enable_autoload_extension(false).map_err(open_err)?;
    if read_only {
        config = config.access_mode(duckdb::AccessMode::ReadOnly).map_err(open_err)?;
    }
    if let Some(n) = threads {
        config = config.threads(n as i64).map_err(open_err)?;
    }
    if !read_only && !db.exists() {
        // A new file gets the newest storage format this DuckDB writes
        // (v1.5, readable by DuckDB 1.5 and later) rather than the 0.10-era
        // default: its compression (one dictionary+FSST pass per string
        // column) builds the 18M-row sample table 1.25x faster.
        config = config.with("storage_compatibility_version", "latest").map_err(open_err)?;
    }
    if !read_only {
        if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| DuckdbError::Io {
                op: "create folder",
                path: parent.to_path_buf(),
                source,
            })?;
        }
    } else if !db.exists() {
        return Err(DuckdbError::NoDatabase(db.to_path_buf()));
    }
    Connection::open_with_flags(db, config).map_err(open_err)
}

/// Caps what DuckDB holds in memory on `conn`'s database (its buffer pool:
/// table and index blocks, and the working memory of its operators; beyond
/// it DuckDB evicts blocks and spills to its temporary folder, or fails a
/// statement that cannot fit). `None` keeps DuckDB's default, 80% of RAM.
///
/// # Errors
/// DuckDB refusing the value.
pub fn limit_memory(conn: &Connection, bytes: Option<u64>) -> Result<(), DuckdbError> {
    match bytes {
        Some(b) => conn
            .execute_batch(&format!("SET memory_limit = '{b}B'"))
            .map_err(DuckdbError::sql("set DuckDB's memory limit")),
        None => Ok(()),
    }
}
