//! Phase two: one partition's spilled rows → Parquet files with
//! content-addressed names, moved into the stage.
//!
//! The rows are re-cut into batches of exactly [`BATCH_ROWS`] before they
//! reach the Parquet writer, because page boundaries follow the writer's
//! input batches: this way a file depends only on the partition's rows and
//! the settings, never on how the input happened to be chunked.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_select::coalesce::BatchCoalescer;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use pqstage_stage::manifest::{checksum, partition_dir, Checksummer, FileEntry, PartitionEntry};
use pqstage_stage::Stage;

use crate::error::ConvertError;
use crate::spill::Spilled;

/// Rows per batch fed to the Parquet writer.
pub const BATCH_ROWS: usize = 8192;

/// A file writer that checksums what passes through it.
struct Hashing {
    inner: BufWriter<File>,
    hasher: Checksummer,
    bytes: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Settings shared by all partitions of a run.
pub struct WriteCtx<'a> {
    /// The compiled spec (file schema, derived columns).
    pub plan: &'a crate::plan::Plan,
    /// Parquet writer settings (compression, row group size, created_by);
    /// dictionary encoding is then chosen per column by [`choose_dictionaries`].
    pub props: WriterPropertiesBuilder,
    /// Roll to a new file once a file reaches this many bytes (checked at row group ends).
    pub file_size: u64,
    /// Row group size.
    pub row_group_rows: usize,
    /// Scratch folder for files being written.
    pub scratch: &'a Path,
    /// Where finished files go.
    pub stage: &'a Stage,
    /// Dataset name.
    pub dataset: &'a str,
    /// Partition column, if partitioned.
    pub partition_column: Option<&'a str>,
    /// Runs the stage's async calls.
    pub runtime: &'a tokio::runtime::Handle,
}

struct OpenFile {
    writer: ArrowWriter<Hashing>,
    tmp: PathBuf,
    rows: u64,
}

/// Writes one partition and returns its manifest entry.
///
/// # Errors
/// Reading the spill, encoding, or moving files into the stage.
pub fn write_partition(
    ctx: &WriteCtx<'_>,
    key: Option<i32>,
    spilled: &Spilled,
) -> Result<PartitionEntry, ConvertError> {
    let dir = ctx.partition_column.map(|c| partition_dir(c, key.map(i64::from))).unwrap_or_default();
    let tag = key.map_or("null".to_string(), |k| k.to_string());
    let mut files = Vec::new();
    let mut open: Option<OpenFile> = None;
    let mut props: Option<WriterProperties> = None;
    let mut coalescer = BatchCoalescer::new(ctx.plan.source_schema.clone(), BATCH_ROWS);
    let encode = |e: parquet::errors::ParquetError| ConvertError::encode(format!("writing partition {dir}"), e);

    let mut write = |batch: RecordBatch,
                     open: &mut Option<OpenFile>,
                     files: &mut Vec<FileEntry>|
     -> Result<(), ConvertError> {
        let batch = ctx.plan.complete(batch);
        let props = props.get_or_insert_with(|| choose_dictionaries(ctx.props.clone(), &batch, spilled.rows));
        let mut rest = Some(batch);
        while let Some(batch) = rest.take() {
            if open.is_none() {
                let tmp = ctx.scratch.join(format!("out-{tag}-{}.parquet.tmp", files.len()));
                let file = File::create(&tmp).map_err(|source| ConvertError::Io {
                    op: "creating",
                    path: tmp.clone(),
                    source,
                })?;
                let sink =
                    Hashing { inner: BufWriter::with_capacity(1 << 20, file), hasher: Checksummer::new(), bytes: 0 };
                // No embedded Arrow schema: readers take types from Parquet's own
                // logical types, so DECIMAL(12,2) reads as decimal everywhere.
                let options = ArrowWriterOptions::new().with_properties(props.clone()).with_skip_arrow_metadata(true);
                let writer =
                    ArrowWriter::try_new_with_options(sink, ctx.plan.schema.clone(), options).map_err(encode)?;
                *open = Some(OpenFile { writer, tmp, rows: 0 });
            }
            let f = open.as_mut().expect("opened above");
            // Cut at row-group boundaries so every finished row group is checked
            // against --file-size; the cuts depend only on row positions.
            let room = ctx.row_group_rows - f.writer.in_progress_rows();
            let head = if batch.num_rows() > room {
                rest = Some(batch.slice(room, batch.num_rows() - room));
                batch.slice(0, room)
            } else {
                batch
            };
            f.rows += head.num_rows() as u64;
            f.writer.write(&head).map_err(encode)?;
            if f.writer.in_progress_rows() >= ctx.row_group_rows {
                f.writer.flush().map_err(encode)?;
            }
            // bytes_written grows only when a row group lands (the writer also
            // flushes by itself at the row-group size), so this rolls exactly
            // at row-group ends.
            if f.writer.bytes_written() as u64 >= ctx.file_size {
                files.push(finish_file(ctx, &dir, files.len(), open.take().expect("open"))?);
            }
        }
        Ok(())
    };
    for batch in spilled.batches() {
        coalescer.push_batch(batch?).map_err(|e| ConvertError::encode("re-batching", e))?;
        while let Some(b) = coalescer.next_completed_batch() {
            write(b, &mut open, &mut files)?;
        }
    }
    coalescer.finish_buffered_batch().map_err(|e| ConvertError::encode("re-batching", e))?;
    while let Some(b) = coalescer.next_completed_batch() {
        write(b, &mut open, &mut files)?;
    }
    if let Some(f) = open.take() {
        files.push(finish_file(ctx, &dir, files.len(), f)?);
    }
    let rows = files.iter().map(|f| f.rows).sum();
    let bytes = files.iter().map(|f| f.bytes).sum();
    let joined: String = files.iter().map(|f| f.checksum.as_str()).collect::<Vec<_>>().join("\n");
    Ok(PartitionEntry {
        value: key.map(i64::from),
        path: dir,
        rows,
        bytes,
        checksum: checksum(joined.as_bytes()),
        files,
    })
}

