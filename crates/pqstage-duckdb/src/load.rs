//! `pqstage load duckdb`: the DuckDB engine of the loader core.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use duckdb::{params, Connection};
use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::summaries::SummaryReport;
use pqstage_load::{
    Applied, Counted, Engine, Inventory, Job, LoadError, LoadReport, PartitionKey, Recorded, Request, TableName,
    TableState, Work,
};
use pqstage_spec::{ColumnType, OutputColumn};
use pqstage_stage::manifest::{FileEntry, PartitionEntry};
use pqstage_stage::progress::Measure;
use pqstage_stage::verify::check_files;

use crate::cache::insert_through_cache;
use crate::error::DuckdbError;
use crate::sql::{key_condition, state_table, type_name, CATALOG, LOAD, STATE};

/// What is DuckDB's own in a load.
#[derive(Debug, Clone)]
pub struct DuckdbOptions {
    /// The DuckDB database file (created if missing).
    pub db: PathBuf,
    /// Target table: `name` or `schema.name` (schema `main` by default).
    pub table: String,
    /// DuckDB worker threads (default: DuckDB's, the number of cores).
    pub threads: Option<usize>,
    /// Bytes of a remote stage's files held in the local cache at most (two
    /// groups of half this: one loading while the next downloads).
    pub cache_bytes: u64,
    /// Keep the summaries the spec names ([`crate::summaries`]): made when
    /// missing, computed again after a load that changed the table.
    pub summaries: bool,
    /// The share of the table's stored rows (0 to 1) that deleted rows may
    /// reach before a load lets DuckDB's checkpoint compact them; below it,
    /// they stay in the file, marked deleted ([`DEFAULT_VACUUM_ABOVE`]).
    pub vacuum_above: f64,
    /// DuckDB's memory limit in bytes ([`crate::limit_memory`]; `None`: DuckDB's default).
    pub memory_limit: Option<u64>,
}

/// Default [`DuckdbOptions::vacuum_above`]. DuckDB's checkpoint compacts a
/// table's deleted rows by rewriting runs of row groups into fewer ones.
/// After a patch that deletes or updates 1% of the rows, spread over every
/// row group, that took 1.3-2.6 s of a 4-5 s load at 18 M rows and removed
/// a twentieth of them; deferred, it costs nothing until the deleted rows
/// are a tenth of the table, when one checkpoint removes 44% of them
/// (18 s measured; BENCHMARKS.md). Scans read the deleted rows meanwhile.
pub const DEFAULT_VACUUM_ABOVE: f64 = 0.10;

/// Loads what `request` asks into the DuckDB table of `duck`, in one
/// transaction.
///
/// # Errors
/// See [`DuckdbError`]; on any error nothing is committed.
pub fn load(request: &Request<'_>, duck: &DuckdbOptions) -> Result<LoadReport, DuckdbError> {
    let target = TableName::parse(&duck.table, "main")?;
    let job = request.job(&target.name)?;
    // An unknown set of summaries is refused before anything is loaded.
    let summaries = match &job.table.spec.target.summaries {
        Some(set) if duck.summaries => Some(crate::summaries::set(set).map(|_| set.as_str())?),
        _ => None,
    };
    let mut engine = Duckdb { target, duck, db: None, summaries, kept: None, stored: 0, notes: Vec::new() };
    let mut report = pqstage_load::load(&mut engine, &job)?;
    report.notes.append(&mut engine.notes);
    if summaries.is_some() {
        // Kept in the load's transaction: apply always runs, and keeps them.
        report.summaries = engine.kept.take().unwrap_or_else(|| Ok(Vec::new()))?;
    }
    Ok(report)
}

/// The DuckDB engine: one connection, one transaction from
/// [`Engine::inspect`] to the end of [`Engine::apply`].
struct Duckdb<'a> {
    target: TableName,
    duck: &'a DuckdbOptions,
    /// The open database, from [`Engine::inspect`] on: the file is opened
    /// (and created) only once the load has been checked.
    db: Option<Db>,
    /// The set of summaries to keep, if any, and how keeping them ended:
    /// in the load's transaction, so a reader never sees the table and its
    /// summaries at different versions (and the file is written once).
    summaries: Option<&'a str>,
    kept: Option<Result<Vec<SummaryReport>, DuckdbError>>,
    /// The rows the table's storage held before the load, deleted ones too.
    stored: u64,
    notes: Vec<String>,
}

