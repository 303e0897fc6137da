//! The layout of a CSV file, read from its top as DuckDB's sniffer reads
//! it: the delimiter, the lines above the table (a title, notes), and
//! whether its first line is a header.

use std::path::Path;

use pqstage_spec::ColumnType;

use super::{observe_table, InferOptions, Stats, MAX_COLUMNS, NULL_CANDIDATES};
use crate::error::ConvertError;
use crate::read::parse;
use crate::read::tokenize::{Table, Tokenizer};
use crate::read::{source, split};

/// Bytes at the top of the first file that [`sniff`] looks at.
const SNIFF_BYTES: usize = 1 << 20;

/// Preamble records (a title, notes) `infer` looks past for the table's start.
const MAX_PREAMBLE: usize = 30;

/// Records of the sample whose widths decide where the table starts.
const WIDTH_SAMPLE: usize = 1000;

/// Where a table starts among the records of `t` (a sample tokenized with
/// one candidate delimiter), and its width:
/// the width most records have (the wider on a tie). The table starts at
/// the first record, unless that record is narrower than the table: then
/// the records before the first one of the table's width (within
/// [`MAX_PREAMBLE`]) are a preamble if all of them are narrower too and at
/// least three records, two thirds of those from there on, have the
/// table's width; a short or ragged file never loses rows to the rule.
/// Also the share of the records from the start that have its width, in
/// thousandths.
fn table_start(t: &Table) -> (usize, usize, usize) {
    let widths: Vec<usize> = t.records.iter().take(WIDTH_SAMPLE).map(|r| r.fields as usize).collect();
    let Some(&first) = widths.first() else { return (0, 0, 0) };
    let share = |k: usize, w: usize| {
        let rest = &widths[k..];
        rest.iter().filter(|&&x| x == w).count() * 1000 / rest.len()
    };
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for &w in &widths {
        *counts.entry(w).or_default() += 1;
    }
    let (&width, _) = counts.iter().max_by_key(|(w, n)| (**n, **w)).expect("one record at least");
    if first >= width {
        return (0, first, share(0, first));
    }
    let Some(k) = widths.iter().take(MAX_PREAMBLE).position(|&w| w == width) else {
        return (0, first, share(0, first));
    };
    let fitting = widths[k..].iter().filter(|&&w| w == width).count();
    if widths[..k].iter().all(|&w| w < width) && fitting >= 3 && share(k, width) >= 667 {
        (k, width, share(k, width))
    } else {
        (0, first, share(0, first))
    }
}

/// Whether a file's first line names its columns or is already data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderChoice {
    /// Decide from the data (the default): the first line is data when every
    /// value of it fits its column's type and some column is not text.
    #[default]
    Auto,
    /// The first line names the columns.
    Present,
    /// There is no header line.
    Absent,
}

/// What the top of the first file says about its layout.
pub(super) struct Sniffed {
    pub delimiter: char,
    /// Lines before the table (a preamble), 0 when it starts at the top.
    pub skip_lines: u32,
    /// Whether the table's first line names its columns.
    pub header: bool,
    /// The header's cells (empty without a header).
    pub cells: Vec<String>,
    /// Columns.
    pub width: usize,
}

/// Whether `cells`, the table's first record, reads as data: with rows
/// after it, every value fits the type its column has in those rows and
/// some column is not text; alone, every value is a number.
fn first_record_is_data(cells: &[(bool, Vec<u8>)], rows: &[Stats]) -> bool {
    if rows.iter().all(|s| s.values == 0 && s.nulls == 0) {
        return !cells.is_empty() && cells.iter().all(|(_, c)| !c.is_empty() && parse::parse_f64(c).is_ok());
    }
    let mut typed = false;
    for ((quoted, cell), s) in cells.iter().zip(rows) {
        if s.decide().0 == ColumnType::Text {
            continue;
        }
        typed = true;
        let mut with = s.clone();
        if !*quoted && (cell.is_empty() || NULL_CANDIDATES.iter().any(|n| n.as_bytes() == &cell[..])) {
            with.nulls += 1;
        } else {
            with.observe(cell);
        }
        if with.decide().0 == ColumnType::Text {
            return false;
        }
    }
    typed
}

