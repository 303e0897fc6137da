//! What a load did, per unit and in all, in the one wording every engine's
//! output uses.

use std::fmt;

use pqstage_stage::fmt::group_digits;

use crate::plan::Action;
use crate::summaries::SummaryReport;

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::New => f.write_str("loaded (new)"),
            Self::Changed => f.write_str("loaded (changed)"),
            Self::Repaired(why) => write!(f, "reloaded: {why}"),
            Self::Forced => f.write_str("reloaded (--force)"),
            Self::Unchanged => f.write_str("skipped (unchanged)"),
            Self::Removed => f.write_str("removed (no longer staged)"),
            Self::Patched(p) => write!(
                f,
                "changes applied (version {} to {}): {} inserted, {} updated, {} deleted",
                p.from_version,
                p.to_version,
                group_digits(p.inserted),
                group_digits(p.updated),
                group_digits(p.deleted)
            ),
            Self::Swapped(why) => write!(f, "reloaded whole: {why}"),
        }
    }
}

/// One unit's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitReport {
    /// The unit's name, e.g. `year=1987` (empty for an unpartitioned table).
    pub path: String,
    /// Rows the target holds for it after the load (0 when removed).
    pub rows: u64,
    /// What was done.
    pub action: Action,
    /// Seconds its own unit of work took, when the engine loads units one by
    /// one (`None` when it loads them all in one statement, or skipped it).
    pub seconds: Option<f64>,
}

impl UnitReport {
    /// The unit's name for people: its path, or `(all rows)` for an
    /// unpartitioned table.
    pub fn name(&self) -> &str {
        if self.path.is_empty() {
            "(all rows)"
        } else {
            &self.path
        }
    }
}

/// The outcome of a load.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The target table, quoted.
    pub table: String,
    /// True when this load created (or re-created) the table.
    pub created: bool,
    /// Every unit in scope, in key order.
    pub units: Vec<UnitReport>,
    /// Rows the table holds after the load.
    pub rows_total: u64,
    /// Seconds spent checking the staged files before the load.
    pub verify_seconds: f64,
    /// Seconds in all.
    pub seconds: f64,
    /// The table's summaries after the load (see [`crate::summaries`]),
    /// when its spec names a set: made, kept up to date, computed again or
    /// left as they were.
    pub summaries: Vec<SummaryReport>,
    /// Columns the load added to an existing table (a spec that gained
    /// nullable columns).
    pub columns_added: Vec<String>,
    /// What the engine has to say about how it loaded (not about the data).
    pub notes: Vec<String>,
}

impl LoadReport {
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.units.iter().filter(|u| f(&u.action)).count()
    }

    /// Rows (re)loaded.
    pub fn rows_loaded(&self) -> u64 {
        self.units.iter().filter(|u| u.action.loaded()).map(|u| u.rows).sum()
    }

    /// True when the load changed the target: a unit was loaded or removed.
    pub fn changed(&self) -> bool {
        self.count(|a| *a != Action::Unchanged) > 0
    }

    /// The changes applied to patched units: rows inserted, updated, deleted.
    pub fn rows_changed(&self) -> (u64, u64, u64) {
        self.units.iter().fold((0, 0, 0), |(i, u, d), unit| match &unit.action {
            Action::Patched(p) => (i + p.inserted, u + p.updated, d + p.deleted),
            _ => (i, u, d),
        })
    }

    /// The first line of a load's output: what was loaded, patched, skipped
    /// and removed, and what the table holds now.
    pub fn headline(&self) -> String {
        let (loaded, patched, unchanged, removed) = (
            self.count(Action::loaded),
            self.count(Action::patched),
            self.count(|a| *a == Action::Unchanged),
            self.count(|a| *a == Action::Removed),
        );
        let total = group_digits(self.rows_total);
        if loaded == 0 && removed == 0 && patched == 0 {
            return format!("{unchanged} partitions unchanged, skipped; {} holds {total} rows", self.table);
        }
        let mut s = match (loaded, patched) {
            (_, 0) => {
                format!("loaded {loaded} partitions ({} rows) into {}", group_digits(self.rows_loaded()), self.table)
            }
            (l, p) => {
                let (i, u, d) = self.rows_changed();
                let mut s = format!(
                    "applied changes to {p} partitions of {} ({} inserted, {} updated, {} deleted rows)",
                    self.table,
                    group_digits(i),
                    group_digits(u),
                    group_digits(d)
                );
                if l > 0 {
                    s.push_str(&format!(", loaded {l} whole ({} rows)", group_digits(self.rows_loaded())));
                }
                s
            }
        };
        if self.created {
            s.push_str(" (created)");
        }
        if unchanged > 0 {
            s.push_str(&format!(", {unchanged} unchanged, skipped"));
        }
        if removed > 0 {
            s.push_str(&format!(", {removed} removed"));
        }
        s.push_str(&format!("; it holds {total} rows"));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Patch;

    fn unit(path: &str, rows: u64, action: Action) -> UnitReport {
        UnitReport { path: path.into(), rows, action, seconds: None }
    }

    fn report(units: Vec<UnitReport>, created: bool) -> LoadReport {
        LoadReport {
            table: "\"main\".\"v\"".into(),
            created,
            units,
            rows_total: 12_345,
            verify_seconds: 0.0,
            seconds: 1.0,
            summaries: Vec::new(),
            columns_added: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn headlines_count_what_was_done() {
        let r = report(vec![unit("year=1", 1_000, Action::New), unit("year=2", 5, Action::New)], true);
        assert_eq!(
            r.headline(),
            "loaded 2 partitions (1,005 rows) into \"main\".\"v\" (created); it holds 12,345 rows"
        );
        let r = report(
            vec![
                unit("year=1", 7, Action::Changed),
                unit("year=2", 5, Action::Unchanged),
                unit("year=3", 0, Action::Removed),
            ],
            false,
        );
        assert_eq!(
            r.headline(),
            "loaded 1 partitions (7 rows) into \"main\".\"v\", 1 unchanged, skipped, 1 removed; it holds 12,345 rows"
        );
        assert!(r.changed());
        let r = report(vec![unit("year=2", 5, Action::Unchanged)], false);
        assert_eq!(r.headline(), "1 partitions unchanged, skipped; \"main\".\"v\" holds 12,345 rows");
        assert!(!r.changed());
    }

    #[test]
    fn one_wording_per_action() {
        assert_eq!(Action::Repaired("why".into()).to_string(), "reloaded: why");
        assert_eq!(Action::Removed.to_string(), "removed (no longer staged)");
        let p = Patch { from_version: 3, to_version: 5, inserted: 1_200, updated: 7, deleted: 0 };
        assert_eq!(
            Action::Patched(p).to_string(),
            "changes applied (version 3 to 5): 1,200 inserted, 7 updated, 0 deleted"
        );
        let r = report(
            vec![
                unit("year=1", 9, Action::Patched(p)),
                unit("year=2", 5, Action::Swapped("why".into())),
                unit("year=3", 4, Action::Unchanged),
            ],
            false,
        );
        assert_eq!(
            r.headline(),
            "applied changes to 1 partitions of \"main\".\"v\" (1,200 inserted, 7 updated, 0 deleted rows), \
             loaded 1 whole (5 rows), 1 unchanged, skipped; it holds 12,345 rows"
        );
        assert_eq!(unit("", 1, Action::New).name(), "(all rows)");
    }
}
