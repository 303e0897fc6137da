//! An episode's rows, read from Parquet or CSV in batches, as the spec's
//! columns: every column (every component of a list column) one Arrow array
//! of Int64, Float64 or Utf8, so reshaping sees one shape whatever the file.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use pqstage_spec::trajectories::{SourceFormat, TrajectorySpec};
use pqstage_spec::ColumnType;

use super::TrajectoryError;

/// Rows per batch read.
pub const BATCH_ROWS: usize = 65_536;

/// One batch: `columns[c][k]` is component `k` of spec column `c`.
pub struct Rows {
    /// Row number (from 1) of the batch's first row in its file.
    pub first_row: u64,
    /// Rows in the batch.
    pub len: usize,
    /// Per spec column, its components.
    pub columns: Vec<Vec<ArrayRef>>,
}

/// Reads an episode's rows (with its joined file, if any) batch by batch.
pub struct EpisodeReader {
    file: PathBuf,
    spec: TrajectorySpec,
    inner: Inner,
    next_row: u64,
    joined: Option<Joined>,
}

enum Inner {
    Parquet { reader: ParquetRecordBatchReader, positions: Vec<usize> },
    Csv { reader: Box<arrow_csv::reader::BufReader<std::io::BufReader<File>>>, positions: Vec<Option<usize>> },
}

/// The joined file, whole, indexed by its key.
struct Joined {
    file: PathBuf,
    batch: RecordBatch,
    /// Spec column → its column in `batch`.
    positions: Vec<Option<usize>>,
    index: HashMap<Vec<i64>, u32>,
    /// Spec columns of the join key.
    on: Vec<usize>,
}

fn mistyped(file: &Path, column: &str, got: &DataType, want: &str) -> TrajectoryError {
    TrajectoryError::at(file, None, Some(column), format!("is {got} in the file; the spec says {want}"))
}

/// Whether a file's Arrow type can be read as a spec column's type.
fn readable(ty: ColumnType, components: bool, got: &DataType) -> bool {
    let scalar = |t: &DataType| match ty {
        ColumnType::Text => {
            matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                || matches!(t, DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8))
        }
        ColumnType::Float64 => t.is_floating() || t.is_integer(),
        _ => t.is_integer(),
    };
    if components {
        match got {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => scalar(f.data_type()),
            _ => false,
        }
    } else {
        scalar(got)
    }
}

fn want(ty: ColumnType, components: Option<u32>) -> String {
    match components {
        Some(n) => format!("a list of {n} {ty}"),
        None => ty.to_string(),
    }
}

fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Float64 => DataType::Float64,
        _ => DataType::Int64,
    }
}

