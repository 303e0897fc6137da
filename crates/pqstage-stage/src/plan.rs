//! What a load has to do per partition, shared by the loaders: compare the
//! manifest with what the target records (its state table) and what it holds
//! (rows per partition key), and decide per key.

use std::collections::{BTreeMap, BTreeSet};

use crate::manifest::{partition_dir, PartitionEntry, TableEntry};

/// Why a partition is (or is not) loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Loaded: not in the target before.
    New,
    /// Replaced: its checksum in the manifest changed.
    Changed,
    /// Replaced: the state matched but the target did not hold what the state says.
    Repaired(String),
    /// Replaced because the user forced it.
    Forced,
    /// Skipped: the target already holds this partition's data.
    Unchanged,
    /// Deleted: the target held this key, the manifest no longer does.
    Removed,
}

impl Action {
    /// True when the partition's rows are (re)loaded.
    pub fn loaded(&self) -> bool {
        matches!(self, Self::New | Self::Changed | Self::Repaired(_) | Self::Forced)
    }
}

/// What the target's state table records for a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The manifest checksum it was loaded from.
    pub checksum: String,
    /// Rows loaded.
    pub rows: u64,
}

/// One partition key's step.
#[derive(Debug, Clone)]
pub struct Step<'m> {
    /// The key (`None`: the NULL partition, or an unpartitioned table).
    pub key: Option<i64>,
    /// Folder name, e.g. `year=1987`.
    pub path: String,
    /// The manifest's entry; `None` for a removed key.
    pub entry: Option<&'m PartitionEntry>,
    /// What to do.
    pub action: Action,
}

/// Plans a load of `table`.
///
/// `state` is what the target records per key, `held` the rows it holds per
/// key (both empty for a new target). `years`, when given, limits the plan to
/// those keys. A key is skipped only when its checksum and rows match the
/// state and the target holds exactly that many rows.
///
/// # Errors
/// The first key of `years` that is neither staged nor held, as its folder name.
pub fn plan<'m>(
    table: &'m TableEntry,
    state: &BTreeMap<Option<i64>, Recorded>,
    held: &BTreeMap<Option<i64>, u64>,
    target_exists: bool,
    force: bool,
    years: Option<&[Option<i64>]>,
) -> Result<Vec<Step<'m>>, String> {
    let in_scope = |key: Option<i64>| years.is_none_or(|ys| ys.contains(&key));
    let mut steps = Vec::new();
    let mut seen = BTreeSet::new();
    for p in table.partitions.iter().filter(|p| in_scope(p.value)) {
        seen.insert(p.value);
        let n = held.get(&p.value).copied().unwrap_or(0);
        let action = if !target_exists {
            Action::New
        } else if force {
            Action::Forced
        } else {
            match state.get(&p.value) {
                None if n == 0 => Action::New,
                None => Action::Repaired(format!("the table holds {n} rows pqstage did not record")),
                Some(s) if s.checksum != p.checksum => Action::Changed,
                Some(s) if s.rows != p.rows || n != p.rows => {
                    Action::Repaired(format!("the table holds {n} rows, the manifest says {}", p.rows))
                }
                Some(_) => Action::Unchanged,
            }
        };
        steps.push(Step { key: p.value, path: p.path.clone(), entry: Some(p), action });
    }
    let stale: BTreeSet<Option<i64>> =
        held.keys().chain(state.keys()).copied().filter(|k| in_scope(*k) && !seen.contains(k)).collect();
    for key in stale {
        let path = table.partition_column.as_deref().map(|c| partition_dir(c, key)).unwrap_or_default();
        steps.push(Step { key, path, entry: None, action: Action::Removed });
    }
    steps.sort_by_key(|s| (s.key.is_none(), s.key));
    if let Some(asked) = years {
        if let Some(missing) = asked.iter().find(|k| !steps.iter().any(|s| s.key == **k)) {
            return Err(partition_dir(table.partition_column.as_deref().unwrap_or("year"), *missing));
        }
    }
    Ok(steps)
}
