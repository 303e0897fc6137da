//! Data pages: the page being built is encoded (levels, then dictionary ids
//! or plain values), compressed and kept with its bounds until the chunk closes.

use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::page::{CompressedPage, Page};
use parquet::errors::Result;

use super::levels::{hybrid, num_bits};
use super::{ColumnEncoder, Kind};

/// Minimum and maximum of the page being built.
pub(super) enum PageBounds {
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
pub(super) struct DonePage {
    pub(super) page: CompressedPage,
    pub(super) rows: usize,
    pub(super) nulls: usize,
    pub(super) bounds: Option<(Vec<u8>, Vec<u8>)>,
    pub(super) var_bytes: Option<i64>,
}

impl ColumnEncoder {
    /// Encodes, compresses and keeps the page being built.
    pub(super) fn flush_page(&mut self) -> Result<()> {
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
}