impl EpisodeReader {
    /// Opens an episode: checks that every spec column is in the file (or
    /// its joined file) with a type that reads as the spec's.
    ///
    /// # Errors
    /// A missing or mistyped column, or a file that does not read.
    pub fn open(file: &Path, joined: Option<&Path>, spec: &TrajectorySpec) -> Result<Self, TrajectoryError> {
        let open =
            |p: &Path| File::open(p).map_err(|e| TrajectoryError::at(p, None, None, format!("cannot open: {e}")));
        let f = open(file)?;
        let (inner, provided) = match spec.episodes.format {
            SourceFormat::Parquet => {
                let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| {
                    TrajectoryError::at(file, None, None, format!("is not a readable Parquet file: {e}"))
                })?;
                let schema = builder.schema().clone();
                let mut roots = Vec::new();
                let mut provided = vec![false; spec.columns.len()];
                for (c, col) in spec.columns.iter().enumerate() {
                    if let Some((i, field)) = schema.column_with_name(&col.name) {
                        if !readable(col.ty, col.components.is_some(), field.data_type()) {
                            return Err(mistyped(file, &col.name, field.data_type(), &want(col.ty, col.components)));
                        }
                        roots.push((i, c));
                        provided[c] = true;
                    }
                }
                let mut sorted: Vec<usize> = roots.iter().map(|(i, _)| *i).collect();
                sorted.sort_unstable();
                // A projected batch holds the chosen roots in file order.
                let positions_by_spec: Vec<usize> = {
                    let mut p = vec![usize::MAX; spec.columns.len()];
                    for (i, c) in &roots {
                        p[*c] = sorted.iter().position(|s| s == i).unwrap_or(usize::MAX);
                    }
                    p
                };
                let mask = ProjectionMask::roots(builder.parquet_schema(), sorted);
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(|e| TrajectoryError::at(file, None, None, format!("cannot read: {e}")))?;
                (Inner::Parquet { reader, positions: positions_by_spec }, provided)
            }
            SourceFormat::Csv => {
                let (schema, positions) = csv_schema(file, spec)?;
                let provided = positions.iter().map(Option::is_some).collect();
                let reader = arrow_csv::ReaderBuilder::new(Arc::new(schema))
                    .with_header(true)
                    .with_batch_size(BATCH_ROWS)
                    .build_buffered(std::io::BufReader::new(f))
                    .map_err(|e| TrajectoryError::at(file, None, None, format!("cannot read as CSV: {e}")))?;
                (Inner::Csv { reader: Box::new(reader), positions }, provided)
            }
        };
        let joined = match joined {
            Some(j) => Some(Joined::read(j, spec)?),
            None => None,
        };
        for (c, col) in spec.columns.iter().enumerate() {
            let in_join = joined.as_ref().is_some_and(|j| j.positions[c].is_some());
            if !provided[c] && !in_join {
                let join_note = match (&spec.episodes.join, &joined) {
                    (Some(j), None) => format!(" (nor is there a file matching '{}' beside it)", j.files),
                    (Some(_), Some(j)) => format!(" nor in {}", j.file.display()),
                    _ => String::new(),
                };
                return Err(TrajectoryError::at(
                    file,
                    None,
                    Some(&col.name),
                    format!("is missing{join_note}; the spec's [[columns]] lists it"),
                ));
            }
        }
        Ok(Self { file: file.to_path_buf(), spec: spec.clone(), inner, next_row: 1, joined })
    }

    /// The next batch, `None` at the end.
    ///
    /// # Errors
    /// A value that does not read as its column's type, a list of the wrong
    /// length, or a read failure.
    pub fn next_batch(&mut self) -> Result<Option<Rows>, TrajectoryError> {
        let first_row = self.next_row;
        let (batch, positions): (RecordBatch, Vec<Option<usize>>) = match &mut self.inner {
            Inner::Parquet { reader, positions } => match reader.next() {
                None => return Ok(None),
                Some(b) => (
                    b.map_err(|e| TrajectoryError::at(&self.file, Some(first_row), None, format!("cannot read: {e}")))?,
                    positions.iter().map(|p| (*p != usize::MAX).then_some(*p)).collect(),
                ),
            },
            Inner::Csv { reader, positions } => match reader.next() {
                None => return Ok(None),
                Some(b) => (b.map_err(|e| csv_error(&self.file, first_row, &e))?, positions.clone()),
            },
        };
        let len = batch.num_rows();
        self.next_row += len as u64;
        let mut columns: Vec<Vec<ArrayRef>> = Vec::with_capacity(self.spec.columns.len());
        for (c, col) in self.spec.columns.iter().enumerate() {
            match positions[c] {
                Some(p) => {
                    columns.push(normalize(batch.column(p), col.ty, col.components, &self.file, &col.name, first_row)?)
                }
                None => columns.push(Vec::new()),
            }
        }
        if let Some(j) = &self.joined {
            j.fill(&mut columns, len, first_row, &self.file)?;
        }
        Ok(Some(Rows { first_row, len, columns }))
    }
}

/// The Arrow schema a CSV file is read with: its header's names, each typed
/// as the spec's column of that name (other columns as text), and where each
/// spec column is in it.
fn csv_schema(file: &Path, spec: &TrajectorySpec) -> Result<(Schema, Vec<Option<usize>>), TrajectoryError> {
    use std::io::BufRead;
    let f = File::open(file).map_err(|e| TrajectoryError::at(file, None, None, format!("cannot open: {e}")))?;
    let mut line = String::new();
    std::io::BufReader::new(f)
        .read_line(&mut line)
        .map_err(|e| TrajectoryError::at(file, None, None, format!("cannot read the header: {e}")))?;
    let header: Vec<String> = line
        .trim_start_matches('\u{feff}')
        .trim_end_matches(['\r', '\n'])
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(TrajectoryError::at(file, None, None, "is empty: expected a header line".into()));
    }
    let mut positions = vec![None; spec.columns.len()];
    let fields: Vec<Field> = header
        .iter()
        .enumerate()
        .map(|(i, h)| match spec.columns.iter().position(|c| &c.name == h) {
            Some(c) => {
                positions[c] = Some(i);
                Field::new(h, arrow_type(spec.columns[c].ty), true)
            }
            None => Field::new(h, DataType::Utf8, true),
        })
        .collect();
    Ok((Schema::new(fields), positions))
}

/// Arrow CSV's message, with the file's line numbers.
fn csv_error(file: &Path, first_row: u64, e: &arrow_schema::ArrowError) -> TrajectoryError {
    TrajectoryError::at(file, None, None, format!("in the rows from line {}: {e}", first_row + 1))
}

