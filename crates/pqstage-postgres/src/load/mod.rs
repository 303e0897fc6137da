//! `pqstage load postgres`: the PostgreSQL engine of the loader core. Each
//! year is one unit of work, in one transaction on its own connection
//! ([`unit`]):
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

mod patch;
mod prepare;
mod read_ahead;
mod unit;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::{
    run_units, Action, Applied, Engine, Inventory, Job, LoadError, LoadReport, PartitionKey, PartitionsNeeded,
    Recorded, Request, StagedFiles, Step, TableName, TableState, Work,
};
use pqstage_spec::{ColumnType, OutputColumn};
use pqstage_stage::manifest::PartitionEntry;
use pqstage_stage::progress::Measure;

use crate::connect::{connect, worker_connection, Settings};
use crate::error::PgError;
use crate::sql::{CATALOG, LOAD, STATE};
use crate::types::{bound_key, index_name, pg_type};

/// What is PostgreSQL's own in a load.
#[derive(Debug, Clone)]
pub struct PgOptions {
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
    /// How change sets' inserted and updated rows are written.
    pub upsert: Upsert,
    /// Percent of each page a loaded partition fills (10 to 100).
    pub fillfactor: u8,
    /// Keep the summaries the spec names ([`crate::summaries`]): made when
    /// missing, brought up to date by a load that changed the table.
    pub summaries: bool,
}

/// [`PgOptions::fillfactor`] for a table with a key: a tenth of each page
/// stays free for the updated rows of change sets.
pub const KEYED_FILLFACTOR: u8 = 90;

/// The statement that writes a change set's inserted and updated rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Upsert {
    /// `UPDATE` of the rows the key look-up found, through their addresses
    /// (ctid), then `INSERT` of the rows whose key it did not find.
    #[default]
    UpdateInsert,
    /// `MERGE … WHEN MATCHED THEN UPDATE … WHEN NOT MATCHED THEN INSERT`.
    Merge,
    /// `INSERT … ON CONFLICT (key) DO UPDATE`.
    OnConflict,
    /// `DELETE` of the updated rows' old versions, then `INSERT` of all.
    DeleteInsert,
}

/// Loads what `request` asks into the PostgreSQL table of `pg`.
///
/// # Errors
/// See [`PgError`]. Partitions committed before an error stay loaded.
///
/// A remote stage's files are downloaded a year at a time, by the worker
/// loading that year, into a local cache that holds at most `jobs` years.
pub fn load(request: &Request<'_>, pg: &PgOptions) -> Result<LoadReport, PgError> {
    let job = request.job(&pg.table)?;
    let mut indexes = if pg.no_indexes { Vec::new() } else { job.table.spec.target.indexes.clone() };
    if !pg.no_indexes {
        indexes.extend(pg.indexes.iter().cloned());
    }
    indexes.dedup();
    // The key's unique index, with the partition column as PostgreSQL
    // requires; built even with --no-indexes, as change sets need it.
    let unique_key = (!job.table.spec.target.key.is_empty()).then(|| {
        let mut cols = job.table.spec.target.key.clone();
        if let Some(p) = job.table.partition_column.as_ref().filter(|p| !cols.contains(p)) {
            cols.push(p.clone());
        }
        cols
    });
    // An unknown set of summaries is refused before anything is loaded.
    let summaries = match &job.table.spec.target.summaries {
        Some(set) if pg.summaries => Some(crate::summaries::set(set).map(|_| set.as_str())?),
        _ => None,
    };
    let mut engine = Postgres {
        opts: pg,
        summaries,
        maintained: crate::summaries::Maintained::default(),
        notes: Vec::new(),
        settings: Settings::resolve(pg.db.as_deref())?,
        parent: TableName::new(&pg.schema, &pg.table),
        indexes,
        unique_key,
        client: None,
        attached: BTreeMap::new(),
    };
    let role = engine.settings.config().get_user().unwrap_or_default().to_string();
    let mut report = pqstage_load::load(&mut engine, &job).map_err(|e| e.with_role(&role, &pg.schema))?;
    report.notes.append(&mut engine.notes);
    if let Some(set) = summaries {
        drop(engine.client.take());
        let mut client = connect(&engine.settings)?;
        let version = job.request.manifest.version;
        report.summaries =
            crate::summaries::refresh(&mut client, &engine.parent, set, &report, version, &engine.maintained)
                .map_err(|e| e.with_role(&role, &pg.schema))?;
    }
    Ok(report)
}

/// The PostgreSQL engine: a control connection for the catalog, the parent
/// and removals; one connection per worker for the partitions.
struct Postgres<'a> {
    opts: &'a PgOptions,
    /// The set of summaries kept, if any.
    summaries: Option<&'a str>,
    /// The summaries the change sets' transaction kept up to date, and the
    /// seconds that took.
    maintained: crate::summaries::Maintained,
    /// Notes on how the load went (reading ahead of the changes).
    notes: Vec<String>,
    settings: Settings,
    parent: TableName,
    indexes: Vec<Vec<String>>,
    /// The spec's key and the partition column, when the spec has a key.
    unique_key: Option<Vec<String>>,
    client: Option<postgres::Client>,
    /// Attached partitions by key: their table names.
    attached: BTreeMap<PartitionKey, String>,
}

