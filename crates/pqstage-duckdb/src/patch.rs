//! Applying change sets to a DuckDB table, in the load's one transaction.
//!
//! For each patched partition, and each change set of its chain in order:
//! the partition must hold the change set's deleted and updated keys and
//! none of its inserted ones (else the table was changed by hand, and the
//! partition is replaced whole instead, in the same transaction, with a
//! note); the deleted and updated keys' rows are deleted, the inserted and
//! updated rows inserted; then the staged rows are compared with what the
//! partition holds under their keys (`EXCEPT ALL`), and any difference fails
//! the load before its commit.

use std::collections::BTreeMap;
use std::path::Path;

use pqstage_load::sql::{literal, quote_ident, render};
use pqstage_load::{Job, LoadError, PartitionKey, StagedFiles, Step, Work};
use pqstage_stage::manifest::{ChangeSet, FileEntry, PartitionEntry};
use pqstage_stage::verify::check_files;

use crate::error::DuckdbError;
use crate::sql::LOAD;

/// A partition found not to hold the version its change sets lead from: why.
struct Diverged(String);

/// The SQL pieces of one partition's statements.
struct Pieces {
    partition: String,
    matches: String,
    key_list: String,
    file_columns: String,
    target_columns: String,
    columns: String,
    key_literal: String,
}

/// `[ 'a', 'b' ]` of files under `dir`.
fn list(dir: &Path, files: &[FileEntry]) -> String {
    let paths: Vec<String> = files.iter().map(|f| literal(&dir.join(&f.path).to_string_lossy())).collect();
    format!("[{}]", paths.join(", "))
}

/// Applies the patches of `work`; returns the partitions replaced whole
/// instead, and why. `insert` loads a partition's staged files (for those).
///
/// # Errors
/// DuckDB's; [`LoadError::Validation`] when a partition does not hold its
/// staged rows after its changes (nothing is committed).
pub(crate) fn apply(
    conn: &duckdb::Connection,
    table: &str,
    job: &Job<'_>,
    work: &Work<'_, '_>,
    insert: &dyn Fn(&PartitionEntry) -> Result<(), DuckdbError>,
) -> Result<BTreeMap<PartitionKey, String>, DuckdbError> {
    let patches = work.to_patch();
    let mut swapped = BTreeMap::new();
    if patches.is_empty() {
        return Ok(swapped);
    }
    let files = StagedFiles::open(job.request.stage, job.dataset(), job.request.options.cache_dir.as_deref())?;
    let partition_column = job.table.partition_column.as_deref().unwrap_or_default();
    let key: Vec<&str> =
        job.table.spec.target.key.iter().map(String::as_str).filter(|k| *k != partition_column).collect();
    let all = job.columns();
    let stored: Vec<String> = all.iter().filter(|c| c.name != partition_column).map(|c| quote_ident(&c.name)).collect();
    for (step, chain) in patches {
        let pieces = Pieces {
            partition: match step.key.0 {
                Some(v) => format!("t.{} = {v}", quote_ident(partition_column)),
                None => format!("t.{} IS NULL", quote_ident(partition_column)),
            },
            matches: key.iter().map(|k| format!("t.{0} = s.{0}", quote_ident(k))).collect::<Vec<_>>().join(" AND "),
            key_list: key.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", "),
            file_columns: stored.join(", "),
            target_columns: stored.iter().map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", "),
            columns: stored.iter().cloned().chain([quote_ident(partition_column)]).collect::<Vec<_>>().join(", "),
            key_literal: step.key.0.map_or("NULL".into(), |v| v.to_string()),
        };
        for cs in chain {
            let entry = cs.as_partition();
            if let (StagedFiles::Local(dir), true) = (&files, job.request.options.verify_checksums) {
                check_files(dir, &[&entry], true, Some(1), None).map_err(LoadError::from)?;
            }
            let refs: Vec<&FileEntry> = entry.files.iter().collect();
            let group = format!("changes-v{}-{}", cs.version, cs.partition.replace(['/', '='], "-"));
            let fetched = files.fetch(job.request.stage, job.dataset(), &group, &refs, 4, job.request.runtime)?;
            let dir = std::path::absolute(fetched.dir()).map_err(|source| DuckdbError::Io {
                op: "resolve",
                path: fetched.dir().to_path_buf(),
                source,
            })?;
            match apply_one(conn, table, step, cs, &pieces, &dir)? {
                Ok(()) => job.request.progress.add(cs.inserted.rows + cs.updated.rows),
                Err(Diverged(why)) => {
                    let condition = crate::sql::key_condition(Some(partition_column), &[step.key.0])
                        .expect("one key gives a condition");
                    let delete = render(LOAD.delete_units, &[("table", table), ("condition", &condition)]);
                    conn.execute_batch(&delete).map_err(DuckdbError::sql("delete a diverged partition"))?;
                    insert(step.staged.expect("a patched step has a staged unit"))?;
                    swapped.insert(step.key, why);
                    break;
                }
            }
        }
    }
    Ok(swapped)
}

