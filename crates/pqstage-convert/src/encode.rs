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

use std::cmp::Ordering;

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::compression::{create_codec, Codec, CodecOptions};
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnDescPtr, SchemaDescriptor};

/// Most rows in a data page (arrow's default row limit).
pub const PAGE_ROWS: usize = 20_000;
/// A plain page ends once its values reach this many bytes (arrow's default page size).
pub const PAGE_BYTES: usize = 1 << 20;
/// Longest text minimum or maximum kept in statistics and the column index
/// (arrow's default); longer ones are cut, and a cut maximum rounded up.
pub const STATS_TRUNCATE: usize = 64;

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

    fn width(self) -> usize {
        match self {
            Self::I32 => 4,
            Self::I64 => 8,
            Self::Bytes => 0,
        }
    }

    /// Compares two encoded statistics values (little-endian integers, or bytes).
    fn cmp(self, a: &[u8], b: &[u8]) -> Ordering {
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

fn le_i64(b: &[u8]) -> i64 {
    match b.len() {
        4 => i64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
        _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
    }
}

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Loads `b` as words for hashing and comparing: the first and last 8 (or 4,
/// or 1) bytes, which overlap for short values and so cover every byte of a
/// value up to 16 bytes.
#[inline(always)]
fn words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n >= 8 {
        (u64::from_le_bytes(b[..8].try_into().expect("8")), u64::from_le_bytes(b[n - 8..].try_into().expect("8")))
    } else if n >= 4 {
        (
            u64::from(u32::from_le_bytes(b[..4].try_into().expect("4"))),
            u64::from(u32::from_le_bytes(b[n - 4..].try_into().expect("4"))),
        )
    } else if n > 0 {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    } else {
        (0, 0)
    }
}

#[inline(always)]
fn hash_bytes(b: &[u8]) -> u64 {
    let (a, z) = words(b);
    let mut h = (b.len() as u64 ^ a).wrapping_mul(MIX);
    h = (h.rotate_left(23) ^ z).wrapping_mul(MIX);
    if b.len() > 16 {
        for c in b[8..b.len() - 8].chunks(8) {
            let (w, _) = words(c);
            h = (h.rotate_left(23) ^ w).wrapping_mul(MIX);
        }
    }
    h ^ (h >> 32)
}

/// Equality of two values of the same length.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() <= 16 {
        words(a) == words(b)
    } else {
        a == b
    }
}

/// The first 8 bytes, big-endian, zero-padded: if `prefix(a) < prefix(b)`
/// then `a < b`; equal prefixes need the full comparison.
#[inline(always)]
fn prefix(b: &[u8]) -> u64 {
    if b.len() >= 8 {
        u64::from_be_bytes(b[..8].try_into().expect("8"))
    } else {
        b.iter().enumerate().fold(0u64, |x, (i, &c)| x | u64::from(c) << (56 - 8 * i))
    }
}

/// Values hashed and their table slots touched ahead of the lookups: the
/// loads of a group are independent, so their cache misses overlap instead of
/// coming one after another (a large dictionary's table does not fit the cache).
const GROUP: usize = 16;

/// The packed form of a text value's first bytes kept in its slot: exact for
/// values up to 8 bytes (with the length), the first 8 bytes otherwise.
#[inline(always)]
fn head(b: &[u8]) -> u64 {
    let (a, z) = words(b);
    if b.len() <= 8 {
        a | z << 32
    } else {
        a
    }
}

/// A slot's tag: 24 bits of hash, the length (255 for longer), and id + 1 (0 = empty).
#[inline(always)]
fn tag(h: u64, len: usize, id: u32) -> u64 {
    (h >> 40) << 40 | (len.min(255) as u64) << 32 | u64::from(id + 1)
}

const TAG_KEY: u64 = !0xFFFF_FFFF;

/// A dictionary: value → id in first-seen order.
struct Dict {
    /// The open-addressing table: `[tag, key]`, where the key is the integer
    /// itself or the text's [`head`].
    slots: Vec<[u64; 2]>,
    len: usize,
    /// Integer values by id.
    ints: Vec<i64>,
    /// Text values by id: `arena[starts[id]..starts[id + 1]]`.
    arena: Vec<u8>,
    starts: Vec<u32>,
    /// Text values' [`prefix`] by id, so page bounds mostly compare integers.
    prefixes: Vec<u64>,
}

