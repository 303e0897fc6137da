//! Page compression.

use parquet::basic::Compression;
use parquet::compression::{create_codec, Codec, CodecOptions};
use parquet::errors::Result;

/// Compresses pages. zstd, the default, goes through a context and an output
/// buffer kept per thread, so a page costs neither a new context (as a column
/// encoder per row group would) nor a worst-case-sized allocation; the result
/// is copied out at its exact size, since a row group's pages wait in memory
/// until it closes. The bytes are those of parquet's own zstd codec (the same
/// library call at the same level). Other codecs use parquet's.
pub(super) enum PageCodec {
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
    pub(super) fn new(compression: Compression) -> Result<Self> {
        Ok(match compression {
            Compression::UNCOMPRESSED => Self::None,
            Compression::ZSTD(level) => Self::Zstd(level.compression_level()),
            c => Self::Other(create_codec(c, &CodecOptions::default())?.expect("a compressing codec")),
        })
    }

    pub(super) fn compress(&mut self, raw: &[u8]) -> Result<Vec<u8>> {
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
