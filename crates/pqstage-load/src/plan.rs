//! What a load has to do, unit by unit: the staged units against what the
//! target records (its state table) and what it holds (rows per unit key).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pqstage_stage::manifest::PartitionEntry;

use crate::error::LoadError;

/// Why a unit is (or is not) loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Loaded: not in the target before.
    New,
    /// Replaced: its checksum in the manifest changed.
    Changed,
    /// Replaced: the state matched but the target did not hold what the state says.
    Repaired(String),
    /// Replaced because the caller forced it.
    Forced,
    /// Skipped: the target already holds this unit's data.
    Unchanged,
    /// Deleted: the target held this key, the manifest no longer does.
    Removed,
    /// Changed, and brought up to date with the change sets that lead from
    /// the version the target holds: only the changed rows are written.
    Patched(Patch),
    /// Changed, and replaced whole although the dataset keeps change sets:
    /// why they were not applied.
    Swapped(String),
}

/// What applying a unit's change sets does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// Dataset versions: the one the target holds, and the one it gets.
    pub from_version: u64,
    /// The staged version.
    pub to_version: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
}

impl Action {
    /// True when the unit's rows are (re)loaded whole.
    pub fn loaded(&self) -> bool {
        matches!(self, Self::New | Self::Changed | Self::Repaired(_) | Self::Forced | Self::Swapped(_))
    }

    /// True when the unit's change sets are applied.
    pub fn patched(&self) -> bool {
        matches!(self, Self::Patched(_))
    }
}

/// A unit of loading as the stage holds it: the rows a loader loads, checks
/// and records as one. A partition of a table is one; an episode spread over
/// several tables will be another.
pub trait StagedUnit {
    /// What the unit is keyed by in the target, in the order units are reported.
    type Key: Ord + Clone + fmt::Debug;
    /// The unit's key.
    fn key(&self) -> Self::Key;
    /// Its name in the stage and in messages, e.g. `year=1987`.
    fn path(&self) -> &str;
    /// The checksum that says whether it changed.
    fn checksum(&self) -> &str;
    /// Rows the target must hold for it after a load.
    fn rows(&self) -> u64;
}

/// The key of a partition: its partition column's value, `None` for the NULL
/// partition (and for an unpartitioned table's one partition). Ordered as
/// PostgreSQL's `ASC NULLS LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionKey(pub Option<i64>);

impl Ord for PartitionKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.is_none(), self.0).cmp(&(other.0.is_none(), other.0))
    }
}

impl PartialOrd for PartitionKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("NULL"),
        }
    }
}

impl StagedUnit for PartitionEntry {
    type Key = PartitionKey;
    fn key(&self) -> PartitionKey {
        PartitionKey(self.value)
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn checksum(&self) -> &str {
        &self.checksum
    }
    fn rows(&self) -> u64 {
        self.rows
    }
}

/// What the target's state table records for a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The manifest checksum it was loaded from.
    pub checksum: String,
    /// Rows loaded.
    pub rows: u64,
}

/// What an existing target has, per unit key: what its state table records
/// and the rows it holds.
#[derive(Debug, Clone)]
pub struct Inventory<K> {
    /// The state table's record per key.
    pub recorded: BTreeMap<K, Recorded>,
    /// Rows the target holds per key.
    pub held: BTreeMap<K, u64>,
}

impl<K> Default for Inventory<K> {
    fn default() -> Self {
        Self { recorded: BTreeMap::new(), held: BTreeMap::new() }
    }
}

impl<K: Ord> Inventory<K> {
    /// Adds a key that is recorded and holds `held` rows.
    pub fn record(&mut self, key: K, recorded: Recorded, held: u64)
    where
        K: Clone,
    {
        self.held.insert(key.clone(), held);
        self.recorded.insert(key, recorded);
    }
}

/// Which units a load considers, and whether it reloads unchanged ones.
#[derive(Debug, Clone)]
pub struct Scope<K> {
    /// Reload every unit in scope, even unchanged ones.
    pub force: bool,
    /// Only these keys; every key when `None`.
    pub only: Option<Vec<K>>,
}

impl<K> Default for Scope<K> {
    fn default() -> Self {
        Self { force: false, only: None }
    }
}

/// One unit's step.
#[derive(Debug, Clone)]
pub struct Step<'m, U: StagedUnit> {
    /// The unit's key.
    pub key: U::Key,
    /// Its name, e.g. `year=1987`.
    pub path: String,
    /// The staged unit; `None` for a removed key.
    pub staged: Option<&'m U>,
    /// What to do.
    pub action: Action,
}

impl<U: StagedUnit> Step<'_, U> {
    /// Rows the target holds for this unit once the step is done (0 when removed).
    pub fn rows(&self) -> u64 {
        self.staged.map_or(0, StagedUnit::rows)
    }
}

