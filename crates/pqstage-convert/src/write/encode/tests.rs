//! Our column encoder against arrow's writer and reader: files written with
//! [`ColumnEncoder`] must read back to the same values as files
//! written by `ArrowWriter`, with the same statistics, a page index that bounds
//! every page, and bytes that do not depend on how the rows were batched.

use std::sync::Arc;

use super::{ColumnEncoder, Kind, PAGE_ROWS};
use arrow_array::{
    Array, ArrayRef, Date32Array, Decimal64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Encoding, PageType, ZstdLevel};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;

const ROWS: usize = 70_000;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Columns of every kind the encoder takes, with NULLs scattered and, in
/// `sparse`, a run of NULLs longer than a page (an all-NULL page).
fn sample(distinct: u64) -> RecordBatch {
    let mut r = Rng(0x9e37_79b9);
    let words = ["", "a", "AB", "Acme & Co", "Zürich Straße", "見本", "x\u{0}y", "abcdefgh", "abcdefgh1"];
    let text: StringArray = (0..ROWS)
        .map(|i| {
            (r.below(10) != 0)
                .then(|| {
                    let w = words[r.below(words.len() as u64) as usize];
                    format!("{w}{}", if distinct > 0 { (r.below(distinct)).to_string() } else { String::new() })
                })
                .filter(|_| i % 9_000 != 1)
        })
        .collect();
    let sparse: StringArray =
        (0..ROWS).map(|i| (!(10_000..40_000).contains(&i) && i % 3 == 0).then(|| format!("s{}", i % 17))).collect();
    let long: StringArray = (0..ROWS).map(|i| Some(format!("{:0>60}{}", i % 50, "é".repeat(i % 7)))).collect();
    let ints: Int32Array = (0..ROWS).map(|_| (r.below(7) != 0).then(|| r.next() as i32 % 1000 - 500)).collect();
    let dates = Date32Array::from_iter_values((0..ROWS).map(|i| 18_000 + (i as i32 * 7919) % 365));
    let big: Int64Array = (0..ROWS).map(|_| (r.below(5) != 0).then(|| (r.next() >> 1) as i64 - (1 << 62))).collect();
    let money: Decimal64Array = (0..ROWS)
        .map(|_| (r.below(4) != 0).then(|| r.below(100_000) as i64 * 25))
        .collect::<Decimal64Array>()
        .with_precision_and_scale(12, 2)
        .expect("valid decimal");
    let ts = TimestampMicrosecondArray::from_iter_values((0..ROWS).map(|i| 1_600_000_000_000_000 + i as i64 * 1_000));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(text),
        Arc::new(sparse),
        Arc::new(long),
        Arc::new(ints),
        Arc::new(dates),
        Arc::new(big),
        Arc::new(money),
        Arc::new(ts),
    ];
    let fields: Vec<Field> = [
        ("text", DataType::Utf8, true),
        ("sparse", DataType::Utf8, true),
        ("long", DataType::Utf8, false),
        ("ints", DataType::Int32, true),
        ("dates", DataType::Date32, false),
        ("big", DataType::Int64, true),
        ("money", DataType::Decimal64(12, 2), true),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
    ]
    .into_iter()
    .map(|(n, t, null)| Field::new(n, t, null))
    .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("sample batch")
}

fn props(dictionary: bool, dict_limit: usize, compression: Compression) -> WriterProperties {
    WriterProperties::builder()
        .set_dictionary_enabled(dictionary)
        .set_dictionary_page_size_limit(dict_limit)
        .set_compression(compression)
        .set_max_row_group_row_count(Some(ROWS))
        .build()
}

/// One row group written with our encoders, fed in slices of `cuts` rows.
fn ours(batch: &RecordBatch, props: &WriterProperties, cuts: &[usize]) -> Bytes {
    let parquet = ArrowSchemaConverter::new().convert(&batch.schema()).expect("schema");
    let props = Arc::new(props.clone());
    let mut file = SerializedFileWriter::new(Vec::new(), parquet.root_schema_ptr(), props.clone()).expect("writer");
    let mut encoders: Vec<ColumnEncoder> = batch
        .schema()
        .fields()
        .iter()
        .zip(parquet.columns())
        .map(|(f, c)| {
            let kind = Kind::of(f.data_type(), c.physical_type()).expect("a kind we encode");
            ColumnEncoder::new(c.clone(), kind, &props).expect("encoder")
        })
        .collect();
    let (mut at, mut cut) = (0, cuts.iter().cycle());
    while at < batch.num_rows() {
        let n = (*cut.next().expect("cycle")).min(batch.num_rows() - at);
        let slice = batch.slice(at, n);
        for (e, c) in encoders.iter_mut().zip(slice.columns()) {
            e.write(c.as_ref()).expect("write");
        }
        at += n;
    }
    let mut group = file.next_row_group().expect("row group");
    for e in encoders {
        let (bytes, close) = e.close().expect("close");
        group.append_column(&bytes, close).expect("append");
    }
    group.close().expect("close row group");
    Bytes::from(file.into_inner().expect("finish"))
}

