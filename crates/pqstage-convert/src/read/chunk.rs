//! One chunk of CSV → typed record batches per partition, plus refused rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt32Array};

use super::columns::{self, Ctx, Fault, Faults};
use super::tokenize::Table;
use super::Dialect;
use crate::error::RowError;
use crate::layout::Layout;
use crate::spill;

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
    /// Stored bytes of the source read for this chunk (compressed, if the
    /// source is): what progress counts.
    pub raw_bytes: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What a chunk turned into.
pub struct ChunkOutput {
    /// Source index.
    pub source: usize,
    /// Records read (good and bad).
    pub rows: u64,
    /// Stored input bytes (for progress).
    pub bytes: u64,
    /// Good rows per partition key, in input order (`None` key: NULL, or
    /// unpartitioned), already encoded for the spill; source columns only,
    /// derived ones are added when writing Parquet.
    pub parts: Vec<(Option<i32>, spill::Encoded)>,
    /// Refused rows in input order.
    pub rejects: Vec<RowError>,
}

const MAX_VALUE_CHARS: usize = 200;

/// A value for a message: bytes that are not text as `\xNN`, cut at
/// [`MAX_VALUE_CHARS`] characters.
fn shorten(b: &[u8]) -> String {
    let s = super::source::escape_bytes(b);
    if s.chars().count() <= MAX_VALUE_CHARS {
        s
    } else {
        s.chars().take(MAX_VALUE_CHARS).chain("…".chars()).collect()
    }
}

/// Each row's key as an index into the chunk's distinct keys, which come
/// back in key order (NULL first). Years usually span a few hundred values,
/// so the index is a table lookup rather than a map search per row.
fn key_slots(keys: &[Option<i32>]) -> (Vec<u32>, Vec<Option<i32>>) {
    let (lo, hi) = keys.iter().flatten().fold((i32::MAX, i32::MIN), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    let width = if hi < lo { 1 } else { (i64::from(hi) - i64::from(lo) + 2) as usize };
    if width > 1 << 16 {
        let distinct: Vec<Option<i32>> = keys.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        let slots = keys.iter().map(|k| distinct.binary_search(k).expect("collected") as u32).collect();
        return (slots, distinct);
    }
    let dense = |k: &Option<i32>| k.map_or(0, |k| (i64::from(k) - i64::from(lo)) as usize + 1);
    // Mark the keys present (0), then number them in key order.
    let mut remap = vec![u32::MAX; width];
    for k in keys {
        remap[dense(k)] = 0;
    }
    let mut distinct = Vec::new();
    for (i, slot) in remap.iter_mut().enumerate() {
        if *slot == 0 {
            *slot = distinct.len() as u32;
            distinct.push((i > 0).then(|| lo + (i - 1) as i32));
        }
    }
    (keys.iter().map(|k| remap[dense(k)]).collect(), distinct)
}

/// Converts one chunk. `table` is a reusable scratch buffer.
pub fn process(layout: &Layout, dialect: &Dialect, chunk: &Chunk, table: &mut Table) -> ChunkOutput {
    let data = &chunk.data[..];
    let ncols = layout.ncols();
    dialect.tokenizer.tokenize(data, ncols, table);
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
            let hint = match data.get(rec.start as usize) {
                Some(&b'#') => "; if lines starting with # are comments, pass --comment '#' (or set dialect.comment)",
                _ => "",
            };
            faults.set(r, Fault::record(format!("expected {ncols} fields, found {}{hint}", rec.fields)));
        }
    }
    let utf8_ok = std::str::from_utf8(data).is_ok() && memchr::memchr(0, data).is_none();
    // Columns are built in input order (sequential access to the tokenized
    // chunk); rows are then grouped by partition key with one `take` per
    // column, after which each partition is a zero-copy slice.
    let ctx = Ctx { dialect, table, data, utf8_ok };
    let mut arrays: Vec<ArrayRef> =
        layout.spec.columns.iter().enumerate().map(|(c, col)| columns::build(&ctx, c, col, &mut faults)).collect();
    if layout.has_lines() {
        let source = (chunk.source as u64) << crate::layout::LINE_BITS;
        let lines = table.records.iter().map(|rec| source | (chunk.first_line + u64::from(rec.line)));
        arrays.push(Arc::new(arrow_array::UInt64Array::from_iter_values(lines)));
    }
    let keys: Vec<Option<i32>> = match layout.partition_source {
        Some(src) => columns::years(arrays[src].as_ref()),
        None => vec![None; n],
    };
    // Stable counting sort of the good rows by key, on dense slots.
    let (slots, slot_keys) = key_slots(&keys);
    let good_row = |r: usize| faults.count == 0 || !faults.is_bad(r);
    let mut counts = vec![0u32; slot_keys.len()];
    for (r, &s) in slots.iter().enumerate() {
        if good_row(r) {
            counts[s as usize] += 1;
        }
    }
    let mut next = Vec::with_capacity(counts.len());
    let mut at = 0;
    for c in &counts {
        next.push(at);
        at += c;
    }
    let good = at as usize;
    let cols: Vec<ArrayRef> = if counts.iter().filter(|&&c| c > 0).count() <= 1 && faults.count == 0 {
        arrays
    } else {
        let mut order = vec![0u32; good];
        for (r, &s) in slots.iter().enumerate() {
            if good_row(r) {
                let slot = &mut next[s as usize];
                order[*slot as usize] = r as u32;
                *slot += 1;
            }
        }
        let idx = UInt32Array::from(order);
        arrays
            .iter()
            .map(|a| match a.as_any().downcast_ref::<arrow_array::StringArray>() {
                Some(text) => Arc::new(gather_text(text, idx.values())) as ArrayRef,
                None => arrow_select::take::take(a.as_ref(), &idx, None).expect("indices in range"),
            })
            .collect()
    };
    let all = RecordBatch::try_new_with_options(
        layout.spill_schema.clone(),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(good)),
    )
    .expect("good rows match the schema");
    let mut parts = Vec::with_capacity(counts.len());
    let mut start = 0;
    for (key, len) in slot_keys.into_iter().zip(counts) {
        if len > 0 {
            parts.push((key, spill::encode(&all.slice(start, len as usize))));
            start += len as usize;
        }
    }

    let rejects = row_errors(layout, chunk, table, &faults);
    ChunkOutput { source: chunk.source, rows: n as u64, bytes: chunk.raw_bytes, parts, rejects }
}

