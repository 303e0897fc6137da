//! The one sequence every load follows, and the trait an engine implements
//! to plug into it.
//!
//! 1. The engine reports whether the table exists and its columns
//!    ([`Engine::inspect`]); an existing table whose columns are not the
//!    spec's is refused.
//! 2. The engine reports what the target holds ([`Engine::inventory`]): its
//!    state table's records, its rows per unit.
//! 3. The units are planned ([`crate::plan`]) and the staged files to load are
//!    checked to exist with their manifest sizes.
//! 4. The engine applies the plan ([`Engine::apply`]): creates the table if
//!    needed, loads, swaps or deletes units, records them, and checks what it
//!    loaded against the manifest before committing.
//! 5. The outcome is reported in one wording ([`LoadReport`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use pqstage_spec::{ColumnType, OutputColumn};
use pqstage_stage::manifest::{ChangeSet, PartitionEntry, TableEntry};
use pqstage_stage::progress::Progress;
use pqstage_stage::{Manifest, Stage};

use crate::error::{LoadError, PartitionsNeeded};
use crate::plan::{plan, Action, Inventory, PartitionKey, Patch, Scope, Step};
use crate::report::{LoadReport, UnitReport};
use crate::target::columns_to_add;

/// What every load is asked, whatever the engine.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Only these partitions (`None` in the key is the NULL partition); all when `None`.
    pub only: Option<Vec<PartitionKey>>,
    /// Reload every selected partition, even unchanged ones.
    pub force: bool,
    /// Check each file's checksum against the manifest before loading it.
    pub verify_checksums: bool,
    /// Where a remote stage's files wait while they load (default: the
    /// system's temporary folder).
    pub cache_dir: Option<PathBuf>,
    /// A changed partition whose change sets lead from the version the
    /// target holds is patched (only its changed rows written) when they
    /// change at most this share of its rows; `None`: always reload whole.
    pub patch_limit: Option<f64>,
}

/// Default [`LoadOptions::patch_limit`]: past a quarter of a partition's rows,
/// rewriting them one by one (with every index) costs more than a reload.
pub const DEFAULT_PATCH_LIMIT: f64 = 0.25;

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            only: None,
            force: false,
            verify_checksums: true,
            cache_dir: None,
            patch_limit: Some(DEFAULT_PATCH_LIMIT),
        }
    }
}

/// A load as asked, whatever the engine: the dataset, what to load of it,
/// and where to report progress.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The stage holding the dataset.
    pub stage: &'a Stage,
    /// The dataset's manifest.
    pub manifest: &'a Manifest,
    /// What to load.
    pub options: &'a LoadOptions,
    /// Counters for a progress display.
    pub progress: &'a Progress,
    /// Runs the stage's downloads.
    pub runtime: &'a tokio::runtime::Handle,
}

impl<'a> Request<'a> {
    /// The job of loading the staged table that feeds a target table
    /// called `target`: the dataset's only table, or the one of that name.
    ///
    /// # Errors
    /// [`LoadError::WhichTable`] when the dataset has several and none is `target`.
    pub fn job(&self, target: &str) -> Result<Job<'a>, LoadError> {
        Ok(Job { table: crate::target::source_table(self.manifest, target)?, request: *self })
    }
}

/// One load: a request, and the staged table it loads.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// What was asked.
    pub request: Request<'a>,
    /// The staged table to load.
    pub table: &'a TableEntry,
}

impl Job<'_> {
    /// The table's columns as the engine should create them (the spec's,
    /// then the partition column).
    pub fn columns(&self) -> Vec<OutputColumn> {
        self.table.spec.output_columns()
    }

    /// The dataset's name.
    pub fn dataset(&self) -> &str {
        &self.request.manifest.dataset
    }
}

/// What happens to the table itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableState {
    /// It does not exist: create it first.
    Missing,
    /// It exists and the load replaces it whole (every unit forced, and the
    /// engine re-creates rather than reloading unit by unit).
    Replace,
    /// It exists and is kept; units are loaded into it.
    Keep,
}

