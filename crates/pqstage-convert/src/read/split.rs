//! Reading a source file and cutting it into chunks at record boundaries.
//!
//! A cut is made after a line break preceded by an even number of quote
//! characters (counted from the chunk's start, which is itself a record
//! boundary): under PostgreSQL's CSV rules exactly those line breaks end
//! records, so a quoted newline never splits a row. Counting quotes and line
//! breaks is done with SIMD (`memchr`), not byte by byte.

use std::path::Path;
use std::sync::Arc;

use pqstage_spec::Encoding;

use super::chunk::Chunk;
use super::source::{self, fill, Source};
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
    /// Why the source adds no rows (it is empty, or only a header), if so.
    pub no_rows: Option<&'static str>,
    /// What the source turned out to be (compression, encoding, line breaks).
    pub recognized: source::Recognized,
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

impl SourceStats {
    fn without_rows(src: &Source, why: &'static str) -> Self {
        Self { size: src.raw_bytes(), checksum: src.checksum(), no_rows: Some(why), recognized: src.recognized }
    }
}

/// Why `buf`, [`MAX_RECORD_BYTES`] from line `line` on without a record
/// boundary, is refused: a quote that never closes (named where it
/// opened), or a record with no line break at all.
fn too_long(name: &str, line: u64, buf: &[u8], quote: u8) -> ConvertError {
    let (path, limit_mib) = (name.to_string(), (MAX_RECORD_BYTES >> 20) as u64);
    if memchr::memchr_iter(quote, buf).count() % 2 == 0 {
        return ConvertError::RecordTooLong { path, line, limit_mib };
    }
    let at = open_quote(buf, quote);
    ConvertError::UnterminatedQuote {
        path,
        line: line + memchr::memchr_iter(b'\n', &buf[..at]).count() as u64,
        limit_mib,
    }
}

/// How to read sources.
#[derive(Clone, Copy)]
pub struct ReadSettings<'a> {
    /// Whether the first line is a header to check.
    pub header: bool,
    /// Header texts the header must have (the spec's, in file order).
    pub expected: &'a [String],
    /// The dialect's tokenizer (for the header).
    pub tokenizer: &'a Tokenizer,
    /// Quote byte (for record boundaries).
    pub quote: u8,
    /// The dialect's encoding (a byte-order mark overrides it).
    pub encoding: Encoding,
    /// Lines before the table to skip.
    pub skip_lines: u32,
    /// The dialect's comment byte.
    pub comment: Option<u8>,
    /// Bytes per chunk.
    pub chunk_size: usize,
}

/// Line breaks that open `buf` (blank lines before a header): their length
/// and count.
pub fn leading_blank_lines(buf: &[u8]) -> (usize, u64) {
    let (mut at, mut lines) = (0, 0);
    loop {
        match buf[at..] {
            [b'\n', ..] => at += 1,
            [b'\r', b'\n', ..] => at += 2,
            _ => return (at, lines),
        }
        lines += 1;
    }
}

