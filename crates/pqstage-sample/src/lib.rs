//! Deterministic generators of realistic sample data for pqstage demos, tests
//! and benchmarks: one CSV file ([`Dataset`], written by [`write_sample`]) or
//! folders of trajectory sessions ([`trajectories`], written by
//! [`write_trajectories`]). [`Generator`] parses the names `pqstage sample`
//! accepts into either.
//!
//! The CSV dataset is [`Dataset::Violations`]: multi-agency
//! enforcement citations (OSHA, MSHA, WHD, ...) with 21 columns (see
//! [`columns`]). It is built to exercise a CSV-to-Parquet converter the way
//! real public data does:
//!
//! * text that looks numeric and must stay text (`site_zip` `02134`,
//!   `citation_id` `01001A`, `gravity` `05`);
//! * RFC 4180 quoting: company names with commas (`"ACME ROOFING, INC."`) and
//!   doubled quotes (`"""BIG JOE"" CONSTRUCTION"`), addresses with embedded
//!   newlines, and some multi-byte UTF-8 (`NUÑEZ`, `Müller`);
//! * empty fields (NULLs) at realistic rates, dates over 50 years
//!   (1975..=2024, for year partitioning), two-decimal money, 64-bit ids;
//! * repetition (about 200,000 companies drawn with a skew), so dictionary
//!   encoding has something to find.
//!
//! Output is a pure function of `(rows, seed)`: row *i* depends only on the
//! seed and *i* (rows are generated in independently seeded blocks of 8192),
//! so any number of [`SampleOptions::threads`] produces byte-identical files,
//! and a shorter file is a prefix of a longer one with the same seed.
//!
//! ```
//! use pqstage_sample::{columns, write_sample, Dataset, SampleOptions};
//!
//! let mut csv = Vec::new();
//! let opts = SampleOptions { rows: 3, seed: 42, threads: 1, revision: 0 };
//! let summary = write_sample(Dataset::Violations, &opts, &mut csv)?;
//! assert_eq!(summary.rows, 3);
//! assert_eq!(summary.bytes, csv.len() as u64);
//!
//! let text = String::from_utf8(csv).unwrap();
//! let header = text.lines().next().unwrap();
//! assert_eq!(header, columns(Dataset::Violations).join(","));
//! assert!(header.starts_with("agency,activity_nr,citation_id,company_name"));
//! # Ok::<(), pqstage_sample::SampleError>(())
//! ```

mod fmt;
mod rng;
pub mod trajectories;
mod violations;
#[rustfmt::skip] // keep the word lists compact
mod words;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

pub use trajectories::{write_trajectories, Source, TrajectoryOptions, TrajectoryOptionsBuilder, TrajectorySummary};
pub use violations::Part;
use violations::{Violations, BLOCK_ROWS};

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// Multi-agency enforcement violations (21 columns, ~160 bytes a row).
    Violations,
}

impl Dataset {
    /// Every dataset, in the order their names are listed.
    pub const ALL: &'static [Dataset] = &[Dataset::Violations];

    /// The name accepted by [`str::parse`] (e.g. `"violations"`).
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Violations => "violations",
        }
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dataset {
    type Err = SampleError;

    /// Parses a dataset name (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Dataset::ALL
            .iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| SampleError::UnknownDataset { name: s.to_owned(), known: names(Dataset::ALL) })
    }
}

/// What `pqstage sample NAME` generates: one CSV file of a [`Dataset`], or
/// trajectory session folders ([`write_trajectories`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generator {
    /// A CSV dataset, written by [`write_sample`].
    Csv(Dataset),
    /// Trajectory session folders, written by [`write_trajectories`].
    Trajectories,
}

impl Generator {
    /// Every generator, in the order their names are listed.
    pub const ALL: &'static [Generator] = &[Generator::Csv(Dataset::Violations), Generator::Trajectories];

