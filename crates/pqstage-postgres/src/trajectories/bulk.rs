//! A first load into empty tables, with the foreign keys of observations
//! and extended_properties, their indexes no constraint needs and the
//! primary key of extended_properties made after the data (a set-based
//! check per key and one sort per index, instead of a lookup per row): on
//! the `--jobs` connections as `pg_restore --jobs` does
//! ([`load_parallel`]), or with `--jobs 1` in one transaction ([`load_bulk`]);
//! each episode checked against the lookup tables the dropped foreign keys
//! would have checked ([`check_defined`]) and for a value its primary key
//! would have refused ([`check_unique`]).

use std::path::Path;
use std::time::Instant;

use pqstage_load::episodes::{EpisodeUnit, StepSeconds};
use pqstage_load::run_units;
use pqstage_load::sql::quote_ident;
use pqstage_load::Step;
use pqstage_stage::manifest::PartitionEntry;

use super::{load_episode, load_step, Ctx, Mode};
use crate::connect::{worker_connection, Settings};
use crate::error::PgError;
use crate::read::distinct_text;
use crate::sql::TRAJECTORY_LOAD;

/// A first load with `--jobs 1`: every episode in one transaction on one connection, each in
/// a savepoint (a bad episode is rolled back alone and reported), with the
/// foreign keys and the indexes no constraint needs of observations and
/// extended_properties dropped at the start and made again, with the same
/// names and definitions, before the commit. No other session ever sees the
/// tables without them: the drop and the load commit together, and a crash
/// rolls both back. Returns each episode's outcome and the seconds spent
/// putting the keys and indexes back (and gathering the tables' statistics).
pub(super) fn load_bulk(
    client: &mut postgres::Client,
    ctx: &Ctx<'_>,
    work: &[&Step<'_, EpisodeUnit<'_>>],
) -> Result<(Vec<Result<StepSeconds, PgError>>, f64), PgError> {
    let (request, target) = (ctx.request, ctx.target);
    let mut tx = client.transaction().map_err(PgError::db("begin the bulk load"))?;
    tx.batch_execute(TRAJECTORY_LOAD.bulk_settings).map_err(PgError::db("configure the bulk load"))?;
    let upkeep = read_upkeep(&mut tx, &target.schema)?;
    tx.batch_execute(&drop_upkeep(&upkeep))
        .map_err(PgError::db("drop the foreign keys and indexes for the bulk load"))?;
    let mut outcomes = Vec::with_capacity(work.len());
    for step in work {
        let unit = step.staged.expect("a first load has only staged episodes");
        let mut sp = tx.savepoint("pqstage_episode").map_err(PgError::db("savepoint"))?;
        let outcome = load_episode(&mut sp, ctx, unit, Mode::Bulk);
        if outcome.is_ok() {
            sp.commit().map_err(PgError::db("release savepoint"))?;
        } else {
            sp.rollback().map_err(PgError::db("roll back to savepoint"))?;
        }
        request.progress.add(step.rows());
        outcomes.push(outcome);
    }
    let clock = Instant::now();
    tx.batch_execute(&make_upkeep(&upkeep)).map_err(PgError::db("make the foreign keys and indexes again"))?;
    analyze(&mut tx, ctx)?;
    tx.commit().map_err(PgError::db("commit the bulk load"))?;
    Ok((outcomes, clock.elapsed().as_secs_f64()))
}

/// The end of a first load: the loaded tables' statistics, unless
/// `--no-analyze` leaves them to autovacuum.
fn analyze(tx: &mut postgres::Transaction<'_>, ctx: &Ctx<'_>) -> Result<(), PgError> {
    if ctx.target.no_analyze {
        return Ok(());
    }
    tx.batch_execute(&ctx.sql(TRAJECTORY_LOAD.analyze_loaded)).map_err(PgError::db("analyze the loaded tables"))
}

/// A foreign key, an index or a primary key a bulk load drops and makes
/// again: kind (`constraint`, `index` or `key`), table (qualified), name
/// (qualified for an index), definition (a key's: its index's).
pub(super) type Upkeep = (String, String, String, String);

