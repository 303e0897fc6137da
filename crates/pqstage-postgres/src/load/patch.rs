//! Applying change sets to the partitions of a loaded table, in one
//! transaction for all of them, so no reader sees a record that moved from
//! one year to another gone from the first and not yet in the second.
//!
//! Every partition patched is first locked against other writers (readers
//! go on). Then, for each partition, and each change set of its chain in
//! order:
//!
//! 1. the deleted keys and the upserted rows (inserted, then updated) are
//!    COPYed (binary) into two staging tables;
//! 2. one look-up of those keys in the partition keeps aside every row it
//!    holds under them, whole, with its address (ctid): the rows the change
//!    set deletes and those it replaces. This is the only statement that
//!    searches the partition by key: through the key's index for a small
//!    change set, by one scan for a big one, as the planner finds cheaper.
//!    The inserted keys are looked up too only where the key's unique index
//!    does not cover the partition (the NULL partition, or an index dropped
//!    by hand) or the way writes by key (MERGE, ON CONFLICT); elsewhere
//!    inserting a key the partition holds fails on the index instead, and
//!    that is the same divergence as below;
//! 3. the deleted rows are deleted through their addresses;
//! 4. the staged rows are written, by default (update-insert) as an UPDATE
//!    of the rows found, through their addresses, and an INSERT of the rest
//!    (`--upsert merge`: one MERGE on the key; `on-conflict`: INSERT … ON
//!    CONFLICT; `delete-insert`: the rows found deleted, all staged rows
//!    inserted);
//! 5. the staged rows are compared with the rows as written (after any
//!    trigger), whole rows: each updated row with its staged row, in the
//!    UPDATE's own `RETURNING`; the inserted rows as a set (`EXCEPT ALL`)
//!    with what the INSERT returned. MERGE and ON CONFLICT return nothing
//!    to compare with, so their rows are read back through the key, and
//!    each staged key must name one row. Any difference is an error and
//!    nothing is committed.
//!
//! Steps 1 and 2 of a chain's first change set only read the partition: a
//! second connection does them ahead of the patch, into unlogged tables
//! of its own ([`super::prepare`]); the patch's transaction does them itself
//! for later change sets, or when that connection stops.
//!
//! Maintained summaries that match the table are kept up to date in the
//! same transaction ([`Maintainer`]): the aggregates of the rows step 2 set
//! aside are subtracted, those of the staged rows added. Those of the
//! change sets the second connection prepared, it gathers itself once it
//! has prepared them all.
//!
//! Before writing, step 2's counts show whether the partition holds the
//! version the change set leads from: every deleted and updated key is
//! there, once, and no inserted key (when looked up). When that fails
//! (the table was changed by hand), the transaction is rolled back and the
//! partition is reloaded whole instead, with a note; the other partitions
//! are patched again without it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

use pqstage_load::episodes::one_line;
use pqstage_load::sql::{quote_ident, render};
use pqstage_load::{Inventory, Job, LoadError, PartitionKey, StagedFiles, Step, TableName};
use pqstage_spec::OutputColumn;
use pqstage_stage::manifest::{ChangeSet, PartitionEntry};

use super::prepare::{self, over_prepared, staged, Ready, Staging, Task};
use super::read_ahead::{self, ReadAhead};
use super::unit::column_definitions;
use super::Upsert;
use crate::connect::Settings;
use crate::error::PgError;
use crate::sql::{LOAD, STATE};
use crate::summaries::{Maintained, Maintainer};

/// What a patch needs from the load.
pub(super) struct PatchCtx<'a> {
    pub job: &'a Job<'a>,
    pub parent: &'a TableName,
    /// The partition column.
    pub partition_column: &'a str,
    pub columns: Vec<OutputColumn>,
    pub attached: &'a BTreeMap<PartitionKey, String>,
    pub files: &'a StagedFiles,
    pub before: &'a Inventory<PartitionKey>,
    pub upsert: Upsert,
    /// The set of summaries kept, if any.
    pub summaries: Option<&'a str>,
    /// How to open the connection that reads ahead.
    pub settings: &'a Settings,
}