/// Reads the source `path` (named `name` in messages) and calls `emit` with
/// each chunk (`seq` filled by the caller). The header line, if the dialect
/// has one, is checked against `expected`; blank lines before it are
/// skipped, as are the dialect's `skip_lines` before them. `emit` returns
/// false to stop early. An empty or header-only source emits nothing and
/// says so in `no_rows`.
///
/// # Errors
/// I/O errors, a source that is not CSV text, a header that
/// does not match, and a record that does not end within [`MAX_RECORD_BYTES`].
pub fn read_source(
    path: &Path,
    name: &str,
    source: usize,
    settings: &ReadSettings<'_>,
    mut emit: impl FnMut(Chunk) -> bool,
) -> Result<SourceStats, ConvertError> {
    let ReadSettings { header, expected, tokenizer, quote, encoding, skip_lines, comment, chunk_size } = *settings;
    let name: Arc<str> = name.into();
    let io = |e| source::read_error(&name, path, e);
    let mut src = source::open(path, &name, encoding, quote, comment)?;
    let mut buf: Vec<u8> = Vec::with_capacity(chunk_size + (1 << 16));
    let mut eof = fill(&mut src, &mut buf, chunk_size).map_err(io)?;
    let mut line = 1u64;
    let mut want = chunk_size;
    while line <= u64::from(skip_lines) {
        match memchr::memchr(b'\n', &buf) {
            Some(at) => {
                buf.drain(..=at);
                line += 1;
            }
            None if eof => {
                buf.clear();
                break;
            }
            None if buf.len() >= MAX_RECORD_BYTES => {
                let limit_mib = (MAX_RECORD_BYTES >> 20) as u64;
                return Err(ConvertError::RecordTooLong { path: name.to_string(), line, limit_mib });
            }
            None => {
                want = buf.len() + chunk_size;
                eof = fill(&mut src, &mut buf, want).map_err(io)?;
            }
        }
    }
    eof = fill(&mut src, &mut buf, chunk_size.max(want)).map_err(io)? || eof;
    if header {
        let (skip, blank) = leading_blank_lines(&buf);
        if skip == buf.len() && eof {
            return Ok(SourceStats::without_rows(&src, "is empty: it adds no rows"));
        }
        buf.drain(..skip);
        line += blank;
        let cut = loop {
            if let Some(cut) = first_boundary(&buf, quote) {
                break cut;
            }
            if eof {
                break buf.len();
            }
            if buf.len() >= MAX_RECORD_BYTES {
                return Err(too_long(&name, line, &buf, quote));
            }
            want = buf.len() + chunk_size;
            eof = fill(&mut src, &mut buf, want).map_err(io)?;
        };
        let (found, names) = header_fields(&buf[..cut], tokenizer, expected.len() + HEADER_EXTRA);
        let names = header_text(&name, line, names)?;
        check_header(&name, line, &names, found, expected)?;
        line += memchr::memchr_iter(b'\n', &buf[..cut]).count() as u64;
        buf.drain(..cut);
        eof = fill(&mut src, &mut buf, chunk_size).map_err(io)?;
        if buf.iter().all(|b| matches!(b, b'\n' | b'\r')) && eof {
            return Ok(SourceStats::without_rows(&src, "has a header but no data rows: it adds none"));
        }
    } else if buf.is_empty() {
        return Ok(SourceStats::without_rows(&src, "is empty: it adds no rows"));
    }
    // Stored bytes read and not yet counted in a chunk (progress).
    let mut raw_counted = 0;
    loop {
        eof = fill(&mut src, &mut buf, chunk_size).map_err(io)? || eof;
        if buf.is_empty() {
            break;
        }
        let cut = if eof {
            buf.len()
        } else {
            match last_boundary(&buf, quote) {
                Some(c) => c,
                None if buf.len() >= MAX_RECORD_BYTES => return Err(too_long(&name, line, &buf, quote)),
                None => {
                    // One record longer than a chunk: read on until it ends.
                    let want = buf.len() + chunk_size;
                    eof = fill(&mut src, &mut buf, want).map_err(io)?;
                    continue;
                }
            }
        };
        let tail = buf[cut..].to_vec();
        buf.truncate(cut);
        let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
        let data = std::mem::replace(&mut buf, Vec::with_capacity(chunk_size + (1 << 16)));
        buf.extend_from_slice(&tail);
        let raw_bytes = src.raw_bytes() - raw_counted;
        raw_counted = src.raw_bytes();
        if !emit(Chunk { seq: 0, source, source_name: name.clone(), first_line: line, raw_bytes, data }) {
            break;
        }
        line += lines;
    }
    Ok(SourceStats { size: src.raw_bytes(), checksum: src.checksum(), no_rows: None, recognized: src.recognized })
}

/// The fields of a header record: how many there are, and the bytes of the
/// first `keep` of them.
pub fn header_fields(record: &[u8], tokenizer: &Tokenizer, keep: usize) -> (usize, Vec<Vec<u8>>) {
    let mut t = Table::default();
    tokenizer.tokenize(record, keep.max(1), &mut t);
    let found = t.records.first().map_or(0, |r| r.fields as usize);
    let names = (0..found.min(keep)).map(|c| t.bytes(record, 0, c).to_vec()).collect();
    (found, names)
}

/// Header cells as text; a cell that is not UTF-8 refuses the file, with
/// the bytes shown and the encodings that may fit.
pub fn header_text(path: &str, line: u64, cells: Vec<Vec<u8>>) -> Result<Vec<String>, ConvertError> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            String::from_utf8(c).map_err(|e| ConvertError::BadHeader {
                path: path.to_string(),
                line,
                reason: format!(
                    "header cell {} '{}' is not valid UTF-8: if the file is Latin-1 or Windows-1252, pass --encoding latin-1 (or windows-1252), or set dialect.encoding",
                    i + 1,
                    source::escape_bytes(e.as_bytes())
                ),
            })
        })
        .collect()
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

/// Header cells kept past the spec's columns, to name the columns a file gained.
const HEADER_EXTRA: usize = 64;

