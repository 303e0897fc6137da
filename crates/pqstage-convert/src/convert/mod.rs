//! `convert`: sources → staged dataset, in two phases.
//!
//! 1. [`phase_one`]: the sources are read in chunks, parsed and typed on all
//!    cores, taken back in input order, and each partition's rows appended
//!    to its spill file; bad rows are refused or kept aside.
//! 2. [`phase_two`]: each partition is encoded into Parquet from its spill
//!    and moved into the stage under content-addressed names.
//!
//! The manifest is written last; after it, files that neither it nor the
//! version it replaces name are deleted (the replaced version's files stay
//! for loads reading it, until `gc`).

pub(crate) mod carry;
pub mod options;
mod phase_one;
mod phase_two;

use std::time::Instant;

use pqstage_stage::manifest::{
    ChangeSet, FileEntry, Manifest, RejectsEntry, TableEntry, CHECKSUM_ALGORITHM, FORMAT_VERSION,
};
use pqstage_stage::{Stage, REJECTS_DIR};

use crate::changes::DiffCtx;
use crate::error::ConvertError;
use crate::keys::KeyRuns;
use crate::layout::Layout;
use crate::write::rejects::RejectsWriter;
pub use options::{
    Codec, ConvertOption, ConvertOptions, ConvertOptionsBuilder, Mode, CHUNK_BYTES, DEFAULT_CHUNK_BYTES,
    DEFAULT_FILE_BYTES, DEFAULT_KEEP_VERSIONS, DEFAULT_ROW_GROUP_ROWS, DEFAULT_ZSTD_LEVEL, MAX_JOBS,
    MAX_ROW_GROUP_ROWS,
};

/// The result of a convert.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    /// The committed manifest.
    pub manifest: Manifest,
    /// Input bytes.
    pub bytes_read: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files deleted after the commit: named by neither this version nor
    /// the one it replaced (left by older versions or failed runs).
    pub replaced_files: usize,
    /// Things the user should know that did not stop the run (a source with
    /// a header and no rows).
    pub notes: Vec<String>,
    /// How each source was read, in order: compression, encoding, line
    /// breaks (`gzip, utf-16le`).
    pub read_as: Vec<String>,
    /// Seconds spent parsing and spilling (phase one).
    pub parse_seconds: f64,
    /// Seconds spent encoding Parquet and committing (phase two).
    pub encode_seconds: f64,
    /// An append whose every source was converted before: nothing was
    /// written, `manifest` is the staged version as it was.
    pub unchanged: bool,
}

/// What wrote the files, in the manifest and in every Parquet footer.
pub(crate) fn created_by() -> String {
    format!("pqstage {}", env!("CARGO_PKG_VERSION"))
}

/// The version a convert writes: one more than the one it replaces.
pub(crate) fn next_version<E>(previous: &Result<Option<Manifest>, E>) -> u64 {
    previous.as_ref().ok().and_then(Option::as_ref).map_or(0, |m| m.version) + 1
}

/// With a `[target] key`, what each partition is compared with: the
/// previous version's partitions when it was converted with the same spec
/// and change sets are kept (`keep` > 0), else nothing (keys are still
/// checked).
fn diff_ctx<'a>(
    layout: &Layout,
    prior: Option<&'a TableEntry>,
    version: u64,
    sources: &[String],
    keep: u64,
) -> Option<DiffCtx<'a>> {
    let spec = &layout.spec;
    if spec.target.key.is_empty() {
        return None;
    }
    // The partition column is not in the files: it is one value per partition.
    let key = spec.target.key.iter().filter_map(|k| layout.schema.index_of(k).ok()).collect();
    let comparable = keep > 0 && prior.is_some_and(|t| t.spec_fingerprint == spec.fingerprint());
    let previous = match prior {
        Some(t) if comparable => t.partitions.iter().map(|p| (p.value, p)).collect(),
        _ => Default::default(),
    };
    Some(DiffCtx {
        key,
        previous,
        comparable,
        version,
        sources: sources.to_vec(),
        seeds: Default::default(),
        runs: None,
    })
}