    /// The name accepted by [`str::parse`] (`"violations"`, `"trajectories"`).
    pub fn name(self) -> &'static str {
        match self {
            Generator::Csv(d) => d.name(),
            Generator::Trajectories => "trajectories",
        }
    }
}

impl std::fmt::Display for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Generator {
    type Err = SampleError;

    /// Parses a dataset name (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Generator::ALL
            .iter()
            .copied()
            .find(|g| g.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| SampleError::UnknownDataset { name: s.to_owned(), known: names(Generator::ALL) })
    }
}

/// Names, comma-separated.
fn names<T: Copy + std::fmt::Display>(all: &[T]) -> String {
    let names: Vec<String> = all.iter().map(T::to_string).collect();
    names.join(", ")
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleOptions {
    /// Number of data rows (the header line is not counted).
    pub rows: u64,
    /// PRNG seed; the same `(rows, seed)` always yields the same bytes.
    pub seed: u64,
    /// Generator threads; `0` means one per available core. Never affects
    /// the output, only how fast it is produced.
    pub threads: usize,
    /// `0` for the first dump; `1`, `2`, ... for a later dump of the same
    /// records, as agencies republish them: of the first dump's `rows`,
    /// 0.2 % removed and 1 % corrected (penalties, or the issuance date a
    /// year earlier), and 0.5 % new rows added at the end. Revisions are each
    /// drawn from the first dump, independently of one another.
    pub revision: u64,
}

/// What [`write_sample`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSummary {
    /// Data rows written (excluding the header).
    pub rows: u64,
    /// Bytes written, including the header line.
    pub bytes: u64,
}

/// Errors from this crate.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// Writing the output failed.
    #[error("writing sample: {0}")]
    Io(#[from] std::io::Error),
    /// Parsing a [`Dataset`] or [`Generator`] name failed.
    #[error("unknown dataset `{name}` (known datasets: {known})")]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The names known, comma-separated.
        known: String,
    },
    /// Parsing a [`Source`] name failed; the message lists the known names.
    #[error("unknown trajectory source `{0}` (known sources: {known})", known = names(Source::ALL))]
    UnknownSource(String),
    /// A [`TrajectoryOptions`] value is out of range.
    #[error("trajectories: {option} = {value} is out of range ({allowed})")]
    InvalidOption {
        /// The option, as its builder setter and CLI flag name it (`cameras`).
        option: &'static str,
        /// The value given.
        value: u64,
        /// The values allowed.
        allowed: &'static str,
    },
    /// Changes or removed keys were asked of the first dump.
    #[error("only a revision (1, 2, ...) has changes or removed keys; the first dump is revision 0")]
    NotARevision,
    /// Creating or writing a file or folder failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Encoding or writing a Parquet file failed.
    #[error("writing Parquet file {}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        source: parquet::errors::ParquetError,
    },
}

impl SampleError {
    /// A [`SampleError::Write`] for `path`.
    fn write(path: &Path, source: std::io::Error) -> Self {
        SampleError::Write { path: path.to_owned(), source }
    }
}

/// The checked-in pqstage spec for a dataset (TOML): types, the derived
/// `company_name_normalized`, the `year(issuance_date)` partition and the
/// target indexes.
pub fn spec_toml(dataset: Dataset) -> &'static str {
    match dataset {
        Dataset::Violations => include_str!("../specs/violations.toml"),
    }
}

/// Column names in file order, for docs/tests.
pub fn columns(dataset: Dataset) -> &'static [&'static str] {
    match dataset {
        Dataset::Violations => violations::COLUMNS,
    }
}

/// Filled blocks waiting per worker before it blocks (bounds memory).
const QUEUE_DEPTH: usize = 2;

