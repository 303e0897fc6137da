//! Parsing one CSV field into a typed value. Hand-written fast paths for the
//! ISO forms; chrono only for custom `format`s. Every failure returns a reason
//! phrased to follow "value 'X' ".

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// A type as named in reasons: `int32`, `decimal(8,2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeName {
    /// An integer type, by its spec name.
    Int(&'static str),
    /// `decimal(precision,scale)`.
    Decimal(u8, u8),
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(name) => f.write_str(name),
            Self::Decimal(p, s) => write!(f, "decimal({p},{s})"),
        }
    }
}

/// Why a value is refused, phrased to follow "value 'X' ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not a number of the type.
    NotA(TypeName),
    /// Out of the type's range.
    Overflows(TypeName),
    /// More digits after the point than the scale keeps (and not zeros).
    Scale {
        /// Digits after the point.
        digits: usize,
        /// The type.
        ty: TypeName,
        /// Its scale.
        scale: u8,
    },
    /// Any other reason.
    Other(&'static str),
    /// Not a date or time in the column's `format`.
    Format {
        /// `date`, `timestamp` or `timestamptz`.
        what: &'static str,
        /// The format.
        format: String,
        /// chrono's reason.
        detail: chrono::format::ParseError,
    },
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotA(ty) => write!(f, "is not a valid {ty}"),
            Self::Other(why) => f.write_str(why),
            Self::Overflows(ty) => write!(f, "overflows {ty}"),
            Self::Scale { digits, ty, scale } => write!(f, "has {digits} digits after the point, {ty} keeps {scale}"),
            Self::Format { what, format, detail } => write!(f, "is not a valid {what} in format '{format}' ({detail})"),
        }
    }
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar year of a day number (inverse of [`days_from_civil`]).
pub fn year_from_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    Some(v)
}

/// Why a date in year 0 is refused: the proleptic calendar's year 0 is 1 BC,
/// which PostgreSQL shows as `0001-01-01 BC`; a file that says `0000` most
/// likely means "no date".
const YEAR_ZERO: &str = "has year 0, which does not exist (PostgreSQL would store it as 1 BC)";

/// Refuses days before 0001-01-01 (year 0 and the years BC).
fn not_before_year_one(days: i64) -> Result<i64, &'static str> {
    if days < days_from_civil(1, 1, 1) {
        Err("is not a valid date (before year 1: there is no year 0, and years BC are not read)")
    } else {
        Ok(days)
    }
}

/// `YYYY-MM-DD` → days since the epoch.
pub fn parse_iso_date(b: &[u8]) -> Result<i32, &'static str> {
    const WHY: &str = "is not a valid date (expected YYYY-MM-DD)";
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(WHY);
    }
    let (y, m, d) = (digits(&b[0..4]).ok_or(WHY)?, digits(&b[5..7]).ok_or(WHY)?, digits(&b[8..10]).ok_or(WHY)?);
    if y == 0 {
        return Err(YEAR_ZERO);
    }
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(i64::from(y), m) {
        return Err("is not a valid date (no such day)");
    }
    Ok(days_from_civil(i64::from(y), m, d) as i32)
}

/// ISO `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]` → (microseconds since the epoch, rest).
fn parse_iso_datetime_prefix(b: &[u8]) -> Result<(i64, &[u8]), &'static str> {
    const WHY: &str = "is not a valid timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])";
    if b.len() < 16 || !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' {
        return Err(WHY);
    }
    let days = i64::from(parse_iso_date(&b[..10]).map_err(|e| if e == YEAR_ZERO { e } else { WHY })?);
    let h = digits(&b[11..13]).ok_or(WHY)?;
    let mi = digits(&b[14..16]).ok_or(WHY)?;
    let mut rest = &b[16..];
    let mut s = 0;
    if rest.first() == Some(&b':') {
        if rest.len() < 3 {
            return Err(WHY);
        }
        s = digits(&rest[1..3]).ok_or(WHY)?;
        rest = &rest[3..];
    }
    if h > 23 || mi > 59 || s > 59 {
        return Err("is not a valid timestamp (time out of range)");
    }
    let mut micros = 0i64;
    if rest.first() == Some(&b'.') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return Err(WHY);
        }
        let frac = &rest[1..1 + n];
        if frac.iter().skip(6).any(|&c| c != b'0') {
            return Err(PAST_MICROS);
        }
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map_or(0, |c| i64::from(c - b'0'));
        }
        rest = &rest[1 + n..];
    }
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Ok((secs * 1_000_000 + micros, rest))
}

