//! Change sets: what changed in a partition since the dataset's previous
//! version, decided by content, per `[target] key`.
//!
//! While phase two encodes a partition, a [`Differ`] sees every row in the
//! order it is written. It holds the previous version's rows of that
//! partition as hashes (key → whole-row hash, 40 bytes a row), read from
//! the previous files before the partition starts. A row whose key is new
//! is inserted; one whose key was there with another row hash is updated;
//! keys of the previous version not seen again are deleted. Inserted and
//! updated rows are written whole, deleted keys as the key columns only,
//! each kind to its own Parquet file under `_changes/`.
//!
//! The same pass refuses a key seen twice: two rows with one key could not
//! be applied as one upsert, and would make the target's unique key fail.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, RecordBatch, UInt64Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_row::{RowConverter, SortField};
use arrow_schema::{Schema, SchemaRef};
use arrow_select::filter::filter_record_batch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pqstage_stage::manifest::{checksum, ChangeFiles, ChangeSet, FileEntry, PartitionEntry};
use pqstage_stage::{Stage, CHANGES_DIR};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::error::{group_digits, ConvertError};
use crate::keys::KeyRuns;
use crate::layout::{place, CARRIED_SOURCE, LINE_BITS};
use crate::write::WriteCtx;

/// Rows per row group of a change set's files.
const CHANGE_ROW_GROUP_ROWS: usize = 65_536;

/// What every partition's differ shares.
pub(crate) struct DiffCtx<'a> {
    /// Indexes of the key columns in the data files' schema.
    pub key: Vec<usize>,
    /// The previous version's partitions, by key value; empty when there is
    /// none or it was converted with another spec (then no change set is
    /// made, and keys are still checked).
    pub previous: HashMap<Option<i64>, &'a PartitionEntry>,
    /// Whether change sets are made: the previous version was converted
    /// with the same spec (so its kept change sets still apply), and the
    /// run keeps any.
    pub comparable: bool,
    /// The version being written.
    pub version: u64,
    /// How messages name each source, by index.
    pub sources: Vec<String>,
    /// For a merge or append, by partition: what the carry-over removed
    /// from the previous version, so its differ need not read it again.
    pub seeds: std::sync::Mutex<HashMap<Option<i64>, Seed>>,
    /// In a snapshot of a partitioned dataset: every partition's keys, to
    /// find one key in two partitions once all are written.
    pub runs: Option<KeyRuns>,
}

/// What a merge or append tells a partition's differ in place of the
/// previous version's files: the previous rows it did not carry over
/// (replaced or deleted), by key hash with their row hash and position, and
/// their key columns in that order. The rows it carried over are unchanged,
/// and the differ skips them.
#[derive(Default)]
pub(crate) struct Seed {
    /// Key hash → (row hash, position among the removed rows).
    pub removed: HashMap<u128, (u64, u64)>,
    /// The removed rows' key columns, in position order.
    pub keys: Vec<RecordBatch>,
}

/// Not seen yet (a row's place is never this).
const UNSEEN: u64 = u64::MAX;

/// A row of the previous version.
struct Old {
    row_hash: u64,
    /// Position among the previous version's rows of the partition.
    row: u64,
    /// Where the row of this version with the same key came from (see
    /// [`Differ::place`]); [`UNSEEN`] until then.
    seen: u64,
}