/// Reads the top of `path` (named `name` in messages) and decides, as
/// DuckDB's sniffer does, the delimiter (unless given: the one that splits
/// the most records into one width of more than one column), the preamble
/// to skip (lines before the records agree in width), and whether the
/// table's first line is a header (unless told).
pub(super) fn sniff(path: &Path, name: &str, opts: &InferOptions) -> Result<Sniffed, ConvertError> {
    use std::io::Read;
    let mut src = source::open(path, name, opts.encoding, b'"', opts.comment.map(|c| c as u8))?;
    let mut buf = Vec::with_capacity(SNIFF_BYTES);
    src.by_ref().take(SNIFF_BYTES as u64).read_to_end(&mut buf).map_err(|e| source::read_error(name, path, e))?;
    let whole = buf.len() < SNIFF_BYTES;
    let (start, blank) = split::leading_blank_lines(&buf);
    if start == buf.len() {
        return Err(ConvertError::EmptyFile(name.to_string()));
    }
    let blank_lines = blank as usize;
    let body = &buf[start..];
    let cut = if whole { body.len() } else { split::last_boundary(body, b'"').unwrap_or(body.len()) };
    let sample = &body[..cut];
    let candidates: Vec<char> = opts.delimiter.map_or_else(|| vec![',', '\t', ';', '|'], |d| vec![d]);
    // Several columns first; then a table most records fit (two thirds);
    // then one without a preamble; then the most regular, the widest, and
    // the earlier candidate.
    let (delimiter, t, (found_k, width, _)) = candidates
        .iter()
        .map(|&d| {
            let mut t = Table::default();
            Tokenizer::new(d as u8, b'"').tokenize(sample, 1, &mut t);
            let found = table_start(&t);
            (d, t, found)
        })
        .enumerate()
        .max_by_key(|(i, (_, _, (k, width, share)))| {
            (*width > 1, *share >= 667, *k == 0, *share, *width, std::cmp::Reverse(*i))
        })
        .map(|(_, found)| found)
        .expect("at least one candidate");
    let tokenizer = Tokenizer::new(delimiter as u8, b'"');
    // Lines before record `k`, counted from the top of the file.
    let lines_before = |k: usize| blank_lines + t.records.get(k).map_or(0, |r| r.line as usize);
    let (k, skip_lines, width) = match opts.skip_lines {
        Some(n) => {
            let k = t.records.iter().position(|r| blank_lines + r.line as usize >= n as usize);
            let k = k.unwrap_or(t.records.len());
            (k, n, t.records.get(k).map_or(width, |r| r.fields as usize))
        }
        None if found_k == 0 => (0, 0, width),
        None => (found_k, lines_before(found_k) as u32, width),
    };
    if width > MAX_COLUMNS {
        return Err(ConvertError::TooManyColumns { path: name.to_string(), max: MAX_COLUMNS });
    }
    let line = lines_before(k) as u64 + 1;
    let table = &sample[t.records.get(k).map_or(sample.len(), |r| r.start as usize)..];
    let mut first_rec = Table::default();
    tokenizer.tokenize(table, width.max(1), &mut first_rec);
    let first: Vec<(bool, Vec<u8>)> = match first_rec.records.first() {
        Some(_) => {
            (0..width).map(|c| (first_rec.field(0, c).quoted(), first_rec.bytes(table, 0, c).to_vec())).collect()
        }
        None => Vec::new(),
    };
    let header = match opts.header {
        HeaderChoice::Present => true,
        HeaderChoice::Absent => false,
        HeaderChoice::Auto => {
            let after = first_rec.records.get(1).map_or(table.len(), |r| r.start as usize);
            let mut rows = vec![Stats::default(); width];
            let mut data = Table::default();
            tokenizer.tokenize(&table[after..], width.max(1), &mut data);
            observe_table(&data, &table[after..], &mut rows, usize::MAX);
            !first_record_is_data(&first, &rows)
        }
    };
    let cells =
        if header { split::header_text(name, line, first.into_iter().map(|(_, c)| c).collect())? } else { Vec::new() };
    Ok(Sniffed { delimiter, skip_lines, header, cells, width })
}

#[cfg(test)]
mod tests {
    use super::super::{infer, tests::types};
    use super::*;

    #[test]
    fn the_table_is_found_where_it_starts_and_short_or_ragged_files_keep_every_row() {
        let start = |csv: &str| {
            let mut t = Table::default();
            Tokenizer::new(b',', b'"').tokenize(csv.as_bytes(), 1, &mut t);
            table_start(&t)
        };
        assert_eq!(start("a,b\n1,2\n3,4\n"), (0, 2, 1000));
        // A title and notes, narrower than the table, before it.
        assert_eq!(start("Title\nsource: x\na,b,c\n1,2,3\n4,5,6\n7,8,9\n"), (2, 3, 1000));
        // Ragged or short files: the first record stays the header.
        assert_eq!(start("a,b,c\n1,2,3,4\n,x\n0,y,1\n"), (0, 3, 500));
        assert_eq!(start("a,b,c\n,,,\n"), (0, 3, 500));
        assert_eq!(start("id,name,age\n1,John\n2,Julie,26,x\n"), (0, 3, 333));
        assert_eq!(start("# note\na,b\n1,2\n"), (0, 1, 333));
        assert_eq!(start("a,b\n1,2\n3,4\nTotal\n"), (0, 2, 750));
        assert_eq!(start("a,b\n1,2\n3,4\n5,6,7\n"), (0, 2, 750));
        // A wider line before the rows is not a preamble.
        assert_eq!(start("a,b,c,d,e\nx\n1,2\n1,2\n1,2\n1,2\n"), (0, 5, 166));
        // Decimal commas in a semicolon file: the semicolon wins, with no preamble.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eu.csv");
        std::fs::write(&p, "a;b\n1,5;x\n2,5;y\n3,5;z\n4,5;w\n").unwrap();
        let o = InferOptions { jobs: 1, ..InferOptions::new(vec![p]) };
        let spec = infer(&o).unwrap();
        assert_eq!((spec.dialect.delimiter, spec.dialect.skip_lines, spec.dialect.header), (';', 0, true));
        // Also with a ragged row among them.
        std::fs::write(&o.files[0], "name;price\nA;1,50\nB;2,75\nC;3,10\nD;x;y\n").unwrap();
        let spec = infer(&o).unwrap();
        assert_eq!((spec.dialect.delimiter, spec.dialect.skip_lines, spec.dialect.header), (';', 0, true));
        // A given number of lines to skip sets the table's width from the line after them.
        std::fs::write(&o.files[0], "Title\nNote\na,b,c\n1,2,3\n4,5,6\n7,8,9\n").unwrap();
        let spec = infer(&InferOptions { skip_lines: Some(0), header: HeaderChoice::Present, ..o.clone() });
        assert_eq!(spec.unwrap().columns.len(), 1);
        // A float column never takes an integer too wide to keep.
        std::fs::write(&o.files[0], "n\n1e3\n123456789012345678901234567890123456789012\n").unwrap();
        assert_eq!(types(&infer(&o).unwrap()), ["text"]);
    }
}
