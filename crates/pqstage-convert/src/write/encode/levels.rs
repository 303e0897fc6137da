//! Parquet's RLE / bit-packing hybrid, for definition levels and
//! dictionary ids.

/// Appends `values` in Parquet's RLE / bit-packing hybrid at `width` bits.
/// Values are looked at in groups of 8 (one test per group, no branch per
/// value): a group of 8 equal values starts an RLE run that extends as far as
/// the value repeats; other groups are bit-packed (only the final group is
/// padded with zeros). Runs that do not fill an aligned group stay packed.
pub(super) fn hybrid<T: Copy + Eq + Into<u64>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    let n = values.len();
    out.reserve(n * usize::from(width) / 8 + 16);
    let (mut packed_from, mut g) = (0, 0);
    while g + 8 <= n {
        let v = values[g];
        if values[g..g + 8].iter().fold(true, |same, &x| same & (x == v)) {
            let mut j = g + 8;
            while j < n && values[j] == v {
                j += 1;
            }
            bit_pack(&values[packed_from..g], width, out);
            rle_run(v.into(), j - g, width, out);
            packed_from = j;
            g = j;
        } else {
            g += 8;
        }
    }
    bit_pack(&values[packed_from..], width, out);
}

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn rle_run(value: u64, count: usize, width: u8, out: &mut Vec<u8>) {
    varint((count as u64) << 1, out);
    out.extend_from_slice(&value.to_le_bytes()[..usize::from(width).div_ceil(8)]);
}

/// Bit-packs `values` (LSB first) in groups of 8, the last padded with zeros.
fn bit_pack<T: Copy + Into<u64>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    if values.is_empty() {
        return;
    }
    let groups = values.len().div_ceil(8);
    varint((groups as u64) << 1 | 1, out);
    let end = out.len() + groups * usize::from(width);
    let (mut acc, mut bits) = (0u64, 0u32);
    for &v in values {
        acc |= v.into() << bits;
        bits += u32::from(width);
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    out.resize(end, 0);
}

pub(super) fn num_bits(x: u64) -> u8 {
    (64 - x.leading_zeros()) as u8
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn hybrid_runs_decode_with_parquets_decoder() {
        use parquet::encodings::rle::RleDecoder;
        let mut seed = 7u64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for width in [0u8, 1, 2, 5, 8, 13, 17, 20] {
            let max = if width == 0 { 1 } else { 1u64 << width };
            for len in [1usize, 7, 8, 9, 15, 16, 17, 100, 1000] {
                // Mixed stretches: runs of every length around MIN_RUN, and noise.
                let mut values: Vec<u32> = Vec::with_capacity(len);
                while values.len() < len {
                    let v = rnd(max) as u32;
                    let run = if rnd(2) == 0 { 1 } else { rnd(20) as usize + 1 };
                    values.extend(std::iter::repeat_n(v, run.min(len - values.len())));
                }
                let mut out = Vec::new();
                hybrid(&values, width, &mut out);
                let mut d = RleDecoder::new(width);
                d.set_data(Bytes::from(out)).unwrap();
                let mut back = vec![0u32; len];
                assert_eq!(d.get_batch(&mut back).unwrap(), len, "width {width}, {len} values");
                assert_eq!(back, values, "width {width}, {len} values");
            }
        }
        // Long runs come out as RLE runs: 10,000 equal values take a few bytes.
        let mut out = Vec::new();
        hybrid(&[3u32; 10_000], 2, &mut out);
        assert!(out.len() <= 4, "{out:?}");
        let mut levels = Vec::new();
        hybrid(&[true, false, true, true, true, true, true, true, true, true, true], 1, &mut levels);
        let mut d = RleDecoder::new(1);
        d.set_data(Bytes::from(levels)).unwrap();
        let mut back = vec![0u8; 11];
        d.get_batch(&mut back).unwrap();
        assert_eq!(back, [1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    }
}
