//! A table's summaries as tables next to it: computed (`CREATE OR REPLACE
//! TABLE … AS`, in the load's transaction) after a load that changed the table, or
//! when missing or defined otherwise; read back by `pqstage summary`. Each
//! kept summary's comment names the digest of the table's state it was
//! computed from, so a load that changed nothing leaves it alone and the
//! next load after one that skipped it (`--no-summaries`) computes it again.
//!
//! DuckDB computes even the maintained ones (`-- group:`) again rather than
//! from the rows a load changes, as PostgreSQL does: from its columns that
//! takes about half a second for 18 M rows, while finding the rows a change
//! set replaces means joining its keys with the whole table (4.5 s measured,
//! BENCHMARKS.md).

use std::path::Path;
use std::time::Instant;

use duckdb::types::Value;
use duckdb::{params, Connection};
use pqstage_load::sql::{literal, render};
use pqstage_load::summaries::{
    definition, find_set, parse_marker, stamp, stamped_state, ResultTable, Summary, SummaryAction, SummaryReport,
};
use pqstage_load::TableName;

use crate::error::DuckdbError;
use crate::query::cell;
use crate::sql::{CATALOG, STATE, SUMMARY, SUMMARY_SETS};

/// The shipped set of summaries called `name`.
///
/// # Errors
/// [`DuckdbError::Refused`] for a name no set has.
pub(crate) fn set(name: &str) -> Result<&'static [Summary], DuckdbError> {
    find_set(&SUMMARY_SETS, name).map_err(DuckdbError::Refused)
}

/// The quoted `"catalog"."schema"."name"` of a summary of `table`.
fn qualified(conn: &Connection, table: &TableName, name: &str) -> Result<String, DuckdbError> {
    let catalog: String =
        conn.query_row(CATALOG.current_catalog, [], |r| r.get(0)).map_err(DuckdbError::sql("read the catalog name"))?;
    Ok(TableName::new(&table.schema, name).qualified(&catalog))
}

/// The digest of what the table loaded as `loaded` (as given to `--table`)
/// holds, by the state table `state`.
fn digest(conn: &Connection, state: &str, loaded: &str) -> Result<String, DuckdbError> {
    conn.query_row(&render(STATE.state_digest, &[("state", state)]), params![loaded], |r| r.get(0))
        .map_err(DuckdbError::sql("read pqstage.load_state"))
}

/// A kept summary's comment: `None` when no table of that name exists.
fn comment(conn: &Connection, table: &TableName, name: &str) -> Result<Option<Option<String>>, DuckdbError> {
    conn.query_row(SUMMARY.summary_comment, params![table.schema, name], |r| r.get(0))
        .map(Some)
        .or_else(|e| if matches!(e, duckdb::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })
        .map_err(DuckdbError::sql("look up a summary"))
}

/// Brings the summaries of `set_name` on `table` (loaded as `loaded`,
/// recorded in `state`) up to date after a load of staged `version`, in the
/// caller's transaction (the load's): left alone when they match the table's
/// state; else computed again (made, when missing or defined otherwise).
///
/// # Errors
/// A relation of a summary's name that pqstage did not make (the caller
/// commits the load all the same), or a failed statement.
pub(crate) fn refresh(
    conn: &Connection,
    table: &TableName,
    (state, loaded): (&str, &str),
    set_name: &str,
    version: u64,
) -> Result<Vec<SummaryReport>, DuckdbError> {
    let source = qualified(conn, table, &table.name)?;
    let now = digest(conn, state, loaded)?;
    let mut out = Vec::new();
    for s in set(set_name)? {
        let started = Instant::now();
        let name = s.relation(&table.name);
        let summary = qualified(conn, table, &name)?;
        let relation = TableName::new(&table.schema, &name).quoted();
        let query = s.query(&source);
        // Marked with the query over `"schema"."table"`: the catalog is the
        // file's name, and a copied file keeps its summaries.
        let marker = s.marker(set_name, &s.query(&table.quoted()));
        let stamped = stamp(&marker, version, &now);
        let views: i64 = conn
            .query_row(SUMMARY.other_relation, params![table.schema, name], |r| r.get(0))
            .map_err(DuckdbError::sql("look up a summary"))?;
        let action = match comment(conn, table, &name)? {
            Some(Some(c)) if definition(&c) == marker && stamped_state(&c) == Some(now.as_str()) => {
                SummaryAction::Unchanged
            }
            Some(Some(c)) if definition(&c) == marker => SummaryAction::Refreshed,
            Some(Some(c)) if parse_marker(&c).is_some() => SummaryAction::Created,
            None if views == 0 => SummaryAction::Created,
            _ => {
                return Err(DuckdbError::Refused(format!(
                    "{summary} exists and is not a summary pqstage made, so the summary {} of {source} cannot be kept there; \
                     rename or drop it",
                    s.name
                )))
            }
        };
        if action != SummaryAction::Unchanged {
            let store = render(SUMMARY.store_summary, &[("summary", &summary), ("query", &query)]);
            let mark = render(SUMMARY.mark_summary, &[("summary", &summary), ("marker", &literal(&stamped))]);
            conn.execute_batch(&format!("{store}\n{mark}")).map_err(DuckdbError::sql("compute a summary"))?;
        }
        out.push(SummaryReport { relation, action, seconds: started.elapsed().as_secs_f64() });
    }
    Ok(out)
}

/// The summaries pqstage keeps of `table` (`name` or `schema.name`) in the
/// DuckDB file `db`, opened read-only, each read in its order.
///
/// # Errors
/// The file cannot be opened, or the table has no summaries there.
pub fn read_summaries(db: &Path, table: &str) -> Result<Vec<ResultTable>, DuckdbError> {
    let t = TableName::parse(table, "main")?;
    let conn = crate::open(db, None, true)?;
    let mut stmt = conn.prepare(SUMMARY.kept_summaries).map_err(DuckdbError::sql("list summaries"))?;
    let kept: Vec<(String, String)> = stmt
        .query_map(params![t.schema, t.name], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(Iterator::collect)
        .map_err(DuckdbError::sql("list summaries"))?;
    let mut out = Vec::new();
    for (name, marker) in kept {
        let Some((set_name, summary_name)) = parse_marker(&marker) else { continue };
        // `violations_old_by_year` is not a summary of `violations`.
        if name != format!("{}_{summary_name}", t.name) {
            continue;
        }
        let known = set(set_name).ok().and_then(|s| s.iter().find(|x| x.name == summary_name));
        let summary = qualified(&conn, &t, &name)?;
        let sql = known.map_or_else(|| format!("SELECT * FROM {summary}"), |s| s.print_query(&summary));
        let mut stmt = conn.prepare(&sql).map_err(DuckdbError::sql("read a summary"))?;
        let mut result = stmt.query([]).map_err(DuckdbError::sql("read a summary"))?;
        let columns = result.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let mut rows = Vec::new();
        while let Some(row) = result.next().map_err(DuckdbError::sql("read a summary"))? {
            let mut cells = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                let v: Value = row.get(i).map_err(DuckdbError::sql("read a summary"))?;
                cells.push(cell(&v, c));
            }
            rows.push(cells);
        }
        let title = known.map_or_else(|| name.clone(), |s| s.title.clone());
        out.push(ResultTable { title, columns, rows });
    }
    if out.is_empty() {
        return Err(DuckdbError::Refused(format!(
            "{} in {} has no summaries: its spec names none ([target] summaries), or it has not been loaded",
            t.quoted(),
            db.display()
        )));
    }
    Ok(out)
}