/// One change set of one partition.
fn apply_one(
    conn: &duckdb::Connection,
    table: &str,
    step: &Step<'_, PartitionEntry>,
    cs: &ChangeSet,
    p: &Pieces,
    dir: &Path,
) -> Result<Result<(), Diverged>, DuckdbError> {
    let keys_of = |files: &[FileEntry]| format!("SELECT {} FROM read_parquet({})", p.key_list, list(dir, files));
    let count = |source: &str| -> Result<u64, DuckdbError> {
        let q = render(
            LOAD.patch_matched,
            &[("table", table), ("source", source), ("match", &p.matches), ("partition", &p.partition)],
        );
        conn.query_row(&q, [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(DuckdbError::sql("look up keys"))
    };
    let leaving: Vec<FileEntry> = cs.deleted.files.iter().chain(&cs.updated.files).cloned().collect();
    if !cs.inserted.files.is_empty() {
        let held = count(&keys_of(&cs.inserted.files))?;
        if held != 0 {
            return Ok(Err(Diverged(format!(
                "it already held {held} of the keys version {} inserts, so not version {}",
                cs.version,
                cs.version - 1
            ))));
        }
    }
    if !leaving.is_empty() {
        let source = keys_of(&leaving);
        let held = count(&source)?;
        let expected = cs.deleted.rows + cs.updated.rows;
        if held != expected {
            return Ok(Err(Diverged(format!(
                "it held {held} of the {expected} keys version {} deletes or updates, so not version {}",
                cs.version,
                cs.version - 1
            ))));
        }
        let delete = render(
            LOAD.patch_delete,
            &[("table", table), ("source", &source), ("match", &p.matches), ("partition", &p.partition)],
        );
        conn.execute_batch(&delete).map_err(DuckdbError::sql("delete changed rows"))?;
    }
    let upserts: Vec<FileEntry> = cs.inserted.files.iter().chain(&cs.updated.files).cloned().collect();
    if upserts.is_empty() {
        return Ok(Ok(()));
    }
    let files = list(dir, &upserts);
    let insert = render(
        LOAD.patch_insert,
        &[
            ("table", table),
            ("columns", &p.columns),
            ("file_columns", &p.file_columns),
            ("key", &p.key_literal),
            ("files", &files),
        ],
    );
    let written = conn.execute(&insert, []).map_err(DuckdbError::sql("insert changed rows"))? as u64;
    let check = render(
        LOAD.patch_check,
        &[
            ("file_columns", &p.file_columns),
            ("target_columns", &p.target_columns),
            ("files", &files),
            ("table", table),
            ("source", &keys_of(&upserts)),
            ("match", &p.matches),
            ("partition", &p.partition),
        ],
    );
    let missing: i64 = conn.query_row(&check, [], |r| r.get(0)).map_err(DuckdbError::sql("check changed rows"))?;
    let expected = cs.inserted.rows + cs.updated.rows;
    if written != expected || missing != 0 {
        return Err(LoadError::Validation {
            table: table.to_string(),
            unit: step.path.clone(),
            reason: format!(
                "version {}: {written} rows written of {expected} staged, {missing} staged rows not held as staged",
                cs.version
            ),
        }
        .into());
    }
    Ok(Ok(()))
}
