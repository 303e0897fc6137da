//! `pqstage load postgres`: each year is one unit of work, in one transaction
//! on its own connection:
//!
//! 1. create a standalone table shaped like the parent;
//! 2. `COPY … FROM STDIN (FORMAT binary, FREEZE)`, encoded from the Parquet's
//!    Arrow batches; the row count COPY reports must be the manifest's;
//! 3. the CHECK constraint matching the partition bound, the indexes, ANALYZE;
//! 4. detach and drop the old partition, attach the new one, record the
//!    manifest checksum in `pqstage.load_state`; commit.
//!
//! Readers see the old year until the commit and the new one after it. A
//! killed load rolls back the open transactions, so no half table is left;
//! years committed before are recorded, so a rerun loads only the rest.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::Encoding;
use pqstage_spec::{ColumnType, OutputColumn};
use pqstage_stage::manifest::{FileEntry, PartitionEntry};
use pqstage_stage::plan::{
    column_conflict, plan, quote_ident as ident, render, Action, PartitionReport, Recorded, Step,
};
use pqstage_stage::verify::{check_files, FileProblem};
use pqstage_stage::ScratchGuard;
use pqstage_stage::{Manifest, Stage};

use crate::encode::{encode_batch, Constant, HEADER, TRAILER};
use crate::error::PgError;

const STATE: &str = include_str!("../../../sql/postgres/state.sql");
const CREATE_PARENT: &str = include_str!("../../../sql/postgres/create_parent.sql");
const CREATE_LOAD_TABLE: &str = include_str!("../../../sql/postgres/create_load_table.sql");
const COPY: &str = include_str!("../../../sql/postgres/copy.sql");
const SWAP: &str = include_str!("../../../sql/postgres/swap.sql");
const PARTITIONS: &str = include_str!("../../../sql/postgres/partitions.sql");
const TABLE_COLUMNS: &str = include_str!("../../../sql/postgres/table_columns.sql");

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Connection URL; `None`: libpq's `PG*` environment variables.
    pub db: Option<String>,
    /// Schema of the target table.
    pub schema: String,
    /// Target table.
    pub table: String,
    /// Partitions loaded at once, each on its own connection.
    pub jobs: usize,
    /// Indexes besides the spec's, each a list of columns.
    pub indexes: Vec<Vec<String>>,
    /// Build no indexes at all (neither the spec's nor `indexes`).
    pub no_indexes: bool,
    /// Skip ANALYZE of each loaded partition (autovacuum analyses it later).
    pub no_analyze: bool,
    /// Only these partition keys; all when `None`.
    pub years: Option<Vec<Option<i64>>>,
    /// Reload every selected partition, even unchanged ones.
    pub force: bool,
    /// Check each file's checksum against the manifest before loading.
    pub verify_checksums: bool,
    /// Where a remote stage's files are cached while their year loads (default: the system's temporary folder).
    pub cache_dir: Option<PathBuf>,
}

/// Counters a progress display can poll.
#[derive(Debug, Default)]
pub struct Progress {
    /// Partitions to load.
    pub partitions_total: AtomicUsize,
    /// Partitions committed.
    pub partitions_done: AtomicUsize,
    /// Rows to load.
    pub rows_total: AtomicU64,
    /// Rows sent so far.
    pub rows_sent: AtomicU64,
}

/// The outcome of a load.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// The parent table, quoted.
    pub table: String,
    /// True when the parent table was created by this load.
    pub created: bool,
    /// Every partition in scope, in key order.
    pub partitions: Vec<PartitionReport>,
    /// Rows loaded.
    pub rows_loaded: u64,
    /// Seconds in all.
    pub seconds: f64,
}

/// PostgreSQL's name of a spec type, as `format_type` spells it.
pub fn pg_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "timestamp without time zone".into(),
        ColumnType::TimestampTz => "timestamp with time zone".into(),
        ColumnType::Text => "text".into(),
    }
}