/// A patched partition found not to hold what its change sets lead from.
struct Diverged(String);

/// What applying change sets did.
#[derive(Default)]
pub(super) struct Applied {
    /// The partitions that must be reloaded whole instead, and why.
    pub swapped: BTreeMap<PartitionKey, String>,
    /// The summaries kept up to date, with the seconds that took.
    pub maintained: Maintained,
    /// How reading and preparing ahead went, where there is something to say.
    pub notes: Vec<String>,
}

/// What a statement on `leaf` for `step` does, for errors.
pub(super) fn what(step: &Step<'_, PartitionEntry>, leaf: &str, w: &str) -> String {
    format!("{w} {} ({leaf})", step.path)
}

/// How one attempt at applying the change sets ended: committed, keeping
/// these summaries up to date, or rolled back for a partition that diverged.
type Attempt = Result<Maintained, (PartitionKey, String)>;

/// MERGE came with PostgreSQL 15.
const MERGE_SINCE: i32 = 150_000;

/// How a partition's staged rows are written, asked for `upsert`, on a
/// server of version `server` (`server_version_num`): before PostgreSQL 15,
/// which has no MERGE, delete-insert; and ON CONFLICT finds a row through
/// the key's unique index, which never matches a NULL partition value, so
/// that partition is written through the addresses the look-up found.
fn way(upsert: Upsert, server: i32, null_partition: bool) -> Upsert {
    match upsert {
        Upsert::Merge if server < MERGE_SINCE => Upsert::DeleteInsert,
        Upsert::OnConflict if null_partition => Upsert::UpdateInsert,
        u => u,
    }
}

pub(super) type Patches<'s, 'm> = Vec<(&'s Step<'m, PartitionEntry>, &'s [&'m ChangeSet])>;

/// The pieces of the statements that are the same for every partition.
pub(super) struct Pieces<'a> {
    /// The key columns stored in the files (the partition column is one
    /// value per partition).
    pub(super) key: Vec<&'a str>,
    /// Their definitions.
    pub(super) key_columns: Vec<OutputColumn>,
    /// The columns stored in the files, all but the partition column.
    pub(super) file_columns: Vec<&'a str>,
    /// The key columns, quoted, comma-separated.
    pub(super) key_names: String,
    /// Every column, quoted, comma-separated.
    pub(super) names: String,
    /// `t."k" = k."k" AND ...` (the look-up), the same with `s` (the staged
    /// rows) and `o."k" = s."k" AND ...` (the rows found against the staged).
    pub(super) match_k: String,
    pub(super) match_s: String,
    pub(super) match_o: String,
    /// `s."c", ...` and `t."c", ...` of every column.
    pub(super) values: String,
    pub(super) target_names: String,
    /// `"c" = s."c", ...` and `"c" = EXCLUDED."c", ...` of the other columns.
    pub(super) set: String,
    pub(super) excluded: String,
    /// The key's unique index's columns, for ON CONFLICT.
    pub(super) conflict: String,
    /// The same, sorted, as the catalog is asked for them.
    pub(super) unique: Vec<String>,
}

