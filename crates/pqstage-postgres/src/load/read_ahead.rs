//! Reading ahead of a patch. A change set of a few percent of a partition's
//! rows touches most of its pages: with about 40 rows to a heap page and a
//! few hundred keys to an index leaf, 1.5% of the rows changed is half of
//! the heap pages and most index leaves. The patch's transaction reads each
//! page when a key needs it, one at a time (PostgreSQL 15 reads index and
//! heap pages synchronously), so on a table the cache no longer holds it
//! waits on the disk page by page. A second connection reads the partitions
//! the patch will visit, in its order, each whole and in order, with
//! `pg_prewarm(…, 'read')`, into the operating system's cache, where the
//! patch then finds its pages.
//!
//! Only where it pays: partitions whose change sets change at least
//! [`MIN_SHARE`] of their rows (below, the patch reads fewer pages than a
//! whole partition holds). Only with the `pg_prewarm` extension installed in
//! the database, as it ships with PostgreSQL's contrib modules: the load
//! does not install extensions, and says so in a note. Reading changes
//! nothing: pg_prewarm takes the lock a reader takes, which the patch's
//! lock allows, and a failure of it only leaves the patch to read as before.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pqstage_load::episodes::one_line;
use pqstage_load::sql::{quote_ident, render};

use crate::connect::{connect, Settings};
use crate::sql::LOAD;

/// The share of a partition's rows a patch changes from which it is read
/// ahead: 0.5%, at which about a fifth of its heap pages and most of its
/// index leaves are touched anyway.
pub(super) const MIN_SHARE: f64 = 0.005;

/// How many partitions the reading keeps ahead of the patch, at most: the
/// cache need hold only those (it reads faster than the patch writes, and
/// pages read too early may be evicted before the patch comes to them).
const AHEAD: usize = 4;

/// How reading ahead went.
pub(super) enum ReadAhead {
    /// No partition changes enough to be worth it.
    NotNeeded,
    /// The partitions read, and their bytes.
    Read { partitions: usize, bytes: u64 },
    /// The database has no `pg_prewarm`.
    NoExtension,
    /// It could not connect or read; the patch read as before.
    Failed(String),
}

impl ReadAhead {
    /// A note for the report, if there is one to make.
    pub(super) fn note(&self) -> Option<String> {
        match self {
            ReadAhead::NotNeeded => None,
            ReadAhead::Read { partitions, bytes } => Some(format!(
                "read {partitions} partitions ahead of their changes ({} MB, pg_prewarm)",
                bytes / 1_000_000
            )),
            ReadAhead::NoExtension => Some(
                "the changed partitions were read page by page as the changes needed them; with the pg_prewarm \
                 extension (CREATE EXTENSION pg_prewarm) the load reads them ahead, in order, on a second connection"
                    .into(),
            ),
            ReadAhead::Failed(why) => Some(format!("reading ahead of the changes stopped: {why}")),
        }
    }
}

/// Reads `leaves` (quoted names, with their places in the order the patch
/// visits them) and their indexes, at most [`AHEAD`] places ahead of `at`
/// (the place of the partition the patch is at), until done or `stop` is set.
pub(super) fn read(settings: &Settings, leaves: &[(usize, String)], at: &AtomicUsize, stop: &AtomicBool) -> ReadAhead {
    if leaves.is_empty() {
        return ReadAhead::NotNeeded;
    }
    let mut client = match connect(settings) {
        Ok(c) => c,
        Err(e) => return ReadAhead::Failed(one_line(&e)),
    };
    let schema: Option<String> = match client.query_opt(LOAD.read_ahead_extension, &[]) {
        Ok(row) => row.map(|r| r.get(0)),
        Err(e) => return ReadAhead::Failed(one_line(&e)),
    };
    let Some(schema) = schema else { return ReadAhead::NoExtension };
    let sql = render(LOAD.read_ahead, &[("prewarm", &format!("{}.pg_prewarm", quote_ident(&schema)))]);
    let (mut partitions, mut bytes) = (0, 0);
    for (place, leaf) in leaves {
        while *place > at.load(Ordering::Relaxed) + AHEAD && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match client.query_one(&sql, &[leaf]) {
            Ok(row) => bytes += row.get::<_, i64>(0) as u64,
            Err(e) => return ReadAhead::Failed(one_line(&e)),
        }
        partitions += 1;
    }
    ReadAhead::Read { partitions, bytes }
}
