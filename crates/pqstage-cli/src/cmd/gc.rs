//! `pqstage gc`.

use std::sync::Arc;
use std::time::Duration;

use pqstage_stage::progress::Progress;
use pqstage_stage::Stage;

use crate::args::{Cli, GcArgs};
use crate::output::{bytes, out};
use crate::printer::Bar;
use crate::Failure;

/// Parses `--min-age`.
fn parse_age(s: &str) -> Result<Duration, String> {
    pqstage_stage::parse_duration(s).map_err(|e| format!("--min-age '{s}': {e}"))
}

pub fn run(cli: &Cli, a: &GcArgs) -> Result<(), Failure> {
    let min_age = parse_age(&a.min_age).map_err(anyhow::Error::msg)?;
    let stage = Stage::open_with(&a.stage, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let garbage = rt.block_on(stage.garbage(min_age))?;
    let total: u64 = garbage.iter().map(|g| g.meta.size).sum();
    if a.yes {
        let progress = Arc::new(Progress::default());
        let _bar = Bar::start(cli, &progress);
        rt.block_on(stage.delete_objects(&garbage, 16, &progress))?;
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
