//! Column chunk statistics: minimum, maximum and NULL count as Parquet
//! stores them, with long text bounds cut to [`STATS_TRUNCATE`] bytes.

use parquet::data_type::ByteArray;
use parquet::file::statistics::{Statistics, ValueStatistics};

use super::Kind;

/// Longest text minimum or maximum kept in statistics and the column index
/// (arrow's default); longer ones are cut, and a cut maximum rounded up.
pub const STATS_TRUNCATE: usize = 64;

/// An encoded integer statistic (4 or 8 little-endian bytes) as an `i64`.
pub(super) fn le_i64(b: &[u8]) -> i64 {
    match b.len() {
        4 => i64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
        _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
    }
}

/// The chunk's statistics from the smallest and largest value of its pages.
pub(super) fn chunk_statistics(kind: Kind, bounds: Option<(Vec<u8>, Vec<u8>)>, nulls: u64) -> Statistics {
    // Signed integers also fill the deprecated min/max fields, as arrow does.
    match kind {
        Kind::I32 => {
            let (lo, hi) = bounds.map(|(a, b)| (le_i64(&a) as i32, le_i64(&b) as i32)).unzip();
            Statistics::from(
                ValueStatistics::new(lo, hi, None, Some(nulls), false).with_backwards_compatible_min_max(true),
            )
        }
        Kind::I64 => {
            let (lo, hi) = bounds.map(|(a, b)| (le_i64(&a), le_i64(&b))).unzip();
            Statistics::from(
                ValueStatistics::new(lo, hi, None, Some(nulls), false).with_backwards_compatible_min_max(true),
            )
        }
        Kind::Bytes => {
            let Some((lo, hi)) = bounds else {
                return Statistics::from(ValueStatistics::<ByteArray>::new(None, None, None, Some(nulls), false));
            };
            let (lo, lo_exact) = truncate_min(kind, &lo);
            let (hi, hi_exact) = truncate_max(kind, &hi);
            Statistics::from(
                ValueStatistics::new(Some(ByteArray::from(lo)), Some(ByteArray::from(hi)), None, Some(nulls), false)
                    .with_min_is_exact(lo_exact)
                    .with_max_is_exact(hi_exact),
            )
        }
    }
}

/// A lower bound of `v` at most [`STATS_TRUNCATE`] bytes long (cut at a
/// character boundary), and whether it is `v` itself.
pub(super) fn truncate_min(kind: Kind, v: &[u8]) -> (Vec<u8>, bool) {
    if kind != Kind::Bytes || v.len() <= STATS_TRUNCATE {
        return (v.to_vec(), true);
    }
    let mut end = STATS_TRUNCATE;
    while end > 0 && (v[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    (v[..end].to_vec(), false)
}

/// An upper bound of `v` at most [`STATS_TRUNCATE`] bytes long: the cut
/// prefix with its last character incremented (UTF-8 keeps code point order),
/// or `v` itself if no character can be.
pub(super) fn truncate_max(kind: Kind, v: &[u8]) -> (Vec<u8>, bool) {
    if kind != Kind::Bytes || v.len() <= STATS_TRUNCATE {
        return (v.to_vec(), true);
    }
    let Ok(s) = std::str::from_utf8(v) else { return (v.to_vec(), true) };
    let mut end = STATS_TRUNCATE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut: Vec<char> = s[..end].chars().collect();
    while let Some(c) = cut.pop() {
        let next = (u32::from(c) + 1..=0x10_FFFF).find_map(char::from_u32);
        if let Some(n) = next {
            cut.push(n);
            return (cut.into_iter().collect::<String>().into_bytes(), false);
        }
    }
    (v.to_vec(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_bounds_still_bound() {
        let long = "é".repeat(40); // 80 bytes
        let (lo, lo_exact) = truncate_min(Kind::Bytes, long.as_bytes());
        let (hi, hi_exact) = truncate_max(Kind::Bytes, long.as_bytes());
        assert!(!lo_exact && !hi_exact);
        assert!(lo.len() <= STATS_TRUNCATE && hi.len() <= STATS_TRUNCATE);
        assert!(lo.as_slice() <= long.as_bytes() && hi.as_slice() > long.as_bytes());
        assert!(std::str::from_utf8(&lo).is_ok() && std::str::from_utf8(&hi).is_ok());
        assert_eq!(truncate_max(Kind::Bytes, b"short"), (b"short".to_vec(), true));
    }
}
