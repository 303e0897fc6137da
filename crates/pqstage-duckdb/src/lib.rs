//! Loads a staged dataset into a DuckDB table.
//!
//! DuckDB reads the Parquet itself (`read_parquet` over exactly the files the
//! manifest names), so the load costs what DuckDB's own
//! `CREATE TABLE … AS SELECT * FROM read_parquet(…)` costs. Around it:
//!
//! - the table is typed from the spec, and an existing table whose columns
//!   disagree with the spec is refused, never altered;
//! - `pqstage.load_state`, in the same DuckDB file, records each partition's
//!   manifest checksum; an unchanged partition is skipped, a changed one is
//!   replaced (delete that key, insert its files);
//! - everything happens in one transaction, rows per partition are checked
//!   against the manifest before the commit, and an interrupted or refused
//!   load leaves the previous table exactly as it was.

mod error;
mod sql;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use duckdb::{params, Config, Connection};
use pqstage_stage::manifest::{FileEntry, PartitionEntry, TableEntry};
use pqstage_stage::plan::{column_conflict, plan, Recorded};
pub use pqstage_stage::plan::{Action, PartitionReport};
use pqstage_stage::{Manifest, Stage};

pub use error::DuckdbError;
pub use summary::{summaries, Cell, ResultTable};

use sql::{ident, literal, render, state_table, type_name, TableName};

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The DuckDB database file (created if missing).
    pub db: PathBuf,
    /// Target table: `name` or `schema.name`.
    pub table: String,
    /// Only these partition keys (`None` in the list is the NULL partition); all when `None`.
    pub years: Option<Vec<Option<i64>>>,
    /// Reload every selected partition, even unchanged ones.
    pub force: bool,
    /// DuckDB worker threads (default: DuckDB's, the number of cores).
    pub threads: Option<usize>,
    /// Check each file's checksum against the manifest before loading it.
    pub verify_checksums: bool,
    /// Where a remote stage's files are cached while they load (default: the system's temporary folder).
    pub cache_dir: Option<PathBuf>,
    /// Bytes of a remote stage's files held in the cache at most (two groups of half this).
    pub cache_bytes: u64,
}

/// The outcome of a load.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The table, quoted.
    pub table: String,
    /// True when the table was created (or re-created) by this load.
    pub created: bool,
    /// Every partition in scope, in key order.
    pub partitions: Vec<PartitionReport>,
    /// Rows inserted.
    pub rows_loaded: u64,
    /// Rows the table holds after the load.
    pub rows_total: u64,
    /// Seconds spent checking the staged files.
    pub verify_seconds: f64,
    /// Seconds from opening the database to the commit.
    pub seconds: f64,
}