impl<'a> Pieces<'a> {
    fn new(ctx: &'a PatchCtx<'_>) -> Self {
        let q = |c: &str| quote_ident(c);
        let part = ctx.partition_column;
        let key: Vec<&str> = ctx.job.table.spec.target.key.iter().map(String::as_str).filter(|k| *k != part).collect();
        let join = |v: Vec<String>| v.join(", ");
        let matches =
            |a: &str, b: &str| key.iter().map(|k| format!("{a}.{0} = {b}.{0}", q(k))).collect::<Vec<_>>().join(" AND ");
        let names: Vec<String> = ctx.columns.iter().map(|c| q(&c.name)).collect();
        let others: Vec<&String> = names.iter().filter(|n| !key.iter().any(|k| q(k) == **n)).collect();
        Pieces {
            key_columns: key.iter().filter_map(|k| ctx.columns.iter().find(|c| c.name == *k).cloned()).collect(),
            file_columns: ctx.columns.iter().map(|c| c.name.as_str()).filter(|n| *n != part).collect(),
            key_names: join(key.iter().map(|k| q(k)).collect()),
            match_k: matches("t", "k"),
            match_s: matches("t", "s"),
            match_o: matches("o", "s"),
            values: join(names.iter().map(|n| format!("s.{n}")).collect()),
            target_names: join(names.iter().map(|n| format!("t.{n}")).collect()),
            set: join(others.iter().map(|n| format!("{n} = s.{n}")).collect()),
            excluded: join(others.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect()),
            conflict: join(key.iter().map(|k| q(k)).chain([q(part)]).collect()),
            unique: {
                let mut u: Vec<String> = key.iter().map(|k| k.to_string()).chain([part.to_string()]).collect();
                u.sort();
                u
            },
            names: names.join(", "),
            key,
        }
    }

    /// The statement that writes the staged rows into `leaf` by key (MERGE
    /// or ON CONFLICT).
    fn upsert_by_key(&self, upsert: Upsert, leaf: &str) -> String {
        match upsert {
            Upsert::OnConflict => render(
                LOAD.patch_on_conflict,
                &[("leaf", leaf), ("names", &self.names), ("conflict", &self.conflict), ("excluded", &self.excluded)],
            ),
            _ => render(
                LOAD.patch_merge,
                &[
                    ("leaf", leaf),
                    ("match", &self.match_s),
                    ("set", &self.set),
                    ("names", &self.names),
                    ("values", &self.values),
                ],
            ),
        }
    }
}

