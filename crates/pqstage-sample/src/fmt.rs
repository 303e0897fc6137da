//! Allocation-free formatting of CSV fields into a byte buffer.
//!
//! Integers, fixed-point decimals and dates are written digit by digit;
//! text is quoted per RFC 4180 only when it has to be.

/// Appends the decimal representation of `v`.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Writes `v` zero-padded into exactly `out.len()` digits (`v` must fit).
#[inline]
fn put_padded(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    debug_assert_eq!(v, 0, "value wider than {} digits", out.len());
}

/// Appends `v` zero-padded to exactly `W` digits (`v` must fit).
#[inline]
pub(crate) fn push_padded<const W: usize>(buf: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; W];
    put_padded(&mut tmp, v);
    buf.extend_from_slice(&tmp);
}

/// Appends `cents` as a decimal with exactly two fractional digits.
#[inline]
pub(crate) fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    buf.push(b'.');
    push_padded::<2>(buf, cents % 100);
}

/// True if an RFC 4180 field with these bytes must be quoted.
#[inline]
pub(crate) fn needs_quotes(s: &[u8]) -> bool {
    s.iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Appends a text field, quoting it (and doubling inner quotes) if needed.
#[inline]
pub(crate) fn push_text(buf: &mut Vec<u8>, s: &[u8]) {
    if !needs_quotes(s) {
        buf.extend_from_slice(s);
        return;
    }
    buf.push(b'"');
    for &b in s {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: `(year, month, day)`.
pub(crate) const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// Writes `YYYY-MM-DD` for a day number (days since 1970-01-01, years 0..=9999).
#[inline]
fn put_date(out: &mut [u8], days: i64) {
    let (y, m, d) = civil_from_days(days);
    put_padded(&mut out[0..4], y as u64);
    out[4] = b'-';
    put_padded(&mut out[5..7], u64::from(m));
    out[7] = b'-';
    put_padded(&mut out[8..10], u64::from(d));
}

/// Appends `YYYY-MM-DD` for a day number (days since 1970-01-01, years 0..=9999).
#[inline]
pub(crate) fn push_date(buf: &mut Vec<u8>, days: i64) {
    let mut tmp = [0u8; 10];
    put_date(&mut tmp, days);
    buf.extend_from_slice(&tmp);
}

/// Appends `YYYY-MM-DD HH:MM:SS` for seconds since 1970-01-01 00:00:00.
#[inline]
pub(crate) fn push_timestamp(buf: &mut Vec<u8>, secs: i64) {
    let tod = secs.rem_euclid(86_400) as u64;
    let mut tmp = *b"0000-00-00 00:00:00";
    put_date(&mut tmp[..10], secs.div_euclid(86_400));
    put_padded(&mut tmp[11..13], tod / 3600);
    put_padded(&mut tmp[14..16], tod / 60 % 60);
    put_padded(&mut tmp[17..19], tod % 60);
    buf.extend_from_slice(&tmp);
}

/// Lower-cases every letter that follows another letter ("ACME ROOFING" ->
/// "Acme Roofing"). Handles ASCII and the upper-case Latin-1 letters encoded
/// as `C3 80..=C3 9E` (e.g. `Ñ` -> `ñ`), so the result stays valid UTF-8.
pub(crate) fn title_case(s: &mut [u8]) {
    let mut prev_letter = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b.is_ascii_alphabetic() {
            if prev_letter {
                s[i] = b.to_ascii_lowercase();
            }
            prev_letter = true;
            i += 1;
        } else if b == 0xC3 && i + 1 < s.len() {
            let c = s[i + 1];
            if prev_letter && (0x80..=0x9E).contains(&c) && c != 0x97 {
                s[i + 1] = c + 0x20;
            }
            prev_letter = c != 0x97 && c != 0xB7;
            i += 2;
        } else {
            prev_letter = b >= 0x80;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(s(|b| push_u64(b, 0)), "0");
        assert_eq!(s(|b| push_u64(b, u64::MAX)), u64::MAX.to_string());
        assert_eq!(s(|b| push_padded::<5>(b, 501)), "00501");
        assert_eq!(s(|b| push_padded::<2>(b, 0)), "00");
        assert_eq!(s(|b| push_cents(b, 0)), "0.00");
        assert_eq!(s(|b| push_cents(b, 1_562_550)), "15625.50");
        assert_eq!(s(|b| push_cents(b, 999_999_999)), "9999999.99");
    }

    #[test]
    fn quoting() {
        assert_eq!(s(|b| push_text(b, b"PLAIN & SIMPLE")), "PLAIN & SIMPLE");
        assert_eq!(s(|b| push_text(b, b"ACME, INC.")), "\"ACME, INC.\"");
        assert_eq!(s(|b| push_text(b, b"\"BIG JOE\" CONSTRUCTION")), "\"\"\"BIG JOE\"\" CONSTRUCTION\"");
        assert_eq!(s(|b| push_text(b, b"1 MAIN ST\nSTE 4")), "\"1 MAIN ST\nSTE 4\"");
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(s(|b| push_date(b, 0)), "1970-01-01");
        assert_eq!(s(|b| push_date(b, days_from_civil(2024, 2, 29))), "2024-02-29");
        assert_eq!(s(|b| push_date(b, days_from_civil(1975, 1, 1))), "1975-01-01");
        for z in days_from_civil(1900, 1, 1)..days_from_civil(2100, 1, 1) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        let secs = days_from_civil(2015, 6, 30) * 86_400 + 23 * 3600 + 59 * 60 + 58;
        assert_eq!(s(|b| push_timestamp(b, secs)), "2015-06-30 23:59:58");
    }

    #[test]
    fn title_case_keeps_utf8() {
        let mut v = "NUÑEZ & MÜLLER O'BRIEN \"BIG JOE\" CAFÉ".as_bytes().to_vec();
        title_case(&mut v);
        assert_eq!(String::from_utf8(v).unwrap(), "Nuñez & Müller O'Brien \"Big Joe\" Café");
    }
}