/// A primary key's index, built on its own: the key is attached to it
/// afterwards ([`attach_key`]), a moment's lock where building it as a key
/// would block readers for the whole build.
fn key_index((_, _, _, def): &Upkeep) -> String {
    format!("{def};")
}

/// Makes a built index (with the key's name) the table's primary key.
fn attach_key((_, table, name, _): &Upkeep) -> String {
    let name = quote_ident(name);
    format!("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name};")
}

/// A primary key made in one go: its index, then the key.
fn make_key(key: &Upkeep) -> String {
    format!("{}\n{}", key_index(key), attach_key(key))
}

fn is_key((kind, ..): &Upkeep) -> bool {
    kind == "key"
}

/// The foreign keys of observations and extended_properties and their
/// indexes no constraint needs, named so that another session can replay
/// them.
fn read_upkeep(tx: &mut postgres::Transaction<'_>, schema: &str) -> Result<Vec<Upkeep>, PgError> {
    tx.batch_execute(TRAJECTORY_LOAD.qualify_names).map_err(PgError::db("qualify names"))?;
    let upkeep = upkeep_rows(
        &tx.query(TRAJECTORY_LOAD.bulk_upkeep, &[&schema]).map_err(PgError::db("read the foreign keys and indexes"))?,
    );
    tx.batch_execute(TRAJECTORY_LOAD.unqualify_names).map_err(PgError::db("restore the search_path"))?;
    Ok(upkeep)
}

/// Rows of (kind, table, name, definition).
fn upkeep_rows(rows: &[postgres::Row]) -> Vec<Upkeep> {
    rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

fn drop_upkeep(upkeep: &[Upkeep]) -> String {
    let drop: Vec<String> = upkeep
        .iter()
        .map(|(kind, table, name, _)| match kind.as_str() {
            "constraint" => format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {};", quote_ident(name)),
            // A key's index may stand alone: an interrupted load built it
            // and did not attach it.
            "key" => {
                let schema = table.rsplit_once('.').map_or(String::new(), |(schema, _)| format!("{schema}."));
                let name = quote_ident(name);
                format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};\nDROP INDEX IF EXISTS {schema}{name};")
            }
            _ => format!("DROP INDEX IF EXISTS {name};"),
        })
        .collect();
    drop.join("\n")
}

fn make_upkeep(upkeep: &[Upkeep]) -> String {
    let make: Vec<String> = upkeep
        .iter()
        .rev()
        .map(|item @ (kind, table, name, def)| match kind.as_str() {
            "constraint" => format!("ALTER TABLE {table} ADD CONSTRAINT {} {def};", quote_ident(name)),
            "key" => make_key(item),
            _ => format!("{def};"),
        })
        .collect();
    make.join("\n")
}

/// What an interrupted first load on several connections left to make again.
pub(super) fn pending_upkeep(client: &mut postgres::Client, schema: &str) -> Result<Vec<Upkeep>, PgError> {
    Ok(upkeep_rows(
        &client.query(TRAJECTORY_LOAD.pending_upkeep, &[&schema]).map_err(PgError::db("read pqstage.bulk_upkeep"))?,
    ))
}

