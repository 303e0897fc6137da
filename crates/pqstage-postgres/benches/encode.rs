//! The loader's client hot path on a generated, converted sample: one staged
//! year read from Parquet and encoded as binary COPY tuples (what each load
//! job does between the disk and the socket). Throughput is in rows; the row
//! count and the encoded size are asserted inside the loop.

// criterion_group! generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pqstage_convert::{convert, ConvertOptions};
use pqstage_postgres::read::for_each_batch;
use pqstage_postgres::{encode_batch, Constant};
use pqstage_sample::{spec_toml, write_sample, Dataset, SampleOptions};
use pqstage_spec::Spec;
use pqstage_stage::Stage;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("violations.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    write_sample(Dataset::Violations, &SampleOptions { rows: 400_000, seed: 1, threads: 1, revision: 0 }, &mut out)
        .unwrap();
    drop(out);
    let spec = Spec::from_toml(spec_toml(Dataset::Violations)).unwrap();
    let opts = ConvertOptions::builder(vec![csv], "violations", spec.clone()).build().unwrap();
    let stage = Stage::create(dir.path().join("stage").to_str().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let summary = convert(&stage, rt.handle(), &opts).unwrap();

    // The biggest year, as the loader would read it.
    let table = &summary.manifest.tables[0];
    let year = table.partitions.iter().max_by_key(|p| p.rows).unwrap();
    assert_eq!(year.files.len(), 1);
    let path = dir.path().join("stage/violations").join(&table.path).join(&year.files[0].path);
    let key = table.partition_column.clone().unwrap();
    let columns: Vec<String> = spec.output_columns().into_iter().map(|c| c.name).filter(|n| *n != key).collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let constant = [Constant::Int4(year.value.map(|y| y as i32))];

    let mut g = c.benchmark_group("load_client");
    g.throughput(Throughput::Elements(year.rows));
    g.sample_size(20);
    let mut buf = Vec::with_capacity(2 << 20);
    g.bench_function("read_and_encode_year", |b| {
        b.iter(|| {
            let (mut rows, mut bytes) = (0u64, 0usize);
            for_each_batch(&path, &columns, |batch| {
                rows += batch.num_rows() as u64;
                encode_batch(&batch, &constant, &mut buf).unwrap();
                bytes += buf.len();
                buf.clear();
                Ok(())
            })
            .unwrap();
            assert_eq!(rows, year.rows);
            // Every tuple: a field count, and a length word per field.
            assert!(bytes as u64 > rows * (2 + 4 * (columns.len() as u64 + 1)));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