fn arrows(batch: &RecordBatch, props: &WriterProperties) -> Bytes {
    let options = ArrowWriterOptions::new().with_properties(props.clone()).with_skip_arrow_metadata(true);
    let mut w = ArrowWriter::try_new_with_options(Vec::new(), batch.schema(), options).expect("arrow writer");
    w.write(batch).expect("write");
    Bytes::from(w.into_inner().expect("finish"))
}

fn read(file: &Bytes) -> (Vec<RecordBatch>, Arc<ParquetMetaData>) {
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file.clone(), options).expect("reader");
    let meta = builder.metadata().clone();
    let batches = builder.with_batch_size(ROWS).build().expect("build").collect::<Result<Vec<_>, _>>();
    (batches.expect("read"), meta)
}

/// Little-endian integer or raw bytes, ordered as Parquet orders them.
fn cmp(kind: Kind, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let int = |x: &[u8]| match x.len() {
        4 => i64::from(i32::from_le_bytes(x.try_into().unwrap())),
        _ => i64::from_le_bytes(x.try_into().unwrap()),
    };
    match kind {
        Kind::Bytes => a.cmp(b),
        _ => int(a).cmp(&int(b)),
    }
}

/// The stored form of row `r` of a column read back (None for NULL).
fn stored(col: &dyn Array, r: usize) -> Option<Vec<u8>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if col.is_null(r) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(r).as_bytes().to_vec(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(r).to_le_bytes().to_vec(),
        DataType::Date32 => col.as_primitive::<Date32Type>().value(r).to_le_bytes().to_vec(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(r).to_le_bytes().to_vec(),
        DataType::Decimal64(..) => col.as_primitive::<Decimal64Type>().value(r).to_le_bytes().to_vec(),
        DataType::Timestamp(..) => col.as_primitive::<TimestampMicrosecondType>().value(r).to_le_bytes().to_vec(),
        t => panic!("unexpected type {t}"),
    })
}

/// Every page's column-index entry bounds the page's values and counts its NULLs.
fn check_page_index(batch: &RecordBatch, meta: &ParquetMetaData) {
    let (ci, oi) = (meta.column_index().expect("column index"), meta.offset_index().expect("offset index"));
    let rg = meta.row_group(0);
    for (c, col) in batch.columns().iter().enumerate() {
        let kind = Kind::of(batch.schema().field(c).data_type(), rg.column(c).column_type()).unwrap_or(Kind::I64);
        let locations = &oi[0][c].page_locations;
        let index = &ci[0][c];
        for (p, loc) in locations.iter().enumerate() {
            let start = loc.first_row_index as usize;
            let end = locations.get(p + 1).map_or(batch.num_rows(), |l| l.first_row_index as usize);
            assert!(end - start <= PAGE_ROWS, "column {c} page {p} has {} rows", end - start);
            let values: Vec<Vec<u8>> = (start..end).filter_map(|r| stored(col.as_ref(), r)).collect();
            let (lo, hi, nulls) = match index {
                ColumnIndexMetaData::BYTE_ARRAY(i) => {
                    (i.min_value(p).map(<[u8]>::to_vec), i.max_value(p).map(<[u8]>::to_vec), i.null_count(p))
                }
                ColumnIndexMetaData::INT32(i) => (
                    i.min_value(p).map(|v| v.to_le_bytes().to_vec()),
                    i.max_value(p).map(|v| v.to_le_bytes().to_vec()),
                    i.null_count(p),
                ),
                ColumnIndexMetaData::INT64(i) => (
                    i.min_value(p).map(|v| v.to_le_bytes().to_vec()),
                    i.max_value(p).map(|v| v.to_le_bytes().to_vec()),
                    i.null_count(p),
                ),
                other => panic!("unexpected column index {other:?}"),
            };
            assert_eq!(nulls, Some((end - start - values.len()) as i64), "column {c} page {p} NULLs");
            if values.is_empty() {
                assert!(lo.is_none() && hi.is_none(), "column {c} page {p} is all NULL");
                continue;
            }
            let (lo, hi) = (lo.expect("min"), hi.expect("max"));
            let true_lo = values.iter().min_by(|a, b| cmp(kind, a, b)).unwrap();
            let true_hi = values.iter().max_by(|a, b| cmp(kind, a, b)).unwrap();
            if true_lo.len() <= 64 && true_hi.len() <= 64 {
                assert_eq!((&lo, &hi), (true_lo, true_hi), "column {c} page {p} bounds");
            } else {
                assert!(cmp(kind, &lo, true_lo).is_le() && cmp(kind, &hi, true_hi).is_ge(), "column {c} page {p}");
            }
        }
    }
}

