//! PostgreSQL's binary `numeric`: base-10000 digits with a weight, a sign and
//! a display scale, from a scaled integer (an Arrow decimal).

/// Sign word of a positive numeric.
const POS: u16 = 0x0000;
/// Sign word of a negative numeric.
const NEG: u16 = 0x4000;

/// Appends the binary `numeric` of `unscaled / 10^scale` to `out` (without
/// the 4-byte length word) and returns the number of bytes written.
///
/// The digits are normalised as PostgreSQL stores them: no leading or
/// trailing zero base-10000 digits; `dscale` keeps the declared scale, so
/// `1.50` reads back as `1.50`.
pub fn encode(unscaled: i128, scale: u8, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let sign = if unscaled < 0 { NEG } else { POS };
    let abs = unscaled.unsigned_abs();

    // Align the decimal point on a base-10000 boundary: pad the fraction to a
    // multiple of 4 decimal digits.
    let scale = u32::from(scale);
    let pad = (4 - scale % 4) % 4;
    let frac_groups = (scale + pad) / 4;
    // Split at the decimal point. Most values fit 64 bits, where division is
    // a multiplication instead of a call into the 128-bit runtime routine.
    let (int_part, frac_part) = match (u64::try_from(abs), scale <= 19) {
        (Ok(small), true) => {
            let divisor = 10u64.pow(scale);
            (u128::from(small / divisor), u128::from(small % divisor))
        }
        _ => {
            let divisor = 10u128.pow(scale);
            (abs / divisor, abs % divisor)
        }
    };

    // Base-10000 digits, least significant first: fraction, then integer.
    // At most 10 integer groups (u128 < 10^39) and 10 fraction groups (scale <= 38).
    let mut digits: [u16; 24] = [0; 24];
    let mut n = 0;
    // The fraction's last group holds only its last 4 - pad digits, shifted
    // left by the padding (padding the whole fraction first can overflow
    // u128: 38 digits times 10^2).
    push_groups(frac_part, Some(frac_groups), 10u16.pow(4 - pad), &mut digits, &mut n);
    let int_groups = push_groups(int_part, None, 10_000, &mut digits, &mut n);
    // Most significant first, then strip zeros at both ends.
    let digits = &mut digits[..n];
    digits.reverse();
    let lead = digits.iter().take_while(|d| **d == 0).count();
    let trail = digits[lead..].iter().rev().take_while(|d| **d == 0).count();
    let kept = &digits[lead..n - trail];
    let weight: i16 = if kept.is_empty() { 0 } else { (int_groups - 1 - lead as i32) as i16 };
    let sign = if kept.is_empty() { POS } else { sign };

    // Assembled on the stack and appended once.
    let mut word = [0u8; 8 + 2 * 24];
    word[0..2].copy_from_slice(&(kept.len() as u16).to_be_bytes());
    word[2..4].copy_from_slice(&weight.to_be_bytes());
    word[4..6].copy_from_slice(&sign.to_be_bytes());
    word[6..8].copy_from_slice(&(scale as u16).to_be_bytes());
    for (slot, d) in word[8..].chunks_exact_mut(2).zip(kept) {
        slot.copy_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(&word[..8 + 2 * kept.len()]);
    out.len() - start
}

/// Appends the base-10000 digits of `v`, least significant first: `groups`
/// of them, or as many as `v` has. The first takes only `first` (a power of
/// ten up to 10000) from `v` and is scaled up to a whole group. Returns how
/// many were appended.
fn push_groups(v: u128, groups: Option<u32>, first: u16, digits: &mut [u16; 24], n: &mut usize) -> i32 {
    fn run<T>(mut v: T, groups: Option<u32>, first: u16, digits: &mut [u16; 24], n: &mut usize) -> i32
    where
        T: Copy + PartialEq + From<u16> + Into<u128> + std::ops::Rem<Output = T> + std::ops::Div<Output = T>,
    {
        let more = |v: T, pushed: i32| groups.map_or(v != T::from(0), |g| pushed < g as i32);
        let mut pushed = 0;
        // Remainders are below their divisor, so they fit u16.
        if first < 10_000 && more(v, 0) {
            digits[*n] = Into::<u128>::into(v % T::from(first)) as u16 * (10_000 / first);
            v = v / T::from(first);
            *n += 1;
            pushed = 1;
        }
        // A constant divisor from here on: a multiplication, not a division.
        while more(v, pushed) {
            digits[*n] = Into::<u128>::into(v % T::from(10_000)) as u16;
            v = v / T::from(10_000);
            *n += 1;
            pushed += 1;
        }
        pushed
    }
    match u64::try_from(v) {
        Ok(small) => run(small, groups, first, digits, n),
        Err(_) => run(v, groups, first, digits, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (ndigits, weight, sign, dscale, digits)
    fn parts(unscaled: i128, scale: u8) -> (u16, i16, u16, u16, Vec<u16>) {
        let mut out = Vec::new();
        let len = encode(unscaled, scale, &mut out);
        assert_eq!(len, out.len());
        let w = |i: usize| u16::from_be_bytes([out[i], out[i + 1]]);
        let n = w(0);
        let digits = (0..n as usize).map(|k| w(8 + 2 * k)).collect();
        (n, w(2) as i16, w(4), w(6), digits)
    }

    #[test]
    fn examples_match_postgresql_layout() {
        // 1234.5678 = [1234, 5678], weight 0
        assert_eq!(parts(12_345_678, 4), (2, 0, POS, 4, vec![1234, 5678]));
        // 12345.67 = [1, 2345, 6700], weight 1
        assert_eq!(parts(1_234_567, 2), (3, 1, POS, 2, vec![1, 2345, 6700]));
        // -0.01 = [100], weight -1
        assert_eq!(parts(-1, 2), (1, -1, NEG, 2, vec![100]));
        // 0.00000001 = [1] at weight -2 (leading zero group stripped)
        assert_eq!(parts(1, 8), (1, -2, POS, 8, vec![1]));
        // 10000 = [1], weight 1 (trailing zero group stripped)
        assert_eq!(parts(10_000, 0), (1, 1, POS, 0, vec![1]));
        // zero keeps its scale, and is never negative
        assert_eq!(parts(0, 2), (0, 0, POS, 2, vec![]));
    }

    /// The digits worked out from the decimal string, as a person would:
    /// pad both sides of the point to groups of four, drop zero groups at
    /// both ends.
    fn by_hand(unscaled: i128, scale: u8) -> (u16, i16, u16, u16, Vec<u16>) {
        let text = unscaled.unsigned_abs().to_string();
        let scale = scale as usize;
        let text = format!("{}{text}", "0".repeat((scale + 1).saturating_sub(text.len())));
        let (int, frac) = text.split_at(text.len() - scale);
        let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let groups = |s: &str| {
            s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap().parse::<u16>().unwrap()).collect::<Vec<_>>()
        };
        let all: Vec<u16> = groups(&int).into_iter().chain(groups(&frac)).collect();
        let int_groups = int.len() / 4;
        let lead = all.iter().take_while(|d| **d == 0).count();
        let trail = all[lead..].iter().rev().take_while(|d| **d == 0).count();
        let kept = all[lead..all.len() - trail].to_vec();
        let weight = if kept.is_empty() { 0 } else { (int_groups as i32 - 1 - lead as i32) as i16 };
        let sign = if unscaled < 0 && !kept.is_empty() { NEG } else { POS };
        (kept.len() as u16, weight, sign, scale as u16, kept)
    }

    #[test]
    fn the_64_bit_path_and_the_128_bit_path_agree_with_the_decimal_digits() {
        let edge = [0i128, 1, 9_999, 10_000, 123_456_789, u64::MAX as i128 - 1, u64::MAX as i128, u64::MAX as i128 + 1];
        let mut values: Vec<i128> = edge.iter().flat_map(|v| [*v, -*v]).collect();
        values.extend([10i128.pow(38) - 1, -(10i128.pow(38) - 1), 10i128.pow(20) + 7]);
        for v in values {
            for scale in [0u8, 1, 2, 3, 4, 5, 8, 15, 19, 20, 38] {
                if scale == 38 && v.unsigned_abs() >= 10u128.pow(38) {
                    continue;
                }
                assert_eq!(parts(v, scale), by_hand(v, scale), "{v} at scale {scale}");
            }
        }
    }

    #[test]
    fn thirty_eight_digits_fit() {
        let max = 10i128.pow(38) - 1;
        let (n, weight, sign, dscale, _) = parts(max, 10);
        assert_eq!((sign, dscale), (POS, 10));
        // 28 integer digits = 7 groups; 10 fraction digits padded to 12 = 3 groups
        assert_eq!((n, weight), (10, 6));
        let (_, _, sign, _, _) = parts(-max, 0);
        assert_eq!(sign, NEG);
    }
}
