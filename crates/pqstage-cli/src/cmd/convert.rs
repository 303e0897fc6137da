//! `pqstage convert`.

use std::sync::Arc;

use anyhow::Context;
use pqstage_convert::{convert, Codec, ConvertOptions};
use pqstage_spec::Spec;
use pqstage_stage::progress::Progress;
use pqstage_stage::Stage;

use crate::args::{Cli, ConvertArgs};
use crate::cmd::infer::infer_spec;
use crate::output::{bytes, count, out, parse_size};
use crate::printer::Bar;
use crate::Failure;

pub fn run(cli: &Cli, a: &ConvertArgs) -> Result<(), Failure> {
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let spec = match &a.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading spec {}", path.display()))?;
            Spec::from_toml(&text).with_context(|| format!("spec {}", path.display()))?
        }
        None => {
            if !cli.quiet {
                eprintln!("no --spec: inferring one from the whole input (write it once with `pqstage infer`, then pass --spec)");
            }
            infer_spec(&a.files, a.partition_by.as_deref(), &[], None, None, None, jobs)?
        }
    };
    let dataset = a
        .dataset
        .clone()
        .or_else(|| spec.name.clone())
        .unwrap_or_else(|| a.files[0].file_stem().map_or("dataset".into(), |s| s.to_string_lossy().into_owned()));
    let codec: Codec = a.compression.parse()?;
    let progress = Arc::new(Progress::default());
    let mut opts = ConvertOptions::builder(a.files.clone(), dataset, spec)
        .with_jobs(jobs)
        .with_rejects(a.rejects)
        .with_max_rejects(a.max_rejects)
        .with_codec(codec)
        .with_tmp_dir(a.tmp_dir.clone())
        .with_direct_io(!a.buffered_io)
        .with_progress(progress.clone());
    if let Some(n) = a.chunk_size {
        opts = opts.with_chunk_bytes(n);
    }
    if let Some(n) = a.row_group_rows {
        opts = opts.with_row_group_rows(n);
    }
    if let Some(s) = &a.file_size {
        opts = opts.with_file_bytes(parse_size(s).map_err(anyhow::Error::msg)?);
    }
    let opts = opts.build()?;
    let stage = Stage::create_with(&a.to, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let summary = {
        let _bar = Bar::start(cli, &progress);
        convert(&stage, rt.handle(), &opts)?
    };
    let t = &summary.manifest.tables[0];
    if cli.verbose {
        eprintln!(
            "parse {:.2} s, encode {:.2} s, {} earlier files replaced",
            summary.parse_seconds, summary.encode_seconds, summary.replaced_files
        );
        for p in &t.partitions {
            eprintln!("  {:<34} {:>12} rows {:>10}", p.path, count(p.rows), bytes(p.bytes));
        }
    }
    if !cli.quiet {
        let staged: u64 = t.partitions.iter().map(|p| p.bytes).sum();
        out(&format!(
            "converted {} rows into {} partitions ({} rejected) in {:.1} s, {:.0} MB/s: {} -> {} ({})",
            count(t.rows_read),
            t.partitions.len(),
            count(t.rows_rejected),
            summary.seconds,
            summary.bytes_read as f64 / 1e6 / summary.seconds.max(1e-9),
            bytes(summary.bytes_read),
            stage.display(&summary.manifest.dataset, ""),
            bytes(staged),
        ))?;
        if t.rows_rejected > 0 {
            eprintln!(
                "note: {} rows refused; they are kept with their reasons in {}",
                count(t.rows_rejected),
                stage.display(&summary.manifest.dataset, &t.rejects.files[0].path)
            );
        }
    }
    Ok(())
}
