//! Applying change sets to the partitions of a loaded table, in one
//! transaction for all of them, so no reader sees a record that moved from
//! one year to another gone from the first and not yet in the second.
//!
//! For each partition, and each change set of its chain in order:
//!
//! 1. the deleted keys and the upserted rows (inserted, then updated) are
//!    COPYed (binary) into two temporary tables;
//! 2. the deleted keys' rows are deleted from the partition;
//! 3. the upserted rows go in with one MERGE (or INSERT … ON CONFLICT) on
//!    the key;
//! 4. the staged rows are compared with what the partition now holds under
//!    their keys, whole rows (`EXCEPT ALL`): any difference is an error and
//!    nothing is committed.
//!
//! Before writing, each step checks that the partition holds the version the
//! change set leads from: every deleted key is there, and exactly the
//! updated rows' keys are. When that fails (the table was changed by hand),
//! the transaction is rolled back and the partition is reloaded whole
//! instead, with a note; the other partitions are patched again without it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pqstage_load::sql::{quote_ident, render};
use pqstage_load::{Inventory, Job, LoadError, PartitionKey, StagedFiles, Step, TableName};
use pqstage_spec::OutputColumn;
use pqstage_stage::manifest::{ChangeSet, FileEntry, PartitionEntry};
use pqstage_stage::verify::check_files;

use super::unit::{column_definitions, copy_files};
use super::Upsert;
use crate::encode::Constant;
use crate::error::PgError;
use crate::sql::{LOAD, STATE};

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
}

/// A patched partition found not to hold what its change sets lead from.
struct Diverged(String);

/// MERGE came with PostgreSQL 15.
const MERGE_SINCE: i32 = 150_000;

type Patches<'s, 'm> = Vec<(&'s Step<'m, PartitionEntry>, &'s [&'m ChangeSet])>;

