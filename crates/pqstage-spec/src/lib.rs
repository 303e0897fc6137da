//! The dataset spec: pqstage's schema lock.
//!
//! A spec is a TOML file, written by `pqstage infer` and edited by people, that
//! fixes how a CSV source is read and typed: the dialect (delimiter, quote,
//! header, NULL spellings), every column's type, nullability and parse format,
//! derived columns, the partition key and what the load targets should build
//! (indexes, a merge key). Converting with the same spec always gives the same
//! types, so a reload never drifts.
//!
//! ```
//! use pqstage_spec::{ColumnType, Spec};
//!
//! let spec = Spec::from_toml(r#"
//!     name = "violations"
//!     [[columns]]
//!     name = "company_name"
//!     type = "text"
//!     [[columns]]
//!     name = "issuance_date"
//!     type = "date"
//!     nullable = true
//!     [[derived]]
//!     name = "company_name_normalized"
//!     expr = "normalize_name(company_name)"
//!     [partition]
//!     by = "year(issuance_date)"
//! "#).unwrap();
//! assert_eq!(spec.columns[1].ty, ColumnType::Date);
//! assert_eq!(spec.partition_column().unwrap(), "year");
//! ```

mod encoding;
mod expr;
pub mod trajectories;
mod types;

use serde::{Deserialize, Serialize};

pub use encoding::Encoding;
pub use expr::{ArgumentError, Expr, Function};
pub use types::{ColumnType, MAX_DECIMAL_PRECISION};

/// Errors reading or validating a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The TOML did not parse or did not have the spec's shape.
    #[error("spec is not valid TOML: {0}")]
    Toml(#[source] toml::de::Error),
    /// A type name that is not one of the spec's types.
    #[error("unknown column type '{0}' (expected bool, int16, int32, int64, float64, decimal(p,s), date, timestamp, timestamptz or text)")]
    UnknownType(String),
    /// A derived or partition expression that does not parse.
    #[error("bad expression '{expr}': {reason}")]
    BadExpr {
        /// The expression as written.
        expr: String,
        /// Why it was refused.
        reason: String,
    },
    /// The spec parsed but is inconsistent (duplicate names, a missing column …).
    #[error("invalid spec: {0}")]
    Invalid(String),
}

/// How the CSV is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialect {
    /// Field delimiter, one ASCII character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Quote character, one ASCII character; a doubled quote inside a quoted
    /// field stands for one quote.
    #[serde(default = "default_quote")]
    pub quote: char,
    /// Whether the first line of every file is a header naming the columns.
    #[serde(default = "default_true")]
    pub header: bool,
    /// Unquoted spellings that mean NULL. `""` is the unquoted empty field
    /// (PostgreSQL's CSV rule); a quoted empty string `""` is never NULL.
    #[serde(default = "default_nulls")]
    pub null: Vec<String>,
    /// Text encoding of the files (`utf-8` unless set; a byte-order mark
    /// overrides it). Staged text is always UTF-8.
    #[serde(default, skip_serializing_if = "Encoding::is_utf8")]
    pub encoding: Encoding,
    /// Lines at the top of every file that are not part of the table (a
    /// title, notes, a comment), skipped before the header or first row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip_lines: u32,
    /// A character that starts a comment line: lines that begin with it
    /// (outside quotes) are not records. None by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<char>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn default_delimiter() -> char {
    ','
}
fn default_quote() -> char {
    '"'
}
fn default_true() -> bool {
    true
}
fn default_nulls() -> Vec<String> {
    vec![String::new()]
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            delimiter: default_delimiter(),
            quote: default_quote(),
            header: true,
            null: default_nulls(),
            encoding: Encoding::Utf8,
            skip_lines: 0,
            comment: None,
        }
    }
}

/// One column of the source, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Column name in the staged dataset and the load targets.
    pub name: String,
    /// The header's text for this column, when it differs from `name`: an
    /// empty or repeated header cell, or a name too long for PostgreSQL,
    /// renamed by `infer`. Files are matched on this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Stored type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether NULL is allowed; a NULL in a non-nullable column is a bad row.
    #[serde(default = "default_true")]
    pub nullable: bool,
    /// Parse format for date and timestamp columns, in strftime notation
    /// (`%m/%d/%Y`). Absent means ISO 8601 (`2019-03-01`, `2019-03-01 12:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

