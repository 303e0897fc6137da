//! `pqstage copy`.

use std::sync::Arc;
use std::time::Instant;

use pqstage_stage::maintain::copy_dataset;
use pqstage_stage::progress::Progress;
use pqstage_stage::Stage;

use crate::args::{Cli, CopyArgs};
use crate::output::{bytes, out};
use crate::printer::Bar;
use crate::Failure;

pub fn copy(cli: &Cli, a: &CopyArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (src, manifest) = super::open_dataset(&a.store, &a.src, a.dataset.as_deref())?;
    let dst = Stage::create_with(&a.dst, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let progress = Arc::new(Progress::default());
    let r = {
        let _bar = Bar::start(cli, &progress);
        rt.block_on(copy_dataset(&src, &dst, &manifest, a.jobs, &progress))?
    };
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
