//! `--mode merge` and `--mode append`: a version made of the previous one
//! and this run's rows, instead of this run's rows alone.
//!
//! - **merge** (a file of new and updated records, plus optional files of
//!   keys to delete): every row of the input replaces the staged row with its
//!   key, wherever that row was (a corrected date moves it to another year),
//!   or adds one; a key in a deletes file removes its row. Staged rows whose
//!   key the run does not name stay as they were.
//! - **append** (files that only add rows): a source already converted (same
//!   name, size and checksum) is not read again; the others' rows are added.
//!   With a `[target] key`, a row whose key is staged already is refused:
//!   append adds records, it does not change them.
//!
//! Only the partitions the run touches are written again: their previous
//! rows, less those replaced or deleted, then the run's rows, in that order,
//! into a spill per worker, from which phase two encodes them as it encodes
//! any partition (and computes their change sets). A partition the run does
//! not touch keeps its files and checksum, so loaders skip it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{Array, BooleanArray, RecordBatch, UInt64Array};
use arrow_select::filter::filter_record_batch;
use pqstage_spec::{Spec, Target};
use pqstage_stage::manifest::{Carried, Manifest, PartitionEntry, SourceEntry, TableEntry};
use pqstage_stage::progress::{Measure, Progress};
use pqstage_stage::{Stage, StageError};

use super::options::{ConvertOptions, Mode};
use super::phase_one::{self, Spilled1};
use crate::changes::{describe_key, fetch, read_batches, RowHasher, Seed};
use crate::error::{group_digits, ConvertError};
use crate::layout::{place, Layout, CARRIED_SOURCE, LINE_BITS};
use crate::read::derive::complete;
use crate::read::source::file_checksum;
use crate::spill::{encode, Spill, Spilled};

/// What a merge or append builds on.
pub(super) struct Base<'a> {
    pub mode: Mode,
    pub prior: &'a TableEntry,
    pub version: u64,
    /// Every source the previous version was built from.
    pub earlier: Vec<SourceEntry>,
}

fn refused(msg: impl Into<String>) -> ConvertError {
    ConvertError::Mode(msg.into())
}

/// The version a merge or append builds on; `None` for a snapshot, or when
/// there is no previous version (the run is then the first, whole).
///
/// # Errors
/// [`ConvertError::Mode`]: a merge without a `[target] key`, a previous
/// version that cannot be read, is a trajectory dataset, or was converted
/// with another spec.
pub(super) fn base<'a>(
    opts: &ConvertOptions,
    previous: &'a Result<Option<Manifest>, StageError>,
) -> Result<Option<Base<'a>>, ConvertError> {
    let mode = opts.set.mode;
    if mode == Mode::Snapshot {
        return Ok(None);
    }
    let spec = &opts.layout.spec;
    if mode == Mode::Merge && spec.target.key.is_empty() {
        return Err(refused(
            "--mode merge needs a [target] key in the spec: without one a row cannot say which staged record it replaces",
        ));
    }
    if spec.partition_column().is_some_and(|p| spec.target.key.iter().any(|k| k == p)) {
        return Err(refused(format!(
            "--mode {mode} matches rows by [target] key across partitions, and this key holds the partition column \
             ({}): a record would be another record in another year; take the partition column out of the key",
            spec.partition_column().unwrap_or_default()
        )));
    }
    let manifest = match previous {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(refused(format!(
                "--mode {mode} builds on the staged version, which cannot be read ({e}); convert a whole dump with --mode snapshot"
            )))
        }
    };
    if manifest.trajectories.is_some() {
        return Err(refused(format!("--mode {mode} applies to CSV datasets; this one holds trajectories")));
    }
    let prior = manifest.tables.first().expect("a CSV dataset has one table");
    if prior.spec_fingerprint != spec.fingerprint() {
        return Err(refused(format!(
            "--mode {mode} keeps the rows of version {}, which was converted with another spec (columns, types or partitioning differ); \
             convert a whole dump with this spec (--mode snapshot) first",
            manifest.version
        )));
    }
    let mut earlier = prior.carried.as_ref().map(|c| c.sources.clone()).unwrap_or_default();
    earlier.extend(manifest.sources.iter().cloned());
    Ok(Some(Base { mode, prior, version: manifest.version, earlier }))
}

