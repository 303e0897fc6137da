//! The errors every loader can meet, whatever its engine. Each engine's own
//! error type wraps [`LoadError`]; the messages describe the problem, and the
//! command line adds the hint that names a flag.

use std::fmt;

use pqstage_stage::verify::FileProblem;
use pqstage_stage::StageError;

/// Errors every loader shares. On any of them the unit being loaded was not
/// committed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The staged table has no partition column, and the load needs one.
    #[error("table {table} is not partitioned; {needed}")]
    NotPartitioned {
        /// The staged table.
        table: String,
        /// What needs a partition column.
        needed: PartitionsNeeded,
    },
    /// An index the load was asked to build names a column the spec does not have.
    #[error("an index of {table} names column {column}, which the staged spec does not have")]
    UnknownIndexColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A unit asked for is neither staged nor loaded.
    #[error("{unit} is not a partition of {dataset}, nor loaded in the table")]
    NoSuchUnit {
        /// The unit asked for, e.g. `year=1850`.
        unit: String,
        /// The dataset.
        dataset: String,
    },
    /// A trajectory load of a dataset that is not one (or is incomplete).
    #[error("dataset {dataset} is not a trajectory dataset: {reason}")]
    NotTrajectories {
        /// The dataset.
        dataset: String,
        /// Why.
        reason: String,
    },
    /// The dataset has several tables and none has the target's name.
    #[error("dataset {dataset} has several tables ({}) and none is called {wanted}", tables.join(", "))]
    WhichTable {
        /// The dataset.
        dataset: String,
        /// Its tables.
        tables: Vec<String>,
        /// The name looked for.
        wanted: String,
    },
    /// A target table name that is not `NAME` or `SCHEMA.NAME`.
    #[error("bad table name '{0}': use NAME or SCHEMA.NAME")]
    BadTableName(String),
    /// The existing table's columns are not the spec's.
    #[error("table {table} conflicts with the staged spec at column {column}: {reason}")]
    Conflict {
        /// The table, as the engine names it.
        table: String,
        /// The column.
        column: String,
        /// How they differ.
        reason: String,
    },
    /// Rows in the target disagree with the manifest.
    #[error("{table}: partition {unit} {} {actual} rows, the manifest says {expected}; {}", counted.verb(), counted.outcome())]
    CountMismatch {
        /// The table.
        table: String,
        /// The unit.
        unit: String,
        /// Rows per the manifest.
        expected: u64,
        /// Rows counted.
        actual: u64,
        /// How they were counted.
        counted: Counted,
    },
    /// After its change sets were applied, a partition does not hold what
    /// the staged version holds (checked before the commit).
    #[error("{table}: partition {unit} is not the staged version after its changes were applied: {reason}; nothing was committed")]
    Validation {
        /// The table.
        table: String,
        /// The unit.
        unit: String,
        /// What differs.
        reason: String,
    },
    /// A staged file is missing, differs from the manifest, or does not read.
    #[error("{0}")]
    File(#[from] FileProblem),
    /// The stage (or the local cache of a remote one) failed.
    #[error("{0}")]
    Stage(#[from] StageError),
}

impl LoadError {
    /// True when the data disagrees with its manifest (exit code 1), as
    /// opposed to usage and system errors.
    pub fn is_data_error(&self) -> bool {
        matches!(self, Self::CountMismatch { .. } | Self::Validation { .. })
    }
}

/// What needs a partition column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionsNeeded {
    /// A selection of units (`--years` on the command line).
    Selection,
    /// The engine, which loads only partitioned tables (the reason).
    Engine(&'static str),
}

impl fmt::Display for PartitionsNeeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Selection => f.write_str("a selection of partitions needs a partitioned table"),
            Self::Engine(why) => f.write_str(why),
        }
    }
}

/// How a unit's rows were counted when they disagreed with the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// As the bulk copy reported them, in the unit's own transaction (rolled back).
    Copied,
    /// In the table after the load, before the one commit of the whole load.
    Held,
}

impl Counted {
    fn verb(self) -> &'static str {
        match self {
            Self::Copied => "received",
            Self::Held => "holds",
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Self::Copied => "it was rolled back",
            Self::Held => "nothing was committed",
        }
    }
}

impl LoadError {
    /// Fails unless `actual` rows of `unit` are the manifest's `expected`.
    ///
    /// # Errors
    /// [`LoadError::CountMismatch`].
    pub fn check_count(table: &str, unit: &str, expected: u64, actual: u64, counted: Counted) -> Result<(), Self> {
        if expected == actual {
            return Ok(());
        }
        let unit = if unit.is_empty() { "(all rows)".to_string() } else { unit.to_string() };
        Err(Self::CountMismatch { table: table.to_string(), unit, expected, actual, counted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_mismatches_say_how_they_were_counted() {
        let e = LoadError::check_count("t", "year=1990", 5, 4, Counted::Copied).unwrap_err();
        assert_eq!(e.to_string(), "t: partition year=1990 received 4 rows, the manifest says 5; it was rolled back");
        assert!(e.is_data_error());
        let e = LoadError::check_count("t", "", 5, 6, Counted::Held).unwrap_err();
        assert_eq!(e.to_string(), "t: partition (all rows) holds 6 rows, the manifest says 5; nothing was committed");
        assert!(LoadError::check_count("t", "", 5, 5, Counted::Held).is_ok());
    }
}
