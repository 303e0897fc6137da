//! `pqstage load duckdb`.

use std::io::IsTerminal;

use pqstage_duckdb::{Action, LoadOptions};

use crate::args::{Cli, LoadDuckdbArgs};
use crate::output::{count, out};
use crate::Failure;

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
    let (stage, manifest) = super::status::open_dataset(&a.stage, a.dataset.as_deref())?;
    let table = a.table.clone().or_else(|| manifest.tables.first().map(|t| t.name.clone())).unwrap_or_default();
    let opts = LoadOptions {
        db: a.db.clone(),
        table,
        years: parse_years(&a.years)?,
        force: a.force,
        threads: a.jobs,
        verify_checksums: !a.no_verify,
    };
    let talk = !cli.quiet && !cli.no_progress && std::io::stderr().is_terminal();
    if talk {
        eprint!("loading {} into {} ...\r", manifest.dataset, a.db.display());
    }
    let r = pqstage_duckdb::load(&stage, &manifest, &opts)?;
    if talk {
        eprint!("\x1b[2K");
    }
    if cli.quiet {
        return Ok(());
    }
    let n = |f: fn(&Action) -> bool| r.partitions.iter().filter(|p| f(&p.action)).count();
    let loaded = n(Action::loaded);
    let unchanged = n(|a| *a == Action::Unchanged);
    let removed = n(|a| *a == Action::Removed);
    let mut line = if loaded == 0 && removed == 0 {
        format!("{unchanged} partitions unchanged, skipped; {} holds {} rows", r.table, count(r.rows_total))
    } else {
        let mut s = format!("loaded {loaded} partitions ({} rows) into {}", count(r.rows_loaded), r.table);
        if r.created {
            s.push_str(" (created)");
        }
        if unchanged > 0 {
            s.push_str(&format!(", {unchanged} unchanged, skipped"));
        }
        if removed > 0 {
            s.push_str(&format!(", {removed} removed"));
        }
        s.push_str(&format!("; it holds {} rows", count(r.rows_total)));
        s
    };
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