/// For an append: the sources not converted before (by name, size and
/// checksum), and a note naming those skipped.
///
/// # Errors
/// A source converted before under its name whose bytes changed since (its
/// rows would come twice), or whose bytes repeat another source converted
/// before (unless the same source is allowed).
pub(super) fn new_sources(opts: &ConvertOptions, base: &Base<'_>) -> Result<(Vec<usize>, Vec<String>), ConvertError> {
    let set = &opts.set;
    let mut fresh = Vec::new();
    let mut skipped = Vec::new();
    for (i, (path, name)) in set.sources.iter().zip(&set.names).enumerate() {
        let size = std::fs::metadata(path).map(|m| m.len()).ok();
        let same_size: Vec<&SourceEntry> = base.earlier.iter().filter(|e| Some(e.size) == size).collect();
        let sum = match same_size.is_empty() {
            true => None,
            false => Some(file_checksum(path).map_err(ConvertError::io("read", path))?),
        };
        let by_name = base.earlier.iter().rev().find(|e| &e.path == name);
        let same_bytes = same_size.iter().find(|e| Some(&e.checksum) == sum.as_ref());
        match (by_name, same_bytes) {
            (Some(e), _) if Some(e.size) == size && Some(&e.checksum) == sum.as_ref() => skipped.push(name.clone()),
            (Some(e), _) => {
                return Err(refused(format!(
                    "{name} was converted before with other bytes ({} bytes, checksum {}; now {} bytes): append adds whole files, \
                     so its rows would come twice; put the new rows in a file of their own, or convert a whole dump with --mode snapshot",
                    group_digits(e.size),
                    e.checksum,
                    size.map_or("unreadable".into(), group_digits)
                )))
            }
            (None, Some(e)) if !set.allow_same_source => {
                return Err(ConvertError::DuplicateSource(format!(
                    "{name} has the same bytes as {}, converted before (checksum {}): its rows would be staged twice; \
                     pass --allow-same-source if that is meant",
                    e.path, e.checksum
                )))
            }
            _ => fresh.push(i),
        }
    }
    Ok((fresh, skipped))
}

/// Keys named by the run: where each came from, as the spill's line column
/// encodes it (source index above [`LINE_BITS`], line below).
struct Named {
    rows: HashMap<u128, (u64, Option<i32>)>,
    deletes: HashMap<u128, u64>,
}

/// The batch without the spill's line column, with derived columns: the
/// staged files' columns.
fn staged_columns(layout: &Layout, batch: &RecordBatch) -> Result<(RecordBatch, UInt64Array), ConvertError> {
    let n = batch.num_columns() - 1;
    let lines = batch.column(n).as_any().downcast_ref::<UInt64Array>().expect("the line column").clone();
    let batch = batch.project(&(0..n).collect::<Vec<_>>()).map_err(|e| ConvertError::arrow("lines", e))?;
    let batch = complete(layout, batch).map_err(|e| ConvertError::arrow("adding derived columns", e))?;
    Ok((batch, lines))
}

/// The files of a delete: each row a key, columns named as the spec names
/// the key's, typed and read as the spec reads them.
fn key_spec(spec: &Spec) -> Result<Spec, ConvertError> {
    let mut columns = Vec::new();
    for k in &spec.target.key {
        match spec.columns.iter().find(|c| &c.name == k) {
            Some(c) => columns.push(c.clone()),
            None => {
                return Err(refused(format!(
                    "--deletes: key column '{k}' is derived; deletes name keys by source columns only"
                )))
            }
        }
    }
    // A file of keys has its header on its first line, whatever lines the
    // data files start with.
    let mut dialect = spec.dialect.clone();
    dialect.skip_lines = 0;
    dialect.header = true;
    Ok(Spec {
        columns,
        derived: Vec::new(),
        partition: None,
        target: Target { key: spec.target.key.clone(), ..Target::default() },
        dialect,
        ..spec.clone()
    })
}

