//! `_manifest.json`: the commit point of a staged dataset.
//!
//! A reader trusts only the files a manifest names. The manifest is written
//! last, in one atomic put, so a crashed convert never exposes half a dataset.

use pqstage_spec::trajectories::TrajectorySpec;
use pqstage_spec::Spec;
use serde::{Deserialize, Serialize};

/// Version of the manifest layout this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Algorithm of every `checksum` field.
pub const CHECKSUM_ALGORITHM: &str = "xxh3-128";
/// Directory value of the partition whose key is NULL. DESIGN.md sketched
/// `year=__null__`, but DuckDB, pyarrow and Polars then read `year` as text;
/// the Hive convention below is what all of them (and Spark) read as an
/// integer NULL, and what their own writers produce.
pub const NULL_PARTITION_VALUE: &str = "__HIVE_DEFAULT_PARTITION__";

/// A staged dataset's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Dataset name, also its folder under the stage root.
    pub dataset: String,
    /// Program and version that wrote it.
    pub created_by: String,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
    /// Algorithm of all checksums ([`CHECKSUM_ALGORITHM`]).
    pub checksum_algorithm: String,
    /// Input files.
    pub sources: Vec<SourceEntry>,
    /// Tables of the dataset: one for a table spec; sessions, episodes,
    /// observations and extended_properties for a trajectory spec.
    pub tables: Vec<TableEntry>,
    /// The trajectory spec a dataset of several tables was converted with
    /// (each table's own `spec` then only types its columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectories: Option<TrajectorySpec>,
    /// The dataset's version: 1 for its first convert, one more for each
    /// convert after it (0 in manifests written before versions existed).
    #[serde(default)]
    pub version: u64,
}

/// An input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// Path as given on the command line.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Checksum of the file's bytes.
    pub checksum: String,
    /// Data rows read from this file (header excluded).
    pub rows: u64,
}

/// One table: its spec, partitions, rejects and reconciliation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Table name.
    pub name: String,
    /// Folder of the table relative to the dataset folder ("" for the dataset itself).
    pub path: String,
    /// The spec the data was converted with.
    pub spec: Spec,
    /// [`Spec::fingerprint`] of `spec`.
    pub spec_fingerprint: String,
    /// Name of the Hive partition column, if partitioned.
    pub partition_column: Option<String>,
    /// Partitions in key order, NULL last.
    pub partitions: Vec<PartitionEntry>,
    /// Rows refused, with the files that keep them.
    pub rejects: RejectsEntry,
    /// Data rows read from all sources.
    pub rows_read: u64,
    /// Rows written to partitions.
    pub rows_written: u64,
    /// Rows refused (kept under `_rejects/`).
    pub rows_rejected: u64,
    /// What changed, per partition and version, for the versions kept (the
    /// spec's `[target] key` decides what a row is); oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeSet>,
    /// For a version made by `convert --mode merge` or `append`: the rows it
    /// kept of the version before it. `None` for a whole dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<Carried>,
}

/// How a merged or appended version reconciles with the one before it:
/// `rows_read + previous_rows - replaced - deleted = rows_written +
/// rows_rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    /// `merge` or `append`.
    pub mode: String,
    /// The version built on.
    pub from_version: u64,
    /// Its rows.
    pub previous_rows: u64,
    /// Its rows that a row of this run replaced (same key).
    pub replaced: u64,
    /// Its rows whose key a deletes file named.
    pub deleted: u64,
    /// Keys read from deletes files (more than `deleted` when some named no
    /// staged row, or one key twice).
    pub delete_keys: u64,
    /// The deletes files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_sources: Vec<SourceEntry>,
    /// Sources of the earlier versions this one holds rows of, oldest first
    /// (an append skips a source found here with the same bytes).
    pub sources: Vec<SourceEntry>,
}

/// What changed in one partition from one version of it to the next, by
/// key: rows inserted, rows updated (the whole new row) and keys deleted.
/// Applying it to a target that holds the partition at checksum `from`
/// leaves the partition at checksum `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// The dataset version it leads to.
    pub version: u64,
    /// The partition's folder, e.g. `year=1987`.
    pub partition: String,
    /// The partition's key value (as [`PartitionEntry::value`]).
    pub value: Option<i64>,
    /// The partition's checksum before.
    pub from: String,
    /// The partition's checksum after.
    pub to: String,
    /// Rows of the partition after.
    pub rows: u64,
    /// New rows (every column, in the data files' schema).
    pub inserted: ChangeFiles,
    /// Rows whose key was there before, with their new values.
    pub updated: ChangeFiles,
    /// Keys no longer there (the key columns only).
    pub deleted: ChangeFiles,
}

/// The rows of one kind of change, and the files that hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeFiles {
    /// Rows in all files.
    pub rows: u64,
    /// Files (none when `rows` is 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEntry>,
}

