//! Phase two's optional reordering: a partition's rows in the order of the
//! spec's `target.cluster_by` column, in bounded memory.
//!
//! Why: rows ordered by a column compress better and interleave less, and
//! every load keeps the order. PostgreSQL's sort checks first whether its
//! input is already in order, so an index led by the column builds in one
//! pass instead of a sort; DuckDB's and Parquet's min/max statistics narrow
//! to a few row groups for a filter on it. The order is PostgreSQL's default
//! `ASC NULLS LAST`: byte order for text (its order under the `C` collation;
//! under others equal values are still together), numeric order otherwise.
//!
//! How: the rows are not compared but bucketed, one bucket per value, which
//! keeps the reordering stable (rows with equal values stay in input order)
//! and linear. A first read of the partition's spill assigns every row its
//! bucket and sizes the buckets; the buckets, in value order, are then cut
//! into groups that fit [`GROUP_BYTES`], and each group is one more read of
//! the spill that gathers its rows, bucket after bucket. A partition smaller
//! than the budget is read twice; the output never depends on the grouping.

use std::collections::HashMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use arrow_select::interleave::interleave_record_batch;

use super::Spilled;
use crate::error::{ClusterRefusal, ConvertError};

/// Bytes of rows (as Arrow holds them) one group may gather.
pub const GROUP_BYTES: usize = 16 << 20;
/// Distinct values a partition may hold in the cluster column.
pub const MAX_VALUES: usize = 1 << 16;
/// Rows gathered by one interleave of the spill's small batches.
const WINDOW_ROWS: usize = 32_768;
/// Spill batches held for one gather at most (a group with few rows in
/// each batch would otherwise hold the whole partition).
const WINDOW_BATCHES: usize = 256;

/// The buckets of one partition: one per distinct value.
#[derive(Default)]
struct Buckets {
    /// Each value, in an order-preserving byte form, and its bucket.
    ids: HashMap<Box<[u8]>, u32>,
    /// The bucket of NULL, once seen.
    null: Option<u32>,
}

impl Buckets {
    fn len(&self) -> usize {
        self.ids.len() + usize::from(self.null.is_some())
    }

    fn id(&mut self, key: Option<&[u8]>) -> Result<u32, ClusterRefusal> {
        let found = match key {
            Some(k) => self.ids.get(k).copied(),
            None => self.null,
        };
        if let Some(id) = found {
            return Ok(id);
        }
        if self.len() >= MAX_VALUES {
            return Err(ClusterRefusal::TooManyValues(MAX_VALUES));
        }
        let id = self.len() as u32;
        match key {
            Some(k) => {
                self.ids.insert(k.into(), id);
            }
            None => self.null = Some(id),
        }
        Ok(id)
    }

    /// Appends the bucket of every row of `array` to `out`.
    fn assign(&mut self, array: &dyn Array, out: &mut Vec<u16>) -> Result<(), ClusterRefusal> {
        macro_rules! each {
            ($a:ident = $array:expr, $i:ident => $key:expr) => {{
                let $a = $array;
                for $i in 0..$a.len() {
                    let id = if $a.is_null($i) { self.id(None)? } else { self.id(Some(AsRef::<[u8]>::as_ref(&$key)))? };
                    // Below MAX_VALUES, so it fits.
                    out.push(id as u16);
                }
            }};
        }
        macro_rules! number {
            ($t:ty) => {
                each!(a = array.as_primitive::<$t>(), i => ordered(i128::from(a.value(i))))
            };
        }
        match array.data_type() {
            DataType::Utf8 => each!(a = array.as_string::<i32>(), i => a.value(i).as_bytes()),
            DataType::Boolean => each!(a = array.as_boolean(), i => [u8::from(a.value(i))]),
            DataType::Int16 => number!(Int16Type),
            DataType::Int32 => number!(Int32Type),
            DataType::Int64 => number!(Int64Type),
            DataType::Date32 => number!(Date32Type),
            DataType::Decimal64(..) => number!(Decimal64Type),
            DataType::Decimal128(..) => number!(Decimal128Type),
            DataType::Timestamp(TimeUnit::Microsecond, _) => number!(TimestampMicrosecondType),
            other => return Err(ClusterRefusal::Unordered(other.clone())),
        }
        Ok(())
    }

