//! Reading staged Parquet files for COPY: their record batches, one at a
//! time, with wholly dictionary-encoded text kept as dictionaries, and the
//! binary COPY of them ([`copy_files`]).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::Encoding;
use pqstage_load::LoadError;
use pqstage_stage::progress::Progress;
use pqstage_stage::verify::FileProblem;

use crate::encode::{encode_batch, Constant, HEADER, TRAILER};
use crate::error::PgError;

/// Bytes of COPY data gathered before a write to the server.
const SEND_BYTES: usize = 1 << 20;

/// COPYs the rows of Parquet files (their `columns`, then `constants`) with
/// `copy`, a `COPY … FROM STDIN (FORMAT binary …)`, counting them in
/// `progress`. Returns the rows COPY reports; `what` names the step in errors.
///
/// # Errors
/// A file that cannot be read or encoded; the server's.
pub(crate) fn copy_files(
    tx: &mut postgres::Transaction<'_>,
    copy: &str,
    paths: impl IntoIterator<Item = PathBuf>,
    columns: &[&str],
    constants: &[Constant<'_>],
    progress: Option<&Progress>,
    what: &str,
) -> Result<u64, PgError> {
    let mut writer = tx.copy_in(copy).map_err(PgError::db(what.to_string()))?;
    let send = |e: std::io::Error| PgError::Send { what: what.to_string(), source: e };
    let mut buf = Vec::with_capacity(2 * SEND_BYTES);
    buf.extend_from_slice(HEADER);
    for path in paths {
        for_each_batch(&path, columns, |batch| {
            encode_batch(&batch, constants, &mut buf)
                .map_err(|source| PgError::Encode { path: path.clone(), source })?;
            if let Some(p) = progress {
                p.add(batch.num_rows() as u64);
            }
            if buf.len() >= SEND_BYTES {
                writer.write_all(&buf).map_err(send)?;
                buf.clear();
            }
            Ok(())
        })?;
    }
    buf.extend_from_slice(TRAILER);
    writer.write_all(&buf).map_err(send)?;
    writer.finish().map_err(PgError::db(what.to_string()))
}

/// The distinct non-null values of a text column across staged Parquet
/// files, sorted: the few agent types or property ids an episode uses, read
/// from that one column so that they can be checked against the target's
/// lookup tables without scanning the episode's rows on the server.
///
/// # Errors
/// As [`for_each_batch`]; a column that is not text.
pub(crate) fn distinct_text(paths: impl IntoIterator<Item = PathBuf>, column: &str) -> Result<Vec<String>, PgError> {
    let mut seen = std::collections::BTreeSet::new();
    for path in paths {
        for_each_batch(&path, &[column], |batch| {
            let text = TextColumn::of(batch.column(0), &path, column)?;
            for v in (0..batch.num_rows()).filter_map(|i| text.get(i)) {
                if !seen.contains(v) {
                    seen.insert(v.to_string());
                }
            }
            Ok(())
        })?;
    }
    Ok(seen.into_iter().collect())
}

/// A staged file that reads but does not hold what the stage says.
pub(crate) fn corrupt(path: &Path, reason: String) -> PgError {
    PgError::Load(LoadError::File(FileProblem::Corrupt { path: path.to_path_buf(), reason }))
}

/// A text column of a batch, plain or dictionary-encoded (as
/// [`for_each_batch`] reads wholly dictionary-encoded ones), read value by value.
pub(crate) enum TextColumn<'b> {
    Plain(&'b arrow_array::StringArray),
    Large(&'b arrow_array::LargeStringArray),
    View(&'b arrow_array::StringViewArray),
    Dict(&'b arrow_array::DictionaryArray<arrow_array::types::Int32Type>),
}

impl<'b> TextColumn<'b> {
    /// Column `name` of the file at `path`, or why it is not text.
    pub(crate) fn of(a: &'b arrow_array::ArrayRef, path: &Path, name: &str) -> Result<Self, PgError> {
        use arrow_array::cast::AsArray;
        match a.data_type() {
            DataType::Utf8 => Ok(Self::Plain(a.as_string::<i32>())),
            DataType::LargeUtf8 => Ok(Self::Large(a.as_string::<i64>())),
            DataType::Utf8View => Ok(Self::View(a.as_string_view())),
            DataType::Dictionary(k, v)
                if **k == DataType::Int32 && matches!(**v, DataType::Utf8 | DataType::LargeUtf8) =>
            {
                Ok(Self::Dict(a.as_dictionary()))
            }
            other => Err(corrupt(path, format!("its column {name} is {other}, not text"))),
        }
    }

    /// Value `i`, or None if it is NULL.
    pub(crate) fn get(&self, i: usize) -> Option<&'b str> {
        use arrow_array::cast::AsArray;
        use arrow_array::Array;
        match self {
            Self::Plain(s) => s.is_valid(i).then(|| s.value(i)),
            Self::Large(s) => s.is_valid(i).then(|| s.value(i)),
            Self::View(s) => s.is_valid(i).then(|| s.value(i)),
            Self::Dict(d) => {
                let keys = d.keys();
                if !keys.is_valid(i) {
                    return None;
                }
                let (k, values) = (keys.value(i) as usize, d.values());
                match values.data_type() {
                    DataType::LargeUtf8 => {
                        let v = values.as_string::<i64>();
                        v.is_valid(k).then(|| v.value(k))
                    }
                    _ => {
                        let v = values.as_string::<i32>();
                        v.is_valid(k).then(|| v.value(k))
                    }
                }
            }
        }
    }
}

/// Calls `f` with each record batch of a staged Parquet file, columns in
/// `columns` order; one batch in memory at a time. Text columns stored
/// wholly as dictionaries come as dictionary arrays (see
/// `dictionary_strings`), which [`crate::encode_batch`] takes as they are.
///
/// # Errors
/// [`PgError::Load`] with the [`FileProblem`] of a missing, unreadable or
/// corrupt file; what `f` returns.
pub fn for_each_batch(
    path: &Path,
    columns: &[&str],
    mut f: impl FnMut(RecordBatch) -> Result<(), PgError>,
) -> Result<(), PgError> {
    let problem = |p: FileProblem| PgError::Load(LoadError::File(p));
    let undecodable = |e: Box<dyn std::error::Error + Send + Sync>| {
        problem(FileProblem::Undecodable { path: path.to_path_buf(), source: e })
    };
    let corrupt = |reason: String| corrupt(path, reason);
    let file = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(FileProblem::Missing(path.to_path_buf())),
        _ => problem(FileProblem::Io { path: path.to_path_buf(), source: e }),
    })?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| undecodable(e.into()))?;
    let meta = dictionary_strings(meta).map_err(|e| undecodable(e.into()))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_batch_size(8192)
        .build()
        .map_err(|e| undecodable(e.into()))?;
    for batch in reader {
        let batch = batch.map_err(|e| undecodable(e.into()))?;
        let picked = columns
            .iter()
            .map(|name| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .map(|c| (*name, c))
                    .ok_or_else(|| corrupt(format!("it has no column {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        f(RecordBatch::try_from_iter(picked).map_err(|e| undecodable(e.into()))?)?;
    }
    Ok(())
}

/// Reads the text columns whose every data page is dictionary-encoded (in
/// every row group) as dictionary arrays: their values are then the
/// dictionary page itself, and each batch only decodes keys, instead of
/// copying every value's bytes out of the dictionary first. Other columns
/// keep their type: a chunk that fell back to plain pages would have to be
/// interned into a dictionary, which costs more than it saves.
fn dictionary_strings(meta: ArrowReaderMetadata) -> Result<ArrowReaderMetadata, parquet::errors::ParquetError> {
    let parquet = meta.metadata().clone();
    let leaves = parquet.file_metadata().schema_descr();
    let all_dictionary = |name: &str| {
        let Some(leaf) = (0..leaves.num_columns()).find(|&i| leaves.column(i).path().string() == name) else {
            return false;
        };
        parquet.num_row_groups() > 0
            && parquet.row_groups().iter().all(|rg| {
                let c = rg.column(leaf);
                c.dictionary_page_offset().is_some()
                    && c.page_encoding_stats_mask()
                        .is_some_and(|m| m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY))
            })
    };
    let mut changed = false;
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8);
            if text && all_dictionary(f.name()) {
                changed = true;
                let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(f.data_type().clone()));
                f.as_ref().clone().with_data_type(dict)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    if !changed {
        return Ok(meta);
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, meta.schema().metadata().clone()));
    ArrowReaderMetadata::try_new(parquet, ArrowReaderOptions::new().with_schema(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wholly_dictionary_encoded_text_is_read_as_a_dictionary() {
        use arrow_array::cast::AsArray;
        use arrow_array::{Array, StringArray};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;

        let rows = 20_000;
        let few: StringArray = (0..rows).map(|i| (i % 7 != 3).then(|| ["OSHA", "MSHA", "WHD"][i % 3])).collect();
        // Distinct values overflow the 1 KiB dictionary page, so the writer
        // falls back to plain pages part way through the chunk.
        let many: StringArray = (0..rows).map(|i| Some(format!("company {i:05}"))).collect();
        let batch =
            RecordBatch::try_from_iter([("few", Arc::new(few.clone()) as _), ("many", Arc::new(many.clone()) as _)])
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        let props = WriterProperties::builder().set_dictionary_page_size_limit(1024).build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let (mut seen_few, mut seen_many) = (Vec::new(), Vec::new());
        for_each_batch(&path, &["many", "few"], |b| {
            assert_eq!(b.schema().field(0).data_type(), &DataType::Utf8);
            assert_eq!(
                b.schema().field(1).data_type(),
                &DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            );
            let d = b.column(1).as_dictionary::<arrow_array::types::Int32Type>();
            let values = d.values().as_string::<i32>();
            seen_few.extend(d.keys().iter().map(|k| k.map(|k| values.value(k as usize).to_string())));
            seen_many.extend(b.column(0).as_string::<i32>().iter().map(|v| v.map(str::to_string)));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen_few, few.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>());
        assert_eq!(seen_many, many.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>());
        assert!(few.null_count() > 0);
    }
}
