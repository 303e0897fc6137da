//! `infer`: the narrowest spec type of every column, from the whole input
//! (parallel) or its first rows.
//!
//! A column's type is the first of bool, int16, int32, int64, decimal(p,s),
//! float64, date, timestamp, timestamptz that holds every non-NULL value,
//! else text. A number with a leading zero (`00501`) makes the column text,
//! so codes keep their zeros. Common NULL spellings (`NULL`, `\N`, `NA`,
//! `N/A`) become NULL spellings of the dialect when a typed column uses them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pqstage_spec::{
    column_names, Column, ColumnType, Derived, Dialect, Encoding, Expr, Partition, Spec, MAX_DECIMAL_PRECISION,
};

use crate::convert::options::ConvertOption;
use crate::error::ConvertError;
use crate::read::chunk::Chunk;
use crate::read::parse;
use crate::read::tokenize::{Table, Tokenizer};
use crate::read::{source, split};

/// Most columns a header may name.
pub const MAX_COLUMNS: usize = 4096;

/// Spellings that may mean NULL.
pub const NULL_CANDIDATES: &[&str] = &["NULL", "\\N", "NA", "N/A"];

/// What to infer from.
#[derive(Debug, Clone)]
pub struct InferOptions {
    /// Files (same header).
    pub files: Vec<PathBuf>,
    /// Only the first N data rows (of the first file onward).
    pub sample_rows: Option<u64>,
    /// Delimiter; guessed from the header line when `None`.
    pub delimiter: Option<char>,
    /// Worker threads.
    pub jobs: usize,
    /// Chunk size.
    pub chunk_bytes: usize,
    /// The files' encoding (a byte-order mark overrides it).
    pub encoding: Encoding,
    /// How messages name the files (default, when empty: their paths).
    pub names: Vec<String>,
    /// Whether the first line names the columns (decided from the data by default).
    pub header: HeaderChoice,
    /// Lines before the table to skip (found from the data by default).
    pub skip_lines: Option<u32>,
    /// A character that starts comment lines, if the files have them.
    pub comment: Option<char>,
}

/// Observations of one column.
#[derive(Debug, Clone)]
struct Stats {
    values: u64,
    nulls: u64,
    tokens: [u64; 4],
    boolean: bool,
    int: bool,
    min: i64,
    max: i64,
    decimal: bool,
    int_digits: u8,
    scale: u8,
    float: bool,
    date_iso: bool,
    date_us: bool,
    ts: bool,
    tstz: bool,
    leading_zero: bool,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            values: 0,
            nulls: 0,
            tokens: [0; 4],
            boolean: true,
            int: true,
            min: i64::MAX,
            max: i64::MIN,
            decimal: true,
            int_digits: 0,
            scale: 0,
            float: true,
            date_iso: true,
            date_us: true,
            ts: true,
            tstz: true,
            leading_zero: false,
        }
    }
}

fn has_leading_zero(b: &[u8]) -> bool {
    let d = b.strip_prefix(b"-").or_else(|| b.strip_prefix(b"+")).unwrap_or(b);
    d.len() > 1 && d[0] == b'0' && d[1].is_ascii_digit()
}

fn decimal_shape(b: &[u8]) -> Option<(usize, usize)> {
    let d = b.strip_prefix(b"-").or_else(|| b.strip_prefix(b"+")).unwrap_or(b);
    let (i, f) = match memchr::memchr(b'.', d) {
        Some(p) => (&d[..p], &d[p + 1..]),
        None => (d, &d[..0]),
    };
    if (i.is_empty() && f.is_empty()) || !i.iter().chain(f).all(u8::is_ascii_digit) {
        return None;
    }
    let i = &i[i.iter().take_while(|&&c| c == b'0').count()..];
    Some((i.len(), f.len()))
}

fn is_us_date(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| parse::parse_date_fmt(s, "%m/%d/%Y").is_ok() && b.len() >= 8)
}

impl Stats {
    fn any_candidate(&self) -> bool {
        self.boolean || self.int || self.decimal || self.float || self.date_iso || self.date_us || self.ts || self.tstz
    }