/// Rows of one kind of change being written.
struct Out {
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

/// One partition's change set, being computed.
pub(crate) struct Differ<'c, 'a> {
    ctx: &'c DiffCtx<'a>,
    schema: SchemaRef,
    dir: String,
    scratch: PathBuf,
    keys: RowHasher,
    /// Every column, when there is a previous version to compare with.
    rows: Option<RowHasher>,
    old: HashMap<u128, Old>,
    /// Keys of this version not in the previous one: where their rows came from.
    fresh: HashMap<u128, u64>,
    seen: u64,
    previous: Option<&'a PartitionEntry>,
    /// The previous version's files of the partition, on local disk.
    previous_files: Vec<PathBuf>,
    inserted: Option<Out>,
    updated: Option<Out>,
    /// With a [`Seed`]: the removed rows' key columns (the previous files
    /// are not read).
    seeded_keys: Option<Vec<RecordBatch>>,
    /// Whether rows came with their source lines.
    lines: bool,
}

fn arrow_err(context: &'static str) -> impl Fn(arrow_schema::ArrowError) -> ConvertError {
    move |e| ConvertError::arrow(context, e)
}

/// Hashes of some columns of a batch's rows, through their `arrow-row`
/// bytes: keys (128 bits, so distinct keys do not collide) and whole rows
/// (64 bits, compared only under one key). Convert, merge and append all hash
/// with it, so their hashes compare.
pub(crate) struct RowHasher {
    rows: RowConverter,
    /// Indexes of the hashed columns in the batches.
    columns: Vec<usize>,
}

impl RowHasher {
    pub(crate) fn new(schema: &Schema, columns: Vec<usize>) -> Result<Self, ConvertError> {
        let fields = columns.iter().map(|&i| SortField::new(schema.field(i).data_type().clone())).collect();
        let rows = RowConverter::new(fields).map_err(arrow_err("hashing rows"))?;
        Ok(Self { rows, columns })
    }

    fn convert(&self, batch: &RecordBatch) -> Result<arrow_row::Rows, ConvertError> {
        let cols: Vec<_> = self.columns.iter().map(|&i| batch.column(i).clone()).collect();
        self.rows.convert_columns(&cols).map_err(arrow_err("hashing rows"))
    }

    /// The columns' 128-bit hash per row (a key's).
    pub(crate) fn keys(&self, batch: &RecordBatch) -> Result<Vec<u128>, ConvertError> {
        Ok(self.convert(batch)?.iter().map(|r| xxh3_128(r.as_ref())).collect())
    }

