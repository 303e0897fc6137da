//! Phase two's hot path: encoding one partition's columns into a Parquet row
//! group, with our `ColumnEncoder` and, for comparison, with arrow's
//! `ArrowColumnWriter` (same properties, same dictionary choice, zstd level 1).
//! The input is a generated sample the size of one year of the benchmark
//! file, all 22 columns of the violations spec; throughput is in rows.

// criterion_group! generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::sync::Arc;

use arrow_array::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use pqstage_convert::hooks::{choose_dictionaries, column_kinds, derive, ColumnEncoder, Kind, Layout};
use pqstage_convert::{convert, ConvertOptions};
use pqstage_sample::{spec_toml, write_sample, Dataset, SampleOptions};
use pqstage_spec::{Function, Spec};
use pqstage_stage::Stage;

/// A 300,000-row sample, staged and read back with the spec's own types, all
/// years in one batch: about the rows and distinct values of one year of the
/// 18 M-row benchmark file.
fn partition(plan: &Layout) -> RecordBatch {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("v.csv");
    let mut f = std::fs::File::create(&csv).unwrap();
    write_sample(Dataset::Violations, &SampleOptions { rows: 300_000, seed: 1, threads: 2, revision: 0 }, &mut f)
        .unwrap();
    std::fs::create_dir(dir.path().join("stage")).unwrap();
    let stage = Stage::open(dir.path().join("stage").to_str().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = ConvertOptions::builder(vec![csv], "v", plan.spec.clone()).build().unwrap();
    let summary = convert(&stage, rt.handle(), &opts).unwrap();
    let mut batches = Vec::new();
    for part in &summary.manifest.tables[0].partitions {
        for f in &part.files {
            let file = std::fs::File::open(dir.path().join("stage/v").join(&f.path)).unwrap();
            let options = ArrowReaderOptions::new().with_schema(plan.schema.clone());
            let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).unwrap();
            batches.extend(reader.with_batch_size(1 << 20).build().unwrap().map(Result::unwrap));
        }
    }
    arrow_select::concat::concat_batches(&plan.schema, &batches).unwrap()
}

fn bench(c: &mut Criterion) {
    let plan = Layout::new(&Spec::from_toml(spec_toml(Dataset::Violations)).unwrap()).unwrap();
    let batch = partition(&plan);
    let base = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()));
    let props = Arc::new(choose_dictionaries(base, &batch.slice(0, 8192), batch.num_rows() as u64));
    let parquet = Arc::new(ArrowSchemaConverter::new().convert(&plan.schema).unwrap());
    let kinds: Vec<Kind> = column_kinds(&plan.schema, &parquet).into_iter().map(Option::unwrap).collect();

    let mut g = c.benchmark_group("phase_two");
    g.throughput(Throughput::Elements(batch.num_rows() as u64));
    g.sample_size(10);
    g.bench_function("ours", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for (i, kind) in kinds.iter().enumerate() {
                let mut e = ColumnEncoder::new(parquet.column(i), *kind, &props).unwrap();
                e.write(batch.column(i).as_ref()).unwrap();
                let (data, close) = e.close().unwrap();
                assert_eq!(close.rows_written as usize, batch.num_rows());
                bytes += data.len();
            }
            bytes
        })
    });
    let file = SerializedFileWriter::new(Vec::new(), parquet.root_schema_ptr(), props.clone()).unwrap();
    let factory = ArrowRowGroupWriterFactory::new(&file, plan.schema.clone());
    g.bench_function("arrow", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for (i, mut w) in factory.create_column_writers(0).unwrap().into_iter().enumerate() {
                for leaf in compute_leaves(plan.schema.field(i), batch.column(i)).unwrap() {
                    w.write(&leaf).unwrap();
                }
                let chunk = w.close().unwrap();
                assert_eq!(chunk.close().rows_written as usize, batch.num_rows());
                bytes += chunk.close().bytes_written as usize;
            }
            bytes
        })
    });
    g.finish();

    // The derived column phase two computes for every row.
    let names = batch.column(plan.schema.index_of("company_name").unwrap()).clone();
    let mut g = c.benchmark_group("derive");
    g.throughput(Throughput::Elements(batch.num_rows() as u64));
    g.sample_size(20);
    g.bench_function("normalize_name", |b| b.iter(|| derive(Function::NormalizeName, names.as_ref()).len()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
