//! Applying change sets to a DuckDB table, in the load's one transaction.
//!
//! The change sets are applied one version at a time, each version with a
//! handful of statements over all the partitions it changes (a statement per
//! partition would scan the table once per partition):
//!
//! 1. one look-up of the version's keys in the table keeps the row ids of
//!    the rows under the keys it deletes or updates, and counts those under
//!    the keys it inserts. Per partition, the table must hold all of the
//!    first and none of the second; a partition that does not (the table was
//!    changed by hand) is replaced whole instead, in the same transaction,
//!    with a note, and leaves the later versions too;
//! 2. the rows found are deleted by row id, and the inserted and updated
//!    rows inserted from the change set files;
//! 3. the rows deleted must be the rows found and the rows inserted the rows
//!    staged. With the convert's guarantee that a change set names a key
//!    once, that makes each staged key name exactly one row: every row under
//!    a key that leaves was found and deleted, and no row was under a key
//!    that arrives. Any difference fails the load before its commit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::{Fetched, Job, LoadError, PartitionKey, StagedFiles, Work};
use pqstage_stage::manifest::{ChangeSet, FileEntry, PartitionEntry};

use crate::error::DuckdbError;
use crate::sql::{key_condition, LOAD};

/// The SQL pieces every statement shares.
struct Pieces<'a> {
    table: &'a str,
    /// The partition column, quoted.
    part: String,
    /// Key columns and the partition column, quoted, comma-separated.
    keys: String,
    /// `t.k = s.k AND ... AND t.part IS NOT DISTINCT FROM s.part`.
    matches: String,
    /// Every column, quoted.
    columns: String,
    /// `hive_partitioning = true, hive_types = {...}`.
    hive: String,
}

impl Pieces<'_> {
    /// `[ 'a', 'b' ]`.
    fn list(files: &[PathBuf]) -> String {
        let paths: Vec<String> = files.iter().map(|f| literal(&f.to_string_lossy())).collect();
        format!("[{}]", paths.join(", "))
    }

    /// A SELECT of the key columns (and partition column) of `files`.
    fn keys_of(&self, files: &[PathBuf]) -> String {
        format!("SELECT {} FROM read_parquet({}, {})", self.keys, Self::list(files), self.hive)
    }

    /// A SELECT of the key columns (and partition column) of `files`, or
    /// of no rows (typed as the table's) when there are none.
    fn keys_or_none(&self, files: &[PathBuf]) -> String {
        match files.is_empty() {
            true => format!("SELECT {} FROM {} WHERE false", self.keys, self.table),
            false => self.keys_of(files),
        }
    }

    /// The look-up: per partition value, the rows of the table under the
    /// keys of `leaving` (their row ids kept in `pqstage_found`) and under
    /// those of `arriving`.
    fn lookup(
        &self,
        conn: &duckdb::Connection,
        leaving: &[PathBuf],
        arriving: &[PathBuf],
    ) -> Result<BTreeMap<Option<i64>, (u64, u64)>, DuckdbError> {
        let q = render(
            LOAD.patch_lookup,
            &[
                ("table", self.table),
                ("leaving", &self.keys_or_none(leaving)),
                ("arriving", &self.keys_or_none(arriving)),
                ("keys", &self.keys),
                ("match", &self.matches),
                ("key", &self.part),
            ],
        );
        conn.execute_batch(&q).map_err(DuckdbError::sql("look up keys"))?;
        let mut stmt = conn.prepare(LOAD.patch_found).map_err(DuckdbError::sql("count the rows found"))?;
        stmt.query_map([], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)))
        })
        .and_then(Iterator::collect)
        .map_err(DuckdbError::sql("count the rows found"))
    }
}

/// One partition's change set of the version being applied, its files local.
struct Pending<'m> {
    key: PartitionKey,
    path: String,
    cs: &'m ChangeSet,
    dir: PathBuf,
    _fetched: Fetched,
}

