//! Phase one: sources → per-partition spill files. A reader thread cuts the
//! sources into chunks at record boundaries; `jobs` workers parse and type
//! them; the calling thread takes the results back in input order, keeps or
//! refuses bad rows, and appends each partition's rows to its spill. The
//! chunks in flight are bounded by permits, so memory does not grow with the
//! input.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use pqstage_stage::manifest::SourceEntry;
use pqstage_stage::progress::Measure;

use super::ConvertOptions;
use crate::error::{ConvertError, RowError};
use crate::read::chunk::{self, Chunk, ChunkOutput};
use crate::read::split::{self, SourceStats};
use crate::read::tokenize::Table;
use crate::read::Dialect;
use crate::spill::{Spill, Spilled};
use crate::write::rejects::RejectsWriter;

/// What phase one hands to phase two.
pub(super) struct Spilled1 {
    /// Each partition's spill, by key.
    pub parts: BTreeMap<Option<i32>, Spilled>,
    /// The sources, with their sizes, checksums and rows.
    pub sources: Vec<SourceEntry>,
    pub rows_read: u64,
    pub rows_rejected: u64,
    /// Notes for the user (sources with a header and no rows).
    pub notes: Vec<String>,
    /// How each source was read (`gzip, utf-8`).
    pub read_as: Vec<String>,
}

/// A result coming back to the sequencer, numbered in input order.
enum Item {
    Chunk(ChunkOutput),
    SourceDone(usize, SourceStats),
    Failed(ConvertError),
}

/// Reads, parses and spills every source.
///
/// # Errors
/// The first bad row (unless kept), too many rejects, unreadable or
/// mismatched sources, and scratch-disk failures.
pub(super) fn read_and_spill(
    opts: &ConvertOptions,
    scratch: &Path,
    rejects: Option<&mut RejectsWriter>,
) -> Result<Spilled1, ConvertError> {
    let total: u64 = opts.set.sources.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    opts.set.progress.begin("1/2 parsing", Measure::Bytes, total);
    let dialect = Dialect::new(&opts.layout.spec.dialect);
    let in_flight = opts.set.jobs + 2;
    let (chunk_tx, chunk_rx) = bounded::<Chunk>(opts.set.jobs);
    let (item_tx, item_rx) = unbounded::<(u64, Item)>();
    let (permit_tx, permit_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        permit_tx.send(()).expect("capacity");
    }
    let stop = AtomicBool::new(false);
    let mut sequencer = Sequencer {
        opts,
        spill: Spill::new(scratch.join("spill"), opts.layout.spill_schema.clone())?.with_direct_io(opts.set.direct_io),
        rejects,
        row_counts: vec![0u64; opts.set.sources.len()],
        stats: vec![None; opts.set.sources.len()],
        rows_read: 0,
        rows_rejected: 0,
        first_reject: None,
    };
    std::thread::scope(|s| -> Result<(), ConvertError> {
        let reader = Reader { opts, dialect: &dialect, stop: &stop, permits: permit_rx, chunks: chunk_tx };
        let items = item_tx.clone();
        s.spawn(move || reader.run(&items));
        for _ in 0..opts.set.jobs {
            let (rx, tx, dialect) = (chunk_rx.clone(), item_tx.clone(), &dialect);
            s.spawn(move || parse_chunks(opts, dialect, &rx, &tx));
        }
        drop(item_tx);
        drop(chunk_rx);
        let result = sequencer.run(&item_rx, &permit_tx);
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        drop(permit_tx);
        drop(item_rx);
        result
    })?;
    sequencer.finish()
}

/// The reader thread: cuts each source into chunks, numbered in input order
/// together with an end-of-source marker per source.
struct Reader<'a> {
    opts: &'a ConvertOptions,
    dialect: &'a Dialect,
    stop: &'a AtomicBool,
    /// One permit per chunk in flight; the sequencer returns them.
    permits: Receiver<()>,
    chunks: Sender<Chunk>,
}

impl Reader<'_> {
    fn run(self, items: &Sender<(u64, Item)>) {
        let spec = &self.opts.layout.spec;
        let expected = spec.header_texts();
        // Chunks and end-of-source markers share one sequence, so the
        // sequencer sees them in input order (the counter also advances
        // inside the chunk callback).
        let mut seq = 0u64;
        #[allow(clippy::explicit_counter_loop)]
        for (i, path) in self.opts.set.sources.iter().enumerate() {
            let settings = split::ReadSettings {
                header: spec.dialect.header,
                expected: &expected,
                tokenizer: &self.dialect.tokenizer,
                quote: spec.dialect.quote as u8,
                encoding: spec.dialect.encoding,
                skip_lines: spec.dialect.skip_lines,
                comment: spec.dialect.comment.map(|c| c as u8),
                chunk_size: self.opts.set.chunk_bytes,
            };
            let res = split::read_source(path, &self.opts.set.names[i], i, &settings, |mut c| {
                if self.stop.load(Ordering::Relaxed) || self.permits.recv().is_err() {
                    return false;
                }
                c.seq = seq;
                seq += 1;
                self.chunks.send(c).is_ok()
            });
            let item = match res {
                Ok(st) => Item::SourceDone(i, st),
                Err(e) => Item::Failed(e),
            };
            let failed = matches!(item, Item::Failed(_));
            if items.send((seq, item)).is_err() || failed {
                return;
            }
            seq += 1;
        }
    }
}