/// The plan an engine applies.
#[derive(Debug)]
pub struct Work<'w, 'm> {
    /// One step per unit in scope, in key order.
    pub steps: &'w [Step<'m, PartitionEntry>],
    /// What happens to the table.
    pub table: TableState,
    /// What the target held before the load (empty when it is created or replaced).
    pub before: &'w Inventory<PartitionKey>,
    /// The change sets of each patched unit, oldest first.
    pub chains: &'w BTreeMap<PartitionKey, Vec<&'m ChangeSet>>,
}

impl<'m> Work<'_, 'm> {
    /// The staged units to (re)load, in key order.
    pub fn to_load(&self) -> Vec<&'m PartitionEntry> {
        self.steps.iter().filter(|s| s.action.loaded()).filter_map(|s| s.staged).collect()
    }

    /// The steps whose change sets are applied, in key order, with them.
    pub fn to_patch(&self) -> Vec<(&Step<'m, PartitionEntry>, &[&'m ChangeSet])> {
        self.steps
            .iter()
            .filter(|s| s.action.patched())
            .map(|s| (s, self.chains.get(&s.key).map_or(&[][..], Vec::as_slice)))
            .collect()
    }
}

/// What an engine reports after applying a plan.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Seconds each unit's own unit of work took, for engines that load
    /// units one by one.
    pub seconds: BTreeMap<PartitionKey, f64>,
    /// Seconds spent checking staged files' checksums before loading.
    pub verify_seconds: f64,
    /// Units planned as patches that were reloaded whole instead, and why
    /// (the target did not hold what the change sets start from).
    pub swapped: BTreeMap<PartitionKey, String>,
}

/// What an engine does for a load; the sequence around it is [`load`]'s.
pub trait Engine {
    /// The engine's error; it wraps the shared [`LoadError`].
    type Error: From<LoadError>;

    /// Whether a forced reload of every unit re-creates the table instead
    /// of reloading it unit by unit.
    const REPLACES_ON_FORCE: bool = false;

    /// Whether the engine applies change sets ([`Action::Patched`] units).
    const PATCHES: bool = false;

    /// The target table as messages name it.
    fn table_label(&self) -> String;

    /// The target table, quoted, for the report.
    fn table_quoted(&self) -> String;

    /// A spec type as the engine's catalog spells it (to compare with an
    /// existing table's columns).
    fn type_name(&self, ty: ColumnType) -> String;

    /// Refuses a staged table the engine cannot load as asked; by default a
    /// selection of units needs a partition column. Called before anything
    /// else, so an engine connects (or opens its file) only in
    /// [`Engine::inspect`].
    ///
    /// # Errors
    /// [`LoadError::NotPartitioned`], or another [`LoadError`] naming what
    /// the engine cannot load.
    fn check_table(&self, job: &Job<'_>) -> Result<(), LoadError> {
        check_selection(job)
    }

