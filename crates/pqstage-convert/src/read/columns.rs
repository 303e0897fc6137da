//! Building one Arrow array per column from a tokenized chunk. Each type has
//! its own monomorphized loop: no per-value dispatch.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal64Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{BooleanBufferBuilder, NullBufferBuilder, OffsetBuffer};
use pqstage_spec::{Column, ColumnType};

use super::parse;
use super::tokenize::Table;
use super::Dialect;

/// Why a row is refused: the first fault found (leftmost column wins).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Source column index, if one column is at fault.
    pub column: Option<usize>,
    /// Reason, following "value 'X' " when `with_value`.
    pub reason: Cow<'static, str>,
    /// Whether the message quotes the value.
    pub with_value: bool,
}

/// Per-row faults of a chunk.
pub struct Faults {
    /// `None` for good rows.
    pub rows: Vec<Option<Fault>>,
    /// Number of faulty rows.
    pub count: usize,
}

impl Faults {
    /// No faults for `n` rows.
    pub fn new(n: usize) -> Self {
        Self { rows: vec![None; n], count: 0 }
    }
    /// Records a fault unless the row already has one.
    #[inline]
    pub fn set(&mut self, row: usize, f: Fault) {
        if self.rows[row].is_none() {
            self.rows[row] = Some(f);
            self.count += 1;
        }
    }
    /// Whether the row is faulty.
    #[inline]
    pub fn is_bad(&self, row: usize) -> bool {
        self.rows[row].is_some()
    }
}

/// Inputs shared by every column of a chunk.
pub struct Ctx<'a> {
    /// The dialect's NULL rules.
    pub dialect: &'a Dialect,
    /// Tokenized chunk.
    pub table: &'a Table,
    /// Raw chunk bytes.
    pub data: &'a [u8],
    /// Whether the whole chunk is valid UTF-8 (then no field needs checking).
    pub utf8_ok: bool,
}

impl Fault {
    /// The whole record is at fault (ragged, unterminated quote).
    pub fn record(reason: String) -> Self {
        Self { column: None, reason: reason.into(), with_value: false }
    }
    /// A value of column `col` is at fault; the message quotes it.
    pub fn value(col: usize, reason: impl Into<Cow<'static, str>>) -> Self {
        Self { column: Some(col), reason: reason.into(), with_value: true }
    }
}

fn utf8_aware(ctx: &Ctx<'_>, bytes: &[u8], col: usize, reason: impl Into<Cow<'static, str>>) -> Fault {
    if !ctx.utf8_ok && std::str::from_utf8(bytes).is_err() {
        Fault::value(col, "is not valid UTF-8")
    } else {
        Fault::value(col, reason)
    }
}

const NOT_NULL: &str = "NULL in a non-nullable column";

/// Whether field `col` of row `r` is NULL; a NULL in a non-nullable column is
/// recorded as the row's fault.
#[inline(always)]
fn null_at(ctx: &Ctx<'_>, r: usize, col: usize, nullable: bool, faults: &mut Faults) -> bool {
    let null = ctx.dialect.is_null(ctx.table.field(r, col).quoted(), ctx.table.bytes(ctx.data, r, col));
    if null && !nullable {
        faults.set(r, Fault { column: Some(col), reason: Cow::Borrowed(NOT_NULL), with_value: false });
    }
    null
}

/// Builds a primitive column with `parse`; faults go to `faults`.
fn primitive<T: ArrowPrimitiveType>(
    ctx: &Ctx<'_>,
    col: usize,
    nullable: bool,
    faults: &mut Faults,
    parse: impl Fn(&[u8]) -> Result<T::Native, Cow<'static, str>>,
) -> PrimitiveArray<T> {
    let n = ctx.table.records.len();
    let mut values: Vec<T::Native> = Vec::with_capacity(n);
    let mut nulls = NullBufferBuilder::new(n);
    for r in 0..n {
        if null_at(ctx, r, col, nullable, faults) {
            values.push(T::Native::default());
            nulls.append_null();
            continue;
        }
        let b = ctx.table.bytes(ctx.data, r, col);
        match parse(b) {
            Ok(v) => {
                values.push(v);
                nulls.append_non_null();
            }
            Err(why) => {
                faults.set(r, utf8_aware(ctx, b, col, why));
                values.push(T::Native::default());
                nulls.append_null();
            }
        }
    }
    PrimitiveArray::<T>::new(values.into(), nulls.finish())
}