impl ChangeSet {
    /// Rows inserted, updated or deleted.
    pub fn changed_rows(&self) -> u64 {
        self.inserted.rows + self.updated.rows + self.deleted.rows
    }

    /// Its files: inserted, updated, deleted.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.inserted.files.iter().chain(&self.updated.files).chain(&self.deleted.files)
    }

    /// Its files as a partition entry, for what checks and fetches those.
    pub fn as_partition(&self) -> PartitionEntry {
        let files: Vec<FileEntry> = self.files().cloned().collect();
        PartitionEntry {
            value: self.value,
            key: None,
            path: self.partition.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
            checksum: String::new(),
            files,
        }
    }
}

impl TableEntry {
    /// The change sets that lead partition `path` from checksum `from` to
    /// its staged checksum `to`, in order; `None` when the kept history has
    /// no such chain.
    pub fn change_chain(&self, path: &str, from: &str, to: &str) -> Option<Vec<&ChangeSet>> {
        let mut chain = Vec::new();
        let mut at = from;
        while at != to {
            // The latest change set from here: a dataset converted back and
            // forth has several, and the latest leads toward the staged one.
            let next = self.changes.iter().rev().find(|c| c.partition == path && c.from == at)?;
            chain.push(next);
            at = &next.to;
            if chain.len() > self.changes.len() {
                return None;
            }
        }
        (!chain.is_empty()).then_some(chain)
    }
}

/// One partition (`year=1987`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionEntry {
    /// Key value; `None` is the NULL partition (or a text key's partition).
    pub value: Option<i64>,
    /// Key value of a partition keyed by text (`episode_id=episode-0-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Folder relative to the table folder, e.g. `year=1987`; "" if unpartitioned.
    pub path: String,
    /// Rows in all files.
    pub rows: u64,
    /// Bytes of all files.
    pub bytes: u64,
    /// Checksum over the partition's file checksums, in order: equal checksums mean equal data.
    pub checksum: String,
    /// Data files in order.
    pub files: Vec<FileEntry>,
}

/// One data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the dataset folder.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Checksum of the file's bytes.
    pub checksum: String,
}

/// Refused rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectsEntry {
    /// Rows refused.
    pub rows: u64,
    /// Files that keep them (CSV: source, line, column, value, reason, record).
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Every file path the manifest names, relative to the dataset folder.
    pub fn referenced_files(&self) -> impl Iterator<Item = &str> {
        self.file_entries().map(|f| f.path.as_str())
    }

    /// Every file the manifest names (data, then rejects, per table).
    pub fn file_entries(&self) -> impl Iterator<Item = &FileEntry> {
        self.tables.iter().flat_map(|t| {
            t.partitions
                .iter()
                .flat_map(|p| p.files.iter())
                .chain(t.rejects.files.iter())
                .chain(t.changes.iter().flat_map(ChangeSet::files))
        })
    }

    /// Checks the reconciliation `rows_read = rows_written + rows_rejected` and
    /// that partition and file counts add up.
    ///
    /// # Errors
    /// [`CountsDisagree`] naming the table and the numbers that disagree.
    pub fn check_counts(&self) -> Result<(), CountsDisagree> {
        for t in &self.tables {
            if let Some(c) = &t.carried {
                let before = t.rows_read + c.previous_rows;
                if before < c.replaced + c.deleted
                    || before - c.replaced - c.deleted != t.rows_written + t.rows_rejected
                {
                    return Err(CountsDisagree(format!(
                        "table {}: rows_read {} + {} rows of version {} - {} replaced - {} deleted != rows_written {} + rows_rejected {}",
                        t.name, t.rows_read, c.previous_rows, c.from_version, c.replaced, c.deleted, t.rows_written, t.rows_rejected
                    )));
                }
            } else if t.rows_read != t.rows_written + t.rows_rejected {
                return Err(CountsDisagree(format!(
                    "table {}: rows_read {} != rows_written {} + rows_rejected {}",
                    t.name, t.rows_read, t.rows_written, t.rows_rejected
                )));
            }
            let in_parts: u64 = t.partitions.iter().map(|p| p.rows).sum();
            if in_parts != t.rows_written {
                return Err(CountsDisagree(format!(
                    "table {}: partitions hold {in_parts} rows, rows_written is {}",
                    t.name, t.rows_written
                )));
            }
            for p in &t.partitions {
                let in_files: u64 = p.files.iter().map(|f| f.rows).sum();
                if in_files != p.rows {
                    return Err(CountsDisagree(format!(
                        "table {}: partition {} files hold {in_files} rows, not {}",
                        t.name, p.path, p.rows
                    )));
                }
            }
            if t.rejects.rows != t.rows_rejected {
                return Err(CountsDisagree(format!(
                    "table {}: rejects hold {} rows, rows_rejected is {}",
                    t.name, t.rejects.rows, t.rows_rejected
                )));
            }
        }
        let from_sources: u64 = self.sources.iter().map(|s| s.rows).sum();
        // A trajectory dataset's source rows are its observations' rows; the
        // other tables are made from them.
        let read: u64 = self
            .tables
            .iter()
            .filter(|t| self.trajectories.is_none() || t.name == OBSERVATIONS)
            .map(|t| t.rows_read)
            .sum();
        if from_sources != read {
            return Err(CountsDisagree(format!("sources hold {from_sources} rows, tables read {read}")));
        }
        Ok(())
    }
}

