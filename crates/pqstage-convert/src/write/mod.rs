//! Phase two's writing: one partition's spilled rows → Parquet files with
//! content-addressed names, moved into the stage.
//!
//! - [`choice`]: dictionary or plain encoding, per column, from the
//!   partition's own rows;
//! - [`encode`]: our own column encoder for text and integer columns;
//! - [`sink`]: the files being written, checksummed as they go;
//! - [`rejects`]: the refused rows, as CSV.
//!
//! The rows are re-cut into batches of exactly [`BATCH_ROWS`] before they
//! reach the Parquet writer, because page boundaries follow the writer's
//! input batches: this way a file depends only on the partition's rows and
//! the settings, never on how the input happened to be chunked.

pub mod choice;
pub mod encode;
pub mod rejects;
pub mod sink;

use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_select::coalesce::BatchCoalescer;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescPtr;
use pqstage_stage::manifest::{checksum, partition_dir, ChangeSet, FileEntry, PartitionEntry};
use pqstage_stage::Stage;

use crate::changes::{DiffCtx, Differ};
use crate::error::ConvertError;
use crate::layout::Layout;
use crate::read::derive::complete;
use crate::spill::cluster::{clustered, GROUP_BYTES};
use crate::spill::Spilled;
use choice::choose_dictionaries;
use encode::{ColumnEncoder, Kind};
use sink::HashingFile;

/// Rows per batch fed to the Parquet writer.
pub const BATCH_ROWS: usize = 8192;

/// Settings shared by all partitions of a run.
pub struct WriteCtx<'a> {
    /// The spec's schemas and derived columns.
    pub layout: &'a Layout,
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
    /// Write files with direct I/O where the file system allows it.
    pub direct_io: bool,
    /// The spec's `cluster_by`: its index in the spill's schema, and its name.
    pub cluster: Option<(usize, &'a str)>,
    /// The Parquet schema of the files (from the plan's schema).
    pub parquet: SchemaDescPtr,
    /// For each column, the kind [`ColumnEncoder`] writes it as; `None` for arrow's writer.
    pub kinds: Vec<Option<Kind>>,
    /// With a `[target] key`: what each partition is compared with.
    pub diff: Option<&'a DiffCtx<'a>>,
}

/// How one column of a file is encoded.
enum Slot {
    /// By [`ColumnEncoder`] (text and integer columns).
    Own(Box<ColumnEncoder>),
    /// By arrow's writer (other types).
    Arrow(Box<ArrowColumnWriter>),
}

struct OpenFile {
    writer: SerializedFileWriter<HashingFile>,
    factory: ArrowRowGroupWriterFactory,
    /// Column writers of the row group being built, created at its first rows.
    group: Option<Vec<Slot>>,
    group_rows: usize,
    rows: u64,
}

/// The files of one partition, written in order.
struct PartitionWriter<'c, 'a> {
    ctx: &'c WriteCtx<'a>,
    /// Sees every row as it is written, with a `[target] key`.
    differ: Option<Differ<'c, 'a>>,
    /// Folder of the partition (`year=1987`), "" if unpartitioned.
    dir: String,
    /// Tag of the scratch file names.
    tag: String,
    /// Rows of the whole partition (for the dictionary choice).
    rows_total: u64,
    /// Chosen from the first batch.
    props: Option<Arc<WriterProperties>>,
    open: Option<OpenFile>,
    files: Vec<FileEntry>,
}

impl PartitionWriter<'_, '_> {
    fn encode_err(&self, e: parquet::errors::ParquetError) -> ConvertError {
        ConvertError::parquet(format!("writing partition {}", self.dir))(e)
    }