impl Dict {
    fn new() -> Self {
        Self {
            slots: vec![[0; 2]; 1024],
            len: 0,
            ints: Vec::new(),
            arena: Vec::new(),
            starts: vec![0],
            prefixes: Vec::new(),
        }
    }

    fn text(&self, id: u32) -> &[u8] {
        &self.arena[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Loads the slots of `hashes` so the lookups that follow find them cached.
    #[inline(always)]
    fn touch(&self, hashes: &[u64]) {
        let mask = self.mask();
        let acc = hashes.iter().fold(0u64, |acc, &h| acc ^ self.slots[h as usize & mask][0]);
        std::hint::black_box(acc);
    }

    fn grow_if_needed(&mut self, hash_of: impl Fn(&Self, u32) -> u64) {
        if (self.len + 1) * 2 <= self.slots.len() {
            return;
        }
        let mask = self.slots.len() * 2 - 1;
        let mut slots = vec![[0u64; 2]; mask + 1];
        for s in self.slots.iter().filter(|s| s[0] != 0) {
            let mut i = hash_of(self, (s[0] as u32) - 1) as usize & mask;
            while slots[i][0] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = *s;
        }
        self.slots = slots;
    }

    #[inline(always)]
    fn intern_int(&mut self, v: i64, h: u64) -> u32 {
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let [t, k] = self.slots[i];
            if t == 0 {
                break;
            }
            if k == v as u64 {
                return (t as u32) - 1;
            }
            i = (i + 1) & mask;
        }
        let id = self.len as u32;
        self.slots[i] = [u64::from(id + 1), v as u64];
        self.ints.push(v);
        self.len += 1;
        self.grow_if_needed(|d, id| hash_int(d.ints[id as usize]));
        id
    }

    #[inline(always)]
    fn intern_text(&mut self, v: &[u8], h: u64) -> u32 {
        let mask = self.mask();
        let want = tag(h, v.len(), 0) & TAG_KEY;
        let key = head(v);
        let mut i = h as usize & mask;
        loop {
            let [t, k] = self.slots[i];
            if t == 0 {
                break;
            }
            if t & TAG_KEY == want && k == key {
                let id = (t as u32) - 1;
                if v.len() <= 8 {
                    return id;
                }
                let (a, b) = (self.starts[id as usize] as usize, self.starts[id as usize + 1] as usize);
                if b - a == v.len() && same_bytes(&self.arena[a..b], v) {
                    return id;
                }
            }
            i = (i + 1) & mask;
        }
        let id = self.len as u32;
        self.slots[i] = [tag(h, v.len(), id), key];
        self.arena.extend_from_slice(v);
        self.starts.push(self.arena.len() as u32);
        self.prefixes.push(prefix(v));
        self.len += 1;
        self.grow_if_needed(|d, id| hash_bytes(d.text(id)));
        id
    }

    /// Bytes of the dictionary page (plain encoding: a length before each text).
    fn plain_bytes(&self, kind: Kind) -> usize {
        match kind {
            Kind::Bytes => self.arena.len() + 4 * self.len,
            k => self.len * k.width(),
        }
    }

    /// The dictionary page's values, plain-encoded.
    fn plain(&self, kind: Kind) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.plain_bytes(kind));
        match kind {
            Kind::I32 => self.ints.iter().for_each(|&v| out.extend_from_slice(&(v as i32).to_le_bytes())),
            Kind::I64 => self.ints.iter().for_each(|&v| out.extend_from_slice(&v.to_le_bytes())),
            Kind::Bytes => {
                for w in self.starts.windows(2) {
                    out.extend_from_slice(&(w[1] - w[0]).to_le_bytes());
                    out.extend_from_slice(&self.arena[w[0] as usize..w[1] as usize]);
                }
            }
        }
        out
    }

    /// The smallest and largest text among `ids`, looking at each distinct id
    /// once and at its text only when its 8-byte prefix ties with a bound's.
    fn text_bounds(&self, ids: &[u32], seen: &mut Vec<u64>) -> Option<(u32, u32)> {
        seen.clear();
        seen.resize(self.len.div_ceil(64), 0);
        let mut bounds: Option<((u64, u32), (u64, u32))> = None;
        for &id in ids {
            let (w, bit) = (id as usize / 64, 1u64 << (id % 64));
            if seen[w] & bit != 0 {
                continue;
            }
            seen[w] |= bit;
            let p = self.prefixes[id as usize];
            let Some((lo, hi)) = &mut bounds else {
                bounds = Some(((p, id), (p, id)));
                continue;
            };
            if p < lo.0 || (p == lo.0 && self.text(id) < self.text(lo.1)) {
                *lo = (p, id);
            }
            if p > hi.0 || (p == hi.0 && self.text(id) > self.text(hi.1)) {
                *hi = (p, id);
            }
        }
        bounds.map(|(lo, hi)| (lo.1, hi.1))
    }
}

