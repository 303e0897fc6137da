//! `pqstage load postgres` for trajectory datasets: the users' tables
//! (`sql/postgres/trajectories_schema.sql`), one episode per transaction on
//! `--jobs` connections.
//!
//! A new episode's unit of work: upsert its row; binary COPY its
//! observations (the server assigns `observation_id`); binary COPY its
//! properties into a temporary table; one `INSERT … SELECT … JOIN
//! observations` on the natural key with the episode a constant; check both
//! counts against the manifest; record it; commit. A changed episode is
//! merged in one transaction instead: both parts staged, new keys inserted,
//! changed values updated (ids kept), lost rows deleted. Readers see the old
//! episode or the new one.
//!
//! A first load into empty tables makes the foreign keys and secondary
//! indexes after the data (`bulk.rs`).

mod bulk;
mod merge;
mod stage;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::Array;
use pqstage_load::episodes::{
    fetch_parts, missing_column, one_line, own_episodes, EpisodeReport, EpisodeUnit, StepSeconds, TrajectoryReport,
    TrajectoryTables,
};
use pqstage_load::sql::{quote_ident, render};
use pqstage_load::{
    plan, run_units, Action, Counted, Inventory, LoadError, Recorded, Request, Scope, StagedFiles, StagedUnit, Step,
};
use pqstage_stage::manifest::PartitionEntry;

use crate::connect::{connect, worker_connection, Settings};
use crate::encode::Constant;
use crate::error::PgError;
use crate::read::{copy_files, for_each_batch};
use crate::sql::{TRAJECTORY_LOAD, TRAJECTORY_QUERIES, TRAJECTORY_SCHEMA};
use bulk::{load_bulk, load_parallel, pending_upkeep};
use stage::Properties;

/// Where a trajectory dataset goes.
#[derive(Debug, Clone)]
pub struct PgTrajectoryTarget {
    /// Connection URL or key=value string (else libpq's PG* variables).
    pub db: Option<String>,
    /// Schema of the users' tables.
    pub schema: String,
    /// Connections loading episodes at once.
    pub jobs: usize,
    /// Never take the bulk path of a first load (one transaction, keys and
    /// indexes made after the data): load each episode on its own.
    pub per_episode: bool,
    /// The fillfactor of observations and extended_properties, set before
    /// the episodes load (None: the spec's on tables the load creates,
    /// else theirs as it is).
    pub fillfactor: Option<u8>,
    /// Leave the statistics after a first load to autovacuum.
    pub no_analyze: bool,
}

/// A staged episode row, read from its Parquet file.
struct EpisodeRow {
    session_id: String,
    episode_number: i32,
    num_frames: i32,
    num_agents: i32,
    frame_rate: f64,
    file_path: String,
}