impl Column {
    /// The header text this column is matched on: `header` if set, else `name`.
    pub fn header_text(&self) -> &str {
        self.header.as_deref().unwrap_or(&self.name)
    }
}

/// Longest column name, in bytes, that PostgreSQL keeps whole (its
/// `NAMEDATALEN` − 1): longer names are cut, silently, by the server.
pub const MAX_NAME_BYTES: usize = 63;

/// Refuses names PostgreSQL and DuckDB could not hold as distinct columns:
/// longer than [`MAX_NAME_BYTES`], or equal up to case (DuckDB never tells
/// such names apart, nor does SQL that does not quote them).
fn check_identifiers(names: &[String]) -> Result<(), SpecError> {
    let mut folded: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for n in names {
        if n.len() > MAX_NAME_BYTES {
            return Err(SpecError::Invalid(format!(
                "column '{n}' is {} bytes long; PostgreSQL keeps {MAX_NAME_BYTES}: give it a shorter name (with header = \"…\" set to the file's header text, so files still match)",
                n.len()
            )));
        }
        if let Some(prev) = folded.insert(n.to_lowercase(), n) {
            return Err(SpecError::Invalid(format!(
                "columns '{prev}' and '{n}' differ only in case, which DuckDB (and SQL that does not quote names) cannot tell apart: rename one (with header = \"…\" set to the file's header text)"
            )));
        }
    }
    Ok(())
}