/// A first load on `--jobs` connections, as `pg_restore --jobs` does it: the
/// foreign keys of observations and extended_properties, their indexes no
/// constraint needs and the primary key of extended_properties are dropped
/// in one short transaction that also records them in
/// `pqstage.bulk_upkeep`; the episodes load one transaction each on every
/// connection (each checked against the lookup tables and for a repeated
/// value, a bad one refused alone); then the keys and indexes are made
/// again, with the same names and definitions, on two connections
/// ([`make_upkeep_parallel`]), and the record is forgotten. Both
/// server cores work on the data, where the one-transaction bulk load
/// ([`load_bulk`], `--jobs 1`) keeps one busy: on 10 boids episodes the
/// rows went in in 20.4 s instead of 40. The price is pg_restore's: until
/// the end, readers see the episodes arrive one by one, each whole, in
/// tables without their secondary indexes and foreign keys. If the load is
/// interrupted, the next one finds the record, loads what is missing and
/// makes them (`pending`: that record, and nothing is dropped again).
/// Returns each episode's outcome and the seconds spent putting the keys
/// and indexes back (and gathering the tables' statistics).
pub(super) fn load_parallel(
    client: &mut postgres::Client,
    ctx: &Ctx<'_>,
    work: &[&Step<'_, EpisodeUnit<'_>>],
    settings: &Settings,
    pending: Vec<Upkeep>,
    replaceable: &(dyn Fn(&String) -> bool + Sync),
) -> Result<(Vec<Result<StepSeconds, PgError>>, f64), PgError> {
    let schema = &ctx.target.schema;
    let mut tx = client.transaction().map_err(PgError::db("begin the first load"))?;
    tx.batch_execute(&ctx.sql(TRAJECTORY_LOAD.lock_bulk_tables))
        .map_err(PgError::db("lock observations and extended_properties"))?;
    let upkeep = if pending.is_empty() {
        let empty: bool = tx
            .query_one(&ctx.sql(TRAJECTORY_LOAD.table_is_empty), &[])
            .map_err(PgError::db("look for observations"))?
            .get(0);
        if !empty {
            return Err(PgError::Conflict(format!(
                "observations were written to schema {schema} while this first load began: run the load again"
            )));
        }
        let upkeep = read_upkeep(&mut tx, schema)?;
        for (i, (kind, table, name, def)) in upkeep.iter().enumerate() {
            tx.execute(TRAJECTORY_LOAD.save_upkeep, &[schema, &(i as i32), kind, table, name, def])
                .map_err(PgError::db("record the foreign keys and indexes in pqstage.bulk_upkeep"))?;
        }
        upkeep
    } else {
        // Any of them made since (the tables dropped and created again, say)
        // go too: they are all made at the end.
        pending
    };
    tx.batch_execute(&drop_upkeep(&upkeep))
        .map_err(PgError::db("drop the foreign keys and indexes for the first load"))?;
    // An episode the target recorded (an interrupted load's, or one whose
    // rows were deleted by hand) is merged, which looks up each
    // observation's values through the primary key (the other indexes are
    // dropped) and relies on it to refuse a value inserted twice: it is
    // made now, on the rows already there, and stays.
    let merges = work.iter().any(|s| s.staged.is_some() && replaceable(&s.key));
    let (keys_now, upkeep): (Vec<Upkeep>, Vec<Upkeep>) = upkeep.into_iter().partition(|u| merges && is_key(u));
    if !keys_now.is_empty() {
        let now: Vec<String> = keys_now.iter().map(make_key).collect();
        tx.batch_execute(&format!("{}\n{}", TRAJECTORY_LOAD.bulk_settings, now.join("\n")))
            .map_err(PgError::db("make the primary key of extended_properties"))?;
    }
    tx.commit().map_err(PgError::db("commit the dropped foreign keys and indexes"))?;
    let outcomes = run_units(
        work,
        ctx.target.jobs.max(1),
        || worker_connection(settings),
        |client, step| Ok::<_, PgError>(load_step(client, ctx, step, Mode::Bulk, replaceable)),
    )?;
    let clock = Instant::now();
    make_upkeep_parallel(client, ctx, &upkeep, settings)?;
    Ok((outcomes, clock.elapsed().as_secs_f64()))
}

