//! Splitting a chunk of CSV into records and fields.
//!
//! Quotes follow PostgreSQL's CSV rules: a quote character toggles quoting
//! wherever it appears in a field, and inside quotes a doubled quote stands
//! for one. This is exactly the rule the chunk splitter uses (quote parity),
//! so a quoted newline never breaks a record. A field that contained any quote
//! is "quoted": it is never NULL, so `""` stays an empty string.

/// One field: where its bytes are and whether it was quoted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Field(u64);

impl Field {
    const QUOTED: u64 = 1;
    const SCRATCH: u64 = 2;

    fn new(start: usize, len: usize, quoted: bool) -> Self {
        let flags = if quoted { Self::QUOTED | Self::SCRATCH } else { 0 };
        Field(((start as u64) << 32) | ((len as u64) << 2) | flags)
    }
    /// Whether the field contained a quote character.
    #[inline]
    pub fn quoted(self) -> bool {
        self.0 & Self::QUOTED != 0
    }
    #[inline]
    fn range(self) -> (bool, usize, usize) {
        let start = (self.0 >> 32) as usize;
        let len = ((self.0 >> 2) & 0x3fff_ffff) as usize;
        (self.0 & Self::SCRATCH != 0, start, start + len)
    }
}

/// One record of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Byte range of the record in the chunk (without the line break).
    pub start: u32,
    /// End of the record.
    pub end: u32,
    /// Line breaks before the record in the chunk (0 for the first record).
    pub line: u32,
    /// Fields found; differs from the expected count for a ragged record.
    pub fields: u32,
    /// Line (relative, like `line`) where a quote opened that never closed.
    pub unterminated: Option<u32>,
}

/// Records and fields of one chunk: every column holds exactly one field per
/// record (missing ones empty, extra ones dropped: such a record is ragged).
/// Fields are stored column by column, because the typed arrays are built
/// one column at a time: row-major storage made every column pass stride
/// through the whole table (measured: 8% of phase one in cache misses).
#[derive(Debug, Default)]
pub struct Table {
    /// Expected fields per record.
    pub ncols: usize,
    /// One vector of fields per column.
    pub columns: Vec<Vec<Field>>,
    /// Unescaped text of quoted fields.
    pub scratch: Vec<u8>,
    /// The records.
    pub records: Vec<Record>,
    /// Line breaks in the whole chunk.
    pub lines: u64,
}

impl Table {
    /// Bytes of field `col` of record `row`.
    #[inline]
    pub fn bytes<'a>(&'a self, data: &'a [u8], row: usize, col: usize) -> &'a [u8] {
        let (rest, len) = self.bytes_and_rest(data, row, col);
        &rest[..len]
    }
    /// Bytes of field `col` of record `row` and whatever follows them in the
    /// same buffer, with the field's length: lets a caller copy a short
    /// field as a fixed 16 bytes (inline moves, no `memcpy` call) and cut
    /// the excess off after.
    #[inline]
    pub fn bytes_and_rest<'a>(&'a self, data: &'a [u8], row: usize, col: usize) -> (&'a [u8], usize) {
        let (scratch, s, e) = self.columns[col][row].range();
        let buf = if scratch { &self.scratch[..] } else { data };
        (&buf[s..], e - s)
    }
    /// The field descriptor of `col` in `row`.
    #[inline]
    pub fn field(&self, row: usize, col: usize) -> Field {
        self.columns[col][row]
    }
}

/// A tokenizer for one dialect.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    class: [u8; 256],
    delim: u8,
    quote: u8,
}

const PLAIN: u8 = 0;

impl Tokenizer {
    /// A tokenizer for `delim` and `quote` (ASCII).
    pub fn new(delim: u8, quote: u8) -> Self {
        let mut class = [PLAIN; 256];
        class[usize::from(delim)] = 1;
        class[usize::from(quote)] = 2;
        class[usize::from(b'\n')] = 3;
        Self { class, delim, quote }
    }