/// The keys of the run: its rows' (refusing one key twice, in any
/// partitions) and its deletes' (refusing a key both upserted and deleted).
fn named_keys(
    opts: &ConvertOptions,
    parts: &BTreeMap<Option<i32>, Spilled>,
    deletes: Option<&(Spilled1, Layout)>,
) -> Result<Named, ConvertError> {
    let layout = &opts.layout;
    let key: Vec<usize> = layout.spec.target.key.iter().filter_map(|k| layout.schema.index_of(k).ok()).collect();
    let hasher = RowHasher::new(&layout.schema, key.clone())?;
    let mut rows: HashMap<u128, (u64, Option<i32>)> = HashMap::new();
    for (part, s) in parts {
        for batch in s.batches_cached() {
            let (batch, lines) = staged_columns(layout, &batch?)?;
            for (r, k) in hasher.keys(&batch)?.into_iter().enumerate() {
                let here = (lines.value(r), *part);
                if let Some(there) = rows.insert(k, here) {
                    // Named in the order of the lines, whichever year was read first.
                    let (first, second) = if there.0 < here.0 { (there, here) } else { (here, there) };
                    let mut both = vec![partition_name(layout, first.1)];
                    if first.1 != second.1 {
                        both.push(partition_name(layout, second.1));
                    }
                    return Err(ConvertError::DuplicateKey {
                        partition: both.join(" and "),
                        key: describe_key(&batch, &key, r),
                        first: place(&opts.set.names, first.0),
                        second: place(&opts.set.names, second.0),
                    });
                }
            }
        }
    }
    let mut deleted = HashMap::new();
    if let Some((spilled, del_layout)) = deletes {
        let cols: Vec<usize> = (0..del_layout.spec.columns.len()).collect();
        let hasher = RowHasher::new(&del_layout.schema, cols.clone())?;
        for s in spilled.parts.values() {
            for batch in s.batches_cached() {
                let (batch, lines) = staged_columns(del_layout, &batch?)?;
                for (r, k) in hasher.keys(&batch)?.into_iter().enumerate() {
                    let here = place(&opts.set.delete_names, lines.value(r));
                    if let Some((upserted, _)) = rows.get(&k) {
                        return Err(refused(format!(
                            "key ({}) is both upserted ({}) and deleted ({here}) by this merge: say which it is",
                            describe_key(&batch, &cols, r),
                            place(&opts.set.names, *upserted)
                        )));
                    }
                    // The same key deleted twice deletes it once.
                    deleted.insert(k, lines.value(r));
                }
            }
        }
    }
    Ok(Named { rows, deletes: deleted })
}

/// `year=1990`, or `the table` when unpartitioned.
fn partition_name(layout: &Layout, part: Option<i32>) -> String {
    match layout.spec.partition_column() {
        Some(c) => pqstage_stage::manifest::partition_dir(c, part.map(i64::from)),
        None => "the table".into(),
    }
}

/// Reads the deletes files (merge only) as a table of key columns.
///
/// # Errors
/// A bad key (unparseable, NULL), an unreadable file, a header that does
/// not name the key's columns.
pub(super) fn read_deletes(opts: &ConvertOptions, scratch: &Path) -> Result<Option<(Spilled1, Layout)>, ConvertError> {
    if opts.set.deletes.is_empty() {
        return Ok(None);
    }
    let spec = key_spec(&opts.layout.spec)?;
    let layout = Layout::new(&spec)?;
    let mut del = opts.clone();
    del.layout = layout.clone();
    del.set.sources = opts.set.deletes.clone();
    del.set.names = opts.set.delete_names.clone();
    // A key named in two files is deleted once.
    del.set.allow_same_source = true;
    del.set.keep_rejects = false;
    del.set.max_rejects = None;
    del.set.progress = Arc::new(Progress::default());
    let dir = scratch.join("deletes");
    std::fs::create_dir_all(&dir).map_err(ConvertError::io("create", &dir))?;
    let spilled = phase_one::read_and_spill(&del, &dir, None)?;
    Ok(Some((spilled, layout)))
}

