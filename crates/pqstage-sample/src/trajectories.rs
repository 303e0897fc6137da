//! The `trajectories` generator: folders of multi-agent trajectory sessions,
//! in the two layouts that the checked-in trajectory specs describe.
//!
//! * [`Source::Boids`] (spec [`specs/boids_3d.toml`](Source::spec_toml)): what a
//!   3D boids simulator leaves behind. One folder per run,
//!   `<name>_sim_run-started-YYYYMMDD-HHMMSS/`, holding `config.yaml` and one
//!   `episode-{k}-completed-YYYYMMDD-HHMMSS.parquet` per episode: agents
//!   flocking in a box around spherical targets, one row per agent and per
//!   target (`type` `env`) and frame, with distances to the targets and to the
//!   floor, and NaN where the simulator's sensors "failed".
//! * [`Source::Tracking`] (spec [`specs/tracking.toml`](Source::spec_toml)):
//!   a video tracker's output. One folder per recording,
//!   `YYYY_MM_DD-session_NNNN/`, holding
//!   `aligned_frames/<camera>/<camera>_tracks.csv` and `..._bboxes.csv` per
//!   camera: tracks that are born, vanish for a few frames and die, with their
//!   bounding boxes, confidences and classes.
//!
//! Output is a pure function of the [`TrajectoryOptions`]: the same options
//! write the same bytes into every file, on any platform (the simulations use
//! only `+ - * /` and `sqrt`, which IEEE 754 rounds exactly, and the PRNG of
//! this crate). Session `s` depends only on the options and `s`'s predecessors
//! (whose timestamps it follows), so more sessions extend fewer.
//!
//! Every file is written under its name plus `.partial` and renamed when
//! complete, so an interrupted run never leaves a short file under a name the
//! specs match. Files already there under the same names are replaced; other
//! files are left alone.
//!
//! ```
//! use pqstage_sample::trajectories::{write_trajectories, Source, TrajectoryOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let opts = TrajectoryOptions::builder(Source::Boids)
//!     .with_episodes(2)
//!     .with_agents(5)
//!     .with_frames(10)
//!     .build()?;
//! let summary = write_trajectories(&opts, dir.path())?;
//! assert_eq!((summary.sessions, summary.episodes), (1, 2));
//! // Each episode: 10 frames of 5 agents and 1 target.
//! assert_eq!(summary.rows, 2 * 10 * (5 + 1));
//! // config.yaml and two episode files.
//! assert_eq!(summary.files, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod boids;
mod tracking;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::fmt::{civil_from_days, push_padded};
use crate::rng::Rng;
use crate::SampleError;

/// Which layout of session folders to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Source {
    /// A 3D boids simulator: `config.yaml` and one Parquet file per episode.
    #[default]
    Boids,
    /// A video tracker: per camera, tracks and bounding boxes as CSV.
    Tracking,
}

impl Source {
    /// Every source, in the order their names are listed.
    pub const ALL: &'static [Source] = &[Source::Boids, Source::Tracking];

    /// The name accepted by [`str::parse`] (`"boids"`, `"tracking"`).
    pub fn name(self) -> &'static str {
        match self {
            Source::Boids => "boids",
            Source::Tracking => "tracking",
        }
    }

    /// The checked-in pqstage spec (TOML) that reads this source's folders:
    /// `specs/boids_3d.toml` or `specs/tracking.toml`.
    pub fn spec_toml(self) -> &'static str {
        match self {
            Source::Boids => include_str!("../specs/boids_3d.toml"),
            Source::Tracking => include_str!("../specs/tracking.toml"),
        }
    }

    /// Frames per episode when none are given: [`DEFAULT_BOIDS_FRAMES`] or
    /// [`DEFAULT_TRACKING_FRAMES`].
    pub fn default_frames(self) -> u64 {
        match self {
            Source::Boids => DEFAULT_BOIDS_FRAMES,
            Source::Tracking => DEFAULT_TRACKING_FRAMES,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Source {
    type Err = SampleError;

    /// Parses a source name (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Source::ALL
            .iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| SampleError::UnknownSource(s.to_owned()))
    }
}

