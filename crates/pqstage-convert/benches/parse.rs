//! Hot paths of phase one on generated sample data: tokenizing a chunk, and
//! tokenizing + typing + grouping it by year (`chunk::process`). Throughput is
//! in input bytes; row counts are asserted inside the loop.

// criterion_group! generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pqstage_convert::hooks::{last_boundary, process, Chunk, Dialect, Layout, Table};
use pqstage_sample::{spec_toml, write_sample, Dataset, SampleOptions};
use pqstage_spec::Spec;

/// About one 4 MiB chunk of sample rows, header removed, cut at a record boundary.
fn chunk() -> (Vec<u8>, usize) {
    let mut csv = Vec::new();
    write_sample(Dataset::Violations, &SampleOptions { rows: 30_000, seed: 1, threads: 1, revision: 0 }, &mut csv)
        .unwrap();
    let body = csv[memchr::memchr(b'\n', &csv).unwrap() + 1..].to_vec();
    let cut = last_boundary(&body[..(4 << 20).min(body.len())], b'"').unwrap();
    let data = body[..cut].to_vec();
    let mut t = Table::default();
    let (layout, dialect) = compiled();
    dialect.tokenizer.tokenize(&data, layout.ncols(), &mut t);
    let rows = t.records.len();
    (data, rows)
}

/// The violations spec, compiled.
fn compiled() -> (Layout, Dialect) {
    let spec = Spec::from_toml(spec_toml(Dataset::Violations)).unwrap();
    let dialect = Dialect::new(&spec.dialect);
    (Layout::new(&spec).unwrap(), dialect)
}

fn bench(c: &mut Criterion) {
    let (layout, dialect) = compiled();
    let (data, rows) = chunk();
    let mut g = c.benchmark_group("phase_one");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    let mut table = Table::default();
    g.bench_function("tokenize", |b| {
        b.iter(|| {
            dialect.tokenizer.tokenize(&data, layout.ncols(), &mut table);
            assert_eq!(table.records.len(), rows);
        })
    });
    let c = Chunk {
        seq: 0,
        source: 0,
        source_name: "bench.csv".into(),
        first_line: 2,
        raw_bytes: data.len() as u64,
        data: data.clone(),
    };
    g.bench_function("process", |b| {
        b.iter(|| {
            let out = process(&layout, &dialect, &c, &mut table);
            assert_eq!(out.rows as usize, rows);
            assert!(out.rejects.is_empty());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
