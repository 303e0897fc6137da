//! A table's summaries as tables next to it: made by the first load, kept
//! up to date after every load that changed the table, made again when
//! their definition changed, and read back by `pqstage summary`.
//!
//! A maintained summary (`-- group:`, see [`pqstage_load::summaries`]) is
//! kept up to date by the transaction that applies change sets
//! ([`Maintainer`]): the aggregates of the rows it removes are subtracted,
//! those of the rows it writes added. Partitions loaded whole for the first
//! time are added after the load. Any other change (a partition replaced
//! or removed whole, a load with `--no-summaries`) computes the summary
//! again from the whole table. Each kept summary's comment names the digest
//! of the table's state it matches ([`stamp`]), which tells the next
//! load which of these applies.

use std::time::Instant;

use postgres::{GenericClient, SimpleQueryMessage};
use pqstage_load::sql::{literal, render};
use pqstage_load::summaries::{
    definition, find_set, parse_marker, stamp, stamped_state, Cell, ResultTable, Summary, SummaryAction, SummaryReport,
};
use pqstage_load::{Action, LoadReport, TableName};

use crate::connect::{connect, Settings};
use crate::error::PgError;
use crate::sql::{STATE, SUMMARY, SUMMARY_SETS};

/// The shipped set of summaries called `name`.
///
/// # Errors
/// [`PgError::Refused`] for a name no set has.
pub(crate) fn set(name: &str) -> Result<&'static [Summary], PgError> {
    find_set(&SUMMARY_SETS, name).map_err(PgError::Refused)
}

/// The digest of what `parent` holds by pqstage's state table, leaving out
/// the partitions `except`.
fn digest(client: &mut impl GenericClient, parent: &TableName, except: &[String]) -> Result<String, PgError> {
    let row = client
        .query_one(STATE.state_digest, &[&parent.schema, &parent.name, &except])
        .map_err(PgError::db(format!("read the state of {}", parent.quoted())))?;
    Ok(row.get(0))
}

/// A kept summary's relation kind and comment, if it exists.
fn lookup(client: &mut impl GenericClient, relation: &str) -> Result<Option<(String, Option<String>)>, PgError> {
    let held = client
        .query_opt(SUMMARY.summary_relation, &[&relation])
        .map_err(PgError::db(format!("look up summary {relation}")))?;
    Ok(held.map(|r| (r.get(0), r.get(1))))
}