/// Default [`TrajectoryOptionsBuilder::with_seed`].
pub const DEFAULT_SEED: u64 = 42;
/// Default [`TrajectoryOptionsBuilder::with_sessions`].
pub const DEFAULT_SESSIONS: u32 = 1;
/// Default [`TrajectoryOptionsBuilder::with_episodes`] (boids).
pub const DEFAULT_EPISODES: u32 = 3;
/// Default [`TrajectoryOptionsBuilder::with_agents`] (boids).
pub const DEFAULT_AGENTS: u32 = 30;
/// Default [`TrajectoryOptionsBuilder::with_targets`] (boids).
pub const DEFAULT_TARGETS: u32 = 1;
/// Frames per boids episode when none are given: time runs `0..=3000`.
pub const DEFAULT_BOIDS_FRAMES: u64 = 3001;
/// Frames per tracking camera when none are given (30 seconds at 30 fps).
pub const DEFAULT_TRACKING_FRAMES: u64 = 900;
/// Default [`TrajectoryOptionsBuilder::with_cameras`] (tracking).
pub const DEFAULT_CAMERAS: u32 = 2;
/// Default [`TrajectoryOptionsBuilder::with_tracks`] (tracking).
pub const DEFAULT_TRACKS: u32 = 20;
/// Most sessions: tracking folders number them with four digits.
pub const MAX_SESSIONS: u32 = 9999;
/// Most cameras: they are named `cam_a` to `cam_z`.
pub const MAX_CAMERAS: u32 = 26;

/// What [`write_trajectories`] generates; made by [`TrajectoryOptions::builder`].
///
/// Options that do not apply to the source (cameras for boids, agents for
/// tracking, ...) are kept but ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrajectoryOptions {
    source: Source,
    seed: u64,
    sessions: u32,
    episodes: u32,
    agents: u32,
    targets: u32,
    frames: u64,
    cameras: u32,
    tracks: u32,
}

impl TrajectoryOptions {
    /// A builder with every option at its documented default.
    pub fn builder(source: Source) -> TrajectoryOptionsBuilder {
        TrajectoryOptionsBuilder {
            source,
            seed: DEFAULT_SEED,
            sessions: DEFAULT_SESSIONS,
            episodes: DEFAULT_EPISODES,
            agents: DEFAULT_AGENTS,
            targets: DEFAULT_TARGETS,
            frames: None,
            cameras: DEFAULT_CAMERAS,
            tracks: DEFAULT_TRACKS,
        }
    }

    /// The layout written.
    pub fn source(&self) -> Source {
        self.source
    }
    /// The PRNG seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Session folders written.
    pub fn sessions(&self) -> u32 {
        self.sessions
    }
    /// Episodes (Parquet files) per boids session.
    pub fn episodes(&self) -> u32 {
        self.episodes
    }
    /// Agents per boids episode.
    pub fn agents(&self) -> u32 {
        self.agents
    }
    /// Targets (`env` rows) per boids episode.
    pub fn targets(&self) -> u32 {
        self.targets
    }
    /// Frames per episode: boids time runs `0..frames`, tracking frames `0..frames`.
    pub fn frames(&self) -> u64 {
        self.frames
    }
    /// Cameras (episodes) per tracking session.
    pub fn cameras(&self) -> u32 {
        self.cameras
    }
    /// Tracks per tracking camera.
    pub fn tracks(&self) -> u32 {
        self.tracks
    }
    /// Episodes per session: [`Self::episodes`] for boids, [`Self::cameras`] for tracking.
    pub fn episodes_per_session(&self) -> u32 {
        match self.source {
            Source::Boids => self.episodes,
            Source::Tracking => self.cameras,
        }
    }
}

