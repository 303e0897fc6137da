//! Summaries: named queries over a loaded table whose results the target
//! keeps as tables next to it (`<table>_<name>`) and brings up to date after
//! every load that changed the table. A spec picks a set of them with
//! `[target] summaries = "NAME"`; each engine ships the set as
//! `sql/<engine>/summaries_NAME.sql`, one named block per summary:
//!
//! ```sql
//! -- name: by_year
//! -- Per year: rows and amounts.
//!
//! -- group: year
//! -- rows: n
//! -- show: year, n, round(total / nullif(n, 0), 2) AS mean
//! -- order: year NULLS LAST
//! -- limit: 100
//! SELECT year, count(*) AS n, coalesce(sum(amount), 0) AS total
//! FROM {table} GROUP BY year;
//! ```
//!
//! The description titles the printed result. The directives after it:
//!
//! - `-- group:` the columns the query groups by. A summary that names them
//!   is *maintained*: every other column it returns is a count or a sum that
//!   is never NULL, so adding the aggregates of the rows a change writes and
//!   subtracting those of the rows it removes gives what the query would
//!   compute from the whole table. PostgreSQL loads that apply change sets
//!   keep such a summary up to date that way, in the transaction that
//!   applies them; DuckDB computes it again, which its columns make cheap.
//! - `-- rows:` the column holding `count(*)`: a group whose count falls to
//!   0 is removed (required with `-- group:`).
//! - `-- show:`, `-- order:`, `-- limit:` what `pqstage summary` prints: a
//!   select list over the kept table (default every column), its order and
//!   how many rows at most.
//!
//! A summary without `-- group:` is computed again from the whole table
//! after every load that changed it.

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
    /// The group columns of a maintained summary (empty: computed whole).
    pub group: Vec<String>,
    /// The column holding each group's `count(*)`.
    pub rows: Option<String>,
    /// The select list printed, if not every column.
    pub show: Option<String>,
    /// `ORDER BY` of the printed rows, if declared.
    pub order: Option<String>,
    /// At most this many rows are printed.
    pub limit: Option<u64>,
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
        let text = format!("{rendered}\n{}\n{}", self.group.join(","), self.rows.as_deref().unwrap_or(""));
        format!("{MARKER_PREFIX}{set}.{} {:016x}", self.name, xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
    }

    /// True when loads keep it up to date from what they change.
    pub fn maintained(&self) -> bool {
        !self.group.is_empty() && self.rows.is_some()
    }

    /// The query over `rows` (a quoted table or view), without its final
    /// semicolon.
    pub fn query(&self, rows: &str) -> String {
        crate::sql::render(self.sql, &[("table", rows)]).trim_end().trim_end_matches(';').trim_end().to_string()
    }

    /// Adds to the table `delta` the query's aggregates over `rows`,
    /// negated when `subtract` (rows a change removes). `columns` are the
    /// kept table's, in its order.
    pub fn delta(&self, delta: &str, rows: &str, columns: &[String], subtract: bool) -> String {
        let q = crate::sql::quote_ident;
        let names: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let values: Vec<String> = columns
            .iter()
            .map(|c| if subtract && !self.group.contains(c) { format!("-q.{}", q(c)) } else { format!("q.{}", q(c)) })
            .collect();
        format!(
            "INSERT INTO {delta} ({}) SELECT {} FROM ({}) AS q",
            names.join(", "),
            values.join(", "),
            self.query(rows)
        )
    }

    /// The statements that fold the aggregates gathered in `delta` into the
    /// kept table `kept` (whose `columns` they are): every group summed,
    /// the groups left with no rows gone. The table is rewritten in place,
    /// so readers see it whole before or after the transaction.
    pub fn fold(&self, kept: &str, delta: &str, columns: &[String]) -> String {
        let q = crate::sql::quote_ident;
        let names: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let group: Vec<String> = self.group.iter().map(|c| q(c)).collect();
        let sums: Vec<String> = columns
            .iter()
            .map(|c| if self.group.contains(c) { q(c) } else { format!("sum({0}) AS {0}", q(c)) })
            .collect();
        let rows = q(self.rows.as_deref().unwrap_or_default());
        let names = names.join(", ");
        format!(
            "CREATE TEMP TABLE pqstage_folded AS SELECT {} FROM (SELECT {names} FROM {kept} UNION ALL \
             SELECT {names} FROM {delta}) AS u GROUP BY {} HAVING sum({rows}) <> 0;\n\
             DELETE FROM {kept};\n\
             INSERT INTO {kept} ({names}) SELECT {names} FROM pqstage_folded;\n\
             DROP TABLE pqstage_folded;\n\
             DELETE FROM {delta};",
            sums.join(", "),
            group.join(", ")
        )
    }

    /// What `pqstage summary` runs over the kept table `kept`.
    pub fn print_query(&self, kept: &str) -> String {
        let mut sql = format!("SELECT {} FROM {kept}", self.show.as_deref().unwrap_or("*"));
        if let Some(o) = &self.order {
            sql += &format!(" ORDER BY {o}");
        }
        if let Some(n) = self.limit {
            sql += &format!(" LIMIT {n}");
        }
        sql
    }
}

