//! Arrow record batches to PostgreSQL's binary COPY format.
//!
//! A batch is encoded column by column, not row by row: a first pass adds up
//! each row's size, a second writes each column's values at their rows'
//! cursors. Every column is one monomorphised loop over a typed array, so the
//! hot loops hold no per-value dispatch on the column's type.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal32Type, Decimal64Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrowPrimitiveType, BooleanArray, PrimitiveArray, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

use crate::numeric;

/// The 11-byte signature, flags and header-extension length that open a binary COPY stream.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The field count -1 that ends a binary COPY stream.
pub const TRAILER: &[u8] = &[0xff, 0xff];

/// Days from 1970-01-01 (Arrow) to 2000-01-01 (PostgreSQL).
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400 * 1_000_000;

/// Why a batch cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A column type the encoder has no PostgreSQL mapping for.
    #[error("column {column}: Arrow type {data_type} has no PostgreSQL binary encoding in pqstage")]
    Unsupported {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// A timestamp or date outside PostgreSQL's range.
    #[error("column {column}: value {value} is outside PostgreSQL's range for {pg_type}")]
    OutOfRange {
        /// The column.
        column: String,
        /// The value, as Arrow holds it.
        value: i64,
        /// The PostgreSQL type.
        pg_type: &'static str,
    },
}

/// A value to append to every row after the batch's own columns: the Hive
/// partition key, which lives in the folder name and not in the files, or
/// a mark that holds for every row of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constant<'a> {
    /// An `integer` column (`None`: NULL).
    Int4(Option<i32>),
    /// A `text` or `varchar` column, the same value on every row.
    Text(&'a str),
    /// A `boolean` column.
    Bool(bool),
}

/// Encodes the tuples of `batch`, followed by `constants` in every row, onto
/// `out` (no header or trailer: see [`HEADER`] and [`TRAILER`]).
///
/// # Errors
/// [`EncodeError`] for a column type without a mapping or a value out of
/// PostgreSQL's range; `out` is then left as it was.
pub fn encode_batch(batch: &RecordBatch, constants: &[Constant], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let rows = batch.num_rows();
    let fields = batch.num_columns() + constants.len();
    let names: Vec<&str> = batch.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();

    // Pass 1: the size of every row. Variable-width encodings (text, numeric)
    // are prepared per column so pass 2 only copies.
    let mut sizes = vec![2usize; rows];
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (i, array) in batch.columns().iter().enumerate() {
        let col = Prepared::new(array.as_ref(), names[i])?;
        col.add_sizes(&mut sizes);
        columns.push(col);
    }
    for c in constants {
        let width = c.width();
        sizes.iter_mut().for_each(|s| *s += width);
    }

    // Row starts.
    let base = out.len();
    let mut cursor = Vec::with_capacity(rows);
    let mut at = base;
    for s in &sizes {
        cursor.push(at);
        at += s;
    }
    out.resize(at, 0);
    let buf = &mut out[..];

    // Pass 2: field counts, then each column at its rows' cursors.
    let count = (fields as i16).to_be_bytes();
    for c in &mut cursor {
        buf[*c..*c + 2].copy_from_slice(&count);
        *c += 2;
    }
    for col in &columns {
        col.write(buf, &mut cursor);
    }
    for c in constants {
        c.write(buf, &mut cursor);
    }
    Ok(())
}

impl Constant<'_> {
    fn width(self) -> usize {
        match self {
            Self::Int4(Some(_)) => 8,
            Self::Int4(None) => 4,
            Self::Text(t) => 4 + t.len(),
            Self::Bool(_) => 5,
        }
    }

    fn write(self, buf: &mut [u8], cursor: &mut [usize]) {
        match self {
            Self::Int4(Some(v)) => {
                let mut field = [0u8; 8];
                field[..4].copy_from_slice(&4i32.to_be_bytes());
                field[4..].copy_from_slice(&v.to_be_bytes());
                for c in cursor.iter_mut() {
                    buf[*c..*c + 8].copy_from_slice(&field);
                    *c += 8;
                }
            }
            Self::Int4(None) => put_nulls(buf, cursor),
            Self::Text(t) => {
                let len = i32::try_from(t.len()).expect("a constant is far below 2 GiB");
                for c in cursor.iter_mut() {
                    buf[*c..*c + 4].copy_from_slice(&len.to_be_bytes());
                    buf[*c + 4..*c + 4 + t.len()].copy_from_slice(t.as_bytes());
                    *c += 4 + t.len();
                }
            }
            Self::Bool(b) => {
                let field = [0, 0, 0, 1, u8::from(b)];
                for c in cursor.iter_mut() {
                    buf[*c..*c + 5].copy_from_slice(&field);
                    *c += 5;
                }
            }
        }
    }
}

