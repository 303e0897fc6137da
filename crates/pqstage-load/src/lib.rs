//! The loader core: what every pqstage loader does the same way, whatever
//! the engine behind it.
//!
//! A load compares the staged units of a dataset (a year of a table today)
//! with what the target records in its state table and what it holds, and
//! decides per unit: new, changed, repaired, forced, unchanged or removed
//! ([`plan`]). It checks the staged files, hands the plan to the engine, and
//! reports the outcome in one wording ([`report`]). Everything an engine does
//! differently (connect, create, copy or insert, swap, count) is behind the
//! [`Engine`] trait; PostgreSQL and DuckDB each implement it in their own
//! crate. The same core will carry loads whose unit is an episode spread over
//! several tables, and loads that patch a unit with a change set: a unit is
//! anything [`StagedUnit`] describes, and an [`Action`] says what to do with it.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pqstage_load::{plan, Action, Inventory, PartitionKey, Recorded};
//! use pqstage_stage::manifest::PartitionEntry;
//!
//! let staged: Vec<PartitionEntry> = serde_json::from_str(r#"[
//!   {"value": 1987, "path": "year=1987", "rows": 10, "bytes": 1, "checksum": "a", "files": []},
//!   {"value": 1988, "path": "year=1988", "rows": 20, "bytes": 1, "checksum": "b", "files": []}]"#)?;
//! // The target holds 1987 as staged, 1988 from an older convert.
//! let mut target = Inventory::default();
//! target.record(PartitionKey(Some(1987)), Recorded { checksum: "a".into(), rows: 10 }, 10);
//! target.record(PartitionKey(Some(1988)), Recorded { checksum: "old".into(), rows: 20 }, 20);
//! let steps = plan(&staged, Some(&target), &Default::default(), "v", |k| format!("year={k}"))?;
//! let actions: Vec<&Action> = steps.iter().map(|s| &s.action).collect();
//! assert_eq!(actions, [&Action::Unchanged, &Action::Changed]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod ddl;
mod engine;
pub mod episodes;
mod error;
mod files;
mod plan;
pub mod report;
pub mod sql;
pub mod summaries;
mod target;
mod workers;

pub use engine::{load, Applied, Engine, Job, LoadOptions, Request, TableState, Work, DEFAULT_PATCH_LIMIT};
pub use error::{Counted, LoadError, PartitionsNeeded};
pub use files::{Fetched, StagedFiles};
pub use plan::{plan, Action, Inventory, PartitionKey, Patch, Recorded, Scope, StagedUnit, Step};
pub use report::{LoadReport, UnitReport};
pub use target::TableName;
pub use workers::run_units;
