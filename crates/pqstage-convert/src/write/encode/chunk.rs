//! Closing a column chunk: the dictionary page, then the data pages, written
//! out with the chunk's metadata, statistics, column index and offset index.

use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::Result;
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::properties::EnabledStatistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};

use super::dict::Dict;
use super::page::DonePage;
use super::stats::{chunk_statistics, truncate_max, truncate_min};
use super::{ColumnEncoder, Kind};

/// What the chunk's metadata and indexes say, gathered page by page.
struct ChunkSummary {
    kind: Kind,
    /// Whether pages get column index entries.
    page_stats: bool,
    encodings: Vec<Encoding>,
    encoding_stats: Vec<PageEncodingStats>,
    compressed: i64,
    uncompressed: i64,
    values: i64,
    dictionary_offset: Option<i64>,
    data_offset: Option<i64>,
    offsets: OffsetIndexBuilder,
    index: ColumnIndexBuilder,
    ascending: bool,
    descending: bool,
    /// The previous page's bounds, for the boundary order.
    last: Option<(Vec<u8>, Vec<u8>)>,
    /// The chunk's bounds so far.
    bounds: Option<(Vec<u8>, Vec<u8>)>,
    rows: u64,
    nulls: u64,
    var_bytes: i64,
}

impl ColumnEncoder {
    /// Finishes the chunk: its bytes (dictionary page, then data pages) and
    /// what `SerializedRowGroupWriter::append_column` needs to know about them.
    ///
    /// # Errors
    /// When compressing or serializing a page fails.
    pub fn close(mut self) -> Result<(Bytes, ColumnCloseResult)> {
        self.flush_page()?;
        let dict = self.dict.take().or(self.spent_dict.take());
        let mut sink = TrackedWrite::new(Vec::with_capacity(self.pages.iter().map(|p| p.page.data().len() + 32).sum()));
        let mut writer = SerializedPageWriter::new(&mut sink);
        let mut summary = ChunkSummary::new(self.kind, self.descr.physical_type(), self.statistics);
        if let Some(d) = &dict {
            self.write_dictionary_page(&mut writer, d, &mut summary)?;
        }
        for p in std::mem::take(&mut self.pages) {
            summary.data_page(&mut writer, p)?;
        }
        writer.close()?;
        let bytes_written = sink.bytes_written() as u64;
        let buf = sink.into_inner()?;
        let result = summary.finish(&self, bytes_written)?;
        Ok((Bytes::from(buf), result))
    }

    /// Writes the dictionary page, plain-encoded.
    fn write_dictionary_page(
        &mut self,
        writer: &mut SerializedPageWriter<'_, Vec<u8>>,
        d: &Dict,
        summary: &mut ChunkSummary,
    ) -> Result<()> {
        let raw = d.plain(self.kind);
        let size = raw.len();
        let buf = self.codec.compress(&raw)?;
        let page = Page::DictionaryPage {
            buf: Bytes::from(buf),
            num_values: d.len as u32,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let spec = writer.write_page(CompressedPage::new(page, size))?;
        summary.dictionary_offset = Some(spec.offset as i64);
        summary.compressed += spec.compressed_size as i64;
        summary.uncompressed += spec.uncompressed_size as i64;
        summary.encodings.push(Encoding::PLAIN);
        summary.encoding_stats.push(PageEncodingStats {
            page_type: PageType::DICTIONARY_PAGE,
            encoding: Encoding::PLAIN,
            count: 1,
        });
        Ok(())
    }
}

impl ChunkSummary {
    fn new(kind: Kind, physical: parquet::basic::Type, statistics: EnabledStatistics) -> Self {
        Self {
            kind,
            page_stats: statistics == EnabledStatistics::Page,
            encodings: vec![Encoding::RLE],
            encoding_stats: Vec::new(),
            compressed: 0,
            uncompressed: 0,
            values: 0,
            dictionary_offset: None,
            data_offset: None,
            offsets: OffsetIndexBuilder::new(),
            index: ColumnIndexBuilder::new(physical),
            ascending: true,
            descending: true,
            last: None,
            bounds: None,
            rows: 0,
            nulls: 0,
            var_bytes: 0,
        }
    }

