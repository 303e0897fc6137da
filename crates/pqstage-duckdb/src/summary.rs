//! `pqstage summary`: the named queries of `sql/duckdb/summary_*.sql`, run
//! against a loaded table and returned as text cells.

use std::path::Path;

use duckdb::types::Value;

use crate::sql::{self, render, TableName};
use crate::DuckdbError;

/// One formatted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The value as text ("NULL" for NULL).
    pub text: String,
    /// True for numbers (printed right-aligned).
    pub numeric: bool,
}

/// A query's result, ready to print.
#[derive(Debug, Clone)]
pub struct ResultTable {
    /// What the query shows (its file's first comment line).
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// Runs every summary query against `table` in the DuckDB file `db`, read-only.
///
/// # Errors
/// [`DuckdbError::NoDatabase`] / [`DuckdbError::Locked`] when the file cannot
/// be opened, [`DuckdbError::Sql`] when a query fails (say the table lacks a
/// column the summaries use).
pub fn summaries(db: &Path, table: &str) -> Result<Vec<ResultTable>, DuckdbError> {
    let t = TableName::parse(table).ok_or_else(|| DuckdbError::BadTableName(table.to_string()))?;
    let conn = crate::open(db, None, true)?;
    let catalog = sql::catalog(&conn).map_err(|e| DuckdbError::sql("read the catalog name", e))?;
    let qualified = t.qualified(&catalog);
    [sql::SUMMARY_BY_YEAR, sql::SUMMARY_TOP_COMPANIES].iter().map(|q| run(&conn, q, &qualified)).collect()
}

fn run(conn: &duckdb::Connection, template: &str, table: &str) -> Result<ResultTable, DuckdbError> {
    let title = template
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("--"))
        .map(|l| l.trim().trim_end_matches('.').to_string())
        .unwrap_or_default();
    let query = render(template, &[("table", table)]);
    let what = "run a summary query";
    let mut stmt = conn.prepare(&query).map_err(|e| DuckdbError::sql(what, e))?;
    let mut rows = Vec::new();
    let mut result = stmt.query([]).map_err(|e| DuckdbError::sql(what, e))?;
    let columns = result.as_ref().map(|s| s.column_names()).unwrap_or_default();
    while let Some(row) = result.next().map_err(|e| DuckdbError::sql(what, e))? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, name) in columns.iter().enumerate() {
            let v: Value = row.get(i).map_err(|e| DuckdbError::sql(what, e))?;
            cells.push(cell(&v, name));
        }
        rows.push(cells);
    }
    Ok(ResultTable { title, columns, rows })
}

/// Formats a value: thousands grouped, except in year columns.
fn cell(v: &Value, column: &str) -> Cell {
    let group = !column.ends_with("year");
    let num = |s: String| Cell { text: if group { group_digits(&s) } else { s }, numeric: true };
    match v {
        Value::Null => Cell { text: "NULL".into(), numeric: false },
        Value::Boolean(b) => Cell { text: b.to_string(), numeric: false },
        Value::TinyInt(x) => num(x.to_string()),
        Value::SmallInt(x) => num(x.to_string()),
        Value::Int(x) => num(x.to_string()),
        Value::BigInt(x) => num(x.to_string()),
        Value::HugeInt(x) => num(x.to_string()),
        Value::UTinyInt(x) => num(x.to_string()),
        Value::USmallInt(x) => num(x.to_string()),
        Value::UInt(x) => num(x.to_string()),
        Value::UBigInt(x) => num(x.to_string()),
        Value::Float(x) => num(format!("{x:.2}")),
        Value::Double(x) => num(format!("{x:.2}")),
        Value::Decimal(d) => num(d.to_string()),
        Value::Text(s) => Cell { text: s.clone(), numeric: false },
        other => Cell { text: format!("{other:?}"), numeric: false },
    }
}

/// "1234567.5" → "1,234,567.5".
fn group_digits(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(a, b)| (a, Some(b)));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
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
    fn digits_are_grouped_in_threes() {
        assert_eq!(group_digits("1234567.50"), "1,234,567.50");
        assert_eq!(group_digits("-1000"), "-1,000");
        assert_eq!(group_digits("999"), "999");
        assert_eq!(group_digits("inf"), "inf");
    }

    #[test]
    fn years_are_not_grouped() {
        assert_eq!(cell(&Value::Int(1987), "year").text, "1987");
        assert_eq!(cell(&Value::BigInt(1987), "violations").text, "1,987");
        assert_eq!(cell(&Value::Null, "year"), Cell { text: "NULL".into(), numeric: false });
    }
}
