//! Where a load reads a unit's staged files from: the dataset's folder on a
//! local stage, or a local cache that a remote stage's files are downloaded
//! into (checked against the manifest as they stream) just before they load.

use std::path::{Path, PathBuf};

use pqstage_stage::manifest::{ChangeSet, FileEntry};
use pqstage_stage::verify::check_files;
use pqstage_stage::{ScratchGuard, Stage};

use crate::engine::Request;
use crate::error::LoadError;

/// Where a load's staged files are read from.
#[derive(Debug)]
pub enum StagedFiles {
    /// The dataset's folder on a local stage.
    Local(PathBuf),
    /// A remote stage: files are downloaded into this cache folder, a group
    /// at a time, and removed once loaded.
    Remote(ScratchGuard),
}

impl StagedFiles {
    /// The dataset's folder when `stage` is local, else a new cache folder
    /// under `cache_dir` (default: the system's temporary folder), removed
    /// when this is dropped.
    ///
    /// # Errors
    /// [`LoadError::Stage`] when the cache folder cannot be created.
    pub fn open(stage: &Stage, dataset: &str, cache_dir: Option<&Path>) -> Result<Self, LoadError> {
        Ok(match stage.local_root() {
            Some(root) => Self::Local(root.join(dataset)),
            None => Self::Remote(stage.scratch_dir(dataset, cache_dir)?),
        })
    }

    /// The folder `files` are in (relative to it). On a remote stage they are
    /// downloaded first, `concurrency` at a time, into the cache subfolder
    /// `group`, which is removed when the returned value is dropped.
    ///
    /// # Errors
    /// [`LoadError::File`] naming a file that is missing, not what the
    /// manifest says, or that cannot be written to the cache.
    pub fn fetch(
        &self,
        stage: &Stage,
        dataset: &str,
        group: &str,
        files: &[&FileEntry],
        concurrency: usize,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Fetched, LoadError> {
        match self {
            Self::Local(dir) => Ok(Fetched { dir: dir.clone(), _cached: None }),
            Self::Remote(cache) => {
                let cached = ScratchGuard::new(cache.path().join(group));
                runtime.block_on(stage.download(dataset, files, cached.path(), concurrency))?;
                Ok(Fetched { dir: cached.path().to_path_buf(), _cached: Some(cached) })
            }
        }
    }

    /// A change set's files, ready to read: on a local stage checked against
    /// the manifest first (unless the load skips checksums), from a remote
    /// one downloaded and checked as they stream.
    ///
    /// # Errors
    /// [`LoadError::File`] naming a file that is missing or not what the
    /// manifest says.
    pub fn fetch_change_set(&self, request: &Request<'_>, cs: &ChangeSet) -> Result<Fetched, LoadError> {
        let entry = cs.as_partition();
        if let (Self::Local(dir), true) = (self, request.options.verify_checksums) {
            check_files(dir, &[&entry], true, Some(1), None)?;
        }
        let files: Vec<&FileEntry> = entry.files.iter().collect();
        let group = format!("changes-v{}-{}", cs.version, cs.partition.replace(['/', '='], "-"));
        self.fetch(request.stage, &request.manifest.dataset, &group, &files, 4, request.runtime)
    }
}

/// A folder holding a group of staged files, ready to read; a downloaded
/// group is deleted when this is dropped.
#[derive(Debug)]
pub struct Fetched {
    dir: PathBuf,
    _cached: Option<ScratchGuard>,
}

impl Fetched {
    /// The folder the files' relative paths start from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