/// Why a time with nanoseconds is refused: microseconds are what PostgreSQL,
/// DuckDB's TIMESTAMP and the staged Parquet keep; cutting the rest would
/// change the value.
const PAST_MICROS: &str =
    "has more than microsecond precision (digits past the 6th after the point would be cut): timestamps keep microseconds; round it first, or make the column text";

/// ISO timestamp without zone → microseconds since the epoch.
pub fn parse_iso_timestamp(b: &[u8]) -> Result<i64, &'static str> {
    let (v, rest) = parse_iso_datetime_prefix(b)?;
    if !rest.is_empty() {
        return Err("is not a valid timestamp (unexpected text after the time; use timestamptz for offsets)");
    }
    Ok(v)
}

/// ISO timestamp with optional `Z` / `±HH[:MM]` offset (UTC if absent) → UTC microseconds.
pub fn parse_iso_timestamptz(b: &[u8]) -> Result<i64, &'static str> {
    const WHY: &str = "is not a valid timestamptz (expected YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM])";
    let (v, rest) =
        parse_iso_datetime_prefix(b).map_err(|e| if e == PAST_MICROS || e == YEAR_ZERO { e } else { WHY })?;
    let offset_secs = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hh, mm) = match tail {
                [a, b] => (digits(&[*a, *b]), Some(0)),
                [a, b, b':', c, d] | [a, b, c, d] => (digits(&[*a, *b]), digits(&[*c, *d])),
                _ => return Err(WHY),
            };
            let (hh, mm) = (hh.ok_or(WHY)?, mm.ok_or(WHY)?);
            let s = i64::from(hh * 3600 + mm * 60);
            if *sign == b'-' {
                -s
            } else {
                s
            }
        }
        _ => return Err(WHY),
    };
    Ok(v - offset_secs * 1_000_000)
}

/// Date with a strftime `format`.
pub fn parse_date_fmt(s: &str, fmt: &str) -> Result<i32, Invalid> {
    let days = NaiveDate::parse_from_str(s, fmt)
        .map(|d| (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days())
        .map_err(|detail| Invalid::Format { what: "date", format: fmt.to_string(), detail })?;
    not_before_year_one(days).map(|d| d as i32).map_err(Invalid::Other)
}

/// Refuses an instant before year 1 or with nanoseconds.
fn exact_instant(t: NaiveDateTime) -> Result<i64, Invalid> {
    use chrono::Timelike;
    not_before_year_one(t.and_utc().timestamp().div_euclid(86_400)).map_err(Invalid::Other)?;
    if t.nanosecond() % 1000 != 0 {
        return Err(Invalid::Other(PAST_MICROS));
    }
    Ok(t.and_utc().timestamp_micros())
}

/// Timestamp with a strftime `format`.
pub fn parse_timestamp_fmt(s: &str, fmt: &str) -> Result<i64, Invalid> {
    let t = NaiveDateTime::parse_from_str(s, fmt).map_err(|detail| Invalid::Format {
        what: "timestamp",
        format: fmt.to_string(),
        detail,
    })?;
    exact_instant(t)
}

/// Timestamp with offset with a strftime `format` (must contain `%z` or similar).
pub fn parse_timestamptz_fmt(s: &str, fmt: &str) -> Result<i64, Invalid> {
    let t = DateTime::parse_from_str(s, fmt).map_err(|detail| Invalid::Format {
        what: "timestamptz",
        format: fmt.to_string(),
        detail,
    })?;
    exact_instant(t.naive_utc())
}

/// A signed integer within `[min, max]`.
#[inline]
pub fn parse_int(b: &[u8], min: i64, max: i64, ty: &'static str) -> Result<i64, Invalid> {
    let ty = TypeName::Int(ty);
    let (neg, d) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if d.is_empty() || d.len() > 19 {
        return if d.len() > 19 && d.iter().all(u8::is_ascii_digit) {
            Err(Invalid::Overflows(ty))
        } else {
            Err(Invalid::NotA(ty))
        };
    }
    let mut v: u64 = 0;
    for &c in d {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return Err(Invalid::NotA(ty));
        }
        v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(x))).ok_or(Invalid::Overflows(ty))?;
    }
    let v = if neg { -(i128::from(v)) } else { i128::from(v) };
    if v < i128::from(min) || v > i128::from(max) {
        return Err(Invalid::Overflows(ty));
    }
    Ok(v as i64)
}

/// A float64; accepts `NaN`, `inf`, `-Infinity` in any case.
#[inline]
pub fn parse_f64(b: &[u8]) -> Result<f64, &'static str> {
    let v = std::str::from_utf8(b).ok().and_then(|s| s.parse::<f64>().ok()).ok_or("is not a valid float64")?;
    if v == 0.0 || v.is_infinite() {
        return exact_float(b, v);
    }
    Ok(v)
}