    fn observe(&mut self, b: &[u8]) {
        self.values += 1;
        if !self.any_candidate() {
            return;
        }
        if self.boolean {
            self.boolean = !b.is_empty() && b[0].is_ascii_alphabetic() && parse::parse_bool(b).is_ok();
        }
        let numeric = self.int || self.decimal || self.float;
        if numeric && has_leading_zero(b) {
            self.leading_zero = true;
            self.int = false;
            self.decimal = false;
            self.float = false;
        }
        if self.int {
            match parse::parse_int(b, i64::MIN, i64::MAX, "int64") {
                Ok(v) => {
                    self.min = self.min.min(v);
                    self.max = self.max.max(v);
                }
                Err(_) => self.int = false,
            }
        }
        if self.float && !self.decimal {
            // Plain digits too many for a decimal would be rounded as a
            // float: such a column stays text.
            if decimal_shape(b).is_some_and(|(i, f)| i + f > usize::from(MAX_DECIMAL_PRECISION)) {
                self.float = false;
            }
        }
        if self.decimal {
            match decimal_shape(b) {
                Some((i, f)) if i + f > usize::from(MAX_DECIMAL_PRECISION) => {
                    self.decimal = false;
                    self.float = false;
                }
                Some((i, f)) => {
                    self.int_digits = self.int_digits.max(i as u8);
                    self.scale = self.scale.max(f as u8);
                    if usize::from(self.int_digits) + usize::from(self.scale) > usize::from(MAX_DECIMAL_PRECISION) {
                        self.decimal = false;
                    }
                }
                _ => self.decimal = false,
            }
        }
        if self.float {
            self.float = parse::parse_f64(b).is_ok();
        }
        if self.date_iso {
            self.date_iso = parse::parse_iso_date(b).is_ok();
        }
        if self.date_us {
            self.date_us = is_us_date(b);
        }
        if self.ts {
            self.ts = parse::parse_iso_timestamp(b).is_ok();
        }
        if self.tstz {
            self.tstz = parse::parse_iso_timestamptz(b).is_ok();
        }
    }

    fn merge(&mut self, o: &Stats) {
        self.values += o.values;
        self.nulls += o.nulls;
        for (a, b) in self.tokens.iter_mut().zip(o.tokens) {
            *a += b;
        }
        self.boolean &= o.boolean;
        self.int &= o.int;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.decimal &= o.decimal;
        self.int_digits = self.int_digits.max(o.int_digits);
        self.scale = self.scale.max(o.scale);
        if usize::from(self.int_digits) + usize::from(self.scale) > usize::from(MAX_DECIMAL_PRECISION) {
            self.decimal = false;
        }
        self.float &= o.float;
        self.date_iso &= o.date_iso;
        self.date_us &= o.date_us;
        self.ts &= o.ts;
        self.tstz &= o.tstz;
        self.leading_zero |= o.leading_zero;
    }

    /// The narrowest type and its format.
    fn decide(&self) -> (ColumnType, Option<String>) {
        if self.values == 0 {
            return (ColumnType::Text, None);
        }
        if self.boolean {
            return (ColumnType::Bool, None);
        }
        if self.int {
            let fits = |lo: i64, hi: i64| self.min >= lo && self.max <= hi;
            let t = if fits(i16::MIN.into(), i16::MAX.into()) {
                ColumnType::Int16
            } else if fits(i32::MIN.into(), i32::MAX.into()) {
                ColumnType::Int32
            } else {
                ColumnType::Int64
            };
            return (t, None);
        }
        if self.decimal {
            let precision = (self.int_digits + self.scale).max(1);
            return (ColumnType::Decimal { precision, scale: self.scale }, None);
        }
        if self.float {
            return (ColumnType::Float64, None);
        }
        if self.date_iso {
            return (ColumnType::Date, None);
        }
        if self.date_us {
            return (ColumnType::Date, Some("%m/%d/%Y".into()));
        }
        if self.ts {
            return (ColumnType::Timestamp, None);
        }
        if self.tstz {
            return (ColumnType::TimestampTz, None);
        }
        (ColumnType::Text, None)
    }
}

fn observe_table(t: &Table, data: &[u8], stats: &mut [Stats], limit: usize) {
    for r in 0..t.records.len().min(limit) {
        for (c, s) in stats.iter_mut().enumerate() {
            let f = t.field(r, c);
            let b = t.bytes(data, r, c);
            if !f.quoted() {
                if b.is_empty() {
                    s.nulls += 1;
                    continue;
                }
                if let Some(i) = NULL_CANDIDATES.iter().position(|n| n.as_bytes() == b) {
                    s.tokens[i] += 1;
                    continue;
                }
            }
            s.observe(b);
        }
    }
}

/// Bytes at the top of the first file that [`sniff`] looks at.
const SNIFF_BYTES: usize = 1 << 20;

/// Preamble records (a title, notes) `infer` looks past for the table's start.
const MAX_PREAMBLE: usize = 30;

