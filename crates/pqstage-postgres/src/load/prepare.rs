//! Staging a change set and looking its keys up, in the patch's transaction
//! or ahead of it on a second connection ([`Staging`], [`PatchCtx::stage`]).
//!
//! Preparing a patch ahead of it, on a second connection. The patch's one
//! transaction runs on one server process, so one core; half of its work on
//! a partition only reads: receiving the change set's rows (COPY), planning
//! statistics, and the look-up of its keys in the partition. A second
//! connection does that half for the partitions ahead, into unlogged tables
//! of its own that it commits, while the patch writes the partition before:
//! the patch then finds each partition's rows staged and looked up, and
//! only deletes, updates, inserts and checks.
//!
//! Why what it looks up stays true: the patch locks every partition it will
//! change against other writers before this connection starts (readers, as
//! the look-up, go on), and changes a partition only once its look-up is
//! done. The rows found, and their addresses, are therefore those the
//! patch's transaction would have found itself.
//!
//! The patch waits for what this connection sends, outside the server,
//! where no deadlock detector sees it: were this connection to wait in turn
//! for a lock queued behind the patch's (someone's `ALTER TABLE` on a
//! partition, say), neither would move. So it gives up a lock it cannot
//! have within two seconds (`lock_timeout`, `prepare_session` in
//! `sql/postgres/load.sql`), and the patch goes on by itself.
//!
//! Once it has prepared every partition, it gathers the aggregates of the
//! summaries the patch keeps up to date over all it prepared (the rows
//! found, subtracted; the staged rows, added) into tables of its own
//! ([`Ahead`]), while the patch writes the last partitions; the patch takes
//! them in at the end, or gathers them itself if that failed.
//!
//! Only a chain's first change set is prepared: a second one must be looked
//! up after the first is applied, in the patch's transaction. Whatever this
//! connection cannot do (it cannot connect, the role may not create tables
//! in the parent's schema, …), the patch does itself, in its own
//! transaction, as it did before, with a note.

use std::sync::mpsc::SyncSender;

use postgres::GenericClient;

use pqstage_load::episodes::one_line;
use pqstage_load::sql::render;
use pqstage_load::{Step, TableName};
use pqstage_stage::manifest::{ChangeSet, FileEntry, PartitionEntry};

use super::patch::{counts, what, PatchCtx, Patches, Pieces};
use super::unit::column_definitions;
use super::Upsert;
use crate::connect::connect;
use crate::encode::Constant;
use crate::error::PgError;
use crate::read::copy_files;
use crate::sql::LOAD;
use crate::summaries::Ahead;

/// How many partitions the preparing connection keeps ready ahead of the
/// patch, at most (each is three small unlogged tables until the patch ends).
pub(super) const AHEAD: usize = 4;

/// What the preparing connection hands the patch for one partition, in the
/// order the patch visits them.
pub(super) enum Ready {
    /// Its first change set staged and looked up, with `patch_found`'s counts.
    Prepared { staging: Staging, found: [u64; 4] },
    /// Nothing to prepare (no partition attached for the key).
    Skipped,
    /// Sent last: the summaries' aggregates over the partitions at these
    /// places (those prepared) are gathered.
    Gathered(Vec<usize>),
    /// It stopped, and why: the patch prepares this partition and the rest
    /// itself.
    Failed(String),
}

/// One partition for the preparing connection, in the patch's order.
pub(super) struct Task<'a> {
    /// Its leaf (quoted), if one is attached.
    pub leaf: Option<&'a str>,
    /// The way its rows are written, which decides what is looked up.
    pub upsert: Upsert,
}

/// Where a change set's rows are staged and its look-up's rows kept: the
/// patch's own temporary tables, or the unlogged tables a second connection
/// prepared them in ahead of the patch. Quoted names.
pub(super) struct Staging {
    pub(super) upserts: String,
    pub(super) deletes: String,
    pub(super) old: String,
}

impl Staging {
    /// The patch's temporary tables (`patch_tables`).
    pub(super) fn temp() -> Self {
        let n = |s: &str| s.to_string();
        Staging { upserts: n("pqstage_upserts"), deletes: n("pqstage_deletes"), old: n("pqstage_old") }
    }

    /// The tables prepared for the partition at `place` of the patch run by
    /// backend `pid`, in the parent's schema (`patch_prepared_tables`).
    pub(super) fn prepared(parent: &TableName, pid: i32, place: usize) -> Self {
        let n = |kind: &str| parent.sibling(&format!("pqstage_patch_{pid}_{place}_{kind}"));
        Staging { upserts: n("upserts"), deletes: n("deletes"), old: n("old") }
    }