/// The counts of a manifest disagree: which, and the numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CountsDisagree(String);

/// Hex checksum of `bytes` ([`CHECKSUM_ALGORITHM`]).
pub fn checksum(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Streaming form of [`checksum`].
#[derive(Default, Clone)]
pub struct Checksummer(xxhash_rust::xxh3::Xxh3);

impl Checksummer {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    /// The hex digest of everything fed.
    pub fn finish(&self) -> String {
        format!("{:032x}", self.0.digest128())
    }
}

/// The table of a trajectory dataset whose rows are the sources' rows.
pub const OBSERVATIONS: &str = "observations";

/// The folder name of a text partition key: `episode_id=episode-0-run`, with
/// every byte outside `[A-Za-z0-9_.-]` percent-encoded as Hive does.
pub fn partition_dir_text(column: &str, key: &str) -> String {
    let mut out = format!("{column}=");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The folder name of a partition value: `year=1987` or `year=__HIVE_DEFAULT_PARTITION__`.
pub fn partition_dir(column: &str, value: Option<i64>) -> String {
    match value {
        Some(v) => format!("{column}={v}"),
        None => format!("{column}={NULL_PARTITION_VALUE}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_checksum_equals_one_shot() {
        let mut c = Checksummer::new();
        c.update(b"hello ");
        c.update(b"world");
        assert_eq!(c.finish(), checksum(b"hello world"));
        assert_ne!(checksum(b"a"), checksum(b"b"));
        assert_eq!(checksum(b"").len(), 32);
    }

    fn change(version: u64, partition: &str, from: &str, to: &str) -> ChangeSet {
        let rows = |n| ChangeFiles { rows: n, files: Vec::new() };
        ChangeSet {
            version,
            partition: partition.into(),
            value: None,
            from: from.into(),
            to: to.into(),
            rows: 10,
            inserted: rows(1),
            updated: rows(2),
            deleted: rows(version),
        }
    }

    #[test]
    fn a_change_chain_leads_from_the_loaded_version_to_the_staged_one() {
        let spec = Spec::from_toml("name = \"t\"\n[[columns]]\nname = \"a\"\ntype = \"int64\"\n").unwrap();
        let mut t = TableEntry {
            name: "t".into(),
            path: String::new(),
            spec_fingerprint: spec.fingerprint(),
            spec,
            partition_column: None,
            partitions: Vec::new(),
            rejects: RejectsEntry::default(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            changes: vec![change(2, "y=1", "a", "b"), change(2, "y=2", "p", "q"), change(3, "y=1", "b", "c")],
            carried: None,
        };
        let versions = |c: Option<Vec<&ChangeSet>>| c.map(|c| c.iter().map(|c| c.version).collect::<Vec<_>>());
        assert_eq!(versions(t.change_chain("y=1", "a", "c")), Some(vec![2, 3]));
        assert_eq!(versions(t.change_chain("y=1", "b", "c")), Some(vec![3]));
        // Another partition's change sets never join a chain; an unknown
        // start, or the staged version itself, has none.
        assert_eq!(versions(t.change_chain("y=2", "a", "c")), None);
        assert_eq!(versions(t.change_chain("y=1", "x", "c")), None);
        assert_eq!(versions(t.change_chain("y=1", "c", "c")), None);
        // A cycle (the same dump converted back and forth) ends.
        t.changes.push(change(4, "y=1", "c", "a"));
        assert_eq!(versions(t.change_chain("y=1", "a", "z")), None);
        assert_eq!(t.changes[0].changed_rows(), 1 + 2 + 2);
        assert_eq!(t.changes[0].as_partition().path, "y=1");
    }

    #[test]
    fn partition_dirs() {
        assert_eq!(partition_dir("year", Some(1987)), "year=1987");
        assert_eq!(partition_dir("year", None), "year=__HIVE_DEFAULT_PARTITION__");
        assert_eq!(partition_dir_text("episode_id", "episode-0-run_1.x"), "episode_id=episode-0-run_1.x");
        assert_eq!(partition_dir_text("episode_id", "a b/ü"), "episode_id=a%20b%2F%C3%BC");
    }
}