/// Records of the sample whose widths decide where the table starts.
const WIDTH_SAMPLE: usize = 1000;

/// Where a table starts in `sample` with delimiter `delim`, and its width:
/// the width most records have (the wider on a tie). The table starts at
/// the first record, unless that record is narrower than the table: then
/// the records before the first one of the table's width (within
/// [`MAX_PREAMBLE`]) are a preamble if all of them are narrower too and at
/// least three records, two thirds of those from there on, have the
/// table's width; a short or ragged file never loses rows to the rule.
/// Also the share of the records from the start that have its width, in
/// thousandths.
fn table_start(sample: &[u8], delim: u8) -> (usize, usize, usize) {
    let mut t = Table::default();
    Tokenizer::new(delim, b'"').tokenize(sample, 1, &mut t);
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
struct Sniffed {
    delimiter: char,
    /// Lines before the table (a preamble), 0 when it starts at the top.
    skip_lines: u32,
    /// Whether the table's first line names its columns.
    header: bool,
    /// The header's cells (empty without a header).
    cells: Vec<String>,
    /// Columns.
    width: usize,
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
fn sniff(path: &Path, name: &str, opts: &InferOptions) -> Result<Sniffed, ConvertError> {
    use std::io::Read;
    let mut src = source::open(path, name, opts.encoding, b'"', opts.comment.map(|c| c as u8))?;
    let mut buf = Vec::with_capacity(SNIFF_BYTES);
    src.by_ref().take(SNIFF_BYTES as u64).read_to_end(&mut buf).map_err(|e| source::read_error(name, path, e))?;
    let whole = buf.len() < SNIFF_BYTES;
    let start = buf.iter().position(|b| !matches!(b, b'\n' | b'\r')).unwrap_or(buf.len());
    if start == buf.len() {
        return Err(ConvertError::EmptyFile(name.to_string()));
    }
    let blank_lines = memchr::memchr_iter(b'\n', &buf[..start]).count();
    let body = &buf[start..];
    let cut = if whole { body.len() } else { split::last_boundary(body, b'"').unwrap_or(body.len()) };
    let sample = &body[..cut];
    let candidates: Vec<char> = opts.delimiter.map_or_else(|| vec![',', '\t', ';', '|'], |d| vec![d]);
    // Several columns first; then a table most records fit (two thirds);
    // then one without a preamble; then the most regular, the widest, and
    // the earlier candidate.
    let (delimiter, (found_k, width, _)) = candidates
        .iter()
        .map(|&d| (d, table_start(sample, d as u8)))
        .enumerate()
        .max_by_key(|(i, (_, (k, width, share)))| {
            (*width > 1, *share >= 667, *k == 0, *share, *width, std::cmp::Reverse(*i))
        })
        .map(|(_, found)| found)
        .expect("at least one candidate");
    if width > MAX_COLUMNS {
        return Err(ConvertError::TooManyColumns { path: name.to_string(), max: MAX_COLUMNS });
    }
    let tokenizer = Tokenizer::new(delimiter as u8, b'"');
    let mut t = Table::default();
    tokenizer.tokenize(sample, 1, &mut t);
    // Lines before record `k`, counted from the top of the file.
    let lines_before = |k: usize| blank_lines + t.records.get(k).map_or(0, |r| r.line as usize);
    let k = match opts.skip_lines {
        Some(n) => {
            t.records.iter().position(|r| blank_lines + r.line as usize >= n as usize).unwrap_or(t.records.len())
        }
        None => found_k,
    };
    let skip_lines = match opts.skip_lines {
        Some(n) => n,
        None if k == 0 => 0,
        None => lines_before(k) as u32,
    };
    let line = lines_before(k) as u64 + 1;
    let width = if opts.skip_lines.is_some() { t.records.get(k).map_or(width, |r| r.fields as usize) } else { width };
    if width > MAX_COLUMNS {
        return Err(ConvertError::TooManyColumns { path: name.to_string(), max: MAX_COLUMNS });
    }
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

/// Infers a spec (dialect and columns; no derived columns or partition).
///
/// # Errors
/// Unreadable, empty or header-only files, and files whose headers differ.
pub fn infer(opts: &InferOptions) -> Result<Spec, ConvertError> {
    let first = opts.files.first().ok_or(ConvertError::NoSources)?;
    let display: Vec<String> = if opts.names.len() == opts.files.len() {
        opts.names.clone()
    } else {
        opts.files.iter().map(|p| p.display().to_string()).collect()
    };
    let sniffed = sniff(first, &display[0], opts)?;
    let delim = sniffed.delimiter;
    let headers = sniffed.cells.clone();
    let names = if sniffed.header {
        column_names(&headers)
    } else {
        (1..=sniffed.width).map(|i| format!("column_{i}")).collect()
    };
    let tokenizer = Tokenizer::new(delim as u8, b'"');
    let ncols = names.len();
    let merged = Mutex::new(vec![Stats::default(); ncols]);
    let remaining = Mutex::new(opts.sample_rows.unwrap_or(u64::MAX));
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<ConvertError>> = Mutex::new(None);
    let jobs = if opts.sample_rows.is_some() { 1 } else { opts.jobs.max(1) };
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(jobs);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let rx = rx.clone();
            let (merged, remaining, stop, tokenizer) = (&merged, &remaining, &stop, &tokenizer);
            s.spawn(move || {
                let mut table = Table::default();
                let mut local = vec![Stats::default(); ncols];
                for chunk in rx {
                    tokenizer.tokenize(&chunk.data, ncols, &mut table);
                    let limit = {
                        let mut left = remaining.lock().expect("lock");
                        let take = (*left).min(table.records.len() as u64);
                        *left -= take;
                        if *left == 0 {
                            stop.store(true, Ordering::Relaxed);
                        }
                        take as usize
                    };
                    observe_table(&table, &chunk.data, &mut local, limit);
                }
                let mut m = merged.lock().expect("lock");
                for (a, b) in m.iter_mut().zip(&local) {
                    a.merge(b);
                }
            });
        }
        drop(rx);
        for (i, path) in opts.files.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let settings = split::ReadSettings {
                header: sniffed.header,
                skip_lines: sniffed.skip_lines,
                comment: opts.comment.map(|c| c as u8),
                expected: &headers,
                tokenizer: &tokenizer,
                quote: b'"',
                encoding: opts.encoding,
                chunk_size: opts.chunk_bytes,
            };
            let res = split::read_source(path, &display[i], i, &settings, |c| {
                !stop.load(Ordering::Relaxed) && tx.send(c).is_ok()
            });
            if let Err(e) = res {
                *failure.lock().expect("lock") = Some(e);
                break;
            }
        }
        drop(tx);
    });
    if let Some(e) = failure.into_inner().expect("lock") {
        return Err(e);
    }
    let stats = merged.into_inner().expect("lock");
    let mut null = vec![String::new()];
    let mut columns: Vec<Column> = Vec::with_capacity(ncols);
    let header_of = |i: usize| headers.get(i).filter(|h| *h != &names[i]).cloned();
    for (i, (name, s)) in names.iter().zip(&stats).enumerate() {
        let (ty, format) = s.decide();
        let tokens: u64 = s.tokens.iter().sum();
        if ty != ColumnType::Text {
            for (i, n) in s.tokens.iter().enumerate() {
                if *n > 0 && !null.iter().any(|x| x == NULL_CANDIDATES[i]) {
                    null.push(NULL_CANDIDATES[i].to_string());
                }
            }
        }
        let (ty, format) = if s.values == 0 && tokens > 0 { (ColumnType::Text, None) } else { (ty, format) };
        columns.push(Column {
            name: name.clone(),
            header: header_of(i),
            ty,
            nullable: s.nulls > 0 || tokens > 0 || s.values == 0,
            format,
        });
    }
    // A token made a NULL spelling turns NULL in every column.
    for (c, s) in columns.iter_mut().zip(&stats) {
        if s.tokens.iter().enumerate().any(|(i, n)| *n > 0 && null.iter().any(|x| x == NULL_CANDIDATES[i])) {
            c.nullable = true;
        }
    }
    Ok(Spec {
        name: None,
        dialect: Dialect {
            delimiter: delim,
            quote: '"',
            header: sniffed.header,
            null,
            encoding: opts.encoding,
            skip_lines: sniffed.skip_lines,
            comment: opts.comment,
        },
        columns,
        derived: Vec::new(),
        partition: None,
        target: Default::default(),
    })
}

