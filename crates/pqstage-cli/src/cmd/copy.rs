//! `pqstage copy` and `pqstage gc`.

use std::time::{Duration, Instant};

use pqstage_stage::maintain::copy_dataset;
use pqstage_stage::Stage;

use crate::args::{Cli, CopyArgs, GcArgs};
use crate::output::{bytes, out};
use crate::Failure;

pub fn copy(cli: &Cli, a: &CopyArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (src, manifest) = super::status::open_dataset(&a.store, &a.src, a.dataset.as_deref())?;
    let dst = Stage::create_with(&a.dst, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let r = rt.block_on(copy_dataset(&src, &dst, &manifest, a.jobs))?;
    if !cli.quiet {
        let secs = started.elapsed().as_secs_f64();
        out(&format!(
            "copied {} to {}: {} files ({}) copied, {} unchanged files ({}) skipped{} ({secs:.2} s)",
            manifest.dataset,
            dst.display(&manifest.dataset, ""),
            r.copied,
            bytes(r.bytes_copied),
            r.skipped,
            bytes(r.bytes_skipped),
            if r.deleted > 0 { format!(", {} replaced files deleted", r.deleted) } else { String::new() },
        ))?;
    }
    Ok(())
}

/// Parses `--min-age`.
fn parse_age(s: &str) -> Result<Duration, String> {
    pqstage_stage::parse_duration(s).map_err(|e| format!("--min-age '{s}': {e}"))
}

pub fn gc(cli: &Cli, a: &GcArgs) -> Result<(), Failure> {
    let min_age = parse_age(&a.min_age).map_err(anyhow::Error::msg)?;
    let stage = Stage::open_with(&a.stage, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let garbage = rt.block_on(stage.garbage(min_age))?;
    let total: u64 = garbage.iter().map(|g| g.meta.size).sum();
    if a.yes {
        rt.block_on(stage.delete_objects(&garbage, 16))?;
    }
    if cli.quiet {
        return Ok(());
    }
    for g in &garbage {
        out(&format!("{}{} ({})", if a.yes { "deleted " } else { "" }, g.display, bytes(g.meta.size)))?;
    }
    let n = garbage.len();
    out(&match (n, a.yes) {
        (0, _) => format!("nothing to collect in {}", stage.url()),
        (_, true) => format!("deleted {n} objects ({}) that no manifest names", bytes(total)),
        (_, false) => {
            format!("{n} objects ({}) that no manifest names; run again with --yes to delete them", bytes(total))
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("1.5d"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_age("3w"), Err("--min-age '3w': unit must be s, m, h or d".into()));
        assert!(parse_age("soon").is_err());
    }
}
