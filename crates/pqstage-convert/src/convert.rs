//! `convert`: sources → staged dataset, in two phases.
//!
//! 1. A reader thread cuts the sources into chunks at record boundaries;
//!    `jobs` workers parse and type them; the calling thread takes the results
//!    back in input order, keeps or refuses bad rows, and appends each
//!    partition's rows to its spill ([`crate::spill`]). The number of chunks in
//!    flight is bounded, so memory does not grow with the input.
//! 2. `jobs` workers encode one partition each into Parquet
//!    ([`crate::write`]) and move the files into the stage under
//!    content-addressed names. The manifest is written last; files of an
//!    earlier run that it no longer names are deleted after it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

use pqstage_spec::Spec;
use pqstage_stage::manifest::{
    FileEntry, Manifest, PartitionEntry, RejectsEntry, SourceEntry, TableEntry, CHECKSUM_ALGORITHM, FORMAT_VERSION,
};
use pqstage_stage::{Stage, REJECTS_DIR};

use crate::chunk::{self, Chunk, ChunkOutput};
use crate::encode::column_kinds;
use crate::error::{ConvertError, RowError};
use crate::plan::Plan;
use crate::rejects::RejectsWriter;
use crate::spill::{Spill, Spilled};
use crate::split::{self, SourceStats};
use crate::tokenize::Table;
use crate::write::{write_partition, WriteCtx};

/// Default bytes per chunk handed to a worker.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;
/// Default rows per Parquet row group.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 20;
/// Default size at which a partition rolls over to a new file.
pub const DEFAULT_FILE_BYTES: u64 = 512 << 20;
/// Default zstd level. Level 1 was measured against 3 on 18 M sample rows:
/// 7% faster to convert for 4.6% more bytes (both within 10% of DuckDB's
/// zstd output); `--compression zstd:3` trades the other way.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Parquet compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// zstd at the given level.
    Zstd(i32),
    /// Snappy.
    Snappy,
    /// No compression.
    None,
}

impl std::str::FromStr for Codec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "zstd" => Ok(Self::Zstd(DEFAULT_ZSTD_LEVEL)),
            "snappy" => Ok(Self::Snappy),
            "none" | "uncompressed" => Ok(Self::None),
            _ => s
                .strip_prefix("zstd:")
                .and_then(|l| l.parse().ok())
                .map(Self::Zstd)
                .ok_or_else(|| format!("unknown compression '{s}' (zstd, zstd:LEVEL, snappy or none)")),
        }
    }
}

/// Live counters a caller can poll to show progress.
#[derive(Debug, Default)]
pub struct Progress {
    /// Total input bytes (known at the start).
    pub bytes_total: AtomicU64,
    /// Input bytes converted so far (phase one).
    pub bytes_done: AtomicU64,
    /// Rows converted so far.
    pub rows_done: AtomicU64,
    /// Partitions to encode (known when phase two starts).
    pub partitions_total: AtomicU64,
    /// Partitions encoded.
    pub partitions_done: AtomicU64,
}

/// What to convert and how. Build with [`ConvertOptions::new`] and `with_*`.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    sources: Vec<PathBuf>,
    dataset: String,
    spec: Spec,
    jobs: usize,
    keep_rejects: bool,
    max_rejects: Option<u64>,
    codec: Codec,
    row_group_rows: usize,
    file_bytes: u64,
    chunk_bytes: usize,
    tmp_dir: Option<PathBuf>,
    direct_io: bool,
    progress: Arc<Progress>,
}