impl Engine for Postgres<'_> {
    type Error = PgError;
    const PATCHES: bool = true;

    fn table_label(&self) -> String {
        self.parent.quoted()
    }

    fn table_quoted(&self) -> String {
        self.parent.quoted()
    }

    fn type_name(&self, ty: ColumnType) -> String {
        pg_type(ty)
    }

    fn check_table(&self, job: &Job<'_>) -> Result<(), LoadError> {
        if job.table.partition_column.is_none() {
            return Err(LoadError::NotPartitioned {
                table: job.table.name.clone(),
                needed: PartitionsNeeded::Engine("the PostgreSQL loader loads year-partitioned tables"),
            });
        }
        let columns = job.columns();
        for cols in &self.indexes {
            if let Some(bad) = cols.iter().find(|c| !columns.iter().any(|o| o.name == **c)) {
                return Err(LoadError::UnknownIndexColumn { table: self.parent.quoted(), column: bad.clone() });
            }
        }
        Ok(())
    }

    fn inspect(&mut self, _job: &Job<'_>) -> Result<Option<Vec<(String, String)>>, PgError> {
        let mut client = connect(&self.settings)?;
        client.batch_execute(STATE.create_state).map_err(PgError::db("create pqstage.load_state"))?;
        let parent = self.parent.quoted();
        let columns: Vec<(String, String)> = client
            .query(CATALOG.table_columns, &[&parent])
            .map_err(PgError::db("read the table's columns"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        self.client = Some(client);
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn add_columns(&mut self, _job: &Job<'_>, columns: &[OutputColumn]) -> Result<(), PgError> {
        let client = self.client.as_mut().expect("inspect connects first");
        let parent = self.parent.quoted();
        for c in columns {
            let sql = render(
                LOAD.add_column,
                &[("parent", &parent), ("column", &quote_ident(&c.name)), ("type", &pg_type(c.ty))],
            );
            client.batch_execute(&sql).map_err(PgError::db(format!("add column {} to {parent}", c.name)))?;
        }
        Ok(())
    }

    /// What an existing parent holds: its attached partitions, what the
    /// state records for them, and their rows. A partition pqstage loaded
    /// whose counters show the recorded rows (inserted less deleted) holds
    /// them; any other is counted.
    fn inventory(&mut self, _job: &Job<'_>) -> Result<Inventory<PartitionKey>, PgError> {
        let client = self.client.as_mut().expect("inspect connects first");
        let mut counters = BTreeMap::new();
        let parent = self.parent.quoted();
        for r in client.query(CATALOG.partitions, &[&parent]).map_err(PgError::db("list partitions"))? {
            let key = PartitionKey(bound_key(&r.get::<_, String>(1)));
            let c: (Option<i64>, Option<i64>, Option<i64>) = (r.get(2), r.get(3), r.get(4));
            counters.insert(key, c);
            self.attached.insert(key, r.get(0));
        }
        let mut inventory = Inventory::default();
        let rows = client
            .query(STATE.read_state, &[&self.parent.schema, &self.parent.name])
            .map_err(PgError::db("read pqstage.load_state"))?;
        for r in rows {
            let key = PartitionKey(r.get(0));
            if self.attached.contains_key(&key) {
                inventory.recorded.insert(key, Recorded { checksum: r.get(1), rows: r.get::<_, i64>(2) as u64 });
            }
        }
        for (key, name) in &self.attached {
            let recorded = inventory.recorded.get(key).map(|s| s.rows);
            // Rows inserted less rows deleted, as the server counts them
            // (aborted ones included), is the rows held: after a swap the
            // inserts alone, after change sets their inserts and deletes.
            let trusted = match (recorded, counters.get(key)) {
                (Some(rows), Some((Some(ins), Some(_), Some(del)))) => (ins - del == rows as i64).then_some(rows),
                _ => None,
            };
            let n = match trusted {
                Some(n) => n,
                None => {
                    let q = render(CATALOG.count_partition, &[("partition", &self.parent.sibling(name))]);
                    client.query_one(&q, &[]).map_err(PgError::db(format!("count rows of {name}")))?.get::<_, i64>(0)
                        as u64
                }
            };
            inventory.held.insert(*key, n);
        }
        Ok(inventory)
    }

    fn apply(&mut self, job: &Job<'_>, work: &Work<'_, '_>) -> Result<Applied, PgError> {
        // The cache of a remote stage's files first: a folder that cannot be
        // made fails the load before anything is created or removed.
        let files = StagedFiles::open(job.request.stage, job.dataset(), job.request.options.cache_dir.as_deref())?;
        let mut client = self.client.take().expect("inspect connects first");
        if work.table == TableState::Missing {
            self.create_parent(&mut client, job)?;
        }
        self.create_parent_indexes(&mut client)?;
        for s in work.steps.iter().filter(|s| s.action == Action::Removed) {
            self.remove(&mut client, s)?;
        }
        let columns = job.columns();
        let patches = work.to_patch();
        let swapped = if patches.is_empty() {
            BTreeMap::new()
        } else {
            let ctx = patch::PatchCtx {
                job,
                parent: &self.parent,
                partition_column: job.table.partition_column.as_deref().expect("checked in check_table"),
                columns: columns.clone(),
                attached: &self.attached,
                files: &files,
                before: work.before,
                upsert: self.opts.upsert,
                summaries: self.summaries,
                settings: &self.settings,
            };
            let applied = ctx.apply(&mut client, patches)?;
            self.maintained = applied.maintained;
            self.notes.extend(applied.notes);
            applied.swapped
        };
        drop(client);

        let reload = |s: &&Step<'_, PartitionEntry>| s.action.loaded() || swapped.contains_key(&s.key);
        let to_load: Vec<&Step<'_, PartitionEntry>> = work.steps.iter().filter(reload).collect();
        job.request.progress.begin("loading", Measure::Rows, to_load.iter().map(|s| s.rows()).sum());
        // Biggest partitions first, so the workers finish together.
        let mut queue = to_load;
        queue.sort_by_key(|s| std::cmp::Reverse(s.rows()));
        let ctx = unit::UnitCtx {
            job,
            opts: self.opts,
            parent: &self.parent,
            key: job.table.partition_column.as_deref().expect("checked in check_table"),
            columns,
            indexes: &self.indexes,
            unique_key: self.unique_key.as_deref(),
            attached: &self.attached,
            files,
            swap: Mutex::new(()),
        };
        let timed = run_units(
            &queue,
            self.opts.jobs,
            || worker_connection(&self.settings),
            |client, step| {
                let started = Instant::now();
                ctx.load(client, step)?;
                Ok((step.key, started.elapsed().as_secs_f64()))
            },
        )?;
        Ok(Applied { seconds: timed.into_iter().collect(), verify_seconds: 0.0, swapped })
    }
}

impl Postgres<'_> {
    /// Creates the parent table from the spec.
    fn create_parent(&self, client: &mut postgres::Client, job: &Job<'_>) -> Result<(), PgError> {
        let key = job.table.partition_column.as_deref().expect("checked in check_table");
        let ddl = render(
            LOAD.create_parent,
            &[
                ("schema", &quote_ident(&self.parent.schema)),
                ("schema_literal", &literal(&quote_ident(&self.parent.schema))),
                ("parent", &self.parent.quoted()),
                ("columns", &unit::column_definitions(&job.columns())),
                ("key", &quote_ident(key)),
            ],
        );
        client.batch_execute(&ddl).map_err(PgError::db(format!("create {}", self.parent.quoted())))
    }

    /// Creates the parent's indexes that are missing.
    fn create_parent_indexes(&self, client: &mut postgres::Client) -> Result<(), PgError> {
        let parent = self.parent.quoted();
        for cols in &self.indexes {
            let list = cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
            let name = quote_ident(&index_name(&self.parent.name, cols));
            let sql = render(LOAD.create_parent_index, &[("name", &name), ("parent", &parent), ("columns", &list)]);
            client.batch_execute(&sql).map_err(PgError::db(format!("create index on {parent} ({list})")))?;
        }
        if let Some(cols) = &self.unique_key {
            let list = cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ");
            let name = quote_ident(&index_name(&self.parent.name, &[cols.clone(), vec!["key".into()]].concat()));
            let sql =
                render(LOAD.create_parent_unique_index, &[("name", &name), ("parent", &parent), ("columns", &list)]);
            client.batch_execute(&sql).map_err(PgError::db(format!("create unique index on {parent} ({list})")))?;
        }
        Ok(())
    }

    /// Detaches and drops a partition no longer staged, and forgets it, in a
    /// short transaction of its own.
    fn remove(&self, client: &mut postgres::Client, step: &Step<'_, PartitionEntry>) -> Result<(), PgError> {
        let mut tx = client.transaction().map_err(PgError::db("begin"))?;
        if let Some(name) = self.attached.get(&step.key) {
            let sql = render(
                LOAD.detach_drop,
                &[("parent", &self.parent.quoted()), ("partition", &self.parent.sibling(name))],
            );
            tx.batch_execute(&sql).map_err(PgError::db(format!("remove {}", step.path)))?;
        }
        tx.execute(STATE.forget_unit, &[&self.parent.schema, &self.parent.name, &step.path])
            .map_err(PgError::db("update pqstage.load_state"))?;
        tx.commit().map_err(PgError::db("commit"))
    }
}