/// Column names for a file's header cells, as `infer` gives them: each cell's
/// text, except that an empty cell at position N (from 1) is `column_N`, a
/// name over [`MAX_NAME_BYTES`] is cut to 54 bytes plus `_` and 8 hex digits
/// of a hash of the whole text, and a name equal to an earlier one up to case
/// gets the first free suffix `_1`, `_2` … Deterministic: the same header
/// always gives the same names.
pub fn column_names(headers: &[String]) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let base = if h.trim().is_empty() { format!("column_{}", i + 1) } else { shorten(h, MAX_NAME_BYTES) };
        let mut name = base.clone();
        let mut k = 1;
        while taken.contains(&name.to_lowercase()) {
            let suffix = format!("_{k}");
            name = format!("{}{suffix}", cut_at_char(&base, MAX_NAME_BYTES - suffix.len()));
            k += 1;
        }
        taken.insert(name.to_lowercase());
        out.push(name);
    }
    out
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut_at_char(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` if it fits in `max` bytes, else its first bytes plus `_` and a hash of it all.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{}_{h:08x}", cut_at_char(s, max - 9))
}

/// A column computed from another one; stored after the source columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Name of the new column.
    pub name: String,
    /// `FUNCTION(column)`.
    pub expr: Expr,
}

/// The partition key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// `year(COLUMN)` of a date or timestamp column.
    pub by: Expr,
    /// Name of the partition column; defaults to the function's name (`year`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What the load targets build after the data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Indexes, each a list of column names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
    /// Key for merge loads (upserts), when the source changes in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    /// A source column whose order `convert` writes each partition's rows in
    /// (stable: rows with equal values keep their input order; NULLs last).
    /// Loads keep that order, so an index led by this column builds from
    /// presorted rows, and rows with equal values share pages and row groups.
    /// Meant for columns with few distinct values per partition (a state, an
    /// agency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_by: Option<String>,
    /// A set of summaries the loaders keep next to the table and refresh
    /// after every load that changed it (`sql/<engine>/summaries_NAME.sql`,
    /// e.g. `violations`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summaries: Option<String>,
}

/// A dataset spec. Build one with [`Spec::from_toml`], which validates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Dataset name: the staged folder and the default table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// CSV dialect.
    #[serde(default)]
    pub dialect: Dialect,
    /// Source columns in file order.
    pub columns: Vec<Column>,
    /// Computed columns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<Derived>,
    /// Partition key; none means one unpartitioned folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// Indexes and merge key for the load targets.
    #[serde(default, skip_serializing_if = "is_default_target")]
    pub target: Target,
}

fn is_default_target(t: &Target) -> bool {
    t == &Target::default()
}

/// A column of the stored table: a source column, a derived one, or the partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Column name.
    pub name: String,
    /// Stored type.
    pub ty: ColumnType,
    /// Whether NULL can occur.
    pub nullable: bool,
}

impl Spec {
    /// Parses and validates a spec.
    ///
    /// # Errors
    /// [`SpecError::Toml`] for malformed TOML or unknown keys, and the
    /// validation errors of [`Spec::validate`].
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: Spec = toml::from_str(text).map_err(SpecError::Toml)?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as TOML, with a short header comment for people who edit it.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a spec always serializes");
        format!(
            "# pqstage spec: edit types, formats, NULL spellings, derived columns and the\n\
             # partition key, then `pqstage convert --spec THIS_FILE`. Types: bool, int16,\n\
             # int32, int64, float64, decimal(p,s), date, timestamp, timestamptz, text.\n\n{body}"
        )
    }

    /// Checks names, types, expressions and the dialect.
    ///
    /// # Errors
    /// [`SpecError::Invalid`] naming the offending column or setting.
    pub fn validate(&self) -> Result<(), SpecError> {
        let invalid = |m: String| Err(SpecError::Invalid(m));
        let d = &self.dialect;
        for (what, c) in [("delimiter", d.delimiter), ("quote", d.quote)] {
            if !c.is_ascii() || c == '\n' || c == '\r' {
                return invalid(format!(
                    "dialect.{what} must be one ASCII character other than a line break, not {c:?}"
                ));
            }
        }
        if d.delimiter == d.quote {
            return invalid("dialect.delimiter and dialect.quote must differ".into());
        }
        if let Some(c) = d.comment {
            if !c.is_ascii() || c == '\n' || c == '\r' || c == d.delimiter || c == d.quote {
                return invalid(format!(
                    "dialect.comment must be one ASCII character other than a line break, the delimiter and the quote, not {c:?}"
                ));
            }
        }
        if self.columns.is_empty() {
            return invalid("no columns".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.columns.iter().enumerate() {
            if c.name.is_empty() {
                return invalid(format!(
                    "column {} has an empty name; name it, with header = \"\" if the file's header cell is empty",
                    i + 1
                ));
            }
            if !seen.insert(c.name.as_str()) {
                return invalid(format!("column '{}' is declared twice", c.name));
            }
            if let Some(f) = &c.format {
                if !c.ty.takes_format() {
                    return invalid(format!(
                        "column '{}': format applies to date and timestamp columns, not {}",
                        c.name, c.ty
                    ));
                }
                if f.is_empty() {
                    return invalid(format!("column '{}': empty format", c.name));
                }
            }
        }
        for d in &self.derived {
            let src = self.column(&d.expr.column).ok_or_else(|| {
                SpecError::Invalid(format!("derived column '{}' reads unknown column '{}'", d.name, d.expr.column))
            })?;
            d.expr
                .function
                .result_type(src.ty)
                .map_err(|m| SpecError::Invalid(format!("derived column '{}': {m}", d.name)))?;
            if !seen.insert(d.name.as_str()) {
                return invalid(format!("derived column '{}' clashes with another column", d.name));
            }
        }
        if let Some(p) = &self.partition {
            if p.by.function != Function::Year {
                return invalid(format!("partition.by must be year(COLUMN), not {}", p.by));
            }
            let src = self
                .column(&p.by.column)
                .ok_or_else(|| SpecError::Invalid(format!("partition.by reads unknown column '{}'", p.by.column)))?;
            p.by.function.result_type(src.ty).map_err(|m| SpecError::Invalid(format!("partition.by: {m}")))?;
            let name = self.partition_column().unwrap_or_default();
            if seen.contains(name) {
                return invalid(format!(
                    "partition column '{name}' clashes with a column of the same name; set partition.name"
                ));
            }
        }
        let all: Vec<String> = self.output_columns().into_iter().map(|c| c.name).collect();
        check_identifiers(&all)?;
        for cols in self.target.indexes.iter().chain(std::iter::once(&self.target.key)) {
            for c in cols {
                if !all.contains(c) {
                    return invalid(format!("target names unknown column '{c}'"));
                }
            }
        }
        // A key names one record: a NULL in it would name none (and SQL
        // never matches NULL = NULL), so each key column must be NOT NULL.
        let mut key_seen = std::collections::HashSet::new();
        for c in &self.target.key {
            if !key_seen.insert(c.as_str()) {
                return invalid(format!("target.key names column '{c}' twice"));
            }
            if self.output_columns().iter().any(|o| o.name == *c && o.nullable) {
                return invalid(format!(
                    "target.key column '{c}' may be NULL; a key column needs `nullable = false` \
                     (rows with a NULL there are then refused, with their lines)"
                ));
            }
        }
        if let Some(c) = &self.target.cluster_by {
            let Some(col) = self.column(c) else {
                return invalid(format!("target.cluster_by must name a source column, not '{c}'"));
            };
            if col.ty == ColumnType::Float64 {
                return invalid(format!("target.cluster_by: column '{c}' is float64; cluster on another type"));
            }
        }
        if let Some(s) = &self.target.summaries {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return invalid(format!(
                    "target.summaries names a set of summaries shipped with pqstage (e.g. \"violations\"), not '{s}'"
                ));
            }
        }
        Ok(())
    }

    /// The header text each source column is matched on, in file order.
    pub fn header_texts(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.header_text().to_string()).collect()
    }

    /// The source column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Name of the partition column (`year` unless renamed), if partitioned.
    pub fn partition_column(&self) -> Option<&str> {
        self.partition.as_ref().map(|p| p.name.as_deref().unwrap_or(p.by.function.name()))
    }

    /// Columns of the stored table in order: source columns, derived columns,
    /// then the partition column. In the Parquet files the partition column is
    /// not stored (it lives in the `year=YYYY` folder name, Hive style).
    pub fn output_columns(&self) -> Vec<OutputColumn> {
        let mut out: Vec<OutputColumn> = self
            .columns
            .iter()
            .map(|c| OutputColumn { name: c.name.clone(), ty: c.ty, nullable: c.nullable })
            .collect();
        for d in &self.derived {
            if let Some(src) = self.column(&d.expr.column) {
                let ty = d.expr.function.result_type(src.ty).unwrap_or(ColumnType::Text);
                out.push(OutputColumn { name: d.name.clone(), ty, nullable: src.nullable });
            }
        }
        if let (Some(p), Some(name)) = (&self.partition, self.partition_column()) {
            let nullable = self.column(&p.by.column).is_none_or(|c| c.nullable);
            out.push(OutputColumn { name: name.to_string(), ty: ColumnType::Int32, nullable });
        }
        out
    }

    /// A short stable fingerprint of the spec (hex), recorded in manifests.
    pub fn fingerprint(&self) -> String {
        fnv_hex(&toml::to_string(self).expect("a spec always serializes"))
    }
}

/// FNV-1a 64 of a spec's text, in hex: stable across releases and
/// platforms, no dependency.
pub(crate) fn fnv_hex(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_cells_become_names_postgres_and_duckdb_can_hold() {
        let h = |v: &[&str]| column_names(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(h(&["", "a", "A", "a", "a_1", " "]), ["column_1", "a", "A_1", "a_2", "a_1_1", "column_6"]);
        let long = "x".repeat(70);
        let names = h(&[&long, &format!("{long}y")]);
        assert!(names.iter().all(|n| n.len() == 63), "{names:?}");
        assert_ne!(names[0], names[1]);
        assert!(names[0].starts_with(&"x".repeat(54)));
        // Cut on a character boundary.
        let wide = "é".repeat(40);
        assert!(h(&[&wide])[0].len() <= 63);
        assert_eq!(h(&[&wide]), h(&[&wide]));
        let sp = Spec {
            columns: h(&["", &long, "A", "a"])
                .into_iter()
                .map(|n| Column { name: n, header: None, ty: ColumnType::Text, nullable: true, format: None })
                .collect(),
            ..Spec::from_toml(base()).unwrap()
        };
        sp.validate().unwrap();
    }

    #[test]
    fn names_postgres_would_cut_or_fold_are_refused() {
        let long = "c".repeat(64);
        let e = Spec::from_toml(&format!("[[columns]]\nname = \"{long}\"\ntype = \"text\"\n")).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid spec: column '{long}' is 64 bytes long; PostgreSQL keeps 63: give it a shorter name (with header = \"…\" set to the file's header text, so files still match)"));
        let e = Spec::from_toml(
            "[[columns]]\nname = \"Id\"\ntype = \"text\"\n[[columns]]\nname = \"ID\"\ntype = \"text\"\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid spec: columns 'Id' and 'ID' differ only in case, which DuckDB (and SQL that does not quote names) cannot tell apart: rename one (with header = \"…\" set to the file's header text)");
        let ok = Spec::from_toml("[[columns]]\nname = \"id\"\nheader = \"\"\ntype = \"text\"\n[[columns]]\nname = \"ID_2\"\nheader = \"id\"\ntype = \"text\"\n").unwrap();
        assert_eq!(ok.header_texts(), ["", "id"]);
        assert_eq!(Spec::from_toml(&ok.to_toml()).unwrap(), ok);
    }

    fn base() -> &'static str {
        "[[columns]]\nname = \"d\"\ntype = \"date\"\n[[columns]]\nname = \"n\"\ntype = \"text\"\n"
    }

    #[test]
    fn defaults_follow_postgres_csv() {
        let s = Spec::from_toml(base()).unwrap();
        assert_eq!(s.dialect, Dialect::default());
        assert!(s.columns.iter().all(|c| c.nullable));
        assert!(s.partition_column().is_none());
    }

    #[test]
    fn round_trips_through_toml() {
        let text = format!(
            "{}[[derived]]\nname = \"n2\"\nexpr = \"normalize_name(n)\"\n[partition]\nby = \"year(d)\"\n[target]\nindexes = [[\"n\", \"year\"]]\n",
            base()
        );
        let s = Spec::from_toml(&text).unwrap();
        let again = Spec::from_toml(&s.to_toml()).unwrap();
        assert_eq!(s, again);
        assert_eq!(s.fingerprint(), again.fingerprint());
        let names: Vec<_> = s.output_columns().into_iter().map(|c| (c.name, c.ty)).collect();
        assert_eq!(
            names,
            vec![
                ("d".to_string(), ColumnType::Date),
                ("n".to_string(), ColumnType::Text),
                ("n2".to_string(), ColumnType::Text),
                ("year".to_string(), ColumnType::Int32)
            ]
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let cases = [
            (
                format!("{}[partition]\nby = \"year(n)\"\n", base()),
                "invalid spec: partition.by: year() takes a date or timestamp column, not text",
            ),
            (
                format!("{}[partition]\nby = \"year(x)\"\n", base()),
                "invalid spec: partition.by reads unknown column 'x'",
            ),
            (
                format!("{}[[derived]]\nname = \"k\"\nexpr = \"upper(d)\"\n", base()),
                "invalid spec: derived column 'k': upper() takes a text column, not date",
            ),
            (
                format!("{}[[columns]]\nname = \"n\"\ntype = \"int32\"\n", base()),
                "invalid spec: column 'n' is declared twice",
            ),
            (format!("{}[target]\nindexes = [[\"zz\"]]\n", base()), "invalid spec: target names unknown column 'zz'"),
            (
                format!("{}[target]\ncluster_by = \"zz\"\n", base()),
                "invalid spec: target.cluster_by must name a source column, not 'zz'",
            ),
            (
                format!("{}[partition]\nby = \"year(d)\"\n[target]\ncluster_by = \"year\"\n", base()),
                "invalid spec: target.cluster_by must name a source column, not 'year'",
            ),
            (
                format!("{}[[columns]]\nname = \"f\"\ntype = \"float64\"\n[target]\ncluster_by = \"f\"\n", base()),
                "invalid spec: target.cluster_by: column 'f' is float64; cluster on another type",
            ),
            (
                base().replace("type = \"text\"", "type = \"text\"\nformat = \"%Y\""),
                "invalid spec: column 'n': format applies to date and timestamp columns, not text",
            ),
            (
                "[dialect]\ndelimiter = \"\\\"\"\n".to_string() + base(),
                "invalid spec: dialect.delimiter and dialect.quote must differ",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Spec::from_toml(&text).unwrap_err().to_string(), want);
        }
        let e = Spec::from_toml(&format!("{}colour = 1\n", base())).unwrap_err().to_string();
        assert!(e.starts_with("spec is not valid TOML") && e.contains("colour"), "{e}");
    }
}