impl ConvertOptions {
    /// Convert `sources` (read in order) into `dataset` with `spec`.
    pub fn new(sources: Vec<PathBuf>, dataset: impl Into<String>, spec: Spec) -> Self {
        Self {
            sources,
            dataset: dataset.into(),
            spec,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            keep_rejects: false,
            max_rejects: None,
            codec: Codec::Zstd(DEFAULT_ZSTD_LEVEL),
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            file_bytes: DEFAULT_FILE_BYTES,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            tmp_dir: None,
            direct_io: true,
            progress: Arc::default(),
        }
    }
    /// Worker threads (default: the number of cores).
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }
    /// Keep bad rows under `_rejects/` and go on, instead of stopping at the first.
    pub fn with_rejects(mut self, keep: bool) -> Self {
        self.keep_rejects = keep;
        self
    }
    /// Fail once more than `n` rows are refused (implies keeping rejects).
    pub fn with_max_rejects(mut self, n: Option<u64>) -> Self {
        self.max_rejects = n;
        self
    }
    /// Compression codec (default zstd level 1).
    pub fn with_codec(mut self, c: Codec) -> Self {
        self.codec = c;
        self
    }
    /// Rows per row group (default 1 Mi).
    pub fn with_row_group_rows(mut self, n: usize) -> Self {
        self.row_group_rows = n;
        self
    }
    /// File size at which a partition starts a new file (default 512 MiB).
    pub fn with_file_bytes(mut self, n: u64) -> Self {
        self.file_bytes = n;
        self
    }
    /// Bytes per parse chunk (default 4 MiB). Does not change the output.
    pub fn with_chunk_bytes(mut self, n: usize) -> Self {
        self.chunk_bytes = n;
        self
    }
    /// Folder for scratch files (default: inside a local stage, else the system temp folder).
    pub fn with_tmp_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.tmp_dir = dir;
        self
    }
    /// Write scratch and staged files with direct I/O where the file system
    /// allows it (default), or through the page cache. The output is the same.
    pub fn with_direct_io(mut self, on: bool) -> Self {
        self.direct_io = on;
        self
    }
    /// Counters to poll for progress.
    pub fn with_progress(mut self, p: Arc<Progress>) -> Self {
        self.progress = p;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`ConvertError::Options`] or the spec's validation error.
    pub fn build(self) -> Result<Self, ConvertError> {
        self.spec.validate()?;
        let bad = |m: &str| Err(ConvertError::Options(m.to_string()));
        if self.sources.is_empty() {
            return bad("no input files");
        }
        if self.dataset.is_empty() || self.dataset.contains(['/', '\\']) || self.dataset.starts_with(['.', '_']) {
            return bad("dataset name must be non-empty, without '/', and not start with '.' or '_'");
        }
        if self.row_group_rows == 0 || self.file_bytes == 0 || self.chunk_bytes < 1024 {
            return bad("--row-group-rows and --file-size must be positive");
        }
        if let Codec::Zstd(l) = self.codec {
            if ZstdLevel::try_new(l).is_err() {
                return bad("zstd level must be 1..=22");
            }
        }
        Ok(self)
    }
}

/// The result of a convert.
#[derive(Debug, Clone)]
pub struct ConvertSummary {
    /// The committed manifest.
    pub manifest: Manifest,
    /// Input bytes.
    pub bytes_read: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files of an earlier run deleted after the commit.
    pub replaced_files: usize,
    /// Seconds spent parsing and spilling (phase one).
    pub parse_seconds: f64,
    /// Seconds spent encoding Parquet and committing (phase two).
    pub encode_seconds: f64,
}

enum Item {
    Chunk(ChunkOutput),
    SourceDone(usize, SourceStats),
    Failed(ConvertError),
}