/// A zero or infinite float is kept only when the text says so: a number too
/// large for float64 would become infinity, one too small zero.
#[cold]
fn exact_float(b: &[u8], v: f64) -> Result<f64, &'static str> {
    let mantissa = b.split(|&c| c == b'e' || c == b'E').next().unwrap_or(b);
    if v.is_infinite() && mantissa.iter().any(u8::is_ascii_digit) {
        return Err("is out of float64's range (it would become infinity): make the column decimal(p,s) or text");
    }
    if v == 0.0 && mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
        return Err("is too small for float64 (it would become 0): make the column decimal(p,s) or text");
    }
    Ok(v)
}

/// An exact decimal scaled to `scale` digits, at most `precision` digits in all.
/// Digits past the scale are refused unless they are zeros: nothing is rounded away.
pub fn parse_decimal(b: &[u8], precision: u8, scale: u8) -> Result<i128, Invalid> {
    let (neg, d) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match memchr::memchr(b'.', d) {
        Some(i) => (&d[..i], &d[i + 1..]),
        None => (d, &d[d.len()..]),
    };
    let ty = TypeName::Decimal(precision, scale);
    if (int.is_empty() && frac.is_empty()) || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return Err(Invalid::NotA(ty));
    }
    let int = &int[int.iter().take_while(|&&c| c == b'0').count()..];
    let kept = frac.len().min(usize::from(scale));
    if frac[kept..].iter().any(|&c| c != b'0') {
        return Err(Invalid::Scale { digits: frac.len(), ty, scale });
    }
    if int.len() > usize::from(precision - scale) {
        return Err(Invalid::Overflows(ty));
    }
    let mut v: i128 = 0;
    for &c in int.iter().chain(&frac[..kept]) {
        v = v * 10 + i128::from(c - b'0');
    }
    for _ in kept..usize::from(scale) {
        v *= 10;
    }
    Ok(if neg { -v } else { v })
}