/// A kept summary's columns, in order.
fn columns(client: &mut impl GenericClient, relation: &str) -> Result<Vec<String>, PgError> {
    let rows = client
        .query(SUMMARY.summary_columns, &[&relation])
        .map_err(PgError::db(format!("read the columns of summary {relation}")))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The summaries a change sets' transaction kept up to date (quoted), and
/// the seconds that took.
#[derive(Debug, Default, Clone)]
pub(crate) struct Maintained {
    pub relations: Vec<String>,
    pub seconds: f64,
}

/// One maintained summary a transaction keeps up to date.
struct Kept {
    summary: &'static Summary,
    /// The kept table, quoted and qualified.
    relation: String,
    /// The temporary table gathering the aggregates to fold in.
    delta: String,
    columns: Vec<String>,
    marker: String,
}

impl Kept {
    fn open(
        tx: &mut impl GenericClient,
        summary: &'static Summary,
        relation: String,
        marker: String,
    ) -> Result<Self, PgError> {
        let delta = pqstage_load::sql::quote_ident(&format!("pqstage_delta_{}", summary.name));
        tx.batch_execute(&render(SUMMARY.summary_delta, &[("delta", &delta), ("summary", &relation)]))
            .map_err(PgError::db(format!("stage the changes of summary {relation}")))?;
        let columns = columns(tx, &relation)?;
        Ok(Kept { summary, relation, delta, columns, marker })
    }

    /// Adds (or subtracts) the aggregates over `rows` to the delta.
    fn gather(&self, tx: &mut impl GenericClient, rows: &str, subtract: bool) -> Result<(), PgError> {
        tx.batch_execute(&self.summary.delta(&self.delta, rows, &self.columns, subtract))
            .map_err(PgError::db(format!("gather the changes of summary {}", self.relation)))
    }

    /// Folds the delta in and records the state it now matches.
    fn fold(&self, tx: &mut impl GenericClient, version: u64, state: &str) -> Result<(), PgError> {
        let mark = render(
            SUMMARY.mark_summary,
            &[("summary", &self.relation), ("marker", &literal(&stamp(&self.marker, version, state)))],
        );
        tx.batch_execute(&format!("{};\n{mark}", self.summary.fold(&self.relation, &self.delta, &self.columns)))
            .map_err(PgError::db(format!("update summary {}", self.relation)))
    }
}

/// Where a second connection, which prepared a patch's change sets ahead
/// of it, gathers a maintained summary's aggregates over them
/// ([`Maintainer::ahead`]), so the patch's transaction need not.
pub(crate) struct Ahead {
    summary: &'static Summary,
    columns: Vec<String>,
    /// The kept table, quoted and qualified.
    kept: String,
    /// The unlogged table that receives them, quoted and qualified.
    table: String,
}

impl Ahead {
    /// The statement that creates its table.
    pub(crate) fn create(&self) -> String {
        render(SUMMARY.summary_ahead, &[("table", &self.table), ("summary", &self.kept)])
    }

    /// The statement that gathers the aggregates over `rows`: rows the
    /// patch removes when `subtract`, else rows it writes.
    pub(crate) fn gather(&self, rows: &str, subtract: bool) -> String {
        self.summary.delta(&self.table, rows, &self.columns, subtract)
    }
}

/// The maintained summaries a transaction that applies change sets keeps
/// up to date: those that match the table when it starts.
pub(crate) struct Maintainer {
    kept: Vec<Kept>,
    seconds: f64,
}

impl Maintainer {
    /// Nothing to maintain.
    pub(crate) fn none() -> Self {
        Maintainer { kept: Vec::new(), seconds: 0.0 }
    }

    /// In `tx`, before it changes anything: the maintained summaries of
    /// `set_name` on `parent` that match the table as it is.
    ///
    /// # Errors
    /// The server's.
    pub(crate) fn begin(tx: &mut impl GenericClient, parent: &TableName, set_name: &str) -> Result<Self, PgError> {
        let started = Instant::now();
        let mut kept = Vec::new();
        let mut state: Option<String> = None;
        for s in set(set_name)?.iter().filter(|s| s.maintained()) {
            let relation = TableName::new(&parent.schema, s.relation(&parent.name)).quoted();
            let marker = s.marker(set_name, &s.query(&parent.quoted()));
            let Some((kind, Some(comment))) = lookup(tx, &relation)? else { continue };
            if kind != "r" || definition(&comment) != marker {
                continue;
            }
            if state.is_none() {
                state = Some(digest(tx, parent, &[])?);
            }
            if stamped_state(&comment) == state.as_deref() {
                kept.push(Kept::open(tx, s, relation, marker)?);
            }
        }
        Ok(Maintainer { kept, seconds: started.elapsed().as_secs_f64() })
    }

    /// Whether no summary is kept up to date.
    pub(crate) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Gathers the aggregates over `rows` (a table or view the transaction
    /// can read): rows about to be removed when `subtract`, else rows just
    /// written.
    ///
    /// # Errors
    /// The server's.
    pub(crate) fn gather(&mut self, tx: &mut impl GenericClient, rows: &str, subtract: bool) -> Result<(), PgError> {
        let started = Instant::now();
        for k in &self.kept {
            k.gather(tx, rows, subtract)?;
        }
        self.seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Where a second connection that prepared the patch run by backend
    /// `pid` gathers the aggregates over what it prepared: one table a
    /// summary kept up to date, in `parent`'s schema, named as the tables it
    /// prepares (`pqstage_patch_<pid>_<n>_delta`), so they go with them.
    pub(crate) fn ahead(&self, parent: &TableName, pid: i32) -> Vec<Ahead> {
        let table = |n: usize| parent.sibling(&format!("pqstage_patch_{pid}_{n}_delta"));
        self.kept
            .iter()
            .enumerate()
            .map(|(n, k)| Ahead {
                summary: k.summary,
                columns: k.columns.clone(),
                kept: k.relation.clone(),
                table: table(n),
            })
            .collect()
    }

    /// Takes in what `ahead` (made by [`Maintainer::ahead`]) gathered.
    ///
    /// # Errors
    /// The server's.
    pub(crate) fn take_ahead(&mut self, tx: &mut impl GenericClient, ahead: &[Ahead]) -> Result<(), PgError> {
        let started = Instant::now();
        for (k, a) in self.kept.iter().zip(ahead) {
            tx.batch_execute(&render(SUMMARY.summary_take_ahead, &[("delta", &k.delta), ("table", &a.table)]))
                .map_err(PgError::db(format!("take in the changes of summary {} gathered ahead", k.relation)))?;
        }
        self.seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Folds what was gathered into the summaries and records the state
    /// they match: the table's, as `tx` sees it (after its changes).
    /// Returns the summaries kept up to date.
    ///
    /// # Errors
    /// The server's.
    pub(crate) fn finish(
        self,
        tx: &mut impl GenericClient,
        parent: &TableName,
        version: u64,
    ) -> Result<Maintained, PgError> {
        if self.kept.is_empty() {
            return Ok(Maintained::default());
        }
        let started = Instant::now();
        let state = digest(tx, parent, &[])?;
        for k in &self.kept {
            k.fold(tx, version, &state)?;
        }
        Ok(Maintained {
            relations: self.kept.into_iter().map(|k| k.relation).collect(),
            seconds: self.seconds + started.elapsed().as_secs_f64(),
        })
    }
}

/// Brings the summaries of `set_name` on `parent` up to date after a load
/// (`report`) of staged `version`: made when missing or defined otherwise;
/// left alone when they match the table (a load that changed nothing, or
/// whose change sets kept them up to date: `maintained`, with the seconds
/// that took); partitions loaded for the first time added to a maintained
/// summary that matched the table without them; else computed again.
///
/// # Errors
/// A relation of a summary's name that pqstage did not make, or a failed
/// statement (the load itself is committed by then).
pub(crate) fn refresh(
    client: &mut postgres::Client,
    parent: &TableName,
    set_name: &str,
    report: &LoadReport,
    version: u64,
    maintained: &Maintained,
) -> Result<Vec<SummaryReport>, PgError> {
    let state = digest(client, parent, &[])?;
    let new: Vec<String> = report.units.iter().filter(|u| u.action == Action::New).map(|u| u.path.clone()).collect();
    // What the table held without the partitions loaded for the first time.
    let before_new = if new.is_empty() { None } else { Some(digest(client, parent, &new)?) };
    let mut out = Vec::new();
    for s in set(set_name)? {
        let started = Instant::now();
        let relation = TableName::new(&parent.schema, s.relation(&parent.name)).quoted();
        let query = s.query(&parent.quoted());
        let marker = s.marker(set_name, &query);
        let stamped = stamp(&marker, version, &state);
        let what = |doing: &str| format!("{doing} summary {relation}");
        let action = match lookup(client, &relation)? {
            None => {
                create(client, &relation, None, &query, &stamped).map_err(PgError::db(what("make")))?;
                SummaryAction::Created
            }
            Some((kind, Some(c))) if parse_marker(&c).is_some() && (kind != "r" || definition(&c) != marker) => {
                let kind = if kind == "m" { "MATERIALIZED VIEW" } else { "TABLE" };
                create(client, &relation, Some(kind), &query, &stamped).map_err(PgError::db(what("make again")))?;
                SummaryAction::Created
            }
            Some((kind, Some(c))) if kind == "r" && parse_marker(&c).is_some() => {
                let held = stamped_state(&c);
                if held == Some(state.as_str()) {
                    if maintained.relations.contains(&relation) {
                        SummaryAction::Maintained
                    } else {
                        SummaryAction::Unchanged
                    }
                } else if s.maintained() && before_new.is_some() && held == before_new.as_deref() {
                    add_new(client, parent, s, &relation, &marker, &new, (version, &state))?;
                    SummaryAction::Maintained
                } else {
                    let fill = render(SUMMARY.fill_summary, &[("summary", &relation), ("query", &query)]);
                    let mark = render(SUMMARY.mark_summary, &[("summary", &relation), ("marker", &literal(&stamped))]);
                    let mut tx = client.transaction().map_err(PgError::db(what("compute")))?;
                    tx.batch_execute(&format!("{fill}\n{mark}")).map_err(PgError::db(what("compute")))?;
                    tx.commit().map_err(PgError::db(what("compute")))?;
                    SummaryAction::Refreshed
                }
            }
            Some(_) => {
                return Err(PgError::Conflict(format!(
                    "{relation} exists and is not a summary pqstage made, so the summary {} of {} cannot be kept \
                     there; rename or drop it",
                    s.name,
                    parent.quoted()
                )))
            }
        };
        // Time spent in the change sets' transaction counts too.
        let earlier = match maintained.relations.contains(&relation) {
            true => maintained.seconds / maintained.relations.len() as f64,
            false => 0.0,
        };
        out.push(SummaryReport { relation, action, seconds: earlier + started.elapsed().as_secs_f64() });
    }
    Ok(out)
}

/// Adds the partitions loaded for the first time (`new`, by path) to a
/// maintained summary, in one transaction.
fn add_new(
    client: &mut postgres::Client,
    parent: &TableName,
    s: &'static Summary,
    relation: &str,
    marker: &str,
    new: &[String],
    (version, state): (u64, &str),
) -> Result<(), PgError> {
    let mut tx = client.transaction().map_err(PgError::db(format!("update summary {relation}")))?;
    let tables: Vec<String> = tx
        .query(STATE.unit_tables, &[&parent.schema, &parent.name, &new])
        .map_err(PgError::db(format!("read the state of {}", parent.quoted())))?
        .iter()
        .map(|r| parent.sibling(&r.get::<_, String>(0)))
        .collect();
    let kept = Kept::open(&mut tx, s, relation.to_string(), marker.to_string())?;
    for t in &tables {
        kept.gather(&mut tx, t, false)?;
    }
    kept.fold(&mut tx, version, state)?;
    tx.commit().map_err(PgError::db(format!("update summary {relation}")))
}

/// Makes a summary's table and its marker in one transaction, dropping the
/// relation of that name first when `replace` names its kind.
fn create(
    client: &mut postgres::Client,
    relation: &str,
    replace: Option<&str>,
    query: &str,
    marker: &str,
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    if let Some(kind) = replace {
        tx.batch_execute(&render(SUMMARY.drop_summary, &[("kind", kind), ("summary", relation)]))?;
    }
    tx.batch_execute(&render(SUMMARY.create_summary, &[("summary", relation), ("query", query)]))?;
    tx.batch_execute(&render(SUMMARY.mark_summary, &[("summary", relation), ("marker", &literal(marker))]))?;
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
    let mut out: Vec<ResultTable> = Vec::new();
    for row in kept {
        let (relname, marker): (String, String) = (row.get(0), row.get(1));
        let known =
            parse_marker(&marker).and_then(|(set_name, name)| set(set_name).ok()?.iter().find(|s| s.name == name));
        // `violations_old_by_year` is not a summary of `violations`.
        let Some(known) = known.filter(|s| relname == s.relation(&table.name)) else { continue };
        let view = TableName::new(&table.schema, &relname).quoted();
        let sql = known.print_query(&view);
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
        let title = known.title.clone();
        out.push(ResultTable { title, columns, rows });
    }
    if out.is_empty() {
        return Err(PgError::Conflict(format!(
            "{} has no summaries: its spec names none ([target] summaries), or it has not been loaded",
            table.quoted()
        )));
    }
    Ok(out)
}
