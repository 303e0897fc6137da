//! Phase one's partition buffers: each partition's rows, in input order, as
//! one Arrow IPC stream file per partition in the run's scratch folder.
//!
//! Why spill instead of writing Parquet straight away: a Parquet writer holds
//! its open row group (encoded pages, dictionaries) in memory, and with 50+
//! partitions open at once that multiplies. Cutting row groups early under
//! memory pressure would make a partition's bytes depend on the other
//! partitions. Here the encoded rows wait in per-partition buffers under one
//! global budget ([`SPILL_BUDGET`]); past it, the biggest buffer is appended to
//! its partition's file. That flush cannot change the output, because phase
//! two reads each partition back whole and re-cuts it into fixed batches.
//! Files are opened only to append, so any number of partitions works without
//! holding file handles. They are written and read with direct I/O where the
//! file system allows it ([`crate::direct`]).

pub mod cluster;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{write_message, DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteOptions};
use arrow_schema::SchemaRef;

use crate::direct::{self, AlignedBuf, BlockReader};
use crate::error::ConvertError;

/// Bytes of encoded rows held in memory across all partitions before the
/// biggest buffer is flushed to its file.
pub const SPILL_BUDGET: usize = 16 << 20;

/// A partition's spilled rows.
#[derive(Debug)]
pub struct Spilled {
    /// The spill file.
    pub path: PathBuf,
    /// Bytes of the IPC stream in it (the file is padded to whole blocks).
    pub bytes: u64,
    /// Rows in it.
    pub rows: u64,
    /// Whether it was written, and is to be read, with direct I/O.
    direct: bool,
}

struct Part {
    path: PathBuf,
    rows: u64,
    /// Encoded messages not yet on disk, kept as the workers made them (no copy).
    pending: Vec<EncodedData>,
    pending_bytes: usize,
    /// Bytes on disk (whole blocks) and the unaligned rest not yet written.
    written: u64,
    tail: Vec<u8>,
    on_disk: bool,
    /// The file, kept open between flushes while few partitions are open.
    file: Option<std::fs::File>,
}

/// Partitions whose spill files stay open between flushes; past this many,
/// each flush opens and closes its file (an 18 M-row convert flushes about
/// 4,800 times, and opening with `O_DIRECT` each time cost the sequencer
/// thread, which shares the cores with the parse workers, about 0.5 s).
const OPEN_FILES: usize = 256;

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

/// Buffers and files of all partitions of one run.
pub struct Spill {
    dir: PathBuf,
    schema: SchemaRef,
    parts: BTreeMap<Option<i32>, Part>,
    pending: usize,
    budget: usize,
    /// Direct I/O, until the file system refuses it.
    direct: bool,
    /// Reused for every flush, so flushing touches no new memory.
    buf: AlignedBuf,
}

fn arrow_io(op: &'static str, path: &Path, e: arrow_schema::ArrowError) -> ConvertError {
    match e {
        arrow_schema::ArrowError::IoError(_, source) => ConvertError::io(op, path)(source),
        e => ConvertError::arrow(format!("{op} {}", path.display()), e),
    }
}

