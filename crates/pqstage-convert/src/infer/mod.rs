//! `infer`: the narrowest spec type of every column, from the whole input
//! (parallel) or its first rows.
//!
//! A column's type is the first of bool, int16, int32, int64, decimal(p,s),
//! float64, date, timestamp, timestamptz that holds every non-NULL value,
//! else text. A number with a leading zero (`00501`) makes the column text,
//! so codes keep their zeros. Common NULL spellings (`NULL`, `\N`, `NA`,
//! `N/A`) become NULL spellings of the dialect when a typed column uses them.
//! Before that, [`sniff`] reads the top of the first file for its layout:
//! delimiter, preamble, header.

mod sniff;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use sniff::sniff;
pub use sniff::HeaderChoice;

use pqstage_spec::{
    column_names, Column, ColumnType, Derived, Dialect, Encoding, Expr, Partition, Spec, MAX_DECIMAL_PRECISION,
};

use crate::convert::options::ConvertOption;
use crate::convert::options::DEFAULT_CHUNK_BYTES;
use crate::error::ConvertError;
use crate::read::chunk::Chunk;
use crate::read::parse;
use crate::read::split;
use crate::read::tokenize::{Table, Tokenizer};

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

impl InferOptions {
    /// Options to infer from `files` with every other setting at its
    /// default: the whole input, on all cores, everything else decided
    /// from the data.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            sample_rows: None,
            delimiter: None,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            encoding: Encoding::Utf8,
            names: Vec::new(),
            header: HeaderChoice::Auto,
            skip_lines: None,
            comment: None,
        }
    }
}

/// Observations of one column.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
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

    pub(crate) fn observe(&mut self, b: &[u8]) {
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
    pub(crate) fn decide(&self) -> (ColumnType, Option<String>) {
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

pub(crate) fn observe_table(t: &Table, data: &[u8], stats: &mut [Stats], limit: usize) {
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
        infer(&InferOptions { jobs: 2, chunk_bytes: 64, ..InferOptions::new(vec![p]) }).unwrap()
    }

    pub(crate) fn types(s: &Spec) -> Vec<String> {
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
    fn sample_rows_looks_at_the_first_rows_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "a\n1\n2\nx\n").unwrap();
        let o = InferOptions { sample_rows: Some(2), jobs: 2, ..InferOptions::new(vec![p]) };
        assert_eq!(types(&infer(&o).unwrap()), vec!["int16"]);
        let whole = InferOptions { sample_rows: None, ..o };
        assert_eq!(types(&infer(&whole).unwrap()), vec!["text"]);
    }
}
