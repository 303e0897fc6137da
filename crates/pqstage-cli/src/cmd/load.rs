//! `pqstage load duckdb` and `pqstage load postgres`.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pqstage_duckdb::{Action, LoadOptions, PartitionReport};

use crate::args::{Cli, LoadDuckdbArgs, LoadPostgresArgs};
use crate::output::{count, out};
use crate::Failure;

/// The first line of a load's output: what was loaded, skipped and removed.
fn headline(partitions: &[PartitionReport], rows_loaded: u64, table: &str, created: bool) -> String {
    let n = |f: fn(&Action) -> bool| partitions.iter().filter(|p| f(&p.action)).count();
    let (loaded, unchanged, removed) =
        (n(Action::loaded), n(|a| *a == Action::Unchanged), n(|a| *a == Action::Removed));
    if loaded == 0 && removed == 0 {
        return format!("{unchanged} partitions unchanged, skipped");
    }
    let mut s = format!("loaded {loaded} partitions ({} rows) into {table}", count(rows_loaded));
    if created {
        s.push_str(" (created)");
    }
    if unchanged > 0 {
        s.push_str(&format!(", {unchanged} unchanged, skipped"));
    }
    if removed > 0 {
        s.push_str(&format!(", {removed} removed"));
    }
    s
}

/// Parses `--years 2019,2020,null`.
fn parse_years(values: &[String]) -> Result<Option<Vec<Option<i64>>>, Failure> {
    if values.is_empty() {
        return Ok(None);
    }
    let years = values
        .iter()
        .map(|v| match v.trim() {
            "null" | "NULL" => Ok(None),
            t => t.parse::<i64>().map(Some).map_err(|_| anyhow::anyhow!("--years: '{t}' is not a year (or null)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(years))
}

pub fn duckdb(cli: &Cli, a: &LoadDuckdbArgs) -> Result<(), Failure> {
    let (stage, manifest) = super::status::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    let table = a.table.clone().or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
    let opts = LoadOptions {
        db: a.db.clone(),
        table,
        years: parse_years(&a.years)?,
        force: a.force,
        threads: a.jobs,
        verify_checksums: !a.no_verify,
        cache_dir: a.cache_dir.clone(),
        cache_bytes: crate::output::parse_size(&a.cache_size).map_err(anyhow::Error::msg)?,
    };
    let talk = !cli.quiet && !cli.no_progress && std::io::stderr().is_terminal();
    if talk {
        eprint!("loading {} into {} ...\r", manifest.dataset, a.db.display());
    }
    let r = pqstage_duckdb::load(&stage, &manifest, &opts, super::runtime()?.handle())?;
    if talk {
        eprint!("\x1b[2K");
    }
    if cli.quiet {
        return Ok(());
    }
    let mut line = headline(&r.partitions, r.rows_loaded, &r.table, r.created);
    let holder = if line.starts_with("loaded") { "it".to_string() } else { r.table.clone() };
    line.push_str(&format!("; {holder} holds {} rows", count(r.rows_total)));
    line.push_str(&format!(" ({:.2} s)", r.seconds));
    out(&line)?;
    for p in &r.partitions {
        let what = match &p.action {
            Action::Unchanged if !cli.verbose => continue,
            Action::New if r.created && !cli.verbose => continue,
            Action::New => "new".to_string(),
            Action::Changed => "changed".to_string(),
            Action::Repaired(why) => format!("reloaded: {why}"),
            Action::Forced => "reloaded (--force)".to_string(),
            Action::Unchanged => "unchanged".to_string(),
            Action::Removed => "removed (no longer staged)".to_string(),
        };
        let name = if p.path.is_empty() { "(all rows)" } else { &p.path };
        out(&format!("  {name:<34} {:>12} rows  {what}", count(p.rows)))?;
    }
    if cli.verbose {
        out(&format!("checked staged files in {:.2} s", r.verify_seconds))?;
    }
    Ok(())
}

pub fn postgres(cli: &Cli, a: &LoadPostgresArgs) -> Result<(), Failure> {
    let (stage, manifest) = super::status::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    let table = a.table.clone().or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let opts = pqstage_postgres::LoadOptions {
        db: a.db.clone(),
        schema: a.schema.clone(),
        table,
        jobs,
        indexes: a.index.iter().map(|i| i.split(',').map(|c| c.trim().to_string()).collect()).collect(),
        no_indexes: a.no_indexes,
        no_analyze: a.no_analyze,
        years: parse_years(&a.years)?,
        force: a.force,
        verify_checksums: !a.no_verify,
        cache_dir: a.cache_dir.clone(),
    };
    let progress = Arc::new(pqstage_postgres::Progress::default());
    let talk = !cli.quiet && !cli.no_progress && std::io::stderr().is_terminal();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = talk.then(|| {
        let (p, stop) = (progress.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let (sent, total) = (p.rows_sent.load(Ordering::Relaxed), p.rows_total.load(Ordering::Relaxed));
                let rate = sent as f64 / start.elapsed().as_secs_f64().max(0.001);
                let eta = if rate > 0.0 { (total.saturating_sub(sent)) as f64 / rate } else { 0.0 };
                eprint!(
                    "\r\x1b[2K{}/{} partitions, {} of {} rows, {} rows/s, ETA {:.0} s",
                    p.partitions_done.load(Ordering::Relaxed),
                    p.partitions_total.load(Ordering::Relaxed),
                    count(sent),
                    count(total),
                    count(rate as u64),
                    eta
                );
            }
            eprint!("\r\x1b[2K");
        })
    });
    let result = pqstage_postgres::load(&stage, &manifest, &opts, &progress, super::runtime()?.handle());
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    let r = result?;
    if cli.quiet {
        return Ok(());
    }
    let head = headline(&r.partitions, r.rows_loaded, &r.table, r.created);
    out(&format!("{head} ({:.2} s)", r.seconds))?;
    if r.partitions.iter().any(|p| p.action != Action::Unchanged) || cli.verbose {
        out(&format!("  {:<34} {:>12} {:>9}  result", "partition", "rows", "seconds"))?;
        for p in &r.partitions {
            let what = match &p.action {
                Action::Unchanged if !cli.verbose => continue,
                Action::Unchanged => "skipped (unchanged)".to_string(),
                Action::New => "loaded (new)".to_string(),
                Action::Changed => "loaded (changed)".to_string(),
                Action::Repaired(why) => format!("reloaded: {why}"),
                Action::Forced => "reloaded (--force)".to_string(),
                Action::Removed => "removed (no longer staged)".to_string(),
            };
            out(&format!("  {:<34} {:>12} {:>9.2}  {what}", p.path, count(p.rows), p.seconds))?;
        }
    }
    Ok(())
}