/// An open DuckDB file and the names of the load's tables in it.
struct Db {
    conn: Connection,
    catalog: String,
    /// `"catalog"."schema"."name"`: unambiguous even when the file's name
    /// (its catalog) equals a schema's, as `main.duckdb` or `pqstage.duckdb` do.
    quoted: String,
    /// The state table, `"catalog".pqstage.load_state`.
    state: String,
}

impl Engine for Duckdb<'_> {
    type Error = DuckdbError;
    const REPLACES_ON_FORCE: bool = true;
    const PATCHES: bool = true;

    fn table_label(&self) -> String {
        format!("{}.{}", self.target.schema, self.target.name)
    }

    fn table_quoted(&self) -> String {
        self.target.quoted()
    }

    fn type_name(&self, ty: ColumnType) -> String {
        type_name(ty)
    }

    fn inspect(&mut self, _job: &Job<'_>) -> Result<Option<Vec<(String, String)>>, DuckdbError> {
        let conn = crate::open(&self.duck.db, self.duck.threads, false)?;
        crate::limit_memory(&conn, self.duck.memory_limit)?;
        let catalog: String = conn
            .query_row(CATALOG.current_catalog, [], |r| r.get(0))
            .map_err(DuckdbError::sql("read the catalog name"))?;
        let (state, quoted) = (state_table(&catalog), self.target.qualified(&catalog));
        self.db = Some(Db { conn, catalog, quoted, state });
        let create_state = render(STATE.create_state, &[("catalog", &quote_ident(&self.db().catalog))]);
        self.db().conn.execute_batch(&create_state).map_err(DuckdbError::sql("create pqstage.load_state"))?;
        self.db().conn.execute_batch("BEGIN TRANSACTION").map_err(DuckdbError::sql("begin"))?;
        let columns = self.columns()?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn add_columns(&mut self, _job: &Job<'_>, columns: &[OutputColumn]) -> Result<(), DuckdbError> {
        for c in columns {
            let sql = render(
                LOAD.add_column,
                &[("table", &self.db().quoted), ("column", &quote_ident(&c.name)), ("type", &type_name(c.ty))],
            );
            self.db().conn.execute_batch(&sql).map_err(DuckdbError::sql("add a column the spec gained"))?;
        }
        Ok(())
    }

    fn inventory(&mut self, job: &Job<'_>) -> Result<Inventory<PartitionKey>, DuckdbError> {
        let held = self.rows_per_key(job.table.partition_column.as_deref())?;
        let mut stmt = self
            .db()
            .conn
            .prepare(&render(STATE.read_state, &[("state", &self.db().state)]))
            .map_err(DuckdbError::sql("read pqstage.load_state"))?;
        let recorded = stmt
            .query_map(params![self.duck.table], |r| {
                let rows = r.get::<_, i64>(2)? as u64;
                Ok((PartitionKey(r.get(0)?), Recorded { checksum: r.get(1)?, rows }))
            })
            .and_then(Iterator::collect::<Result<BTreeMap<_, _>, _>>)
            .map_err(DuckdbError::sql("read pqstage.load_state"))?;
        let stored: Option<i64> = self
            .db()
            .conn
            .query_row(CATALOG.stored_rows, params![self.target.schema, self.target.name], |r| r.get(0))
            .map_err(DuckdbError::sql("read the table's size"))?;
        self.stored = stored.unwrap_or(0).max(0) as u64;
        Ok(Inventory { recorded, held })
    }

    fn apply(&mut self, job: &Job<'_>, work: &Work<'_, '_>) -> Result<Applied, DuckdbError> {
        let to_load = work.to_load();
        let verify_started = Instant::now();
        if let (Some(root), true) = (job.request.stage.local_root(), job.request.options.verify_checksums) {
            let bytes = to_load.iter().map(|p| p.bytes).sum();
            job.request.progress.begin("checking", Measure::Bytes, bytes);
            check_files(&root.join(job.dataset()), &to_load, true, self.duck.threads, Some(job.request.progress))
                .map_err(LoadError::from)?;
        }
        let verify_seconds = verify_started.elapsed().as_secs_f64();

        match work.table {
            TableState::Missing | TableState::Replace => self.create(job)?,
            TableState::Keep => self.forget(job, work)?,
        }
        job.request.progress.begin("loading", Measure::Rows, to_load.iter().map(|p| p.rows).sum());
        let files: Vec<&FileEntry> = to_load.iter().flat_map(|p| p.files.iter()).collect();
        let load_files = |files: &[&FileEntry]| -> Result<(), DuckdbError> {
            let insert = |dir: &std::path::Path, files: &[&FileEntry]| self.insert(job, dir, files);
            match job.request.stage.local_root() {
                Some(root) => {
                    let dir = root.join(job.dataset());
                    let dir = std::path::absolute(&dir).map_err(|source| DuckdbError::Io {
                        op: "resolve",
                        path: dir,
                        source,
                    })?;
                    insert(&dir, files)
                }
                None => insert_through_cache(job, files, self.duck.cache_bytes, insert),
            }
        };
        load_files(&files)?;
        let whole = |p: &PartitionEntry| load_files(&p.files.iter().collect::<Vec<_>>());
        let patched = crate::patch::apply(&self.db().conn, &self.db().quoted, job, work, &whole)?;
        let record = render(STATE.record_unit, &[("state", &self.db().state)]);
        let (dataset, created_at) = (job.dataset(), &job.request.manifest.created_at);
        for s in work.steps.iter().filter(|s| s.action.loaded() || s.action.patched()) {
            let p = s.staged.expect("a loaded step has a staged unit");
            self.db()
                .conn
                .execute(
                    &record,
                    params![self.duck.table, p.path, p.value, p.checksum, p.rows as i64, dataset, created_at],
                )
                .map_err(DuckdbError::sql("update pqstage.load_state"))?;
        }

        // Reconcile with the manifest before committing.
        let after = self.rows_per_key(job.table.partition_column.as_deref())?;
        for s in work.steps {
            let held = after.get(&s.key).copied().unwrap_or(0);
            LoadError::check_count(&self.duck.table, &s.path, s.rows(), held, Counted::Held)?;
        }
        if work.table == TableState::Keep {
            let held_before: u64 = work.before.held.values().sum();
            let dead = self.stored.saturating_sub(held_before) + patched.deleted;
            self.defer_vacuum(dead, after.values().sum(), patched.deleted)?;
        }
        if let Some(set) = self.summaries {
            let db = self.db();
            let at = (db.state.as_str(), self.duck.table.as_str());
            // A summary that cannot be kept (its name taken by a table
            // pqstage did not make) stops the summaries, not the load.
            match crate::summaries::refresh(&db.conn, &self.target, at, set, job.request.manifest.version) {
                Err(e) if !matches!(e, DuckdbError::Refused(_)) => return Err(e),
                kept => self.kept = Some(kept),
            }
        }
        self.db().conn.execute_batch("COMMIT").map_err(DuckdbError::sql("commit"))?;
        Ok(Applied { seconds: BTreeMap::new(), verify_seconds, swapped: patched.swapped })
    }
}

