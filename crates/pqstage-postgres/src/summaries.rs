//! A table's summaries as materialized views next to it: made by the first
//! load, refreshed (concurrently, through a unique index) after every load
//! that changed the table, made again when their definition changed, and
//! read back by `pqstage summary`.

use std::time::Instant;

use postgres::SimpleQueryMessage;
use pqstage_load::sql::{literal, render};
use pqstage_load::summaries::{
    definition, find_set, parse_marker, stamp, Cell, ResultTable, Summary, SummaryAction, SummaryReport,
};
use pqstage_load::TableName;

use crate::connect::{connect, Settings};
use crate::error::PgError;
use crate::sql::{SUMMARY, SUMMARY_SETS};

/// The shipped set of summaries called `name`.
///
/// # Errors
/// [`PgError::Refused`] for a name no set has.
pub(crate) fn set(name: &str) -> Result<&'static [Summary], PgError> {
    find_set(&SUMMARY_SETS, name).map_err(PgError::Refused)
}

/// Brings the summaries of `set_name` on `parent` up to date: made when
/// missing or defined otherwise, refreshed when the load `changed` the
/// table or they were computed from another staged version than `version`,
/// else left alone.
///
/// # Errors
/// A relation of a summary's name that pqstage did not make, or a failed
/// statement (the load itself is committed by then).
pub(crate) fn refresh(
    client: &mut postgres::Client,
    parent: &TableName,
    set_name: &str,
    changed: bool,
    version: u64,
) -> Result<Vec<SummaryReport>, PgError> {
    let mut out = Vec::new();
    for s in set(set_name)? {
        let started = Instant::now();
        let view = TableName::new(&parent.schema, s.relation(&parent.name)).quoted();
        let query = render(s.sql, &[("table", &parent.quoted())]);
        let marker = s.marker(set_name, &query);
        let stamped = stamp(&marker, version);
        let what = |doing: &str| format!("{doing} summary {view}");
        let held = client.query_opt(SUMMARY.summary_relation, &[&view]).map_err(PgError::db(what("look up")))?;
        let held = held.map(|r| (r.get::<_, bool>(0), r.get::<_, Option<String>>(1)));
        let action = match held {
            Some((true, Some(c))) if c == stamped && !changed => SummaryAction::Unchanged,
            Some((true, Some(c))) if definition(&c) == marker => {
                let concurrently = !s.unique.is_empty();
                let sql = render(
                    SUMMARY.refresh_summary,
                    &[("view", &view), ("concurrently", if concurrently { "CONCURRENTLY" } else { "" })],
                );
                client.batch_execute(&sql).map_err(PgError::db(what("refresh")))?;
                let mark = render(SUMMARY.mark_summary, &[("view", &view), ("marker", &literal(&stamped))]);
                client.batch_execute(&mark).map_err(PgError::db(what("mark")))?;
                SummaryAction::Refreshed { concurrently }
            }
            Some((true, Some(c))) if parse_marker(&c).is_some() => {
                create(client, s, &view, &query, &stamped, true).map_err(PgError::db(what("make again")))?;
                SummaryAction::Created
            }
            Some(_) => {
                return Err(PgError::Refused(format!(
                    "{view} exists and is not a summary pqstage made, so the summary {} of {} cannot be kept there; \
                     rename or drop it",
                    s.name,
                    parent.quoted()
                )))
            }
            None => {
                create(client, s, &view, &query, &stamped, false).map_err(PgError::db(what("make")))?;
                SummaryAction::Created
            }
        };
        out.push(SummaryReport { relation: view, action, seconds: started.elapsed().as_secs_f64() });
    }
    Ok(out)
}

/// Makes a summary's view, its unique index and its marker in one
/// transaction, dropping the old one first when `replace`.
fn create(
    client: &mut postgres::Client,
    s: &Summary,
    view: &str,
    query: &str,
    marker: &str,
    replace: bool,
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    if replace {
        tx.batch_execute(&render(SUMMARY.drop_summary, &[("view", view)]))?;
    }
    tx.batch_execute(&render(SUMMARY.create_summary, &[("view", view), ("query", query)]))?;
    if !s.unique.is_empty() {
        let columns: Vec<String> = s.unique.iter().map(|c| pqstage_load::sql::quote_ident(c)).collect();
        tx.batch_execute(&render(SUMMARY.create_summary_index, &[("view", view), ("columns", &columns.join(", "))]))?;
    }
    tx.batch_execute(&render(SUMMARY.mark_summary, &[("view", view), ("marker", &literal(marker))]))?;
    tx.commit()
}

/// The summaries pqstage keeps of `schema.table` on the server `db` (a URL
/// or libpq's `PG*` variables), each read in its order.
///
/// # Errors
/// The server cannot be reached, or the table has no summaries there.
pub fn read_summaries(db: Option<&str>, table: &TableName) -> Result<Vec<ResultTable>, PgError> {
    let settings = Settings::resolve(db)?;
    let mut client = connect(&settings)?;
    let kept = client
        .query(SUMMARY.kept_summaries, &[&table.schema, &table.name])
        .map_err(PgError::db(format!("list the summaries of {}", table.quoted())))?;
    if kept.is_empty() {
        return Err(PgError::Refused(format!(
            "{} has no summaries: its spec names none ([target] summaries), or it has not been loaded",
            table.quoted()
        )));
    }
    let mut out: Vec<ResultTable> = Vec::new();
    for row in kept {
        let (relname, marker): (String, String) = (row.get(0), row.get(1));
        let known =
            parse_marker(&marker).and_then(|(set_name, name)| set(set_name).ok()?.iter().find(|s| s.name == name));
        let view = TableName::new(&table.schema, &relname).quoted();
        let order = known.and_then(|s| s.order.as_deref()).map(|o| format!("ORDER BY {o}")).unwrap_or_default();
        let sql = render(SUMMARY.read_summary, &[("view", &view), ("order", &order)]);
        let messages = client.simple_query(&sql).map_err(PgError::db(format!("read summary {view}")))?;
        let mut columns: Vec<String> = Vec::new();
        let mut texts: Vec<Vec<Option<String>>> = Vec::new();
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => {
                    columns = cols.iter().map(|c| c.name().to_string()).collect()
                }
                SimpleQueryMessage::Row(r) => {
                    if columns.is_empty() {
                        columns = r.columns().iter().map(|c| c.name().to_string()).collect();
                    }
                    texts.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
                }
                _ => {}
            }
        }
        // A column is a number when every value in it reads as one.
        let numeric: Vec<bool> = (0..columns.len())
            .map(|c| {
                let mut values = texts.iter().filter_map(|r| r[c].as_deref()).peekable();
                values.peek().is_some() && values.all(|v| v.parse::<f64>().is_ok())
            })
            .collect();
        let rows = texts
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .enumerate()
                    .map(|(c, v)| match v {
                        None => Cell { text: "NULL".into(), numeric: false },
                        Some(v) if numeric[c] => Cell::number(&v, &columns[c]),
                        Some(v) => Cell { text: v, numeric: false },
                    })
                    .collect()
            })
            .collect();
        let title = known.map_or_else(|| relname.clone(), |s| s.title.clone());
        out.push(ResultTable { title, columns, rows });
    }
    if out.is_empty() {
        return Err(PgError::Refused(format!(
            "{} has no summaries: its spec names none ([target] summaries), or it has not been loaded",
            table.quoted()
        )));
    }
    Ok(out)
}