    /// The target table's columns (name, and type as [`Engine::type_name`]
    /// spells it); `None` when the table does not exist. Called first.
    ///
    /// # Errors
    /// The engine's, when it cannot connect or read its catalog.
    fn inspect(&mut self, job: &Job<'_>) -> Result<Option<Vec<(String, String)>>, Self::Error>;

    /// Adds `columns` (of the spec, nullable, which the existing table
    /// lacks) to the table, as a change of its definition only: its rows
    /// hold NULL there until their units are loaded again. Called after
    /// [`Engine::inspect`], before anything is loaded.
    ///
    /// # Errors
    /// The engine's, when the table cannot be altered.
    fn add_columns(&mut self, job: &Job<'_>, columns: &[OutputColumn]) -> Result<(), Self::Error>;

    /// What an existing table holds, per unit key: what the state table
    /// records, and the rows held. Called once its columns are the spec's.
    ///
    /// # Errors
    /// The engine's, when it cannot read the state or count rows.
    fn inventory(&mut self, job: &Job<'_>) -> Result<Inventory<PartitionKey>, Self::Error>;

    /// Applies `work`: creates the table when missing, loads, replaces and
    /// removes units, records them in the state table, and checks the rows it
    /// loaded against the manifest. Nothing of a unit may be visible before
    /// its rows have been checked.
    ///
    /// # Errors
    /// The engine's; units not committed when it returns are rolled back.
    fn apply(&mut self, job: &Job<'_>, work: &Work<'_, '_>) -> Result<Applied, Self::Error>;
}

/// Turns each changed unit whose change sets lead from the version the
/// target holds into a patch, when they are small enough; a changed unit of
/// a dataset that keeps change sets but cannot be patched says why it is
/// reloaded whole. Returns each patched unit's change sets.
fn patches<'m>(
    job: &Job<'m>,
    before: &Inventory<PartitionKey>,
    steps: &mut [Step<'m, PartitionEntry>],
    columns_added: &[String],
) -> BTreeMap<PartitionKey, Vec<&'m ChangeSet>> {
    let mut chains = BTreeMap::new();
    if job.table.spec.target.key.is_empty() {
        return chains;
    }
    for step in steps.iter_mut().filter(|s| s.action == Action::Changed) {
        let (Some(staged), Some(recorded)) = (step.staged, before.recorded.get(&step.key)) else { continue };
        let Some(limit) = job.request.options.patch_limit else {
            step.action = Action::Swapped("--no-patch".into());
            continue;
        };
        let held = before.held.get(&step.key).copied().unwrap_or(0);
        if held != recorded.rows {
            step.action = Action::Swapped(format!(
                "the table holds {} rows, {} were loaded",
                pqstage_stage::fmt::group_digits(held),
                pqstage_stage::fmt::group_digits(recorded.rows)
            ));
            continue;
        }
        let Some(chain) = job.table.change_chain(&staged.path, &recorded.checksum, &staged.checksum) else {
            step.action = Action::Swapped(match columns_added.is_empty() {
                true => {
                    "no kept change set leads from the version the table holds (convert --keep-versions keeps more)"
                        .into()
                }
                false => format!("the spec gained {}: every row has them", columns_added.join(", ")),
            });
            continue;
        };
        let changed: u64 = chain.iter().map(|c| c.changed_rows()).sum();
        if changed as f64 > limit * staged.rows.max(1) as f64 {
            step.action = Action::Swapped(format!(
                "{} changed rows are more than {:.0}% of its {} rows",
                pqstage_stage::fmt::group_digits(changed),
                limit * 100.0,
                pqstage_stage::fmt::group_digits(staged.rows)
            ));
            continue;
        }
        // The version before the first change set is the one it leads from.
        let (first, last) = (chain[0], chain[chain.len() - 1]);
        let sum = |f: fn(&ChangeSet) -> u64| chain.iter().map(|c| f(c)).sum();
        step.action = Action::Patched(Patch {
            from_version: first.version - 1,
            to_version: last.version,
            inserted: sum(|c| c.inserted.rows),
            updated: sum(|c| c.updated.rows),
            deleted: sum(|c| c.deleted.rows),
        });
        chains.insert(step.key, chain);
    }
    chains
}

/// The name of the unit of `table` with key `key`, as the stage names its
/// folder (`year=1987`) and the state table records it; `""` for an
/// unpartitioned table's one unit.
fn unit_path(table: &TableEntry, key: PartitionKey) -> String {
    table.partition_column.as_deref().map(|c| pqstage_stage::manifest::partition_dir(c, key.0)).unwrap_or_default()
}

/// Refuses a selection of units (`--years`) of a table without a
/// partition column.
fn check_selection(job: &Job<'_>) -> Result<(), LoadError> {
    let selected = job.request.options.only.as_ref().is_some_and(|o| !o.is_empty());
    if selected && job.table.partition_column.is_none() {
        return Err(LoadError::NotPartitioned { table: job.table.name.clone(), needed: PartitionsNeeded::Selection });
    }
    Ok(())
}

/// Loads `job` with `engine`: inspect, check, plan, apply, report.
///
/// # Errors
/// [`LoadError`]s (wrapped in the engine's error) for a table that conflicts
/// with the spec, a selection that names no unit, or a staged file that is
/// missing or of the wrong size; the engine's own errors from
/// [`Engine::inspect`] and [`Engine::apply`].
pub fn load<E: Engine>(engine: &mut E, job: &Job<'_>) -> Result<LoadReport, E::Error> {
    let started = Instant::now();
    engine.check_table(job)?;
    let mut columns_added = Vec::new();
    let existing = match engine.inspect(job)? {
        Some(have) => {
            let columns = job.columns();
            let want: Vec<(String, String)> =
                columns.iter().map(|c| (c.name.clone(), engine.type_name(c.ty))).collect();
            // A spec that gained nullable columns: the table gets them
            // (existing rows hold NULL there) and is loaded as usual.
            let added = columns_to_add(&engine.table_label(), &have, &want, &columns)?;
            if !added.is_empty() {
                engine.add_columns(job, &added)?;
                columns_added = added.into_iter().map(|c| c.name).collect();
            }
            Some(engine.inventory(job)?)
        }
        None => None,
    };
    let state = match &existing {
        None => TableState::Missing,
        Some(_) if E::REPLACES_ON_FORCE && job.request.options.force && job.request.options.only.is_none() => {
            TableState::Replace
        }
        Some(_) => TableState::Keep,
    };
    let empty = Inventory::default();
    let before = match (&existing, state) {
        (Some(have), TableState::Keep) => have,
        _ => &empty,
    };
    let scope = Scope { force: job.request.options.force, only: job.request.options.only.clone() };
    let target = existing.as_ref().map(|_| before);
    let mut steps = plan(&job.table.partitions, target, &scope, job.dataset(), |k| unit_path(job.table, *k))?;
    let chains = if E::PATCHES { patches(job, before, &mut steps, &columns_added) } else { BTreeMap::new() };

    let work = Work { steps: &steps, table: state, before, chains: &chains };
    let to_load = work.to_load();
    // Sizes now, before the target is touched; checksums are the engine's
    // to check, when it reads each file. Progress is the engine's to report.
    let change_files: Vec<PartitionEntry> = chains.values().flatten().map(|c| c.as_partition()).collect();
    job.request
        .stage
        .check_before_load(job.dataset(), &to_load, false, None, job.request.runtime)
        .and_then(|()| {
            let refs: Vec<&PartitionEntry> = change_files.iter().collect();
            job.request.stage.check_before_load(job.dataset(), &refs, false, None, job.request.runtime)
        })
        .map_err(LoadError::from)?;
    let applied = engine.apply(job, &work)?;
    for s in &mut steps {
        if let Some(why) = applied.swapped.get(&s.key) {
            s.action = Action::Swapped(why.clone());
        }
    }

    let rows_outside: u64 =
        before.held.iter().filter(|(k, _)| !steps.iter().any(|s| s.key == **k)).map(|(_, n)| n).sum();
    let units: Vec<UnitReport> = steps
        .iter()
        .map(|s| UnitReport {
            path: s.path.clone(),
            rows: s.rows(),
            action: s.action.clone(),
            seconds: applied.seconds.get(&s.key).copied(),
        })
        .collect();
    Ok(LoadReport {
        table: engine.table_quoted(),
        created: state != TableState::Keep,
        rows_total: rows_outside + units.iter().map(|u| u.rows).sum::<u64>(),
        units,
        verify_seconds: applied.verify_seconds,
        seconds: started.elapsed().as_secs_f64(),
        summaries: Vec::new(),
        columns_added,
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(partition: &str) -> TableEntry {
        let spec = "name = \"t\"\n[[columns]]\nname = \"d\"\ntype = \"date\"\n".to_string() + partition;
        let spec = pqstage_spec::Spec::from_toml(&spec).unwrap();
        let json = serde_json::json!({
            "name": "t", "path": "", "spec_fingerprint": spec.fingerprint(),
            "partition_column": spec.partition_column(), "partitions": [],
            "rejects": {"rows": 0, "files": []}, "rows_read": 0, "rows_written": 0, "rows_rejected": 0,
        });
        let mut json = json;
        json["spec"] = serde_json::to_value(&spec).unwrap();
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn units_are_named_as_the_stage_and_the_state_name_them() {
        let years = table("[partition]\nby = \"year(d)\"\n");
        assert_eq!(unit_path(&years, PartitionKey(Some(1987))), "year=1987");
        assert_eq!(unit_path(&years, PartitionKey(None)), "year=__HIVE_DEFAULT_PARTITION__");
        // An unpartitioned table's one unit has no folder: its state row says "".
        assert_eq!(unit_path(&table(""), PartitionKey(None)), "");
    }
}