#[inline(always)]
fn hash_int(v: i64) -> u64 {
    let h = (v as u64).wrapping_mul(MIX);
    h ^ (h >> 29)
}

/// Minimum and maximum of the page being built.
enum PageBounds {
    Empty,
    Ints {
        min: i64,
        max: i64,
    },
    /// Dictionary-encoded text: found from the page's ids when it is flushed.
    Ids,
    /// Plain text: prefix and value.
    Text {
        min: (u64, Vec<u8>),
        max: (u64, Vec<u8>),
    },
}

/// A finished, compressed data page waiting for the dictionary page.
struct DonePage {
    page: CompressedPage,
    rows: usize,
    nulls: usize,
    bounds: Option<(Vec<u8>, Vec<u8>)>,
    var_bytes: Option<i64>,
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

    /// Encodes, compresses and keeps the page being built.
    fn flush_page(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let buf = &mut self.page;
        buf.clear();
        if self.nullable {
            buf.extend_from_slice(&[0; 4]);
            hybrid(&self.valid, 1, buf);
            let len = (buf.len() - 4) as u32;
            buf[..4].copy_from_slice(&len.to_le_bytes());
        }
        let encoding = match &self.dict {
            Some(d) => {
                let width = num_bits(d.len.saturating_sub(1) as u64);
                buf.push(width);
                hybrid(&self.ids, width, buf);
                Encoding::RLE_DICTIONARY
            }
            None => Encoding::PLAIN,
        };
        // A plain page without definition levels is its values as they are.
        let raw = match (&self.dict, self.nullable) {
            (None, false) => &self.plain,
            (None, true) => {
                buf.extend_from_slice(&self.plain);
                &self.page
            }
            (Some(_), _) => &self.page,
        };
        let uncompressed = raw.len();
        let compressed = self.codec.compress(raw)?;
        let page = Page::DataPage {
            buf: Bytes::from(compressed),
            num_values: self.rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let bounds = match std::mem::replace(&mut self.bounds, PageBounds::Empty) {
            PageBounds::Empty => None,
            PageBounds::Ints { min, max } => Some(match self.kind {
                Kind::I32 => ((min as i32).to_le_bytes().to_vec(), (max as i32).to_le_bytes().to_vec()),
                _ => (min.to_le_bytes().to_vec(), max.to_le_bytes().to_vec()),
            }),
            PageBounds::Ids => {
                let d = self.dict.as_ref().expect("ids come from the dictionary");
                d.text_bounds(&self.ids, &mut self.seen).map(|(lo, hi)| (d.text(lo).to_vec(), d.text(hi).to_vec()))
            }
            PageBounds::Text { min, max } => Some((min.1, max.1)),
        };
        self.pages.push(DonePage {
            page: CompressedPage::new(page, uncompressed),
            rows: self.rows,
            nulls: self.nulls,
            bounds,
            var_bytes: (self.kind == Kind::Bytes).then_some(self.var_bytes),
        });
        self.rows = 0;
        self.nulls = 0;
        self.var_bytes = 0;
        self.valid.clear();
        self.ids.clear();
        self.plain.clear();
        if self.dict.as_ref().is_some_and(|d| d.plain_bytes(self.kind) > self.dict_limit) {
            // Like arrow: the dictionary so far is kept for the pages written
            // with it, and the rest of the chunk is plain.
            self.spent_dict = self.dict.take();
        }
        Ok(())
    }

    /// Finishes the chunk: its bytes (dictionary page, then data pages) and
    /// what `SerializedRowGroupWriter::append_column` needs to know about them.
    ///
    /// # Errors
    /// When compressing or serializing a page fails.
    pub fn close(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        let dict = self.dict.take().or(self.spent_dict.take());
        let kind = self.kind;
        let mut sink = TrackedWrite::new(Vec::with_capacity(self.pages.iter().map(|p| p.page.data().len() + 32).sum()));
        let mut writer = SerializedPageWriter::new(&mut sink);
        let mut encodings = vec![Encoding::RLE];
        let mut encoding_stats: Vec<PageEncodingStats> = Vec::new();
        let (mut compressed, mut uncompressed, mut values) = (0i64, 0i64, 0i64);
        let mut dictionary_offset = None;
        if let Some(d) = &dict {
            let raw = d.plain(kind);
            let size = raw.len();
            let buf = self.codec.compress(&raw)?;
            let page = Page::DictionaryPage {
                buf: Bytes::from(buf),
                num_values: d.len as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let spec = writer.write_page(CompressedPage::new(page, size))?;
            dictionary_offset = Some(spec.offset as i64);
            compressed += spec.compressed_size as i64;
            uncompressed += spec.uncompressed_size as i64;
            encodings.push(Encoding::PLAIN);
            encoding_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        let page_stats = self.statistics == EnabledStatistics::Page;
        let mut offsets = OffsetIndexBuilder::new();
        let mut index = ColumnIndexBuilder::new(self.descr.physical_type());
        let (mut ascending, mut descending) = (true, true);
        let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut chunk: Option<(Vec<u8>, Vec<u8>)> = None;
        let (mut rows, mut nulls, mut var_bytes) = (0u64, 0u64, 0i64);
        let mut data_offset = None;
        for p in std::mem::take(&mut self.pages) {
            let encoding = p.page.encoding();
            let spec = writer.write_page(p.page)?;
            data_offset.get_or_insert(spec.offset as i64);
            compressed += spec.compressed_size as i64;
            uncompressed += spec.uncompressed_size as i64;
            values += spec.num_values as i64;
            if !encodings.contains(&encoding) {
                encodings.push(encoding);
            }
            match encoding_stats.last_mut() {
                Some(s) if s.page_type == PageType::DATA_PAGE && s.encoding == encoding => s.count += 1,
                _ => encoding_stats.push(PageEncodingStats { page_type: PageType::DATA_PAGE, encoding, count: 1 }),
            }
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(p.rows as i64);
            offsets.append_unencoded_byte_array_data_bytes(p.var_bytes);
            rows += p.rows as u64;
            nulls += p.nulls as u64;
            var_bytes += p.var_bytes.unwrap_or(0);
            match p.bounds {
                None => index.append(true, Vec::new(), Vec::new(), p.nulls as i64),
                Some((lo, hi)) => {
                    if let Some((plo, phi)) = &last {
                        ascending &= kind.cmp(plo, &lo).is_le() && kind.cmp(phi, &hi).is_le();
                        descending &= kind.cmp(plo, &lo).is_ge() && kind.cmp(phi, &hi).is_ge();
                    }
                    if page_stats {
                        let (tlo, thi) = (truncate_min(kind, &lo).0, truncate_max(kind, &hi).0);
                        index.append(false, tlo, thi, p.nulls as i64);
                    }
                    chunk = Some(match chunk {
                        None => (lo.clone(), hi.clone()),
                        Some((clo, chi)) => (
                            if kind.cmp(&lo, &clo).is_lt() { lo.clone() } else { clo },
                            if kind.cmp(&hi, &chi).is_gt() { hi.clone() } else { chi },
                        ),
                    });
                    last = Some((lo, hi));
                }
            }
        }
        writer.close()?;
        let bytes_written = sink.bytes_written() as u64;
        let buf = sink.into_inner()?;

        let mut meta = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.compression)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(compressed)
            .set_total_uncompressed_size(uncompressed)
            .set_num_values(values)
            .set_data_page_offset(data_offset.unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset);
        if self.statistics != EnabledStatistics::None {
            meta = meta
                .set_statistics(chunk_statistics(kind, chunk, nulls))
                .set_unencoded_byte_array_data_bytes((kind == Kind::Bytes).then_some(var_bytes));
        }
        let column_index = page_stats.then(|| {
            index.set_boundary_order(match (ascending, descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
            index.build()
        });
        Ok((
            Bytes::from(buf),
            ColumnCloseResult {
                bytes_written,
                rows_written: rows,
                metadata: meta.build()?,
                bloom_filter: None,
                column_index: column_index.transpose()?,
                offset_index: Some(offsets.build()),
            },
        ))
    }
}

/// Compresses pages. zstd, the default, goes through a context and an output
/// buffer kept per thread, so a page costs neither a new context (as a column
/// encoder per row group would) nor a worst-case-sized allocation; the result
/// is copied out at its exact size, since a row group's pages wait in memory
/// until it closes. The bytes are those of parquet's own zstd codec (the same
/// library call at the same level). Other codecs use parquet's.
enum PageCodec {
    None,
    Zstd(i32),
    Other(Box<dyn Codec>),
}

thread_local! {
    /// This thread's zstd context (with its level) and output buffer.
    static ZSTD: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

impl PageCodec {
    fn new(compression: Compression) -> Result<Self> {
        Ok(match compression {
            Compression::UNCOMPRESSED => Self::None,
            Compression::ZSTD(level) => Self::Zstd(level.compression_level()),
            c => Self::Other(create_codec(c, &CodecOptions::default())?.expect("a compressing codec")),
        })
    }

    fn compress(&mut self, raw: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::None => Ok(raw.to_vec()),
            Self::Zstd(level) => ZSTD.with_borrow_mut(|cached| {
                if cached.as_ref().is_none_or(|c| c.0 != *level) {
                    *cached = Some((*level, zstd::bulk::Compressor::new(*level)?, Vec::new()));
                }
                let (_, ctx, out) = cached.as_mut().expect("made above");
                out.clear();
                out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
                ctx.compress_to_buffer(raw, out)?;
                Ok(out.as_slice().to_vec())
            }),
            Self::Other(c) => {
                let mut out = Vec::new();
                c.compress(raw, &mut out)?;
                out.shrink_to_fit();
                Ok(out)
            }
        }
    }
}

/// Appends `values` in Parquet's RLE / bit-packing hybrid at `width` bits.
/// Values are looked at in groups of 8 (one test per group, no branch per
/// value): a group of 8 equal values starts an RLE run that extends as far as
/// the value repeats; other groups are bit-packed (only the final group is
/// padded with zeros). Runs that do not fill an aligned group stay packed.
fn hybrid<T: Copy + Eq + Into<u64>>(values: &[T], width: u8, out: &mut Vec<u8>) {
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

fn num_bits(x: u64) -> u8 {
    (64 - x.leading_zeros()) as u8
}

fn chunk_statistics(kind: Kind, bounds: Option<(Vec<u8>, Vec<u8>)>, nulls: u64) -> Statistics {
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
fn truncate_min(kind: Kind, v: &[u8]) -> (Vec<u8>, bool) {
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
fn truncate_max(kind: Kind, v: &[u8]) -> (Vec<u8>, bool) {
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
    fn prefix_order_implies_value_order() {
        let vals: [&[u8]; 9] = [b"", b"\0", b"a", b"a\0", b"ab", b"abcdefgh", b"abcdefgh\0", b"abcdefgi", b"b"];
        for a in vals {
            for b in vals {
                if prefix(a) < prefix(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn word_equality_is_exact_up_to_16_bytes() {
        let base = b"0123456789abcdef";
        for n in 0..=16 {
            for i in 0..n {
                let mut other = base[..n].to_vec();
                other[i] ^= 1;
                assert!(!same_bytes(&base[..n], &other), "length {n}, byte {i}");
            }
            assert!(same_bytes(&base[..n], &base[..n]));
        }
    }

    #[test]
    fn dictionary_ids_follow_first_sight_and_survive_growth() {
        let mut d = Dict::new();
        let vals: Vec<String> = (0..5000).map(|i| format!("v{}", i * 7919 % 5000)).collect();
        let intern = |d: &mut Dict, v: &str| d.intern_text(v.as_bytes(), hash_bytes(v.as_bytes()));
        let ids: Vec<u32> = vals.iter().map(|v| intern(&mut d, v)).collect();
        assert_eq!(ids, (0..5000).collect::<Vec<u32>>());
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(intern(&mut d, v), i as u32);
            assert_eq!(d.text(i as u32), v.as_bytes());
        }
        // Same head and length, different tails; lengths around the 8-byte boundary.
        for v in ["abcdefgh-1", "abcdefgh-2", "abcdefgh", "abcdefg", "", "a", "ab"] {
            let id = intern(&mut d, v);
            assert_eq!(d.text(id), v.as_bytes());
        }
        assert_eq!(d.len, 5007);
        let mut n = Dict::new();
        for v in [5i64, -3, 5, i64::MIN, -3, i64::MAX] {
            n.intern_int(v, hash_int(v));
        }
        assert_eq!(n.ints, [5, -3, i64::MIN, i64::MAX]);
    }

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
