//! The unit of loading of a trajectory dataset: one episode, spread over the
//! staged tables `episodes`, `observations` and `extended_properties`, plus
//! the session it belongs to. Its checksum covers all three, so an episode
//! whose observations, properties or metadata changed is reloaded whole.

use pqstage_stage::manifest::{Checksummer, FileEntry, PartitionEntry, TableEntry};
use pqstage_stage::verify::check_files;
use pqstage_stage::Manifest;

use crate::engine::Request;
use crate::error::LoadError;
use crate::files::{Fetched, StagedFiles};
use crate::plan::{Inventory, StagedUnit, Step};

/// The columns a trajectory load writes or reads in each of the users'
/// tables: an existing schema is accepted when its tables have them all.
pub const TARGET_COLUMNS: &[(&str, &[&str])] = &[
    ("categories", &["category_id", "category_name"]),
    ("sessions", &["session_id", "session_name", "category_id", "config", "metadata"]),
    (
        "episodes",
        &["episode_id", "session_id", "episode_number", "num_frames", "num_agents", "frame_rate", "file_path"],
    ),
    ("agent_types", &["type_id"]),
    (
        "observations",
        &[
            "observation_id",
            "episode_id",
            "time_index",
            "agent_id",
            "agent_type_id",
            "x",
            "y",
            "z",
            "v_x",
            "v_y",
            "v_z",
        ],
    ),
    ("property_definitions", &["property_id"]),
    ("extended_properties", &["observation_id", "property_id", "value_float", "value_text"]),
];

/// The first column of [`TARGET_COLUMNS`] that `has(table, column)` says is
/// missing, as `(table, column)`.
pub fn missing_column(has: impl Fn(&str, &str) -> bool) -> Option<(&'static str, &'static str)> {
    TARGET_COLUMNS.iter().find_map(|(t, cols)| cols.iter().find(|c| !has(t, c)).map(|c| (*t, *c)))
}

/// Keeps in `inv.held` only the episodes this dataset stages or recorded:
/// rows of other datasets' episodes, or rows pqstage did not load, are not
/// this load's to plan (and so never removed).
pub fn own_episodes(inv: &mut Inventory<String>, units: &[EpisodeUnit<'_>]) {
    let staged: std::collections::HashSet<&str> = units.iter().map(|u| u.id.as_str()).collect();
    let recorded = &inv.recorded;
    inv.held.retain(|k, _| recorded.contains_key(k) || staged.contains(k.as_str()));
}

/// A unit's staged files where the loader can read them (downloaded into
/// the cache from a remote stage), checked against the manifest on a local
/// stage unless the request skips that.
///
/// # Errors
/// A download or a file that does not match its manifest entry.
pub fn fetch_parts(
    request: &Request<'_>,
    files: &StagedFiles,
    group: &str,
    parts: &[&PartitionEntry],
) -> Result<Fetched, LoadError> {
    let list: Vec<&FileEntry> = parts.iter().flat_map(|p| p.files.iter()).collect();
    let fetched = files.fetch(request.stage, &request.manifest.dataset, group, &list, 4, request.runtime)?;
    if matches!(files, StagedFiles::Local(_)) && request.options.verify_checksums {
        check_files(fetched.dir(), parts, true, Some(1), None)?;
    }
    Ok(fetched)
}

/// One episode as the stage holds it.
#[derive(Debug, Clone)]
pub struct EpisodeUnit<'m> {
    /// `episode_id`.
    pub id: String,
    /// `episode_id=…`, its folder in each table.
    pub path: String,
    /// Its row of `episodes`.
    pub episode: &'m PartitionEntry,
    /// Its observations.
    pub observations: &'m PartitionEntry,
    /// Its properties, in long form.
    pub properties: &'m PartitionEntry,
    checksum: String,
}

impl StagedUnit for EpisodeUnit<'_> {
    type Key = String;
    fn key(&self) -> String {
        self.id.clone()
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn checksum(&self) -> &str {
        &self.checksum
    }
    /// Observations: what the target's rows per episode are counted in.
    fn rows(&self) -> u64 {
        self.observations.rows
    }
}

/// The staged tables of a trajectory manifest, by name.
pub struct TrajectoryTables<'m> {
    /// `sessions`, one unit per session.
    pub sessions: &'m TableEntry,
    /// `episodes`.
    pub episodes: &'m TableEntry,
    /// `observations`.
    pub observations: &'m TableEntry,
    /// `extended_properties`.
    pub properties: &'m TableEntry,
}

impl<'m> TrajectoryTables<'m> {
    /// The tables of a trajectory manifest.
    ///
    /// # Errors
    /// [`LoadError::NotTrajectories`] for a table dataset, or one that lacks a table.
    pub fn of(manifest: &'m Manifest) -> Result<Self, LoadError> {
        if manifest.trajectories.is_none() {
            return Err(LoadError::NotTrajectories {
                dataset: manifest.dataset.clone(),
                reason: "it is a table dataset".into(),
            });
        }
        let table = |name: &str| {
            manifest.tables.iter().find(|t| t.name == name).ok_or_else(|| LoadError::NotTrajectories {
                dataset: manifest.dataset.clone(),
                reason: format!("its manifest has no table {name}"),
            })
        };
        Ok(Self {
            sessions: table("sessions")?,
            episodes: table("episodes")?,
            observations: table("observations")?,
            properties: table("extended_properties")?,
        })
    }

