//! `convert` for trajectory datasets: session folders → the staged tables
//! `sessions`, `episodes`, `observations` and `extended_properties`, each
//! partitioned by its unit of loading (`session_id=…`, `episode_id=…`).
//!
//! Episodes are read and reshaped on all cores, one episode per worker, in
//! batches (memory stays flat in the episode's length, apart from the set of
//! natural keys that finds duplicates). Files get content-addressed names,
//! so an unchanged episode keeps its files and checksums, and the manifest
//! is written last, as for a table. A bad episode stops the convert with the
//! file, row and column named; nothing is committed.

mod discover;
mod input;
mod reshape;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use pqstage_spec::trajectories::{table_spec, unit_column, TrajectorySpec, TABLES};
use pqstage_stage::manifest::{
    checksum, partition_dir_text, Checksummer, FileEntry, Manifest, PartitionEntry, RejectsEntry, SourceEntry,
    TableEntry, CHECKSUM_ALGORITHM, FORMAT_VERSION,
};
use pqstage_stage::progress::Progress;
use pqstage_stage::{Stage, REJECTS_DIR};

pub use discover::matches;
pub use reshape::{table_schema, writer_properties};

use crate::error::ConvertError;
use discover::{Episode, Session};
use input::EpisodeReader;
use reshape::{PartFile, Reshaper};

/// A bad trajectory input: the file (or session folder), and where in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{}{}: {reason}", row.map_or(String::new(), |r| format!(" row {r}")), column.as_ref().map_or(String::new(), |c| format!(", column '{c}'")))]
pub struct TrajectoryError {
    /// The file or folder.
    pub path: String,
    /// The row (from 1), when one is at fault.
    pub row: Option<u64>,
    /// The column, when one is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl TrajectoryError {
    fn at(path: &Path, row: Option<u64>, column: Option<&str>, reason: String) -> Self {
        Self { path: path.display().to_string(), row, column: column.map(str::to_string), reason }
    }
    fn session(folder: &Path, reason: String) -> Self {
        Self::at(folder, None, None, reason)
    }
    fn io(path: &Path, op: &str, e: &std::io::Error) -> Self {
        Self::at(path, None, None, format!("cannot {op}: {e}"))
    }
    fn io_msg(path: &Path, reason: String) -> Self {
        Self::at(path, None, None, reason)
    }
}

/// What to convert.
#[derive(Debug, Clone)]
pub struct TrajectoryOptions {
    /// Session folders.
    pub sessions: Vec<PathBuf>,
    /// Dataset name in the stage.
    pub dataset: String,
    /// The spec.
    pub spec: TrajectorySpec,
    /// Episodes converted at once.
    pub jobs: usize,
    /// Where scratch files go (default: the stage's scratch folder).
    pub tmp_dir: Option<PathBuf>,
    /// Progress: source bytes read.
    pub progress: Option<Arc<Progress>>,
}

/// What a trajectory convert did.
#[derive(Debug, Clone)]
pub struct TrajectorySummary {
    /// The committed manifest.
    pub manifest: Manifest,
    /// Sessions and episodes converted.
    pub sessions: usize,
    /// Episodes converted.
    pub episodes: usize,
    /// Property values not stored: NULL, NaN or empty.
    pub properties_empty: u64,
    /// Source bytes read.
    pub bytes_read: u64,
    /// Wall time.
    pub seconds: f64,
    /// Files of older versions deleted after the commit.
    pub replaced_files: usize,
}

/// One episode, staged.
struct Staged {
    episode: Episode,
    source: SourceEntry,
    joined: Option<SourceEntry>,
    obs: PartitionEntry,
    props: PartitionEntry,
    row: PartitionEntry,
    rejects: Option<FileEntry>,
    rows_read: u64,
    rejected: u64,
    properties_empty: u64,
}