/// Loads a trajectory dataset: tables created where missing, sessions
/// upserted, then every new or changed episode in a transaction of its own
/// on one of `jobs` connections. A failed episode is rolled back and
/// reported; the others still load.
///
/// # Errors
/// Connecting, creating the tables, or upserting the sessions.
pub fn load_trajectories(request: &Request<'_>, target: &PgTrajectoryTarget) -> Result<TrajectoryReport, PgError> {
    let started = Instant::now();
    let manifest = request.manifest;
    let tables = TrajectoryTables::of(manifest)?;
    let units = tables.units()?;
    let settings = Settings::resolve(target.db.as_deref())?;
    let role = settings.config().get_user().unwrap_or_default().to_string();
    let schema = quote_ident(&target.schema);
    let sql = |t: &str| render(t, &[("schema", &schema)]);
    let mut client = connect(&settings)?;
    lock_schema(&mut client, &target.schema)?;

    let has_schema: bool = client
        .query_one(TRAJECTORY_LOAD.schema_exists, &[&target.schema])
        .map_err(PgError::db("look for the schema"))?
        .get(0);
    if !has_schema {
        client
            .batch_execute(&sql(TRAJECTORY_LOAD.create_users_schema))
            .map_err(PgError::db(format!("create the missing schema {}", target.schema)))
            .map_err(|e| e.with_role(&role, &target.schema))?;
    }
    let exists: bool = client
        .query_one(TRAJECTORY_LOAD.tables_exist, &[&target.schema])
        .map_err(PgError::db("look for the tables"))?
        .get(0);
    let setup = [
        sql(TRAJECTORY_SCHEMA.create_schema),
        sql(TRAJECTORY_SCHEMA.seed_agent_types),
        sql(TRAJECTORY_SCHEMA.seed_property_definitions),
    ];
    client
        .batch_execute(&setup.join("\n"))
        .map_err(PgError::db(format!("create the trajectory tables in schema {}", target.schema)))
        .map_err(|e| e.with_role(&role, &target.schema))?;
    client.batch_execute(TRAJECTORY_LOAD.create_state).map_err(PgError::db("create pqstage.episode_state"))?;
    check_columns(&mut client, &target.schema)?;
    // The tables' fillfactors, read once: --fillfactor sets them where they
    // differ, the spec's ([postgres] fillfactor) only on the tables this
    // load created (the users' own keep theirs), and the advice at the end
    // of a load depends on them.
    let spec = manifest.trajectories.as_ref().expect("checked by TrajectoryTables");
    let wanted = target.fillfactor.or(if exists { None } else { spec.postgres.fillfactor });
    let mut fillfactors: Vec<i32> = client
        .query(TRAJECTORY_LOAD.fillfactors, &[&target.schema])
        .map_err(PgError::db("read the fillfactors"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(ff) = wanted {
        if fillfactors.iter().any(|&now| now != i32::from(ff)) {
            let set = render(TRAJECTORY_LOAD.set_fillfactor, &[("schema", &schema), ("fillfactor", &ff.to_string())]);
            client
                .batch_execute(&set)
                .map_err(PgError::db(format!("set the fillfactor of the tables in schema {}", target.schema)))
                .map_err(|e| e.with_role(&role, &target.schema))?;
            fillfactors.fill(i32::from(ff));
        }
    }
    let inventory =
        if exists { Some(inventory(&mut client, &target.schema, &manifest.dataset, &units, &sql)?) } else { None };
    let scope = Scope { force: request.options.force, only: None };
    let steps = plan(&units, inventory.as_ref(), &scope, &manifest.dataset, |k| format!("episode_id={k}"))?;
    let files = StagedFiles::open(request.stage, &manifest.dataset, request.options.cache_dir.as_deref())?;
    let ctx = Ctx { request, files: &files, target, schema: schema.clone(), rewrites: std::sync::Mutex::default() };

    // Category and sessions, in one transaction.
    let session_parts: Vec<&PartitionEntry> = tables.sessions.partitions.iter().collect();
    let fetched = fetch_parts(request, &files, "sessions", &session_parts)?;
    let mut tx = client.transaction().map_err(PgError::db("begin"))?;
    tx.execute(&sql(TRAJECTORY_LOAD.upsert_category), &[&spec.session.category])
        .map_err(PgError::db("insert the category"))?;
    let upsert = sql(TRAJECTORY_LOAD.upsert_session);
    for p in &session_parts {
        let id = p.key.clone().unwrap_or_default();
        for f in &p.files {
            for_each_batch(
                &fetched.dir().join(&f.path),
                &["session_name", "category_id", "config", "metadata"],
                |b| {
                    let (name, category, config, metadata) = (text(&b, 0)?, text(&b, 1)?, text(&b, 2)?, text(&b, 3)?);
                    for i in 0..b.num_rows() {
                        let opt = |a: &arrow_array::StringArray| a.is_valid(i).then(|| a.value(i).to_string());
                        tx.execute(&upsert, &[&id, &name.value(i), &category.value(i), &opt(&config), &opt(&metadata)])
                            .map_err(PgError::db(format!("upsert session {id}")))?;
                    }
                    Ok(())
                },
            )?;
        }
    }
    tx.commit().map_err(PgError::db("commit the sessions"))?;
    drop(fetched);

    let replaceable =
        |id: &String| inventory.as_ref().is_some_and(|i| i.held.contains_key(id) || i.recorded.contains_key(id));
    let total: u64 = steps.iter().filter(|s| s.action.loaded()).map(Step::rows).sum();
    request.progress.begin("loading", pqstage_stage::progress::Measure::Rows, total);
    let work: Vec<&Step<'_, EpisodeUnit<'_>>> = steps.iter().filter(|s| s.action != Action::Unchanged).collect();
    let empty: bool = client
        .query_one(&sql(TRAJECTORY_LOAD.table_is_empty), &[])
        .map_err(PgError::db("look for observations"))?
        .get(0);
    let pending = pending_upkeep(&mut client, &target.schema)?;
    let bulk = empty && work.len() > 1 && !target.per_episode;
    let (outcomes, upkeep_seconds) = if !pending.is_empty() || (bulk && target.jobs > 1) {
        load_parallel(&mut client, &ctx, &work, &settings, pending, &replaceable)?
    } else if bulk {
        load_bulk(&mut client, &ctx, &work)?
    } else {
        let outcomes = run_units(
            &work,
            target.jobs.max(1),
            || worker_connection(&settings),
            |client, step| Ok::<_, PgError>(load_step(client, &ctx, step, Mode::New, &replaceable)),
        )?;
        (outcomes, 0.0)
    };
    let outcomes: Vec<Result<StepSeconds, String>> =
        outcomes.into_iter().map(|r| r.map_err(|e| describe(&e.with_role(&role, &target.schema)))).collect();
    let mut by_key: BTreeMap<&str, Result<StepSeconds, String>> = BTreeMap::new();
    for (step, outcome) in work.iter().zip(outcomes) {
        by_key.insert(step.key.as_str(), outcome);
    }
    let episodes: Vec<EpisodeReport> =
        steps.iter().map(|s| EpisodeReport::new(s, by_key.remove(s.key.as_str()))).collect();
    let full_pages = fillfactors.iter().any(|&ff| ff >= 100);
    let notes = fillfactor_note(&ctx, &episodes, full_pages).into_iter().collect();
    Ok(TrajectoryReport {
        notes,
        after_data: (upkeep_seconds > 0.0).then_some((
            if target.no_analyze { "foreign keys and indexes" } else { "foreign keys, indexes and statistics" },
            upkeep_seconds,
        )),
        target: format!("{} schema {}", settings.describe(), target.schema),
        created: !exists,
        sessions: session_parts.len(),
        episodes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One step of a load on its own connection: a removed episode deleted, a
/// held one merged, any other loaded in `new` mode; counted in the progress.
fn load_step(
    client: &mut postgres::Client,
    ctx: &Ctx<'_>,
    step: &Step<'_, EpisodeUnit<'_>>,
    new: Mode,
    replaceable: &(dyn Fn(&String) -> bool + Sync),
) -> Result<StepSeconds, PgError> {
    let result = match step.staged {
        None => remove(client, ctx, &step.key),
        Some(unit) => load_episode_alone(client, ctx, unit, if replaceable(&step.key) { Mode::Replace } else { new }),
    };
    if step.action.loaded() {
        ctx.request.progress.add(step.rows());
    }
    result
}

/// Waits up to 30 s for any other trajectory load of the same schema to end
/// (one whose client just died holds the lock until the server notices).
fn lock_schema(client: &mut postgres::Client, schema: &str) -> Result<(), PgError> {
    client.batch_execute("SET lock_timeout = '30s'").map_err(PgError::db("set lock_timeout"))?;
    let locked = client.execute(TRAJECTORY_LOAD.lock_schema, &[&schema]);
    client.batch_execute("RESET lock_timeout").map_err(PgError::db("reset lock_timeout"))?;
    match locked {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Err(PgError::Conflict(format!(
            "another pqstage load has been writing schema {schema} of this database for 30 s: run this one once it ends"
        ))),
        Err(e) => Err(PgError::db("take the schema's load lock")(e)),
    }
}

/// An error on one line: what was being done, then the server's message
/// and detail (the driver's own text spans lines and repeats the detail).
fn describe(e: &PgError) -> String {
    let server = std::error::Error::source(e)
        .and_then(|c| c.downcast_ref::<postgres::Error>())
        .and_then(postgres::Error::as_db_error);
    match (e, server) {
        (PgError::Db { what, .. }, Some(db)) => {
            let mut s = format!("PostgreSQL: {what}: {}", db.message());
            if let Some(detail) = db.detail() {
                s.push_str(&format!(" ({detail})"));
            }
            s
        }
        _ => one_line(e).split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// Refuses an existing schema whose tables lack a column the load writes.
fn check_columns(client: &mut postgres::Client, schema: &str) -> Result<(), PgError> {
    let rows =
        client.query(TRAJECTORY_LOAD.table_columns, &[&schema]).map_err(PgError::db("read the tables' columns"))?;
    let have: std::collections::HashSet<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    if let Some((table, missing)) = missing_column(|t, c| have.contains(&(t.to_string(), c.to_string()))) {
        return Err(LoadError::NotTrajectories {
            dataset: String::new(),
            reason: format!(
                "table {schema}.{table} has no column {missing}: it is not the trajectory schema pqstage loads (sql/postgres/trajectories_schema.sql)"
            ),
        }
        .into());
    }
    Ok(())
}

/// What the target records and holds per episode.
fn inventory(
    client: &mut postgres::Client,
    schema: &str,
    dataset: &str,
    units: &[EpisodeUnit<'_>],
    sql: &dyn Fn(&str) -> String,
) -> Result<Inventory<String>, PgError> {
    let mut inv = Inventory::default();
    for r in client
        .query(TRAJECTORY_LOAD.read_state, &[&schema, &dataset])
        .map_err(PgError::db("read pqstage.episode_state"))?
    {
        inv.recorded.insert(r.get(0), Recorded { checksum: r.get(1), rows: r.get::<_, i64>(2) as u64 });
    }
    for r in
        client.query(&sql(TRAJECTORY_LOAD.held_rows), &[]).map_err(PgError::db("count observations per episode"))?
    {
        inv.held.insert(r.get(0), r.get::<_, i64>(1) as u64);
    }
    own_episodes(&mut inv, units);
    Ok(inv)
}

/// A text column as a plain string array (the reader may give dictionaries).
fn text(b: &arrow_array::RecordBatch, c: usize) -> Result<arrow_array::StringArray, PgError> {
    let a = arrow_cast::cast(b.column(c), &arrow_schema::DataType::Utf8).map_err(|e| LoadError::NotTrajectories {
        dataset: String::new(),
        reason: format!("column {c} of a staged file is not text: {e}"),
    })?;
    Ok(a.as_string::<i32>().clone())
}

/// The staged row of an episode.
fn episode_row(path: &Path) -> Result<EpisodeRow, PgError> {
    let mut row = None;
    let cols = ["session_id", "episode_number", "num_frames", "num_agents", "frame_rate", "file_path"];
    for_each_batch(path, &cols, |b| {
        if b.num_rows() > 0 {
            let int = |c: usize| b.column(c).as_primitive::<Int32Type>().value(0);
            row = Some(EpisodeRow {
                session_id: text(&b, 0)?.value(0).to_string(),
                episode_number: int(1),
                num_frames: int(2),
                num_agents: int(3),
                frame_rate: b.column(4).as_primitive::<Float64Type>().value(0),
                file_path: text(&b, 5)?.value(0).to_string(),
            });
        }
        Ok(())
    })?;
    row.ok_or_else(|| {
        LoadError::NotTrajectories {
            dataset: String::new(),
            reason: format!("{} holds no episode row", path.display()),
        }
        .into()
    })
}

/// What every episode's work shares.
struct Ctx<'a> {
    request: &'a Request<'a>,
    files: &'a StagedFiles,
    target: &'a PgTrajectoryTarget,
    /// The quoted schema the SQL templates name.
    schema: String,
    /// Per changed episode merged: its id, the property values the merge
    /// wrote (updated or inserted) and the episode's staged values.
    rewrites: std::sync::Mutex<Vec<(String, u64, u64)>>,
}

impl Ctx<'_> {
    /// A statement of `sql/postgres/trajectories_load.sql` for the target schema.
    fn sql(&self, template: &str) -> String {
        render(template, &[("schema", &self.schema)])
    }
}

/// How an episode is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not in the target: inserted.
    New,
    /// In the target: merged into what it holds.
    Replace,
    /// Part of a bulk first load: inserted, its lookups checked by hand.
    Bulk,
}

/// One episode, in one transaction.
fn load_episode(
    tx: &mut postgres::Transaction<'_>,
    ctx: &Ctx<'_>,
    unit: &EpisodeUnit<'_>,
    mode: Mode,
) -> Result<StepSeconds, PgError> {
    let (request, files, target, sql) = (ctx.request, ctx.files, ctx.target, |t: &str| ctx.sql(t));
    let mut t = StepSeconds::default();
    let clock = Instant::now();
    let fetched = fetch_parts(request, files, &unit.path, &[unit.episode, unit.observations, unit.properties])?;
    let dir = fetched.dir();
    let row = episode_row(&dir.join(&unit.episode.files[0].path))?;
    let id = unit.id.as_str();
    let what = |w: &str| format!("{w} of episode {id}");
    tx.batch_execute(TRAJECTORY_LOAD.drop_stages).map_err(PgError::db(what("drop the stages")))?;
    tx.execute(
        &sql(TRAJECTORY_LOAD.upsert_episode),
        &[&id, &row.session_id, &row.episode_number, &row.num_frames, &row.num_agents, &row.frame_rate, &row.file_path],
    )
    .map_err(PgError::db(what("upsert the row")))?;
    t.prepare = clock.elapsed().as_secs_f64();
    let obs_cols = ["time_index", "agent_id", "agent_type_id", "x", "y", "z", "v_x", "v_y", "v_z"];
    let obs_table = format!("{}.observations", target.schema);
    let prop_table = format!("{}.extended_properties", target.schema);
    // The episode's observations, binary COPY into `into` (the table, or
    // the stage a merge reads), the episode id the constant last column.
    let copy_observations = |tx: &mut postgres::Transaction<'_>, statement: &str, into: &str| -> Result<(), PgError> {
        let copied = copy_files(
            tx,
            statement,
            unit.observations.files.iter().map(|f| dir.join(&f.path)),
            &obs_cols,
            &[Constant::Text(id)],
            None,
            &what("copy the observations"),
        )?;
        LoadError::check_count(into, &unit.path, unit.observations.rows, copied, Counted::Copied)?;
        Ok(())
    };
    let prop_files: Vec<_> = unit.properties.files.iter().map(|f| dir.join(&f.path)).collect();
    let properties = Properties::of(&prop_files)?;
    let (columns, branches) = properties.placeholders();
    let stage_properties = |tx: &mut postgres::Transaction<'_>| -> Result<(), PgError> {
        tx.batch_execute(&render(
            TRAJECTORY_LOAD.create_property_stage,
            &[("columns", &columns), ("branches", &branches)],
        ))
        .map_err(PgError::db(what("create the property stage")))?;
        let (read, sent, copied) =
            properties.copy(tx, TRAJECTORY_LOAD.copy_properties, &prop_files, &what("copy the properties"))?;
        LoadError::check_count("pqstage_property_stage", &unit.path, unit.properties.rows, read, Counted::Copied)?;
        LoadError::check_count("pqstage_property_wide", &unit.path, sent, copied, Counted::Copied)?;
        Ok(())
    };
    if mode == Mode::Replace {
        // A changed episode is merged, not deleted and inserted: rows that did
        // not change are not written, keep their observation_id, and cost no
        // index or foreign-key upkeep (most of a load's time on this schema).
        let clock = Instant::now();
        tx.batch_execute(TRAJECTORY_LOAD.merge_settings).map_err(PgError::db(what("set up the merge")))?;
        tx.batch_execute(TRAJECTORY_LOAD.create_observation_stage)
            .map_err(PgError::db(what("create the observation stage")))?;
        copy_observations(tx, TRAJECTORY_LOAD.copy_observation_stage, "pqstage_observation_stage")?;
        stage_properties(tx)?;
        tx.batch_execute(TRAJECTORY_LOAD.analyze_stages).map_err(PgError::db(what("analyze the stages")))?;
        t.observations = clock.elapsed().as_secs_f64();
        // Observations first: new keys inserted, changed ones updated. Only if
        // the episode lost keys (the rows it had, plus the new ones, are more
        // than it has now) are the lost ones looked for and deleted (their
        // property values with them, by the cascade).
        let clock = Instant::now();
        let before: i64 = tx
            .query_one(&sql(TRAJECTORY_LOAD.count_observations), &[&id])
            .map_err(PgError::db(what("count the observations")))?
            .get(0);
        let new: i64 = tx
            .query_one(&sql(TRAJECTORY_LOAD.merge_observations), &[])
            .map_err(PgError::db(what("merge the observations")))?
            .get(0);
        t.observations += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        if before + new > unit.observations.rows as i64 {
            tx.execute(&sql(TRAJECTORY_LOAD.delete_lost_observations), &[&id])
                .map_err(PgError::db(what("delete the observations it lost")))?;
        }
        t.delete = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let merged = merge::merge_properties(tx, ctx, unit, &properties, (&columns, &branches))?;
        ctx.rewrites.lock().expect("no worker panicked").push((id.to_string(), merged.written, unit.properties.rows));
        LoadError::check_count(&obs_table, &unit.path, unit.observations.rows, merged.observations, Counted::Held)?;
        LoadError::check_count(&prop_table, &unit.path, unit.properties.rows, merged.properties, Counted::Held)?;
        t.properties = clock.elapsed().as_secs_f64();
    } else {
        let clock = Instant::now();
        copy_observations(tx, &sql(TRAJECTORY_LOAD.copy_observations), &obs_table)?;
        t.observations = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        stage_properties(tx)?;
        if mode == Mode::Bulk {
            // The foreign keys come back only at the end: check this episode's
            // values against the lookup tables now, so it alone is refused.
            bulk::check_defined(tx, ctx, unit, dir, &properties.ids())?;
            bulk::check_unique(tx, unit)?;
        }
        let inserted = tx
            .execute(&sql(TRAJECTORY_LOAD.insert_properties), &[&id])
            .map_err(PgError::db(what("insert the properties")))?;
        LoadError::check_count(&prop_table, &unit.path, unit.properties.rows, inserted, Counted::Held)?;
        t.properties = clock.elapsed().as_secs_f64();
    }
    let clock = Instant::now();
    tx.execute(
        TRAJECTORY_LOAD.record_episode,
        &[
            &target.schema,
            &id,
            &unit.checksum(),
            &(unit.observations.rows as i64),
            &(unit.properties.rows as i64),
            &request.manifest.dataset,
        ],
    )
    .map_err(PgError::db(what("record")))?;
    t.verify = clock.elapsed().as_secs_f64();
    Ok(t)
}

/// One episode in a transaction of its own.
fn load_episode_alone(
    client: &mut postgres::Client,
    ctx: &Ctx<'_>,
    unit: &EpisodeUnit<'_>,
    mode: Mode,
) -> Result<StepSeconds, PgError> {
    let what = |w: &str| format!("{w} of episode {}", unit.id);
    let mut tx = client.transaction().map_err(PgError::db(what("begin")))?;
    let mut t = load_episode(&mut tx, ctx, unit, mode)?;
    let clock = Instant::now();
    tx.commit().map_err(PgError::db(what("commit")))?;
    t.verify += clock.elapsed().as_secs_f64();
    Ok(t)
}

/// Deletes an episode no longer staged, in one transaction.
fn remove(client: &mut postgres::Client, ctx: &Ctx<'_>, id: &str) -> Result<StepSeconds, PgError> {
    let (schema, sql) = (&ctx.target.schema, |t: &str| ctx.sql(t));
    let clock = Instant::now();
    let what = |w: &str| format!("{w} of removed episode {id}");
    let mut tx = client.transaction().map_err(PgError::db(what("begin")))?;
    for (w, q) in [
        ("delete the properties", TRAJECTORY_LOAD.delete_properties),
        ("delete the observations", TRAJECTORY_LOAD.delete_observations),
        ("delete the row", TRAJECTORY_LOAD.delete_episode),
    ] {
        tx.execute(&sql(q), &[&id]).map_err(PgError::db(what(w)))?;
    }
    tx.execute(TRAJECTORY_LOAD.forget_episode, &[&schema, &id]).map_err(PgError::db(what("forget")))?;
    tx.commit().map_err(PgError::db(what("commit")))?;
    Ok(StepSeconds { delete: clock.elapsed().as_secs_f64(), ..StepSeconds::default() })
}

/// The named queries of `sql/postgres/trajectories_queries.sql` for a schema
/// of the users' tables: name, description and SQL (parameters bound as
/// each description says).
pub fn named_queries(schema: &str) -> Vec<(&'static str, &'static str, String)> {
    TRAJECTORY_QUERIES.all().for_schema(schema)
}

/// When changed episodes that loaded rewrote at least half of their property
/// values into tables at fillfactor 100 (tables that existed before
/// pqstage's first load, or loaded with `--fillfactor 100`), the advice to
/// load with a lower one: each new row version then goes to another page and
/// into every index, where at fillfactor 50 (the boids spec's) it stays on
/// its page (a re-simulated boids episode: 8.2 s against 3.2 s;
/// BENCHMARKS.md).
fn fillfactor_note(ctx: &Ctx<'_>, episodes: &[EpisodeReport], full_pages: bool) -> Option<String> {
    use pqstage_stage::fmt::group_digits;
    if !full_pages {
        return None;
    }
    let committed = |id: &str| episodes.iter().any(|e| e.episode == id && e.error.is_none());
    let rewrites = ctx.rewrites.lock().expect("no worker panicked");
    let most: Vec<&(String, u64, u64)> = rewrites
        .iter()
        .filter(|(id, written, staged)| *staged > 0 && written * 2 >= *staged && committed(id))
        .collect();
    let (id, written, staged) = most.first()?;
    let (written, staged) = (group_digits(*written), group_digits(*staged));
    let what = match most.len() {
        1 => format!("changed episode {id} rewrote {written} of its {staged} property values"),
        n => {
            format!("{n} changed episodes rewrote most of their property values (episode {id}: {written} of {staged})")
        }
    };
    Some(format!(
        "{what} in tables at fillfactor 100, where each new version goes to another page and into every index; loading with --fillfactor 50 leaves room on each page to rewrite an episode in place (a re-simulated episode then reloads in less than half the time), for tables twice the size"
    ))
}
