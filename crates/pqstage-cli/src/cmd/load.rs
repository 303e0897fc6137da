//! `pqstage load duckdb` and `pqstage load postgres`: options in, one report out.

use std::path::Path;
use std::sync::Arc;

use pqstage_load::episodes::TrajectoryReport;
use pqstage_load::{Action, LoadOptions, LoadReport, PartitionKey, Request};
use pqstage_stage::progress::Progress;

use crate::args::{Cli, LoadDuckdbArgs, LoadPostgresArgs, StoreArgs};
use crate::output::{count, out};
use crate::printer::Bar;
use crate::Failure;

/// Parses `--years 2019,2020,null`.
fn parse_years(values: &[String]) -> Result<Option<Vec<PartitionKey>>, Failure> {
    if values.is_empty() {
        return Ok(None);
    }
    let years = values
        .iter()
        .map(|v| match v.trim() {
            "null" | "NULL" => Ok(PartitionKey(None)),
            t => t
                .parse::<i64>()
                .map(|y| PartitionKey(Some(y)))
                .map_err(|_| anyhow::anyhow!("--years: '{t}' is not a year (or null)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(years))
}

/// What both load commands share: the dataset, which partitions, how.
struct Common<'a> {
    store: &'a StoreArgs,
    stage: &'a str,
    dataset: Option<&'a str>,
    years: &'a [String],
    /// The options given that only a table dataset takes (`--table`, `--years` …).
    table_only: Vec<&'static str>,
    force: bool,
    patch_limit: Option<f64>,
    no_verify: bool,
    cache_dir: Option<&'a Path>,
}

/// Opens the dataset once and loads it: a table dataset with `tables` (given
/// the target table's name, `--table` else the staged table's), a trajectory
/// dataset with `trajectories`. `known` is told which kind the dataset is
/// before anything is loaded. Draws progress, prints the report.
fn run<E1: Into<anyhow::Error>, E2: Into<anyhow::Error>>(
    cli: &Cli,
    c: &Common<'_>,
    table: Option<&str>,
    known: impl FnOnce(bool),
    tables: impl FnOnce(&Request<'_>, String) -> Result<LoadReport, E1>,
    trajectories: impl FnOnce(&Request<'_>) -> Result<TrajectoryReport, E2>,
) -> Result<(), Failure> {
    let (stage, manifest) = super::open_dataset(c.store, c.stage, c.dataset)?;
    let is_trajectories = manifest.trajectories.is_some();
    known(is_trajectories);
    if is_trajectories && !c.table_only.is_empty() {
        return Err(anyhow::anyhow!(
            "{} {} for table datasets; {} is a trajectory dataset (its tables are sessions, episodes, observations and extended_properties; --schema picks where they are)",
            c.table_only.join(", "),
            if c.table_only.len() == 1 { "is" } else { "are" },
            manifest.dataset
        )
        .into());
    }
    let options = LoadOptions {
        only: if is_trajectories { None } else { parse_years(c.years)? },
        force: c.force,
        verify_checksums: !c.no_verify,
        cache_dir: c.cache_dir.map(Path::to_path_buf),
        patch_limit: c.patch_limit,
    };
    let progress = Arc::new(Progress::default());
    let runtime = super::runtime()?;
    let request = Request {
        stage: &stage,
        manifest: &manifest,
        options: &options,
        progress: &progress,
        runtime: runtime.handle(),
    };
    if !is_trajectories {
        let table =
            table.map(str::to_string).or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
        let report = {
            let _bar = Bar::start(cli, &progress);
            tables(&request, table).map_err(|e| Failure::from(e.into()))?
        };
        return print_report(cli, &report);
    }
    let report = {
        let _bar = Bar::start(cli, &progress);
        trajectories(&request).map_err(|e| Failure::from(e.into()))?
    };
    print_trajectory_report(cli, &report)?;
    if let Some(first) = report.failed().next() {
        let n = report.failed().count();
        return Err(Failure {
            code: crate::EXIT_DATA,
            error: anyhow::anyhow!(
                "{n} episode(s) not loaded (each rolled back; the others are committed). First: {}: {}",
                first.episode,
                first.error.as_deref().unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// The options both load commands share, from either's arguments.
macro_rules! common {
    ($a:expr, $table_only:expr) => {
        Common {
            store: &$a.store,
            stage: &$a.stage,
            dataset: $a.dataset.as_deref(),
            years: &$a.years,
            table_only: given(&[
                ("--table", $a.table.is_some()),
                ("--years", !$a.years.is_empty()),
                ("--no-patch", $a.no_patch),
                ("--no-summaries", $a.no_summaries),
            ])
            .into_iter()
            .chain(given($table_only))
            .collect(),
            force: $a.force,
            patch_limit: (!$a.no_patch).then_some($a.patch_limit / 100.0),
            no_verify: $a.no_verify,
            cache_dir: $a.cache_dir.as_deref(),
        }
    };
}

/// The names of the options given, out of (name, given).
fn given(options: &[(&'static str, bool)]) -> Vec<&'static str> {
    options.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect()
}

/// One line, the per-step split with `-v`, and a line per episode loaded,
/// removed or failed (every episode with `-v`).
fn print_trajectory_report(cli: &Cli, r: &TrajectoryReport) -> Result<(), Failure> {
    for n in &r.notes {
        eprintln!("note: {n}");
    }
    if cli.quiet {
        return Ok(());
    }
    let loaded: Vec<_> = r.episodes.iter().filter(|e| e.action.loaded() && e.error.is_none()).collect();
    let obs: u64 = loaded.iter().map(|e| e.observations).sum();
    let props: u64 = loaded.iter().map(|e| e.properties).sum();
    let unchanged = r.episodes.iter().filter(|e| e.action == Action::Unchanged).count();
    let removed = r.episodes.iter().filter(|e| e.action == Action::Removed && e.error.is_none()).count();
    out(&format!(
        "{}: {} episodes loaded ({} observations, {} properties), {unchanged} unchanged, {removed} removed, {} sessions upserted{} ({:.2} s)",
        r.target,
        loaded.len(),
        count(obs),
        count(props),
        r.sessions,
        if r.created { "; tables created" } else { "" },
        r.seconds
    ))?;
    let listed = |e: &&pqstage_load::episodes::EpisodeReport| {
        cli.verbose || e.error.is_some() || !(e.action == Action::Unchanged || (r.created && e.action == Action::New))
    };
    let shown: Vec<_> = r.episodes.iter().filter(listed).collect();
    if !shown.is_empty() {
        out(&format!("  {:<58} {:>10} {:>11} {:>8}  result", "episode", "obs", "properties", "seconds"))?;
        for e in shown {
            let s = &e.seconds;
            let secs = s.prepare + s.delete + s.observations + s.properties + s.verify;
            let result = match &e.error {
                Some(err) => format!("FAILED: {err}"),
                None => e.action.to_string(),
            };
            out(&format!(
                "  {:<58} {:>10} {:>11} {:>8.2}  {result}",
                e.episode,
                count(e.observations),
                count(e.properties),
                secs
            ))?;
        }
    }
    if cli.verbose {
        let s = r.step_seconds();
        out(&format!(
            "seconds per step: prepare {:.2}, delete {:.2}, observations {:.2}, properties {:.2}, verify+commit {:.2}",
            s.prepare, s.delete, s.observations, s.properties, s.verify
        ))?;
        if let Some((what, k)) = r.after_data {
            out(&format!("first load: {what} made after the data in {k:.2} s"))?;
        }
    }
    Ok(())
}

pub fn duckdb(cli: &Cli, a: &LoadDuckdbArgs) -> Result<(), Failure> {
    let cache_bytes = crate::output::parse_size(&a.cache_size).map_err(anyhow::Error::msg)?;
    if !(0.0..=100.0).contains(&a.vacuum_above) {
        return Err(anyhow::anyhow!("--vacuum-above: {} is not a percentage from 0 to 100", a.vacuum_above).into());
    }
    let memory_limit = a
        .memory_limit
        .as_deref()
        .map(|s| crate::output::parse_size(s).map_err(|e| anyhow::anyhow!("--memory-limit: {e}")))
        .transpose()?;
    let target = pqstage_duckdb::trajectories::TrajectoryTarget {
        db: a.db.clone(),
        schema: a.schema.clone(),
        threads: a.jobs,
        memory_limit,
    };
    // A trajectory load's peak is one episode's commit, which DuckDB's
    // allocator would keep freed pages above (crate::restart_returning_freed_memory).
    let returning_freed_memory = |is_trajectories: bool| {
        if is_trajectories || memory_limit.is_some() {
            crate::restart_returning_freed_memory();
        }
    };
    run(
        cli,
        &common!(a, &[]),
        a.table.as_deref(),
        returning_freed_memory,
        |request, table| {
            let duck = pqstage_duckdb::DuckdbOptions {
                db: a.db.clone(),
                table,
                threads: a.jobs,
                cache_bytes,
                summaries: !a.no_summaries,
                vacuum_above: a.vacuum_above / 100.0,
                memory_limit,
            };
            pqstage_duckdb::load(request, &duck)
        },
        |request| pqstage_duckdb::trajectories::load_trajectories(request, &target),
    )
}

pub fn postgres(cli: &Cli, a: &LoadPostgresArgs) -> Result<(), Failure> {
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let target = pqstage_postgres::trajectories::PgTrajectoryTarget {
        db: a.db.clone(),
        schema: a.schema.clone(),
        jobs,
        per_episode: a.per_episode,
        fillfactor: a.fillfactor,
        no_analyze: a.no_analyze,
    };
    let table_only =
        [("--index", !a.index.is_empty()), ("--no-indexes", a.no_indexes), ("--upsert", a.upsert != "update-insert")];
    run(
        cli,
        &common!(a, &table_only),
        a.table.as_deref(),
        |_| {},
        |request, table| {
            let pg = pqstage_postgres::PgOptions {
                db: a.db.clone(),
                schema: a.schema.clone(),
                table,
                jobs,
                indexes: a.index.iter().map(|i| i.split(',').map(|c| c.trim().to_string()).collect()).collect(),
                no_indexes: a.no_indexes,
                no_analyze: a.no_analyze,
                fillfactor: a.fillfactor.unwrap_or_else(|| match request.manifest.tables.first() {
                    Some(t) if !t.spec.target.key.is_empty() => pqstage_postgres::KEYED_FILLFACTOR,
                    _ => 100,
                }),
                summaries: !a.no_summaries,
                upsert: match a.upsert.as_str() {
                    "on-conflict" => pqstage_postgres::Upsert::OnConflict,
                    "delete-insert" => pqstage_postgres::Upsert::DeleteInsert,
                    "merge" => pqstage_postgres::Upsert::Merge,
                    _ => pqstage_postgres::Upsert::UpdateInsert,
                },
            };
            pqstage_postgres::load(request, &pg)
        },
        |request| pqstage_postgres::trajectories::load_trajectories(request, &target),
    )
}

/// One line, then a table of the units loaded or removed (every unit with
/// `-v`), with the seconds of each where the engine loaded them one by one.
/// A new table's units are all new: the line says so, and `-v` lists them.
fn print_report(cli: &Cli, r: &LoadReport) -> Result<(), Failure> {
    if cli.quiet {
        return Ok(());
    }
    out(&format!("{} ({:.2} s)", r.headline(), r.seconds))?;
    if !r.columns_added.is_empty() {
        out(&format!(
            "added to the table, as the spec gained them: {} (rows not reloaded yet hold NULL there)",
            r.columns_added.join(", ")
        ))?;
    }
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    let listed = |a: &Action| cli.verbose || !(*a == Action::Unchanged || (r.created && *a == Action::New));
    if r.units.iter().any(|u| listed(&u.action)) {
        let timed = r.units.iter().any(|u| u.seconds.is_some());
        let seconds = |s: &str| if timed { format!(" {s:>9}") } else { String::new() };
        out(&format!("  {:<34} {:>12}{}  result", "partition", "rows", seconds("seconds")))?;
        for u in r.units.iter().filter(|u| listed(&u.action)) {
            let secs = u.seconds.map_or(String::new(), |s| format!("{s:.2}"));
            out(&format!("  {:<34} {:>12}{}  {}", u.name(), count(u.rows), seconds(&secs), u.action))?;
        }
    }
    if cli.verbose && r.verify_seconds > 0.0 {
        out(&format!("checked staged files in {:.2} s", r.verify_seconds))?;
    }
    if !r.summaries.is_empty() {
        let done: Vec<String> = r.summaries.iter().map(|s| format!("{} {}", s.relation, s.action)).collect();
        let seconds: f64 = r.summaries.iter().map(|s| s.seconds).sum();
        out(&format!("summaries: {} ({seconds:.2} s)", done.join(", ")))?;
    }
    Ok(())
}