    /// The episodes, in key order.
    ///
    /// # Errors
    /// [`LoadError::NotTrajectories`] when an episode lacks one of its parts.
    pub fn units(&self) -> Result<Vec<EpisodeUnit<'m>>, LoadError> {
        let find = |t: &'m TableEntry, key: &str| {
            t.partitions.iter().find(|p| p.key.as_deref() == Some(key)).ok_or_else(|| LoadError::NotTrajectories {
                dataset: String::new(),
                reason: format!("episode {key} has no partition in table {}", t.name),
            })
        };
        let mut out = Vec::with_capacity(self.episodes.partitions.len());
        for e in &self.episodes.partitions {
            let Some(id) = e.key.clone() else {
                return Err(LoadError::NotTrajectories {
                    dataset: String::new(),
                    reason: format!("partition {} of table episodes has no key", e.path),
                });
            };
            let observations = find(self.observations, &id)?;
            let properties = find(self.properties, &id)?;
            let mut sum = Checksummer::new();
            for p in [e, observations, properties] {
                sum.update(p.checksum.as_bytes());
            }
            out.push(EpisodeUnit {
                path: e.path.clone(),
                id,
                episode: e,
                observations,
                properties,
                checksum: sum.finish(),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// Seconds a loaded episode spent per step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepSeconds {
    /// Session, episode rows and checks.
    pub prepare: f64,
    /// Deleting or replacing the old version.
    pub delete: f64,
    /// Loading the observations (with their index upkeep).
    pub observations: f64,
    /// Loading the properties: the stage table and the join insert.
    pub properties: f64,
    /// Counting what was loaded, recording it, committing.
    pub verify: f64,
}

impl StepSeconds {
    /// Adds another episode's.
    pub fn add(&mut self, o: &StepSeconds) {
        self.prepare += o.prepare;
        self.delete += o.delete;
        self.observations += o.observations;
        self.properties += o.properties;
        self.verify += o.verify;
    }
}

/// What happened to one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeReport {
    /// `episode_id`.
    pub episode: String,
    /// What was done.
    pub action: crate::plan::Action,
    /// Observations loaded (staged ones for an unchanged episode).
    pub observations: u64,
    /// Properties loaded.
    pub properties: u64,
    /// Per-step seconds, for a loaded episode.
    pub seconds: StepSeconds,
    /// Why it failed: nothing of it was committed.
    pub error: Option<String>,
}

impl EpisodeReport {
    /// An episode's report from its step and, for one the load worked on,
    /// its outcome (the seconds, or why it failed).
    pub fn new(step: &Step<'_, EpisodeUnit<'_>>, outcome: Option<Result<StepSeconds, String>>) -> Self {
        let (seconds, error) = match outcome {
            Some(Ok(t)) => (t, None),
            Some(Err(e)) => (StepSeconds::default(), Some(e)),
            None => (StepSeconds::default(), None),
        };
        Self {
            episode: step.key.clone(),
            action: step.action.clone(),
            observations: step.staged.map_or(0, |u| u.observations.rows),
            properties: step.staged.map_or(0, |u| u.properties.rows),
            seconds,
            error,
        }
    }
}

/// What a trajectory load did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryReport {
    /// The target schema, as shown to the user.
    pub target: String,
    /// Whether the tables were created by this load.
    pub created: bool,
    /// Sessions upserted.
    pub sessions: usize,
    /// Per episode, in key order.
    pub episodes: Vec<EpisodeReport>,
    /// Wall time.
    pub seconds: f64,
    /// For a first load that made part of the schema after the data (what,
    /// e.g. "foreign keys and indexes"): what it made and the seconds it took.
    pub after_data: Option<(&'static str, f64)>,
    /// Advice the engine draws from this load (say, a setting that would
    /// make loads like it cheaper), one sentence each.
    pub notes: Vec<String>,
}

/// An error and its causes on one line, `: `-separated, as an episode's
/// report shows why it failed. A cause whose text the error before it
/// already shows (an engine's error that wraps a loader error and prints
/// it) is left out.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut shown = s.clone();
    let mut source = e.source();
    while let Some(c) = source {
        let text = c.to_string();
        if !shown.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        shown = text;
        source = c.source();
    }
    s
}

impl TrajectoryReport {
    /// Episodes that failed.
    pub fn failed(&self) -> impl Iterator<Item = &EpisodeReport> {
        self.episodes.iter().filter(|e| e.error.is_some())
    }

    /// The per-step seconds of all loaded episodes.
    pub fn step_seconds(&self) -> StepSeconds {
        let mut s = StepSeconds::default();
        for e in &self.episodes {
            s.add(&e.seconds);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// An error with a message and an optional cause.
    #[derive(Debug)]
    struct E(String, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_cause_is_shown_once() {
        let count = E("episode e1 holds 6 rows, the manifest says 5".into(), None);
        // An engine error that prints the loader error it wraps.
        let wrapped = E(count.0.clone(), Some(Box::new(count)));
        assert_eq!(one_line(&wrapped), "episode e1 holds 6 rows, the manifest says 5");
        let chain = E("copy the observations".into(), Some(Box::new(E("connection reset".into(), None))));
        assert_eq!(one_line(&chain), "copy the observations: connection reset");
    }
}
