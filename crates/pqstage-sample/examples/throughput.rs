//! Measures generation speed: writes sample CSV to a discarding sink.
//!
//! `cargo run --release -p pqstage-sample --example throughput -- [ROWS] [THREADS]`
//! (defaults: 2,000,000 rows, 2 threads).

use std::time::Instant;

use pqstage_sample::{write_sample, Dataset, SampleOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows = args.next().map_or(Ok(2_000_000), |s| s.parse())?;
    let threads = args.next().map_or(Ok(2), |s| s.parse())?;
    let opts = SampleOptions { rows, seed: 42, threads, revision: 0 };
    let start = Instant::now();
    let summary = write_sample(Dataset::Violations, &opts, std::io::sink())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rows, {} bytes ({:.1} bytes/row), {threads} threads: {secs:.3} s, {:.0} MB/s, {:.2} M rows/s",
        summary.rows,
        summary.bytes,
        summary.bytes as f64 / summary.rows.max(1) as f64,
        summary.bytes as f64 / secs / 1e6,
        summary.rows as f64 / secs / 1e6,
    );
    Ok(())
}