/// Makes the foreign keys, indexes and primary keys of a first load on
/// several connections again. The foreign keys come back `NOT VALID` in one
/// short transaction (they hold for every row written from then on); then
/// two connections take, in this order, one transaction each: the checks of
/// extended_properties' keys, of observations' keys, observations' indexes
/// and statistics, extended_properties' indexes, primary key and
/// statistics. A key's check is one query on one core, and its lock lets
/// the other table's indexes be built meanwhile; extended_properties'
/// builds wait for its checks and then run side by side (each takes a
/// lock the others share). Last, in one short transaction, each primary
/// key is attached to its built index and `pqstage.bulk_upkeep` forgotten.
/// Until then readers see keys not yet validated, as they saw none during
/// the load; if anything fails, `pqstage.bulk_upkeep` still lists
/// everything and the next load drops and makes it all again.
fn make_upkeep_parallel(
    client: &mut postgres::Client,
    ctx: &Ctx<'_>,
    upkeep: &[Upkeep],
    settings: &Settings,
) -> Result<(), PgError> {
    let failed =
        "make the foreign keys and indexes again (pqstage.bulk_upkeep keeps them, and the next load makes them)";
    let add: Vec<String> = upkeep
        .iter()
        .filter(|(kind, ..)| kind == "constraint")
        .map(|(_, table, name, def)| {
            let def = def.strip_suffix(" NOT VALID").unwrap_or(def);
            format!("ALTER TABLE {table} ADD CONSTRAINT {} {def} NOT VALID;", quote_ident(name))
        })
        .collect();
    let mut tx = client.transaction().map_err(PgError::db(failed))?;
    tx.batch_execute(&add.join("\n")).map_err(PgError::db(failed))?;
    tx.commit().map_err(PgError::db(failed))?;
    // The table is qualified, its schema quoted where needed.
    let (props, obs): (Vec<&Upkeep>, Vec<&Upkeep>) =
        upkeep.iter().partition(|(_, table, ..)| table.ends_with(".extended_properties"));
    // A user's own NOT VALID key stays so.
    let validate = |items: &[&Upkeep]| {
        let checks: Vec<String> = items
            .iter()
            .filter(|(kind, _, _, def)| kind == "constraint" && !def.ends_with(" NOT VALID"))
            .map(|(_, table, name, _)| format!("ALTER TABLE {table} VALIDATE CONSTRAINT {};", quote_ident(name)))
            .collect();
        (!checks.is_empty()).then(|| checks.join("\n"))
    };
    let builds = |items: &[&Upkeep]| {
        let indexes = items.iter().filter(|(kind, ..)| kind == "index").map(|(.., def)| format!("{def};"));
        indexes.chain(items.iter().filter(|u| is_key(u)).map(|u| key_index(u))).collect::<Vec<_>>()
    };
    let analyze = |query: &str| (!ctx.target.no_analyze).then(|| ctx.sql(query));
    let mut jobs: Vec<String> = Vec::new();
    jobs.extend(validate(&props));
    jobs.extend(validate(&obs));
    jobs.extend(builds(&obs));
    jobs.extend(analyze(TRAJECTORY_LOAD.analyze_observations));
    jobs.extend(builds(&props));
    jobs.extend(analyze(TRAJECTORY_LOAD.analyze_properties));
    run_units(
        &jobs,
        2,
        || worker_connection(settings),
        |client, job| {
            let mut tx = client.transaction().map_err(PgError::db(failed))?;
            tx.batch_execute(TRAJECTORY_LOAD.bulk_settings).map_err(PgError::db("configure the index builds"))?;
            tx.batch_execute(job).map_err(PgError::db(failed))?;
            tx.commit().map_err(PgError::db("commit the foreign keys and indexes"))
        },
    )?;
    // Making an index the key takes an exclusive lock for a moment. While
    // it waits for a reader, every later reader queues behind it, so it
    // waits 2 s at most, then lets them through and tries again (for a
    // minute; after that the record stays, and the next load finishes).
    let attach: Vec<String> = upkeep.iter().filter(|u| is_key(u)).map(attach_key).collect();
    let attach = format!("SET LOCAL lock_timeout = '2s';\n{}", attach.join("\n"));
    let mut tries = 0;
    loop {
        let mut tx = client.transaction().map_err(PgError::db(failed))?;
        match tx.batch_execute(&attach) {
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) && tries < 30 => {
                tries += 1;
                continue;
            }
            made => made.map_err(PgError::db(failed))?,
        }
        tx.execute(TRAJECTORY_LOAD.forget_upkeep, &[&ctx.target.schema])
            .map_err(PgError::db("clear pqstage.bulk_upkeep"))?;
        return tx.commit().map_err(PgError::db("commit the primary keys"));
    }
}