/// Adds `--partition-by` and `--derive NAME=EXPR` to an inferred spec and validates it.
///
/// # Errors
/// Malformed expressions and the spec's validation errors.
pub fn finish_spec(
    mut spec: Spec,
    name: Option<String>,
    partition_by: Option<&str>,
    derive: &[String],
) -> Result<Spec, ConvertError> {
    spec.name = name;
    for d in derive {
        let (n, e) = d
            .split_once('=')
            .ok_or_else(|| ConvertError::option(ConvertOption::Derive, format!("'{d}': expected NAME=EXPR")))?;
        spec.derived.push(Derived { name: n.trim().to_string(), expr: e.parse::<Expr>()? });
    }
    if let Some(p) = partition_by {
        spec.partition = Some(Partition { by: p.parse::<Expr>()?, name: None });
    }
    spec.validate()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer_str(csv: &str) -> Spec {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, csv).unwrap();
        infer(&InferOptions {
            files: vec![p],
            sample_rows: None,
            delimiter: None,
            jobs: 2,
            chunk_bytes: 64,
            encoding: Encoding::Utf8,
            names: vec![],
            header: HeaderChoice::Auto,
            skip_lines: None,
            comment: None,
        })
        .unwrap()
    }

    fn types(s: &Spec) -> Vec<String> {
        s.columns.iter().map(|c| format!("{}{}", c.ty, if c.nullable { "?" } else { "" })).collect()
    }

    #[test]
    fn narrowest_types() {
        let s = infer_str(
            "b,i16,i32,i64,dec,f,d,dus,ts,tz,zip,t\n\
             true,1,70000,5000000000,1.5,1e3,2019-01-02,1/2/2019,2019-01-02 03:04:05,2019-01-02 03:04:05+02:00,00501,x\n\
             F,-2,1,1,-22.25,NaN,1975-12-31,12/31/1975,1975-12-31T00:00:00.5,2019-01-02T03:04:05Z,02134,\"\"\n\
             ,,,,,,,,,,,\n",
        );
        assert_eq!(
            types(&s),
            vec![
                "bool?",
                "int16?",
                "int32?",
                "int64?",
                "decimal(4,2)?",
                "float64?",
                "date?",
                "date?",
                "timestamp?",
                "timestamptz?",
                "text?",
                "text?"
            ]
        );
        assert_eq!(s.columns[7].format.as_deref(), Some("%m/%d/%Y"));
        assert_eq!(s.dialect.null, vec![String::new()]);
    }

    #[test]
    fn leading_zeros_stay_text_and_null_spellings_are_found() {
        let s = infer_str("a;b;c\n00501;1;x\n1;NA;NULL\n");
        assert_eq!(s.dialect.delimiter, ';');
        assert_eq!(types(&s), vec!["text", "int16?", "text?"]);
        assert_eq!(s.dialect.null, vec!["".to_string(), "NA".to_string()]);
    }

    #[test]
    fn header_cells_are_named_and_exact_types_only() {
        let s = infer_str("\n\n\"\",a,A,a,wide,big,ns\n1,2,3,4,123456789012345678901234567890123456789012,1e400,2000-01-01 00:00:00.1234567\n");
        let names: Vec<(&str, Option<&str>)> =
            s.columns.iter().map(|c| (c.name.as_str(), c.header.as_deref())).collect();
        assert_eq!(
            names,
            [
                ("column_1", Some("")),
                ("a", None),
                ("A_1", Some("A")),
                ("a_2", Some("a")),
                ("wide", None),
                ("big", None),
                ("ns", None)
            ]
        );
        assert_eq!(types(&s), ["int16", "int16", "int16", "int16", "text", "text", "text"]);
        let s = infer_str("n\n12345678901234567890\n-1\n");
        assert_eq!(types(&s), ["decimal(20,0)"]);
    }

    #[test]
    fn the_table_is_found_where_it_starts_and_short_or_ragged_files_keep_every_row() {
        let start = |csv: &str| table_start(csv.as_bytes(), b',');
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
        let o = InferOptions {
            files: vec![p],
            sample_rows: None,
            delimiter: None,
            jobs: 1,
            chunk_bytes: 1 << 20,
            encoding: Encoding::Utf8,
            names: vec![],
            header: HeaderChoice::Auto,
            skip_lines: None,
            comment: None,
        };
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

    #[test]
    fn sample_rows_looks_at_the_first_rows_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a\n1\n2\nx\n").unwrap();
        let o = InferOptions {
            files: vec![p],
            sample_rows: Some(2),
            delimiter: None,
            jobs: 2,
            chunk_bytes: 1 << 20,
            encoding: Encoding::Utf8,
            names: vec![],
            header: HeaderChoice::Auto,
            skip_lines: None,
            comment: None,
        };
        assert_eq!(types(&infer(&o).unwrap()), vec!["int16"]);
        let whole = InferOptions { sample_rows: None, ..o };
        assert_eq!(types(&infer(&whole).unwrap()), vec!["text"]);
    }
}