impl PatchCtx<'_> {
    /// Applies `patches`, with a second connection reading ahead of them
    /// (see [`read_ahead`]) and a third preparing them (see
    /// [`super::prepare`]); returns the partitions that must be reloaded
    /// whole instead, and why, the summaries kept up to date with the
    /// seconds that took, and notes on how reading and preparing went.
    ///
    /// # Errors
    /// The server's; a partition that does not hold its staged rows after
    /// the changes ([`LoadError::Validation`]). Nothing is committed then.
    pub(super) fn apply(&self, client: &mut postgres::Client, patches: Patches<'_, '_>) -> Result<Applied, PgError> {
        // The partitions the changes touch enough of, with their place in
        // the order patched.
        let leaves: Vec<(usize, String)> = patches
            .iter()
            .enumerate()
            .filter(|(_, (step, chain))| {
                let changed: u64 = chain.iter().map(|c| c.inserted.rows + c.updated.rows + c.deleted.rows).sum();
                let rows = self.before.held.get(&step.key).copied().unwrap_or(0).max(1);
                changed as f64 >= read_ahead::MIN_SHARE * rows as f64
            })
            .filter_map(|(i, (step, _))| self.attached.get(&step.key).map(|leaf| (i, self.parent.sibling(leaf))))
            .collect();
        let places: BTreeMap<PartitionKey, usize> = patches.iter().enumerate().map(|(i, (s, _))| (s.key, i)).collect();
        let (stop, at) = (AtomicBool::new(false), AtomicUsize::new(0));
        let started = |key: &PartitionKey| at.store(places[key], Ordering::Relaxed);
        std::thread::scope(|s| {
            let ahead = s.spawn(|| read_ahead::read(self.settings, &leaves, &at, &stop));
            let applied = self.apply_all(client, patches, &started);
            stop.store(true, Ordering::Relaxed);
            let read = ahead.join().unwrap_or_else(|_| ReadAhead::Failed("its thread panicked".into()));
            applied.map(|mut a| {
                a.notes.extend(read.note());
                a
            })
        })
    }

    /// Applies `patches`, calling `started` as each partition's turn comes.
    fn apply_all(
        &self,
        client: &mut postgres::Client,
        patches: Patches<'_, '_>,
        started: &(dyn Fn(&PartitionKey) + Sync),
    ) -> Result<Applied, PgError> {
        let pieces = Pieces::new(self);
        let pid: i32 = client.query_one(LOAD.backend_pid, &[]).map_err(PgError::db("read the backend's pid"))?.get(0);
        // Tables prepared for a patch that was killed go first.
        self.drop_prepared(client, pid)?;
        let mut todo = patches;
        let mut applied = Applied::default();
        while !todo.is_empty() {
            let total: u64 = todo.iter().flat_map(|(_, c)| c.iter()).map(|c| c.inserted.rows + c.updated.rows).sum();
            self.job.request.progress.begin("applying changes", pqstage_stage::progress::Measure::Rows, total);
            let attempt = self.try_apply(client, &todo, &pieces, pid, started, &mut applied.notes);
            // The prepared tables go however the attempt ended; what cannot
            // go now, the next patch drops.
            if let Err(e) = self.drop_prepared(client, pid) {
                applied.notes.push(format!(
                    "the tables prepared for this patch stay until the next one drops them: {}",
                    one_line(&e)
                ));
            }
            match attempt? {
                Ok(kept) => {
                    applied.maintained = kept;
                    break;
                }
                Err((key, why)) => {
                    applied.swapped.insert(key, why);
                    todo.retain(|(s, _)| s.key != key);
                }
            }
        }
        Ok(applied)
    }

    /// Drops the tables prepared for the patch of backend `pid`, and those
    /// of patches whose backend is gone.
    fn drop_prepared(&self, client: &mut postgres::Client, pid: i32) -> Result<(), PgError> {
        let rows = client
            .query(LOAD.patch_leftovers, &[&self.parent.schema, &pid])
            .map_err(PgError::db("list the tables prepared for patches"))?;
        let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if tables.is_empty() {
            return Ok(());
        }
        client
            .batch_execute(&render(LOAD.patch_drop_prepared, &[("tables", &tables.join(", "))]))
            .map_err(PgError::db("drop the tables prepared for patches"))
    }

    /// One attempt, in one transaction: the summaries kept up to date when
    /// it committed, else the first partition that diverged (the transaction
    /// is rolled back). A second connection prepares the partitions ahead
    /// meanwhile; if it stops, the note says why.
    fn try_apply(
        &self,
        client: &mut postgres::Client,
        todo: &Patches<'_, '_>,
        p: &Pieces<'_>,
        pid: i32,
        started: &(dyn Fn(&PartitionKey) + Sync),
        notes: &mut Vec<String>,
    ) -> Result<Attempt, PgError> {
        let mut tx = client.transaction().map_err(PgError::db("begin"))?;
        let tables = render(
            LOAD.patch_tables,
            &[("parent", &self.parent.quoted()), ("keys", &column_definitions(&p.key_columns))],
        );
        tx.batch_execute(&tables).map_err(PgError::db("create the change sets' staging tables"))?;
        let server: i32 =
            tx.query_one(LOAD.server_version, &[]).map_err(PgError::db("read the server version"))?.get(0);
        let mut summaries = match self.summaries {
            Some(set) => Maintainer::begin(&mut tx, self.parent, set)?,
            None => Maintainer::none(),
        };
        let leaves: Vec<Option<String>> =
            todo.iter().map(|(s, _)| self.attached.get(&s.key).map(|l| self.parent.sibling(l))).collect();
        let locked: Vec<&str> = leaves.iter().flatten().map(String::as_str).collect();
        if !locked.is_empty() {
            tx.batch_execute(&render(LOAD.patch_lock, &[("leaves", &locked.join(", "))]))
                .map_err(PgError::db("lock the partitions to patch"))?;
        }
        let tasks: Vec<Task<'_>> = todo
            .iter()
            .zip(&leaves)
            .map(|((s, _), leaf)| Task { leaf: leaf.as_deref(), upsert: way(self.upsert, server, s.key.0.is_none()) })
            .collect();
        // The places of the partitions applied as prepared, whose rows the
        // summaries gather at the end; and where the preparing connection
        // gathers them.
        let mut places = Vec::new();
        let gathering = summaries.ahead(self.parent, pid);
        std::thread::scope(|s| {
            let (send, receive) = sync_channel(prepare::AHEAD);
            s.spawn(|| self.prepare(todo, &tasks, pid, p, &gathering, send));
            let mut ahead = Some(receive);
            for (place, ((step, chain), task)) in todo.iter().zip(&tasks).enumerate() {
                started(&step.key);
                let ready = match ahead.as_ref().map(|r| r.recv()) {
                    Some(Ok(Ready::Prepared { staging, found })) => {
                        places.push(place);
                        Some((staging, found))
                    }
                    Some(Ok(Ready::Skipped | Ready::Gathered(_))) | None => None,
                    Some(Ok(Ready::Failed(why))) => {
                        notes.push(format!(
                            "the changes from {} on were staged in the patch's own transaction: preparing them on \
                             a second connection stopped: {why}",
                            step.path
                        ));
                        ahead = None;
                        None
                    }
                    Some(Err(_)) => {
                        ahead = None;
                        None
                    }
                };
                if let Err(Diverged(why)) =
                    self.patch_unit(&mut tx, step, chain, p, task.upsert, &mut summaries, ready)?
                {
                    return Ok(Err((step.key, why)));
                }
            }
            // Last, the preparing connection gathers the summaries' changes
            // over what it prepared, which are those applied as prepared.
            match ahead.map(|r| r.recv()) {
                Some(Ok(Ready::Gathered(gathered))) if gathered == places => {
                    summaries.take_ahead(&mut tx, &gathering)?;
                }
                Some(Ok(Ready::Failed(why))) => {
                    notes.push(format!(
                        "the summaries' changes were gathered in the patch's own transaction: gathering them on a \
                         second connection failed: {why}"
                    ));
                    self.gather_prepared(&mut tx, &mut summaries, pid, &places, p)?;
                }
                _ => self.gather_prepared(&mut tx, &mut summaries, pid, &places, p)?,
            }
            let kept = summaries.finish(&mut tx, self.parent, self.job.request.manifest.version)?;
            tx.commit().map_err(PgError::db("commit the changes"))?;
            Ok(Ok(kept))
        })
    }

    /// Applies the chain of change sets of `step`, the first one `ready`
    /// (staged and looked up by the preparing connection) or not. The
    /// summaries gather the rows of a change set staged here at once; those
    /// of a prepared one, which stay until the patch ends, are gathered at
    /// its end (by the preparing connection, or [`Self::gather_prepared`]).
    #[allow(clippy::too_many_arguments)]
    fn patch_unit(
        &self,
        tx: &mut postgres::Transaction<'_>,
        step: &Step<'_, PartitionEntry>,
        chain: &[&ChangeSet],
        p: &Pieces<'_>,
        upsert: Upsert,
        summaries: &mut Maintainer,
        mut ready: Option<(Staging, [u64; 4])>,
    ) -> Result<Result<(), Diverged>, PgError> {
        let Some(leaf_name) = self.attached.get(&step.key) else {
            return Ok(Err(Diverged("no partition of it is attached".into())));
        };
        let leaf = self.parent.sibling(leaf_name);
        let staged_unit = step.staged.expect("a patched step has a staged unit");
        let w = |s: &str| what(step, &leaf, s);
        let count = |tx: &mut postgres::Transaction<'_>, sql: &str, s: &str| -> Result<u64, PgError> {
            Ok(tx.query_one(sql, &[]).map_err(PgError::db(w(s)))?.get::<_, i64>(0) as u64)
        };
        let exec = |tx: &mut postgres::Transaction<'_>, sql: &str, s: &str| -> Result<u64, PgError> {
            tx.execute(sql, &[]).map_err(PgError::db(w(s)))
        };
        // Whether the inserted keys are looked up, or left to the unique
        // index; asked when this transaction looks up itself.
        let mut probe = None;

        let mut rows = self.before.held.get(&step.key).copied().unwrap_or(0);
        for cs in chain {
            let prepared = ready.is_some();
            let (staging, [deleted, held, keys, there]) = match ready.take() {
                Some(prepared) => prepared,
                None => {
                    tx.batch_execute(LOAD.patch_clear).map_err(PgError::db(w("clear the staging tables for")))?;
                    let probe = match probe {
                        Some(b) => b,
                        None => *probe.insert(self.probe_inserted(tx, step, &leaf, p, upsert)?),
                    };
                    let staging = Staging::temp();
                    let found = self.stage(tx, step, cs, p, &leaf, &staging, probe)?;
                    (staging, found)
                }
            };
            if keys != held {
                return Ok(Err(Diverged(format!(
                    "{} of the keys version {} updates name more than one row there",
                    held - keys,
                    cs.version
                ))));
            }
            if there > 0 {
                return Ok(Err(Diverged(format!("it held {there} of the keys version {} inserts", cs.version))));
            }
            if deleted != cs.deleted.rows {
                return Ok(Err(Diverged(format!(
                    "it held {deleted} of the {} keys version {} deletes, so not version {}",
                    cs.deleted.rows,
                    cs.version,
                    cs.version - 1
                ))));
            }
            if held != cs.updated.rows {
                return Ok(Err(Diverged(format!(
                    "it held {held} of the {} keys version {} updates",
                    cs.updated.rows, cs.version
                ))));
            }
            if !prepared {
                summaries.gather(tx, &staging.old, true)?;
            }

            let (delete, gone_expected) = match upsert {
                Upsert::DeleteInsert => (LOAD.patch_delete_replaced, cs.deleted.rows + cs.updated.rows),
                _ => (LOAD.patch_delete, cs.deleted.rows),
            };
            let gone = exec(tx, &staged(delete, &[("leaf", &leaf)], &staging), "delete the rows found in")?;
            self.check(step, gone == gone_expected, || format!("{gone} rows deleted of the {gone_expected} found"))?;

            let expected = cs.inserted.rows + cs.updated.rows;
            let (written, missing, under_keys) = match upsert {
                Upsert::UpdateInsert | Upsert::DeleteInsert => {
                    // Update-insert updates the rows found, then inserts the
                    // new ones; delete-insert deleted them above and inserts
                    // every staged row. Each statement counts the rows it
                    // wrote and those not written as staged.
                    let (updated, unlike, rows) = if upsert == Upsert::UpdateInsert {
                        let set = [
                            ("leaf", leaf.as_str()),
                            ("set", &p.set),
                            ("match_o", &p.match_o),
                            ("target_names", &p.target_names),
                            ("values", &p.values),
                        ];
                        let [updated, unlike] =
                            counts(tx, &staged(LOAD.patch_update, &set, &staging), &w("update the rows of"))?;
                        self.check(step, updated == cs.updated.rows, || {
                            format!("{updated} rows updated of the {} found", cs.updated.rows)
                        })?;
                        (updated, unlike, "WHERE pqstage_new")
                    } else {
                        (0, 0, "")
                    };
                    let insert =
                        staged(LOAD.patch_insert, &[("leaf", &leaf), ("names", &p.names), ("rows", rows)], &staging);
                    let [inserted, missing] = match insert_or_diverge(tx, &insert, cs, &w("insert the rows of"))? {
                        Ok(n) => n,
                        Err(d) => return Ok(Err(d)),
                    };
                    (updated + inserted, unlike + missing, None)
                }
                Upsert::Merge | Upsert::OnConflict => {
                    let sql = staged(&p.upsert_by_key(upsert, &leaf), &[], &staging);
                    let written = exec(tx, &sql, "apply the changes to")?;
                    let check = staged(
                        LOAD.patch_check,
                        &[
                            ("names", &p.names),
                            ("target_names", &p.target_names),
                            ("leaf", &leaf),
                            ("match", &p.match_s),
                        ],
                        &staging,
                    );
                    let missing = count(tx, &check, "check the changes of")?;
                    // Each staged key now names exactly one row: no update
                    // went in as a second row.
                    let matched = staged(LOAD.patch_matched, &[("leaf", &leaf), ("match", &p.match_s)], &staging);
                    (written, missing, Some(count(tx, &matched, "look up the keys of")?))
                }
            };
            // Written through addresses, each staged key names one row: the
            // rows found under it were updated or deleted, the others were
            // inserted once.
            self.check(step, written == expected && missing == 0 && under_keys.is_none_or(|n| n == expected), || {
                let under = under_keys.map(|n| format!(", {n} rows under the staged keys")).unwrap_or_default();
                format!(
                    "version {}: {written} rows written of {expected} staged, {missing} staged rows not held \
                     as staged{under}",
                    cs.version
                )
            })?;
            if !prepared {
                summaries.gather(tx, &staging.upserts, false)?;
            }
            rows = rows + cs.inserted.rows - cs.deleted.rows;
        }
        // Deletes, matches and writes were each checked above, so the rows
        // held follow from the rows held before.
        if rows != staged_unit.rows {
            return Ok(Err(Diverged(format!("it would hold {rows} rows, the manifest says {}", staged_unit.rows))));
        }
        let record = [
            &self.parent.schema as &(dyn postgres::types::ToSql + Sync),
            &self.parent.name,
            &step.path,
            &step.key.0,
            leaf_name,
            &staged_unit.checksum,
            &(staged_unit.rows as i64),
            &self.job.dataset(),
        ];
        tx.execute(STATE.record_unit, &record).map_err(PgError::db(w("record")))?;
        Ok(Ok(()))
    }

    /// Gathers into the summaries the rows of the change sets prepared for
    /// the partitions at `places` (those applied as prepared), when the
    /// preparing connection did not: the rows found, subtracted, and the
    /// staged rows, added.
    fn gather_prepared(
        &self,
        tx: &mut postgres::Transaction<'_>,
        summaries: &mut Maintainer,
        pid: i32,
        places: &[usize],
        p: &Pieces<'_>,
    ) -> Result<(), PgError> {
        if places.is_empty() || summaries.is_empty() {
            return Ok(());
        }
        over_prepared(tx, self.parent, (pid, places), p, |tx, rows, subtract| summaries.gather(tx, rows, subtract))
    }

    /// Fails with [`LoadError::Validation`] for `step`, saying `why`, unless `ok`.
    pub(super) fn check(
        &self,
        step: &Step<'_, PartitionEntry>,
        ok: bool,
        why: impl FnOnce() -> String,
    ) -> Result<(), PgError> {
        if ok {
            return Ok(());
        }
        Err(LoadError::Validation { table: self.parent.quoted(), unit: step.path.clone(), reason: why() }.into())
    }
}

/// Runs the INSERT `sql` of change set `cs`'s rows: the rows inserted and
/// those not written as staged, or, when one of them has a key the
/// partition holds (its unique index refuses it; inserted keys are not
/// looked up where the index covers the partition), the divergence. The
/// transaction is then aborted, and is rolled back by the caller.
fn insert_or_diverge(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    cs: &ChangeSet,
    what: &str,
) -> Result<Result<[u64; 2], Diverged>, PgError> {
    match counts(tx, sql, what) {
        Ok(n) => Ok(Ok(n)),
        Err(PgError::Db { source, .. }) if source.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            let detail = source.as_db_error().and_then(|d| d.detail()).unwrap_or("a key it holds");
            Ok(Err(Diverged(format!("it held a key version {} inserts ({detail})", cs.version))))
        }
        Err(e) => Err(e),
    }
}

/// The `N` counts the one row of `sql` holds.
pub(super) fn counts<const N: usize>(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    what: &str,
) -> Result<[u64; N], PgError> {
    let row = tx.query_one(sql, &[]).map_err(PgError::db(what.to_string()))?;
    Ok(std::array::from_fn(|i| row.get::<_, i64>(i) as u64))
}