/// Opens a DuckDB file for writing, with extension auto-loading off: nothing
/// is ever fetched from the network at run time.
///
/// # Errors
/// [`DuckdbError::Locked`] when another process holds the file, else
/// [`DuckdbError::Open`].
pub fn open(db: &Path, threads: Option<usize>, read_only: bool) -> Result<Connection, DuckdbError> {
    let open_err = |source: duckdb::Error| {
        let text = source.to_string();
        if text.contains("Could not set lock") || text.contains("Conflicting lock") {
            DuckdbError::Locked { db: db.to_path_buf(), detail: text }
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

/// Picks the manifest table to load into `target`: the only one, or the one
/// with the target's name.
fn source_table<'m>(manifest: &'m Manifest, target: &TableName) -> Result<&'m TableEntry, DuckdbError> {
    match manifest.tables.as_slice() {
        [only] => Ok(only),
        many => many.iter().find(|t| t.name == target.name).ok_or_else(|| DuckdbError::WhichTable {
            dataset: manifest.dataset.clone(),
            tables: many.iter().map(|t| t.name.clone()).collect(),
        }),
    }
}

/// Loads the dataset `manifest` of `stage` into the DuckDB table of `opts`.
///
/// # Errors
/// See [`DuckdbError`]; on any error nothing is committed.
///
/// A remote stage's files are downloaded into a bounded local cache as they
/// are needed (DuckDB reads local files only, with no extension to fetch);
/// `runtime` runs the downloads.
pub fn load(
    stage: &Stage,
    manifest: &Manifest,
    opts: &LoadOptions,
    runtime: &tokio::runtime::Handle,
) -> Result<LoadReport, DuckdbError> {
    let started = Instant::now();
    let target = TableName::parse(&opts.table).ok_or_else(|| DuckdbError::BadTableName(opts.table.clone()))?;
    let table = source_table(manifest, &target)?;
    let dataset_dir = match stage.local_root() {
        Some(root) => Some(std::path::absolute(root.join(&manifest.dataset)).map_err(|source| DuckdbError::Io {
            op: "resolve",
            path: root.to_path_buf(),
            source,
        })?),
        None => None,
    };
    let columns = table.spec.output_columns();
    let pcol = table.partition_column.clone();
    if let (Some(keys), None) = (&opts.years, &pcol) {
        if !keys.is_empty() {
            return Err(DuckdbError::NotPartitioned(table.name.clone()));
        }
    }

    let mut conn = open(&opts.db, opts.threads, false)?;
    let catalog = sql::catalog(&conn).map_err(|e| DuckdbError::sql("read the catalog name", e))?;
    let state_tbl = state_table(&catalog);
    conn.execute_batch(&render(sql::STATE, &[("catalog", &ident(&catalog))]))
        .map_err(|e| DuckdbError::sql("create pqstage.load_state", e))?;
    let tx = conn.transaction().map_err(|e| DuckdbError::sql("begin", e))?;

    // What the database holds now.
    let existing = table_columns(&tx, &target)?;
    if let Some(have) = &existing {
        check_columns(&target, have, &columns)?;
    }
    let quoted = target.qualified(&catalog);
    let recreate = existing.is_none() || (opts.force && opts.years.is_none());
    let actual = match (&existing, recreate) {
        (Some(_), false) => rows_per_key(&tx, &quoted, pcol.as_deref())?,
        _ => BTreeMap::new(),
    };
    let state = if recreate { BTreeMap::new() } else { load_state(&tx, &state_tbl, &opts.table)? };

    // The plan: every key in the manifest, the table or the state, in scope.
    let steps = plan(table, &state, &actual, existing.is_some(), opts.force, opts.years.as_deref())
        .map_err(|partition| DuckdbError::NoSuchPartition { partition, dataset: manifest.dataset.clone() })?;

    // Check the staged files before touching the table.
    let verify_started = Instant::now();
    let to_load: Vec<&PartitionEntry> = steps.iter().filter(|s| s.action.loaded()).filter_map(|s| s.entry).collect();
    stage.check_before_load(&manifest.dataset, &to_load, opts.verify_checksums, opts.threads, runtime)?;
    let verify_seconds = verify_started.elapsed().as_secs_f64();

    // Apply.
    let column_list = columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
    if recreate {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {quoted};"))
            .map_err(|e| DuckdbError::sql("drop the old table", e))?;
        tx.execute_batch(&format!("CREATE SCHEMA IF NOT EXISTS {}.{};", ident(&catalog), ident(&target.schema)))
            .map_err(|e| DuckdbError::sql("create schema", e))?;
        let defs = columns
            .iter()
            .map(|c| {
                let not_null = if c.nullable { "" } else { " NOT NULL" };
                format!("{} {}{not_null}", ident(&c.name), type_name(c.ty))
            })
            .collect::<Vec<_>>()
            .join(", ");
        tx.execute_batch(&render(sql::CREATE_TABLE, &[("table", &quoted), ("columns", &defs)]))
            .map_err(|e| DuckdbError::sql("create the table", e))?;
        tx.execute(&format!("DELETE FROM {state_tbl} WHERE table_name = ?"), params![opts.table])
            .map_err(|e| DuckdbError::sql("reset pqstage.load_state", e))?;
    } else {
        // Every key being replaced or removed that the table holds rows of.
        let keys: Vec<Option<i64>> = steps
            .iter()
            .filter(|s| s.action != Action::Unchanged && actual.get(&s.key).is_some_and(|n| *n > 0))
            .map(|s| s.key)
            .collect();
        if let Some(cond) = key_condition(pcol.as_deref(), &keys) {
            tx.execute_batch(&format!("DELETE FROM {quoted} WHERE {cond};"))
                .map_err(|e| DuckdbError::sql("delete the replaced partitions", e))?;
        }
        for s in steps.iter().filter(|s| s.action != Action::Unchanged) {
            tx.execute(
                &format!("DELETE FROM {state_tbl} WHERE table_name = ? AND partition_path = ?"),
                params![opts.table, s.path],
            )
            .map_err(|e| DuckdbError::sql("update pqstage.load_state", e))?;
        }
    }
    let hive = match &pcol {
        Some(c) => format!("hive_partitioning = true, hive_types = {{{}: 'INTEGER'}}", literal(c)),
        None => "hive_partitioning = false".to_string(),
    };
    let insert = |dir: &Path, files: &[&FileEntry]| -> Result<(), DuckdbError> {
        let files: Vec<String> = files.iter().map(|f| literal(&dir.join(&f.path).to_string_lossy())).collect();
        if files.is_empty() {
            return Ok(());
        }
        let insert = render(
            sql::INSERT_PARTITIONS,
            &[
                ("table", &quoted),
                ("columns", &column_list),
                ("files", &format!("[{}]", files.join(", "))),
                ("hive", &hive),
            ],
        );
        tx.execute_batch(&insert).map_err(DuckdbError::read)
    };
    let files: Vec<&FileEntry> = to_load.iter().flat_map(|p| p.files.iter()).collect();
    match &dataset_dir {
        Some(dir) => insert(dir, &files)?,
        None => {
            let base = opts.cache_dir.as_deref();
            let cache = stage.scratch_dir(&manifest.dataset, base)?;
            load_through_cache(stage, &manifest.dataset, &files, cache.path(), runtime, opts.cache_bytes, insert)?;
        }
    }
    for s in steps.iter().filter(|s| s.action.loaded()) {
        let p = s.entry.expect("loaded steps have a manifest entry");
        tx.execute(
            &format!(
                "INSERT INTO {state_tbl} (table_name, partition_path, partition_value, checksum, rows, dataset, \
                 manifest_created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            params![opts.table, p.path, p.value, p.checksum, p.rows as i64, manifest.dataset, manifest.created_at],
        )
        .map_err(|e| DuckdbError::sql("update pqstage.load_state", e))?;
    }

    // Reconcile with the manifest before committing.
    let after = rows_per_key(&tx, &quoted, pcol.as_deref())?;
    let mut partitions = Vec::with_capacity(steps.len());
    for s in steps {
        let held = after.get(&s.key).copied().unwrap_or(0);
        let expected = s.entry.map_or(0, |p| p.rows);
        if held != expected {
            return Err(DuckdbError::CountMismatch {
                table: opts.table.clone(),
                partition: if s.path.is_empty() { "(all rows)".into() } else { s.path },
                expected,
                actual: held,
            });
        }
        partitions.push(PartitionReport { path: s.path, value: s.key, rows: held, action: s.action, seconds: 0.0 });
    }
    tx.commit().map_err(|e| DuckdbError::sql("commit", e))?;

    let rows_loaded = partitions.iter().filter(|p| p.action.loaded()).map(|p| p.rows).sum();
    Ok(LoadReport {
        table: target.quoted(),
        created: recreate,
        partitions,
        rows_loaded,
        rows_total: after.values().sum(),
        verify_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Files downloaded at once.
const FETCH_CONCURRENCY: usize = 8;

/// Loads the files of a remote stage through a local cache that holds at
/// most two groups of files of about `cache_bytes / 2` each (a group holds at
/// least one file, so a file bigger than that is cached alone): while DuckDB
/// inserts one group, the next downloads (checked against the manifest as it
/// streams); each group's files are deleted once inserted. A partition split
/// across groups is fine: rows per partition are checked after the last.
fn load_through_cache(
    stage: &Stage,
    dataset: &str,
    files: &[&FileEntry],
    cache: &Path,
    runtime: &tokio::runtime::Handle,
    cache_bytes: u64,
    insert: impl Fn(&Path, &[&FileEntry]) -> Result<(), DuckdbError>,
) -> Result<(), DuckdbError> {
    let mut groups: Vec<Vec<&FileEntry>> = Vec::new();
    let mut size = u64::MAX;
    for f in files {
        if size.saturating_add(f.bytes) > cache_bytes / 2 {
            groups.push(Vec::new());
            size = 0;
        }
        size += f.bytes;
        groups.last_mut().expect("pushed above").push(f);
    }
    let fetch = |i: usize| -> Result<PathBuf, DuckdbError> {
        let dir = cache.join(format!("g{i}"));
        runtime.block_on(stage.download(dataset, &groups[i], &dir, FETCH_CONCURRENCY))?;
        Ok(dir)
    };
    let mut ready = match groups.is_empty() {
        true => return Ok(()),
        false => fetch(0)?,
    };
    for i in 0..groups.len() {
        let next = std::thread::scope(|s| {
            let prefetch = (i + 1 < groups.len()).then(|| s.spawn(|| fetch(i + 1)));
            let inserted = insert(&ready, &groups[i]);
            let _ = std::fs::remove_dir_all(&ready);
            let next = prefetch.map(|h| h.join().expect("prefetch thread panicked")).transpose();
            inserted.and(next)
        })?;
        match next {
            Some(dir) => ready = dir,
            None => break,
        }
    }
    Ok(())
}

/// `year IN (…) OR year IS NULL` for the keys; `true` for an unpartitioned table.
fn key_condition(pcol: Option<&str>, keys: &[Option<i64>]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let Some(col) = pcol else { return Some("true".into()) };
    let col = ident(col);
    let values: Vec<String> = keys.iter().flatten().map(i64::to_string).collect();
    let mut parts = Vec::new();
    if !values.is_empty() {
        parts.push(format!("{col} IN ({})", values.join(", ")));
    }
    if keys.iter().any(Option::is_none) {
        parts.push(format!("{col} IS NULL"));
    }
    Some(parts.join(" OR "))
}

/// Columns (name, DuckDB type) of the table, or `None` when it does not exist.
fn table_columns(conn: &Connection, t: &TableName) -> Result<Option<Vec<(String, String)>>, DuckdbError> {
    let mut stmt = conn.prepare(sql::TABLE_COLUMNS).map_err(|e| DuckdbError::sql("read the table's columns", e))?;
    let rows = stmt
        .query_map(params![t.schema, t.name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| DuckdbError::sql("read the table's columns", e))?;
    Ok(if rows.is_empty() { None } else { Some(rows) })
}

/// Refuses a table whose columns are not the spec's, by name, order and type.
fn check_columns(
    t: &TableName,
    have: &[(String, String)],
    want: &[pqstage_spec::OutputColumn],
) -> Result<(), DuckdbError> {
    let want: Vec<(String, String)> = want.iter().map(|c| (c.name.clone(), type_name(c.ty))).collect();
    match column_conflict(have, &want) {
        Some((column, reason)) => {
            Err(DuckdbError::Conflict { table: format!("{}.{}", t.schema, t.name), column, reason })
        }
        None => Ok(()),
    }
}

/// Rows per partition key the table holds.
fn rows_per_key(conn: &Connection, table: &str, pcol: Option<&str>) -> Result<BTreeMap<Option<i64>, u64>, DuckdbError> {
    let query = match pcol {
        Some(c) => format!("SELECT CAST({} AS BIGINT), count(*) FROM {table} GROUP BY ALL", ident(c)),
        None => format!("SELECT CAST(NULL AS BIGINT), count(*) FROM {table} HAVING count(*) > 0"),
    };
    let mut stmt = conn.prepare(&query).map_err(|e| DuckdbError::sql("count rows per partition", e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, i64>(1)? as u64)))
        .and_then(Iterator::collect::<Result<BTreeMap<_, _>, _>>)
        .map_err(|e| DuckdbError::sql("count rows per partition", e))?;
    Ok(rows)
}

fn load_state(conn: &Connection, state_tbl: &str, table: &str) -> Result<BTreeMap<Option<i64>, Recorded>, DuckdbError> {
    let mut stmt = conn
        .prepare(&format!("SELECT partition_value, checksum, rows FROM {state_tbl} WHERE table_name = ?"))
        .map_err(|e| DuckdbError::sql("read pqstage.load_state", e))?;
    let rows = stmt
        .query_map(params![table], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, Recorded { checksum: r.get(1)?, rows: r.get::<_, i64>(2)? as u64 }))
        })
        .and_then(Iterator::collect::<Result<BTreeMap<_, _>, _>>)
        .map_err(|e| DuckdbError::sql("read pqstage.load_state", e))?;
    Ok(rows)
}