/// Plans a load: one step per staged unit in scope, then one per key the
/// target holds or records that is no longer staged (named by `path_of`), in
/// key order.
///
/// `target` is `None` when the target does not exist yet (every unit is
/// new). A unit is skipped only when its checksum and rows match the state
/// and the target holds exactly that many rows.
///
/// # Errors
/// [`LoadError::NoSuchUnit`] for the first key of `scope.only` that is
/// neither staged nor held, named as `path_of` names it.
pub fn plan<'m, U: StagedUnit>(
    staged: &'m [U],
    target: Option<&Inventory<U::Key>>,
    scope: &Scope<U::Key>,
    dataset: &str,
    path_of: impl Fn(&U::Key) -> String,
) -> Result<Vec<Step<'m, U>>, LoadError> {
    let empty = Inventory::default();
    let have = target.unwrap_or(&empty);
    let in_scope = |key: &U::Key| scope.only.as_ref().is_none_or(|keys| keys.contains(key));
    let mut steps = Vec::new();
    let mut seen = BTreeSet::new();
    for unit in staged.iter().filter(|u| in_scope(&u.key())) {
        let key = unit.key();
        let action = decide(unit, have, target.is_some(), scope.force);
        seen.insert(key.clone());
        steps.push(Step { key, path: unit.path().to_string(), staged: Some(unit), action });
    }
    let stale: BTreeSet<&U::Key> =
        have.held.keys().chain(have.recorded.keys()).filter(|k| in_scope(k) && !seen.contains(*k)).collect();
    for key in stale {
        steps.push(Step { key: key.clone(), path: path_of(key), staged: None, action: Action::Removed });
    }
    steps.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(asked) = &scope.only {
        if let Some(missing) = asked.iter().find(|k| !steps.iter().any(|s| s.key == **k)) {
            return Err(LoadError::NoSuchUnit { unit: path_of(missing), dataset: dataset.to_string() });
        }
    }
    Ok(steps)
}

fn decide<U: StagedUnit>(unit: &U, have: &Inventory<U::Key>, exists: bool, force: bool) -> Action {
    if !exists {
        return Action::New;
    }
    if force {
        return Action::Forced;
    }
    let key = unit.key();
    let n = have.held.get(&key).copied().unwrap_or(0);
    match have.recorded.get(&key) {
        None if n == 0 => Action::New,
        None => Action::Repaired(format!("the table holds {n} rows pqstage did not record")),
        Some(s) if s.checksum != unit.checksum() => Action::Changed,
        Some(s) if s.rows != unit.rows() || n != unit.rows() => {
            Action::Repaired(format!("the table holds {n} rows, the manifest says {}", unit.rows()))
        }
        Some(_) => Action::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Unit(u32, &'static str, u64);

    impl StagedUnit for Unit {
        type Key = u32;
        fn key(&self) -> u32 {
            self.0
        }
        fn path(&self) -> &str {
            "unit"
        }
        fn checksum(&self) -> &str {
            self.1
        }
        fn rows(&self) -> u64 {
            self.2
        }
    }

    fn rec(checksum: &str, rows: u64) -> Recorded {
        Recorded { checksum: checksum.into(), rows }
    }

    fn actions(steps: &[Step<'_, Unit>]) -> Vec<(u32, Action)> {
        steps.iter().map(|s| (s.key, s.action.clone())).collect()
    }

    #[test]
    fn every_action_from_state_and_held_rows() {
        let staged = [Unit(1, "a", 10), Unit(2, "b", 20), Unit(3, "c", 30), Unit(4, "d", 40), Unit(5, "e", 5)];
        let mut have = Inventory::default();
        have.record(1, rec("a", 10), 10); // as staged
        have.record(2, rec("old", 20), 20); // changed checksum
        have.record(3, rec("c", 30), 29); // a row went missing
        have.held.insert(4, 7); // rows nobody recorded
        have.record(9, rec("z", 1), 1); // no longer staged
        let steps = plan(&staged, Some(&have), &Scope::default(), "d", |k| format!("k={k}")).unwrap();
        assert_eq!(
            actions(&steps),
            [
                (1, Action::Unchanged),
                (2, Action::Changed),
                (3, Action::Repaired("the table holds 29 rows, the manifest says 30".into())),
                (4, Action::Repaired("the table holds 7 rows pqstage did not record".into())),
                (5, Action::New),
                (9, Action::Removed),
            ]
        );
        assert_eq!(steps[5].path, "k=9");
        assert_eq!((steps[4].rows(), steps[5].rows()), (5, 0));
    }

    #[test]
    fn a_new_target_loads_all_and_force_reloads_all() {
        let staged = [Unit(1, "a", 1), Unit(2, "b", 2)];
        let steps = plan(&staged, None, &Scope::default(), "d", |k| k.to_string()).unwrap();
        assert!(steps.iter().all(|s| s.action == Action::New));
        let mut have = Inventory::default();
        have.record(1, rec("a", 1), 1);
        let force = Scope { force: true, only: None };
        let steps = plan(&staged, Some(&have), &force, "d", |k| k.to_string()).unwrap();
        assert!(steps.iter().all(|s| s.action == Action::Forced));
    }

    #[test]
    fn only_limits_the_scope_and_names_a_missing_key() {
        let staged = [Unit(1, "a", 1), Unit(2, "b", 2)];
        let mut have = Inventory::default();
        have.record(7, rec("x", 1), 1);
        let only = Scope { force: false, only: Some(vec![2, 7]) };
        let steps = plan(&staged, Some(&have), &only, "d", |k| k.to_string()).unwrap();
        assert_eq!(actions(&steps), [(2, Action::New), (7, Action::Removed)]);
        let missing = Scope { force: false, only: Some(vec![2, 8]) };
        let err = plan(&staged, Some(&have), &missing, "viol", |k| format!("year={k}")).unwrap_err();
        assert_eq!(err.to_string(), "year=8 is not a partition of viol, nor loaded in the table");
    }

    #[test]
    fn partition_keys_order_null_last() {
        let mut keys = vec![PartitionKey(None), PartitionKey(Some(2000)), PartitionKey(Some(-5))];
        keys.sort();
        assert_eq!(keys, [PartitionKey(Some(-5)), PartitionKey(Some(2000)), PartitionKey(None)]);
        assert_eq!(PartitionKey(None).to_string(), "NULL");
    }
}