/// Refuses a header that is not the spec's, saying what changed: columns
/// the file gained (and how to take them), columns it lost, or an order
/// that differs.
fn check_header(path: &str, line: u64, got: &[String], found: usize, expected: &[String]) -> Result<(), ConvertError> {
    if found == expected.len() && got == expected {
        return Ok(());
    }
    let mismatch = |reason: String| Err(ConvertError::HeaderMismatch { path: path.to_string(), line, reason });
    let quoted = |v: &[(usize, &String)]| {
        v.iter().map(|(i, n)| format!("'{n}' (column {})", i + 1)).collect::<Vec<_>>().join(", ")
    };
    let gained: Vec<(usize, &String)> = got.iter().enumerate().filter(|(_, g)| !expected.contains(g)).collect();
    let lost: Vec<(usize, &String)> = expected.iter().enumerate().filter(|(_, e)| !got.contains(e)).collect();
    let more = if found > got.len() { format!(" and {} more", found - got.len()) } else { String::new() };
    if let Some((i, g)) = gained.iter().find(|(i, g)| expected.get(*i).is_some_and(|e| e.eq_ignore_ascii_case(g))) {
        return mismatch(format!(
            "column {} is '{g}', the spec says '{}': names are matched exactly, case included",
            i + 1,
            expected[*i]
        ));
    }
    if !got.is_empty() && got.iter().all(|g| !expected.contains(g)) {
        return mismatch(format!(
            "none of the spec's columns is in it (column 1 is '{}', the spec's is '{}'): a title or notes above the \
             header? --skip-lines N (or dialect.skip_lines) skips them; else the file holds another table",
            got[0],
            expected.first().map_or("", String::as_str)
        ));
    }
    match (gained.is_empty() && more.is_empty(), lost.is_empty()) {
        (false, true) => {
            let first = gained.first().map_or("NAME", |(_, n)| n.as_str());
            mismatch(format!(
                "the file has columns the spec does not: {}{more}. To take a new column, add it to the spec as nullable \
                 ([[columns]] name = \"{first}\", type = \"text\" or what `pqstage infer {path}` finds, nullable = true, \
                 in the file's order) and convert again: loads then add it to their tables (ALTER TABLE ... ADD COLUMN) \
                 and reload each partition; to leave it out, remove it from the file",
                quoted(&gained)
            ))
        }
        (true, false) => mismatch(format!(
            "the file lacks the spec's columns {}. If the source no longer has them, remove them from the spec \
             (a table already loaded keeps them: drop them there, or load into a new table); if they are only empty \
             now, the file must still have them, empty",
            quoted(&lost)
        )),
        (false, false) => mismatch(format!(
            "the file has columns the spec does not ({}{more}) and lacks some it has ({}): renamed? \
             Name them as the spec does, or change the spec (a renamed column is a column lost and one gained)",
            quoted(&gained),
            quoted(&lost)
        )),
        (true, true) => match got.iter().zip(expected).enumerate().find(|(_, (g, e))| g != e) {
            Some((i, (g, e))) => mismatch(format!(
                "the file has the spec's columns in another order: column {} is '{g}', the spec says '{e}'; \
                 order the spec's [[columns]] as the file has them",
                i + 1
            )),
            // The same names, one of them twice.
            None => match got.iter().enumerate().find(|(i, g)| got[..*i].contains(g)) {
                Some((i, g)) => mismatch(format!(
                    "column {} repeats the name '{g}' (column {}): each column needs a name of its own",
                    i + 1,
                    got.iter().position(|x| x == g).expect("seen before") + 1
                )),
                None => mismatch(format!("the header has {found} columns, the spec has {}", expected.len())),
            },
        },
    }
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
            check_header("f.csv", 1, &got, got.len(), &["a".into(), "b".into()]).unwrap_err().to_string()
        };
        let head = "f.csv line 1: header does not match the spec: ";
        assert!(e(&["a", "c"]).starts_with(&format!("{head}the file has columns the spec does not ('c' (column 2)) and lacks some it has ('b' (column 2)): renamed?")));
        assert!(
            e(&["a"]).starts_with(&format!("{head}the file lacks the spec's columns 'b' (column 2). If the source"))
        );
        let gained = e(&["a", "b", "c"]);
        assert!(
            gained.starts_with(&format!("{head}the file has columns the spec does not: 'c' (column 3). To take")),
            "{gained}"
        );
        assert!(gained.contains("[[columns]] name = \"c\"") && gained.contains("pqstage infer f.csv"), "{gained}");
        assert_eq!(
            e(&["a", "b", "b"]),
            format!("{head}column 3 repeats the name 'b' (column 2): each column needs a name of its own")
        );
        assert!(e(&["A", "B"]).contains("column 1 is 'A', the spec says 'a': names are matched exactly, case included"));
        assert_eq!(e(&["b", "a"]), format!("{head}the file has the spec's columns in another order: column 1 is 'b', the spec says 'a'; order the spec's [[columns]] as the file has them"));
        let (found, names) = header_fields(b"a,\"b\"\"\"\n", &Tokenizer::new(b',', b'"'), 2);
        assert_eq!((found, names), (2, vec![b"a".to_vec(), b"b\"".to_vec()]));
        let e = header_text("f.csv", 3, vec![b"ok".to_vec(), b"caf\xe9".to_vec()]).unwrap_err().to_string();
        assert_eq!(e, "f.csv line 3: header cell 2 'caf\\xE9' is not valid UTF-8: if the file is Latin-1 or Windows-1252, pass --encoding latin-1 (or windows-1252), or set dialect.encoding");
        assert_eq!(leading_blank_lines(b"\n\r\n\na,b\n"), (4, 3));
        assert_eq!(leading_blank_lines(b"a\n"), (0, 0));
    }
}