    /// Writes one data page and adds it to the summary and the indexes.
    fn data_page(&mut self, writer: &mut SerializedPageWriter<'_, Vec<u8>>, p: DonePage) -> Result<()> {
        let encoding = p.page.encoding();
        let spec = writer.write_page(p.page)?;
        self.data_offset.get_or_insert(spec.offset as i64);
        self.compressed += spec.compressed_size as i64;
        self.uncompressed += spec.uncompressed_size as i64;
        self.values += spec.num_values as i64;
        if !self.encodings.contains(&encoding) {
            self.encodings.push(encoding);
        }
        match self.encoding_stats.last_mut() {
            Some(s) if s.page_type == PageType::DATA_PAGE && s.encoding == encoding => s.count += 1,
            _ => self.encoding_stats.push(PageEncodingStats { page_type: PageType::DATA_PAGE, encoding, count: 1 }),
        }
        self.offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offsets.append_row_count(p.rows as i64);
        self.offsets.append_unencoded_byte_array_data_bytes(p.var_bytes);
        self.rows += p.rows as u64;
        self.nulls += p.nulls as u64;
        self.var_bytes += p.var_bytes.unwrap_or(0);
        match p.bounds {
            None => self.index.append(true, Vec::new(), Vec::new(), p.nulls as i64),
            Some((lo, hi)) => self.bounded_page(lo, hi, p.nulls),
        }
        Ok(())
    }

    /// A page with values: its bounds go to the column index, the boundary
    /// order and the chunk's bounds.
    fn bounded_page(&mut self, lo: Vec<u8>, hi: Vec<u8>, nulls: usize) {
        let kind = self.kind;
        if let Some((plo, phi)) = &self.last {
            self.ascending &= kind.cmp(plo, &lo).is_le() && kind.cmp(phi, &hi).is_le();
            self.descending &= kind.cmp(plo, &lo).is_ge() && kind.cmp(phi, &hi).is_ge();
        }
        if self.page_stats {
            let (tlo, thi) = (truncate_min(kind, &lo).0, truncate_max(kind, &hi).0);
            self.index.append(false, tlo, thi, nulls as i64);
        }
        self.bounds = Some(match self.bounds.take() {
            None => (lo.clone(), hi.clone()),
            Some((clo, chi)) => (
                if kind.cmp(&lo, &clo).is_lt() { lo.clone() } else { clo },
                if kind.cmp(&hi, &chi).is_gt() { hi.clone() } else { chi },
            ),
        });
        self.last = Some((lo, hi));
    }

    /// The chunk's metadata and indexes, for `bytes_written` bytes of pages.
    fn finish(self, encoder: &ColumnEncoder, bytes_written: u64) -> Result<ColumnCloseResult> {
        let kind = self.kind;
        let mut meta = ColumnChunkMetaData::builder(encoder.descr.clone())
            .set_compression(encoder.compression)
            .set_encodings_mask(EncodingMask::new_from_encodings(self.encodings.iter()))
            .set_page_encoding_stats(self.encoding_stats)
            .set_total_compressed_size(self.compressed)
            .set_total_uncompressed_size(self.uncompressed)
            .set_num_values(self.values)
            .set_data_page_offset(self.data_offset.unwrap_or(0))
            .set_dictionary_page_offset(self.dictionary_offset);
        if encoder.statistics != EnabledStatistics::None {
            meta = meta
                .set_statistics(chunk_statistics(kind, self.bounds, self.nulls))
                .set_unencoded_byte_array_data_bytes((kind == Kind::Bytes).then_some(self.var_bytes));
        }
        let (ascending, descending, mut index) = (self.ascending, self.descending, self.index);
        let column_index = self.page_stats.then(|| {
            index.set_boundary_order(match (ascending, descending) {
                (true, _) => BoundaryOrder::ASCENDING,
                (false, true) => BoundaryOrder::DESCENDING,
                (false, false) => BoundaryOrder::UNORDERED,
            });
            index.build()
        });
        Ok(ColumnCloseResult {
            bytes_written,
            rows_written: self.rows,
            metadata: meta.build()?,
            bloom_filter: None,
            column_index: column_index.transpose()?,
            offset_index: Some(self.offsets.build()),
        })
    }
}
