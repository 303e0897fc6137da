//! Reading a source file and cutting it into chunks at record boundaries.
//!
//! A cut is made after a line break preceded by an even number of quote
//! characters (counted from the chunk's start, which is itself a record
//! boundary): under PostgreSQL's CSV rules exactly those line breaks end
//! records, so a quoted newline never splits a row. Counting quotes and line
//! breaks is done with SIMD (`memchr`), not byte by byte.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use pqstage_stage::manifest::Checksummer;

use super::chunk::Chunk;
use super::tokenize::{Table, Tokenizer};
use crate::error::ConvertError;

/// Longest record accepted; past it an open quote is reported as unterminated.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Size and checksum of a source, known once it is fully read.
#[derive(Debug, Clone)]
pub struct SourceStats {
    /// Bytes.
    pub size: u64,
    /// Checksum of all bytes.
    pub checksum: String,
}

/// Where the last record boundary in `buf` is: the offset just past the last
/// line break with an even number of quotes before it.
pub fn last_boundary(buf: &[u8], quote: u8) -> Option<usize> {
    let mut odd = memchr::memchr_iter(quote, buf).count() % 2 == 1;
    let mut end = buf.len();
    while let Some(i) = memchr::memrchr2(b'\n', quote, &buf[..end]) {
        if buf[i] == quote {
            odd = !odd;
        } else if !odd {
            return Some(i + 1);
        }
        end = i;
    }
    None
}

/// Offset of the quote that opened the still-open quoted section of `buf`.
fn open_quote(buf: &[u8], quote: u8) -> usize {
    let mut open = 0;
    let mut inside = false;
    for i in memchr::memchr_iter(quote, buf) {
        inside = !inside;
        if inside {
            open = i;
        }
    }
    open
}

/// How to read sources.
#[derive(Clone, Copy)]
pub struct ReadSettings<'a> {
    /// Whether the first line is a header to check.
    pub header: bool,
    /// Column names the header must have.
    pub expected: &'a [String],
    /// The dialect's tokenizer (for the header).
    pub tokenizer: &'a Tokenizer,
    /// Quote byte (for record boundaries).
    pub quote: u8,
    /// Bytes per chunk.
    pub chunk_size: usize,
}

struct Source {
    file: File,
    hasher: Checksummer,
    size: u64,
    eof: bool,
}

impl Source {
    /// Reads until `buf` holds `want` bytes or the file ends.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
        while buf.len() < want && !self.eof {
            let start = buf.len();
            // read_to_end fills spare capacity without zeroing it first.
            let n = (&mut self.file).take((want - start) as u64).read_to_end(buf)?;
            self.hasher.update(&buf[start..]);
            self.size += n as u64;
            self.eof = n == 0;
        }
        Ok(())
    }
}