    /// Rank of every bucket in value order (NULL last, as PostgreSQL's default puts it).
    fn ranks(&self) -> Vec<u32> {
        let mut values: Vec<(&[u8], u32)> = self.ids.iter().map(|(k, id)| (&**k, *id)).collect();
        values.sort_unstable();
        let mut rank = vec![0u32; self.len()];
        for (r, id) in values.iter().map(|(_, id)| *id).chain(self.null).enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    }
}

/// A signed number as bytes whose byte order is its numeric order (flipping
/// the sign bit maps MIN..=MAX onto 0..=MAX unsigned).
fn ordered(v: i128) -> [u8; 16] {
    ((v as u128) ^ (1 << 127)).to_be_bytes()
}

/// Cuts the buckets, in rank order, into groups of consecutive ranks
/// `(first, end)` whose bytes stay within `budget` (a bucket bigger than the
/// budget is a group of its own).
fn groups_within(bytes_by_rank: &[u64], budget: u64) -> Vec<(u32, u32)> {
    let mut groups: Vec<(u32, u32)> = Vec::new();
    let (mut start, mut held) = (0u32, 0u64);
    for (r, s) in bytes_by_rank.iter().enumerate() {
        let r = r as u32;
        if r > start && held + s > budget {
            groups.push((start, r));
            start = r;
            held = 0;
        }
        held += s;
    }
    if !bytes_by_rank.is_empty() {
        groups.push((start, bytes_by_rank.len() as u32));
    }
    groups
}

