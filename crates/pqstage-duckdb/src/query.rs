//! Named queries run against a loaded table, their results returned as
//! text cells ready to print: what `pqstage summary` shows.

use std::path::Path;

use duckdb::types::Value;

use pqstage_load::sql::{render, Queries};
use pqstage_load::TableName;

use crate::error::DuckdbError;
use crate::sql::CATALOG;

pub use pqstage_load::summaries::{Cell, ResultTable};

/// Runs every query of `queries` against `table` (`name` or `schema.name`)
/// in the DuckDB file `db`, opened read-only. Each query's `{table}`
/// placeholder is the table's full name.
///
/// # Errors
/// [`DuckdbError::NoDatabase`] / [`DuckdbError::Locked`] when the file cannot
/// be opened, [`DuckdbError::Sql`] when a query fails (say the table lacks a
/// column it uses).
pub fn run_queries(db: &Path, table: &str, queries: &Queries) -> Result<Vec<ResultTable>, DuckdbError> {
    let t = TableName::parse(table, "main")?;
    let conn = crate::open(db, None, true)?;
    let catalog: String =
        conn.query_row(CATALOG.current_catalog, [], |r| r.get(0)).map_err(DuckdbError::sql("read the catalog name"))?;
    let qualified = t.qualified(&catalog);
    queries.iter().map(|q| run(&conn, &q.doc, q.sql, &qualified)).collect()
}

/// The summaries of a trajectory dataset's tables in `schema`: rows per
/// episode, and per property (`sql/duckdb/trajectories_queries.sql`).
///
/// # Errors
/// The file cannot be opened or a query fails (no trajectory tables there).
pub fn run_trajectory_summary(db: &Path, schema: &str) -> Result<Vec<ResultTable>, DuckdbError> {
    let conn = crate::open(db, None, true)?;
    let all = crate::sql::TRAJECTORY_QUERIES.all();
    ["dataset_counts", "property_summary"]
        .iter()
        .map(|name| {
            let q = all.get(name).map_err(|_| DuckdbError::Trajectory(format!("no query {name}")))?;
            let sql = render(q.sql, &[("schema", &pqstage_load::sql::quote_ident(schema))]);
            run(&conn, q.doc.split(". ").next().unwrap_or_default(), &sql, "")
        })
        .collect()
}

fn run(conn: &duckdb::Connection, doc: &str, template: &str, table: &str) -> Result<ResultTable, DuckdbError> {
    let title = doc.trim().trim_end_matches('.').to_string();
    let query = render(template, &[("table", table)]);
    let what = "run a query";
    let mut stmt = conn.prepare(&query).map_err(DuckdbError::sql(what))?;
    let mut rows = Vec::new();
    let mut result = stmt.query([]).map_err(DuckdbError::sql(what))?;
    let columns = result.as_ref().map(|s| s.column_names()).unwrap_or_default();
    while let Some(row) = result.next().map_err(DuckdbError::sql(what))? {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, name) in columns.iter().enumerate() {
            let v: Value = row.get(i).map_err(DuckdbError::sql(what))?;
            cells.push(cell(&v, name));
        }
        rows.push(cells);
    }
    Ok(ResultTable { title, columns, rows })
}

/// Formats a value: thousands grouped, except in year columns.
pub(crate) fn cell(v: &Value, column: &str) -> Cell {
    let num = |s: String| Cell::number(&s, column);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_are_not_grouped() {
        assert_eq!(cell(&Value::Int(1987), "year").text, "1987");
        assert_eq!(cell(&Value::BigInt(1987), "violations").text, "1,987");
        assert_eq!(cell(&Value::Null, "year"), Cell { text: "NULL".into(), numeric: false });
    }
}