/// Refuses an episode whose stage gives one property twice for one
/// observation, naming the first such value: in a bulk load the primary key
/// of extended_properties, which would refuse it, is made after the data.
/// `convert` never stages one (its natural keys are unique and a spec names
/// each property once), so this finds a stage changed since.
pub(super) fn check_unique(tx: &mut postgres::Transaction<'_>, unit: &EpisodeUnit<'_>) -> Result<(), PgError> {
    let id = unit.id.as_str();
    let twice = tx
        .query_opt(TRAJECTORY_LOAD.duplicate_property, &[])
        .map_err(PgError::db(format!("look for repeated property values of episode {id}")))?;
    match twice {
        None => Ok(()),
        Some(r) => Err(PgError::Refused(format!(
            "episode {id} ({}): property_id '{}' is staged twice for time_index {}, agent_id {}, agent_type_id \
             '{}'; convert never stages a value twice, so the stage was changed after it was written: convert again",
            unit.path,
            r.get::<_, String>(0),
            r.get::<_, i32>(1),
            r.get::<_, i32>(2),
            r.get::<_, String>(3)
        ))),
    }
}

/// Refuses an episode whose agent types or properties the target does not
/// define, naming the first row that uses one. Its few distinct values
/// (agent types read from its staged observations, `properties` from its
/// staged values) are checked first; its rows are searched only when one is
/// missing.
pub(super) fn check_defined(
    tx: &mut postgres::Transaction<'_>,
    ctx: &Ctx<'_>,
    unit: &EpisodeUnit<'_>,
    dir: &Path,
    properties: &[String],
) -> Result<(), PgError> {
    let (schema, sql, id) = (&ctx.target.schema, |t: &str| ctx.sql(t), unit.id.as_str());
    let what = |w: &str| format!("{w} of episode {id}");
    let files = |p: &PartitionEntry| p.files.iter().map(|f| dir.join(&f.path)).collect::<Vec<_>>();
    let agent_types = distinct_text(files(unit.observations), "agent_type_id")?;
    let undefined = tx
        .query(&sql(TRAJECTORY_LOAD.undefined_lookups), &[&agent_types, &properties])
        .map_err(PgError::db(what("check the agent types and properties")))?;
    let missing = |kind: &str| undefined.iter().find(|r| r.get::<_, &str>(0) == kind).map(|r| r.get::<_, String>(1));
    if let Some(ty) = missing("agent_type") {
        // The first observation that uses it: its value, time_index, agent_id.
        let first = tx
            .query_opt(&sql(TRAJECTORY_LOAD.unknown_agent_type), &[&id])
            .map_err(PgError::db(what("find the undefined agent type")))?;
        let (ty, at) = match first {
            Some(r) => (r.get(0), format!(" (time_index {}, agent_id {})", r.get::<_, i32>(1), r.get::<_, i32>(2))),
            None => (ty, String::new()),
        };
        return Err(PgError::Refused(format!(
            "episode {id}: agent_type_id '{ty}'{at} is not in {schema}.agent_types: add it there first"
        )));
    }
    if let Some(p) = missing("property") {
        // The first value that uses it: its property, time_index, agent_id, agent_type_id.
        let first = tx
            .query_opt(&sql(TRAJECTORY_LOAD.unknown_property), &[])
            .map_err(PgError::db(what("find the undefined property")))?;
        let (p, at) = match first {
            Some(r) => (
                r.get(0),
                format!(
                    " (time_index {}, agent_id {}, agent_type_id {})",
                    r.get::<_, i32>(1),
                    r.get::<_, i32>(2),
                    r.get::<_, String>(3)
                ),
            ),
            None => (p, String::new()),
        };
        return Err(PgError::Refused(format!(
            "episode {id}: property_id '{p}'{at} is not in {schema}.property_definitions: add it there first"
        )));
    }
    Ok(())
}
