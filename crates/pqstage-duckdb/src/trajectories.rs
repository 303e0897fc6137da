//! `pqstage load duckdb` for trajectory datasets: the users' tables
//! (`sql/duckdb/trajectories_schema.sql`), one episode per transaction.
//!
//! A new episode is inserted with `read_parquet`; its properties get their
//! `observation_id` from one join on the natural key with the episode a
//! constant. A changed episode is replaced in one transaction too, but not by
//! delete-then-insert: DuckDB 1.5 refuses to delete a row whose referencing
//! rows were deleted in the same transaction ("still referenced by a foreign
//! key"). So its observations and properties are upserted on their keys
//! (ids kept; a changed value is updated in place, which touches none of the
//! indexes, while a delete and insert would update every index of
//! extended_properties), the properties it lost deleted; the rare
//! observations the new version no longer has are deleted right after, in a
//! second transaction. A removed episode is deleted table by table, children
//! first, one transaction each, for the same reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use duckdb::{params, Connection};
use pqstage_load::episodes::{
    fetch_parts, missing_column, one_line, own_episodes, EpisodeReport, EpisodeUnit, StepSeconds, TrajectoryReport,
    TrajectoryTables,
};
use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::{plan, Action, Inventory, LoadError, Recorded, Request, Scope, StagedFiles, Step};
use pqstage_stage::manifest::PartitionEntry;

use crate::error::DuckdbError;
use crate::sql::{TRAJECTORY_LOAD, TRAJECTORY_QUERIES, TRAJECTORY_SCHEMA};

/// Where a trajectory dataset goes.
#[derive(Debug, Clone)]
pub struct TrajectoryTarget {
    /// The DuckDB file (created if missing).
    pub db: PathBuf,
    /// The schema of the users' tables (`main` by default).
    pub schema: String,
    /// DuckDB worker threads.
    pub threads: Option<usize>,
    /// DuckDB's memory limit in bytes ([`crate::limit_memory`]; `None`: DuckDB's default).
    pub memory_limit: Option<u64>,
}

struct Db<'a> {
    conn: Connection,
    catalog: String,
    schema: String,
    state: String,
    target: &'a TrajectoryTarget,
}

impl<'a> Db<'a> {
    /// The target's database, opened and configured for a load.
    fn open(target: &'a TrajectoryTarget) -> Result<Self, DuckdbError> {
        let conn = crate::open(&target.db, target.threads, false)?;
        crate::limit_memory(&conn, target.memory_limit)?;
        conn.execute_batch(TRAJECTORY_LOAD.load_settings).map_err(DuckdbError::sql("configure the load"))?;
        let catalog: String = conn
            .query_row("SELECT current_catalog()", [], |r| r.get(0))
            .map_err(DuckdbError::sql("read the catalog name"))?;
        Ok(Db {
            conn,
            schema: quote_ident(&target.schema),
            state: format!("{}.pqstage.episode_state", quote_ident(&catalog)),
            catalog: quote_ident(&catalog),
            target,
        })
    }

    /// Closes the database and opens it again, between two episodes. DuckDB
    /// keeps the index nodes (ART) a statement reads or writes in memory for
    /// as long as the database is open, and on this schema every episode
    /// writes eight (then twelve, with the users' copies of the foreign
    /// keys' indexes), so over one long-lived connection each loaded
    /// episode's index nodes stayed resident: the load's peak memory grew
    /// with the episodes loaded (433 MiB at 10 boids episodes, 774 MiB at
    /// 40). Reopened, the next episode brings back from the file only the
    /// nodes it touches (its own keys, and the right edge of the growing
    /// ones): 313 MiB and 323 MiB, for 0.04 s per episode.
    fn reopen(self) -> Result<Self, DuckdbError> {
        let target = self.target;
        self.conn.close().map_err(|(_, e)| DuckdbError::sql("close the database between episodes")(e))?;
        Db::open(target)
    }

    fn sql(&self, template: &str, files: Option<&str>) -> String {
        render(template, &[("schema", &self.schema), ("state", &self.state), ("files", files.unwrap_or("[]"))])
    }

