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
//! holding file handles.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::{write_message, DictionaryTracker, EncodedData, IpcDataGenerator, IpcWriteOptions};
use arrow_schema::SchemaRef;

use crate::error::ConvertError;

/// Bytes of encoded rows held in memory across all partitions before the
/// biggest buffer is flushed to its file.
pub const SPILL_BUDGET: usize = 16 << 20;
const READ_BUFFER: usize = 128 << 10;
const WRITE_BUFFER: usize = 256 << 10;

/// A partition's spilled rows.
#[derive(Debug, Default)]
pub struct Spilled {
    /// Spill files in order (one per partition).
    pub segments: Vec<PathBuf>,
    /// Rows in all segments.
    pub rows: u64,
}

#[derive(Default)]
struct Part {
    spilled: Spilled,
    /// Encoded messages not yet on disk, kept as the workers made them (no copy).
    pending: Vec<EncodedData>,
    pending_bytes: usize,
    on_disk: bool,
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

/// Buffers and files of all partitions of one run.
pub struct Spill {
    dir: PathBuf,
    schema: SchemaRef,
    parts: BTreeMap<Option<i32>, Part>,
    pending: usize,
    budget: usize,
}

fn arrow_io(op: &'static str, path: &Path, e: arrow_schema::ArrowError) -> ConvertError {
    match e {
        arrow_schema::ArrowError::IoError(_, source) => ConvertError::io(op, path)(source),
        e => ConvertError::encode(format!("{op} {}", path.display()), e),
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
        Ok(Self { dir, schema, parts: BTreeMap::new(), pending: 0, budget })
    }

    /// Appends rows of partition `key`.
    ///
    /// # Errors
    /// When flushing a buffer to disk fails (disk full …).
    pub fn append(&mut self, key: Option<i32>, batch: Encoded) -> Result<(), ConvertError> {
        let part = self.parts.entry(key).or_default();
        if part.spilled.segments.is_empty() {
            let name = key.map_or("pnull.arrows".to_string(), |k| format!("p{k}.arrows"));
            part.spilled.segments.push(self.dir.join(name));
        }
        let size = batch.data.ipc_message.len() + batch.data.arrow_data.len();
        part.pending.push(batch.data);
        part.pending_bytes += size;
        part.spilled.rows += batch.rows as u64;
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
        let part = self.parts.get_mut(&key).expect("known partition");
        let path = part.spilled.segments[0].clone();
        let file = OpenOptions::new()
            .create(!part.on_disk)
            .truncate(!part.on_disk)
            .write(true)
            .append(part.on_disk)
            .open(&path)
            .map_err(ConvertError::io("writing", &path))?;
        let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
        if !part.on_disk {
            let schema = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
                &self.schema,
                &mut DictionaryTracker::new(false),
                &ipc_options(),
            );
            write_message(&mut w, schema, &ipc_options()).map_err(|e| arrow_io("writing", &path, e))?;
        }
        for data in part.pending.drain(..) {
            write_message(&mut w, data, &ipc_options()).map_err(|e| arrow_io("writing", &path, e))?;
        }
        if last {
            w.write_all(&EOS).map_err(ConvertError::io("writing", &path))?;
        }
        w.flush().map_err(ConvertError::io("writing", &path))?;
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
        Ok(std::mem::take(&mut self.parts).into_iter().map(|(k, p)| (k, p.spilled)).collect())
    }
}

impl Spilled {
    /// The partition's batches in input order.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch, ConvertError>> + '_ {
        self.segments.iter().flat_map(|path| {
            let reader = File::open(path).map_err(ConvertError::io("reading", path)).and_then(|f| {
                StreamReader::try_new(BufReader::with_capacity(READ_BUFFER, f), None)
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
        let dir = tempfile::tempdir().unwrap();
        let schema = batch(0, 1).schema();
        // A budget smaller than one message forces a flush on every append.
        let mut spill = Spill::with_budget(dir.path().join("s"), schema, 64).unwrap();
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