/// Converts session folders into a staged trajectory dataset and commits its manifest.
///
/// # Errors
/// A bad session or episode (named by file, row and column), or a stage or
/// disk failure. Nothing is committed then: the previous version stays.
pub fn convert_trajectories(
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
    opts: &TrajectoryOptions,
) -> Result<TrajectorySummary, ConvertError> {
    let started = Instant::now();
    opts.spec.validate()?;
    if opts.sessions.is_empty() {
        return Err(ConvertError::NoSources);
    }
    let dataset = &opts.dataset;
    let _lock = stage.lock(dataset)?;
    let previous = runtime.block_on(stage.read_manifest(dataset));
    let scratch_guard = stage.scratch_dir(dataset, opts.tmp_dir.as_deref())?;
    let scratch = scratch_guard.path();

    let mut sessions: Vec<Session> = Vec::new();
    for folder in &opts.sessions {
        let s = discover::session(folder, &opts.spec)?;
        if let Some(other) = sessions.iter().find(|o| o.id == s.id) {
            return Err(TrajectoryError::session(
                folder,
                format!("has the session id '{}' of {} (each session is converted once)", s.id, other.folder.display()),
            )
            .into());
        }
        sessions.push(s);
    }
    let work: Vec<(usize, &Episode)> =
        sessions.iter().enumerate().flat_map(|(i, s)| s.episodes.iter().map(move |e| (i, e))).collect();
    let mut ids = std::collections::HashMap::new();
    for (s, e) in &work {
        if let Some(first) = ids.insert(e.id.as_str(), e.file.as_path()) {
            return Err(TrajectoryError::at(
                &sessions[*s].folder,
                None,
                None,
                format!("episode id '{}' of {} is also that of {}", e.id, e.file.display(), first.display()),
            )
            .into());
        }
    }

    // Episodes on `jobs` workers; the first error stops the others.
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Staged>> = Mutex::new(Vec::with_capacity(work.len()));
    let failure: Mutex<Option<ConvertError>> = Mutex::new(None);
    let jobs = opts.jobs.clamp(1, work.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                if failure.lock().expect("not poisoned").is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((s, episode)) = work.get(i) else { return };
                match stage_episode(stage, runtime, opts, scratch, &sessions[*s], episode) {
                    Ok(staged) => results.lock().expect("not poisoned").push(staged),
                    Err(e) => {
                        failure.lock().expect("not poisoned").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let mut staged = results.into_inner().expect("not poisoned");
    staged.sort_by(|a, b| a.episode.id.cmp(&b.episode.id));

    // Sessions: one row each.
    let mut session_parts = Vec::new();
    let mut sources = Vec::new();
    for s in &sessions {
        let batch = RecordBatch::try_new(
            table_schema("sessions"),
            vec![
                Arc::new(StringArray::from(vec![s.name.as_str()])) as ArrayRef,
                Arc::new(StringArray::from(vec![opts.spec.session.category.as_str()])),
                Arc::new(StringArray::from(vec![s.config.as_deref()])),
                Arc::new(StringArray::from(vec![None::<&str>])),
            ],
        )
        .expect("the columns follow the table's schema");
        session_parts.push(put_one(stage, runtime, dataset, scratch, "sessions", &s.id, &batch)?);
        if let Some(p) = &s.config_path {
            let bytes = std::fs::read(p).map_err(|e| TrajectoryError::io(p, "read", &e))?;
            sources.push(SourceEntry {
                path: p.display().to_string(),
                size: bytes.len() as u64,
                checksum: checksum(&bytes),
                rows: 0,
            });
        }
    }
    session_parts.sort_by(|a, b| a.key.cmp(&b.key));

    let mut episode_parts = Vec::new();
    let mut obs_parts = Vec::new();
    let mut prop_parts = Vec::new();
    let mut reject_files = Vec::new();
    let (mut rows_read, mut rejected, mut properties_empty) = (0, 0, 0);
    for st in staged {
        sources.push(st.source);
        sources.extend(st.joined);
        episode_parts.push(st.row);
        obs_parts.push(st.obs);
        prop_parts.push(st.props);
        reject_files.extend(st.rejects);
        rows_read += st.rows_read;
        rejected += st.rejected;
        properties_empty += st.properties_empty;
    }
    let bytes_read = sources.iter().map(|s| s.size).sum();
    let table = |name: &str, partitions: Vec<PartitionEntry>, read: u64, rejects: RejectsEntry| {
        let spec = table_spec(name);
        let written: u64 = partitions.iter().map(|p| p.rows).sum();
        TableEntry {
            name: name.to_string(),
            path: name.to_string(),
            spec_fingerprint: spec.fingerprint(),
            spec,
            partition_column: Some(unit_column(name).to_string()),
            partitions,
            rows_rejected: rejects.rows,
            rejects,
            rows_read: read.max(written),
            rows_written: written,
            changes: Vec::new(),
            carried: None,
        }
    };
    let n_sessions = session_parts.len() as u64;
    let n_episodes = episode_parts.len() as u64;
    let n_props: u64 = prop_parts.iter().map(|p| p.rows).sum();
    let obs_rejects = RejectsEntry { rows: rejected, files: reject_files };
    let tables: Vec<TableEntry> = TABLES
        .iter()
        .map(|name| match *name {
            "sessions" => table(name, std::mem::take(&mut session_parts), n_sessions, RejectsEntry::default()),
            "episodes" => table(name, std::mem::take(&mut episode_parts), n_episodes, RejectsEntry::default()),
            "observations" => table(name, std::mem::take(&mut obs_parts), rows_read, obs_rejects.clone()),
            _ => table(name, std::mem::take(&mut prop_parts), n_props, RejectsEntry::default()),
        })
        .collect();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        dataset: dataset.clone(),
        created_by: format!("pqstage {}", env!("CARGO_PKG_VERSION")),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checksum_algorithm: CHECKSUM_ALGORITHM.into(),
        sources,
        tables,
        trajectories: Some(opts.spec.clone()),
        version: crate::convert::next_version(&previous),
    };
    manifest.check_counts().map_err(ConvertError::Unreconciled)?;
    runtime.block_on(stage.write_manifest(&manifest))?;
    let replaced_files = match &previous {
        Ok(previous) => runtime.block_on(stage.delete_unreferenced(&manifest, previous.as_ref()))?,
        Err(_) => 0,
    };
    Ok(TrajectorySummary {
        manifest,
        sessions: sessions.len(),
        episodes: work.len(),
        properties_empty,
        bytes_read,
        seconds: started.elapsed().as_secs_f64(),
        replaced_files,
    })
}

/// The source entry of a file: its size, checksum and rows.
fn source_entry(path: &Path, rows: u64) -> Result<SourceEntry, TrajectoryError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| TrajectoryError::io(path, "open", &e))?;
    let mut sum = Checksummer::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| TrajectoryError::io(path, "read", &e))?;
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
        size += n as u64;
    }
    Ok(SourceEntry { path: path.display().to_string(), size, checksum: sum.finish(), rows })
}

