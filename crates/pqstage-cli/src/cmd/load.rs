//! `pqstage load duckdb` and `pqstage load postgres`: options in, one report out.

use std::path::Path;
use std::sync::Arc;

use pqstage_load::{Action, LoadOptions, LoadReport, PartitionKey};
use pqstage_stage::progress::Progress;

use crate::args::{Cli, LoadDuckdbArgs, LoadPostgresArgs};
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

/// The options every engine shares.
fn options(years: &[String], force: bool, no_verify: bool, cache_dir: Option<&Path>) -> Result<LoadOptions, Failure> {
    Ok(LoadOptions {
        only: parse_years(years)?,
        force,
        verify_checksums: !no_verify,
        cache_dir: cache_dir.map(Path::to_path_buf),
    })
}

pub fn duckdb(cli: &Cli, a: &LoadDuckdbArgs) -> Result<(), Failure> {
    let (stage, manifest) = super::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    let table = a.table.clone().or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
    let duck = pqstage_duckdb::DuckdbOptions {
        db: a.db.clone(),
        table,
        threads: a.jobs,
        cache_bytes: crate::output::parse_size(&a.cache_size).map_err(anyhow::Error::msg)?,
    };
    let progress = Arc::new(Progress::default());
    let report = {
        let _bar = Bar::start(cli, &progress);
        pqstage_duckdb::load(
            &stage,
            &manifest,
            &options(&a.years, a.force, a.no_verify, a.cache_dir.as_deref())?,
            &duck,
            &progress,
            super::runtime()?.handle(),
        )?
    };
    print_report(cli, &report)
}

pub fn postgres(cli: &Cli, a: &LoadPostgresArgs) -> Result<(), Failure> {
    let (stage, manifest) = super::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    let table = a.table.clone().or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
    let pg = pqstage_postgres::PgOptions {
        db: a.db.clone(),
        schema: a.schema.clone(),
        table,
        jobs: a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
        indexes: a.index.iter().map(|i| i.split(',').map(|c| c.trim().to_string()).collect()).collect(),
        no_indexes: a.no_indexes,
        no_analyze: a.no_analyze,
    };
    let progress = Arc::new(Progress::default());
    let report = {
        let _bar = Bar::start(cli, &progress);
        pqstage_postgres::load(
            &stage,
            &manifest,
            &options(&a.years, a.force, a.no_verify, a.cache_dir.as_deref())?,
            &pg,
            &progress,
            super::runtime()?.handle(),
        )?
    };
    print_report(cli, &report)
}

/// One line, then a table of the units loaded or removed (every unit with
/// `-v`), with the seconds of each where the engine loaded them one by one.
fn print_report(cli: &Cli, r: &LoadReport) -> Result<(), Failure> {
    if cli.quiet {
        return Ok(());
    }
    out(&format!("{} ({:.2} s)", r.headline(), r.seconds))?;
    if r.changed() || cli.verbose {
        let timed = r.units.iter().any(|u| u.seconds.is_some());
        let seconds = |s: &str| if timed { format!(" {s:>9}") } else { String::new() };
        out(&format!("  {:<34} {:>12}{}  result", "partition", "rows", seconds("seconds")))?;
        for u in r.units.iter().filter(|u| cli.verbose || u.action != Action::Unchanged) {
            let secs = u.seconds.map_or(String::new(), |s| format!("{s:.2}"));
            out(&format!("  {:<34} {:>12}{}  {}", u.name(), count(u.rows), seconds(&secs), u.action))?;
        }
    }
    if cli.verbose {
        out(&format!("checked staged files in {:.2} s", r.verify_seconds))?;
    }
    Ok(())
}
