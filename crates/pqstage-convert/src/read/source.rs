//! Opening a source: what its bytes are, and a reader of its text as UTF-8.
//!
//! A source is recognized by its content, not its name:
//!
//! - gzip, bzip2 and zstd streams (concatenated members too) are
//!   decompressed on the fly, in constant memory;
//! - zip, xz, Parquet and other binary files are refused with what they are;
//! - a UTF-8 byte-order mark is dropped; a UTF-16 one selects UTF-16 (either
//!   byte order), which is transcoded to UTF-8 as it is read, as are Latin-1
//!   and Windows-1252 when the dialect or `--encoding` says so; UTF-32 is
//!   refused;
//! - a file whose line breaks are bare CRs (old Mac and some Excel exports)
//!   has them read as LF, except inside quotes, where they are data.
//!
//! Checksums and sizes are of the bytes as stored (what a rerun compares);
//! lines are counted in the text, and match the file's lines whatever the
//! encoding or compression.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Chain, Cursor, Read};
use std::path::Path;
use std::rc::Rc;

use pqstage_spec::Encoding;
use pqstage_stage::manifest::Checksummer;

use super::filters::{bare_cr_lines, CommentLines, CrLines, Transcoding};
use crate::error::ConvertError;

/// Bytes looked at to recognize a file (compression, encoding, line breaks).
pub(super) const SNIFF_BYTES: usize = 64 << 10;

/// How a source's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`.gz`).
    Gzip,
    /// bzip2 (`.bz2`).
    Bzip2,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Bzip2 => "bzip2",
            Self::Zstd => "zstd",
        }
    }
}

/// What a source turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recognized {
    /// Its compression, if any.
    pub compression: Option<Compression>,
    /// The encoding its text is read in.
    pub encoding: Encoding,
    /// Whether bare CRs end its lines.
    pub cr_lines: bool,
}

impl std::fmt::Display for Recognized {
    /// `gzip, utf-16le, CR line breaks`; `utf-8` for plain text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(c) = self.compression {
            write!(f, "{}, ", c.name())?;
        }
        write!(f, "{}", self.encoding)?;
        if self.cr_lines {
            f.write_str(", CR line breaks")?;
        }
        Ok(())
    }
}

/// The raw bytes read so far: their checksum and count.
#[derive(Default)]
struct Raw {
    hasher: Checksummer,
    bytes: u64,
}

/// Hashes and counts the stored bytes as they are read.
struct Hashing {
    file: File,
    raw: Rc<RefCell<Raw>>,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let mut raw = self.raw.borrow_mut();
        raw.hasher.update(&buf[..n]);
        raw.bytes += n as u64;
        Ok(n)
    }
}

/// The checksum of a file's stored bytes, as a convert records its sources'.
///
/// # Errors
/// Reading the file.
pub fn file_checksum(path: &std::path::Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Checksummer::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hasher.finish()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// An open source: read its text with [`Read`].
pub struct Source {
    reader: Box<dyn Read>,
    raw: Rc<RefCell<Raw>>,
    /// What the source is.
    pub recognized: Recognized,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Source {
    /// Stored bytes read so far.
    pub fn raw_bytes(&self) -> u64 {
        self.raw.borrow().bytes
    }

    /// Checksum of the stored bytes read so far.
    pub fn checksum(&self) -> String {
        self.raw.borrow().hasher.finish()
    }
}

/// Reads into `buf` until it holds `want` bytes or `r` ends; true at the
/// end. `read_to_end` fills spare capacity without zeroing it first.
pub fn fill(r: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    while buf.len() < want {
        if r.by_ref().take((want - buf.len()) as u64).read_to_end(buf)? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `head` read from `r`, put back in front of the rest.
fn put_back<R: Read>(head: Vec<u8>, r: R) -> Chain<Cursor<Vec<u8>>, R> {
    Cursor::new(head).chain(r)
}

/// What a file that is not CSV text is, from its first bytes.
fn binary_kind(head: &[u8]) -> Option<&'static str> {
    const KINDS: &[(&[u8], &str)] = &[
        (b"PK\x03\x04", "a zip archive (unzip it first; pqstage reads gzip, bzip2 and zstd streams)"),
        (b"\xfd7zXZ\x00", "xz-compressed (pqstage reads gzip, bzip2 and zstd streams: recompress or unxz it first)"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
        (b"PAR1", "a Parquet file, not CSV"),
        (b"%PDF-", "a PDF document, not CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel (.xls) workbook, not CSV (export it as CSV first)"),
        (b"SQLite format 3\x00", "an SQLite database, not CSV"),
        (b"\x89PNG", "a PNG image, not CSV"),
    ];
    KINDS.iter().find(|(magic, _)| head.starts_with(magic)).map(|(_, kind)| *kind)
}

fn compression_of(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Some(Compression::Bzip2)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else {
        None
    }
}

/// Turns a decompressor's errors into data errors that say which stream failed.
struct Decompressing<R> {
    inner: R,
    kind: Compression,
}

impl<R: Read> Read for Decompressing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the {} stream is corrupt or truncated ({e})", self.kind.name()),
            )
        })
    }
}