/// The refused rows of a chunk, in input order, with their lines, columns,
/// values and reasons.
fn row_errors(layout: &Layout, chunk: &Chunk, table: &Table, faults: &Faults) -> Vec<RowError> {
    let data = &chunk.data[..];
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
            column: fault.column.map(|c| layout.spec.columns[c].name.clone()),
            value,
            reason: fault.reason.to_string(),
            record: data[rec.start as usize..rec.end as usize].to_vec(),
        });
    }
    rejects
}

/// Rows `idx` of a text column, like arrow's `take`, but short values are
/// copied without a `memcpy` call each ([`columns::push_value`]; arrow's
/// `take` of the text columns was a quarter of phase one's CPU, most of it in
/// those calls).
pub fn gather_text(a: &arrow_array::StringArray, idx: &[u32]) -> arrow_array::StringArray {
    let (offsets, data) = (a.value_offsets(), a.values().as_slice());
    // The rows are a subset of the column's, so this never grows (no first
    // pass over the lengths: each lookup is a likely cache miss).
    let mut values: Vec<u8> = Vec::with_capacity(data.len() + 16);
    let mut ends: Vec<i32> = Vec::with_capacity(idx.len() + 1);
    ends.push(0);
    for &i in idx {
        let (start, end) = (offsets[i as usize] as usize, offsets[i as usize + 1] as usize);
        columns::push_value(&mut values, &data[start..], end - start);
        ends.push(values.len() as i32);
    }
    let nulls = a.nulls().map(|n| {
        arrow_buffer::NullBuffer::new(arrow_buffer::BooleanBuffer::collect_bool(idx.len(), |k| {
            n.is_valid(idx[k] as usize)
        }))
    });
    let offsets = arrow_buffer::OffsetBuffer::new(arrow_buffer::ScalarBuffer::from(ends));
    arrow_array::StringArray::try_new(offsets, values.into(), nulls).expect("whole values of valid text")
}

#[cfg(test)]
mod tests {
    use super::{gather_text, key_slots};

    #[test]
    fn gather_text_equals_arrows_take() {
        use arrow_array::{Array, StringArray, UInt32Array};
        let a: StringArray = (0..300)
            .map(|i| (i % 7 != 3).then(|| "é-x".repeat(i % 11) + &"y".repeat(i % 23)))
            .collect::<StringArray>()
            .slice(5, 290)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .clone();
        let idx: Vec<u32> = (0..290u32).rev().chain((0..290).step_by(3)).chain([289, 0, 289]).collect();
        let ours = gather_text(&a, &idx);
        let theirs = arrow_select::take::take(&a, &UInt32Array::from(idx.clone()), None).unwrap();
        assert_eq!(&ours as &dyn Array, theirs.as_ref());
        assert_eq!(ours.null_count(), theirs.null_count());
    }

    #[test]
    fn key_slots_number_the_distinct_keys_in_order_null_first() {
        let keys = [Some(2020), None, Some(1987), Some(2020), Some(-44), None, Some(1987)];
        let (slots, distinct) = key_slots(&keys);
        assert_eq!(distinct, [None, Some(-44), Some(1987), Some(2020)]);
        assert_eq!(slots, [3, 0, 2, 3, 1, 0, 2]);
        // All NULL, and a span too wide for a table.
        assert_eq!(key_slots(&[None, None]), (vec![0, 0], vec![None]));
        let wide = [Some(5_000_000), Some(1), None, Some(1)];
        assert_eq!(key_slots(&wide), (vec![2, 1, 0, 1], vec![None, Some(1), Some(5_000_000)]));
        assert_eq!(key_slots(&[]), (vec![], vec![]));
    }
}