fn check(props: &WriterProperties, distinct: u64) -> (Bytes, Arc<ParquetMetaData>) {
    let batch = sample(distinct);
    let mine = ours(&batch, props, &[8192]);
    let (got, meta) = read(&mine);
    let (want, want_meta) = read(&arrows(&batch, props));
    assert_eq!(got, want, "our file reads back as arrow's does");
    assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), ROWS);
    // The same chunk statistics as arrow's writer.
    for c in 0..batch.num_columns() {
        let (a, b) = (meta.row_group(0).column(c), want_meta.row_group(0).column(c));
        let (sa, sb) = (a.statistics().expect("stats"), b.statistics().expect("stats"));
        assert_eq!(sa.null_count_opt(), sb.null_count_opt(), "column {c} NULL count");
        assert_eq!(sa.min_bytes_opt(), sb.min_bytes_opt(), "column {c} min");
        if c != 2 {
            // Column 2 is longer than the truncation limit: both round the
            // maximum up, each its own way.
            assert_eq!(sa.max_bytes_opt(), sb.max_bytes_opt(), "column {c} max");
        } else {
            assert!(sa.max_bytes_opt().expect("max") > sb.min_bytes_opt().expect("min"));
            assert!(!sa.max_is_exact());
        }
        assert_eq!(a.num_values(), b.num_values(), "column {c} values");
        assert_eq!(a.compression(), b.compression(), "column {c} codec");
    }
    check_page_index(&batch, &meta);
    // Batching does not change a byte.
    assert_eq!(mine, ours(&batch, props, &[1, 7, 30_000, 3]), "bytes depend on batching");
    (mine, meta)
}

/// The (page type, encoding) runs of a column's pages, read page by page.
fn encodings(file: &Bytes, c: usize) -> Vec<(PageType, Encoding)> {
    let reader = SerializedFileReader::new(file.clone()).expect("file reader");
    let pages = reader.get_row_group(0).expect("row group").get_column_page_reader(c).expect("pages");
    let mut runs: Vec<(PageType, Encoding)> = Vec::new();
    for page in pages {
        let page = page.expect("page");
        let run = (page.page_type(), page.encoding());
        if runs.last() != Some(&run) {
            runs.push(run);
        }
    }
    runs
}

#[test]
fn dictionary_pages_match_arrow() {
    let (file, _) = check(&props(true, 1 << 20, Compression::ZSTD(ZstdLevel::default())), 40);
    for c in 0..8 {
        assert_eq!(
            encodings(&file, c),
            [(PageType::DICTIONARY_PAGE, Encoding::PLAIN), (PageType::DATA_PAGE, Encoding::RLE_DICTIONARY)],
            "column {c}"
        );
    }
}

#[test]
fn plain_pages_match_arrow() {
    let (file, _) = check(&props(false, 1 << 20, Compression::UNCOMPRESSED), 1000);
    for c in 0..8 {
        assert_eq!(encodings(&file, c), [(PageType::DATA_PAGE, Encoding::PLAIN)], "column {c}");
    }
}

#[test]
fn an_outgrown_dictionary_falls_back_to_plain() {
    let (file, _) = check(&props(true, 4096, Compression::SNAPPY), 1_000_000);
    // The text column outgrows 4 KiB within its first page; what was written
    // with the dictionary stays so, the rest is plain.
    assert_eq!(
        encodings(&file, 0),
        [
            (PageType::DICTIONARY_PAGE, Encoding::PLAIN),
            (PageType::DATA_PAGE, Encoding::RLE_DICTIONARY),
            (PageType::DATA_PAGE, Encoding::PLAIN)
        ]
    );
}

#[test]
fn null_in_a_required_column_is_an_error() {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)]));
    let parquet = ArrowSchemaConverter::new().convert(&schema).expect("schema");
    let props = WriterProperties::default();
    let mut e = ColumnEncoder::new(parquet.column(0), Kind::I32, &props).expect("encoder");
    let err = e.write(&Int32Array::from(vec![Some(1), None])).expect_err("NULL refused");
    assert!(err.to_string().contains("NULL in non-nullable column x"), "{err}");
}