/// How the comment of every kept summary starts.
pub const MARKER_PREFIX: &str = "pqstage summary ";

/// The comment a kept summary carries: its [`Summary::marker`], the staged
/// version it was computed from and the state of the table it matches (an
/// engine's digest of which partitions, at which checksums, the table held),
/// so a load can tell whether the summary still matches the table before
/// keeping it up to date from changes, or leaving it alone.
pub fn stamp(marker: &str, version: u64, state: &str) -> String {
    format!("{marker} of version {version}, state {state}")
}

/// The table state a comment written by [`stamp`] names.
pub fn stamped_state(comment: &str) -> Option<&str> {
    comment.rsplit_once(", state ").map(|(_, s)| s)
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
                group: directive("group:")
                    .map(|u| u.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
                    .unwrap_or_default(),
                rows: directive("rows:"),
                show: directive("show:"),
                order: directive("order:"),
                limit: directive("limit:").and_then(|n| n.parse().ok()),
            }
        })
        .collect()
}

/// What a load did to one summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryAction {
    /// Made (it was missing, or its definition changed).
    Created,
    /// Computed again from the whole table, in a transaction: readers
    /// kept reading the previous rows meanwhile.
    Refreshed,
    /// Kept up to date from the rows the load wrote and removed, without
    /// reading the rest of the table.
    Maintained,
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
            Self::Refreshed => "computed again",
            Self::Maintained => "kept up to date from the changes",
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

    const SET: &str = "-- name: by_year\n-- Per year: rows.\n\n-- group: year\n-- rows: n\n-- show: year, n\n\
        -- order: year NULLS LAST\n-- limit: 5\nSELECT year, count(*) AS n, sum(x) AS s FROM {table} GROUP BY year;\n\n\
        -- name: plain\n-- Everything.\nSELECT * FROM {table};\n";

    #[test]
    fn directives_and_markers() {
        let q = Queries::parse("s.sql", SET).unwrap();
        let s = summaries(&q);
        assert_eq!(s[0].title, "Per year: rows");
        assert_eq!((s[0].group.as_slice(), s[0].rows.as_deref()), (&["year".to_string()][..], Some("n")));
        assert_eq!(s[0].order.as_deref(), Some("year NULLS LAST"));
        assert!(s[0].maintained() && !s[1].maintained());
        assert_eq!(s[0].print_query("k"), "SELECT year, n FROM k ORDER BY year NULLS LAST LIMIT 5");
        assert_eq!(s[1].print_query("k"), "SELECT * FROM k");
        assert_eq!((s[1].group.len(), s[1].order.as_deref(), s[1].limit), (0, None, None));
        assert_eq!(s[0].relation("violations"), "violations_by_year");
        let m = s[0].marker("v", "SELECT 1");
        assert_eq!(parse_marker(&m), Some(("v", "by_year")));
        assert_ne!(m, s[0].marker("v", "SELECT 2"), "another definition, another marker");
        assert_eq!(parse_marker("a comment"), None);
        let stamped = stamp(&m, 7, "ab12");
        assert_eq!((definition(&stamped), parse_marker(&stamped)), (m.as_str(), Some(("v", "by_year"))));
        assert_eq!((definition(&stamped), stamped_state(&stamped)), (m.as_str(), Some("ab12")));
        assert_eq!(stamped_state(&format!("{m} of version 7")), None);
    }

    #[test]
    fn deltas_negate_measures_and_fold_drops_empty_groups() {
        let q = Queries::parse("s.sql", SET).unwrap();
        let s = &summaries(&q)[0];
        let cols = ["year".to_string(), "n".to_string(), "s".to_string()];
        let sub = s.delta("d", "old", &cols, true);
        assert!(
            sub.starts_with("INSERT INTO d (\"year\", \"n\", \"s\") SELECT q.\"year\", -q.\"n\", -q.\"s\" FROM ("),
            "{sub}"
        );
        assert!(sub.contains("FROM old GROUP BY year) AS q"), "{sub}");
        assert!(s.delta("d", "new", &cols, false).contains("SELECT q.\"year\", q.\"n\", q.\"s\" FROM"));
        let fold = s.fold("k", "d", &cols);
        assert!(fold.contains("GROUP BY \"year\" HAVING sum(\"n\") <> 0"), "{fold}");
        assert!(fold.contains("sum(\"s\") AS \"s\""), "{fold}");
    }
}