    /// Writes one fixed-size batch of spilled columns (the source columns,
    /// then maybe their lines; derived ones are added here).
    fn write(&mut self, batch: RecordBatch) -> Result<(), ConvertError> {
        let (batch, lines) = match self.ctx.layout.has_lines() {
            true => {
                let n = batch.num_columns() - 1;
                let lines = batch.column(n).clone();
                (batch.project(&(0..n).collect::<Vec<_>>()).map_err(|e| ConvertError::arrow("lines", e))?, Some(lines))
            }
            false => (batch, None),
        };
        let batch = complete(self.ctx.layout, batch).map_err(|e| ConvertError::arrow("adding derived columns", e))?;
        if let Some(d) = self.differ.as_mut() {
            d.push(&batch, lines.as_ref().and_then(|l| l.as_any().downcast_ref()))?;
        }
        if self.props.is_none() {
            self.props = Some(Arc::new(choose_dictionaries(self.ctx.props.clone(), &batch, self.rows_total)));
        }
        let mut rest = Some(batch);
        while let Some(batch) = rest.take() {
            if self.open.is_none() {
                self.open = Some(self.open_file()?);
            }
            // Cut at row-group ends so every finished row group is checked
            // against --file-size; the cuts depend only on row positions.
            let room = self.ctx.row_group_rows - self.open.as_ref().expect("opened above").group_rows;
            let head = if batch.num_rows() > room {
                rest = Some(batch.slice(room, batch.num_rows() - room));
                batch.slice(0, room)
            } else {
                batch
            };
            self.write_group(&head).map_err(|e| self.encode_err(e))?;
            let f = self.open.as_mut().expect("opened above");
            if f.group_rows == self.ctx.row_group_rows {
                let written = self.close_group().map_err(|e| self.encode_err(e))?;
                if written >= self.ctx.file_size {
                    self.finish_file()?;
                }
            }
        }
        Ok(())
    }

    /// Appends a batch to the open file's row group.
    fn write_group(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        let (ctx, props) = (self.ctx, self.props.as_ref().expect("chosen before the first file"));
        let f = self.open.as_mut().expect("a file is open");
        if f.group.is_none() {
            // Arrow's writers are made only when a column needs one.
            let mut arrow = match ctx.kinds.iter().any(Option::is_none) {
                true => Some(f.factory.create_column_writers(f.writer.flushed_row_groups().len())?.into_iter()),
                false => None,
            };
            let mut slots = Vec::with_capacity(ctx.kinds.len());
            for (i, kind) in ctx.kinds.iter().enumerate() {
                let writer = arrow.as_mut().and_then(Iterator::next);
                slots.push(match (kind, writer) {
                    (Some(kind), _) => Slot::Own(Box::new(ColumnEncoder::new(ctx.parquet.column(i), *kind, props)?)),
                    (None, Some(w)) => Slot::Arrow(Box::new(w)),
                    (None, None) => unreachable!("one arrow writer per column"),
                });
            }
            f.group = Some(slots);
        }
        let schema = batch.schema();
        for (i, slot) in f.group.as_mut().expect("created above").iter_mut().enumerate() {
            match slot {
                Slot::Own(e) => e.write(batch.column(i).as_ref())?,
                Slot::Arrow(w) => {
                    for leaf in compute_leaves(schema.field(i), batch.column(i))? {
                        w.write(&leaf)?;
                    }
                }
            }
        }
        f.group_rows += batch.num_rows();
        f.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Closes the row group being built, if any; returns the file's size so far.
    fn close_group(&mut self) -> parquet::errors::Result<u64> {
        let f = self.open.as_mut().expect("a file is open");
        if let Some(slots) = f.group.take() {
            let mut group = f.writer.next_row_group()?;
            for slot in slots {
                match slot {
                    Slot::Own(e) => {
                        let (bytes, close) = e.close()?;
                        group.append_column(&bytes, close)?;
                    }
                    Slot::Arrow(w) => w.close()?.append_to_row_group(&mut group)?,
                }
            }
            group.close()?;
            f.group_rows = 0;
        }
        Ok(f.writer.bytes_written() as u64)
    }

    fn open_file(&self) -> Result<OpenFile, ConvertError> {
        let tmp = self.ctx.scratch.join(format!("out-{}-{}.parquet.tmp", self.tag, self.files.len()));
        let sink = HashingFile::create(&tmp, 1 << 20, self.ctx.direct_io)?;
        // No embedded Arrow schema: readers take types from Parquet's own
        // logical types, so DECIMAL(12,2) reads as decimal everywhere.
        let props = self.props.clone().expect("chosen before the first file");
        let writer = SerializedFileWriter::new(sink, self.ctx.parquet.root_schema_ptr(), props)
            .map_err(|e| self.encode_err(e))?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, self.ctx.layout.schema.clone());
        Ok(OpenFile { writer, factory, group: None, group_rows: 0, rows: 0 })
    }