    /// Tokenizes `data` (starting at a record boundary) into `out`, reusing its buffers.
    /// Empty lines are skipped (they are not records) but counted as lines.
    pub fn tokenize(&self, data: &[u8], ncols: usize, out: &mut Table) {
        assert!(data.len() < u32::MAX as usize, "chunks are smaller than 4 GiB");
        out.ncols = ncols;
        out.columns.resize_with(ncols, Vec::new);
        out.columns.truncate(ncols);
        for c in &mut out.columns {
            c.clear();
        }
        out.scratch.clear();
        out.records.clear();
        let n = data.len();
        let mut pos = 0;
        let mut line: u32 = 0;
        while pos < n {
            if data[pos] == b'\n' || (data[pos] == b'\r' && data.get(pos + 1) == Some(&b'\n')) {
                pos += if data[pos] == b'\r' { 2 } else { 1 };
                line += 1;
                continue;
            }
            let rec_start = pos;
            let rec_line = line;
            let mut col = 0usize;
            let mut unterminated = None;
            loop {
                let fstart = pos;
                pos = self.skip_plain(data, pos);
                let field = if pos < n && data[pos] == self.quote {
                    self.quoted_field(data, fstart, &mut pos, &mut line, &mut unterminated, &mut out.scratch)
                } else {
                    let mut end = pos;
                    if end > fstart && data[end - 1] == b'\r' && (pos >= n || data[pos] == b'\n') {
                        end -= 1;
                    }
                    Field::new(fstart, end - fstart, false)
                };
                if col < ncols {
                    out.columns[col].push(field);
                }
                col += 1;
                if pos >= n {
                    break;
                }
                let c = data[pos];
                pos += 1;
                if c == self.delim {
                    if pos >= n {
                        // A trailing delimiter at the very end: one more, empty field.
                        if col < ncols {
                            out.columns[col].push(Field::new(pos, 0, false));
                        }
                        col += 1;
                        break;
                    }
                    continue;
                }
                line += 1; // the record's line break
                break;
            }
            let mut rec_end = pos;
            while rec_end > rec_start && matches!(data[rec_end - 1], b'\n' | b'\r') {
                rec_end -= 1;
            }
            for c in col..ncols {
                out.columns[c].push(Field::new(0, 0, false));
            }
            out.records.push(Record {
                start: rec_start as u32,
                end: rec_end as u32,
                line: rec_line,
                fields: col as u32,
                unterminated,
            });
        }
        out.lines = u64::from(line);
    }

    /// The position of the first delimiter, quote or line feed at or after
    /// `pos` (or the end). Eight bytes at a time: for each of the three bytes,
    /// `(x - 0x01…) & !x & 0x80…` of `word ^ byte` flags the bytes equal to it;
    /// only flags above a true match can be spurious, so the lowest flag is exact.
    #[inline]
    fn skip_plain(&self, data: &[u8], mut pos: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let (d, q, lf) = (ONES * u64::from(self.delim), ONES * u64::from(self.quote), ONES * u64::from(b'\n'));
        while let Some(bytes) = data.get(pos..pos + 8) {
            let w = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
            let hits = zero(w ^ d) | zero(w ^ q) | zero(w ^ lf);
            if hits != 0 {
                return pos + (hits.trailing_zeros() / 8) as usize;
            }
            pos += 8;
        }
        while pos < data.len() && self.class[usize::from(data[pos])] == PLAIN {
            pos += 1;
        }
        pos
    }