const NULL: [u8; 4] = (-1i32).to_be_bytes();

fn put_nulls(buf: &mut [u8], cursor: &mut [usize]) {
    for c in cursor.iter_mut() {
        buf[*c..*c + 4].copy_from_slice(&NULL);
        *c += 4;
    }
}

/// A column ready to write: fixed-width values converted on the fly, or
/// variable-width values already encoded into one buffer with offsets.
enum Prepared<'a> {
    Bool(&'a BooleanArray),
    I16(&'a PrimitiveArray<Int16Type>),
    I32(&'a PrimitiveArray<Int32Type>),
    I64(&'a PrimitiveArray<Int64Type>),
    F32(&'a PrimitiveArray<Float32Type>),
    F64(&'a PrimitiveArray<Float64Type>),
    /// Days since 2000-01-01.
    Date(Vec<i32>, Option<&'a arrow_buffer::NullBuffer>),
    /// Microseconds since 2000-01-01.
    Timestamp(Vec<i64>, Option<&'a arrow_buffer::NullBuffer>),
    /// Encoded bytes of each value; `None` is NULL.
    Var(Variable<'a>),
}

/// Variable-width values: text borrowed from the array, or numerics encoded
/// into one owned buffer with offsets.
enum Variable<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    /// Text as dictionary keys into a string array (the Parquet reader's
    /// form of a dictionary-encoded column): each value is copied once, from
    /// the dictionary to the output.
    Dict(&'a PrimitiveArray<Int32Type>, &'a arrow_array::StringArray),
    LargeDict(&'a PrimitiveArray<Int32Type>, &'a arrow_array::LargeStringArray),
    Owned {
        bytes: Vec<u8>,
        offsets: Vec<i64>,
        nulls: Option<&'a arrow_buffer::NullBuffer>,
    },
}

impl<'a> Prepared<'a> {
    fn new(array: &'a dyn Array, name: &str) -> Result<Self, EncodeError> {
        let unsupported =
            || EncodeError::Unsupported { column: name.to_string(), data_type: array.data_type().to_string() };
        Ok(match array.data_type() {
            DataType::Boolean => Self::Bool(array.as_boolean()),
            DataType::Int16 => Self::I16(array.as_primitive()),
            DataType::Int32 => Self::I32(array.as_primitive()),
            DataType::Int64 => Self::I64(array.as_primitive()),
            DataType::Float32 => Self::F32(array.as_primitive()),
            DataType::Float64 => Self::F64(array.as_primitive()),
            DataType::Date32 => {
                let a = array.as_primitive::<Date32Type>();
                let days = a.values().iter().map(|d| d.wrapping_sub(PG_EPOCH_DAYS)).collect();
                Self::Date(days, a.nulls())
            }
            DataType::Timestamp(unit, _) => {
                let (values, nulls) = match unit {
                    TimeUnit::Second => micros(array.as_primitive::<TimestampSecondType>(), 1_000_000, 1, name)?,
                    TimeUnit::Millisecond => micros(array.as_primitive::<TimestampMillisecondType>(), 1_000, 1, name)?,
                    TimeUnit::Microsecond => micros(array.as_primitive::<TimestampMicrosecondType>(), 1, 1, name)?,
                    TimeUnit::Nanosecond => micros(array.as_primitive::<TimestampNanosecondType>(), 1, 1_000, name)?,
                };
                Self::Timestamp(values, nulls)
            }
            DataType::Utf8 => Self::Var(Variable::Utf8(array.as_string())),
            DataType::LargeUtf8 => Self::Var(Variable::LargeUtf8(array.as_string())),
            DataType::Utf8View => Self::Var(Variable::Utf8View(array.as_string_view())),
            DataType::Dictionary(key, value) if **key == DataType::Int32 => {
                let dict = array.as_dictionary::<Int32Type>();
                match value.as_ref() {
                    DataType::Utf8 => Self::Var(Variable::Dict(dict.keys(), dict.values().as_string())),
                    DataType::LargeUtf8 => Self::Var(Variable::LargeDict(dict.keys(), dict.values().as_string())),
                    _ => return Err(unsupported()),
                }
            }
            DataType::Decimal128(_, s) if (0..=38).contains(s) => {
                Self::Var(decimals(array.as_primitive::<Decimal128Type>(), *s as u8, |v| v))
            }
            DataType::Decimal64(_, s) if (0..=18).contains(s) => {
                Self::Var(decimals(array.as_primitive::<Decimal64Type>(), *s as u8, i128::from))
            }
            DataType::Decimal32(_, s) if (0..=9).contains(s) => {
                Self::Var(decimals(array.as_primitive::<Decimal32Type>(), *s as u8, i128::from))
            }
            _ => return Err(unsupported()),
        })
    }

    fn add_sizes(&self, sizes: &mut [usize]) {
        match self {
            Self::Bool(a) => fixed_sizes(a.nulls(), 1, sizes),
            Self::I16(a) => fixed_sizes(a.nulls(), 2, sizes),
            Self::I32(a) => fixed_sizes(a.nulls(), 4, sizes),
            Self::I64(a) => fixed_sizes(a.nulls(), 8, sizes),
            Self::F32(a) => fixed_sizes(a.nulls(), 4, sizes),
            Self::F64(a) => fixed_sizes(a.nulls(), 8, sizes),
            Self::Date(_, n) => fixed_sizes(*n, 4, sizes),
            Self::Timestamp(_, n) => fixed_sizes(*n, 8, sizes),
            Self::Var(v) => v.add_sizes(sizes),
        }
    }

    fn write(&self, buf: &mut [u8], cursor: &mut [usize]) {
        match self {
            Self::Bool(a) => {
                let nulls = a.nulls();
                for (i, c) in cursor.iter_mut().enumerate() {
                    if nulls.is_some_and(|n| n.is_null(i)) {
                        buf[*c..*c + 4].copy_from_slice(&NULL);
                        *c += 4;
                    } else {
                        buf[*c..*c + 4].copy_from_slice(&1i32.to_be_bytes());
                        buf[*c + 4] = u8::from(a.value(i));
                        *c += 5;
                    }
                }
            }
            Self::I16(a) => fixed(a.values(), a.nulls(), buf, cursor, |v| v.to_be_bytes()),
            Self::I32(a) => fixed(a.values(), a.nulls(), buf, cursor, |v| v.to_be_bytes()),
            Self::I64(a) => fixed(a.values(), a.nulls(), buf, cursor, |v| v.to_be_bytes()),
            Self::F32(a) => fixed(a.values(), a.nulls(), buf, cursor, |v| v.to_bits().to_be_bytes()),
            Self::F64(a) => fixed(a.values(), a.nulls(), buf, cursor, |v| v.to_bits().to_be_bytes()),
            Self::Date(v, n) => fixed(v, *n, buf, cursor, |v| v.to_be_bytes()),
            Self::Timestamp(v, n) => fixed(v, *n, buf, cursor, |v| v.to_be_bytes()),
            Self::Var(v) => v.write(buf, cursor),
        }
    }
}

/// Timestamps converted to microseconds since 2000-01-01, checked for overflow.
fn micros<'a, T: ArrowPrimitiveType<Native = i64>>(
    a: &'a PrimitiveArray<T>,
    mul: i64,
    div: i64,
    name: &str,
) -> Result<(Vec<i64>, Option<&'a arrow_buffer::NullBuffer>), EncodeError> {
    let nulls = a.nulls();
    let mut out = Vec::with_capacity(a.len());
    for (i, v) in a.values().iter().enumerate() {
        let us = v.checked_mul(mul).map(|x| x.div_euclid(div)).and_then(|x| x.checked_sub(PG_EPOCH_MICROS));
        match us {
            Some(x) => out.push(x),
            None if nulls.is_some_and(|n| n.is_null(i)) => out.push(0),
            None => return Err(EncodeError::OutOfRange { column: name.to_string(), value: *v, pg_type: "timestamp" }),
        }
    }
    Ok((out, nulls))
}

fn decimals<'a, T: ArrowPrimitiveType>(
    a: &'a PrimitiveArray<T>,
    scale: u8,
    wide: impl Fn(T::Native) -> i128,
) -> Variable<'a> {
    let nulls = a.nulls();
    let mut bytes = Vec::with_capacity(a.len() * 12);
    let mut offsets = Vec::with_capacity(a.len() + 1);
    offsets.push(0);
    for (i, v) in a.values().iter().enumerate() {
        if !nulls.is_some_and(|n| n.is_null(i)) {
            numeric::encode(wide(*v), scale, &mut bytes);
        }
        offsets.push(bytes.len() as i64);
    }
    Variable::Owned { bytes, offsets, nulls }
}

fn fixed_sizes(nulls: Option<&arrow_buffer::NullBuffer>, width: usize, sizes: &mut [usize]) {
    match nulls {
        None => sizes.iter_mut().for_each(|s| *s += 4 + width),
        Some(n) => sizes.iter_mut().enumerate().for_each(|(i, s)| *s += if n.is_null(i) { 4 } else { 4 + width }),
    }
}

fn fixed<T: Copy, const W: usize>(
    values: &[T],
    nulls: Option<&arrow_buffer::NullBuffer>,
    buf: &mut [u8],
    cursor: &mut [usize],
    be: impl Fn(T) -> [u8; W],
) {
    let len = (W as i32).to_be_bytes();
    for (i, (c, v)) in cursor.iter_mut().zip(values).enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            buf[*c..*c + 4].copy_from_slice(&NULL);
            *c += 4;
        } else {
            buf[*c..*c + 4].copy_from_slice(&len);
            buf[*c + 4..*c + 4 + W].copy_from_slice(&be(*v));
            *c += 4 + W;
        }
    }
}

impl Variable<'_> {
    fn add_sizes(&self, sizes: &mut [usize]) {
        match self {
            Self::Utf8(a) => offset_sizes(a.value_offsets(), a.nulls(), sizes),
            Self::LargeUtf8(a) => offset_sizes(a.value_offsets(), a.nulls(), sizes),
            Self::Owned { offsets, nulls, .. } => offset_sizes(offsets, *nulls, sizes),
            Self::Dict(keys, values) => dict_sizes(keys, values.value_offsets(), values.nulls(), sizes),
            Self::LargeDict(keys, values) => dict_sizes(keys, values.value_offsets(), values.nulls(), sizes),
            Self::Utf8View(a) => {
                for (i, s) in sizes.iter_mut().enumerate() {
                    *s += 4 + if a.is_null(i) { 0 } else { a.value(i).len() };
                }
            }
        }
    }

    fn write(&self, buf: &mut [u8], cursor: &mut [usize]) {
        match self {
            Self::Utf8(a) => offset_write(a.value_offsets(), a.value_data(), a.nulls(), buf, cursor),
            Self::LargeUtf8(a) => offset_write(a.value_offsets(), a.value_data(), a.nulls(), buf, cursor),
            Self::Owned { bytes, offsets, nulls } => offset_write(offsets, bytes, *nulls, buf, cursor),
            Self::Dict(keys, values) => {
                dict_write(keys, values.value_offsets(), values.value_data(), values.nulls(), buf, cursor);
            }
            Self::LargeDict(keys, values) => {
                dict_write(keys, values.value_offsets(), values.value_data(), values.nulls(), buf, cursor);
            }
            Self::Utf8View(a) => {
                for (i, c) in cursor.iter_mut().enumerate() {
                    put_bytes(buf, c, (!a.is_null(i)).then(|| a.value(i).as_bytes()));
                }
            }
        }
    }
}

/// Sizes of offset-delimited values (text, encoded numerics).
fn offset_sizes<O: arrow_buffer::ArrowNativeType>(
    offsets: &[O],
    nulls: Option<&arrow_buffer::NullBuffer>,
    sizes: &mut [usize],
) {
    for (i, s) in sizes.iter_mut().enumerate() {
        *s += 4;
        if !nulls.is_some_and(|n| n.is_null(i)) {
            *s += offsets[i + 1].as_usize() - offsets[i].as_usize();
        }
    }
}

/// Offset-delimited values, straight from their buffer.
fn offset_write<O: arrow_buffer::ArrowNativeType>(
    offsets: &[O],
    values: &[u8],
    nulls: Option<&arrow_buffer::NullBuffer>,
    buf: &mut [u8],
    cursor: &mut [usize],
) {
    for (i, c) in cursor.iter_mut().enumerate() {
        let v = if nulls.is_some_and(|n| n.is_null(i)) {
            None
        } else {
            Some(&values[offsets[i].as_usize()..offsets[i + 1].as_usize()])
        };
        put_bytes(buf, c, v);
    }
}

/// The dictionary entry row `i` points at, `None` when the row or the entry is NULL.
#[inline(always)]
fn dict_entry<O: arrow_buffer::ArrowNativeType>(
    keys: &PrimitiveArray<Int32Type>,
    offsets: &[O],
    nulls: Option<&arrow_buffer::NullBuffer>,
    i: usize,
) -> Option<(usize, usize)> {
    if keys.is_null(i) {
        return None;
    }
    let k = keys.values()[i] as usize;
    if nulls.is_some_and(|n| n.is_null(k)) {
        return None;
    }
    Some((offsets[k].as_usize(), offsets[k + 1].as_usize()))
}

/// Sizes of dictionary-encoded text.
fn dict_sizes<O: arrow_buffer::ArrowNativeType>(
    keys: &PrimitiveArray<Int32Type>,
    offsets: &[O],
    nulls: Option<&arrow_buffer::NullBuffer>,
    sizes: &mut [usize],
) {
    if keys.nulls().is_none() && nulls.is_none() {
        // The usual case (a Parquet dictionary holds no NULL, and many
        // columns have none): no null tests in the loop.
        for (s, k) in sizes.iter_mut().zip(keys.values()) {
            let k = *k as usize;
            *s += 4 + offsets[k + 1].as_usize() - offsets[k].as_usize();
        }
        return;
    }
    for (i, s) in sizes.iter_mut().enumerate() {
        *s += 4 + dict_entry(keys, offsets, nulls, i).map_or(0, |(a, b)| b - a);
    }
}

/// Dictionary-encoded text, each value copied from the dictionary.
fn dict_write<O: arrow_buffer::ArrowNativeType>(
    keys: &PrimitiveArray<Int32Type>,
    offsets: &[O],
    values: &[u8],
    nulls: Option<&arrow_buffer::NullBuffer>,
    buf: &mut [u8],
    cursor: &mut [usize],
) {
    if keys.nulls().is_none() && nulls.is_none() {
        for (c, k) in cursor.iter_mut().zip(keys.values()) {
            let k = *k as usize;
            put_bytes(buf, c, Some(&values[offsets[k].as_usize()..offsets[k + 1].as_usize()]));
        }
        return;
    }
    for (i, c) in cursor.iter_mut().enumerate() {
        put_bytes(buf, c, dict_entry(keys, offsets, nulls, i).map(|(a, b)| &values[a..b]));
    }
}

#[inline(always)]
fn put_bytes(buf: &mut [u8], c: &mut usize, v: Option<&[u8]>) {
    match v {
        None => {
            buf[*c..*c + 4].copy_from_slice(&NULL);
            *c += 4;
        }
        Some(b) => {
            buf[*c..*c + 4].copy_from_slice(&(b.len() as i32).to_be_bytes());
            buf[*c + 4..*c + 4 + b.len()].copy_from_slice(b);
            *c += 4 + b.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Date32Array, Int32Array, StringArray};

    use super::*;

    #[test]
    fn one_row_byte_for_byte() {
        let batch = RecordBatch::try_from_iter([
            ("n", Arc::new(Int32Array::from(vec![Some(7)])) as _),
            ("t", Arc::new(StringArray::from(vec![Some("hé")])) as _),
            ("d", Arc::new(Date32Array::from(vec![None])) as _),
        ])
        .unwrap();
        let mut out = Vec::new();
        encode_batch(&batch, &[Constant::Int4(Some(1987))], &mut out).unwrap();
        let mut want = vec![0, 4]; // 4 fields
        want.extend([0, 0, 0, 4, 0, 0, 0, 7]); // n = 7
        want.extend([0, 0, 0, 3, b'h', 0xc3, 0xa9]); // t = 'hé' (3 UTF-8 bytes)
        want.extend([0xff, 0xff, 0xff, 0xff]); // d = NULL
        want.extend([0, 0, 0, 4, 0, 0, 0x07, 0xc3]); // year = 1987
        assert_eq!(out, want);
    }

    #[test]
    fn text_constant_on_every_row() {
        let batch = RecordBatch::try_from_iter([("n", Arc::new(Int32Array::from(vec![Some(1), None])) as _)]).unwrap();
        let mut out = Vec::new();
        encode_batch(&batch, &[Constant::Text("ep-1")], &mut out).unwrap();
        let mut want = vec![0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, b'e', b'p', b'-', b'1'];
        want.extend([0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, b'e', b'p', b'-', b'1']);
        assert_eq!(out, want);
    }

    #[test]
    fn bool_constant_after_the_partition_key() {
        let batch = RecordBatch::try_from_iter([("n", Arc::new(Int32Array::from(vec![None])) as _)]).unwrap();
        let mut out = Vec::new();
        encode_batch(&batch, &[Constant::Int4(None), Constant::Bool(true)], &mut out).unwrap();
        assert_eq!(out, [0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1]);
        out.clear();
        encode_batch(&batch, &[Constant::Bool(false)], &mut out).unwrap();
        assert_eq!(out, [0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn dates_and_timestamps_count_from_2000() {
        let batch = RecordBatch::try_from_iter([
            ("d", Arc::new(Date32Array::from(vec![10_957, 0])) as _),
            (
                "ts",
                Arc::new(arrow_array::TimestampMicrosecondArray::from(vec![PG_EPOCH_MICROS, -1]).with_timezone("UTC"))
                    as _,
            ),
        ])
        .unwrap();
        let mut out = Vec::new();
        encode_batch(&batch, &[], &mut out).unwrap();
        // row 0: date 0, timestamp 0
        assert_eq!(&out[..2 + 8 + 12], &[0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        // row 1: date -10957, timestamp -946684800000001
        let row1 = &out[22..];
        assert_eq!(&row1[6..10], &(-10_957i32).to_be_bytes());
        assert_eq!(&row1[14..22], &(-PG_EPOCH_MICROS - 1).to_be_bytes());
    }

    #[test]
    fn dictionary_text_encodes_like_plain_text() {
        use arrow_array::{DictionaryArray, Int32Array as Keys, LargeStringArray};
        let plain = StringArray::from(vec![Some("b"), None, Some(""), Some("ünï"), None, Some("b")]);
        // Row 1: a NULL key; row 4: a key pointing at a NULL entry.
        let keys = Keys::from(vec![Some(0), None, Some(2), Some(1), Some(3), Some(0)]);
        let values = StringArray::from(vec![Some("b"), Some("ünï"), Some(""), None]);
        let dict = DictionaryArray::new(keys.clone(), Arc::new(values));
        let large =
            DictionaryArray::new(keys, Arc::new(LargeStringArray::from(vec![Some("b"), Some("ünï"), Some(""), None])));
        let encode = |array: arrow_array::ArrayRef| {
            let mut out = Vec::new();
            let batch = RecordBatch::try_from_iter([("t", array)]).unwrap();
            encode_batch(&batch, &[Constant::Int4(Some(2001))], &mut out).unwrap();
            out
        };
        let want = encode(Arc::new(plain));
        assert_eq!(encode(Arc::new(dict)), want);
        assert_eq!(encode(Arc::new(large)), want);
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let batch =
            RecordBatch::try_from_iter([("b", Arc::new(arrow_array::BinaryArray::from(vec![Some(&b"x"[..])])) as _)])
                .unwrap();
        let err = encode_batch(&batch, &[], &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "column b: Arrow type Binary has no PostgreSQL binary encoding in pqstage");
    }
}
