//! One chunk of CSV → typed record batches per partition, plus refused rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};

use crate::columns::{self, Ctx, Fault, Faults};
use crate::error::RowError;
use crate::plan::Plan;
use crate::spill;
use crate::tokenize::Table;

/// A piece of one source file that starts and ends at record boundaries.
pub struct Chunk {
    /// Position in the whole input (all sources), from 0.
    pub seq: u64,
    /// Index of the source file.
    pub source: usize,
    /// Source file name for messages.
    pub source_name: Arc<str>,
    /// Physical line (1-based) of the chunk's first byte.
    pub first_line: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What a chunk turned into.
pub struct ChunkOutput {
    /// The chunk's `seq`.
    pub seq: u64,
    /// Source index.
    pub source: usize,
    /// Records read (good and bad).
    pub rows: u64,
    /// Input bytes.
    pub bytes: u64,
    /// Good rows per partition key, in input order (`None` key: NULL, or
    /// unpartitioned), already encoded for the spill; source columns only,
    /// derived ones are added when writing Parquet.
    pub parts: Vec<(Option<i32>, spill::Encoded)>,
    /// Refused rows in input order.
    pub rejects: Vec<RowError>,
}

const MAX_VALUE_CHARS: usize = 200;

fn shorten(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() <= MAX_VALUE_CHARS {
        s.into_owned()
    } else {
        s.chars().take(MAX_VALUE_CHARS).chain("…".chars()).collect()
    }
}

/// Converts one chunk. `table` is a reusable scratch buffer.
pub fn process(plan: &Plan, chunk: &Chunk, table: &mut Table) -> ChunkOutput {
    let data = &chunk.data[..];
    let ncols = plan.ncols();
    plan.tokenizer.tokenize(data, ncols, table);
    let n = table.records.len();
    let mut faults = Faults::new(n);
    for (r, rec) in table.records.iter().enumerate() {
        if let Some(open) = rec.unterminated {
            let line = chunk.first_line + u64::from(open);
            faults.set(
                r,
                Fault::record(format!("unterminated quoted field: the quote opened on line {line} never closes")),
            );
        } else if rec.fields as usize != ncols {
            faults.set(r, Fault::record(format!("expected {ncols} fields, found {}", rec.fields)));
        }
    }
    let utf8_ok = std::str::from_utf8(data).is_ok();
    // Columns are built in input order (sequential access to the tokenized
    // chunk); rows are then grouped by partition key with one `take` per
    // column, after which each partition is a zero-copy slice.
    let ctx = Ctx { plan, table, data, utf8_ok };
    let arrays: Vec<ArrayRef> =
        plan.spec.columns.iter().enumerate().map(|(c, col)| columns::build(&ctx, c, col, &mut faults)).collect();
    let keys: Vec<Option<i32>> = match plan.partition_source {
        Some(src) => columns::years(arrays[src].as_ref()),
        None => vec![None; n],
    };
    // Stable counting sort of the good rows by key.
    let mut counts: BTreeMap<Option<i32>, u32> = BTreeMap::new();
    for (r, k) in keys.iter().enumerate() {
        if !faults.is_bad(r) {
            *counts.entry(*k).or_default() += 1;
        }
    }
    let mut next: BTreeMap<Option<i32>, u32> = BTreeMap::new();
    let mut at = 0;
    for (k, c) in &counts {
        next.insert(*k, at);
        at += c;
    }
    let good = at as usize;
    let cols: Vec<ArrayRef> = if counts.len() <= 1 && faults.count == 0 {
        arrays
    } else {
        let mut order = vec![0u32; good];
        for (r, k) in keys.iter().enumerate() {
            if !faults.is_bad(r) {
                let slot = next.get_mut(k).expect("counted");
                order[*slot as usize] = r as u32;
                *slot += 1;
            }
        }
        let idx = UInt32Array::from(order);
        arrays.iter().map(|a| arrow_select::take::take(a.as_ref(), &idx, None).expect("indices in range")).collect()
    };
    let all = RecordBatch::try_new_with_options(
        plan.source_schema.clone(),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(good)),
    )
    .expect("good rows match the schema");
    let mut parts = Vec::with_capacity(counts.len());
    let mut start = 0;
    for (key, len) in counts {
        parts.push((key, spill::encode(&all.slice(start, len as usize))));
        start += len as usize;
    }

    let mut rejects = Vec::with_capacity(faults.count);
    for (r, fault) in faults.rows.iter().enumerate() {
        let Some(fault) = fault else { continue };
        let rec = table.records[r];
        let line = match rec.unterminated {
            Some(open) => chunk.first_line + u64::from(open),
            None => chunk.first_line + u64::from(rec.line),
        };
        let value = match (fault.column, fault.with_value) {
            (Some(c), true) => Some(shorten(table.bytes(data, r, c))),
            _ => None,
        };
        rejects.push(RowError {
            source: chunk.source_name.clone(),
            line,
            column: fault.column.map(|c| plan.spec.columns[c].name.clone()),
            value,
            reason: fault.reason.to_string(),
            record: String::from_utf8_lossy(&data[rec.start as usize..rec.end as usize]).into_owned(),
        });
    }
    ChunkOutput { seq: chunk.seq, source: chunk.source, rows: n as u64, bytes: data.len() as u64, parts, rejects }
}