/// Writes the header line and `opts.rows` rows of CSV to `out`.
///
/// Output depends only on `(rows, seed)`, never on `threads`. Blocks are
/// generated by `threads` workers and written in order by the calling thread,
/// which is the only one touching `out` (so `W` need not be `Send`). `out`
/// receives large `write_all` calls (one per 8192-row block, ~1.2 MB), so it
/// needs no extra buffering. `out` is flushed at the end.
pub fn write_sample<W: Write>(dataset: Dataset, opts: &SampleOptions, out: W) -> Result<SampleSummary, SampleError> {
    write_part(dataset, opts, Part::Whole, out)
}

/// Writes `part` of the dump [`write_sample`] writes: all of it, or (for a
/// revision) only its corrected and added rows, or only the keys of the rows
/// it removed, with a header line each.
///
/// # Errors
/// Writing `out`; [`SampleError::NotARevision`] for a part of the first
/// dump other than the whole.
pub fn write_part<W: Write>(
    dataset: Dataset,
    opts: &SampleOptions,
    part: Part,
    mut out: W,
) -> Result<SampleSummary, SampleError> {
    if part != Part::Whole && opts.revision == 0 {
        return Err(SampleError::NotARevision);
    }
    let gen = match dataset {
        Dataset::Violations => Violations::revised(opts.seed, opts.rows, opts.revision).with_part(part),
    };
    let mut header = Vec::new();
    gen.write_header(&mut header);
    out.write_all(&header)?;
    let mut bytes = header.len() as u64;

    let positions = gen.positions(opts.rows);
    let blocks = positions.div_ceil(BLOCK_ROWS);
    let rows_in = |block: u64| (positions - block * BLOCK_ROWS).min(BLOCK_ROWS);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let threads = threads.min(usize::try_from(blocks).unwrap_or(usize::MAX));

    let mut rows = 0;
    if threads <= 1 {
        let mut writer = gen.block_writer();
        let mut buf = Vec::new();
        for block in 0..blocks {
            buf.clear();
            rows += writer.write_block(block, rows_in(block), &mut buf);
            out.write_all(&buf)?;
            bytes += buf.len() as u64;
        }
    } else {
        let (b, r) = write_parallel(&gen, blocks, threads, &rows_in, &mut out)?;
        bytes += b;
        rows += r;
    }
    out.flush()?;
    Ok(SampleSummary { rows, bytes })
}

/// Worker `w` generates blocks `w, w + threads, ...` into its own bounded
/// queue; the caller drains the queues round-robin, which restores block
/// order with at most `threads * (QUEUE_DEPTH + 1)` blocks in memory.
/// Written buffers go back to their worker for reuse.
fn write_parallel<W: Write>(
    gen: &Violations,
    blocks: u64,
    threads: usize,
    rows_in: &(dyn Fn(u64) -> u64 + Sync),
    out: &mut W,
) -> Result<(u64, u64), SampleError> {
    std::thread::scope(|scope| {
        let mut filled = Vec::with_capacity(threads);
        let mut recycle = Vec::with_capacity(threads);
        for worker in 0..threads {
            let (filled_tx, filled_rx) = mpsc::sync_channel::<(Vec<u8>, u64)>(QUEUE_DEPTH);
            let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
            scope.spawn(move || {
                let mut writer = gen.block_writer();
                let mut block = worker as u64;
                while block < blocks {
                    let mut buf = recycle_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    let rows = writer.write_block(block, rows_in(block), &mut buf);
                    if filled_tx.send((buf, rows)).is_err() {
                        return; // the writer gave up (I/O error)
                    }
                    block += threads as u64;
                }
            });
            filled.push(filled_rx);
            recycle.push(recycle_tx);
        }
        let (mut bytes, mut rows) = (0u64, 0u64);
        for block in 0..blocks {
            let worker = (block % threads as u64) as usize;
            let Ok((buf, n)) = filled[worker].recv() else {
                break; // the worker panicked; `scope` re-raises the panic
            };
            out.write_all(&buf)?;
            bytes += buf.len() as u64;
            rows += n;
            // Ignored if the worker already finished.
            let _ = recycle[worker].send(buf);
        }
        Ok((bytes, rows))
    })
}

#[cfg(test)]
mod tests;
