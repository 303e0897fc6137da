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
    let mut abs = unscaled.unsigned_abs();

    // Align the decimal point on a base-10000 boundary: pad the fraction to a
    // multiple of 4 decimal digits.
    let scale = u32::from(scale);
    let pad = (4 - scale % 4) % 4;
    let frac_groups = (scale + pad) / 4;
    // abs * 10^pad may exceed u128 for 38-digit values; split first.
    let divisor = 10u128.pow(scale);
    let int_part = abs / divisor;
    let frac_part = (abs % divisor) * 10u128.pow(pad);
    abs = int_part;

    // Base-10000 digits, least significant first: fraction, then integer.
    // At most 10 integer groups (u128 < 10^39) and 10 fraction groups (scale <= 38).
    let mut digits: [u16; 24] = [0; 24];
    let mut n = 0;
    let mut f = frac_part;
    for _ in 0..frac_groups {
        digits[n] = (f % 10_000) as u16;
        f /= 10_000;
        n += 1;
    }
    let mut int_groups = 0i32;
    while abs > 0 {
        digits[n] = (abs % 10_000) as u16;
        abs /= 10_000;
        n += 1;
        int_groups += 1;
    }
    // Most significant first, then strip zeros at both ends.
    let digits = &mut digits[..n];
    digits.reverse();
    let lead = digits.iter().take_while(|d| **d == 0).count();
    let trail = digits[lead..].iter().rev().take_while(|d| **d == 0).count();
    let kept = &digits[lead..n - trail];
    let weight: i16 = if kept.is_empty() { 0 } else { (int_groups - 1 - lead as i32) as i16 };
    let sign = if kept.is_empty() { POS } else { sign };

    out.extend_from_slice(&(kept.len() as u16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in kept {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.len() - start
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
