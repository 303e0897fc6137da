//! A table's summaries as tables next to it: made by the first load, kept
//! up to date by the load's transaction when they can be ([`Maintainer`]),
//! else computed again after a load that changed the table, made again when
//! missing or defined otherwise, and read back by `pqstage summary`.
//!
//! A maintained summary (`-- group:`, see [`pqstage_load::summaries`]) that
//! matches the table when the load starts follows the change sets the load
//! applies, in its one transaction: the aggregates of the rows they delete
//! or replace are subtracted, those of the rows they insert (and of
//! partitions loaded for the first time) added. A load that replaces or
//! removes whole partitions computes the summaries again instead: from
//! DuckDB's columns that costs about a second for 18 M rows, less than
//! reading every row that leaves and arrives. Each kept summary's comment
//! names the digest of the table's state it matches.

use std::path::Path;
use std::time::Instant;

use duckdb::types::Value;
use duckdb::{params, Connection};
use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::summaries::{
    definition, find_set, parse_marker, stamp_state, stamped_state, ResultTable, Summary, SummaryAction, SummaryReport,
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

/// One maintained summary the load's transaction keeps up to date.
struct Kept {
    summary: &'static Summary,
    /// The kept table, qualified, and its name for reports.
    relation: String,
    reported: String,
    delta: String,
    columns: Vec<String>,
    marker: String,
}

/// The maintained summaries a load keeps up to date in its transaction.
pub(crate) struct Maintainer {
    kept: Vec<Kept>,
    seconds: f64,
    /// The table's state when the load began.
    began: String,
    /// Whether any rows were gathered.
    gathered: bool,
}

impl Maintainer {
    /// Nothing to maintain.
    pub(crate) fn none() -> Self {
        Maintainer { kept: Vec::new(), seconds: 0.0, began: String::new(), gathered: false }
    }

    /// In the load's transaction, before it changes anything: the maintained
    /// summaries of `set_name` on `table` (loaded as `loaded`, recorded in
    /// `state`) that match the table as it is.
    ///
    /// # Errors
    /// DuckDB's.
    pub(crate) fn begin(
        conn: &Connection,
        table: &TableName,
        (state, loaded): (&str, &str),
        set_name: &str,
    ) -> Result<Self, DuckdbError> {
        let started = Instant::now();
        let now = digest(conn, state, loaded)?;
        let mut kept = Vec::new();
        for s in set(set_name)?.iter().filter(|s| s.maintained()) {
            let name = s.relation(&table.name);
            let marker = s.marker(set_name, &s.query(&table.quoted()));
            let Some(Some(c)) = comment(conn, table, &name)? else { continue };
            if definition(&c) != marker || stamped_state(&c) != Some(now.as_str()) {
                continue;
            }
            let relation = qualified(conn, table, &name)?;
            let delta = quote_ident(&format!("pqstage_delta_{}", s.name));
            conn.execute_batch(&render(SUMMARY.summary_delta, &[("delta", &delta), ("summary", &relation)]))
                .map_err(DuckdbError::sql("stage a summary's changes"))?;
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {relation} LIMIT 0"))
                .map_err(DuckdbError::sql("read a summary's columns"))?;
            let result = stmt.query([]).map_err(DuckdbError::sql("read a summary's columns"))?;
            let columns = result.as_ref().map(|st| st.column_names()).unwrap_or_default();
            let reported = TableName::new(&table.schema, &name).quoted();
            kept.push(Kept { summary: s, relation, reported, delta, columns, marker });
        }
        Ok(Maintainer { kept, seconds: started.elapsed().as_secs_f64(), began: now, gathered: false })
    }

    /// Gives up keeping the summaries up to date (the load replaces whole
    /// partitions: computing them again from the columns costs less than
    /// reading the rows that leave and arrive); they are computed again
    /// after the load.
    ///
    /// # Errors
    /// DuckDB's.
    pub(crate) fn abandon(&mut self, conn: &Connection) -> Result<(), DuckdbError> {
        for k in self.kept.drain(..) {
            conn.execute_batch(&format!("DROP TABLE {};", k.delta))
                .map_err(DuckdbError::sql("drop a summary's changes"))?;
        }
        Ok(())
    }

    /// True when there is nothing to maintain.
    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Gathers the aggregates over the rows `rows` (a SELECT) returns: rows
    /// about to be deleted when `subtract`, else rows just inserted.
    ///
    /// # Errors
    /// DuckDB's.
    pub(crate) fn gather(&mut self, conn: &Connection, rows: &str, subtract: bool) -> Result<(), DuckdbError> {
        if self.kept.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let view = render(SUMMARY.summary_rows, &[("rows", rows)]);
        conn.execute_batch(&view).map_err(DuckdbError::sql("gather a summary's changes"))?;
        for k in &self.kept {
            conn.execute_batch(&k.summary.delta(&k.delta, "pqstage_rows", &k.columns, subtract))
                .map_err(DuckdbError::sql("gather a summary's changes"))?;
        }
        conn.execute_batch("DROP TABLE pqstage_rows").map_err(DuckdbError::sql("gather a summary's changes"))?;
        self.seconds += started.elapsed().as_secs_f64();
        self.gathered = true;
        Ok(())
    }

    /// Folds what was gathered into the summaries and stamps them with the
    /// table's state as the transaction leaves it (after its state records).
    /// Returns the summaries kept up to date (quoted) and the seconds it
    /// all took: none when the load changed nothing.
    ///
    /// # Errors
    /// DuckDB's.
    pub(crate) fn finish(
        self,
        conn: &Connection,
        (state, loaded): (&str, &str),
        version: u64,
    ) -> Result<(Vec<String>, f64), DuckdbError> {
        if self.kept.is_empty() {
            return Ok((Vec::new(), 0.0));
        }
        let started = Instant::now();
        let now = digest(conn, state, loaded)?;
        if !self.gathered && now == self.began {
            let drop: Vec<String> = self.kept.iter().map(|k| format!("DROP TABLE {};", k.delta)).collect();
            conn.execute_batch(&drop.join("\n")).map_err(DuckdbError::sql("update a summary"))?;
            return Ok((Vec::new(), 0.0));
        }
        for k in &self.kept {
            let stamped = stamp_state(&k.marker, version, &now);
            let mark = render(SUMMARY.mark_summary, &[("summary", &k.relation), ("marker", &literal(&stamped))]);
            let fold = k.summary.fold(&k.relation, &k.delta, &k.columns);
            conn.execute_batch(&format!("{fold}\nDROP TABLE {};\n{mark}", k.delta))
                .map_err(DuckdbError::sql("update a summary"))?;
        }
        let seconds = self.seconds + started.elapsed().as_secs_f64();
        Ok((self.kept.into_iter().map(|k| k.reported).collect(), seconds))
    }
}

/// Brings the summaries of `set_name` on `table` (loaded as `loaded`,
/// recorded in `state`) up to date after a load of staged `version`, each in
/// a transaction of its own: left alone when they match the table (the load
/// changed nothing, or kept them up to date: `maintained`, with the seconds
/// that took); made when missing or defined otherwise; else computed again.
///
/// # Errors
/// A relation of a summary's name that pqstage did not make, or a failed
/// statement (the load itself is committed by then).
pub(crate) fn refresh(
    conn: &Connection,
    table: &TableName,
    (state, loaded): (&str, &str),
    set_name: &str,
    version: u64,
    maintained: &(Vec<String>, f64),
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
        let stamped = stamp_state(&marker, version, &now);
        let views: i64 = conn
            .query_row(SUMMARY.other_relation, params![table.schema, name], |r| r.get(0))
            .map_err(DuckdbError::sql("look up a summary"))?;
        let kept_now = maintained.0.contains(&relation);
        let action = match comment(conn, table, &name)? {
            Some(Some(c)) if definition(&c) == marker && stamped_state(&c) == Some(now.as_str()) => {
                if kept_now {
                    SummaryAction::Maintained
                } else {
                    SummaryAction::Unchanged
                }
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
        if !matches!(action, SummaryAction::Unchanged | SummaryAction::Maintained) {
            let store = render(SUMMARY.store_summary, &[("summary", &summary), ("query", &query)]);
            let mark = render(SUMMARY.mark_summary, &[("summary", &summary), ("marker", &literal(&stamped))]);
            conn.execute_batch(&format!("BEGIN TRANSACTION;\n{store}\n{mark}\nCOMMIT;"))
                .map_err(DuckdbError::sql("compute a summary"))?;
        }
        // The transaction's time, shared among the summaries it kept.
        let earlier = if kept_now { maintained.1 / maintained.0.len() as f64 } else { 0.0 };
        out.push(SummaryReport { relation, action, seconds: earlier + started.elapsed().as_secs_f64() });
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
    if kept.is_empty() {
        return Err(DuckdbError::Refused(format!(
            "{} in {} has no summaries: its spec names none ([target] summaries), or it has not been loaded",
            t.quoted(),
            db.display()
        )));
    }
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
