//! Byte streams a source's text passes through on its way to the splitter:
//! transcoding to UTF-8, bare CR line breaks read as LF, comment lines
//! blanked. Each keeps the line count of the file, so positions in messages
//! stay the file's.

use std::io::{self, Read};

use pqstage_spec::Encoding;

use super::source::{fill, SNIFF_BYTES};

/// Text in another encoding, read as UTF-8.
pub(super) struct Transcoding<R> {
    inner: R,
    /// `None`: Latin-1, which maps each byte to the code point of its value.
    decoder: Option<encoding_rs::Decoder>,
    encoding: Encoding,
    input: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    done: bool,
    /// Line breaks given out so far (for the position of a malformed sequence).
    lines: u64,
}

impl<R: Read> Transcoding<R> {
    pub(super) fn new(inner: R, encoding: Encoding) -> Self {
        let decoder = match encoding {
            Encoding::Utf16Le | Encoding::Utf16 => Some(encoding_rs::UTF_16LE.new_decoder_without_bom_handling()),
            Encoding::Utf16Be => Some(encoding_rs::UTF_16BE.new_decoder_without_bom_handling()),
            Encoding::Windows1252 => Some(encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling()),
            Encoding::Latin1 | Encoding::Utf8 => None,
        };
        Self { inner, decoder, encoding, input: Vec::new(), out: Vec::new(), at: 0, done: false, lines: 0 }
    }

    /// Decodes the next block of input into `out`.
    fn refill(&mut self) -> io::Result<()> {
        self.input.clear();
        self.out.clear();
        self.at = 0;
        fill(&mut self.inner, &mut self.input, SNIFF_BYTES)?;
        let last = self.input.is_empty();
        match &mut self.decoder {
            None => {
                for &b in &self.input {
                    if b < 0x80 {
                        self.out.push(b);
                    } else {
                        self.out.extend_from_slice(char::from(b).encode_utf8(&mut [0; 2]).as_bytes());
                    }
                }
            }
            Some(d) => {
                let cap = d.max_utf8_buffer_length_without_replacement(self.input.len()).unwrap_or(4 * SNIFF_BYTES);
                self.out.resize(cap.max(16), 0);
                let (res, _read, written) = d.decode_to_utf8_without_replacement(&self.input, &mut self.out, last);
                self.out.truncate(written);
                if let encoding_rs::DecoderResult::Malformed(..) = res {
                    let line = self.lines + memchr::memchr_iter(b'\n', &self.out).count() as u64 + 1;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "line {line}: the text is not valid {} (a malformed or unpaired code unit)",
                            self.encoding
                        ),
                    ));
                }
            }
        }
        self.lines += memchr::memchr_iter(b'\n', &self.out).count() as u64;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Transcoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads bare CR line breaks as LF; a CR inside quotes is data and stays.
pub(super) struct CrLines<R> {
    inner: R,
    quote: u8,
    inside: bool,
}

impl<R> CrLines<R> {
    pub(super) fn new(inner: R, quote: u8) -> Self {
        Self { inner, quote, inside: false }
    }
}

impl<R: Read> Read for CrLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for b in &mut buf[..n] {
            if *b == self.quote {
                self.inside = !self.inside;
            } else if *b == b'\r' && !self.inside {
                *b = b'\n';
            }
        }
        Ok(n)
    }
}

/// Blanks comment lines (those starting with the comment byte outside
/// quotes) down to their line break, so they read as blank lines: skipped,
/// yet counted, so line numbers stay the file's. Their quotes are dropped
/// with them, so they cannot open a quoted field.
pub(super) struct CommentLines<R> {
    inner: R,
    comment: u8,
    quote: u8,
    inside: bool,
    line_start: bool,
    in_comment: bool,
}

impl<R> CommentLines<R> {
    pub(super) fn new(inner: R, comment: u8, quote: u8) -> Self {
        Self { inner, comment, quote, inside: false, line_start: true, in_comment: false }
    }
}

impl<R: Read> Read for CommentLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let b = buf[i];
                if self.in_comment {
                    if b != b'\n' {
                        continue;
                    }
                    self.in_comment = false;
                } else if self.line_start && !self.inside && b == self.comment {
                    self.in_comment = true;
                    self.line_start = false;
                    continue;
                } else if b == self.quote {
                    self.inside = !self.inside;
                }
                self.line_start = b == b'\n' && !self.inside;
                buf[kept] = b;
                kept += 1;
            }
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// Whether bare CRs end the lines of a text that starts with `head`: it has
/// CRs, no LF, and is not a single line.
pub(super) fn bare_cr_lines(head: &[u8]) -> bool {
    memchr::memchr(b'\n', head).is_none() && memchr::memchr_iter(b'\r', head).take(2).count() == 2
}