impl Pending<'_> {
    fn paths(&self, files: &[FileEntry]) -> Vec<PathBuf> {
        files.iter().map(|f| self.dir.join(&f.path)).collect()
    }
}

/// What applying the patches did.
#[derive(Default)]
pub(crate) struct Patched {
    /// The partitions replaced whole instead, and why.
    pub swapped: BTreeMap<PartitionKey, String>,
    /// Rows deleted one by one: those the change sets delete or update
    /// (not those of the partitions replaced whole).
    pub deleted: u64,
}

/// Applies the patches of `work`. `insert` loads a partition's staged files
/// (for those replaced whole instead).
///
/// # Errors
/// DuckDB's; [`LoadError::Validation`] when the table does not hold the
/// staged rows after the changes (nothing is committed).
pub(crate) fn apply(
    conn: &duckdb::Connection,
    table: &str,
    job: &Job<'_>,
    work: &Work<'_, '_>,
    insert: &dyn Fn(&PartitionEntry) -> Result<(), DuckdbError>,
) -> Result<Patched, DuckdbError> {
    let patches = work.to_patch();
    let mut done = Patched::default();
    if patches.is_empty() {
        return Ok(done);
    }
    let swapped = &mut done.swapped;
    let files = StagedFiles::open(job.request.stage, job.dataset(), job.request.options.cache_dir.as_deref())?;
    let part_name = job.table.partition_column.as_deref().unwrap_or_default();
    let key: Vec<&str> = job.table.spec.target.key.iter().map(String::as_str).filter(|k| *k != part_name).collect();
    let all: Vec<String> = job.columns().iter().map(|c| quote_ident(&c.name)).collect();
    let part = quote_ident(part_name);
    let mut matches: Vec<String> = key.iter().map(|k| format!("t.{0} = s.{0}", quote_ident(k))).collect();
    matches.push(format!("t.{part} IS NOT DISTINCT FROM s.{part}"));
    let p = Pieces {
        table,
        keys: key.iter().map(|k| quote_ident(k)).chain([part.clone()]).collect::<Vec<_>>().join(", "),
        matches: matches.join(" AND "),
        columns: all.join(", "),
        hive: format!("hive_partitioning = true, hive_types = {{{}: 'INTEGER'}}", literal(part_name)),
        part,
    };
    let versions: BTreeSet<u64> = patches.iter().flat_map(|(_, chain)| chain.iter().map(|c| c.version)).collect();
    let staged: BTreeMap<PartitionKey, &PartitionEntry> =
        patches.iter().filter_map(|(s, _)| s.staged.map(|e| (s.key, e))).collect();
    for version in versions {
        let mut pending = Vec::new();
        for (step, chain) in &patches {
            let Some(cs) = chain.iter().find(|c| c.version == version) else { continue };
            if swapped.contains_key(&step.key) {
                continue;
            }
            let (dir, fetched) = fetch(job, &files, cs)?;
            pending.push(Pending { key: step.key, path: step.path.clone(), cs, dir, _fetched: fetched });
        }
        for (key, why) in diverged(conn, &p, &pending)? {
            swapped.insert(key, why);
        }
        pending.retain(|x| !swapped.contains_key(&x.key));
        done.deleted += apply_version(conn, &p, &pending, version)?;
        job.request.progress.add(pending.iter().map(|x| x.cs.inserted.rows + x.cs.updated.rows).sum());
    }
    for key in swapped.keys() {
        let condition = key_condition(Some(part_name), &[key.0]).expect("one key gives a condition");
        let delete = render(LOAD.delete_units, &[("table", table), ("condition", &condition)]);
        conn.execute_batch(&delete).map_err(DuckdbError::sql("delete a diverged partition"))?;
        insert(staged[key])?;
    }
    Ok(done)
}