/// The change sets the new manifest names: the previous version's that are
/// still within `keep` versions, then this run's. A spec change starts the
/// history again (older change sets are of other columns).
fn kept_changes(
    prior: Option<&TableEntry>,
    diff: Option<&DiffCtx<'_>>,
    new: Vec<ChangeSet>,
    version: u64,
    keep: u64,
) -> Vec<ChangeSet> {
    if !diff.is_some_and(|d| d.comparable) {
        return Vec::new();
    }
    let oldest = version.saturating_sub(keep - 1);
    let older = prior.map(|t| t.changes.iter().filter(|c| c.version >= oldest).cloned()).into_iter().flatten();
    older.chain(new).collect()
}

/// What changed in the spec since version `before`, for a note: columns
/// added, removed or retyped (else "its settings"), and what follows.
fn spec_change(old: &pqstage_spec::Spec, new: &pqstage_spec::Spec, before: u64) -> Option<String> {
    if old.fingerprint() == new.fingerprint() {
        return None;
    }
    let (was, now) = (old.output_columns(), new.output_columns());
    let names = |from: &[pqstage_spec::OutputColumn], not_in: &[pqstage_spec::OutputColumn]| {
        from.iter().filter(|c| !not_in.iter().any(|d| d.name == c.name)).map(|c| c.name.clone()).collect::<Vec<_>>()
    };
    let retyped: Vec<String> = now
        .iter()
        .filter_map(|c| {
            was.iter().find(|w| w.name == c.name && (w.ty != c.ty || w.nullable != c.nullable)).map(|_| c.name.clone())
        })
        .collect();
    let mut what = Vec::new();
    for (label, cols) in [("added", names(&now, &was)), ("removed", names(&was, &now)), ("changed", retyped)] {
        if !cols.is_empty() {
            what.push(format!("columns {label}: {}", cols.join(", ")));
        }
    }
    let what = if what.is_empty() { "its settings changed".to_string() } else { what.join("; ") };
    Some(format!(
        "the spec differs from version {before}'s ({what}): change sets start again from this version, so loads \
         reload each changed partition whole (a table gets added nullable columns with ALTER TABLE; other changes \
         need a new table)"
    ))
}