/// Largest dictionary, in bytes, that a column keeps; also the writer's
/// dictionary page limit. Larger dictionaries were measured: they shrink the
/// output further but the lookups miss the cache and cost a third of the CPU.
pub const DICTIONARY_MAX_BYTES: usize = 1 << 20;
/// Fewest average repeats of a value for a dictionary to pay for its lookups.
pub const DICTIONARY_MIN_REPEATS: f64 = 4.0;

/// Chooses dictionary or plain encoding per column from the partition's first
/// batch and its total row count. The number of distinct values in the whole
/// partition is estimated with Chao1 (`d + f1² / 2·f2`, from how many values
/// were seen once and twice); a column keeps its dictionary when that many
/// values fit [`DICTIONARY_MAX_BYTES`] and repeat [`DICTIONARY_MIN_REPEATS`]
/// times on average.
/// Ids, addresses and timestamps go plain (a dictionary would be abandoned
/// after costing time, and plain pages compress better); company names and
/// codes keep one. The choice reads only the partition's own rows, so output
/// stays deterministic.
pub fn choose_dictionaries(
    mut props: WriterPropertiesBuilder,
    first: &RecordBatch,
    partition_rows: u64,
) -> WriterProperties {
    use arrow_array::Array;
    props = props.set_dictionary_page_size_limit(DICTIONARY_MAX_BYTES);
    for (field, col) in first.schema().fields().iter().zip(first.columns()) {
        let Some(s) = sample_stats(col.as_ref()) else { continue };
        if s.values < 256 {
            continue;
        }
        let f2 = s.twice.max(1) as f64;
        let estimate = (s.distinct as f64 + (s.once as f64).powi(2) / (2.0 * f2)).min(partition_rows as f64);
        let fits = estimate * s.mean_bytes <= DICTIONARY_MAX_BYTES as f64;
        let non_null_rows = partition_rows as f64 * (s.values as f64 / col.len().max(1) as f64);
        let repeats = estimate * DICTIONARY_MIN_REPEATS <= non_null_rows;
        if !(fits && repeats) {
            props = props.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    props.build()
}

struct SampleStats {
    values: usize,
    distinct: usize,
    once: usize,
    twice: usize,
    mean_bytes: f64,
}

/// A fast, non-cryptographic hasher for sampling (FxHash's multiply-rotate):
/// the keys come from the data being converted, not from an adversary.
#[derive(Default)]
struct QuickHasher(u64);

impl std::hash::Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn counts<K: std::hash::Hash + Eq>(it: impl Iterator<Item = K>, width: impl Fn(&K) -> usize) -> SampleStats {
    let mut map: std::collections::HashMap<K, u32, std::hash::BuildHasherDefault<QuickHasher>> =
        std::collections::HashMap::with_capacity_and_hasher(crate::write::BATCH_ROWS, Default::default());
    let (mut values, mut bytes) = (0usize, 0usize);
    for v in it {
        values += 1;
        bytes += width(&v);
        *map.entry(v).or_default() += 1;
    }
    let once = map.values().filter(|&&c| c == 1).count();
    let twice = map.values().filter(|&&c| c == 2).count();
    SampleStats { values, distinct: map.len(), once, twice, mean_bytes: bytes as f64 / values.max(1) as f64 }
}

fn sample_stats(col: &dyn arrow_array::Array) -> Option<SampleStats> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType as D;
    fn prim<T: arrow_array::ArrowPrimitiveType>(a: &dyn arrow_array::Array) -> SampleStats
    where
        T::Native: std::hash::Hash + Eq,
    {
        counts(a.as_primitive::<T>().iter().flatten(), |_| std::mem::size_of::<T::Native>())
    }
    Some(match col.data_type() {
        D::Utf8 => counts(col.as_string::<i32>().iter().flatten(), |s| s.len() + 4),
        D::Int16 => prim::<Int16Type>(col),
        D::Int32 => prim::<Int32Type>(col),
        D::Int64 => prim::<Int64Type>(col),
        D::Date32 => prim::<Date32Type>(col),
        D::Timestamp(..) => prim::<TimestampMicrosecondType>(col),
        D::Decimal64(..) => prim::<Decimal64Type>(col),
        D::Decimal128(..) => prim::<Decimal128Type>(col),
        // Floats and booleans: keep parquet's default.
        _ => return None,
    })
}

fn finish_file(ctx: &WriteCtx<'_>, dir: &str, index: usize, f: OpenFile) -> Result<FileEntry, ConvertError> {
    let mut sink = f.writer.into_inner().map_err(|e| ConvertError::encode(format!("writing partition {dir}"), e))?;
    sink.flush().map_err(|source| ConvertError::Io { op: "writing", path: f.tmp.clone(), source })?;
    let (sum, bytes) = (sink.hasher.finish(), sink.bytes);
    let name = format!("part-{index:05}-{}.parquet", &sum[..16]);
    let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
    drop(sink);
    ctx.runtime.block_on(ctx.stage.put_file(&f.tmp, ctx.dataset, &rel))?;
    Ok(FileEntry { path: rel, rows: f.rows, bytes, checksum: sum })
}