/// Appends the first `len` bytes of `from` (a value and whatever follows it
/// in its buffer). Most values are short: one of up to 16 bytes is copied as
/// a fixed 16 and cut back, which compiles to two moves instead of a
/// `memcpy` call per value.
#[inline(always)]
pub(crate) fn push_value(values: &mut Vec<u8>, from: &[u8], len: usize) {
    match from.first_chunk::<16>() {
        Some(wide) if len <= 16 => {
            let at = values.len();
            values.extend_from_slice(wide);
            values.truncate(at + len);
        }
        _ => values.extend_from_slice(&from[..len]),
    }
}

/// Why a text value cannot be staged: bytes that are not UTF-8, or a NUL.
#[cold]
fn not_text(b: &[u8]) -> Option<&'static str> {
    if std::str::from_utf8(b).is_err() {
        Some("is not valid UTF-8 (bytes shown as \\xNN; if the file is Latin-1 or Windows-1252, pass --encoding or set dialect.encoding)")
    } else if memchr::memchr(0, b).is_some() {
        Some("holds a NUL byte (\\x00), which PostgreSQL text cannot store")
    } else {
        None
    }
}

fn text(ctx: &Ctx<'_>, col: usize, nullable: bool, faults: &mut Faults) -> StringArray {
    let n = ctx.table.records.len();
    let mut offsets: Vec<i32> = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut values: Vec<u8> = Vec::with_capacity(n * 16);
    let mut nulls = NullBufferBuilder::new(n);
    for r in 0..n {
        let (rest, len) = ctx.table.bytes_and_rest(ctx.data, r, col);
        let b = &rest[..len];
        if null_at(ctx, r, col, nullable, faults) {
            nulls.append_null();
        } else if let Some(why) = (!ctx.utf8_ok).then(|| not_text(b)).flatten() {
            faults.set(r, Fault::value(col, why));
            nulls.append_null();
        } else {
            push_value(&mut values, rest, len);
            nulls.append_non_null();
        }
        offsets.push(values.len() as i32);
    }
    StringArray::try_new(OffsetBuffer::new(offsets.into()), values.into(), nulls.finish())
        .expect("fields were checked to be UTF-8")
}

fn boolean(ctx: &Ctx<'_>, col: usize, nullable: bool, faults: &mut Faults) -> BooleanArray {
    let n = ctx.table.records.len();
    let mut values = BooleanBufferBuilder::new(n);
    let mut nulls = NullBufferBuilder::new(n);
    for r in 0..n {
        let b = ctx.table.bytes(ctx.data, r, col);
        let v = if null_at(ctx, r, col, nullable, faults) {
            None
        } else {
            match parse::parse_bool(b) {
                Ok(v) => Some(v),
                Err(why) => {
                    faults.set(r, utf8_aware(ctx, b, col, why));
                    None
                }
            }
        };
        values.append(v.unwrap_or(false));
        if v.is_some() {
            nulls.append_non_null();
        } else {
            nulls.append_null();
        }
    }
    BooleanArray::new(values.finish(), nulls.finish())
}

/// A refused value's reason, as a fault keeps it.
#[cold]
fn invalid(why: parse::Invalid) -> Cow<'static, str> {
    Cow::Owned(why.to_string())
}

fn as_str(b: &[u8]) -> Result<&str, Cow<'static, str>> {
    std::str::from_utf8(b).map_err(|_| Cow::Borrowed("is not valid UTF-8"))
}