impl Duckdb<'_> {
    /// The database [`Engine::inspect`] opened.
    fn db(&self) -> &Db {
        self.db.as_ref().expect("inspect opens the database first")
    }

    /// The table's columns (name, DuckDB type); empty when it does not exist.
    fn columns(&self) -> Result<Vec<(String, String)>, DuckdbError> {
        let what = "read the table's columns";
        let mut stmt = self.db().conn.prepare(CATALOG.table_columns).map_err(DuckdbError::sql(what))?;
        stmt.query_map(params![self.target.schema, self.target.name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(DuckdbError::sql(what))
    }

    /// Rows per partition key the table holds.
    fn rows_per_key(&self, column: Option<&str>) -> Result<BTreeMap<PartitionKey, u64>, DuckdbError> {
        let what = "count rows per partition";
        let query = match column {
            Some(c) => render(CATALOG.rows_per_key, &[("key", &quote_ident(c)), ("table", &self.db().quoted)]),
            None => render(CATALOG.rows_unpartitioned, &[("table", &self.db().quoted)]),
        };
        let mut stmt = self.db().conn.prepare(&query).map_err(DuckdbError::sql(what))?;
        stmt.query_map([], |r| Ok((PartitionKey(r.get(0)?), r.get::<_, i64>(1)? as u64)))
            .and_then(Iterator::collect)
            .map_err(DuckdbError::sql(what))
    }

    /// (Re-)creates the table from the spec and forgets its state.
    fn create(&self, job: &Job<'_>) -> Result<(), DuckdbError> {
        let defs = job
            .columns()
            .iter()
            .map(|c| {
                format!("{} {}{}", quote_ident(&c.name), type_name(c.ty), if c.nullable { "" } else { " NOT NULL" })
            })
            .collect::<Vec<_>>()
            .join(", ");
        let schema = format!("{}.{}", quote_ident(&self.db().catalog), quote_ident(&self.target.schema));
        let sql = [
            render(LOAD.drop_table, &[("table", &self.db().quoted)]),
            render(LOAD.create_table, &[("schema", &schema), ("table", &self.db().quoted), ("columns", &defs)]),
        ];
        self.db().conn.execute_batch(&sql.join("\n")).map_err(DuckdbError::sql("create the table"))?;
        let forget = render(STATE.forget_table, &[("state", &self.db().state)]);
        self.db()
            .conn
            .execute(&forget, params![self.duck.table])
            .map_err(DuckdbError::sql("reset pqstage.load_state"))?;
        Ok(())
    }

    /// Decides, before the commit, whether the checkpoint that follows may
    /// compact the table's deleted rows: `dead` of them (those kept by
    /// earlier loads and the `deleted` ones a patch deleted one by one)
    /// beside `held` live ones. Below [`DuckdbOptions::vacuum_above`] it may
    /// not; either way a load that patched rows away says so in a note.
    /// The rows of partitions deleted whole are not counted: they mostly
    /// fill row groups of their own, which any checkpoint drops, and what
    /// they leave in shared ones the next load counts.
    fn defer_vacuum(&mut self, dead: u64, held: u64, deleted: u64) -> Result<(), DuckdbError> {
        let share = dead as f64 / (dead + held).max(1) as f64;
        let compact = share > self.duck.vacuum_above;
        if !compact {
            self.db().conn.execute_batch(LOAD.defer_vacuum).map_err(DuckdbError::sql("defer the vacuum"))?;
        }
        if deleted > 0 || compact {
            let (n, limit) = (pqstage_stage::fmt::group_digits(dead), self.duck.vacuum_above * 100.0);
            let of = format!("{:.1}% of the table's stored rows", share * 100.0);
            self.notes.push(match compact {
                false => format!(
                    "the file keeps {n} deleted rows ({of}) until they pass {limit}% (--vacuum-above); \
                     a checkpoint then compacts them"
                ),
                true => format!(
                    "the file's deleted rows, {n} ({of}), passed {limit}% (--vacuum-above): DuckDB compacts row \
                     groups as the file closes, which takes longer than a load that keeps them"
                ),
            });
        }
        Ok(())
    }

    /// Deletes the rows and state of every partition being replaced or
    /// removed, and the state of those being patched.
    fn forget(&self, job: &Job<'_>, work: &Work<'_, '_>) -> Result<(), DuckdbError> {
        // Patched units keep their rows (their change sets apply later) but
        // are recorded anew, like the replaced ones.
        let replaced = work.steps.iter().filter(|s| s.action != pqstage_load::Action::Unchanged);
        let keys: Vec<Option<i64>> = replaced
            .clone()
            .filter(|s| !s.action.patched())
            .filter(|s| work.before.held.get(&s.key).is_some_and(|n| *n > 0))
            .map(|s| s.key.0)
            .collect();
        if let Some(condition) = key_condition(job.table.partition_column.as_deref(), &keys) {
            let delete = render(LOAD.delete_units, &[("table", &self.db().quoted), ("condition", &condition)]);
            self.db().conn.execute_batch(&delete).map_err(DuckdbError::sql("delete the replaced partitions"))?;
        }
        let forget = render(STATE.forget_unit, &[("state", &self.db().state)]);
        for s in replaced {
            self.db()
                .conn
                .execute(&forget, params![self.duck.table, s.path])
                .map_err(DuckdbError::sql("update pqstage.load_state"))?;
        }
        Ok(())
    }

    /// Inserts the rows of `files`, which are under `dir`.
    fn insert(&self, job: &Job<'_>, dir: &std::path::Path, files: &[&FileEntry]) -> Result<(), DuckdbError> {
        if files.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = files.iter().map(|f| literal(&dir.join(&f.path).to_string_lossy())).collect();
        let hive = match &job.table.partition_column {
            Some(c) => format!("hive_partitioning = true, hive_types = {{{}: 'INTEGER'}}", literal(c)),
            None => "hive_partitioning = false".to_string(),
        };
        let columns = job.columns().iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
        let insert = render(
            LOAD.insert_files,
            &[
                ("table", &self.db().quoted),
                ("columns", &columns),
                ("files", &format!("[{}]", list.join(", "))),
                ("hive", &hive),
            ],
        );
        self.db().conn.execute_batch(&insert).map_err(|source| DuckdbError::Read { source })?;
        job.request.progress.add(files.iter().map(|f| f.rows).sum());
        Ok(())
    }
}