fn decompress(kind: Compression, r: impl Read + 'static) -> io::Result<Box<dyn Read>> {
    let inner: Box<dyn Read> = match kind {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
    };
    Ok(Box::new(Decompressing { inner, kind }))
}

/// The encoding a byte-order mark announces, and the mark's length.
fn bom(head: &[u8]) -> Option<(Result<Encoding, &'static str>, usize)> {
    if head.starts_with(&[0xff, 0xfe, 0, 0]) || head.starts_with(&[0, 0, 0xfe, 0xff]) {
        return Some((Err("UTF-32"), 4));
    }
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        Some((Ok(Encoding::Utf8), 3))
    } else if head.starts_with(&[0xff, 0xfe]) {
        Some((Ok(Encoding::Utf16Le), 2))
    } else if head.starts_with(&[0xfe, 0xff]) {
        Some((Ok(Encoding::Utf16Be), 2))
    } else {
        None
    }
}

/// A short, printable form of bytes: text as is, other bytes as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\0' {
                out.push_str("\\x00");
            } else {
                out.push(c);
            }
        }
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02X}"));
        }
    }
    out
}

/// A data error about the source `name`.
fn refused(name: &str, reason: impl Into<String>) -> ConvertError {
    ConvertError::Unreadable { path: name.to_string(), reason: reason.into() }
}

/// Maps an error while reading `name`: a malformed stream is the data's
/// fault, anything else the system's.
pub fn read_error(name: &str, path: &Path, e: io::Error) -> ConvertError {
    if e.kind() == io::ErrorKind::InvalidData {
        refused(name, e.to_string())
    } else {
        ConvertError::io("reading", path)(e)
    }
}

