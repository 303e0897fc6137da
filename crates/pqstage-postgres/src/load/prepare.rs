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
//! Only a chain's first change set is prepared: a second one must be looked
//! up after the first is applied, in the patch's transaction. Whatever this
//! connection cannot do (it cannot connect, the role may not create tables
//! in the parent's schema, …), the patch does itself, in its own
//! transaction, as it did before, with a note.

use std::sync::mpsc::SyncSender;

use pqstage_load::episodes::one_line;
use pqstage_load::sql::render;
use pqstage_stage::manifest::ChangeSet;

use super::patch::{PatchCtx, Patches, Pieces, Staging};
use super::unit::column_definitions;
use super::Upsert;
use crate::connect::connect;
use crate::error::PgError;
use crate::sql::LOAD;

/// How many partitions the preparing connection keeps ready ahead of the
/// patch, at most (each is four small unlogged tables until the patch ends).
pub(super) const AHEAD: usize = 4;

/// What the preparing connection hands the patch for one partition, in the
/// order the patch visits them.
pub(super) enum Ready {
    /// Its first change set staged and looked up, with `patch_found`'s counts.
    Prepared { staging: Staging, found: [u64; 4] },
    /// Nothing to prepare (no partition attached for the key).
    Skipped,
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

impl PatchCtx<'_> {
    /// Prepares the first change set of each of `todo`'s partitions in
    /// order, sending each as it is ready, until done, failed, or the patch
    /// stops listening. `pid` is the patch's backend, which names the tables.
    pub(super) fn prepare(
        &self,
        todo: &Patches<'_, '_>,
        tasks: &[Task<'_>],
        pid: i32,
        p: &Pieces<'_>,
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
        for (place, ((step, chain), task)) in todo.iter().zip(tasks).enumerate() {
            let ready = match (task.leaf, chain.first()) {
                (Some(leaf), Some(cs)) => {
                    match self.prepare_one(&mut client, step, cs, leaf, task.upsert, pid, place, p) {
                        Ok((staging, found)) => Ready::Prepared { staging, found },
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
    }

    /// Creates the tables of the partition at `place`, stages change set
    /// `cs` in them and looks its keys up in `leaf`, and commits.
    #[allow(clippy::too_many_arguments)]
    fn prepare_one(
        &self,
        client: &mut postgres::Client,
        step: &pqstage_load::Step<'_, pqstage_stage::manifest::PartitionEntry>,
        cs: &ChangeSet,
        leaf: &str,
        upsert: Upsert,
        pid: i32,
        place: usize,
        p: &Pieces<'_>,
    ) -> Result<(Staging, [u64; 4]), PgError> {
        let staging = Staging::prepared(self.parent, pid, place);
        let mut tx = client.transaction().map_err(PgError::db("begin preparing the changes"))?;
        let mut vars = vec![("parent", self.parent.quoted()), ("keys", column_definitions(&p.key_columns))];
        vars.extend(staging.vars().map(|(k, v)| (k, v.to_string())));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        tx.batch_execute(&render(LOAD.patch_prepared_tables, &vars))
            .map_err(PgError::db(format!("create the tables that prepare the changes of {}", step.path)))?;
        let probe = self.probe_inserted(&mut tx, step, leaf, p, upsert)?;
        let found = self.stage(&mut tx, step, cs, p, leaf, &staging, probe)?;
        tx.commit().map_err(PgError::db(format!("commit the prepared changes of {}", step.path)))?;
        Ok((staging, found))
    }
}
