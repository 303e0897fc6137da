//! Dictionary or plain encoding, chosen per column from a partition's own rows.

use arrow_array::RecordBatch;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

/// Largest dictionary, in bytes, that a column keeps; also the writer's
/// dictionary page limit. Larger dictionaries were measured: they shrink the
/// output further but the lookups miss the cache and cost a third of the CPU.
pub const DICTIONARY_MAX_BYTES: usize = 1 << 20;
/// Fewest average repeats of a value for a dictionary to pay for its lookups.
pub const DICTIONARY_MIN_REPEATS: f64 = 4.0;

/// Chooses dictionary or plain encoding per column from the partition's first
/// batch and its total row count. The number of distinct values in the whole
/// partition is estimated with Chao1 (`d + f1² / 2·f2`, from how many values
/// were seen once and twice); a column keeps its dictionary when that many
/// values fit [`DICTIONARY_MAX_BYTES`] and repeat [`DICTIONARY_MIN_REPEATS`]
/// times on average.
/// Ids, addresses and timestamps go plain (a dictionary would be abandoned
/// after costing time, and plain pages compress better); company names and
/// codes keep one. The choice reads only the partition's own rows, so output
/// stays deterministic.
pub fn choose_dictionaries(
    mut props: WriterPropertiesBuilder,
    first: &RecordBatch,
    partition_rows: u64,
) -> WriterProperties {
    use arrow_array::Array;
    props = props.set_dictionary_page_size_limit(DICTIONARY_MAX_BYTES);
    for (field, col) in first.schema().fields().iter().zip(first.columns()) {
        let Some(s) = sample_stats(col.as_ref()) else { continue };
        if s.values < 256 {
            continue;
        }
        let f2 = s.twice.max(1) as f64;
        let estimate = (s.distinct as f64 + (s.once as f64).powi(2) / (2.0 * f2)).min(partition_rows as f64);
        let fits = estimate * s.mean_bytes <= DICTIONARY_MAX_BYTES as f64;
        let non_null_rows = partition_rows as f64 * (s.values as f64 / col.len().max(1) as f64);
        let repeats = estimate * DICTIONARY_MIN_REPEATS <= non_null_rows;
        if !(fits && repeats) {
            props = props.set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    props.build()
}

struct SampleStats {
    values: usize,
    distinct: usize,
    once: usize,
    twice: usize,
    mean_bytes: f64,
}

/// A fast, non-cryptographic hasher for sampling (FxHash's multiply-rotate):
/// the keys come from the data being converted, not from an adversary.
#[derive(Default)]
struct QuickHasher(u64);

impl std::hash::Hasher for QuickHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn counts<K: std::hash::Hash + Eq>(
    capacity: usize,
    it: impl Iterator<Item = K>,
    width: impl Fn(&K) -> usize,
) -> SampleStats {
    let mut map: std::collections::HashMap<K, u32, std::hash::BuildHasherDefault<QuickHasher>> =
        std::collections::HashMap::with_capacity_and_hasher(capacity, Default::default());
    let (mut values, mut bytes) = (0usize, 0usize);
    for v in it {
        values += 1;
        bytes += width(&v);
        *map.entry(v).or_default() += 1;
    }
    let once = map.values().filter(|&&c| c == 1).count();
    let twice = map.values().filter(|&&c| c == 2).count();
    SampleStats { values, distinct: map.len(), once, twice, mean_bytes: bytes as f64 / values.max(1) as f64 }
}

fn sample_stats(col: &dyn arrow_array::Array) -> Option<SampleStats> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType as D;
    fn prim<T: arrow_array::ArrowPrimitiveType>(a: &dyn arrow_array::Array) -> SampleStats
    where
        T::Native: std::hash::Hash + Eq,
    {
        counts(a.len(), a.as_primitive::<T>().iter().flatten(), |_| std::mem::size_of::<T::Native>())
    }
    Some(match col.data_type() {
        D::Utf8 => counts(col.len(), col.as_string::<i32>().iter().flatten(), |s| s.len() + 4),
        D::Int16 => prim::<Int16Type>(col),
        D::Int32 => prim::<Int32Type>(col),
        D::Int64 => prim::<Int64Type>(col),
        D::Date32 => prim::<Date32Type>(col),
        D::Timestamp(..) => prim::<TimestampMicrosecondType>(col),
        D::Decimal64(..) => prim::<Decimal64Type>(col),
        D::Decimal128(..) => prim::<Decimal128Type>(col),
        // Floats and booleans: keep parquet's default.
        _ => return None,
    })
}
