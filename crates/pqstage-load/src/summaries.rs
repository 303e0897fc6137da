//! Summaries: named queries over a loaded table whose results the target
//! keeps (PostgreSQL materialized views, DuckDB tables) and refreshes after
//! every load that changed the table. A spec picks a set of them with
//! `[target] summaries = "NAME"`; each engine ships the set as
//! `sql/<engine>/summaries_NAME.sql`, one named block per summary:
//!
//! ```sql
//! -- name: by_year
//! -- Per year: rows.
//!
//! -- unique: year
//! -- order: year NULLS LAST
//! SELECT year, count(*) AS rows FROM {table} GROUP BY year;
//! ```
//!
//! The description titles the printed result; after it, `-- unique:` names
//! the columns that identify a row (PostgreSQL refreshes concurrently
//! through a unique index on them) and `-- order:` the order rows are
//! printed in.

use crate::sql::Queries;

/// One summary of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Its name: the kept relation is `<table>_<name>`.
    pub name: &'static str,
    /// What it shows (its description, without the final full stop).
    pub title: String,
    /// The query, with the `{table}` placeholder.
    pub sql: &'static str,
    /// Columns that identify a row, if declared.
    pub unique: Vec<String>,
    /// `ORDER BY` of the printed rows, if declared.
    pub order: Option<String>,
}

impl Summary {
    /// The relation that keeps the summary of `table` (a bare name).
    pub fn relation(&self, table: &str) -> String {
        format!("{table}_{}", self.name)
    }

    /// What the target records with the kept relation (as its comment), so a
    /// later load knows it is this set's summary and whether its definition
    /// changed since (then it is made again).
    pub fn marker(&self, set: &str, rendered: &str) -> String {
        let text = format!("{rendered}\n{}", self.unique.join(","));
        format!("{MARKER_PREFIX}{set}.{} {:016x}", self.name, xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }
}

/// How the comment of every kept summary starts.
pub const MARKER_PREFIX: &str = "pqstage summary ";

/// The comment a kept summary carries: its [`Summary::marker`] and the
/// staged version its rows were computed from, so a load that finds the
/// table at another version (a refresh that failed, `--no-summaries`)
/// computes it again even when it loads nothing.
pub fn stamp(marker: &str, version: u64) -> String {
    format!("{marker} of version {version}")
}

/// The marker of a comment written by [`stamp`] (the comment itself when it
/// carries no version).
pub fn definition(comment: &str) -> &str {
    comment.rsplit_once(" of version ").map_or(comment, |(m, _)| m)
}

/// The set and summary a marker names: `("violations", "by_year")`.
pub fn parse_marker(comment: &str) -> Option<(&str, &str)> {
    let rest = comment.strip_prefix(MARKER_PREFIX)?;
    let (qualified, _) = rest.split_once(' ')?;
    qualified.split_once('.')
}

/// The set called `name` among an engine's shipped `sets`.
///
/// # Errors
/// A message naming the sets there are, for a name no set has.
pub fn find_set<'s>(sets: &'s [(&'static str, Vec<Summary>)], name: &str) -> Result<&'s [Summary], String> {
    sets.iter().find(|(n, _)| *n == name).map(|(_, s)| s.as_slice()).ok_or_else(|| {
        let known: Vec<&str> = sets.iter().map(|(n, _)| *n).collect();
        format!(
            "the spec's [target] summaries = \"{name}\" names no set of summaries pqstage ships (known: {})",
            known.join(", ")
        )
    })
}

/// The summaries of a parsed set file, in file order.
pub fn summaries(queries: &Queries) -> Vec<Summary> {
    queries
        .iter()
        .map(|q| {
            let directive = |key: &str| {
                q.sql
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("--")?.trim().strip_prefix(key).map(|v| v.trim().to_string()))
            };
            Summary {
                name: q.name,
                title: q.doc.trim().trim_end_matches('.').to_string(),
                sql: q.sql,
                unique: directive("unique:")
                    .map(|u| u.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
                    .unwrap_or_default(),
                order: directive("order:"),
            }
        })
        .collect()
}

/// What a load did to one summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryAction {
    /// Made (it was missing, or its definition changed).
    Created,
    /// Computed again from the table; `concurrently` when readers kept
    /// reading the previous rows meanwhile.
    Refreshed {
        /// PostgreSQL's `REFRESH ... CONCURRENTLY`.
        concurrently: bool,
    },
    /// Left as it was: the load changed nothing.
    Unchanged,
}

/// One summary's outcome in a load report.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryReport {
    /// The kept relation, quoted.
    pub relation: String,
    /// What was done.
    pub action: SummaryAction,
    /// Seconds it took.
    pub seconds: f64,
}

impl std::fmt::Display for SummaryAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Refreshed { concurrently: true } => "refreshed concurrently",
            Self::Refreshed { concurrently: false } => "refreshed",
            Self::Unchanged => "unchanged",
        })
    }
}

/// One formatted value of a printed result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The value as text ("NULL" for NULL).
    pub text: String,
    /// True for numbers (printed right-aligned).
    pub numeric: bool,
}

impl Cell {
    /// A number given as text, digits grouped in threes, except in a
    /// column whose name ends in `year`.
    pub fn number(text: &str, column: &str) -> Self {
        let text = if column.ends_with("year") { text.to_string() } else { group_number(text) };
        Cell { text, numeric: true }
    }
}

/// A query's result, ready to print.
#[derive(Debug, Clone)]
pub struct ResultTable {
    /// What the query shows.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// "1234567.5" → "1,234,567.5"; text that is not a plain number is kept.
pub fn group_number(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(a, b)| (a, Some(b)));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_in_threes_except_years() {
        assert_eq!(group_number("1234567.50"), "1,234,567.50");
        assert_eq!(group_number("-1234"), "-1,234");
        assert_eq!(group_number("123"), "123");
        assert_eq!(group_number("ACME"), "ACME");
        assert_eq!(group_number("1e10"), "1e10");
        assert_eq!(Cell::number("2024", "first_year").text, "2024");
    }

    const SET: &str = "-- name: by_year\n-- Per year: rows.\n\n-- unique: year\n-- order: year NULLS LAST\n\
        SELECT year, count(*) FROM {table} GROUP BY year;\n\n-- name: plain\n-- Everything.\nSELECT * FROM {table};\n";

    #[test]
    fn directives_and_markers() {
        let q = Queries::parse("s.sql", SET).unwrap();
        let s = summaries(&q);
        assert_eq!(s[0].title, "Per year: rows");
        assert_eq!(s[0].unique, ["year"]);
        assert_eq!(s[0].order.as_deref(), Some("year NULLS LAST"));
        assert_eq!((s[1].unique.len(), s[1].order.as_deref()), (0, None));
        assert_eq!(s[0].relation("violations"), "violations_by_year");
        let m = s[0].marker("v", "SELECT 1");
        assert_eq!(parse_marker(&m), Some(("v", "by_year")));
        assert_ne!(m, s[0].marker("v", "SELECT 2"), "another definition, another marker");
        assert_eq!(parse_marker("a comment"), None);
        let stamped = stamp(&m, 7);
        assert_eq!((definition(&stamped), parse_marker(&stamped)), (m.as_str(), Some(("v", "by_year"))));
    }
}