/// A change set's files, ready to read, and their folder as an absolute path
/// (DuckDB resolves relative ones against its own working folder).
fn fetch(job: &Job<'_>, files: &StagedFiles, cs: &ChangeSet) -> Result<(PathBuf, Fetched), DuckdbError> {
    let fetched = files.fetch_change_set(&job.request, cs)?;
    let dir = std::path::absolute(fetched.dir()).map_err(|source| DuckdbError::Io {
        op: "resolve",
        path: fetched.dir().to_path_buf(),
        source,
    })?;
    Ok((dir, fetched))
}

/// The partitions of `pending` that do not hold the version their change
/// set leads from, and why; the rows found in them are forgotten.
fn diverged(
    conn: &duckdb::Connection,
    p: &Pieces<'_>,
    pending: &[Pending<'_>],
) -> Result<Vec<(PartitionKey, String)>, DuckdbError> {
    let leaving: Vec<PathBuf> = pending
        .iter()
        .flat_map(|x| x.paths(&x.cs.deleted.files).into_iter().chain(x.paths(&x.cs.updated.files)))
        .collect();
    let arriving: Vec<PathBuf> = pending.iter().flat_map(|x| x.paths(&x.cs.inserted.files)).collect();
    let found = p.lookup(conn, &leaving, &arriving)?;
    let mut out = Vec::new();
    for x in pending {
        let (cs, value) = (x.cs, x.key.0);
        let (held, already) = found.get(&value).copied().unwrap_or((0, 0));
        let expected = cs.deleted.rows + cs.updated.rows;
        let why = if already != 0 {
            format!(
                "it already held {already} of the keys version {} inserts, so not version {}",
                cs.version,
                cs.version - 1
            )
        } else if held != expected {
            format!(
                "it held {held} of the {expected} keys version {} deletes or updates, so not version {}",
                cs.version,
                cs.version - 1
            )
        } else {
            continue;
        };
        let condition = match value {
            Some(v) => format!("part = {v}"),
            None => "part IS NULL".to_string(),
        };
        conn.execute_batch(&render(LOAD.patch_forget, &[("condition", &condition)]))
            .map_err(DuckdbError::sql("forget the rows found"))?;
        out.push((x.key, why));
    }
    Ok(out)
}

/// Deletes, inserts and checks one version's changes to the partitions of
/// `pending` (the rows found by [`diverged`]'s look-up); returns the rows
/// deleted.
fn apply_version(
    conn: &duckdb::Connection,
    p: &Pieces<'_>,
    pending: &[Pending<'_>],
    version: u64,
) -> Result<u64, DuckdbError> {
    let leaving: u64 = pending.iter().map(|x| x.cs.deleted.rows + x.cs.updated.rows).sum();
    let deleted = match leaving {
        0 => 0,
        _ => conn
            .execute(&render(LOAD.patch_delete, &[("table", p.table)]), [])
            .map_err(DuckdbError::sql("delete changed rows"))? as u64,
    };
    let upserts: Vec<PathBuf> = pending
        .iter()
        .flat_map(|x| x.paths(&x.cs.inserted.files).into_iter().chain(x.paths(&x.cs.updated.files)))
        .collect();
    let written = match upserts.is_empty() {
        true => 0,
        false => {
            let files = Pieces::list(&upserts);
            let insert = render(
                LOAD.patch_insert,
                &[("table", p.table), ("columns", &p.columns), ("files", &files), ("hive", &p.hive)],
            );
            conn.execute(&insert, []).map_err(DuckdbError::sql("insert changed rows"))? as u64
        }
    };
    let expected: u64 = pending.iter().map(|x| x.cs.inserted.rows + x.cs.updated.rows).sum();
    if written != expected || deleted != leaving {
        let paths: Vec<&str> = pending.iter().map(|x| x.path.as_str()).collect();
        return Err(LoadError::Validation {
            table: p.table.to_string(),
            unit: paths.join(", "),
            reason: format!(
                "version {version}: {deleted} rows deleted of the {leaving} found, {written} rows written of {expected} staged"
            ),
        }
        .into());
    }
    Ok(deleted)
}