/// The partitions of the new version: those the run does not touch, as
/// they were, and the touched ones as spills for phase two; with the counts
/// the manifest reconciles.
pub(super) struct Plan {
    /// Partitions kept as they were.
    pub kept: Vec<PartitionEntry>,
    /// For each partition written again: what its differ needs to know of
    /// the previous version (see [`Seed`]).
    pub seeds: HashMap<Option<i64>, Seed>,
    /// What phase two encodes: every touched partition.
    pub parts: BTreeMap<Option<i32>, Spilled>,
    pub carried: Carried,
}

/// One previous partition's work.
enum Job<'p> {
    /// The run may name keys in it: read its keys to tell.
    Scan(&'p PartitionEntry),
    /// The run adds rows to it.
    Rewrite(&'p PartitionEntry, Option<Spilled>),
}

/// Plans a merge or append over `base`, with the run's rows in `spilled`.
///
/// # Errors
/// A key named twice by the run, an appended key that is staged already,
/// reading the previous version or writing the spills.
#[allow(clippy::too_many_lines)]
pub(super) fn plan(
    opts: &ConvertOptions,
    base: &Base<'_>,
    mut parts: BTreeMap<Option<i32>, Spilled>,
    deletes: Option<(Spilled1, Layout)>,
    scratch: &Path,
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
) -> Result<Plan, ConvertError> {
    let layout = &opts.layout;
    let keyed = !layout.spec.target.key.is_empty();
    let named = match keyed {
        true => named_keys(opts, &parts, deletes.as_ref())?,
        false => Named { rows: HashMap::new(), deletes: HashMap::new() },
    };
    let key: Vec<usize> = layout.spec.target.key.iter().filter_map(|k| layout.schema.index_of(k).ok()).collect();
    let naming = !named.rows.is_empty() || !named.deletes.is_empty();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    let mut kept = Vec::new();
    for p in &base.prior.partitions {
        let value = p.value.map(|v| i32::try_from(v).expect("partition values are years"));
        match parts.remove(&value) {
            Some(s) => jobs.push(Job::Rewrite(p, Some(s))),
            None if naming => jobs.push(Job::Scan(p)),
            None => kept.push(p.clone()),
        }
    }
    // The rest are partitions the previous version did not have.
    let fresh = parts;
    jobs.sort_by_key(|j| match j {
        Job::Scan(p) | Job::Rewrite(p, _) => p.rows,
    });
    let w = Worker { opts, base, named: &named, key: &key, scratch, stage, runtime };
    opts.set.progress.begin("carrying over", Measure::Items("partitions"), jobs.len() as u64);
    let queue = Mutex::new(jobs);
    let results: Mutex<Outcome> = Mutex::new(Outcome::default());
    let failed: Mutex<Option<ConvertError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for n in 0..opts.set.jobs {
            let (queue, results, failed, w) = (&queue, &results, &failed, &w);
            s.spawn(move || {
                let run = || -> Result<(), ConvertError> {
                    let mut spill: Option<Spill> = None;
                    loop {
                        if failed.lock().expect("lock").is_some() {
                            return Ok(());
                        }
                        let Some(job) = queue.lock().expect("lock").pop() else { break };
                        let done = w.run(job, n, &mut spill)?;
                        opts.set.progress.add(1);
                        let mut r = results.lock().expect("lock");
                        r.replaced += done.replaced;
                        r.deleted += done.deleted;
                        r.kept.extend(done.kept);
                        r.seeds.extend(done.seeds);
                    }
                    if let Some(spill) = spill {
                        results.lock().expect("lock").parts.extend(spill.finish()?);
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    failed.lock().expect("lock").get_or_insert(e);
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().expect("lock") {
        return Err(e);
    }
    let mut out = results.into_inner().expect("lock");
    out.parts.extend(fresh);
    kept.extend(out.kept);
    let (delete_sources, delete_keys) = match deletes {
        Some((d, _)) => (d.sources, d.rows_read),
        None => (Vec::new(), 0),
    };
    let carried = Carried {
        mode: base.mode.to_string(),
        from_version: base.version,
        previous_rows: base.prior.rows_written,
        replaced: out.replaced,
        deleted: out.deleted,
        delete_keys,
        delete_sources,
        sources: base.earlier.clone(),
    };
    Ok(Plan { kept, parts: out.parts, carried, seeds: out.seeds.into_iter().collect() })
}

#[derive(Default)]
struct Outcome {
    parts: BTreeMap<Option<i32>, Spilled>,
    kept: Vec<PartitionEntry>,
    replaced: u64,
    deleted: u64,
    seeds: Vec<(Option<i64>, Seed)>,
}

struct Worker<'w, 'a> {
    opts: &'w ConvertOptions,
    base: &'w Base<'a>,
    named: &'w Named,
    key: &'w [usize],
    scratch: &'w Path,
    stage: &'w Stage,
    runtime: &'w tokio::runtime::Handle,
}

impl Worker<'_, '_> {
    /// Does one partition's job; a rewritten partition's rows go to `spill`
    /// (this worker's, made at its first).
    fn run(&self, job: Job<'_>, n: usize, spill: &mut Option<Spill>) -> Result<Outcome, ConvertError> {
        let layout = &self.opts.layout;
        let (p, added) = match job {
            Job::Scan(p) => match self.names_any(p)? {
                true => (p, None),
                false => return Ok(Outcome { kept: vec![p.clone()], ..Outcome::default() }),
            },
            Job::Rewrite(p, added) => (p, added),
        };
        let dir = self.scratch.join(format!("carry-{n}"));
        if spill.is_none() {
            *spill = Some(
                Spill::new(dir.join("spill"), layout.spill_schema.clone())?.with_direct_io(self.opts.set.direct_io),
            );
        }
        let spill = spill.as_mut().expect("made above");
        let value = p.value.map(|v| i32::try_from(v).expect("partition values are years"));
        let mut out = Outcome::default();
        let files = self.previous_files(p, &dir)?;
        let hasher = match self.key.is_empty() {
            true => None,
            false => Some(RowHasher::new(&layout.schema, self.key.to_vec())?),
        };
        // The removed rows' whole-row hashes, as the differ makes them.
        let all: Vec<usize> = (0..layout.schema.fields().len()).collect();
        let whole = RowHasher::new(&layout.schema, all)?;
        let mut seed = Seed::default();
        let sources: Vec<usize> = (0..layout.ncols()).collect();
        let mut position = 0u64;
        for path in &files {
            read_batches(path, &layout.schema, None, |batch| {
                let rows = batch.num_rows();
                let mut keep = vec![true; rows];
                if let Some(h) = &hasher {
                    let keys = h.keys(&batch)?;
                    for (r, k) in keys.iter().enumerate() {
                        if let Some(&(at, _)) = self.named.rows.get(k) {
                            self.refuse_staged(&batch, r, at, p)?;
                            keep[r] = false;
                            out.replaced += 1;
                        } else if self.named.deletes.contains_key(k) {
                            keep[r] = false;
                            out.deleted += 1;
                        }
                    }
                    if keep.contains(&false) {
                        let gone = BooleanArray::from(keep.iter().map(|k| !k).collect::<Vec<_>>());
                        let removed =
                            filter_record_batch(&batch, &gone).map_err(|e| ConvertError::arrow("carrying over", e))?;
                        let row_hashes = whole.rows(&removed)?;
                        let removed_keys = keys.iter().zip(&keep).filter(|(_, k)| !**k).map(|(h, _)| *h);
                        for (k, row_hash) in removed_keys.zip(row_hashes) {
                            seed.removed.insert(k, (row_hash, seed.removed.len() as u64));
                        }
                        seed.keys.push(removed.project(self.key).map_err(|e| ConvertError::arrow("carrying over", e))?);
                    }
                }
                let lines: UInt64Array =
                    (0..rows as u64).map(|r| (CARRIED_SOURCE << LINE_BITS) | (position + r + 1)).collect();
                position += rows as u64;
                let mut cols =
                    batch.project(&sources).map_err(|e| ConvertError::arrow("carrying over", e))?.columns().to_vec();
                if layout.has_lines() {
                    cols.push(Arc::new(lines));
                }
                let batch = RecordBatch::try_new(layout.spill_schema.clone(), cols)
                    .map_err(|e| ConvertError::arrow("carrying over", e))?;
                let batch = match keep.contains(&false) {
                    true => filter_record_batch(&batch, &BooleanArray::from(keep))
                        .map_err(|e| ConvertError::arrow("carrying over", e))?,
                    false => batch,
                };
                if batch.num_rows() > 0 {
                    spill.append(value, encode(&batch))?;
                }
                Ok(())
            })?;
        }
        if self.stage.local_root().is_none() {
            for f in &files {
                drop(std::fs::remove_file(f));
            }
        }
        if let Some(added) = added {
            for batch in added.batches() {
                spill.append(value, encode(&batch?))?;
            }
            drop(std::fs::remove_file(&added.path));
        }
        out.seeds.push((p.value, seed));
        Ok(out)
    }

    /// Whether the run names a key of partition `p` (reads its key columns).
    fn names_any(&self, p: &PartitionEntry) -> Result<bool, ConvertError> {
        let layout = &self.opts.layout;
        let hasher = RowHasher::new(
            &layout.schema.project(self.key).map_err(|e| ConvertError::arrow("key", e))?,
            (0..self.key.len()).collect(),
        )?;
        let dir = self.scratch.join(format!("scan-{}", p.path.replace(['/', '='], "-")));
        let files = self.previous_files(p, &dir)?;
        let mut hit = false;
        for path in &files {
            read_batches(path, &layout.schema, Some(self.key), |batch| {
                for (r, k) in hasher.keys(&batch)?.into_iter().enumerate() {
                    if let Some(&(at, _)) = self.named.rows.get(&k) {
                        let key: Vec<usize> = (0..self.key.len()).collect();
                        if self.base.mode == Mode::Append {
                            return Err(self.staged_error(&describe_key(&batch, &key, r), at, p));
                        }
                        hit = true;
                    }
                    hit |= self.named.deletes.contains_key(&k);
                }
                Ok(())
            })?;
            if hit {
                break;
            }
        }
        if self.stage.local_root().is_none() {
            drop(std::fs::remove_dir_all(&dir));
        }
        Ok(hit)
    }

    fn refuse_staged(&self, batch: &RecordBatch, r: usize, at: u64, p: &PartitionEntry) -> Result<(), ConvertError> {
        match self.base.mode {
            Mode::Append => Err(self.staged_error(&describe_key(batch, self.key, r), at, p)),
            _ => Ok(()),
        }
    }

    fn staged_error(&self, key: &str, at: u64, p: &PartitionEntry) -> ConvertError {
        refused(format!(
            "{}: key ({key}) is staged already, in {} of version {}; --mode append only adds records \
             (use --mode merge to replace them); nothing was written",
            place(&self.opts.set.names, at),
            p.path,
            self.base.version
        ))
    }

    /// The previous version's files of `p`, local (downloaded into `dir` from
    /// an object store).
    fn previous_files(&self, p: &PartitionEntry, dir: &Path) -> Result<Vec<PathBuf>, ConvertError> {
        if self.stage.local_root().is_none() {
            std::fs::create_dir_all(dir).map_err(ConvertError::io("create", dir))?;
        }
        fetch(p, dir, self.stage, &self.opts.set.dataset, self.runtime)
    }
}