    /// Closes the open file, if any, and moves it into the stage under its
    /// content-addressed name.
    fn finish_file(&mut self) -> Result<(), ConvertError> {
        if self.open.is_none() {
            return Ok(());
        }
        self.close_group().map_err(|e| self.encode_err(e))?;
        let f = self.open.take().expect("checked above");
        let sink = f.writer.into_inner().map_err(|e| self.encode_err(e))?;
        let (tmp, sum, bytes) = sink.finish()?;
        let name = format!("part-{:05}-{}.parquet", self.files.len(), &sum[..16]);
        let rel = if self.dir.is_empty() { name } else { format!("{}/{name}", self.dir) };
        self.ctx.runtime.block_on(self.ctx.stage.put_file(&tmp, self.ctx.dataset, &rel))?;
        self.files.push(FileEntry { path: rel, rows: f.rows, bytes, checksum: sum });
        Ok(())
    }
}

/// Writes one partition and returns its manifest entry, and its change set
/// when the spec has a key and the previous version had the partition.
///
/// # Errors
/// Reading the spill, encoding, or moving files into the stage; a key seen
/// twice.
pub fn write_partition<'a>(
    ctx: &WriteCtx<'a>,
    key: Option<i32>,
    spilled: &Spilled,
) -> Result<(PartitionEntry, Option<ChangeSet>), ConvertError> {
    let dir = ctx.partition_column.map(|c| partition_dir(c, key.map(i64::from))).unwrap_or_default();
    let differ = match ctx.diff {
        Some(diff) => Some(Differ::new(diff, ctx, key.map(i64::from), &dir)?),
        None => None,
    };
    let mut w = PartitionWriter {
        ctx,
        differ,
        dir,
        tag: key.map_or("null".to_string(), |k| k.to_string()),
        rows_total: spilled.rows,
        props: None,
        open: None,
        files: Vec::new(),
    };
    let rebatch = |e| ConvertError::arrow("re-batching", e);
    let mut coalescer = BatchCoalescer::new(ctx.layout.spill_schema.clone(), BATCH_ROWS);
    let mut push = |batch: RecordBatch| {
        coalescer.push_batch(batch).map_err(rebatch)?;
        while let Some(b) = coalescer.next_completed_batch() {
            w.write(b)?;
        }
        Ok(())
    };
    match ctx.cluster {
        Some((column, name)) => clustered(spilled, column, name, GROUP_BYTES, push)?,
        None => {
            for batch in spilled.batches() {
                push(batch?)?;
            }
        }
    }
    coalescer.finish_buffered_batch().map_err(rebatch)?;
    while let Some(b) = coalescer.next_completed_batch() {
        w.write(b)?;
    }
    w.finish_file()?;
    let rows = w.files.iter().map(|f| f.rows).sum();
    let bytes = w.files.iter().map(|f| f.bytes).sum();
    let joined = w.files.iter().map(|f| f.checksum.as_str()).collect::<Vec<_>>().join("\n");
    let entry = PartitionEntry {
        value: key.map(i64::from),
        key: None,
        path: w.dir,
        rows,
        bytes,
        checksum: checksum(joined.as_bytes()),
        files: w.files,
    };
    let change = match w.differ {
        Some(d) => d.finish(&entry, ctx.stage, ctx.dataset, ctx.runtime)?,
        None => None,
    };
    Ok((entry, change))
}