    /// The columns' 64-bit hash per row (a whole row's).
    pub(crate) fn rows(&self, batch: &RecordBatch) -> Result<Vec<u64>, ConvertError> {
        Ok(self.convert(batch)?.iter().map(|r| xxh3_64(r.as_ref())).collect())
    }
}

/// `column=value, ...` of row `r`'s `columns`.
pub(crate) fn describe_key(batch: &RecordBatch, columns: &[usize], r: usize) -> String {
    let opts = FormatOptions::default();
    columns
        .iter()
        .map(|&i| {
            let value = ArrayFormatter::try_new(batch.column(i).as_ref(), &opts)
                .map(|f| f.value(r).to_string())
                .unwrap_or_default();
            format!("{}={value}", batch.schema().field(i).name())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_dir(dir: &Path) -> Result<(), ConvertError> {
    std::fs::create_dir_all(dir).map_err(|source| ConvertError::Io { op: "create", path: dir.to_path_buf(), source })
}

/// Writes the rows of `batch` whose positions (counted from `at`, the
/// position of its first row) are next in `gone`; returns the position after it.
fn write_picked(
    batch: &RecordBatch,
    at: u64,
    gone: &mut std::iter::Peekable<std::slice::Iter<'_, u64>>,
    out: &mut Out,
) -> Result<u64, ConvertError> {
    let n = batch.num_rows() as u64;
    let mut picked = vec![false; n as usize];
    while let Some(&&g) = gone.peek().filter(|&&&g| g < at + n) {
        picked[(g - at) as usize] = true;
        gone.next();
    }
    if picked.contains(&true) {
        let rows =
            filter_record_batch(batch, &BooleanArray::from(picked)).map_err(arrow_err("picking deleted keys"))?;
        out.rows += rows.num_rows() as u64;
        out.writer.write(&rows).map_err(ConvertError::parquet("writing a change set"))?;
    }
    Ok(at + n)
}

impl<'c, 'a> Differ<'c, 'a> {
    /// A differ for the partition `value` (folder `dir`): reads the previous
    /// version's rows of it, if there are any.
    pub(crate) fn new(
        ctx: &'c DiffCtx<'a>,
        w: &WriteCtx<'_>,
        value: Option<i64>,
        dir: &str,
    ) -> Result<Self, ConvertError> {
        let (schema, scratch, stage, dataset, runtime) =
            (w.layout.schema.clone(), w.scratch, w.stage, w.dataset, w.runtime);
        let previous = ctx.previous.get(&value).copied();
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let mut d = Differ {
            ctx,
            keys: RowHasher::new(&schema, ctx.key.clone())?,
            rows: previous.map(|_| RowHasher::new(&schema, all)).transpose()?,
            schema,
            dir: dir.to_string(),
            scratch: scratch.join(format!("changes-{}", dir.replace(['/', '='], "-"))),
            old: HashMap::new(),
            fresh: HashMap::new(),
            seen: 0,
            previous,
            previous_files: Vec::new(),
            inserted: None,
            updated: None,
            seeded_keys: None,
            lines: false,
        };
        let Some(prev) = previous else { return Ok(d) };
        create_dir(&d.scratch)?;
        if let Some(seed) = ctx.seeds.lock().expect("lock").remove(&value) {
            d.old =
                seed.removed.into_iter().map(|(k, (row_hash, row))| (k, Old { row_hash, row, seen: UNSEEN })).collect();
            d.seeded_keys = Some(seed.keys);
        } else {
            let files = fetch(prev, &d.scratch, stage, dataset, runtime)?;
            d.old.reserve(prev.rows as usize);
            let mut row = 0u64;
            let schema = d.schema.clone();
            for path in &files {
                read_batches(path, &schema, None, |batch| {
                    let (keys, hashes) = d.hash(&batch)?;
                    for (k, h) in keys.into_iter().zip(hashes) {
                        d.old.insert(k, Old { row_hash: h, row, seen: UNSEEN });
                        row += 1;
                    }
                    Ok(())
                })?;
            }
            d.previous_files = files;
        }
        Ok(d)
    }

    /// Key hashes of a batch's rows, and (with a previous version) row hashes.
    fn hash(&self, batch: &RecordBatch) -> Result<(Vec<u128>, Vec<u64>), ConvertError> {
        let rows = match &self.rows {
            Some(h) => h.rows(batch)?,
            None => Vec::new(),
        };
        Ok((self.keys.keys(batch)?, rows))
    }

    /// Sees the next rows of the partition, as they are written, with the
    /// source and line of each (as the spill's line column has them).
    pub(crate) fn push(&mut self, batch: &RecordBatch, lines: Option<&UInt64Array>) -> Result<(), ConvertError> {
        // Seeded by a merge or append: the rows it carried over are the
        // previous version's, unchanged, and their keys are no other row's.
        if let (Some(_), Some(l)) = (&self.seeded_keys, lines) {
            let fresh: Vec<bool> = (0..l.len()).map(|r| l.value(r) >> LINE_BITS != CARRIED_SOURCE).collect();
            let n = fresh.iter().filter(|f| **f).count();
            if n < fresh.len() {
                self.seen += (fresh.len() - n) as u64;
                if n == 0 {
                    return Ok(());
                }
                let mask = BooleanArray::from(fresh);
                let rows = filter_record_batch(batch, &mask).map_err(arrow_err("picking new rows"))?;
                let l = arrow_select::filter::filter(l, &mask).map_err(arrow_err("picking new rows"))?;
                let l = l.as_any().downcast_ref::<UInt64Array>().expect("lines are u64").clone();
                return self.push(&rows, Some(&l));
            }
        }
        self.lines = lines.is_some();
        let (keys, hashes) = self.hash(batch)?;
        let n = batch.num_rows();
        let (mut inserted, mut updated) = (vec![false; n], vec![false; n]);
        for (r, key) in keys.iter().enumerate() {
            self.seen += 1;
            let at = lines.map_or(self.seen, |l| l.value(r));
            let earlier = match self.old.get_mut(key) {
                Some(old) if old.seen != UNSEEN => Some(old.seen),
                Some(old) => {
                    old.seen = at;
                    updated[r] = old.row_hash != hashes[r];
                    None
                }
                None => match self.fresh.insert(*key, at) {
                    Some(first) => Some(first),
                    None => {
                        inserted[r] = self.previous.is_some();
                        None
                    }
                },
            };
            if let Some(first) = earlier {
                return Err(ConvertError::DuplicateKey {
                    partition: self.dir.clone(),
                    key: describe_key(batch, &self.ctx.key, r),
                    first: self.place(first, lines.is_some()),
                    second: self.place(at, lines.is_some()),
                });
            }
        }
        if self.previous.is_some() {
            self.write(batch, inserted, true)?;
            self.write(batch, updated, false)?;
        }
        Ok(())
    }

    /// Where a row came from, for messages: `FILE line N` from the spill's
    /// line column, else its position among the partition's rows.
    fn place(&self, at: u64, lines: bool) -> String {
        if !lines {
            return format!("row {} of the partition", group_digits(at));
        }
        if at >> LINE_BITS == CARRIED_SOURCE {
            let row = group_digits(at & ((1 << LINE_BITS) - 1));
            return format!("row {row} of {} in version {}", self.dir, self.ctx.version - 1);
        }
        place(&self.ctx.sources, at)
    }

    fn write(&mut self, batch: &RecordBatch, picked: Vec<bool>, inserted: bool) -> Result<(), ConvertError> {
        if !picked.contains(&true) {
            return Ok(());
        }
        let rows =
            filter_record_batch(batch, &BooleanArray::from(picked)).map_err(arrow_err("picking changed rows"))?;
        let (slot, name) = if inserted { (&mut self.inserted, "inserted") } else { (&mut self.updated, "updated") };
        if slot.is_none() {
            *slot = Some(open(&self.scratch.join(format!("{name}.parquet")), self.schema.clone())?);
        }
        let out = slot.as_mut().expect("opened above");
        out.rows += rows.num_rows() as u64;
        out.writer.write(&rows).map_err(ConvertError::parquet("writing a change set"))
    }

    /// Finishes the partition, now written as `entry`: the change set from the
    /// previous version, with its files moved into the stage; `None` when
    /// there was no previous version of the partition or nothing changed.
    pub(crate) fn finish(
        mut self,
        entry: &PartitionEntry,
        stage: &Stage,
        dataset: &str,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Option<ChangeSet>, ConvertError> {
        if let Some(runs) = &self.ctx.runs {
            let seen = self.old.iter().filter(|(_, o)| o.seen != UNSEEN).map(|(k, o)| (*k, o.seen));
            runs.add(entry, self.fresh.iter().map(|(k, at)| (*k, *at)).chain(seen).collect(), self.lines)?;
        }
        let Some(prev) = self.previous else { return Ok(None) };
        let scratch = self.scratch.clone();
        let result = (|| {
            if prev.checksum == entry.checksum {
                return Ok(None);
            }
            let mut gone: Vec<u64> = self.old.values().filter(|o| o.seen == UNSEEN).map(|o| o.row).collect();
            gone.sort_unstable();
            let deleted = self.deleted(&gone)?;
            let base = format!("{CHANGES_DIR}/v{}/{}", self.ctx.version, self.dir);
            let stored = |out: Option<Out>, kind: &str| -> Result<ChangeFiles, ConvertError> {
                let Some(out) = out else { return Ok(ChangeFiles::default()) };
                out.writer.close().map_err(ConvertError::parquet("closing a change set"))?;
                let bytes = std::fs::read(&out.path).map_err(|source| ConvertError::Io {
                    op: "read",
                    path: out.path.clone(),
                    source,
                })?;
                let sum = checksum(&bytes);
                let rel = format!("{base}/{kind}-{}.parquet", &sum[..16]);
                runtime.block_on(stage.put_file(&out.path, dataset, &rel))?;
                let file = FileEntry { path: rel, rows: out.rows, bytes: bytes.len() as u64, checksum: sum };
                Ok(ChangeFiles { rows: out.rows, files: vec![file] })
            };
            let inserted = stored(self.inserted.take(), "inserted")?;
            let updated = stored(self.updated.take(), "updated")?;
            let deleted = stored(deleted, "deleted")?;
            Ok(Some(ChangeSet {
                version: self.ctx.version,
                partition: entry.path.clone(),
                value: entry.value,
                from: prev.checksum.clone(),
                to: entry.checksum.clone(),
                rows: entry.rows,
                inserted,
                updated,
                deleted,
            }))
        })();
        drop(std::fs::remove_dir_all(&scratch));
        result
    }

    /// The key columns of the previous version's rows at positions `gone`
    /// (sorted), read again from its files.
    fn deleted(&self, gone: &[u64]) -> Result<Option<Out>, ConvertError> {
        if gone.is_empty() {
            return Ok(None);
        }
        let key_schema = Arc::new(self.schema.project(&self.ctx.key).map_err(arrow_err("key columns"))?);
        let mut out = open(&self.scratch.join("deleted.parquet"), key_schema)?;
        let mut at = 0u64;
        let mut next = gone.iter().peekable();
        // Seeded: the removed rows' keys are at hand; else read them again.
        if let Some(keys) = &self.seeded_keys {
            for batch in keys {
                at = write_picked(batch, at, &mut next, &mut out)?;
            }
            return Ok(Some(out));
        }
        for path in &self.previous_files {
            read_batches(path, &self.schema, Some(&self.ctx.key), |batch| {
                at = write_picked(&batch, at, &mut next, &mut out)?;
                Ok(())
            })?;
        }
        Ok(Some(out))
    }
}

fn open(path: &Path, schema: SchemaRef) -> Result<Out, ConvertError> {
    let file = File::create(path).map_err(|source| ConvertError::Io { op: "create", path: path.into(), source })?;
    // Small row groups: the writer holds its open one in memory, and a
    // partition rewritten from end to end sends all its rows here.
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(CHANGE_ROW_GROUP_ROWS))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 exists")))
        .set_created_by(crate::convert::created_by())
        .build();
    let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(ConvertError::parquet("a change set"))?;
    Ok(Out { path: path.to_path_buf(), writer, rows: 0 })
}

/// Where the previous version's files of a partition are read from: in the
/// stage itself when it is local, else downloaded into `scratch`.
pub(crate) fn fetch(
    prev: &PartitionEntry,
    scratch: &Path,
    stage: &Stage,
    dataset: &str,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<PathBuf>, ConvertError> {
    if stage.local_root().is_none() {
        let files: Vec<&FileEntry> = prev.files.iter().collect();
        runtime.block_on(stage.download(dataset, &files, scratch, 4)).map_err(ConvertError::PreviousVersion)?;
    }
    let dir = match stage.local_root() {
        Some(root) => root.join(dataset),
        None => scratch.to_path_buf(),
    };
    Ok(prev.files.iter().map(|f| dir.join(&f.path)).collect())
}

/// Reads a data file's rows (only `columns`, when given) in batches, typed
/// as `schema` types them.
pub(crate) fn read_batches(
    path: &Path,
    schema: &SchemaRef,
    columns: Option<&[usize]>,
    mut f: impl FnMut(RecordBatch) -> Result<(), ConvertError>,
) -> Result<(), ConvertError> {
    let file = File::open(path).map_err(|source| ConvertError::Io { op: "open", path: path.into(), source })?;
    let context = || format!("reading the previous version's {}", path.display());
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| ConvertError::parquet(context())(e))?;
    let wanted: Vec<usize> = columns.map_or_else(|| (0..schema.fields().len()).collect(), <[usize]>::to_vec);
    // The reader gives the projected columns in file order, whatever order
    // they were asked in: put them back in the order asked.
    let mut in_file = wanted.clone();
    in_file.sort_unstable();
    let back: Vec<usize> = wanted.iter().map(|w| in_file.iter().position(|f| f == w).expect("asked")).collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), in_file.iter().copied());
    let reader =
        builder.with_projection(mask).with_batch_size(8192).build().map_err(|e| ConvertError::parquet(context())(e))?;
    let target = Arc::new(schema.project(&wanted).map_err(arrow_err("projecting"))?);
    for batch in reader {
        let batch = batch.map_err(|e| ConvertError::arrow("reading the previous version", e))?;
        // Readers may type a column differently from the writer's Arrow type
        // (a DECIMAL(12,2) comes back 128-bit): cast to the schema's.
        let cols = back
            .iter()
            .map(|&i| batch.column(i))
            .zip(target.fields())
            .map(|(c, f)| match c.data_type() == f.data_type() {
                true => Ok(c.clone()),
                false => arrow_cast::cast(c, f.data_type()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow_err("typing the previous version"))?;
        f(RecordBatch::try_new(target.clone(), cols).map_err(arrow_err("typing the previous version"))?)?;
    }
    Ok(())
}