/// Moves a finished file into `table/unit/` under a content-addressed name.
fn place(
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
    dataset: &str,
    local: &Path,
    table: &str,
    unit: &str,
    rows: u64,
) -> Result<PartitionEntry, ConvertError> {
    let file = source_entry(local, rows)?;
    let dir = partition_dir_text(unit_column(table), unit);
    let rel = format!("{table}/{dir}/part-00000-{}.parquet", &file.checksum[..16]);
    runtime.block_on(stage.put_file(local, dataset, &rel))?;
    let mut unit_sum = Checksummer::new();
    unit_sum.update(file.checksum.as_bytes());
    Ok(PartitionEntry {
        value: None,
        key: Some(unit.to_string()),
        path: dir,
        rows,
        bytes: file.size,
        checksum: unit_sum.finish(),
        files: vec![FileEntry { path: rel, rows, bytes: file.size, checksum: file.checksum }],
    })
}

/// Writes a one-batch table unit and places it.
fn put_one(
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
    dataset: &str,
    scratch: &Path,
    table: &str,
    unit: &str,
    batch: &RecordBatch,
) -> Result<PartitionEntry, ConvertError> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut f = PartFile::create(scratch.join(format!("{table}-{n}.parquet")), batch.schema())?;
    f.write(batch)?;
    let (path, rows) = f.finish()?;
    place(stage, runtime, dataset, &path, table, unit, rows)
}

/// Distinct scratch names across workers.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn stage_episode(
    stage: &Stage,
    runtime: &tokio::runtime::Handle,
    opts: &TrajectoryOptions,
    scratch: &Path,
    session: &Session,
    episode: &Episode,
) -> Result<Staged, ConvertError> {
    let reshaper = Reshaper::new(&opts.spec, session.frame_rate)?;
    let mut reader = EpisodeReader::open(&episode.file, episode.joined.as_deref(), &opts.spec)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (out, obs_path, props_path) = reshaper.run(
        &mut reader,
        &episode.file,
        scratch.join(format!("obs-{n}.parquet")),
        scratch.join(format!("props-{n}.parquet")),
    )?;
    if out.observations == 0 {
        return Err(TrajectoryError::at(&episode.file, None, None, "holds no observation to load".into()).into());
    }
    let source = source_entry(&episode.file, out.rows_read)?;
    if let Some(p) = &opts.progress {
        p.add(source.size);
    }
    let joined = episode.joined.as_deref().map(|j| source_entry(j, 0)).transpose()?;
    let dataset = &opts.dataset;
    let obs = place(stage, runtime, dataset, &obs_path, "observations", &episode.id, out.observations)?;
    let props = place(stage, runtime, dataset, &props_path, "extended_properties", &episode.id, out.properties)?;
    let row = RecordBatch::try_new(
        table_schema("episodes"),
        vec![
            Arc::new(StringArray::from(vec![session.id.as_str()])) as ArrayRef,
            Arc::new(Int32Array::from(vec![i32::try_from(episode.number).unwrap_or(i32::MAX)])),
            Arc::new(Int32Array::from(vec![out.num_frames])),
            Arc::new(Int32Array::from(vec![out.num_agents])),
            Arc::new(Float64Array::from(vec![session.frame_rate])),
            Arc::new(StringArray::from(vec![episode.file.display().to_string()])),
        ],
    )
    .expect("the columns follow the table's schema");
    let row = put_one(stage, runtime, dataset, scratch, "episodes", &episode.id, &row)?;
    let rejects = if out.rejects.is_empty() {
        None
    } else {
        let text = format!("source,row,column,value,reason\n{}\n", out.rejects.join("\n"));
        let sum = checksum(text.as_bytes());
        let local = scratch.join(format!("rejects-{n}.csv"));
        std::fs::write(&local, &text).map_err(|e| TrajectoryError::io(&local, "write", &e))?;
        let rel = format!("{REJECTS_DIR}/{}/rejects-{}.csv", partition_dir_text("episode_id", &episode.id), &sum[..16]);
        runtime.block_on(stage.put_file(&local, dataset, &rel))?;
        Some(FileEntry { path: rel, rows: out.rejects.len() as u64, bytes: text.len() as u64, checksum: sum })
    };
    Ok(Staged {
        episode: episode.clone(),
        source,
        joined,
        obs,
        props,
        row,
        rejected: out.rejects.len() as u64,
        rejects,
        rows_read: out.rows_read,
        properties_empty: out.properties_empty,
    })
}
