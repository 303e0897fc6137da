//! Phase one's partition buffers: each partition's rows, in input order, as
//! Arrow IPC segments in the run's scratch folder.
//!
//! Why spill instead of writing Parquet straight away: a Parquet writer holds
//! its open row group (encoded pages, dictionaries) in memory, and with 50+
//! partitions open at once that multiplies. Cutting row groups early under
//! memory pressure would make a partition's bytes depend on the other
//! partitions. Here each open partition costs one small write buffer, at most
//! [`MAX_OPEN`] are open, and the Parquet encoding (phase two) runs one
//! partition per worker on fixed-size batches, so the output depends only on
//! the partition's own rows.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{write_message, DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteOptions};
use arrow_schema::SchemaRef;

use crate::error::ConvertError;

/// Most partition segment files open at once; the least recently used is closed past it.
pub const MAX_OPEN: usize = 128;
const WRITE_BUFFER: usize = 128 << 10;

/// A partition's spilled rows.
#[derive(Debug, Default)]
pub struct Spilled {
    /// Segment files in order.
    pub segments: Vec<PathBuf>,
    /// Rows in all segments.
    pub rows: u64,
}

struct Open {
    writer: BufWriter<File>,
    last_used: u64,
}

/// Rows of one partition from one chunk, encoded as an Arrow IPC message by
/// the worker that parsed them, so the ordered appends stay cheap. (LZ4 on
/// the spill was measured: it saved page-cache traffic but cost as much CPU.)
pub struct Encoded {
    /// Rows in the message.
    pub rows: usize,
    data: EncodedData,
}

fn ipc_options() -> IpcWriteOptions {
    IpcWriteOptions::default()
}

/// Encodes a batch for the spill.
pub fn encode(batch: &RecordBatch) -> Encoded {
    let mut ctx = arrow_ipc::writer::CompressionContext::default();
    let (_, data) = IpcDataGenerator::default()
        .encode(batch, &mut DictionaryTracker::new(false), &ipc_options(), &mut ctx)
        .expect("plain arrays always encode");
    Encoded { rows: batch.num_rows(), data }
}

/// End-of-stream marker of the IPC stream format.
const EOS: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Writers of all partitions of one run.
pub struct Spill {
    dir: PathBuf,
    schema: SchemaRef,
    open: HashMap<Option<i32>, Open>,
    parts: BTreeMap<Option<i32>, Spilled>,
    tick: u64,
}

fn io(op: &'static str, path: &Path, e: impl Into<std::io::Error>) -> ConvertError {
    ConvertError::Io { op, path: path.to_path_buf(), source: e.into() }
}

fn arrow_io(op: &'static str, path: &Path, e: arrow_schema::ArrowError) -> ConvertError {
    match e {
        arrow_schema::ArrowError::IoError(_, source) => io(op, path, source),
        e => ConvertError::encode(format!("{op} {}", path.display()), e),
    }
}

impl Spill {
    /// Spill into `dir` (created if missing).
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn new(dir: PathBuf, schema: SchemaRef) -> Result<Self, ConvertError> {
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
        Ok(Self { dir, schema, open: HashMap::new(), parts: BTreeMap::new(), tick: 0 })
    }

    /// Appends rows of partition `key`.
    ///
    /// # Errors
    /// When writing the segment fails (disk full …).
    pub fn append(&mut self, key: Option<i32>, batch: Encoded) -> Result<(), ConvertError> {
        self.tick += 1;
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_OPEN {
                let lru = *self.open.iter().min_by_key(|(_, o)| o.last_used).map(|(k, _)| k).expect("non-empty");
                self.close(lru)?;
            }
            let part = self.parts.entry(key).or_default();
            let name = match key {
                Some(k) => format!("p{k}-{}.arrows", part.segments.len()),
                None => format!("pnull-{}.arrows", part.segments.len()),
            };
            let path = self.dir.join(name);
            let file = File::create(&path).map_err(|e| io("creating", &path, e))?;
            let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
            let schema = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
                &self.schema,
                &mut DictionaryTracker::new(false),
                &ipc_options(),
            );
            write_message(&mut writer, schema, &ipc_options()).map_err(|e| arrow_io("writing", &path, e))?;
            part.segments.push(path);
            self.open.insert(key, Open { writer, last_used: 0 });
        }
        let open = self.open.get_mut(&key).expect("just opened");
        open.last_used = self.tick;
        let part = self.parts.get_mut(&key).expect("registered");
        write_message(&mut open.writer, batch.data, &ipc_options())
            .map_err(|e| arrow_io("writing", part.segments.last().expect("segment"), e))?;
        part.rows += batch.rows as u64;
        Ok(())
    }

    fn close(&mut self, key: Option<i32>) -> Result<(), ConvertError> {
        if let Some(mut o) = self.open.remove(&key) {
            let path = self.parts[&key].segments.last().expect("segment").clone();
            use std::io::Write;
            o.writer.write_all(&EOS).and_then(|()| o.writer.flush()).map_err(|e| io("writing", &path, e))?;
        }
        Ok(())
    }

    /// Closes every segment and returns the partitions in key order (NULL first).
    ///
    /// # Errors
    /// When flushing a segment fails.
    pub fn finish(mut self) -> Result<BTreeMap<Option<i32>, Spilled>, ConvertError> {
        let keys: Vec<_> = self.open.keys().copied().collect();
        for k in keys {
            self.close(k)?;
        }
        Ok(std::mem::take(&mut self.parts))
    }
}

impl Spilled {
    /// The partition's batches in input order.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch, ConvertError>> + '_ {
        self.segments.iter().flat_map(|path| {
            let reader = File::open(path).map_err(|e| io("reading", path, e)).and_then(|f| {
                StreamReader::try_new(BufReader::with_capacity(WRITE_BUFFER, f), None)
                    .map_err(|e| arrow_io("reading", path, e))
            });
            let (ok, err) = match reader {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(Err(e))),
            };
            err.into_iter().chain(ok.into_iter().flatten().map(move |b| b.map_err(|e| arrow_io("reading", path, e))))
        })
    }
}