impl Spill {
    /// Spill into `dir` (created if missing) with the default budget.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn new(dir: PathBuf, schema: SchemaRef) -> Result<Self, ConvertError> {
        Self::with_budget(dir, schema, SPILL_BUDGET)
    }

    /// Spill with a memory budget of `budget` bytes.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn with_budget(dir: PathBuf, schema: SchemaRef, budget: usize) -> Result<Self, ConvertError> {
        std::fs::create_dir_all(&dir).map_err(ConvertError::io("creating", &dir))?;
        Ok(Self { dir, schema, parts: BTreeMap::new(), pending: 0, budget, direct: true, buf: AlignedBuf::default() })
    }

    /// Direct I/O where the file system allows it (the default), or the page cache.
    pub fn with_direct_io(mut self, on: bool) -> Self {
        self.direct = on;
        self
    }

    /// Appends rows of partition `key`.
    ///
    /// # Errors
    /// When flushing a buffer to disk fails (disk full …).
    pub fn append(&mut self, key: Option<i32>, batch: Encoded) -> Result<(), ConvertError> {
        let part = self.parts.entry(key).or_insert_with(|| Part {
            path: self.dir.join(key.map_or("pnull.arrows".to_string(), |k| format!("p{k}.arrows"))),
            rows: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            written: 0,
            tail: Vec::new(),
            on_disk: false,
            file: None,
        });
        let size = batch.data.ipc_message.len() + batch.data.arrow_data.len();
        part.pending.push(batch.data);
        part.pending_bytes += size;
        part.rows += batch.rows as u64;
        self.pending += size;
        while self.pending > self.budget {
            let biggest = *self.parts.iter().max_by_key(|(_, p)| p.pending_bytes).map(|(k, _)| k).expect("non-empty");
            self.flush(biggest, false)?;
        }
        Ok(())
    }

    /// Appends a partition's pending messages to its file (the schema first
    /// when the file is new, the end-of-stream marker when `last`).
    fn flush(&mut self, key: Option<i32>, last: bool) -> Result<(), ConvertError> {
        let keep_open = self.parts.len() <= OPEN_FILES;
        let part = self.parts.get_mut(&key).expect("known partition");
        let path = &part.path;
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(&part.tail);
        if !part.on_disk {
            let schema = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
                &self.schema,
                &mut DictionaryTracker::new(false),
                &ipc_options(),
            );
            write_message(&mut *buf, schema, &ipc_options()).map_err(|e| arrow_io("writing", path, e))?;
        }
        for data in part.pending.drain(..) {
            write_message(&mut *buf, data, &ipc_options()).map_err(|e| arrow_io("writing", path, e))?;
        }
        if last {
            buf.extend_from_slice(&EOS);
        }
        let logical = part.written + buf.len() as u64;
        let mut file = match part.file.take() {
            Some(f) => f,
            None => {
                direct::open_write(path, !part.on_disk, &mut self.direct).map_err(ConvertError::io("writing", path))?
            }
        };
        part.written += direct::write_blocks(&mut file, path, &mut self.direct, buf, part.written, last)
            .map_err(ConvertError::io("writing", path))?;
        if !last && keep_open {
            part.file = Some(file);
        }
        part.tail.clear();
        if last {
            part.written = logical;
        } else {
            part.tail.extend_from_slice(buf.as_slice());
        }
        part.on_disk = true;
        self.pending -= part.pending_bytes;
        part.pending_bytes = 0;
        part.pending.shrink_to_fit();
        Ok(())
    }

    /// Writes every buffer out and returns the partitions in key order (NULL first).
    ///
    /// # Errors
    /// When writing fails.
    pub fn finish(mut self) -> Result<BTreeMap<Option<i32>, Spilled>, ConvertError> {
        let keys: Vec<_> = self.parts.keys().copied().collect();
        for k in keys {
            self.flush(k, true)?;
        }
        let direct = self.direct;
        Ok(std::mem::take(&mut self.parts)
            .into_iter()
            .map(|(k, p)| (k, Spilled { path: p.path, bytes: p.written, rows: p.rows, direct }))
            .collect())
    }
}

impl Spilled {
    /// The partition's batches in input order, read once.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch, ConvertError>> + '_ {
        self.read(self.direct)
    }

    /// The same through the page cache, for a caller that reads the file
    /// several times (clustering): the first read caches it for the others.
    pub fn batches_cached(&self) -> impl Iterator<Item = Result<RecordBatch, ConvertError>> + '_ {
        self.read(false)
    }

    fn read(&self, direct: bool) -> impl Iterator<Item = Result<RecordBatch, ConvertError>> + '_ {
        let path = &self.path;
        let reader = BlockReader::open(path, self.bytes, direct)
            .map_err(ConvertError::io("reading", path))
            .and_then(|r| StreamReader::try_new(r, None).map_err(|e| arrow_io("reading", path, e)));
        let (ok, err) = match reader {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(Err(e))),
        };
        err.into_iter().chain(ok.into_iter().flatten().map(move |b| b.map_err(|e| arrow_io("reading", path, e))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;
    use std::sync::Arc;

    fn batch(from: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "v",
            arrow_schema::DataType::Int64,
            false,
        )]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(from..from + n))]).unwrap()
    }

    #[test]
    fn flushing_under_a_tiny_budget_keeps_every_partition_in_order() {
        for direct in [true, false] {
            flush_and_read_back(direct);
        }
    }

    fn flush_and_read_back(direct: bool) {
        let dir = tempfile::tempdir().unwrap();
        let schema = batch(0, 1).schema();
        // A budget smaller than one message forces a flush on every append.
        let mut spill = Spill::with_budget(dir.path().join("s"), schema, 64).unwrap().with_direct_io(direct);
        for i in 0..300i64 {
            spill.append(Some((i % 7) as i32), encode(&batch(i * 10, 10))).unwrap();
        }
        spill.append(None, encode(&batch(-5, 5))).unwrap();
        let parts = spill.finish().unwrap();
        assert_eq!(parts.len(), 8);
        for (key, spilled) in &parts {
            let values: Vec<i64> = spilled
                .batches()
                .flat_map(|b| b.unwrap().column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
                .collect();
            assert_eq!(values.len() as u64, spilled.rows);
            match key {
                None => assert_eq!(values, (-5..0).collect::<Vec<_>>()),
                Some(k) => {
                    let want: Vec<i64> =
                        (0..300i64).filter(|i| i % 7 == i64::from(*k)).flat_map(|i| i * 10..i * 10 + 10).collect();
                    assert_eq!(values, want, "partition {k}");
                }
            }
        }
    }
}