/// true/false, t/f, yes/no, y/n, 1/0, any case.
#[inline]
pub fn parse_bool(b: &[u8]) -> Result<bool, &'static str> {
    let mut buf = [0u8; 5];
    if b.len() > 5 {
        return Err("is not a valid bool (expected true/false, t/f, yes/no, y/n or 1/0)");
    }
    for (o, c) in buf.iter_mut().zip(b) {
        *o = c.to_ascii_lowercase();
    }
    match &buf[..b.len()] {
        b"true" | b"t" | b"yes" | b"y" | b"1" => Ok(true),
        b"false" | b"f" | b"no" | b"n" | b"0" => Ok(false),
        _ => Err("is not a valid bool (expected true/false, t/f, yes/no, y/n or 1/0)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_over_a_wide_range() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in (-800_000..800_000).step_by(997) {
            let y = year_from_days(z);
            assert!(days_from_civil(y, 1, 1) <= z && z < days_from_civil(y + 1, 1, 1), "day {z} year {y}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_iso_date(b"1970-01-02"), Ok(1));
        assert_eq!(parse_iso_date(b"0001-01-01"), Ok(-719_162));
        assert_eq!(parse_iso_date(b"2024-02-29"), Ok(19_782));
        assert_eq!(parse_iso_date(b"2023-02-29"), Err("is not a valid date (no such day)"));
        assert_eq!(parse_iso_date(b"2023-1-29"), Err("is not a valid date (expected YYYY-MM-DD)"));
        assert_eq!(parse_iso_date(b"0000-01-01"), Err(YEAR_ZERO));
        assert_eq!(
            parse_date_fmt("01/01/0000", "%m/%d/%Y").unwrap_err().to_string(),
            "is not a valid date (before year 1: there is no year 0, and years BC are not read)"
        );
        assert_eq!(parse_date_fmt("01/01/0001", "%m/%d/%Y"), Ok(-719_162));
        assert_eq!(parse_date_fmt("03/01/2019", "%m/%d/%Y"), Ok(17_956));
        assert!(parse_date_fmt("13/01/2019", "%m/%d/%Y")
            .unwrap_err()
            .to_string()
            .starts_with("is not a valid date in format '%m/%d/%Y'"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_iso_timestamp(b"1970-01-01 00:00:01"), Ok(1_000_000));
        assert_eq!(parse_iso_timestamp(b"1970-01-01T00:01"), Ok(60_000_000));
        assert_eq!(parse_iso_timestamp(b"1969-12-31 23:59:59.5"), Ok(-500_000));
        assert_eq!(parse_iso_timestamp(b"2000-01-01 00:00:00.123456000"), Ok(946_684_800_123_456));
        assert_eq!(parse_iso_timestamp(b"2000-01-01 00:00:00.9999999"), Err(PAST_MICROS));
        assert_eq!(parse_iso_timestamptz(b"2000-01-01 00:00:00.0000001Z"), Err(PAST_MICROS));
        assert_eq!(parse_iso_timestamp(b"0000-12-31 00:00:00"), Err(YEAR_ZERO));
        assert_eq!(parse_iso_timestamptz(b"0000-12-31 00:00:00Z"), Err(YEAR_ZERO));
        assert_eq!(
            parse_timestamp_fmt("2000-01-01 00:00:00.1234567", "%Y-%m-%d %H:%M:%S%.f").unwrap_err().to_string(),
            PAST_MICROS
        );
        assert_eq!(parse_timestamp_fmt("2000-01-01 00:00:00.1234560", "%Y-%m-%d %H:%M:%S%.f"), Ok(946_684_800_123_456));
        assert!(parse_iso_timestamp(b"2000-01-01 24:00:00").is_err());
        assert!(parse_iso_timestamp(b"2000-01-01 00:00:00+01").is_err());
        assert_eq!(parse_iso_timestamptz(b"1970-01-01 01:00:00+01:00"), Ok(0));
        assert_eq!(parse_iso_timestamptz(b"1970-01-01 00:00:00-0130"), Ok(5_400_000_000));
        assert_eq!(parse_iso_timestamptz(b"1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_timestamp_fmt("01/02/1970 00:00", "%m/%d/%Y %H:%M"), Ok(86_400_000_000));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"-32768", -32768, 32767, "int16"), Ok(-32768));
        assert_eq!(parse_int(b"32768", -32768, 32767, "int16").unwrap_err().to_string(), "overflows int16");
        assert_eq!(parse_int(b"9223372036854775807", i64::MIN, i64::MAX, "int64"), Ok(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808", i64::MIN, i64::MAX, "int64"), Ok(i64::MIN));
        assert_eq!(
            parse_int(b"9223372036854775808", i64::MIN, i64::MAX, "int64").unwrap_err().to_string(),
            "overflows int64"
        );
        assert_eq!(
            parse_int(b"123456789012345678901", i64::MIN, i64::MAX, "int64").unwrap_err().to_string(),
            "overflows int64"
        );
        assert_eq!(parse_int(b"12a", i64::MIN, i64::MAX, "int64").unwrap_err().to_string(), "is not a valid int64");
        assert_eq!(parse_int(b"-", i64::MIN, i64::MAX, "int64").unwrap_err().to_string(), "is not a valid int64");
        assert_eq!(parse_int(b" 1", i64::MIN, i64::MAX, "int64").unwrap_err().to_string(), "is not a valid int64");
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal(b"1250.5", 12, 2), Ok(125_050));
        assert_eq!(parse_decimal(b"-0.01", 12, 2), Ok(-1));
        assert_eq!(parse_decimal(b"7", 12, 2), Ok(700));
        assert_eq!(parse_decimal(b".5", 3, 1), Ok(5));
        assert_eq!(parse_decimal(b"1.250", 12, 2), Ok(125));
        assert_eq!(
            parse_decimal(b"1.255", 12, 2).unwrap_err().to_string(),
            "has 3 digits after the point, decimal(12,2) keeps 2"
        );
        assert_eq!(parse_decimal(b"1000", 5, 2).unwrap_err().to_string(), "overflows decimal(5,2)");
        assert_eq!(parse_decimal(b"00999.99", 5, 2), Ok(99_999));
        assert_eq!(parse_decimal(b"1e5", 12, 2).unwrap_err().to_string(), "is not a valid decimal(12,2)");
        assert_eq!(parse_decimal(b"99999999999999999999999999999999999999", 38, 0), Ok(10i128.pow(38) - 1));
    }

    #[test]
    fn floats_and_bools() {
        assert!(parse_f64(b"NaN").unwrap().is_nan());
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e308"), Ok(1e308));
        assert_eq!(parse_f64(b"-0.0e5"), Ok(0.0));
        assert_eq!(parse_f64(b"Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_f64(b"4.9e-324"), Ok(4.9e-324));
        assert!(parse_f64(b"1e400").unwrap_err().starts_with("is out of float64's range"));
        assert!(parse_f64(b"-1e400").unwrap_err().starts_with("is out of float64's range"));
        assert!(parse_f64(b"1e-400").unwrap_err().starts_with("is too small for float64"));
        assert!(parse_f64(b"1,5").is_err());
        assert_eq!(parse_bool(b"TRUE"), Ok(true));
        assert_eq!(parse_bool(b"n"), Ok(false));
        assert!(parse_bool(b"maybe").is_err());
    }
}
