//! `pqstage convert`.

use std::sync::Arc;

use anyhow::Context;
use pqstage_convert::trajectories::{convert_trajectories as convert_sessions, TrajectoryOptions};
use pqstage_convert::{convert, Codec, ConvertOptions, Mode};
use pqstage_spec::trajectories::{self, declared_kind, TrajectorySpec};
use pqstage_spec::Spec;
use pqstage_stage::progress::Progress;
use pqstage_stage::Stage;

use crate::args::{Cli, ConvertArgs};
use crate::cmd::infer::{encoding, infer_spec, InferFrom};
use crate::cmd::inputs::{default_dataset, prepare};
use crate::output::{bytes, count, out, parse_size};
use crate::printer::Bar;
use crate::Failure;

pub fn run(cli: &Cli, a: &ConvertArgs) -> Result<(), Failure> {
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let encoding = encoding(a.encoding.as_deref())?;
    // Without a spec the input is read twice (infer, then convert): a pipe
    // is spooled to a scratch file first.
    if let Some(path) = &a.spec {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading spec {}", path.display()))?;
        if declared_kind(&text).as_deref() == Some(trajectories::KIND) {
            let spec = TrajectorySpec::from_toml(&text).with_context(|| format!("spec {}", path.display()))?;
            return convert_trajectories(cli, a, spec, jobs);
        }
    }
    let inputs = prepare(&a.files, a.spec.is_none(), a.tmp_dir.as_deref())?;
    let mut spec = match &a.spec {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading spec {}", path.display()))?;
            Spec::from_toml(&text).with_context(|| format!("spec {}", path.display()))?
        }
        None => {
            if !cli.quiet {
                eprintln!("no --spec: inferring one from the whole input (write it once with `pqstage infer`, then pass --spec)");
            }
            let how = InferFrom {
                partition_by: a.partition_by.as_deref(),
                derive: &[],
                name: None,
                sample_rows: None,
                delimiter: None,
                encoding: encoding.unwrap_or_default(),
                layout: &a.layout,
                jobs,
                quiet: cli.quiet,
            };
            infer_spec(&inputs, &a.files, how)?
        }
    };
    // The layout flags say how these files are written, over the spec's dialect.
    if let Some(e) = encoding {
        spec.dialect.encoding = e;
    }
    if a.spec.is_some() {
        if let Some(n) = a.layout.skip_lines {
            spec.dialect.skip_lines = n;
        }
        if let Some(c) = a.layout.comment {
            spec.dialect.comment = Some(c);
            spec.validate().context("--comment")?;
        }
        match a.layout.header.as_str() {
            "yes" => spec.dialect.header = true,
            "no" => spec.dialect.header = false,
            _ => {}
        }
    }
    let dataset = a.dataset.clone().or_else(|| spec.name.clone()).unwrap_or_else(|| default_dataset(&a.files));
    let codec: Codec = a.compression.parse()?;
    let mode: Mode = a.mode.parse()?;
    let progress = Arc::new(Progress::default());
    let mut opts = ConvertOptions::builder(inputs.paths.clone(), dataset, spec)
        .with_source_names(inputs.names.clone())
        .with_same_source_allowed(a.allow_same_source)
        .with_jobs(jobs)
        .with_rejects(a.rejects)
        .with_max_rejects(a.max_rejects)
        .with_codec(codec)
        .with_keep_versions(a.keep_versions)
        .with_mode(mode)
        .with_deletes(a.deletes.clone())
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
    if summary.unchanged {
        for n in &summary.notes {
            eprintln!("note: {n}");
        }
        if !cli.quiet {
            out(&format!(
                "nothing to append: every file was converted before; version {} of {} stays",
                summary.manifest.version,
                stage.display(&summary.manifest.dataset, "")
            ))?;
        }
        return Ok(());
    }
    if cli.verbose {
        eprintln!(
            "parse {:.2} s, encode {:.2} s, {} files of older versions deleted",
            summary.parse_seconds, summary.encode_seconds, summary.replaced_files
        );
        for (s, how) in summary.manifest.sources.iter().zip(&summary.read_as) {
            let s = &s.path;
            eprintln!("  read {s} as {how}");
        }
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
        let version = summary.manifest.version;
        if let Some(c) = &t.carried {
            let mut what = format!(
                "version {version} ({}): {} rows of version {} kept, {} replaced",
                c.mode,
                count(c.previous_rows - c.replaced - c.deleted),
                c.from_version,
                count(c.replaced),
            );
            if c.delete_keys > 0 {
                what += &format!(", {} deleted ({} keys read)", count(c.deleted), count(c.delete_keys));
            }
            out(&format!("{what}; {} rows read from {} files", count(t.rows_read), summary.manifest.sources.len()))?;
            if c.delete_keys > c.deleted {
                eprintln!(
                    "note: {} of the {} keys to delete named no staged row (deleted before, or never staged)",
                    count(c.delete_keys - c.deleted),
                    count(c.delete_keys)
                );
            }
        }
        let now: Vec<_> = t.changes.iter().filter(|c| c.version == version).collect();
        if !now.is_empty() {
            let sum = |f: fn(&pqstage_stage::manifest::ChangeSet) -> u64| count(now.iter().map(|c| f(c)).sum());
            out(&format!(
                "version {version}: {} inserted, {} updated, {} deleted rows in {} changed partitions",
                sum(|c| c.inserted.rows),
                sum(|c| c.updated.rows),
                sum(|c| c.deleted.rows),
                now.len()
            ))?;
        }
        for n in &summary.notes {
            eprintln!("note: {n}");
        }
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

/// Session folders with a trajectory spec.
fn convert_trajectories(cli: &Cli, a: &ConvertArgs, spec: TrajectorySpec, jobs: usize) -> Result<(), Failure> {
    let csv_only = [
        ("--encoding", a.encoding.is_some()),
        ("--rejects", a.rejects),
        ("--max-rejects", a.max_rejects.is_some()),
        ("--row-group-rows", a.row_group_rows.is_some()),
        ("--file-size", a.file_size.is_some()),
        ("--allow-same-source", a.allow_same_source),
        ("--mode", a.mode != "snapshot"),
        ("--deletes", !a.deletes.is_empty()),
    ];
    if let Some((flag, _)) = csv_only.iter().find(|(_, set)| *set) {
        return Err(anyhow::anyhow!(
            "{flag} applies to CSV tables, not to a trajectory spec's session folders (rows without a position are always kept under _rejects/)"
        )
        .into());
    }
    let dataset = a.dataset.clone().unwrap_or_else(|| spec.name.clone());
    let progress = Arc::new(Progress::default());
    let opts = TrajectoryOptions {
        sessions: a.files.clone(),
        dataset,
        spec,
        jobs,
        tmp_dir: a.tmp_dir.clone(),
        progress: Some(progress.clone()),
    };
    let stage = Stage::create_with(&a.to, &super::store_options(&a.store)?)?;
    let rt = super::runtime()?;
    let summary = {
        let _bar = Bar::start(cli, &progress);
        convert_sessions(&stage, rt.handle(), &opts)?
    };
    let m = &summary.manifest;
    let table = |name: &str| m.tables.iter().find(|t| t.name == name).expect("a trajectory manifest has every table");
    let (obs, props) = (table("observations"), table("extended_properties"));
    if cli.verbose {
        for p in &obs.partitions {
            let n = props.partitions.iter().find(|q| q.key == p.key).map_or(0, |q| q.rows);
            eprintln!("  {:<60} {:>12} observations {:>12} properties", p.path, count(p.rows), count(n));
        }
    }
    if !cli.quiet {
        out(&format!(
            "converted {} sessions, {} episodes: {} observations ({} rejected), {} properties in {:.1} s: {} -> {}",
            summary.sessions,
            summary.episodes,
            count(obs.rows_written),
            count(obs.rows_rejected),
            count(props.rows_written),
            summary.seconds,
            bytes(summary.bytes_read),
            stage.display(&m.dataset, ""),
        ))?;
        if summary.properties_empty > 0 {
            eprintln!(
                "note: {} property values were NULL, NaN or empty and are not stored",
                count(summary.properties_empty)
            );
        }
        if obs.rows_rejected > 0 {
            eprintln!(
                "note: {} rows refused (no position); they are kept with their reasons under {}",
                count(obs.rows_rejected),
                stage.display(&m.dataset, pqstage_stage::REJECTS_DIR)
            );
        }
    }
    Ok(())
}