/// Reads `path` and calls `emit` with each chunk (`seq` filled by the caller).
/// The header line, if the dialect has one, is checked against `expected`.
/// `emit` returns false to stop early.
///
/// # Errors
/// I/O errors, an empty or header-only file, a header that does not match,
/// and a quote that stays open past [`MAX_RECORD_BYTES`].
pub fn read_source(
    path: &Path,
    source: usize,
    settings: &ReadSettings<'_>,
    mut emit: impl FnMut(Chunk) -> bool,
) -> Result<SourceStats, ConvertError> {
    let ReadSettings { header, expected, tokenizer, quote, chunk_size } = *settings;
    let name: Arc<str> = path.display().to_string().into();
    let io = |e| ConvertError::io("reading", path)(e);
    let file = File::open(path).map_err(ConvertError::io("opening", path))?;
    let mut src = Source { file, hasher: Checksummer::new(), size: 0, eof: false };
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_size + (1 << 16));
    src.fill(&mut buf, chunk_size).map_err(io)?;
    if buf.is_empty() {
        return Err(ConvertError::EmptyFile(name.to_string()));
    }
    let mut line = 1u64;
    if header {
        let mut want = chunk_size;
        let cut = loop {
            if let Some(cut) = first_boundary(&buf, quote) {
                break cut;
            }
            if src.eof {
                break buf.len();
            }
            want += chunk_size;
            src.fill(&mut buf, want).map_err(io)?;
        };
        let (found, names) = header_fields(&buf[..cut], tokenizer, expected.len());
        check_header(&name, &names, found, expected)?;
        line += memchr::memchr_iter(b'\n', &buf[..cut]).count() as u64;
        buf.drain(..cut);
        src.fill(&mut buf, chunk_size).map_err(io)?;
        if buf.iter().all(|b| matches!(b, b'\n' | b'\r')) && src.eof {
            return Err(ConvertError::HeaderOnly(name.to_string()));
        }
    }
    loop {
        src.fill(&mut buf, chunk_size).map_err(io)?;
        if buf.is_empty() {
            break;
        }
        let cut = if src.eof {
            buf.len()
        } else {
            match last_boundary(&buf, quote) {
                Some(c) => c,
                None if buf.len() >= MAX_RECORD_BYTES => {
                    let at = open_quote(&buf, quote);
                    return Err(ConvertError::UnterminatedQuote {
                        path: name.to_string(),
                        line: line + memchr::memchr_iter(b'\n', &buf[..at]).count() as u64,
                        limit_mib: (MAX_RECORD_BYTES >> 20) as u64,
                    });
                }
                None => {
                    // One record longer than a chunk: read on until it ends.
                    let want = buf.len() + chunk_size;
                    src.fill(&mut buf, want).map_err(io)?;
                    continue;
                }
            }
        };
        let tail = buf[cut..].to_vec();
        buf.truncate(cut);
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let data = std::mem::replace(&mut buf, Vec::with_capacity(chunk_size + (1 << 16)));
        buf.extend_from_slice(&tail);
        if !emit(Chunk { seq: 0, source, source_name: name.clone(), first_line: line, data }) {
            break;
        }
        line += lines;
    }
    Ok(SourceStats { size: src.size, checksum: src.hasher.finish() })
}

/// The fields of a header record: how many there are, and the names of the
/// first `keep` of them (a byte-order mark before the first is dropped).
pub fn header_fields(record: &[u8], tokenizer: &Tokenizer, keep: usize) -> (usize, Vec<String>) {
    let mut t = Table::default();
    tokenizer.tokenize(record, keep.max(1), &mut t);
    let found = t.records.first().map_or(0, |r| r.fields as usize);
    let names = (0..found.min(keep))
        .map(|c| String::from_utf8_lossy(t.bytes(record, 0, c)).trim_start_matches('\u{feff}').to_string())
        .collect();
    (found, names)
}

/// The first record boundary of `buf` (just past the first line break outside quotes).
pub fn first_boundary(buf: &[u8], quote: u8) -> Option<usize> {
    let mut odd = false;
    for i in memchr::memchr2_iter(b'\n', quote, buf) {
        if buf[i] == quote {
            odd = !odd;
        } else if !odd {
            return Some(i + 1);
        }
    }
    None
}

fn check_header(path: &str, got: &[String], found: usize, expected: &[String]) -> Result<(), ConvertError> {
    let mismatch = |reason: String| Err(ConvertError::HeaderMismatch { path: path.to_string(), reason });
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        if g != e {
            return mismatch(format!("column {} is '{g}', the spec says '{e}'", i + 1));
        }
    }
    if found != expected.len() {
        return mismatch(format!("the header has {found} columns, the spec has {}", expected.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_respect_quotes() {
        assert_eq!(last_boundary(b"a,b\nc,\"x\ny\"\nd", b'"'), Some(12));
        assert_eq!(last_boundary(b"a,b\nc,\"x\ny", b'"'), Some(4));
        assert_eq!(last_boundary(b"c,\"x\ny", b'"'), None);
        assert_eq!(first_boundary(b"\"a\nb\",c\nd", b'"'), Some(8));
        assert_eq!(open_quote(b"a,\"b\",\"c\nd", b'"'), 6);
    }

    #[test]
    fn header_messages() {
        let e = |got: &[&str]| {
            let got: Vec<String> = got.iter().map(|s| s.to_string()).collect();
            check_header("f.csv", &got, got.len(), &["a".into(), "b".into()]).unwrap_err().to_string()
        };
        assert_eq!(e(&["a", "c"]), "f.csv: header does not match the spec: column 2 is 'c', the spec says 'b'");
        assert_eq!(e(&["a"]), "f.csv: header does not match the spec: the header has 1 columns, the spec has 2");
        let (found, names) = header_fields("\u{feff}a,b\n".as_bytes(), &Tokenizer::new(b',', b'"'), 2);
        assert_eq!((found, names), (2, vec!["a".to_string(), "b".to_string()]));
    }
}