/// The connection settings: the URL, or libpq's environment variables.
pub fn config(db: Option<&str>) -> Result<postgres::Config, PgError> {
    if let Some(url) = db {
        return url.parse().map_err(|_| PgError::BadUrl(url.to_string()));
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

/// Where a configuration points, for messages (never the password).
fn describe(c: &postgres::Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or(""))
}

/// Connects, turning failures into [`PgError::Unreachable`] or [`PgError::Auth`].
pub fn connect(c: &postgres::Config) -> Result<postgres::Client, PgError> {
    c.connect(postgres::NoTls).map_err(|e| {
        let target = describe(c);
        match e.as_db_error() {
            Some(db) if db.code().code().starts_with("28") => {
                PgError::Auth { target, user: c.get_user().unwrap_or("").to_string(), detail: db.message().to_string() }
            }
            Some(db) => PgError::Unreachable { target, detail: db.message().to_string() },
            None => {
                let detail = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
                PgError::Unreachable { target, detail }
            }
        }
    })
}

/// A worker's connection. Years are already built in parallel, one per
/// connection, so each index build stays on its own backend: parallel
/// maintenance workers on top oversubscribe the cores and cost a worker
/// start-up per index (the 18M-row load with three indexes took 133 s with
/// them, 100 s without, on two cores).
fn worker_connection(c: &postgres::Config) -> Result<postgres::Client, PgError> {
    let mut client = connect(c)?;
    client
        .batch_execute("SET max_parallel_maintenance_workers = 0")
        .map_err(|e| PgError::sql("configure the session", &e))?;
    Ok(client)
}

/// Names of a partition's tables: the attached one and the one being loaded.
fn partition_names(table: &str, key: Option<i64>) -> (String, String) {
    let suffix = match key {
        Some(y) if y < 0 => format!("_pm{}", y.unsigned_abs()),
        Some(y) => format!("_p{y}"),
        None => "_pnull".to_string(),
    };
    // PostgreSQL truncates names at 63 bytes; keep the suffixes.
    let mut base = table.to_string();
    while base.len() + suffix.len() + "_load".len() > 63 {
        base.pop();
    }
    (format!("{base}{suffix}"), format!("{base}{suffix}_load"))
}

/// Where the workers read a year's files from.
enum StagedFiles {
    /// The dataset's folder on a local stage.
    Local(PathBuf),
    /// A remote stage: each year is downloaded into this cache just before
    /// its COPY, and removed after.
    Remote(ScratchGuard),
}

/// The shared plan of a load, read by every worker.
struct Job<'a> {
    opts: &'a LoadOptions,
    config: postgres::Config,
    dataset: &'a str,
    files: StagedFiles,
    stage: &'a Stage,
    runtime: &'a tokio::runtime::Handle,
    parent: String,
    key: String,
    columns: Vec<OutputColumn>,
    indexes: Vec<Vec<String>>,
    attached: BTreeMap<Option<i64>, String>,
    swap: Mutex<()>,
    failed: AtomicBool,
    progress: &'a Progress,
}