/// Calls `emit` with the partition's rows in the order of source column
/// `column` (an index into the spill's schema), stable, NULLs last; `budget`
/// bounds the bytes one group gathers.
///
/// # Errors
/// Reading the spill, a column type without an order, too many distinct
/// values, or whatever `emit` returns.
pub fn clustered(
    spilled: &Spilled,
    column: usize,
    name: &str,
    budget: usize,
    mut emit: impl FnMut(RecordBatch) -> Result<(), ConvertError>,
) -> Result<(), ConvertError> {
    let refuse = |source| ConvertError::Cluster { column: name.to_string(), source };
    // Read 1: every row's bucket.
    let mut buckets = Buckets::default();
    // Two bytes a row: the partition's only per-row state.
    let mut rows: Vec<u16> = Vec::with_capacity(spilled.rows as usize);
    for batch in spilled.batches_cached() {
        buckets.assign(batch?.column(column).as_ref(), &mut rows).map_err(refuse)?;
    }
    // Ranks replace ids from here on: bucket order is rank order.
    let rank = buckets.ranks();
    let mut by_rank = vec![0u64; rank.len()];
    for r in &mut rows {
        *r = rank[usize::from(*r)] as u16;
        by_rank[usize::from(*r)] += 1;
    }
    // A bucket's size: its rows times the spill's bytes per row. (Arrays
    // read from the spill share their message's buffer, so their own
    // memory sizes would count it once per column.)
    let per_row = spilled.bytes / (rows.len() as u64).max(1);
    by_rank.iter_mut().for_each(|n| *n *= per_row);
    let groups = groups_within(&by_rank, budget as u64);

    // One more read per group: gather its rows, bucket by bucket.
    for (lo, hi) in groups {
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); (hi - lo) as usize];
        let mut window: Vec<RecordBatch> = Vec::new();
        let mut picks: Vec<(u32, usize, usize)> = Vec::new();
        let mut offset = 0usize;
        let mut gather = |window: &mut Vec<RecordBatch>, picks: &mut Vec<(u32, usize, usize)>| {
            if picks.is_empty() {
                window.clear();
                return Ok::<(), ConvertError>(());
            }
            // Picks are pushed in window order (input order), and the sort
            // is stable: by rank, input order within a rank.
            picks.sort_by_key(|p| p.0);
            let refs: Vec<&RecordBatch> = window.iter().collect();
            let idx: Vec<(usize, usize)> = picks.iter().map(|(_, b, i)| (*b, *i)).collect();
            let gathered =
                interleave_record_batch(&refs, &idx).map_err(|e| ConvertError::arrow("gathering rows", e))?;
            let mut at = 0;
            while at < picks.len() {
                let r = picks[at].0;
                let end = at + picks[at..].iter().take_while(|p| p.0 == r).count();
                parts[(r - lo) as usize].push(gathered.slice(at, end - at));
                at = end;
            }
            picks.clear();
            window.clear();
            Ok(())
        };
        for batch in spilled.batches_cached() {
            let batch = batch?;
            let n = batch.num_rows();
            let b = window.len();
            let before = picks.len();
            for (i, r) in rows[offset..offset + n].iter().enumerate() {
                let r = u32::from(*r);
                if (lo..hi).contains(&r) {
                    picks.push((r, b, i));
                }
            }
            offset += n;
            // Only batches with rows of this group are kept for the gather.
            if picks.len() > before {
                window.push(batch);
            }
            if picks.len() >= WINDOW_ROWS || window.len() >= WINDOW_BATCHES {
                gather(&mut window, &mut picks)?;
            }
        }
        gather(&mut window, &mut picks)?;
        for part in parts {
            for b in part {
                emit(b)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spill::{encode, Spill};
    use arrow_array::{Int32Array, StringArray};
    use std::sync::Arc;

    fn batch(keys: &[Option<&str>], from: i32) -> RecordBatch {
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("k", DataType::Utf8, true),
            arrow_schema::Field::new("n", DataType::Int32, false),
        ]));
        let n: Vec<i32> = (from..from + keys.len() as i32).collect();
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(keys.to_vec())), Arc::new(Int32Array::from(n))])
            .unwrap()
    }

    fn run(budget: usize, spill_budget: usize) -> Vec<(Option<String>, i32)> {
        let dir = tempfile::tempdir().unwrap();
        let keys = [Some("b"), None, Some("a"), Some("c"), Some("a"), Some("bb"), None, Some("b"), Some("")];
        let mut spill = Spill::with_budget(dir.path().join("s"), batch(&keys, 0).schema(), spill_budget).unwrap();
        for i in 0..50 {
            spill.append(Some(1), encode(&batch(&keys, i * 100))).unwrap();
        }
        let parts = spill.finish().unwrap();
        let mut out = Vec::new();
        clustered(&parts[&Some(1)], 0, "k", budget, |b| {
            let k = b.column(0).as_string::<i32>();
            let n = b.column(1).as_primitive::<Int32Type>();
            for i in 0..b.num_rows() {
                out.push((k.is_valid(i).then(|| k.value(i).to_string()), n.value(i)));
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn rows_come_out_in_value_order_stable_with_nulls_last() {
        let out = run(GROUP_BYTES, 1 << 20);
        assert_eq!(out.len(), 450);
        // Values in byte order ("" < "a" < "b" < "bb" < "c"), NULL last.
        let mut want: Vec<(Option<String>, i32)> = Vec::new();
        let keys = [Some("b"), None, Some("a"), Some("c"), Some("a"), Some("bb"), None, Some("b"), Some("")];
        for k in [Some(""), Some("a"), Some("b"), Some("bb"), Some("c"), None] {
            for i in 0..50 {
                for (j, kk) in keys.iter().enumerate() {
                    if *kk == k {
                        want.push((k.map(str::to_string), i * 100 + j as i32));
                    }
                }
            }
        }
        assert_eq!(out, want);
    }

    #[test]
    fn the_grouping_budget_does_not_change_the_output() {
        // A budget below one bucket gives one group per value; a spill budget
        // of one byte gives one spill message per appended batch.
        assert_eq!(run(1, 1), run(GROUP_BYTES, 1 << 20));
    }

    #[test]
    fn numbers_order_by_value_not_by_bytes() {
        let mut b = Buckets::default();
        let mut ids = Vec::new();
        let a = arrow_array::Int64Array::from(vec![Some(5), Some(-1), None, Some(i64::MIN), Some(300), Some(-1)]);
        b.assign(&a, &mut ids).unwrap();
        let rank = b.ranks();
        let ranked: Vec<u32> = ids.iter().map(|i| rank[usize::from(*i)]).collect();
        assert_eq!(ranked, vec![2, 1, 4, 0, 3, 1]);
    }

    #[test]
    fn too_many_values_is_refused() {
        let mut b = Buckets::default();
        let mut ids = Vec::new();
        let a = arrow_array::Int32Array::from_iter_values(0..(MAX_VALUES as i32 + 1));
        let e = b.assign(&a, &mut ids).unwrap_err();
        assert_eq!(e.to_string(), format!("more than {MAX_VALUES} distinct values in one partition"));
    }

    #[test]
    fn groups_of_ranks_stay_within_the_budget() {
        assert_eq!(groups_within(&[4, 5, 20, 1, 2], 10), [(0, 2), (2, 3), (3, 5)]);
        assert_eq!(groups_within(&[3, 3, 3], 100), [(0, 3)]);
        assert!(groups_within(&[], 10).is_empty());
    }
}