    /// The placeholders that name the tables.
    pub(super) fn vars(&self) -> [(&'static str, &str); 3] {
        [("upserts", &self.upserts), ("deletes", &self.deletes), ("old", &self.old)]
    }
}

/// `template` rendered with `vars` and the names of the `staging` tables.
pub(super) fn staged(template: &str, vars: &[(&str, &str)], staging: &Staging) -> String {
    render(&render(template, vars), &staging.vars())
}

impl PatchCtx<'_> {
    /// Prepares the first change set of each of `todo`'s partitions in
    /// order, sending each as it is ready, until done, failed, or the patch
    /// stops listening; then gathers the summaries' aggregates `ahead` over
    /// all it prepared. `pid` is the patch's backend, which names the tables.
    pub(super) fn prepare(
        &self,
        todo: &Patches<'_, '_>,
        tasks: &[Task<'_>],
        pid: i32,
        p: &Pieces<'_>,
        ahead: &[Ahead],
        send: SyncSender<Ready>,
    ) {
        let session = connect(self.settings).and_then(|mut c| {
            c.batch_execute(LOAD.prepare_session).map_err(PgError::db("set up the preparing session"))?;
            Ok(c)
        });
        let mut client = match session {
            Ok(c) => c,
            Err(e) => {
                let _ = send.send(Ready::Failed(one_line(&e)));
                return;
            }
        };
        let mut prepared = Vec::new();
        for (place, ((step, chain), task)) in todo.iter().zip(tasks).enumerate() {
            let ready = match (task.leaf, chain.first()) {
                (Some(leaf), Some(cs)) => {
                    match self.prepare_one(&mut client, step, cs, leaf, task.upsert, pid, place, p) {
                        Ok((staging, found)) => {
                            prepared.push(place);
                            Ready::Prepared { staging, found }
                        }
                        Err(e) => Ready::Failed(one_line(&e)),
                    }
                }
                _ => Ready::Skipped,
            };
            let failed = matches!(ready, Ready::Failed(_));
            if send.send(ready).is_err() || failed {
                return;
            }
        }
        if ahead.is_empty() || prepared.is_empty() {
            return;
        }
        let ready = match self.gather_ahead(&mut client, &prepared, pid, p, ahead) {
            Ok(()) => Ready::Gathered(prepared),
            Err(e) => Ready::Failed(one_line(&e)),
        };
        let _ = send.send(ready);
    }

    /// Gathers the summaries' aggregates `ahead` over the partitions
    /// prepared at `places`, and commits.
    fn gather_ahead(
        &self,
        client: &mut postgres::Client,
        places: &[usize],
        pid: i32,
        p: &Pieces<'_>,
        ahead: &[Ahead],
    ) -> Result<(), PgError> {
        let mut tx = client.transaction().map_err(PgError::db("begin gathering the summaries' changes"))?;
        let tables: Vec<String> = ahead.iter().map(Ahead::create).collect();
        tx.batch_execute(&tables.join(";\n"))
            .map_err(PgError::db("create the tables that gather the summaries' changes"))?;
        over_prepared(&mut tx, self.parent, (pid, places), p, |tx, rows, subtract| {
            let gather: Vec<String> = ahead.iter().map(|a| a.gather(rows, subtract)).collect();
            tx.batch_execute(&gather.join(";\n")).map_err(PgError::db("gather the summaries' changes"))
        })?;
        tx.commit().map_err(PgError::db("commit the summaries' changes"))
    }

    /// Creates the tables of the partition at `place`, stages change set
    /// `cs` in them and looks its keys up in `leaf`, and commits.
    #[allow(clippy::too_many_arguments)]
    fn prepare_one(
        &self,
        client: &mut postgres::Client,
        step: &Step<'_, PartitionEntry>,
        cs: &ChangeSet,
        leaf: &str,
        upsert: Upsert,
        pid: i32,
        place: usize,
        p: &Pieces<'_>,
    ) -> Result<(Staging, [u64; 4]), PgError> {
        let staging = Staging::prepared(self.parent, pid, place);
        let mut tx = client.transaction().map_err(PgError::db("begin preparing the changes"))?;
        let tables = staged(
            LOAD.patch_prepared_tables,
            &[("parent", &self.parent.quoted()), ("keys", &column_definitions(&p.key_columns))],
            &staging,
        );
        tx.batch_execute(&tables)
            .map_err(PgError::db(format!("create the tables that prepare the changes of {}", step.path)))?;
        let probe = self.probe_inserted(&mut tx, step, leaf, p, upsert)?;
        let found = self.stage(&mut tx, step, cs, p, leaf, &staging, probe)?;
        tx.commit().map_err(PgError::db(format!("commit the prepared changes of {}", step.path)))?;
        Ok((staging, found))
    }

    /// Whether the look-up of `step`'s change sets in `leaf` probes the
    /// inserted keys too: unless the leaf has a unique index on exactly the
    /// key and the partition column (not the NULL partition's) and the rows
    /// are written through addresses.
    pub(super) fn probe_inserted(
        &self,
        tx: &mut postgres::Transaction<'_>,
        step: &Step<'_, PartitionEntry>,
        leaf: &str,
        p: &Pieces<'_>,
        upsert: Upsert,
    ) -> Result<bool, PgError> {
        if matches!(upsert, Upsert::Merge | Upsert::OnConflict) || step.key.0.is_none() {
            return Ok(true);
        }
        let indexed = tx
            .query_one(LOAD.patch_unique, &[&leaf, &p.unique])
            .map_err(PgError::db(what(step, leaf, "read the unique index of")))?
            .get::<_, bool>(0);
        Ok(!indexed)
    }

    /// Stages change set `cs` of `step` in `staging` (its deleted keys, its
    /// inserted and updated rows) and looks its keys up in `leaf`
    /// (`patch_lookup`): `patch_found`'s counts.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage(
        &self,
        tx: &mut postgres::Transaction<'_>,
        step: &Step<'_, PartitionEntry>,
        cs: &ChangeSet,
        p: &Pieces<'_>,
        leaf: &str,
        staging: &Staging,
        probe_inserted: bool,
    ) -> Result<[u64; 4], PgError> {
        let w = |s: &str| what(step, leaf, s);
        let fetched = self.files.fetch_change_set(&self.job.request, cs)?;
        let paths = |files: &[FileEntry]| files.iter().map(|f| fetched.dir().join(&f.path)).collect::<Vec<_>>();
        let copy = render(LOAD.patch_copy, &[("table", &staging.deletes), ("names", &p.key_names)]);
        let n = copy_files(tx, &copy, paths(&cs.deleted.files), &p.key, &[], None, &w("copy into"))?;
        self.check(step, n == cs.deleted.rows, || {
            format!("its change set holds {} deleted keys, COPY received {n}", cs.deleted.rows)
        })?;
        let names = format!("{}, pqstage_new", p.names);
        let copy = render(LOAD.patch_copy, &[("table", &staging.upserts), ("names", &names)]);
        let progress = Some(self.job.request.progress);
        let constant = Constant::Int4(step.key.0.map(|y| y as i32));
        let mut n = 0;
        for (files, new) in [(&cs.inserted.files, true), (&cs.updated.files, false)] {
            let constants = [constant, Constant::Bool(new)];
            n += copy_files(tx, &copy, paths(files), &p.file_columns, &constants, progress, &w("copy into"))?;
        }
        let expected = cs.inserted.rows + cs.updated.rows;
        self.check(step, n == expected, || {
            format!("its change set holds {expected} inserted and updated rows, COPY received {n}")
        })?;
        let analyze = staged(LOAD.patch_analyze, &[("keys", &p.key_names)], staging);
        tx.batch_execute(&analyze).map_err(PgError::db(w("analyze the staged changes of")))?;
        let lookup = staged(
            LOAD.patch_lookup,
            &[
                ("leaf", leaf),
                ("names", &p.names),
                ("target_names", &p.target_names),
                ("keys", &p.key_names),
                ("match", &p.match_k),
                ("staged", if probe_inserted { "" } else { "WHERE NOT s.pqstage_new" }),
            ],
            staging,
        );
        tx.execute(&lookup, &[]).map_err(PgError::db(w("look up the keys of")))?;
        let found = staged(LOAD.patch_found, &[("keys", &p.key_names)], staging);
        counts(tx, &found, &w("count the rows found in"))
    }
}

