//! What to convert and how: [`ConvertOptions`], made by a builder whose
//! `build` checks every setting against its bounds, so a convert never
//! starts from options it cannot honour.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use parquet::basic::ZstdLevel;
use pqstage_spec::Spec;
use pqstage_stage::progress::Progress;

use crate::error::ConvertError;
use crate::layout::Layout;

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

/// Versions whose change sets a dataset keeps by default: a loader up to
/// this many versions behind applies changes instead of reloading.
pub const DEFAULT_KEEP_VERSIONS: u64 = 10;

/// Worker threads at most.
pub const MAX_JOBS: usize = 1024;
/// Bytes per parse chunk: at least 1 KiB, at most 1 GiB (a chunk is held in
/// memory by each worker, and offsets into it are 32-bit).
pub const CHUNK_BYTES: std::ops::RangeInclusive<usize> = 1 << 10..=1 << 30;
/// Rows per row group at most: a row group's encoded columns wait in memory
/// until it closes.
pub const MAX_ROW_GROUP_ROWS: usize = 1 << 26;

/// A setting of [`ConvertOptions`], named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertOption {
    /// Worker threads.
    Jobs,
    /// Rows per row group.
    RowGroupRows,
    /// File size at which a partition starts a new file.
    FileBytes,
    /// Bytes per parse chunk.
    ChunkBytes,
    /// The compression codec and level.
    Compression,
    /// The dataset's name.
    Dataset,
    /// A derived column given as `NAME=EXPR`.
    Derive,
    /// The source files and their names.
    Sources,
    /// How the input relates to the staged dataset, and its deletes files.
    Mode,
}

impl fmt::Display for ConvertOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jobs => "jobs",
            Self::RowGroupRows => "rows per row group",
            Self::FileBytes => "file size",
            Self::ChunkBytes => "chunk size",
            Self::Compression => "compression",
            Self::Dataset => "dataset name",
            Self::Derive => "derived column",
            Self::Sources => "sources",
            Self::Mode => "mode",
        })
    }
}

/// How a convert's input relates to the staged dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A whole dump: the new version holds exactly the input's rows (keys
    /// missing from it are deleted).
    #[default]
    Snapshot,
    /// New and updated records: each replaces the staged row with its
    /// `[target] key` or adds one; keys in deletes files are removed; the
    /// other staged rows stay.
    Merge,
    /// Files that only add rows: sources converted before are skipped, the
    /// others' rows added to the staged ones.
    Append,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Snapshot => "snapshot",
            Self::Merge => "merge",
            Self::Append => "append",
        })
    }
}

impl FromStr for Mode {
    type Err = ConvertError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "snapshot" => Ok(Self::Snapshot),
            "merge" => Ok(Self::Merge),
            "append" => Ok(Self::Append),
            _ => Err(ConvertError::option(
                ConvertOption::Mode,
                format!("unknown mode '{s}' (snapshot, merge or append)"),
            )),
        }
    }
}

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
    type Err = ConvertError;
    fn from_str(s: &str) -> Result<Self, ConvertError> {
        match s {
            "zstd" => Ok(Self::Zstd(DEFAULT_ZSTD_LEVEL)),
            "snappy" => Ok(Self::Snappy),
            "none" | "uncompressed" => Ok(Self::None),
            _ => s.strip_prefix("zstd:").and_then(|l| l.parse().ok()).map(Self::Zstd).ok_or_else(|| {
                ConvertError::option(
                    ConvertOption::Compression,
                    format!("unknown compression '{s}' (zstd, zstd:LEVEL, snappy or none)"),
                )
            }),
        }
    }
}

/// What to convert and how; made by [`ConvertOptions::builder`], checked by
/// its `build`.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// The spec's schemas, from the checked spec.
    pub(crate) layout: Layout,
    /// Every other setting, checked.
    pub(crate) set: Settings,
}

/// A convert's settings besides the spec.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub sources: Vec<PathBuf>,
    /// How messages and the manifest name each source (its path as given,
    /// unless the caller spooled it from a pipe).
    pub names: Vec<String>,
    /// Whether the same file, or the same bytes, may be read twice.
    pub allow_same_source: bool,
    pub dataset: String,
    pub jobs: usize,
    pub keep_rejects: bool,
    pub max_rejects: Option<u64>,
    pub codec: Codec,
    pub row_group_rows: usize,
    pub file_bytes: u64,
    pub chunk_bytes: usize,
    pub tmp_dir: Option<PathBuf>,
    pub direct_io: bool,
    pub progress: Arc<Progress>,
    /// Versions whose change sets the manifest keeps (the new one included).
    pub keep_versions: u64,
    /// How the input relates to the staged dataset.
    pub mode: Mode,
    /// Merge: files of keys to delete, and how messages name them.
    pub deletes: Vec<PathBuf>,
    pub delete_names: Vec<String>,
}