/// Converts the sources into the stage and commits the manifest.
///
/// # Errors
/// Bad rows (unless kept), too many rejects, unreadable or mismatched
/// sources, and stage or disk failures. On error nothing is committed: the
/// previous dataset, if any, stays as it was.
pub fn convert(
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
    opts: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let started = Instant::now();
    let _lock = stage.lock(&opts.set.dataset)?;
    // The version this run replaces: its files stay after the commit, for
    // loads that are reading it (`gc` removes them once they are old enough).
    // If it cannot be read, nothing is deleted after the commit.
    let previous = runtime.block_on(stage.read_manifest(&opts.set.dataset));
    // Removed however the run ends (the dataset lock, dropped after it,
    // removes the stage's scratch parent once it is empty).
    let scratch_guard = stage.scratch_dir(&opts.set.dataset, opts.set.tmp_dir.as_deref())?;
    let scratch = scratch_guard.path();
    let keep = opts.set.keep_rejects || opts.set.max_rejects.is_some();
    let mut rejects =
        if keep { Some(RejectsWriter::create(scratch.join("rejects.csv"), opts.set.direct_io)?) } else { None };
    // A merge or append builds on the staged version; an append reads only
    // the sources it has not converted before.
    let base = carry::base(opts, &previous)?;
    let mut notes = Vec::new();
    let narrowed;
    let opts = match &base {
        Some(b) if b.mode == Mode::Append => {
            let (fresh, skipped) = carry::new_sources(opts, b)?;
            if !skipped.is_empty() {
                notes.push(format!("{} converted before (same bytes): not read again", skipped.join(", ")));
            }
            if fresh.is_empty() {
                let manifest = previous.expect("read above").expect("an append builds on a version");
                let seconds = started.elapsed().as_secs_f64();
                return Ok(ConvertSummary {
                    manifest,
                    bytes_read: 0,
                    seconds,
                    replaced_files: 0,
                    notes,
                    read_as: Vec::new(),
                    parse_seconds: seconds,
                    encode_seconds: 0.0,
                    unchanged: true,
                });
            }
            narrowed = opts.with_sources(&fresh);
            &narrowed
        }
        _ => opts,
    };
    if base.is_none() && !opts.set.deletes.is_empty() {
        notes.push("no staged version to delete from: the deletes files were not read".into());
    }
    let mut spilled = phase_one::read_and_spill(opts, scratch, rejects.as_mut())?;
    let bytes_read = spilled.sources.iter().map(|s| s.size).sum();
    let parse_seconds = started.elapsed().as_secs_f64();
    let version = next_version(&previous);
    let prior = previous.as_ref().ok().and_then(Option::as_ref).and_then(|m| m.tables.first());
    let mut diff = diff_ctx(&opts.layout, prior, version, &opts.set.names, opts.set.keep_versions);
    if let Some(n) = prior.and_then(|t| spec_change(&t.spec, &opts.layout.spec, version - 1)) {
        notes.push(n);
    }
    let (mut kept, mut carried) = (Vec::new(), None);
    if let Some(b) = &base {
        let deletes = carry::read_deletes(opts, scratch)?;
        let parts = std::mem::take(&mut spilled.parts);
        let plan = carry::plan(opts, b, parts, deletes, scratch, stage, runtime)?;
        spilled.parts = plan.parts;
        if let Some(d) = diff.as_mut().filter(|d| d.comparable) {
            d.seeds = std::sync::Mutex::new(plan.seeds);
        }
        (kept, carried) = (plan.kept, Some(plan.carried));
    }
    // A snapshot's keys are checked across partitions too (a merge's and an
    // append's input is, as carry reads it).
    let spec = &opts.layout.spec;
    if let Some(d) = diff.as_mut().filter(|_| base.is_none()) {
        let part = spec.partition_column();
        if part.is_some_and(|p| !spec.target.key.iter().any(|k| k == p)) {
            d.runs = Some(KeyRuns::new(scratch)?);
        }
    }
    let (mut partitions, changes) =
        phase_two::encode_partitions(opts, &spilled, scratch, stage, runtime, diff.as_ref())?;
    if let Some((d, runs)) = diff.as_mut().and_then(|d| d.runs.take().map(|r| (d, r))) {
        let schema = opts.layout.schema.clone();
        runs.check(&d.sources, &schema, &d.key, stage, &opts.set.dataset, runtime)?;
    }
    partitions.append(&mut kept);
    partitions.sort_by_key(|p| (p.value.is_none(), p.value));
    let changes = kept_changes(prior, diff.as_ref(), changes, version, opts.set.keep_versions);

    let rejects_entry = match rejects {
        Some(w) if w.rows > 0 => {
            let rows = w.rows;
            let (path, sum, bytes) = w.finish()?;
            let rel = format!("{REJECTS_DIR}/rejects-{}.csv", &sum[..16]);
            runtime.block_on(stage.put_file(&path, &opts.set.dataset, &rel))?;
            RejectsEntry { rows, files: vec![FileEntry { path: rel, rows, bytes, checksum: sum }] }
        }
        _ => RejectsEntry::default(),
    };
    let rows_written: u64 = partitions.iter().map(|p| p.rows).sum();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        dataset: opts.set.dataset.clone(),
        created_by: created_by(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checksum_algorithm: CHECKSUM_ALGORITHM.into(),
        sources: spilled.sources,
        tables: vec![TableEntry {
            name: opts.set.dataset.clone(),
            path: String::new(),
            spec: spec.clone(),
            spec_fingerprint: spec.fingerprint(),
            partition_column: spec.partition_column().map(str::to_string),
            partitions,
            rejects: rejects_entry,
            rows_read: spilled.rows_read,
            rows_written,
            rows_rejected: spilled.rows_rejected,
            changes,
            carried,
        }],
        trajectories: None,
        version,
    };
    manifest.check_counts().map_err(ConvertError::Unreconciled)?;
    runtime.block_on(stage.write_manifest(&manifest))?;
    let replaced_files = match &previous {
        Ok(previous) => runtime.block_on(stage.delete_unreferenced(&manifest, previous.as_ref()))?,
        Err(_) => 0,
    };
    let seconds = started.elapsed().as_secs_f64();
    Ok(ConvertSummary {
        manifest,
        bytes_read,
        seconds,
        replaced_files,
        notes: notes.into_iter().chain(spilled.notes).collect(),
        read_as: spilled.read_as,
        parse_seconds,
        encode_seconds: seconds - parse_seconds,
        unchanged: false,
    })
}
