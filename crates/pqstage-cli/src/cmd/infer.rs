//! `pqstage infer`.

use std::path::PathBuf;

use anyhow::Context;
use pqstage_convert::{finish_spec, infer, HeaderChoice, InferOptions, DEFAULT_CHUNK_BYTES};
use pqstage_spec::{Encoding, Spec};

use crate::args::{Cli, InferArgs, LayoutArgs};
use crate::cmd::inputs::{default_dataset, prepare, Inputs};
use crate::output::out;
use crate::Failure;

/// What to infer a spec from, besides the files.
pub struct InferFrom<'a> {
    pub partition_by: Option<&'a str>,
    pub derive: &'a [String],
    pub name: Option<String>,
    pub sample_rows: Option<u64>,
    pub delimiter: Option<char>,
    pub encoding: Encoding,
    pub layout: &'a LayoutArgs,
    pub jobs: usize,
    pub quiet: bool,
}

/// Infers a spec from `inputs` and adds the partition key and derived columns.
pub fn infer_spec(inputs: &Inputs, files: &[PathBuf], how: InferFrom<'_>) -> Result<Spec, Failure> {
    let opts = InferOptions {
        files: inputs.paths.clone(),
        sample_rows: how.sample_rows,
        delimiter: how.delimiter,
        jobs: how.jobs,
        chunk_bytes: DEFAULT_CHUNK_BYTES,
        encoding: how.encoding,
        names: inputs.names.clone(),
        header: match how.layout.header.as_str() {
            "yes" => HeaderChoice::Present,
            "no" => HeaderChoice::Absent,
            _ => HeaderChoice::Auto,
        },
        skip_lines: how.layout.skip_lines,
        comment: how.layout.comment,
    };
    let spec = infer(&opts)?;
    if !how.quiet {
        let first = &inputs.names[0];
        let d = &spec.dialect;
        if d.skip_lines > 0 && how.layout.skip_lines.is_none() {
            eprintln!(
                "note: {first}: the table starts on line {}: the {} lines above it are not part of it (skip_lines = {} in the spec; --skip-lines to change)",
                d.skip_lines + 1,
                d.skip_lines,
                d.skip_lines
            );
        }
        if !d.header && how.layout.header == "auto" {
            eprintln!(
                "note: {first}: its first line is read as a row, not a header (each value fits its column's type); the columns are named column_1 …; pass --header yes if it names them"
            );
        }
    }
    let name = how.name.or_else(|| Some(default_dataset(files)));
    Ok(finish_spec(spec, name, how.partition_by, how.derive)?)
}

/// The `--encoding` argument.
pub fn encoding(arg: Option<&str>) -> Result<Option<Encoding>, Failure> {
    Ok(arg.map(str::parse::<Encoding>).transpose()?)
}

pub fn run(cli: &Cli, a: &InferArgs) -> Result<(), Failure> {
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let inputs = prepare(&a.files, true, None)?;
    let how = InferFrom {
        partition_by: a.partition_by.as_deref(),
        derive: &a.derive,
        name: a.name.clone(),
        sample_rows: a.sample_rows,
        delimiter: a.delimiter,
        encoding: encoding(a.encoding.as_deref())?.unwrap_or_default(),
        layout: &a.layout,
        jobs,
        quiet: cli.quiet,
    };
    let spec = infer_spec(&inputs, &a.files, how)?;
    let text = spec.to_toml();
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => out(text.trim_end())?,
    }
    Ok(())
}
