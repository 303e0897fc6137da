//! `pqstage sample`.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::Context;
use pqstage_sample::{spec_toml, write_sample, Dataset, SampleOptions};

use crate::args::{Cli, SampleArgs};
use crate::output::{bytes, count};
use crate::Failure;

pub fn run(cli: &Cli, a: &SampleArgs) -> Result<(), Failure> {
    let dataset: Dataset = a.dataset.parse()?;
    let opts = SampleOptions { rows: a.rows, seed: a.seed, threads: a.threads.unwrap_or(0) };
    for path in [&a.spec_out, &a.out].into_iter().flatten().filter(|p| p.as_os_str() != "-") {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
    }
    if let Some(path) = &a.spec_out {
        std::fs::write(path, spec_toml(dataset)).with_context(|| format!("writing {}", path.display()))?;
    }
    let Some(out) = &a.out else { return Ok(()) };
    if out.as_os_str() == "-" {
        write_sample(dataset, &opts, std::io::stdout().lock())?;
        return Ok(());
    }
    // Write next to the target and rename, so an interrupted run never leaves a short file.
    let tmp = out.with_extension("partial");
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let summary = write_sample(dataset, &opts, &mut w)?;
    w.flush().with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    if !cli.quiet {
        eprintln!("wrote {} rows ({}) of {dataset} to {}", count(summary.rows), bytes(summary.bytes), out.display());
    }
    Ok(())
}