/// What wrote the files, in the manifest and in every Parquet footer.
fn created_by() -> String {
    format!("pqstage {}", env!("CARGO_PKG_VERSION"))
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
    let plan = Plan::new(&opts.spec);
    let _lock = stage.lock(&opts.dataset)?;
    // Removed however the run ends (the dataset lock, dropped after it,
    // removes the stage's scratch parent once it is empty).
    let scratch_guard = stage.scratch_dir(&opts.dataset, opts.tmp_dir.as_deref())?;
    let scratch = scratch_guard.path();
    let total: u64 = opts.sources.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    opts.progress.bytes_total.store(total, Ordering::Relaxed);

    let keep = opts.keep_rejects || opts.max_rejects.is_some();
    let mut rejects =
        if keep { Some(RejectsWriter::create(scratch.join("rejects.csv"), opts.direct_io)?) } else { None };
    let phase1 = read_and_spill(&plan, opts, scratch, rejects.as_mut())?;
    let parse_seconds = started.elapsed().as_secs_f64();

    // Phase two: encode partitions, largest first, on `jobs` workers.
    let props = writer_props(opts);
    let parquet = Arc::new(
        ArrowSchemaConverter::new()
            .convert(&plan.schema)
            .map_err(|e| ConvertError::encode("converting the schema to Parquet", e))?,
    );
    let ctx = WriteCtx {
        plan: &plan,
        props,
        file_size: opts.file_bytes,
        row_group_rows: opts.row_group_rows,
        scratch,
        stage,
        dataset: &opts.dataset,
        partition_column: opts.spec.partition_column(),
        runtime,
        direct_io: opts.direct_io,
        cluster: opts
            .spec
            .target
            .cluster_by
            .as_deref()
            .and_then(|c| plan.source_schema.index_of(c).ok().map(|i| (i, c))),
        kinds: column_kinds(&plan.schema, &parquet),
        parquet,
    };
    let mut queue: Vec<(Option<i32>, &Spilled)> = phase1.parts.iter().map(|(k, s)| (*k, s)).collect();
    // Workers pop from the end: smallest partitions at the front, so the
    // last ones encoded are small and the workers finish together.
    queue.sort_by_key(|(_, s)| s.rows);
    opts.progress.partitions_total.store(queue.len() as u64, Ordering::Relaxed);
    let queue = Mutex::new(queue);
    let results: Mutex<Vec<PartitionEntry>> = Mutex::new(Vec::new());
    let failed: Mutex<Option<ConvertError>> = Mutex::new(None);
    // Each partition's spill is deleted once it is encoded, by a thread of
    // its own: unlinking the 3 GB spill of an 18 M-row convert took 0.7 s
    // (ext4 frees the extents and waits on its journal), on one thread after
    // everything else when left to the end, and blocked the encode workers
    // when they did it. A failure leaves the file to the scratch guard.
    let (doomed, to_delete) = unbounded::<PathBuf>();
    std::thread::scope(|s| {
        s.spawn(move || to_delete.iter().for_each(|p| drop(std::fs::remove_file(p))));
        let (queue, results, failed, ctx) = (&queue, &results, &failed, &ctx);
        for _ in 0..opts.jobs {
            let doomed = doomed.clone();
            s.spawn(move || loop {
                if failed.lock().expect("lock").is_some() {
                    return;
                }
                let Some((key, spilled)) = queue.lock().expect("lock").pop() else { return };
                let written = write_partition(ctx, key, spilled);
                let _ = doomed.send(spilled.path.clone());
                match written {
                    Ok(p) => {
                        results.lock().expect("lock").push(p);
                        opts.progress.partitions_done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
        drop(doomed);
    });
    if let Some(e) = failed.into_inner().expect("lock") {
        return Err(e);
    }
    let mut partitions = results.into_inner().expect("lock");
    // Key order, NULL partition last.
    partitions.sort_by_key(|p| (p.value.is_none(), p.value));

    let rejects_entry = match rejects {
        Some(w) if w.rows > 0 => {
            let rows = w.rows;
            let (path, sum, bytes) = w.finish()?;
            let rel = format!("{REJECTS_DIR}/rejects-{}.csv", &sum[..16]);
            runtime.block_on(stage.put_file(&path, &opts.dataset, &rel))?;
            RejectsEntry { rows, files: vec![FileEntry { path: rel, rows, bytes, checksum: sum }] }
        }
        _ => RejectsEntry::default(),
    };

    let rows_written: u64 = partitions.iter().map(|p| p.rows).sum();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        dataset: opts.dataset.clone(),
        created_by: created_by(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checksum_algorithm: CHECKSUM_ALGORITHM.into(),
        sources: phase1.sources,
        tables: vec![TableEntry {
            name: opts.dataset.clone(),
            path: String::new(),
            spec: opts.spec.clone(),
            spec_fingerprint: opts.spec.fingerprint(),
            partition_column: opts.spec.partition_column().map(str::to_string),
            partitions,
            rejects: rejects_entry,
            rows_read: phase1.rows_read,
            rows_written,
            rows_rejected: phase1.rows_rejected,
        }],
    };
    manifest.check_counts().map_err(|m| ConvertError::encode("reconciling counts", m))?;
    runtime.block_on(stage.write_manifest(&manifest))?;
    let replaced_files = runtime.block_on(stage.delete_unreferenced(&manifest))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(ConvertSummary {
        manifest,
        bytes_read: total,
        seconds,
        replaced_files,
        parse_seconds,
        encode_seconds: seconds - parse_seconds,
    })
}

fn writer_props(opts: &ConvertOptions) -> WriterPropertiesBuilder {
    let compression = match opts.codec {
        Codec::Zstd(l) => Compression::ZSTD(ZstdLevel::try_new(l).expect("checked in build")),
        Codec::Snappy => Compression::SNAPPY,
        Codec::None => Compression::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        .set_created_by(created_by())
}

/// The calling thread's side of phase one: takes chunk results in input
/// order, counts, keeps or refuses bad rows and spills the good ones.
struct Sequencer<'a> {
    opts: &'a ConvertOptions,
    spill: Spill,
    rejects: Option<&'a mut RejectsWriter>,
    row_counts: Vec<u64>,
    rows_read: u64,
    rows_rejected: u64,
    first_reject: Option<RowError>,
}

impl Sequencer<'_> {
    fn take(&mut self, out: ChunkOutput) -> Result<(), ConvertError> {
        self.rows_read += out.rows;
        self.row_counts[out.source] += out.rows;
        for r in out.rejects {
            self.reject(r)?;
        }
        for (key, batch) in out.parts {
            self.spill.append(key, batch)?;
        }
        self.opts.progress.bytes_done.fetch_add(out.bytes, Ordering::Relaxed);
        self.opts.progress.rows_done.fetch_add(out.rows, Ordering::Relaxed);
        Ok(())
    }

    fn reject(&mut self, r: RowError) -> Result<(), ConvertError> {
        self.rows_rejected += 1;
        let Some(w) = self.rejects.as_deref_mut() else { return Err(ConvertError::BadRow(Box::new(r))) };
        w.write(&r)?;
        let first = self.first_reject.get_or_insert(r);
        match self.opts.max_rejects {
            Some(max) if self.rows_rejected > max => {
                Err(ConvertError::TooManyRejects { count: self.rows_rejected, max, first: Box::new(first.clone()) })
            }
            _ => Ok(()),
        }
    }
}

struct Phase1 {
    parts: BTreeMap<Option<i32>, Spilled>,
    sources: Vec<SourceEntry>,
    rows_read: u64,
    rows_rejected: u64,
}

fn read_and_spill(
    plan: &Plan,
    opts: &ConvertOptions,
    scratch: &std::path::Path,
    rejects: Option<&mut RejectsWriter>,
) -> Result<Phase1, ConvertError> {
    let in_flight = opts.jobs + 2;
    let (chunk_tx, chunk_rx) = bounded::<Chunk>(opts.jobs);
    let (item_tx, item_rx) = unbounded::<(u64, Item)>();
    let (permit_tx, permit_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        permit_tx.send(()).expect("capacity");
    }
    let stop = AtomicBool::new(false);
    let expected: Vec<String> = plan.spec.columns.iter().map(|c| c.name.clone()).collect();
    let quote = plan.spec.dialect.quote as u8;

    let mut sequencer = Sequencer {
        opts,
        spill: Spill::new(scratch.join("spill"), plan.source_schema.clone())?.with_direct_io(opts.direct_io),
        rejects,
        row_counts: vec![0u64; opts.sources.len()],
        rows_read: 0,
        rows_rejected: 0,
        first_reject: None,
    };
    let mut stats: Vec<Option<SourceStats>> = vec![None; opts.sources.len()];

    let outcome = std::thread::scope(|s| -> Result<(), ConvertError> {
        // Reader.
        let item_tx_r = item_tx.clone();
        let stop_r = &stop;
        let expected = &expected;
        s.spawn(move || {
            // Chunks and end-of-source markers share one sequence, so the
            // sequencer sees them in input order (the counter also advances
            // inside the chunk callback).
            let mut seq = 0u64;
            #[allow(clippy::explicit_counter_loop)]
            for (i, path) in opts.sources.iter().enumerate() {
                let settings = split::ReadSettings {
                    header: plan.spec.dialect.header,
                    expected,
                    tokenizer: &plan.tokenizer,
                    quote,
                    chunk_size: opts.chunk_bytes,
                };
                let res = split::read_source(path, i, &settings, |mut c| {
                    if stop_r.load(Ordering::Relaxed) || permit_rx.recv().is_err() {
                        return false;
                    }
                    c.seq = seq;
                    seq += 1;
                    chunk_tx.send(c).is_ok()
                });
                let item = match res {
                    Ok(st) => Item::SourceDone(i, st),
                    Err(e) => Item::Failed(e),
                };
                let failed = matches!(item, Item::Failed(_));
                if item_tx_r.send((seq, item)).is_err() || failed {
                    return;
                }
                seq += 1;
            }
        });
        // Workers.
        for _ in 0..opts.jobs {
            let rx = chunk_rx.clone();
            let tx = item_tx.clone();
            s.spawn(move || {
                let mut table = Table::default();
                for c in rx {
                    let out = chunk::process(plan, &c, &mut table);
                    if tx.send((c.seq, Item::Chunk(out))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(item_tx);
        drop(chunk_rx);

        // Sequencer: take results back in input order.
        let mut pending: BTreeMap<u64, Item> = BTreeMap::new();
        let mut next = 0u64;
        let result = (|| -> Result<(), ConvertError> {
            for (seq, item) in item_rx.iter() {
                pending.insert(seq, item);
                while let Some(item) = pending.remove(&next) {
                    next += 1;
                    match item {
                        Item::Failed(e) => return Err(e),
                        Item::SourceDone(i, st) => stats[i] = Some(st),
                        Item::Chunk(out) => {
                            let _ = permit_tx.send(());
                            sequencer.take(out)?;
                        }
                    }
                }
            }
            Ok(())
        })();
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        drop(permit_tx);
        drop(item_rx);
        result
    });
    outcome?;
    let parts = sequencer.spill.finish()?;
    let sources = opts
        .sources
        .iter()
        .zip(stats)
        .zip(sequencer.row_counts)
        .map(|((p, st), rows)| {
            let st = st.expect("every source reported");
            SourceEntry { path: p.display().to_string(), size: st.size, checksum: st.checksum, rows }
        })
        .collect();
    Ok(Phase1 { parts, sources, rows_read: sequencer.rows_read, rows_rejected: sequencer.rows_rejected })
}
