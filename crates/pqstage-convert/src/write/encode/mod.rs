//! Our own Parquet column-chunk encoder for text, 32-bit and 64-bit integer
//! columns (dates, timestamps and 64-bit decimals included).
//!
//! Why: with arrow's column writer, about 40% of phase two's CPU went to
//! interning every value into the dictionary (a general-purpose hash and a
//! `memcmp` call per value) and to page statistics that compare every text
//! value twice. Here:
//! - dictionaries are open-addressing tables made for each type: an integer
//!   costs one multiply, and text up to 16 bytes is hashed and compared with
//!   word loads, without calls;
//! - a dictionary column's page minimum and maximum look at each distinct
//!   value once per page, not at every row;
//! - a plain text column compares an 8-byte big-endian prefix first;
//! - pages end at a row count (or a byte size) that depends only on the
//!   column's own values, never on how rows reached the writer.
//!
//! The output is ordinary Parquet, as arrow's writer makes it: data pages v1,
//! `RLE_DICTIONARY` with a `PLAIN` dictionary page (falling back to `PLAIN`
//! pages once the dictionary outgrows its limit), RLE definition levels, chunk
//! statistics, and the column and offset indexes. A finished chunk is handed
//! to `SerializedRowGroupWriter::append_column`.

mod chunk;
mod codec;
mod dict;
mod levels;
mod page;
mod stats;

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use parquet::basic::{Compression, Type as PhysicalType};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

use codec::PageCodec;
use dict::{hash_bytes, hash_int, prefix, Dict, GROUP};
use page::{DonePage, PageBounds};
use stats::le_i64;

/// Most rows in a data page (arrow's default row limit).
pub const PAGE_ROWS: usize = 20_000;
/// A plain page ends once its values reach this many bytes (arrow's default page size).
pub const PAGE_BYTES: usize = 1 << 20;

/// The physical values a column is written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `INT32` from Int32 or Date32.
    I32,
    /// `INT64` from Int64, Timestamp(µs) or Decimal64.
    I64,
    /// `BYTE_ARRAY` from Utf8.
    Bytes,
}

impl Kind {
    /// The kind this encoder writes `data_type` as, if it handles that pair of
    /// Arrow and Parquet types (others go through arrow's writer).
    pub fn of(data_type: &DataType, physical: PhysicalType) -> Option<Self> {
        match (data_type, physical) {
            (DataType::Utf8, PhysicalType::BYTE_ARRAY) => Some(Self::Bytes),
            (DataType::Int32 | DataType::Date32, PhysicalType::INT32) => Some(Self::I32),
            (
                DataType::Int64 | DataType::Timestamp(TimeUnit::Microsecond, _) | DataType::Decimal64(..),
                PhysicalType::INT64,
            ) => Some(Self::I64),
            _ => None,
        }
    }

    pub(crate) fn width(self) -> usize {
        match self {
            Self::I32 => 4,
            Self::I64 => 8,
            Self::Bytes => 0,
        }
    }

    /// Compares two encoded statistics values (little-endian integers, or bytes).
    pub(crate) fn cmp(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Self::I32 | Self::I64 => le_i64(a).cmp(&le_i64(b)),
            Self::Bytes => a.cmp(b),
        }
    }
}

/// For each column of `arrow` (flat, as the spec makes it), the kind
/// [`ColumnEncoder`] writes it as, or `None` for arrow's writer.
pub fn column_kinds(arrow: &arrow_schema::Schema, parquet: &SchemaDescriptor) -> Vec<Option<Kind>> {
    arrow.fields().iter().zip(parquet.columns()).map(|(f, c)| Kind::of(f.data_type(), c.physical_type())).collect()
}

/// Encodes one column of one row group.
pub struct ColumnEncoder {
    descr: ColumnDescPtr,
    kind: Kind,
    nullable: bool,
    statistics: EnabledStatistics,
    compression: Compression,
    codec: PageCodec,
    /// The page being serialized (definition levels, then values), reused.
    page: Vec<u8>,
    /// Set while values are dictionary-encoded.
    dict: Option<Dict>,
    /// The dictionary, kept for the dictionary page after falling back to plain.
    spent_dict: Option<Dict>,
    dict_limit: usize,
    // The page being built.
    rows: usize,
    nulls: usize,
    valid: Vec<bool>,
    ids: Vec<u32>,
    plain: Vec<u8>,
    bounds: PageBounds,
    var_bytes: i64,
    /// Scratch bit set of the ids seen in a page.
    seen: Vec<u64>,
    pages: Vec<DonePage>,
}

impl ColumnEncoder {
    /// An encoder for the column `descr` of kind `kind` with `props`'
    /// compression, dictionary and statistics settings for that column.
    ///
    /// # Errors
    /// When the codec cannot be created.
    pub fn new(descr: ColumnDescPtr, kind: Kind, props: &WriterProperties) -> Result<Self> {
        let path = descr.path();
        let compression = props.compression(path);
        Ok(Self {
            nullable: descr.max_def_level() > 0,
            statistics: props.statistics_enabled(path),
            compression,
            codec: PageCodec::new(compression)?,
            page: Vec::new(),
            dict: props.dictionary_enabled(path).then(Dict::new),
            spent_dict: None,
            dict_limit: props.dictionary_page_size_limit(),
            rows: 0,
            nulls: 0,
            valid: Vec::new(),
            ids: Vec::new(),
            plain: Vec::new(),
            bounds: PageBounds::Empty,
            var_bytes: 0,
            seen: Vec::new(),
            pages: Vec::new(),
            descr,
            kind,
        })
    }