/// Builds the array of source column `col`.
pub fn build(ctx: &Ctx<'_>, col: usize, spec: &Column, faults: &mut Faults) -> ArrayRef {
    let nl = spec.nullable;
    let fmt = spec.format.as_deref();
    let int =
        |min: i64, max: i64, name: &'static str| move |b: &[u8]| parse::parse_int(b, min, max, name).map_err(invalid);
    match spec.ty {
        ColumnType::Text => Arc::new(text(ctx, col, nl, faults)),
        ColumnType::Bool => Arc::new(boolean(ctx, col, nl, faults)),
        ColumnType::Int16 => {
            let p = int(i16::MIN.into(), i16::MAX.into(), "int16");
            Arc::new(primitive::<Int16Type>(ctx, col, nl, faults, |b| p(b).map(|v| v as i16)))
        }
        ColumnType::Int32 => {
            let p = int(i32::MIN.into(), i32::MAX.into(), "int32");
            Arc::new(primitive::<Int32Type>(ctx, col, nl, faults, |b| p(b).map(|v| v as i32)))
        }
        ColumnType::Int64 => Arc::new(primitive::<Int64Type>(ctx, col, nl, faults, int(i64::MIN, i64::MAX, "int64"))),
        ColumnType::Float64 => {
            Arc::new(primitive::<Float64Type>(ctx, col, nl, faults, |b| parse::parse_f64(b).map_err(Cow::Borrowed)))
        }
        ColumnType::Decimal { precision, scale } if precision <= 18 => Arc::new(
            primitive::<Decimal64Type>(ctx, col, nl, faults, |b| {
                parse::parse_decimal(b, precision, scale).map(|v| v as i64).map_err(invalid)
            })
            .with_precision_and_scale(precision, scale as i8)
            .expect("validated precision and scale"),
        ),
        ColumnType::Decimal { precision, scale } => Arc::new(
            primitive::<Decimal128Type>(ctx, col, nl, faults, |b| {
                parse::parse_decimal(b, precision, scale).map_err(invalid)
            })
            .with_precision_and_scale(precision, scale as i8)
            .expect("validated precision and scale"),
        ),
        ColumnType::Date => Arc::new(match fmt {
            None => primitive::<Date32Type>(ctx, col, nl, faults, |b| parse::parse_iso_date(b).map_err(Cow::Borrowed)),
            Some(f) => {
                primitive::<Date32Type>(ctx, col, nl, faults, |b| parse::parse_date_fmt(as_str(b)?, f).map_err(invalid))
            }
        }),
        ColumnType::Timestamp => Arc::new(match fmt {
            None => primitive::<TimestampMicrosecondType>(ctx, col, nl, faults, |b| {
                parse::parse_iso_timestamp(b).map_err(Cow::Borrowed)
            }),
            Some(f) => primitive::<TimestampMicrosecondType>(ctx, col, nl, faults, |b| {
                parse::parse_timestamp_fmt(as_str(b)?, f).map_err(invalid)
            }),
        }),
        ColumnType::TimestampTz => Arc::new(
            match fmt {
                None => primitive::<TimestampMicrosecondType>(ctx, col, nl, faults, |b| {
                    parse::parse_iso_timestamptz(b).map_err(Cow::Borrowed)
                }),
                Some(f) => primitive::<TimestampMicrosecondType>(ctx, col, nl, faults, |b| {
                    parse::parse_timestamptz_fmt(as_str(b)?, f).map_err(invalid)
                }),
            }
            .with_timezone("UTC"),
        ),
    }
}

/// The calendar year of every row of a date or timestamp column (`None` for NULL).
pub fn years(array: &dyn Array) -> Vec<Option<i32>> {
    let year = |d: i64| parse::year_from_days(d) as i32;
    if let Some(a) = array.as_any().downcast_ref::<PrimitiveArray<Date32Type>>() {
        return a.iter().map(|v| v.map(|d| year(i64::from(d)))).collect();
    }
    let a = array.as_any().downcast_ref::<PrimitiveArray<TimestampMicrosecondType>>().expect("temporal column");
    a.iter().map(|v| v.map(|t| year(t.div_euclid(86_400_000_000)))).collect()
}