/// Calls `gather` with each of two views over the tables prepared for the
/// partitions at `places` of the patch of backend `pid`: the rows found
/// (`subtract`), then the staged rows, so one statement reads each kind of
/// every partition.
pub(super) fn over_prepared<C: GenericClient>(
    client: &mut C,
    parent: &TableName,
    (pid, places): (i32, &[usize]),
    p: &Pieces<'_>,
    mut gather: impl FnMut(&mut C, &str, bool) -> Result<(), PgError>,
) -> Result<(), PgError> {
    let prepared: Vec<Staging> = places.iter().map(|&place| Staging::prepared(parent, pid, place)).collect();
    for (view, subtract) in [("pqstage_old_rows", true), ("pqstage_staged_rows", false)] {
        let table = |s: &Staging| if subtract { s.old.clone() } else { s.upserts.clone() };
        let rows: Vec<String> = prepared.iter().map(|s| format!("SELECT {} FROM {}", p.names, table(s))).collect();
        let sql = render(LOAD.patch_rows_view, &[("view", view), ("rows", &rows.join("\nUNION ALL "))]);
        client.batch_execute(&sql).map_err(PgError::db("gather the prepared changes for the summaries"))?;
        gather(client, view, subtract)?;
    }
    client.batch_execute(LOAD.patch_drop_rows_views).map_err(PgError::db("drop the views of the prepared changes"))
}