    /// Appends the values of `array` (of the type given to [`Kind::of`]).
    ///
    /// # Errors
    /// When compressing a page fails.
    pub fn write(&mut self, array: &dyn Array) -> Result<()> {
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        if nulls.is_some() && !self.nullable {
            return Err(ParquetError::General(format!("NULL in non-nullable column {}", self.descr.name())));
        }
        match self.kind {
            Kind::I32 => self.write_ints(array.to_data().buffer::<i32>(0), nulls.as_ref()),
            Kind::I64 => self.write_ints(array.to_data().buffer::<i64>(0), nulls.as_ref()),
            Kind::Bytes => {
                let a = array.as_string::<i32>();
                self.write_text(a.value_offsets(), a.values(), nulls.as_ref())
            }
        }
    }

    fn write_ints<T: Copy + Into<i64>>(&mut self, values: &[T], nulls: Option<&NullBuffer>) -> Result<()> {
        let width = self.kind.width();
        let mut i = 0;
        while i < values.len() {
            let end = values.len().min(i + PAGE_ROWS - self.rows);
            let (mut lo, mut hi) = match self.bounds {
                PageBounds::Ints { min, max } => (min, max),
                _ => (i64::MAX, i64::MIN),
            };
            for start in (i..end).step_by(GROUP) {
                let group = &values[start..end.min(start + GROUP)];
                let mut hashes = [0u64; GROUP];
                if let Some(d) = &self.dict {
                    for (h, &v) in hashes.iter_mut().zip(group) {
                        *h = hash_int(v.into());
                    }
                    d.touch(&hashes[..group.len()]);
                }
                for (j, &v) in group.iter().enumerate() {
                    if self.nullable {
                        let ok = nulls.is_none_or(|n| n.is_valid(start + j));
                        self.valid.push(ok);
                        if !ok {
                            self.nulls += 1;
                            continue;
                        }
                    }
                    let v: i64 = v.into();
                    lo = lo.min(v);
                    hi = hi.max(v);
                    match &mut self.dict {
                        Some(d) => self.ids.push(d.intern_int(v, hashes[j])),
                        None if width == 4 => self.plain.extend_from_slice(&(v as i32).to_le_bytes()),
                        None => self.plain.extend_from_slice(&v.to_le_bytes()),
                    }
                }
            }
            if lo <= hi {
                self.bounds = PageBounds::Ints { min: lo, max: hi };
            }
            self.rows += end - i;
            i = end;
            if self.rows == PAGE_ROWS {
                self.flush_page()?;
            }
        }
        Ok(())
    }

    fn write_text(&mut self, offsets: &[i32], bytes: &[u8], nulls: Option<&NullBuffer>) -> Result<()> {
        let value = |r: usize| &bytes[offsets[r] as usize..offsets[r + 1] as usize];
        let n = offsets.len() - 1;
        let mut i = 0;
        while i < n {
            if let Some(d) = &mut self.dict {
                let end = n.min(i + PAGE_ROWS - self.rows);
                for start in (i..end).step_by(GROUP) {
                    let stop = end.min(start + GROUP);
                    let mut hashes = [0u64; GROUP];
                    for (h, r) in hashes.iter_mut().zip(start..stop) {
                        *h = hash_bytes(value(r));
                    }
                    d.touch(&hashes[..stop - start]);
                    for r in start..stop {
                        if self.nullable {
                            let ok = nulls.is_none_or(|n| n.is_valid(r));
                            self.valid.push(ok);
                            if !ok {
                                self.nulls += 1;
                                continue;
                            }
                        }
                        let v = value(r);
                        self.var_bytes += v.len() as i64;
                        self.ids.push(d.intern_text(v, hashes[r - start]));
                    }
                }
                self.bounds = PageBounds::Ids;
                self.rows += end - i;
                i = end;
                if self.rows == PAGE_ROWS {
                    self.flush_page()?;
                }
                continue;
            }
            let ok = nulls.is_none_or(|n| n.is_valid(i));
            if self.nullable {
                self.valid.push(ok);
            }
            if ok {
                let v = value(i);
                self.var_bytes += v.len() as i64;
                self.plain.extend_from_slice(&(v.len() as u32).to_le_bytes());
                self.plain.extend_from_slice(v);
                let p = prefix(v);
                match &mut self.bounds {
                    PageBounds::Text { min, max } => {
                        if p < min.0 || (p == min.0 && v < min.1.as_slice()) {
                            *min = (p, v.to_vec());
                        }
                        if p > max.0 || (p == max.0 && v > max.1.as_slice()) {
                            *max = (p, v.to_vec());
                        }
                    }
                    b => *b = PageBounds::Text { min: (p, v.to_vec()), max: (p, v.to_vec()) },
                }
            } else {
                self.nulls += 1;
            }
            self.rows += 1;
            i += 1;
            if self.rows == PAGE_ROWS || self.plain.len() >= PAGE_BYTES {
                self.flush_page()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
