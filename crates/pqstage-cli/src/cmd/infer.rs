//! `pqstage infer`.

use std::path::PathBuf;

use anyhow::Context;
use pqstage_convert::{finish_spec, infer, InferOptions, DEFAULT_CHUNK_BYTES};
use pqstage_spec::Spec;

use crate::args::{Cli, InferArgs};
use crate::output::out;
use crate::Failure;

/// Infers a spec and adds the partition key and derived columns.
pub fn infer_spec(
    files: &[PathBuf],
    partition_by: Option<&str>,
    derive: &[String],
    name: Option<String>,
    sample_rows: Option<u64>,
    delimiter: Option<char>,
    jobs: usize,
) -> Result<Spec, Failure> {
    let opts = InferOptions { files: files.to_vec(), sample_rows, delimiter, jobs, chunk_bytes: DEFAULT_CHUNK_BYTES };
    let spec = infer(&opts)?;
    let name = name.or_else(|| files[0].file_stem().map(|s| s.to_string_lossy().into_owned()));
    Ok(finish_spec(spec, name, partition_by, derive)?)
}

pub fn run(_cli: &Cli, a: &InferArgs) -> Result<(), Failure> {
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let spec =
        infer_spec(&a.files, a.partition_by.as_deref(), &a.derive, a.name.clone(), a.sample_rows, a.delimiter, jobs)?;
    let text = spec.to_toml();
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => out(text.trim_end())?,
    }
    Ok(())
}