/// A file column as the spec's column: its components as Int64, Float64 or Utf8 arrays.
fn normalize(
    array: &ArrayRef,
    ty: ColumnType,
    components: Option<u32>,
    file: &Path,
    name: &str,
    first_row: u64,
) -> Result<Vec<ArrayRef>, TrajectoryError> {
    let target = arrow_type(ty);
    let cast = |a: &ArrayRef| -> Result<ArrayRef, TrajectoryError> {
        if a.data_type() == &target {
            return Ok(a.clone());
        }
        arrow_cast::cast(a, &target)
            .map_err(|e| TrajectoryError::at(file, Some(first_row), Some(name), format!("cannot be read as {ty}: {e}")))
    };
    let Some(n) = components else { return Ok(vec![cast(array)?]) };
    let n = n as usize;
    let (offsets, values): (Vec<usize>, ArrayRef) = match array.data_type() {
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            (l.value_offsets().iter().map(|o| *o as usize).collect(), l.values().clone())
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            (l.value_offsets().iter().map(|o| *o as usize).collect(), l.values().clone())
        }
        DataType::FixedSizeList(_, k) => {
            let l = array.as_fixed_size_list();
            let k = *k as usize;
            ((0..=l.len()).map(|i| i * k + l.offset() * k).collect(), l.values().clone())
        }
        other => return Err(mistyped(file, name, other, &want(ty, components))),
    };
    let values = cast(&values)?;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let mut idx: Vec<Option<u32>> = Vec::with_capacity(array.len());
        for row in 0..array.len() {
            if array.is_null(row) {
                idx.push(None);
                continue;
            }
            let (start, end) = (offsets[row], offsets[row + 1]);
            if end - start != n {
                return Err(TrajectoryError::at(
                    file,
                    Some(first_row + row as u64),
                    Some(name),
                    format!("holds {} values; the spec says {n} components", end - start),
                ));
            }
            idx.push(Some((start + k) as u32));
        }
        let idx = UInt32Array::from(idx);
        out.push(
            arrow_select::take::take(values.as_ref(), &idx, None)
                .map_err(|e| TrajectoryError::at(file, Some(first_row), Some(name), format!("cannot split: {e}")))?,
        );
    }
    Ok(out)
}

impl Joined {
    fn read(file: &Path, spec: &TrajectorySpec) -> Result<Self, TrajectoryError> {
        let join = spec.episodes.join.as_ref().expect("a joined file comes from the spec's join");
        let (schema, positions) = csv_schema(file, spec)?;
        let schema = Arc::new(schema);
        let f = File::open(file).map_err(|e| TrajectoryError::at(file, None, None, format!("cannot open: {e}")))?;
        let reader = arrow_csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .with_batch_size(BATCH_ROWS)
            .build_buffered(std::io::BufReader::new(f))
            .map_err(|e| TrajectoryError::at(file, None, None, format!("cannot read as CSV: {e}")))?;
        let mut batches = Vec::new();
        let mut row = 1;
        for b in reader {
            let b = b.map_err(|e| csv_error(file, row, &e))?;
            row += b.num_rows() as u64;
            batches.push(b);
        }
        let batch = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| TrajectoryError::at(file, None, None, format!("cannot read: {e}")))?;
        let on: Vec<usize> = join.on.iter().map(|k| spec.column(k).expect("validated")).collect();
        let mut keys = Vec::with_capacity(on.len());
        for &c in &on {
            let p = positions[c].ok_or_else(|| {
                TrajectoryError::at(file, None, Some(&spec.columns[c].name), "is missing: the join is on it".into())
            })?;
            let col = normalize(batch.column(p), spec.columns[c].ty, None, file, &spec.columns[c].name, 1)?;
            keys.push(col[0].clone());
        }
        let mut index = HashMap::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let key = key_at(&keys, row).ok_or_else(|| {
                TrajectoryError::at(
                    file,
                    Some(row as u64 + 1),
                    None,
                    format!("a join key ({}) is empty", join.on.join(", ")),
                )
            })?;
            if let Some(first) = index.insert(key, row as u32) {
                return Err(TrajectoryError::at(
                    file,
                    Some(row as u64 + 1),
                    None,
                    format!("repeats the key ({}) of row {}", join.on.join(", "), first + 1),
                ));
            }
        }
        // Key columns come from the episode's own file.
        let mut positions = positions;
        for &c in &on {
            positions[c] = None;
        }
        Ok(Self { file: file.to_path_buf(), batch, positions, index, on })
    }

    /// Adds the joined columns to a batch of the episode's rows.
    fn fill(
        &self,
        columns: &mut [Vec<ArrayRef>],
        len: usize,
        first_row: u64,
        episode: &Path,
    ) -> Result<(), TrajectoryError> {
        let keys: Vec<ArrayRef> = self.on.iter().map(|&c| columns[c][0].clone()).collect();
        let idx: UInt32Array =
            (0..len).map(|row| key_at(&keys, row).and_then(|k| self.index.get(&k).copied())).collect();
        for (c, p) in self.positions.iter().enumerate() {
            let Some(p) = p else { continue };
            if !columns[c].is_empty() {
                continue;
            }
            let taken = arrow_select::take::take(self.batch.column(*p).as_ref(), &idx, None).map_err(|e| {
                TrajectoryError::at(episode, Some(first_row), None, format!("cannot join {}: {e}", self.file.display()))
            })?;
            columns[c] = vec![taken];
        }
        Ok(())
    }
}

/// The integer key of a row, `None` if a part is NULL.
fn key_at(keys: &[ArrayRef], row: usize) -> Option<Vec<i64>> {
    keys.iter()
        .map(|k| {
            let a = k.as_primitive_opt::<arrow_array::types::Int64Type>()?;
            a.is_valid(row).then(|| a.value(row))
        })
        .collect()
}