impl ConvertOptions {
    /// The same options with only the sources at `keep` (indexes, in order).
    pub(crate) fn with_sources(&self, keep: &[usize]) -> Self {
        let mut o = self.clone();
        o.set.sources = keep.iter().map(|&i| self.set.sources[i].clone()).collect();
        o.set.names = keep.iter().map(|&i| self.set.names[i].clone()).collect();
        o
    }

    /// Options to convert `sources` (read in order) into `dataset` with
    /// `spec`, with every other setting at its default.
    pub fn builder(sources: Vec<PathBuf>, dataset: impl Into<String>, spec: Spec) -> ConvertOptionsBuilder {
        let set = Settings {
            names: sources.iter().map(|p| p.display().to_string()).collect(),
            allow_same_source: false,
            sources,
            dataset: dataset.into(),
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
            keep_versions: DEFAULT_KEEP_VERSIONS,
            mode: Mode::Snapshot,
            deletes: Vec::new(),
            delete_names: Vec::new(),
        };
        ConvertOptionsBuilder { spec, set }
    }
}

/// Settings of a convert, each with a default; [`ConvertOptionsBuilder::build`]
/// checks them.
#[derive(Debug, Clone)]
pub struct ConvertOptionsBuilder {
    spec: Spec,
    set: Settings,
}

impl ConvertOptionsBuilder {
    /// Worker threads (default: the number of cores; 1 to [`MAX_JOBS`]).
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.set.jobs = jobs;
        self
    }
    /// Versions whose change sets are kept (default
    /// [`DEFAULT_KEEP_VERSIONS`]; 1 keeps only the latest, 0 none). Older
    /// change sets leave the manifest, and their files go.
    pub fn with_keep_versions(mut self, n: u64) -> Self {
        self.set.keep_versions = n;
        self
    }
    /// Keep bad rows under `_rejects/` and go on, instead of stopping at the first.
    pub fn with_rejects(mut self, keep: bool) -> Self {
        self.set.keep_rejects = keep;
        self
    }
    /// Fail once more than `n` rows are refused (implies keeping rejects).
    pub fn with_max_rejects(mut self, n: Option<u64>) -> Self {
        self.set.max_rejects = n;
        self
    }
    /// Compression codec (default zstd level [`DEFAULT_ZSTD_LEVEL`]).
    pub fn with_codec(mut self, c: Codec) -> Self {
        self.set.codec = c;
        self
    }
    /// Rows per row group (default [`DEFAULT_ROW_GROUP_ROWS`]; 1 to [`MAX_ROW_GROUP_ROWS`]).
    pub fn with_row_group_rows(mut self, n: usize) -> Self {
        self.set.row_group_rows = n;
        self
    }
    /// File size at which a partition starts a new file (default [`DEFAULT_FILE_BYTES`]; at least 1).
    pub fn with_file_bytes(mut self, n: u64) -> Self {
        self.set.file_bytes = n;
        self
    }
    /// Bytes per parse chunk (default [`DEFAULT_CHUNK_BYTES`]; within
    /// [`CHUNK_BYTES`]). Does not change the output.
    pub fn with_chunk_bytes(mut self, n: usize) -> Self {
        self.set.chunk_bytes = n;
        self
    }
    /// Folder for scratch files (default: inside a local stage, else the system temp folder).
    pub fn with_tmp_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.set.tmp_dir = dir;
        self
    }
    /// Write scratch and staged files with direct I/O where the file system
    /// allows it (default), or through the page cache. The output is the same.
    pub fn with_direct_io(mut self, on: bool) -> Self {
        self.set.direct_io = on;
        self
    }
    /// Names for the sources in messages and the manifest, in order
    /// (default: each path as given), e.g. `-` for input spooled from a pipe.
    pub fn with_source_names(mut self, names: Vec<String>) -> Self {
        self.set.names = names;
        self
    }
    /// Whether a source may be given twice, or repeat an earlier source's
    /// bytes (default: refused, since its rows would be staged twice).
    pub fn with_same_source_allowed(mut self, allow: bool) -> Self {
        self.set.allow_same_source = allow;
        self
    }
    /// How the input relates to the staged dataset (default: a whole dump).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.set.mode = mode;
        self
    }
    /// Merge: files of keys to delete (a header naming the `[target] key`
    /// columns, one key a row, read with the spec's dialect and formats).
    pub fn with_deletes(mut self, files: Vec<PathBuf>) -> Self {
        self.set.delete_names = files.iter().map(|p| p.display().to_string()).collect();
        self.set.deletes = files;
        self
    }
    /// Counters to poll for progress.
    pub fn with_progress(mut self, p: Arc<Progress>) -> Self {
        self.set.progress = p;
        self
    }

    /// Checks every setting and the spec.
    ///
    /// # Errors
    /// [`ConvertError::Option`] naming the first setting out of its bounds,
    /// [`ConvertError::NoSources`], or the spec's validation error.
    pub fn build(self) -> Result<ConvertOptions, ConvertError> {
        use ConvertOption as O;
        let layout = Layout::new(&self.spec)?;
        let s = &self.set;
        if !s.deletes.is_empty() && s.mode != Mode::Merge {
            return Err(ConvertError::option(
                O::Mode,
                "--deletes (keys to delete from the staged version) applies to --mode merge only",
            ));
        }
        if s.sources.is_empty() && s.deletes.is_empty() {
            return Err(ConvertError::NoSources);
        }
        if s.names.len() != s.sources.len() {
            return Err(ConvertError::option(O::Sources, "one name per source"));
        }
        if !s.allow_same_source {
            same_file_twice(&s.sources, &s.names)?;
        }
        let d = &s.dataset;
        if d.is_empty() || d.contains(['/', '\\']) || d.starts_with(['.', '_']) {
            return Err(ConvertError::option(
                O::Dataset,
                format!("'{d}' must be non-empty, without '/', and not start with '.' or '_'"),
            ));
        }
        within(O::Jobs, s.jobs as u64, 1, MAX_JOBS as u64)?;
        within(O::RowGroupRows, s.row_group_rows as u64, 1, MAX_ROW_GROUP_ROWS as u64)?;
        within(O::FileBytes, s.file_bytes, 1, u64::MAX)?;
        within(O::ChunkBytes, s.chunk_bytes as u64, *CHUNK_BYTES.start() as u64, *CHUNK_BYTES.end() as u64)?;
        if let Codec::Zstd(l) = s.codec {
            if ZstdLevel::try_new(l).is_err() {
                return Err(ConvertError::option(O::Compression, format!("zstd level must be 1..=22, not {l}")));
            }
        }
        Ok(ConvertOptions { layout, set: self.set })
    }
}