/// A worker: parses and types chunks until the reader is done.
fn parse_chunks(opts: &ConvertOptions, dialect: &Dialect, chunks: &Receiver<Chunk>, items: &Sender<(u64, Item)>) {
    let mut table = Table::default();
    for c in chunks {
        let out = chunk::process(&opts.layout, dialect, &c, &mut table);
        if items.send((c.seq, Item::Chunk(out))).is_err() {
            return;
        }
    }
}

/// The calling thread's side of phase one: takes chunk results in input
/// order, counts, keeps or refuses bad rows and spills the good ones.
struct Sequencer<'a> {
    opts: &'a ConvertOptions,
    spill: Spill,
    rejects: Option<&'a mut RejectsWriter>,
    row_counts: Vec<u64>,
    stats: Vec<Option<SourceStats>>,
    rows_read: u64,
    rows_rejected: u64,
    first_reject: Option<RowError>,
}

impl Sequencer<'_> {
    /// Takes every result, in input order, handing a chunk's permit back
    /// once it is taken.
    fn run(&mut self, items: &Receiver<(u64, Item)>, permits: &Sender<()>) -> Result<(), ConvertError> {
        let mut pending: BTreeMap<u64, Item> = BTreeMap::new();
        let mut next = 0u64;
        for (seq, item) in items.iter() {
            pending.insert(seq, item);
            while let Some(item) = pending.remove(&next) {
                next += 1;
                match item {
                    Item::Failed(e) => return Err(e),
                    Item::SourceDone(i, st) => self.stats[i] = Some(st),
                    Item::Chunk(out) => {
                        let _ = permits.send(());
                        self.take(out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn take(&mut self, out: ChunkOutput) -> Result<(), ConvertError> {
        self.rows_read += out.rows;
        self.row_counts[out.source] += out.rows;
        for r in out.rejects {
            self.reject(r)?;
        }
        for (key, batch) in out.parts {
            self.spill.append(key, batch)?;
        }
        self.opts.set.progress.add(out.bytes);
        Ok(())
    }

    fn reject(&mut self, r: RowError) -> Result<(), ConvertError> {
        self.rows_rejected += 1;
        let Some(w) = self.rejects.as_deref_mut() else { return Err(ConvertError::BadRow(Box::new(r))) };
        w.write(&r)?;
        let first = self.first_reject.get_or_insert(r);
        match self.opts.set.max_rejects {
            Some(max) if self.rows_rejected > max => {
                Err(ConvertError::TooManyRejects { count: self.rows_rejected, max, first: Box::new(first.clone()) })
            }
            _ => Ok(()),
        }
    }

    /// Closes the spills and reports the sources. Refuses a source whose
    /// bytes repeat an earlier one's (unless allowed).
    fn finish(self) -> Result<Spilled1, ConvertError> {
        let set = &self.opts.set;
        let stats: Vec<SourceStats> = self.stats.into_iter().map(|st| st.expect("every source reported")).collect();
        if !set.allow_same_source {
            check_distinct_contents(&set.names, &stats)?;
        }
        let notes =
            set.names.iter().zip(&stats).filter_map(|(n, st)| st.no_rows.map(|why| format!("{n} {why}"))).collect();
        let read_as = stats.iter().map(|st| st.recognized.to_string()).collect();
        let parts = self.spill.finish()?;
        let sources = set
            .names
            .iter()
            .zip(stats)
            .zip(self.row_counts)
            .map(|((name, st), rows)| SourceEntry { path: name.clone(), size: st.size, checksum: st.checksum, rows })
            .collect();
        Ok(Spilled1 { parts, sources, rows_read: self.rows_read, rows_rejected: self.rows_rejected, notes, read_as })
    }
}

/// Refuses a source with the same bytes as an earlier one: its rows would
/// be staged twice.
fn check_distinct_contents(names: &[String], stats: &[SourceStats]) -> Result<(), ConvertError> {
    let mut seen: std::collections::HashMap<(&str, u64), &str> = std::collections::HashMap::new();
    for (name, st) in names.iter().zip(stats) {
        if st.no_rows.is_some() {
            continue; // adds no rows: nothing to stage twice
        }
        if let Some(first) = seen.insert((st.checksum.as_str(), st.size), name) {
            return Err(ConvertError::DuplicateSource(format!(
                "{name} has the same bytes as {first} (checksum {}): its rows would be staged twice; pass --allow-same-source if that is meant",
                st.checksum
            )));
        }
    }
    Ok(())
}