    fn in_transaction<T>(
        &self,
        what: &'static str,
        f: impl FnOnce() -> Result<T, DuckdbError>,
    ) -> Result<T, DuckdbError> {
        self.conn.execute_batch("BEGIN TRANSACTION").map_err(DuckdbError::sql(what))?;
        match f() {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").map_err(DuckdbError::sql(what))?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// Loads a trajectory dataset: sessions first, then every new or changed
/// episode in a transaction of its own. An episode that fails is rolled back
/// and reported; the others still load.
///
/// # Errors
/// Opening the file, creating the tables or upserting the sessions; a
/// failed episode is in the report instead.
pub fn load_trajectories(request: &Request<'_>, target: &TrajectoryTarget) -> Result<TrajectoryReport, DuckdbError> {
    let started = Instant::now();
    let manifest = request.manifest;
    let tables = TrajectoryTables::of(manifest)?;
    let units = tables.units()?;
    let mut db = Db::open(target)?;
    let created = create_tables(&db)?;
    let inventory = if created { None } else { Some(inventory(&db, &manifest.dataset, &units)?) };
    let scope = Scope { force: request.options.force, only: None };
    let steps = plan(&units, inventory.as_ref(), &scope, &manifest.dataset, |k| format!("episode_id={k}"))?;

    let files = StagedFiles::open(request.stage, &manifest.dataset, request.options.cache_dir.as_deref())?;
    let fetch = |group: &str, parts: &[&PartitionEntry]| -> Result<_, DuckdbError> {
        Ok(fetch_parts(request, &files, group, parts)?)
    };

    // Categories and sessions, in one transaction.
    let session_parts: Vec<&PartitionEntry> = tables.sessions.partitions.iter().collect();
    let fetched = fetch("sessions", &session_parts)?;
    let session_files = file_list(fetched.dir(), &session_parts)?;
    let category = &manifest.trajectories.as_ref().expect("checked by TrajectoryTables").session.category;
    db.in_transaction("upsert the sessions", || {
        db.conn
            .execute(&db.sql(TRAJECTORY_LOAD.upsert_category, None), params![category, category])
            .map_err(DuckdbError::sql("insert the category"))?;
        let moved: Option<(String, String, String)> = db
            .conn
            .query_row(&db.sql(TRAJECTORY_LOAD.session_categories, Some(&session_files)), [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map(Some)
            .or_else(|e| if matches!(e, duckdb::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })
            .map_err(DuckdbError::sql("read the sessions' categories"))?;
        if let Some((session, old, new)) = moved {
            return Err(DuckdbError::Trajectory(format!(
                "session {session} is under category {old} in the target and {new} in the stage: DuckDB cannot move a session whose episodes reference it; delete the session's episodes first"
            )));
        }
        db.conn
            .execute(&db.sql(TRAJECTORY_LOAD.upsert_sessions, Some(&session_files)), [])
            .map_err(DuckdbError::sql("upsert the sessions"))?;
        Ok(())
    })?;
    drop(fetched);

    let total: u64 = steps.iter().filter(|s| s.action.loaded()).map(Step::rows).sum();
    request.progress.begin("loading", pqstage_stage::progress::Measure::Rows, total);
    let mut reports = Vec::with_capacity(steps.len());
    let mut worked = false;
    for step in &steps {
        if step.action != Action::Unchanged {
            if worked {
                db = db.reopen()?;
            }
            worked = true;
        }
        let outcome = match (&step.action, step.staged) {
            (Action::Unchanged, _) => Ok(StepSeconds::default()),
            (Action::Removed, _) => remove(&db, &step.key),
            (_, Some(unit)) => {
                let parts = [unit.episode, unit.observations, unit.properties];
                fetch(&unit.path, &parts).and_then(|fetched| {
                    let replace = inventory
                        .as_ref()
                        .is_some_and(|i| i.held.contains_key(&unit.id) || i.recorded.contains_key(&unit.id));
                    load_episode(&db, unit, fetched.dir(), replace, &manifest.dataset)
                })
            }
            (_, None) => unreachable!("a loaded step has a staged unit"),
        };
        let report = EpisodeReport::new(step, Some(outcome.map_err(|e| one_line(&e))));
        if step.action.loaded() {
            request.progress.add(report.observations);
        }
        reports.push(report);
    }
    Ok(TrajectoryReport {
        after_data: None,
        notes: Vec::new(),
        target: format!("{}:{}", target.db.display(), target.schema),
        created,
        sessions: session_parts.len(),
        episodes: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `['…', '…']` of a unit's files.
fn file_list(dir: &Path, parts: &[&PartitionEntry]) -> Result<String, DuckdbError> {
    let dir = std::path::absolute(dir).map_err(|source| DuckdbError::Io {
        op: "resolve",
        path: dir.to_path_buf(),
        source,
    })?;
    let list: Vec<String> =
        parts.iter().flat_map(|p| p.files.iter()).map(|f| literal(&dir.join(&f.path).to_string_lossy())).collect();
    Ok(format!("[{}]", list.join(", ")))
}

/// Creates the users' tables where missing and seeds the agent types and
/// property definitions; checks an existing schema has the columns the load
/// writes. True when the tables were created now.
fn create_tables(db: &Db<'_>) -> Result<bool, DuckdbError> {
    let exists: i64 = db
        .conn
        .query_row(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = 'observations' AND database_name = current_catalog()",
            params![db.target.schema],
            |r| r.get(0),
        )
        .map_err(DuckdbError::sql("look for the tables"))?;
    let ddl = [
        db.sql(TRAJECTORY_SCHEMA.create_schema, None),
        db.sql(TRAJECTORY_SCHEMA.seed_agent_types, None),
        db.sql(TRAJECTORY_SCHEMA.seed_property_definitions, None),
        render(TRAJECTORY_LOAD.create_state, &[("catalog", &db.catalog), ("state", &db.state)]),
    ];
    db.conn.execute_batch(&ddl.join("\n")).map_err(DuckdbError::sql("create the trajectory tables"))?;
    let what = "read the tables' columns";
    let mut stmt = db
        .conn
        .prepare("SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = ? AND database_name = current_catalog()")
        .map_err(DuckdbError::sql(what))?;
    let have: std::collections::HashSet<(String, String)> = stmt
        .query_map(params![db.target.schema], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .map_err(DuckdbError::sql(what))?;
    if let Some((table, missing)) = missing_column(|t, c| have.contains(&(t.to_string(), c.to_string()))) {
        return Err(DuckdbError::Trajectory(format!(
            "table {}.{table} has no column {missing}: it is not the trajectory schema pqstage loads (sql/duckdb/trajectories_schema.sql)",
            db.target.schema
        )));
    }
    Ok(exists == 0)
}

/// What the target records and holds per episode.
fn inventory(db: &Db<'_>, dataset: &str, units: &[EpisodeUnit<'_>]) -> Result<Inventory<String>, DuckdbError> {
    let mut inv = Inventory::default();
    let what = "read pqstage.episode_state";
    let mut stmt = db.conn.prepare(&db.sql(TRAJECTORY_LOAD.read_state, None)).map_err(DuckdbError::sql(what))?;
    inv.recorded = stmt
        .query_map(params![db.target.schema, dataset], |r| {
            Ok((r.get::<_, String>(0)?, Recorded { checksum: r.get(1)?, rows: r.get::<_, i64>(2)? as u64 }))
        })
        .and_then(Iterator::collect::<Result<BTreeMap<_, _>, _>>)
        .map_err(DuckdbError::sql(what))?;
    let what = "count observations per episode";
    let mut stmt = db.conn.prepare(&db.sql(TRAJECTORY_LOAD.held_rows, None)).map_err(DuckdbError::sql(what))?;
    inv.held = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
        .and_then(Iterator::collect::<Result<BTreeMap<_, _>, _>>)
        .map_err(DuckdbError::sql(what))?;
    own_episodes(&mut inv, units);
    Ok(inv)
}

/// One episode, in one transaction (plus, for a replaced one, the deletion
/// of observations its new version no longer has).
fn load_episode(
    db: &Db<'_>,
    unit: &EpisodeUnit<'_>,
    dir: &Path,
    replace: bool,
    dataset: &str,
) -> Result<StepSeconds, DuckdbError> {
    let (episode_files, obs_files, prop_files) =
        (file_list(dir, &[unit.episode])?, file_list(dir, &[unit.observations])?, file_list(dir, &[unit.properties])?);
    let id = unit.id.as_str();
    let mut t = StepSeconds::default();
    let whole = Instant::now();
    db.in_transaction("load an episode", || {
        let clock = Instant::now();
        // The session an existing episode is under cannot change (its key is referenced).
        if replace {
            check_session(db, id, &episode_files)?;
        }
        check_defined(db, unit, &obs_files, &prop_files)?;
        db.conn
            .execute(&db.sql(TRAJECTORY_LOAD.upsert_episode, Some(&episode_files)), params![id])
            .map_err(DuckdbError::sql("upsert the episode"))?;
        t.prepare = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let insert = if replace { TRAJECTORY_LOAD.upsert_observations } else { TRAJECTORY_LOAD.insert_observations };
        db.conn
            .execute(&db.sql(insert, Some(&obs_files)), params![id])
            .map_err(|source| DuckdbError::Read { source })?;
        t.observations = clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        if replace {
            // Staged with their ids once, then changed values updated, new
            // keys inserted and lost ones deleted.
            db.conn
                .execute(&db.sql(TRAJECTORY_LOAD.stage_properties, Some(&prop_files)), params![id])
                .map_err(|source| DuckdbError::Read { source })?;
            for (what, q) in [
                ("update the changed properties", TRAJECTORY_LOAD.update_properties),
                ("insert the new properties", TRAJECTORY_LOAD.insert_new_properties),
            ] {
                db.conn.execute(&db.sql(q, None), []).map_err(DuckdbError::sql(what))?;
            }
            t.properties = clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            db.conn
                .execute(&db.sql(TRAJECTORY_LOAD.delete_lost_properties, None), params![id])
                .map_err(DuckdbError::sql("delete the properties the episode lost"))?;
            db.conn
                .execute_batch(TRAJECTORY_LOAD.drop_property_stage)
                .map_err(DuckdbError::sql("drop the property stage"))?;
            t.delete = clock.elapsed().as_secs_f64();
        } else {
            db.conn
                .execute(&db.sql(TRAJECTORY_LOAD.insert_properties, Some(&prop_files)), params![id])
                .map_err(|source| DuckdbError::Read { source })?;
            t.properties = clock.elapsed().as_secs_f64();
        }
        let clock = Instant::now();
        if !replace {
            verify(db, unit)?;
        }
        record(db, unit, dataset)?;
        t.verify = clock.elapsed().as_secs_f64();
        Ok(())
    })?;
    // The commit (DuckDB writes the episode's rows and index changes then) counts as verify+commit.
    t.verify += whole.elapsed().as_secs_f64() - (t.prepare + t.delete + t.observations + t.properties + t.verify);
    if replace {
        let clock = Instant::now();
        db.in_transaction("delete the episode's stale observations", || {
            db.conn
                .execute(&db.sql(TRAJECTORY_LOAD.delete_stale, Some(&obs_files)), params![id])
                .map_err(DuckdbError::sql("delete the episode's stale observations"))?;
            verify(db, unit)
        })?;
        t.delete += clock.elapsed().as_secs_f64();
    }
    Ok(t)
}

fn check_session(db: &Db<'_>, id: &str, episode_files: &str) -> Result<(), DuckdbError> {
    let old: Option<String> = db
        .conn
        .query_row(&db.sql(TRAJECTORY_LOAD.episode_session, None), params![id], |r| r.get(0))
        .map(Some)
        .or_else(|e| if matches!(e, duckdb::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })
        .map_err(DuckdbError::sql("read the episode's session"))?;
    let new: String = db
        .conn
        .query_row(
            &format!("SELECT session_id FROM read_parquet({episode_files}, hive_partitioning = false)"),
            [],
            |r| r.get(0),
        )
        .map_err(|source| DuckdbError::Read { source })?;
    match old {
        Some(old) if old != new => Err(DuckdbError::Trajectory(format!(
            "episode {id} is under session {old} in the target and {new} in the stage: DuckDB cannot move an episode whose observations reference it"
        ))),
        _ => Ok(()),
    }
}

/// Refuses an episode whose agent types or properties the target does not
/// define, naming the first row that uses one.
fn check_defined(db: &Db<'_>, unit: &EpisodeUnit<'_>, obs_files: &str, prop_files: &str) -> Result<(), DuckdbError> {
    let first = |sql: String, n: usize| -> Result<Option<Vec<String>>, DuckdbError> {
        let mut stmt = db.conn.prepare(&sql).map_err(|source| DuckdbError::Read { source })?;
        let mut rows = stmt.query([]).map_err(|source| DuckdbError::Read { source })?;
        match rows.next().map_err(|source| DuckdbError::Read { source })? {
            None => Ok(None),
            Some(r) => Ok(Some(
                (0..n)
                    .map(|i| r.get::<_, duckdb::types::Value>(i).map(|v| value_text(&v)))
                    .collect::<Result<_, _>>()
                    .map_err(|source| DuckdbError::Read { source })?,
            )),
        }
    };
    if let Some(v) = first(db.sql(TRAJECTORY_LOAD.unknown_agent_types, Some(obs_files)), 3)? {
        return Err(DuckdbError::Trajectory(format!(
            "episode {}: agent_type_id '{}' (time_index {}, agent_id {}) is not in {}.agent_types: add it there first",
            unit.id, v[0], v[1], v[2], db.target.schema
        )));
    }
    if let Some(v) = first(db.sql(TRAJECTORY_LOAD.unknown_properties, Some(prop_files)), 4)? {
        return Err(DuckdbError::Trajectory(format!(
            "episode {}: property_id '{}' (time_index {}, agent_id {}, agent_type_id {}) is not in {}.property_definitions: add it there first",
            unit.id, v[0], v[1], v[2], v[3], db.target.schema
        )));
    }
    Ok(())
}

fn value_text(v: &duckdb::types::Value) -> String {
    use duckdb::types::Value;
    match v {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(i) => i.to_string(),
        Value::Null => "NULL".into(),
        other => format!("{other:?}"),
    }
}

/// Checks the episode's rows in the target against the manifest.
fn verify(db: &Db<'_>, unit: &EpisodeUnit<'_>) -> Result<(), DuckdbError> {
    let (obs, props): (i64, i64) = db
        .conn
        .query_row(&db.sql(TRAJECTORY_QUERIES.episode_counts, None), params![unit.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(DuckdbError::sql("count the episode's rows"))?;
    for (table, held, staged) in
        [("observations", obs, unit.observations.rows), ("extended_properties", props, unit.properties.rows)]
    {
        LoadError::check_count(
            &format!("{}.{table}", db.target.schema),
            &unit.path,
            staged,
            held as u64,
            pqstage_load::Counted::Held,
        )?;
    }
    Ok(())
}

fn record(db: &Db<'_>, unit: &EpisodeUnit<'_>, dataset: &str) -> Result<(), DuckdbError> {
    use pqstage_load::StagedUnit;
    db.conn
        .execute(
            &db.sql(TRAJECTORY_LOAD.record_episode, None),
            params![
                db.target.schema,
                unit.id,
                unit.checksum(),
                unit.observations.rows as i64,
                unit.properties.rows as i64,
                dataset
            ],
        )
        .map_err(DuckdbError::sql("record the episode"))?;
    Ok(())
}

/// Deletes an episode no longer staged: properties, observations, the
/// episode's row and its record, children first, one transaction each.
fn remove(db: &Db<'_>, id: &str) -> Result<StepSeconds, DuckdbError> {
    let clock = Instant::now();
    for (what, sql) in [
        ("delete the episode's properties", TRAJECTORY_LOAD.delete_properties),
        ("delete the episode's observations", TRAJECTORY_LOAD.delete_observations),
        ("delete the episode", TRAJECTORY_LOAD.delete_episode),
    ] {
        db.in_transaction(what, || {
            db.conn.execute(&db.sql(sql, None), params![id]).map(drop).map_err(DuckdbError::sql(what))
        })?;
    }
    db.conn
        .execute(&db.sql(TRAJECTORY_LOAD.forget_episode, None), params![db.target.schema, id])
        .map_err(DuckdbError::sql("forget the episode"))?;
    Ok(StepSeconds { delete: clock.elapsed().as_secs_f64(), ..StepSeconds::default() })
}

/// The named queries of `sql/duckdb/trajectories_queries.sql` for a schema
/// of the users' tables: name, description and SQL (parameters bound as
/// each description says).
pub fn named_queries(schema: &str) -> Vec<(&'static str, &'static str, String)> {
    TRAJECTORY_QUERIES.all().for_schema(schema)
}