/// Loads the dataset `manifest` of `stage` into the PostgreSQL table of `opts`.
///
/// # Errors
/// See [`PgError`]. Partitions committed before an error stay loaded.
///
/// A remote stage's files are downloaded a year at a time, by the worker
/// loading that year, into a local cache that holds at most `jobs` years;
/// `runtime` runs the downloads.
pub fn load(
    stage: &Stage,
    manifest: &Manifest,
    opts: &LoadOptions,
    progress: &Progress,
    runtime: &tokio::runtime::Handle,
) -> Result<LoadReport, PgError> {
    let started = Instant::now();
    let table = match manifest.tables.as_slice() {
        [only] => only,
        many => many.iter().find(|t| t.name == opts.table).ok_or_else(|| PgError::NoSuchPartition {
            partition: format!("table {}", opts.table),
            dataset: manifest.dataset.clone(),
        })?,
    };
    let key = table.partition_column.clone().ok_or_else(|| PgError::NotPartitioned(table.name.clone()))?;
    let columns = table.spec.output_columns();
    let parent = format!("{}.{}", ident(&opts.schema), ident(&opts.table));
    let mut indexes = table.spec.target.indexes.clone();
    indexes.extend(opts.indexes.iter().cloned());
    indexes.dedup();
    if opts.no_indexes {
        indexes.clear();
    }

    let config = config(opts.db.as_deref())?;
    let mut client = connect(&config)?;
    client.batch_execute(STATE).map_err(|e| PgError::sql("create pqstage.load_state", &e))?;

    // The parent: check it, or create it with its indexes.
    let have: Vec<(String, String)> = client
        .query(TABLE_COLUMNS, &[&parent])
        .map_err(|e| PgError::sql("read the table's columns", &e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let created = have.is_empty();
    if created {
        let defs = columns
            .iter()
            .map(|c| format!("{} {}{}", ident(&c.name), pg_type(c.ty), if c.nullable { "" } else { " NOT NULL" }))
            .collect::<Vec<_>>()
            .join(", ");
        let ddl = format!(
            "CREATE SCHEMA IF NOT EXISTS {};\n{}",
            ident(&opts.schema),
            render(CREATE_PARENT, &[("table", &parent), ("columns", &defs), ("key", &ident(&key))])
        );
        client.batch_execute(&ddl).map_err(|e| PgError::sql(format!("create {parent}"), &e))?;
    } else {
        check_columns(&parent, &have, &columns)?;
    }
    for cols in &indexes {
        if let Some(bad) = cols.iter().find(|c| !columns.iter().any(|o| o.name == **c)) {
            return Err(PgError::Conflict {
                table: parent.clone(),
                column: bad.clone(),
                reason: "an index names it, but the spec has no such column".into(),
            });
        }
        let name = index_name(&opts.table, cols);
        let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        client
            .batch_execute(&format!("CREATE INDEX IF NOT EXISTS {} ON {parent} ({list})", ident(&name)))
            .map_err(|e| PgError::sql(format!("create index on {parent} ({list})"), &e))?;
    }

    // What the database holds: attached partitions, the state, the rows.
    let mut attached = BTreeMap::new();
    let mut counters = BTreeMap::new();
    for r in client.query(PARTITIONS, &[&parent]).map_err(|e| PgError::sql("list partitions", &e))? {
        let name: String = r.get(0);
        let key = bound_key(&r.get::<_, String>(1));
        let c: (Option<i64>, Option<i64>, Option<i64>) = (r.get(2), r.get(3), r.get(4));
        counters.insert(key, c);
        attached.insert(key, name);
    }
    let mut state = BTreeMap::new();
    for r in client
        .query(
            "SELECT partition_value, checksum, rows FROM pqstage.load_state WHERE table_schema = $1 AND table_name = $2",
            &[&opts.schema, &opts.table],
        )
        .map_err(|e| PgError::sql("read pqstage.load_state", &e))?
    {
        let key: Option<i64> = r.get(0);
        if attached.contains_key(&key) {
            state.insert(key, Recorded { checksum: r.get(1), rows: r.get::<_, i64>(2) as u64 });
        }
    }
    // Rows per partition: a partition pqstage loaded whose counters show
    // exactly the rows it inserted, and no update or delete since, holds
    // them; any other is counted.
    let mut held = BTreeMap::new();
    for (key, name) in &attached {
        let trusted = match (state.get(key), counters.get(key)) {
            (Some(s), Some((Some(ins), Some(0), Some(0)))) => *ins as u64 == s.rows,
            _ => false,
        };
        let n = if trusted {
            state[key].rows
        } else {
            let q = format!("SELECT count(*) FROM ONLY {}.{}", ident(&opts.schema), ident(name));
            client.query_one(&q, &[]).map_err(|e| PgError::sql(format!("count rows of {name}"), &e))?.get::<_, i64>(0)
                as u64
        };
        held.insert(*key, n);
    }

    let steps = plan(table, &state, &held, !created, opts.force, opts.years.as_deref())
        .map_err(|partition| PgError::NoSuchPartition { partition, dataset: manifest.dataset.clone() })?;
    let to_load: Vec<&PartitionEntry> = steps.iter().filter(|s| s.action.loaded()).filter_map(|s| s.entry).collect();
    // Sizes now, for every year; checksums per year, just before its COPY
    // reads the same files (so they are read from disk once).
    stage.check_before_load(&manifest.dataset, &to_load, false, None, runtime)?;
    let files = match stage.local_root() {
        Some(root) => StagedFiles::Local(root.join(&manifest.dataset)),
        None => StagedFiles::Remote(stage.scratch_dir(&manifest.dataset, opts.cache_dir.as_deref())?),
    };
    progress.partitions_total.store(to_load.len(), Ordering::Relaxed);
    progress.rows_total.store(to_load.iter().map(|p| p.rows).sum(), Ordering::Relaxed);

    // Keys no longer staged: detach and drop, in one short transaction each.
    for s in steps.iter().filter(|s| s.action == Action::Removed) {
        let mut tx = client.transaction().map_err(|e| PgError::sql("begin", &e))?;
        if let Some(name) = attached.get(&s.key) {
            let part = format!("{}.{}", ident(&opts.schema), ident(name));
            tx.batch_execute(&format!("ALTER TABLE {parent} DETACH PARTITION {part}; DROP TABLE {part};"))
                .map_err(|e| PgError::sql(format!("remove {}", s.path), &e))?;
        }
        tx.execute(
            "DELETE FROM pqstage.load_state WHERE table_schema = $1 AND table_name = $2 AND partition_path = $3",
            &[&opts.schema, &opts.table, &s.path],
        )
        .map_err(|e| PgError::sql("update pqstage.load_state", &e))?;
        tx.commit().map_err(|e| PgError::sql("commit", &e))?;
    }
    drop(client);

    // Load: `jobs` workers, each on its own connection, biggest partitions first.
    let job = Job {
        opts,
        config,
        dataset: &manifest.dataset,
        files,
        stage,
        runtime,
        parent: parent.clone(),
        key,
        columns,
        indexes,
        attached,
        swap: Mutex::new(()),
        failed: AtomicBool::new(false),
        progress,
    };
    let mut queue: Vec<&Step<'_>> = steps.iter().filter(|s| s.action.loaded()).collect();
    queue.sort_by_key(|s| std::cmp::Reverse(s.entry.map_or(0, |p| p.rows)));
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<Option<i64>, Result<f64, PgError>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, queue.len().max(1)) {
            scope.spawn(|| {
                let mut client = None;
                loop {
                    if job.failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(step) = queue.get(i) else { return };
                    let t = Instant::now();
                    let r = match client.as_mut() {
                        Some(c) => Ok(c),
                        None => worker_connection(&job.config).map(|c| client.insert(c)),
                    }
                    .and_then(|c| job.load_partition(c, step));
                    if r.is_err() {
                        job.failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().expect("results lock").insert(step.key, r.map(|()| t.elapsed().as_secs_f64()));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    if let Some(key) = results.iter().find(|(_, r)| r.is_err()).map(|(k, _)| *k) {
        return Err(results.remove(&key).expect("present").expect_err("an error"));
    }

    let partitions: Vec<PartitionReport> = steps
        .iter()
        .map(|s| PartitionReport {
            path: s.path.clone(),
            value: s.key,
            rows: s.entry.map_or(0, |p| p.rows),
            action: s.action.clone(),
            seconds: results.get(&s.key).and_then(|r| r.as_ref().ok()).copied().unwrap_or(0.0),
        })
        .collect();
    Ok(LoadReport {
        table: parent,
        created,
        rows_loaded: partitions.iter().filter(|p| p.action.loaded()).map(|p| p.rows).sum(),
        partitions,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Job<'_> {
    /// One partition, in one transaction: create, COPY, constrain, index,
    /// analyse, swap, record.
    fn load_partition(&self, client: &mut postgres::Client, step: &Step<'_>) -> Result<(), PgError> {
        let entry = step.entry.expect("a loaded step has a manifest entry");
        let schema = ident(&self.opts.schema);
        let (final_name, load_name) = partition_names(&self.opts.table, step.key);
        let load = format!("{schema}.{}", ident(&load_name));
        let final_ = format!("{schema}.{}", ident(&final_name));
        let what = |w: &str| format!("{w} {} ({})", step.path, load);
        let sql = |w: &str, e: postgres::Error| PgError::sql(what(w), &e);

        let k = ident(&self.key);
        let (check, bound) = match step.key {
            Some(y) => (
                format!("{k} IS NOT NULL AND {k} >= {y} AND {k} < {}", y + 1),
                format!("FOR VALUES FROM ({y}) TO ({})", y + 1),
            ),
            None => (format!("{k} IS NULL"), "DEFAULT".to_string()),
        };
        // The year's files: on a local stage where they are (checksums
        // checked just before the COPY reads them, so the disk is read once
        // into the page cache); on a remote one downloaded into the cache,
        // checked as they stream, and removed when this year is done.
        let fetched;
        let dir = match &self.files {
            StagedFiles::Local(dir) => {
                if self.opts.verify_checksums {
                    check_files(dir, &[entry], true, Some(1))?;
                }
                dir.as_path()
            }
            StagedFiles::Remote(cache) => {
                let dir = cache.path().join(&final_name);
                let files: Vec<&FileEntry> = entry.files.iter().collect();
                fetched = ScratchGuard::new(dir);
                self.runtime.block_on(self.stage.download(self.dataset, &files, fetched.path(), 4))?;
                fetched.path()
            }
        };
        let mut tx = client.transaction().map_err(|e| sql("begin", e))?;
        let defs = self
            .columns
            .iter()
            .map(|c| format!("{} {}{}", ident(&c.name), pg_type(c.ty), if c.nullable { "" } else { " NOT NULL" }))
            .collect::<Vec<_>>()
            .join(", ");
        let check_name = ident(&format!("{final_name}_bound"));
        tx.batch_execute(&render(
            CREATE_LOAD_TABLE,
            &[("table", &load), ("columns", &defs), ("check_name", &check_name), ("check", &check)],
        ))
        .map_err(|e| sql("create", e))?;

        // COPY, encoded from the Parquet batches.
        let names = self.columns.iter().map(|c| ident(&c.name)).collect::<Vec<_>>().join(", ");
        let copy = render(COPY, &[("table", &load), ("names", &names)]);
        let mut writer = tx.copy_in(&copy).map_err(|e| sql("copy into", e))?;
        let constant = [Constant::Int4(step.key.map(|y| y as i32))];
        let file_columns: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).filter(|n| *n != self.key).collect();
        let mut buf = Vec::with_capacity(2 << 20);
        buf.extend_from_slice(HEADER);
        let io = |e: std::io::Error| PgError::Sql { what: what("copy into"), detail: e.to_string() };
        for f in &entry.files {
            let path = dir.join(&f.path);
            for_each_batch(&path, &file_columns, |batch| {
                encode_batch(&batch, &constant, &mut buf)
                    .map_err(|source| PgError::Encode { path: path.clone(), source })?;
                self.progress.rows_sent.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                if buf.len() >= 1 << 20 {
                    writer.write_all(&buf).map_err(io)?;
                    buf.clear();
                }
                Ok(())
            })?;
        }
        buf.extend_from_slice(TRAILER);
        writer.write_all(&buf).map_err(io)?;
        let copied = writer.finish().map_err(|e| sql("copy into", e))?;
        if copied != entry.rows {
            return Err(PgError::CountMismatch {
                table: self.parent.clone(),
                partition: step.path.clone(),
                expected: entry.rows,
                actual: copied,
            });
        }

        // Indexes, statistics.
        let mut ddl = String::new();
        for cols in &self.indexes {
            let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            ddl.push_str(&format!("CREATE INDEX ON {load} ({list});\n"));
        }
        if !self.opts.no_analyze {
            ddl.push_str(&format!("ANALYZE {load};"));
        }
        if !ddl.is_empty() {
            tx.batch_execute(&ddl).map_err(|e| sql("index and analyze", e))?;
        }

        // The swap, one at a time: it is short, and serialising it keeps two
        // partitions' DETACH/ATTACH from waiting on each other.
        let _swap = self.swap.lock().expect("swap lock");
        let detach = match self.attached.get(&step.key) {
            Some(old) => {
                let old = format!("{schema}.{}", ident(old));
                format!("ALTER TABLE {} DETACH PARTITION {old};\nDROP TABLE {old};", self.parent)
            }
            None => format!("DROP TABLE IF EXISTS {final_};"),
        };
        let swap = render(
            SWAP,
            &[
                ("detach", &detach),
                ("load", &load),
                ("final_name", &ident(&final_name)),
                ("parent", &self.parent),
                ("final", &final_),
                ("bound", &bound),
            ],
        );
        tx.batch_execute(&swap).map_err(|e| sql("swap in", e))?;
        tx.execute(
            "INSERT INTO pqstage.load_state (table_schema, table_name, partition_path, partition_value, \
             partition_table, checksum, rows, dataset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (table_schema, table_name, partition_path) DO UPDATE SET partition_value = \
             EXCLUDED.partition_value, partition_table = EXCLUDED.partition_table, checksum = EXCLUDED.checksum, \
             rows = EXCLUDED.rows, dataset = EXCLUDED.dataset, loaded_at = now()",
            &[
                &self.opts.schema,
                &self.opts.table,
                &step.path,
                &step.key,
                &final_name,
                &entry.checksum,
                &(entry.rows as i64),
                &self.dataset,
            ],
        )
        .map_err(|e| sql("record", e))?;
        tx.commit().map_err(|e| sql("commit", e))?;
        self.progress.partitions_done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Calls `f` with each record batch of a staged Parquet file, columns in
/// `columns` order; one batch in memory at a time. Text columns stored
/// wholly as dictionaries come as dictionary arrays (see
/// `dictionary_strings`), which [`encode_batch`] takes as they are.
///
/// # Errors
/// [`PgError::File`] for a missing, unreadable or corrupt file; what `f` returns.
pub fn for_each_batch(
    path: &Path,
    columns: &[&str],
    mut f: impl FnMut(RecordBatch) -> Result<(), PgError>,
) -> Result<(), PgError> {
    let corrupt = |reason: String| PgError::File(FileProblem::Corrupt { path: path.to_path_buf(), reason });
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PgError::File(FileProblem::Missing(path.to_path_buf())),
        _ => PgError::File(FileProblem::Io { path: path.to_path_buf(), source: e }),
    })?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| corrupt(e.to_string()))?;
    let meta = dictionary_strings(meta).map_err(|e| corrupt(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_batch_size(8192)
        .build()
        .map_err(|e| corrupt(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(e.to_string()))?;
        let picked = columns
            .iter()
            .map(|name| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .map(|c| (*name, c))
                    .ok_or_else(|| corrupt(format!("it has no column {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        f(RecordBatch::try_from_iter(picked).map_err(|e| corrupt(e.to_string()))?)?;
    }
    Ok(())
}

/// Reads the text columns whose every data page is dictionary-encoded (in
/// every row group) as dictionary arrays: their values are then the
/// dictionary page itself, and each batch only decodes keys, instead of
/// copying every value's bytes out of the dictionary first. Other columns
/// keep their type: a chunk that fell back to plain pages would have to be
/// interned into a dictionary, which costs more than it saves.
fn dictionary_strings(meta: ArrowReaderMetadata) -> Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let parquet = meta.metadata().clone();
    let leaves = parquet.file_metadata().schema_descr();
    let all_dictionary = |name: &str| {
        let Some(leaf) = (0..leaves.num_columns()).find(|&i| leaves.column(i).path().string() == name) else {
            return false;
        };
        parquet.num_row_groups() > 0
            && parquet.row_groups().iter().all(|rg| {
                let c = rg.column(leaf);
                c.dictionary_page_offset().is_some()
                    && c.page_encoding_stats_mask()
                        .is_some_and(|m| m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY))
            })
    };
    let mut changed = false;
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            if text && all_dictionary(f.name()) {
                changed = true;
                let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(f.data_type().clone()));
                f.as_ref().clone().with_data_type(dict)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    if !changed {
        return Ok(meta);
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, meta.schema().metadata().clone()));
    ArrowReaderMetadata::try_new(parquet, ArrowReaderOptions::new().with_schema(schema))
}

/// The key of a partition bound: `FOR VALUES FROM (1987) TO (1988)` → 1987, `DEFAULT` → NULL.
fn bound_key(bound: &str) -> Option<i64> {
    let from = bound.split("FROM (").nth(1)?;
    from.split(')').next()?.trim().trim_matches('\'').parse().ok()
}

/// A stable index name: `violations_agency_company_name_idx`, cut to 63 bytes.
fn index_name(table: &str, cols: &[String]) -> String {
    let mut name = format!("{table}_{}_idx", cols.join("_"));
    if name.len() > 63 {
        let hash = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes()) as u32);
        name.truncate(63 - 9);
        while !name.is_char_boundary(name.len()) {
            name.pop();
        }
        name = format!("{name}_{hash}");
    }
    name
}

/// Refuses a table whose columns are not the spec's.
fn check_columns(table: &str, have: &[(String, String)], want: &[OutputColumn]) -> Result<(), PgError> {
    let want: Vec<(String, String)> = want.iter().map(|c| (c.name.clone(), pg_type(c.ty))).collect();
    match column_conflict(have, &want) {
        Some((column, reason)) => Err(PgError::Conflict { table: table.into(), column, reason }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse() {
        assert_eq!(bound_key("FOR VALUES FROM (1987) TO (1988)"), Some(1987));
        assert_eq!(bound_key("FOR VALUES FROM ('-5') TO ('-4')"), Some(-5));
        assert_eq!(bound_key("DEFAULT"), None);
    }

    #[test]
    fn names_fit_postgresql_limits() {
        assert_eq!(partition_names("v", Some(1987)), ("v_p1987".into(), "v_p1987_load".into()));
        assert_eq!(partition_names("v", None).0, "v_pnull");
        let long = "x".repeat(80);
        let (a, b) = partition_names(&long, Some(2020));
        assert!(a.ends_with("_p2020") && b.len() <= 63, "{a} {b}");
        let idx = index_name(&long, &["agency".into()]);
        assert!(idx.len() <= 63, "{idx}");
        assert_eq!(index_name("v", &["a".into(), "b".into()]), "v_a_b_idx");
    }

    #[test]
    fn only_wholly_dictionary_encoded_text_is_read_as_a_dictionary() {
        use arrow_array::cast::AsArray;
        use arrow_array::{Array, StringArray};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;

        let rows = 20_000;
        let few: StringArray = (0..rows).map(|i| (i % 7 != 3).then(|| ["OSHA", "MSHA", "WHD"][i % 3])).collect();
        // Distinct values overflow the 1 KiB dictionary page, so the writer
        // falls back to plain pages part way through the chunk.
        let many: StringArray = (0..rows).map(|i| Some(format!("company {i:05}"))).collect();
        let batch =
            RecordBatch::try_from_iter([("few", Arc::new(few.clone()) as _), ("many", Arc::new(many.clone()) as _)])
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        let props = WriterProperties::builder().set_dictionary_page_size_limit(1024).build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let (mut seen_few, mut seen_many) = (Vec::new(), Vec::new());
        for_each_batch(&path, &["many", "few"], |b| {
            assert_eq!(b.schema().field(0).data_type(), &DataType::Utf8);
            assert_eq!(
                b.schema().field(1).data_type(),
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            );
            let d = b.column(1).as_dictionary::<arrow_array::types::Int32Type>();
            let values = d.values().as_string::<i32>();
            seen_few.extend(d.keys().iter().map(|k| k.map(|k| values.value(k as usize).to_string())));
            seen_many.extend(b.column(0).as_string::<i32>().iter().map(|v| v.map(str::to_string)));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen_few, few.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>());
        assert_eq!(seen_many, many.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>());
        assert!(few.null_count() > 0);
    }
}
