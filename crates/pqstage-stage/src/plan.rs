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

/// One partition's outcome, as a loader reports it.
#[derive(Debug, Clone)]
pub struct PartitionReport {
    /// Folder name, e.g. `year=1987`.
    pub path: String,
    /// Key value (`None`: the NULL partition, or an unpartitioned table).
    pub value: Option<i64>,
    /// Rows the target holds for it after the load (0 when removed).
    pub rows: u64,
    /// What was done.
    pub action: Action,
    /// Seconds its own unit of work took (0 when skipped, or when the loader
    /// loads all partitions in one statement).
    pub seconds: f64,
}

/// Compares an existing table's columns (name, type as the engine spells it)
/// with the wanted ones, by name, order and type. Returns the first column
/// that differs and how, or `None` when they agree.
pub fn column_conflict(have: &[(String, String)], want: &[(String, String)]) -> Option<(String, String)> {
    for (i, (name, wanted)) in want.iter().enumerate() {
        match have.iter().position(|(n, _)| n == name) {
            None => return Some((name.clone(), format!("the spec has it ({wanted}), the table does not"))),
            Some(j) if have[j].1 != *wanted => {
                return Some((name.clone(), format!("the table has {}, the spec says {wanted}", have[j].1)))
            }
            Some(j) if j != i => {
                return Some((
                    name.clone(),
                    format!("it is column {} of the table, column {} of the spec", j + 1, i + 1),
                ))
            }
            Some(_) => {}
        }
    }
    have.iter()
        .find(|(n, _)| !want.iter().any(|(w, _)| w == n))
        .map(|(name, ty)| (name.clone(), format!("the table has it ({ty}), the spec does not")))
}

/// A double-quoted SQL identifier (the same rule in PostgreSQL and DuckDB).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Fills the `{name}` placeholders of a SQL template.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_string(), |s, (k, v)| s.replace(&format!("{{{k}}}"), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn column_conflicts_name_the_column() {
        let want = cols(&[("a", "INTEGER"), ("b", "VARCHAR")]);
        assert_eq!(column_conflict(&want, &want), None);
        assert_eq!(
            column_conflict(&cols(&[("a", "VARCHAR"), ("b", "VARCHAR")]), &want),
            Some(("a".into(), "the table has VARCHAR, the spec says INTEGER".into()))
        );
        assert_eq!(
            column_conflict(&cols(&[("b", "VARCHAR"), ("a", "INTEGER")]), &want),
            Some(("a".into(), "it is column 2 of the table, column 1 of the spec".into()))
        );
        assert_eq!(column_conflict(&cols(&[("a", "INTEGER")]), &want).unwrap().0, "b");
        assert_eq!(
            column_conflict(&cols(&[("a", "INTEGER"), ("b", "VARCHAR"), ("c", "DATE")]), &want),
            Some(("c".into(), "the table has it (DATE), the spec does not".into()))
        );
    }

    #[test]
    fn quoting_and_templates() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(render("CREATE TABLE {t} ({c})", &[("t", "x"), ("c", "y int")]), "CREATE TABLE x (y int)");
    }
}