    /// Slow path: a field with a quote in it, unescaped into `scratch`.
    fn quoted_field(
        &self,
        data: &[u8],
        fstart: usize,
        pos: &mut usize,
        line: &mut u32,
        unterminated: &mut Option<u32>,
        scratch: &mut Vec<u8>,
    ) -> Field {
        let n = data.len();
        let sstart = scratch.len();
        scratch.extend_from_slice(&data[fstart..*pos]);
        let mut in_quotes = false;
        let mut open_line = *line;
        while *pos < n {
            let c = data[*pos];
            if in_quotes {
                if c == self.quote {
                    if data.get(*pos + 1) == Some(&self.quote) {
                        scratch.push(self.quote);
                        *pos += 2;
                    } else {
                        in_quotes = false;
                        *pos += 1;
                    }
                    continue;
                }
                if c == b'\n' {
                    *line += 1;
                }
                scratch.push(c);
                *pos += 1;
            } else {
                if c == self.quote {
                    in_quotes = true;
                    open_line = *line;
                    *pos += 1;
                    continue;
                }
                if c == self.delim || c == b'\n' {
                    break;
                }
                scratch.push(c);
                *pos += 1;
            }
        }
        if in_quotes {
            *unterminated = Some(open_line);
        } else if scratch.len() > sstart && scratch.last() == Some(&b'\r') && data.get(*pos) == Some(&b'\n') {
            scratch.pop();
        }
        Field::new(sstart, scratch.len() - sstart, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_plain_bytes_a_word_at_a_time_stops_where_the_byte_loop_does() {
        let t = Tokenizer::new(b';', b'\'');
        let slow = |data: &[u8], mut pos: usize| {
            while pos < data.len() && t.class[usize::from(data[pos])] == PLAIN {
                pos += 1;
            }
            pos
        };
        // Specials at every offset of a word, next to bytes one above and one
        // below them (where a borrow could fake a match), high bytes and
        // multi-byte UTF-8 between them.
        let alphabet = [b';', b'\'', b'\n', b':', b'<', b'&', b'(', b'\t', b'\x0b', 0, 1, 0x80, 0xff, 0xc3, 0xa9, b'a'];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..40 {
            for _ in 0..200 {
                let data: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                for pos in 0..=len {
                    assert_eq!(t.skip_plain(&data, pos), slow(&data, pos), "{data:?} from {pos}");
                }
            }
        }
    }

    fn rows(csv: &str, ncols: usize) -> Vec<Vec<(String, bool)>> {
        let mut t = Table::default();
        Tokenizer::new(b',', b'"').tokenize(csv.as_bytes(), ncols, &mut t);
        (0..t.records.len())
            .map(|r| {
                (0..ncols)
                    .map(|c| {
                        (String::from_utf8(t.bytes(csv.as_bytes(), r, c).to_vec()).unwrap(), t.field(r, c).quoted())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plain_quoted_and_escaped_fields() {
        let got = rows("a,\"b,1\",\"say \"\"hi\"\"\"\n,\"\",x\r\n", 3);
        assert_eq!(got[0], vec![("a".into(), false), ("b,1".into(), true), ("say \"hi\"".into(), true)]);
        assert_eq!(got[1], vec![("".into(), false), ("".into(), true), ("x".into(), false)]);
    }

    #[test]
    fn quoted_newlines_count_as_lines() {
        let mut t = Table::default();
        let csv = b"1,\"two\nlines\"\n2,x\n\n3,y";
        Tokenizer::new(b',', b'"').tokenize(csv, 2, &mut t);
        let lines: Vec<u32> = t.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![0, 2, 4]);
        assert_eq!(t.lines, 4);
        assert_eq!(t.bytes(csv, 0, 1), b"two\nlines");
        assert_eq!(&csv[t.records[1].start as usize..t.records[1].end as usize], b"2,x");
    }

    #[test]
    fn ragged_and_unterminated_records_are_marked() {
        let mut t = Table::default();
        let csv = b"1,2,3\n1,2\n1,2,3,4\n5,\"open\n6,7,8\n";
        Tokenizer::new(b',', b'"').tokenize(csv, 3, &mut t);
        let f: Vec<u32> = t.records.iter().map(|r| r.fields).collect();
        assert_eq!(f, vec![3, 2, 4, 2]);
        assert_eq!(t.records[3].unterminated, Some(3));
        assert!(t.columns.iter().all(|c| c.len() == 4));
    }

    #[test]
    fn quote_inside_unquoted_field_toggles_like_postgres() {
        assert_eq!(rows("ab\"c,d\"e,f\n", 2)[0], vec![("abc,de".into(), true), ("f".into(), false)]);
    }

    #[test]
    fn other_dialects() {
        let mut t = Table::default();
        let csv = b"a|'x|y'|'it''s'\n";
        Tokenizer::new(b'|', b'\'').tokenize(csv, 3, &mut t);
        assert_eq!(t.bytes(csv, 0, 1), b"x|y");
        assert_eq!(t.bytes(csv, 0, 2), b"it's");
    }
}