/// Sets [`TrajectoryOptions`]; the setters cannot fail, [`Self::build`] validates.
#[derive(Debug, Clone)]
pub struct TrajectoryOptionsBuilder {
    source: Source,
    seed: u64,
    sessions: u32,
    episodes: u32,
    agents: u32,
    targets: u32,
    frames: Option<u64>,
    cameras: u32,
    tracks: u32,
}

impl TrajectoryOptionsBuilder {
    /// PRNG seed (default [`DEFAULT_SEED`]).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Session folders, `1..=`[`MAX_SESSIONS`] (default [`DEFAULT_SESSIONS`]).
    pub fn with_sessions(mut self, n: u32) -> Self {
        self.sessions = n;
        self
    }
    /// Boids: episode files per session, at least 1 (default [`DEFAULT_EPISODES`]).
    pub fn with_episodes(mut self, n: u32) -> Self {
        self.episodes = n;
        self
    }
    /// Boids: agents, at least 1 (default [`DEFAULT_AGENTS`]).
    pub fn with_agents(mut self, n: u32) -> Self {
        self.agents = n;
        self
    }
    /// Boids: targets, at least 1, since the spec reads target 1's columns
    /// (default [`DEFAULT_TARGETS`]).
    pub fn with_targets(mut self, n: u32) -> Self {
        self.targets = n;
        self
    }
    /// Frames per episode, at least 1 (default [`Source::default_frames`]).
    pub fn with_frames(mut self, n: u64) -> Self {
        self.frames = Some(n);
        self
    }
    /// Tracking: cameras per session, `1..=`[`MAX_CAMERAS`] (default [`DEFAULT_CAMERAS`]).
    pub fn with_cameras(mut self, n: u32) -> Self {
        self.cameras = n;
        self
    }
    /// Tracking: tracks per camera, at least 1 (default [`DEFAULT_TRACKS`]).
    pub fn with_tracks(mut self, n: u32) -> Self {
        self.tracks = n;
        self
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`SampleError::InvalidOption`] naming the first option out of range,
    /// whether or not it applies to the source.
    pub fn build(self) -> Result<TrajectoryOptions, SampleError> {
        let frames = self.frames.unwrap_or_else(|| self.source.default_frames());
        let checks: [(&'static str, u64, u64, &'static str); 7] = [
            ("sessions", self.sessions.into(), MAX_SESSIONS.into(), "1..=9999"),
            ("episodes", self.episodes.into(), u32::MAX.into(), "at least 1"),
            ("agents", self.agents.into(), u32::MAX.into(), "at least 1"),
            ("targets", self.targets.into(), u32::MAX.into(), "at least 1: the spec reads target 1"),
            ("frames", frames, i64::MAX as u64, "at least 1"),
            ("cameras", self.cameras.into(), MAX_CAMERAS.into(), "1..=26, cam_a to cam_z"),
            ("tracks", self.tracks.into(), u32::MAX.into(), "at least 1"),
        ];
        for (option, value, max, allowed) in checks {
            if !(1..=max).contains(&value) {
                return Err(SampleError::InvalidOption { option, value, allowed });
            }
        }
        Ok(TrajectoryOptions {
            source: self.source,
            seed: self.seed,
            sessions: self.sessions,
            episodes: self.episodes,
            agents: self.agents,
            targets: self.targets,
            frames,
            cameras: self.cameras,
            tracks: self.tracks,
        })
    }
}

/// What [`write_trajectories`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrajectorySummary {
    /// Session folders.
    pub sessions: u64,
    /// Episodes: boids Parquet files, or tracking cameras.
    pub episodes: u64,
    /// Files written (config.yaml, Parquet and CSV files).
    pub files: u64,
    /// Observation rows: Parquet rows (agents and targets) for boids,
    /// `*_tracks.csv` data rows for tracking.
    pub rows: u64,
    /// Bytes of all files written.
    pub bytes: u64,
}