impl PatchCtx<'_> {
    /// The key columns stored in the files (the partition column is one
    /// value per partition).
    fn key(&self) -> Vec<&str> {
        self.job.table.spec.target.key.iter().map(String::as_str).filter(|k| *k != self.partition_column).collect()
    }

    /// Applies `patches`; returns the partitions that must be reloaded whole
    /// instead, and why.
    ///
    /// # Errors
    /// The server's; a partition that does not hold its staged rows after
    /// the changes ([`LoadError::Validation`]). Nothing is committed then.
    pub(super) fn apply(
        &self,
        client: &mut postgres::Client,
        patches: Patches<'_, '_>,
    ) -> Result<BTreeMap<PartitionKey, String>, PgError> {
        let mut todo = patches;
        let mut swapped = BTreeMap::new();
        while !todo.is_empty() {
            let total: u64 = todo.iter().flat_map(|(_, c)| c.iter()).map(|c| c.inserted.rows + c.updated.rows).sum();
            self.job.request.progress.begin("applying changes", pqstage_stage::progress::Measure::Rows, total);
            match self.try_apply(client, &todo)? {
                None => break,
                Some((key, why)) => {
                    swapped.insert(key, why);
                    todo.retain(|(s, _)| s.key != key);
                }
            }
        }
        Ok(swapped)
    }

    /// One attempt, in one transaction: `None` when it committed, else the
    /// first partition that diverged (the transaction is rolled back).
    fn try_apply(
        &self,
        client: &mut postgres::Client,
        todo: &Patches<'_, '_>,
    ) -> Result<Option<(PartitionKey, String)>, PgError> {
        let mut tx = client.transaction().map_err(PgError::db("begin"))?;
        let key_columns: Vec<OutputColumn> =
            self.key().iter().filter_map(|k| self.columns.iter().find(|c| c.name == *k).cloned()).collect();
        let tables = render(
            LOAD.patch_tables,
            &[("parent", &self.parent.quoted()), ("keys", &column_definitions(&key_columns))],
        );
        tx.batch_execute(&tables).map_err(PgError::db("create the change sets' staging tables"))?;
        let version: i32 =
            tx.query_one(LOAD.server_version, &[]).map_err(PgError::db("read the server version"))?.get(0);
        let upsert = match self.upsert {
            Upsert::Merge if version < MERGE_SINCE => Upsert::DeleteInsert,
            u => u,
        };
        for (step, chain) in todo {
            if let Err(Diverged(why)) = self.patch_unit(&mut tx, step, chain, upsert)? {
                return Ok(Some((step.key, why)));
            }
        }
        tx.commit().map_err(PgError::db("commit the changes"))?;
        Ok(None)
    }

    fn patch_unit(
        &self,
        tx: &mut postgres::Transaction<'_>,
        step: &Step<'_, PartitionEntry>,
        chain: &[&ChangeSet],
        upsert: Upsert,
    ) -> Result<Result<(), Diverged>, PgError> {
        let Some(leaf_name) = self.attached.get(&step.key) else {
            return Ok(Err(Diverged("no partition of it is attached".into())));
        };
        let leaf = self.parent.sibling(leaf_name);
        let staged = step.staged.expect("a patched step has a staged unit");
        let what = |w: &str| format!("{w} {} ({leaf})", step.path);
        let key = self.key();
        let q = |c: &str| quote_ident(c);
        let matches = key.iter().map(|k| format!("t.{0} = {{side}}.{0}", q(k))).collect::<Vec<_>>().join(" AND ");
        let (match_d, match_s) = (matches.replace("{side}", "d"), matches.replace("{side}", "s"));
        let names = self.columns.iter().map(|c| q(&c.name)).collect::<Vec<_>>();
        let values = names.iter().map(|n| format!("s.{n}")).collect::<Vec<_>>().join(", ");
        let target_names = names.iter().map(|n| format!("t.{n}")).collect::<Vec<_>>().join(", ");
        let others: Vec<&String> = names.iter().filter(|n| !key.iter().any(|k| q(k) == **n)).collect();
        let set = others.iter().map(|n| format!("{n} = s.{n}")).collect::<Vec<_>>().join(", ");
        let excluded = others.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect::<Vec<_>>().join(", ");
        let mut conflict: Vec<String> = key.iter().map(|k| q(k)).collect();
        conflict.push(q(self.partition_column));
        let names = names.join(", ");
        let file_columns: Vec<&str> =
            self.columns.iter().map(|c| c.name.as_str()).filter(|n| *n != self.partition_column).collect();
        let constant = [Constant::Int4(step.key.0.map(|y| y as i32))];
        let key_names = key.iter().map(|k| q(k)).collect::<Vec<_>>().join(", ");
        let progress = self.job.request.progress;

        let mut rows = self.before.held.get(&step.key).copied().unwrap_or(0);
        for cs in chain {
            let fetched = self.fetch(cs)?;
            let paths = |files: &[FileEntry]| files.iter().map(|f| fetched.dir().join(&f.path)).collect::<Vec<_>>();
            tx.batch_execute(LOAD.patch_clear).map_err(PgError::db(what("clear the staging tables for")))?;
            let copy = render(LOAD.patch_copy, &[("table", "pqstage_deletes"), ("names", &key_names)]);
            let silent = pqstage_stage::progress::Progress::default();
            let n = copy_files(tx, &copy, &paths(&cs.deleted.files), &key, &[], &silent, &what)?;
            self.check_staged(step, "deleted keys", cs.deleted.rows, n)?;
            let copy = render(LOAD.patch_copy, &[("table", "pqstage_upserts"), ("names", &names)]);
            let upserts: Vec<PathBuf> = paths(&cs.inserted.files).into_iter().chain(paths(&cs.updated.files)).collect();
            let n = copy_files(tx, &copy, &upserts, &file_columns, &constant, progress, &what)?;
            self.check_staged(step, "inserted and updated rows", cs.inserted.rows + cs.updated.rows, n)?;
            tx.batch_execute(LOAD.patch_analyze).map_err(PgError::db(what("analyze the staged changes of")))?;

            let delete = render(LOAD.patch_delete, &[("leaf", &leaf), ("match", &match_d)]);
            let deleted = tx.execute(&delete, &[]).map_err(PgError::db(what("delete the deleted keys of")))?;
            if deleted != cs.deleted.rows {
                return Ok(Err(Diverged(format!(
                    "it held {deleted} of the {} keys version {} deletes, so not version {}",
                    cs.deleted.rows,
                    cs.version,
                    cs.version - 1
                ))));
            }
            let matched = render(LOAD.patch_matched, &[("leaf", &leaf), ("match", &match_s)]);
            let held: i64 = tx.query_one(&matched, &[]).map_err(PgError::db(what("look up the keys of")))?.get(0);
            if held as u64 != cs.updated.rows {
                return Ok(Err(Diverged(format!(
                    "it held {held} of the keys version {} inserts or updates, not the {} it updates",
                    cs.version, cs.updated.rows
                ))));
            }
            // ON CONFLICT finds a row through the key's unique index, which
            // never matches a NULL partition value: that partition merges.
            let upsert = match (upsert, step.key.0) {
                (Upsert::DeleteInsert, _) => {
                    let delete = render(LOAD.patch_delete_updated, &[("leaf", &leaf), ("match", &match_s)]);
                    let gone = tx.execute(&delete, &[]).map_err(PgError::db(what("delete the updated rows of")))?;
                    if gone != cs.updated.rows {
                        return Err(LoadError::Validation {
                            table: self.parent.quoted(),
                            unit: step.path.clone(),
                            reason: format!("{gone} rows deleted for {} updated", cs.updated.rows),
                        }
                        .into());
                    }
                    render(LOAD.patch_insert, &[("leaf", &leaf), ("names", &names)])
                }
                (Upsert::Merge, _) | (Upsert::OnConflict, None) => render(
                    LOAD.patch_merge,
                    &[("leaf", &leaf), ("match", &match_s), ("set", &set), ("names", &names), ("values", &values)],
                ),
                (Upsert::OnConflict, Some(_)) => render(
                    LOAD.patch_on_conflict,
                    &[("leaf", &leaf), ("names", &names), ("conflict", &conflict.join(", ")), ("excluded", &excluded)],
                ),
            };
            let written = tx.execute(&upsert, &[]).map_err(PgError::db(what("apply the changes to")))?;
            let check = render(
                LOAD.patch_check,
                &[("names", &names), ("target_names", &target_names), ("leaf", &leaf), ("match", &match_s)],
            );
            let missing: i64 = tx.query_one(&check, &[]).map_err(PgError::db(what("check the changes of")))?.get(0);
            // Each staged key now names exactly one row: no update went in
            // as a second row.
            let held: i64 = tx.query_one(&matched, &[]).map_err(PgError::db(what("look up the keys of")))?.get(0);
            let expected = cs.inserted.rows + cs.updated.rows;
            if written != expected || missing != 0 || held as u64 != expected {
                return Err(LoadError::Validation {
                    table: self.parent.quoted(),
                    unit: step.path.clone(),
                    reason: format!(
                        "version {}: {written} rows written of {expected} staged, {missing} staged rows not held \
                         as staged, {held} rows under the staged keys",
                        cs.version
                    ),
                }
                .into());
            }
            rows = rows + cs.inserted.rows - cs.deleted.rows;
        }
        // Deletes, matches and writes were each checked above, so the rows
        // held follow from the rows held before.
        if rows != staged.rows {
            return Ok(Err(Diverged(format!("it would hold {rows} rows, the manifest says {}", staged.rows))));
        }
        let record = [
            &self.parent.schema as &(dyn postgres::types::ToSql + Sync),
            &self.parent.name,
            &step.path,
            &step.key.0,
            leaf_name,
            &staged.checksum,
            &(staged.rows as i64),
            &self.job.dataset(),
        ];
        tx.execute(STATE.record_unit, &record).map_err(PgError::db(what("record")))?;
        Ok(Ok(()))
    }

    /// A change set's files, ready to read: checked against the manifest on
    /// a local stage, downloaded (and checked) from a remote one.
    fn fetch(&self, cs: &ChangeSet) -> Result<pqstage_load::Fetched, PgError> {
        let entry = cs.as_partition();
        if let (StagedFiles::Local(dir), true) = (self.files, self.job.request.options.verify_checksums) {
            check_files(dir, &[&entry], true, Some(1), None).map_err(LoadError::from)?;
        }
        let files: Vec<&FileEntry> = entry.files.iter().collect();
        let group = format!("changes-v{}-{}", cs.version, cs.partition.replace(['/', '='], "-"));
        Ok(self.files.fetch(self.job.request.stage, self.job.dataset(), &group, &files, 4, self.job.request.runtime)?)
    }

    /// Fails unless COPY took as many rows as the change set holds.
    fn check_staged(
        &self,
        step: &Step<'_, PartitionEntry>,
        what: &str,
        expected: u64,
        got: u64,
    ) -> Result<(), PgError> {
        if expected == got {
            return Ok(());
        }
        Err(LoadError::Validation {
            table: self.parent.quoted(),
            unit: step.path.clone(),
            reason: format!("its change set holds {expected} {what}, COPY received {got}"),
        }
        .into())
    }
}