/// Refuses a file given twice (by any path): its rows would be staged twice.
fn same_file_twice(sources: &[PathBuf], names: &[String]) -> Result<(), ConvertError> {
    let mut seen = std::collections::HashMap::new();
    for (p, name) in sources.iter().zip(names) {
        let Ok(id) = file_id(p) else { continue };
        if let Some(first) = seen.insert(id, name) {
            let how = if first == name { "is given twice".to_string() } else { format!("is the same file as {first}") };
            return Err(ConvertError::DuplicateSource(format!(
                "{name} {how}: its rows would be staged twice; pass --allow-same-source if that is meant"
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn file_id(p: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p)?;
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(p: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::canonicalize(p)
}

/// Refuses `value` of `option` outside `min..=max`.
fn within(option: ConvertOption, value: u64, min: u64, max: u64) -> Result<(), ConvertError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let range = if max == u64::MAX { format!("at least {min}") } else { format!("between {min} and {max}") };
    Err(ConvertError::option(option, format!("must be {range}, not {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::from_toml("[[columns]]\nname = \"a\"\ntype = \"int32\"\n").unwrap()
    }

    fn build(f: impl FnOnce(ConvertOptionsBuilder) -> ConvertOptionsBuilder) -> Result<ConvertOptions, String> {
        f(ConvertOptions::builder(vec!["x.csv".into()], "d", spec())).build().map_err(|e| e.to_string())
    }

    #[test]
    fn every_bound_names_its_setting() {
        assert!(build(|b| b).is_ok());
        assert_eq!(build(|b| b.with_jobs(0)).unwrap_err(), "jobs: must be between 1 and 1024, not 0");
        assert_eq!(
            build(|b| b.with_row_group_rows(0)).unwrap_err(),
            "rows per row group: must be between 1 and 67108864, not 0"
        );
        assert_eq!(build(|b| b.with_file_bytes(0)).unwrap_err(), "file size: must be at least 1, not 0");
        assert_eq!(
            build(|b| b.with_chunk_bytes(1000)).unwrap_err(),
            "chunk size: must be between 1024 and 1073741824, not 1000"
        );
        assert_eq!(
            build(|b| b.with_chunk_bytes(4 << 30)).unwrap_err(),
            "chunk size: must be between 1024 and 1073741824, not 4294967296"
        );
        assert_eq!(
            build(|b| b.with_codec(Codec::Zstd(30))).unwrap_err(),
            "compression: zstd level must be 1..=22, not 30"
        );
        let bad_name = ConvertOptions::builder(vec!["x.csv".into()], "_d", spec()).build().unwrap_err();
        assert!(bad_name.to_string().starts_with("dataset name: '_d' must be non-empty"), "{bad_name}");
        let none = ConvertOptions::builder(vec![], "d", spec()).build().unwrap_err();
        assert_eq!(none.to_string(), "no input files");
    }

    #[test]
    fn codecs_parse() {
        assert_eq!("zstd".parse::<Codec>().unwrap(), Codec::Zstd(DEFAULT_ZSTD_LEVEL));
        assert_eq!("zstd:7".parse::<Codec>().unwrap(), Codec::Zstd(7));
        assert_eq!("none".parse::<Codec>().unwrap(), Codec::None);
        assert_eq!(
            "lz5".parse::<Codec>().unwrap_err().to_string(),
            "compression: unknown compression 'lz5' (zstd, zstd:LEVEL, snappy or none)"
        );
    }
}