/// Writes `opts.sessions()` session folders into `dir` (created if missing).
///
/// # Errors
/// [`SampleError::Write`] or [`SampleError::Parquet`] naming the file or
/// folder that could not be written. Files completed before the error stay;
/// the one being written is removed.
pub fn write_trajectories(opts: &TrajectoryOptions, dir: &Path) -> Result<TrajectorySummary, SampleError> {
    create_dir(dir)?;
    let mut summary = TrajectorySummary::default();
    match opts.source {
        Source::Boids => boids::write(opts, dir, &mut summary)?,
        Source::Tracking => tracking::write(opts, dir, &mut summary)?,
    }
    Ok(summary)
}

/// Creates a folder and its parents.
fn create_dir(dir: &Path) -> Result<(), SampleError> {
    std::fs::create_dir_all(dir).map_err(|e| SampleError::write(dir, e))
}

/// Seconds since 1970-01-01 00:00:00 as `YYYYMMDD-HHMMSS`.
fn compact_stamp(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let tod = secs.rem_euclid(86_400) as u64;
    let mut s = Vec::with_capacity(15);
    push_padded::<4>(&mut s, y as u64);
    push_padded::<2>(&mut s, m.into());
    push_padded::<2>(&mut s, d.into());
    s.push(b'-');
    push_padded::<2>(&mut s, tod / 3600);
    push_padded::<2>(&mut s, tod / 60 % 60);
    push_padded::<2>(&mut s, tod % 60);
    String::from_utf8(s).expect("digits are ASCII")
}

/// A day (days since 1970-01-01) as `YYYY_MM_DD`.
fn underscore_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    let mut s = Vec::with_capacity(10);
    push_padded::<4>(&mut s, y as u64);
    s.push(b'_');
    push_padded::<2>(&mut s, m.into());
    s.push(b'_');
    push_padded::<2>(&mut s, d.into());
    String::from_utf8(s).expect("digits are ASCII")
}

/// Uniform in `[-1, 1)`.
fn signed(r: &mut Rng) -> f64 {
    2.0 * r.unit() - 1.0
}

/// Reflects a coordinate (and its velocity) off the walls `lo` and `hi`.
fn bounce(x: &mut f64, v: &mut f64, lo: f64, hi: f64) {
    if *x < lo {
        *x = 2.0 * lo - *x;
        *v = -*v;
    } else if *x > hi {
        *x = 2.0 * hi - *x;
        *v = -*v;
    }
    *x = x.clamp(lo, hi);
}

/// A file written as `<name>.partial` and renamed to its name by
/// [`PartialFile::commit`]. Dropped without a commit, it removes the partial
/// file, so no short file is left under the real name.
struct PartialFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl PartialFile {
    /// Creates (or truncates) `<path>.partial`.
    fn create(path: PathBuf) -> Result<Self, SampleError> {
        let mut tmp = path.clone().into_os_string();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|e| SampleError::write(&tmp, e))?;
        Ok(PartialFile { path, tmp, out: Some(BufWriter::with_capacity(1 << 16, file)) })
    }

    /// The name the file gets when committed.
    fn path(&self) -> &Path {
        &self.path
    }

    /// [`Write::write_all`], with errors naming the file.
    fn put(&mut self, buf: &[u8]) -> Result<(), SampleError> {
        self.write_all(buf).map_err(|e| SampleError::write(&self.path, e))
    }

    /// Flushes, renames the partial file to its name and returns its size.
    fn commit(mut self) -> Result<u64, SampleError> {
        let out = self.out.take().expect("a PartialFile is committed once");
        let done = out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(|_file| std::fs::rename(&self.tmp, &self.path))
            .and_then(|()| std::fs::metadata(&self.path));
        match done {
            Ok(meta) => Ok(meta.len()),
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                Err(SampleError::write(&self.path, e))
            }
        }
    }
}

impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.out {
            Some(out) => out.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.write_all(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests;