/// Opens `path` (shown as `name`) and recognizes its compression, encoding
/// and line breaks. `encoding` is the dialect's, unless a byte-order mark
/// says otherwise; `quote` is the dialect's quote (CRs inside quotes are
/// data); lines starting with `comment` read as blank lines.
///
/// # Errors
/// [`ConvertError::Unreadable`] for archives, binary files, UTF-32 text and
/// corrupt streams; [`ConvertError::Io`] when the file cannot be read.
pub fn open(
    path: &Path,
    name: &str,
    encoding: Encoding,
    quote: u8,
    comment: Option<u8>,
) -> Result<Source, ConvertError> {
    let io = |e: io::Error| read_error(name, path, e);
    let file = File::open(path).map_err(ConvertError::io("opening", path))?;
    let raw = Rc::new(RefCell::new(Raw::default()));
    let mut hashing = Hashing { file, raw: raw.clone() };
    let mut head = Vec::with_capacity(16);
    fill(&mut hashing, &mut head, 16).map_err(io)?;
    let compression = compression_of(&head);
    let mut reader: Box<dyn Read> = Box::new(put_back(head, hashing));
    if let Some(kind) = compression {
        reader = decompress(kind, reader).map_err(io)?;
    }
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    fill(&mut reader, &mut head, SNIFF_BYTES).map_err(io)?;
    if let Some(kind) = binary_kind(&head) {
        let what = match compression {
            Some(c) => format!("holds {} ({} inside)", kind, c.name()),
            None => format!("is {kind}"),
        };
        return Err(refused(name, what));
    }
    let mut effective = encoding;
    if let Some((found, len)) = bom(&head) {
        match found {
            Err(what) => {
                return Err(refused(
                    name,
                    format!("is {what} text (by its byte-order mark), which pqstage does not read: convert it to UTF-8 first (iconv -f {what} -t UTF-8)"),
                ))
            }
            Ok(e) => {
                effective = e;
                head.drain(..len);
            }
        }
    } else if effective == Encoding::Utf16 {
        effective = Encoding::Utf16Le;
    }
    let mut reader: Box<dyn Read> = match effective {
        Encoding::Utf8 => Box::new(put_back(head, reader)),
        other => Box::new(Transcoding::new(put_back(head, reader), other)),
    };
    // Look at the text: NULs in its first line mean it is not CSV text (or
    // UTF-16 without a mark); bare CRs may end its lines.
    let mut text = Vec::with_capacity(SNIFF_BYTES);
    fill(&mut reader, &mut text, SNIFF_BYTES).map_err(io)?;
    let first_line = &text[..memchr::memchr(b'\n', &text).unwrap_or(text.len())];
    if let Some(at) = memchr::memchr(0, first_line) {
        let utf16 = text.len() >= 4 && ((text[0] != 0 && text[1] == 0) || (text[0] == 0 && text[1] != 0));
        let hint = if utf16 {
            "; it looks like UTF-16 without a byte-order mark: pass --encoding utf-16le (or utf-16be), or set dialect.encoding"
        } else {
            ": a binary file, not CSV text"
        };
        return Err(refused(name, format!("has a NUL byte in its first line (byte {}){hint}", at + 1)));
    }
    let cr_lines = bare_cr_lines(&text);
    let mut reader: Box<dyn Read> =
        if cr_lines { Box::new(CrLines::new(put_back(text, reader), quote)) } else { Box::new(put_back(text, reader)) };
    if let Some(comment) = comment {
        reader = Box::new(CommentLines::new(reader, comment, quote));
    }
    Ok(Source { reader, raw, recognized: Recognized { compression, encoding: effective, cr_lines } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(bytes: &[u8], encoding: Encoding) -> Result<(String, Recognized, u64), String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        std::fs::write(&p, bytes).unwrap();
        let mut s = open(&p, "f.csv", encoding, b'"', None).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).map_err(|e| read_error("f.csv", &p, e).to_string())?;
        assert_eq!(s.checksum(), pqstage_stage::manifest::checksum(bytes), "checksum of the stored bytes");
        Ok((String::from_utf8(out).unwrap(), s.recognized, s.raw_bytes()))
    }

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        let mut v = if le { vec![0xff, 0xfe] } else { vec![0xfe, 0xff] };
        for u in s.encode_utf16() {
            v.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        v
    }

    const TEXT: &str = "a,b\n1,é€\n2,\"x\r\ny\"\n";

    #[test]
    fn compressed_sources_are_read_by_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&TEXT.as_bytes()[..5]).unwrap();
        let mut gz = gz.finish().unwrap();
        // A second gzip member, as `cat a.gz b.gz` makes.
        let mut more = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        more.write_all(&TEXT.as_bytes()[5..]).unwrap();
        gz.extend(more.finish().unwrap());
        let (t, r, n) = read_all(&gz, Encoding::Utf8).unwrap();
        assert_eq!((t.as_str(), r.compression, n), (TEXT, Some(Compression::Gzip), gz.len() as u64));

        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(TEXT.as_bytes()).unwrap();
        let (t, r, _) = read_all(&bz.finish().unwrap(), Encoding::Utf8).unwrap();
        assert_eq!((t.as_str(), r.compression), (TEXT, Some(Compression::Bzip2)));

        let zst = zstd::encode_all(TEXT.as_bytes(), 3).unwrap();
        let (t, r, _) = read_all(&zst, Encoding::Utf8).unwrap();
        assert_eq!((t.as_str(), r.compression), (TEXT, Some(Compression::Zstd)));

        let cut = &gz[..gz.len() - 9];
        let e = read_all(cut, Encoding::Utf8).unwrap_err();
        assert!(e.starts_with("f.csv: the gzip stream is corrupt or truncated ("), "{e}");
    }

    #[test]
    fn encodings_are_transcoded_and_marks_dropped() {
        for le in [true, false] {
            let (t, r, _) = read_all(&utf16(TEXT, le), Encoding::Utf8).unwrap();
            assert_eq!(t, TEXT);
            assert_eq!(r.encoding, if le { Encoding::Utf16Le } else { Encoding::Utf16Be });
        }
        let mut bom8 = vec![0xef, 0xbb, 0xbf];
        bom8.extend_from_slice(TEXT.as_bytes());
        assert_eq!(read_all(&bom8, Encoding::Utf8).unwrap().0, TEXT);
        // Latin-1 is exact: 0x80 is U+0080; Windows-1252 makes it the euro sign.
        let bytes = b"a\n\xe9\x80\n";
        assert_eq!(read_all(bytes, Encoding::Latin1).unwrap().0, "a\n\u{e9}\u{80}\n");
        assert_eq!(read_all(bytes, Encoding::Windows1252).unwrap().0, "a\n\u{e9}\u{20ac}\n");
        // UTF-16 without a mark, when the user says so.
        let no_bom = &utf16(TEXT, true)[2..];
        assert_eq!(read_all(no_bom, Encoding::Utf16).unwrap().0, TEXT);
        let e = read_all(no_bom, Encoding::Utf8).unwrap_err();
        assert_eq!(e, "f.csv: has a NUL byte in its first line (byte 2); it looks like UTF-16 without a byte-order mark: pass --encoding utf-16le (or utf-16be), or set dialect.encoding");
        let mut bad = utf16("a\nb\n", true);
        bad.extend_from_slice(&0xd800u16.to_le_bytes());
        bad.extend_from_slice(&utf16("x\n", true)[2..]);
        assert_eq!(
            read_all(&bad, Encoding::Utf8).unwrap_err(),
            "f.csv: line 3: the text is not valid utf-16le (a malformed or unpaired code unit)"
        );
        let e = read_all(&[0xff, 0xfe, 0, 0, b'a', 0, 0, 0], Encoding::Utf8).unwrap_err();
        assert!(e.starts_with("f.csv: is UTF-32 text (by its byte-order mark)"), "{e}");
    }

    #[test]
    fn binary_files_are_named_for_what_they_are() {
        assert_eq!(
            read_all(b"PK\x03\x04rest", Encoding::Utf8).unwrap_err(),
            "f.csv: is a zip archive (unzip it first; pqstage reads gzip, bzip2 and zstd streams)"
        );
        let zst = zstd::encode_all(&b"PAR1xxxx"[..], 1).unwrap();
        assert_eq!(read_all(&zst, Encoding::Utf8).unwrap_err(), "f.csv: holds a Parquet file, not CSV (zstd inside)");
        assert_eq!(
            read_all(b"\x01\x02\x00\x07", Encoding::Utf8).unwrap_err(),
            "f.csv: has a NUL byte in its first line (byte 3): a binary file, not CSV text"
        );
    }

    #[test]
    fn bare_cr_line_breaks_are_read_as_lf_outside_quotes() {
        let (t, r, _) = read_all(b"a,b\r1,\"x\ry\"\r2,z\r", Encoding::Utf8).unwrap();
        assert_eq!((t.as_str(), r.cr_lines), ("a,b\n1,\"x\ry\"\n2,z\n", true));
        let (t, r, _) = read_all(b"a,b\r\n1,2\r\n", Encoding::Utf8).unwrap();
        assert_eq!((t.as_str(), r.cr_lines), ("a,b\r\n1,2\r\n", false));
    }

    #[test]
    fn comment_lines_read_as_blank_lines_outside_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        std::fs::write(&p, "# a \"note\nid,v\n1,\"x\n# not a comment\"\n#2,y\n3,z # kept\n").unwrap();
        let mut out = String::new();
        open(&p, "c.csv", Encoding::Utf8, b'"', Some(b'#')).unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out, "\nid,v\n1,\"x\n# not a comment\"\n\n3,z # kept\n");
        // One byte at a time: the state carries across reads.
        let mut one = open(&p, "c.csv", Encoding::Utf8, b'"', Some(b'#')).unwrap();
        let (mut bytes, mut b) = (Vec::new(), [0u8; 1]);
        while one.read(&mut b).unwrap() == 1 {
            bytes.push(b[0]);
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), out);
    }

    #[test]
    fn escapes_show_bytes_that_are_not_text() {
        assert_eq!(escape_bytes(b"caf\xe9 ok\x00 \xc3\xa9"), "caf\\xE9 ok\\x00 é");
    }
}
