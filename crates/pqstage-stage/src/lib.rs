//! Where staged datasets live: a stage root on any object store, the
//! `<root>/<dataset>/` layout, the manifest and the commit protocol; moving
//! and checking staged files ([`transfer`], [`verify`], [`maintain`]); and
//! the [`progress`] counters every long step over a stage reports through.
//!
//! Storage goes through `Arc<dyn ObjectStore>`, so a local folder,
//! `memory://`, `s3://`, `gs://` and `az://` share one code path. A
//! dataset is committed by writing its data files under content-addressed
//! names first and `_manifest.json` last; files of an earlier run that the new
//! manifest no longer names are deleted only after that write.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let stage = pqstage_stage::Stage::open("memory://").unwrap();
//! assert!(stage.read_manifest("violations").await.unwrap().is_none());
//! # });
//! ```

pub mod fmt;
mod location;
pub mod maintain;
pub mod manifest;
pub mod progress;
pub mod transfer;
pub mod verify;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub use location::{parse_duration, DurationError, Location, OptionError, StoreOptions};
pub use manifest::{Manifest, CHECKSUM_ALGORITHM, FORMAT_VERSION, NULL_PARTITION_VALUE};

/// File name of the manifest inside a dataset folder.
pub const MANIFEST_FILE: &str = "_manifest.json";
/// Folder, in a local stage root, of scratch files and dataset locks.
pub const SCRATCH_DIR: &str = ".pqstage-tmp";
/// Folder of refused rows inside a dataset folder.
pub const REJECTS_DIR: &str = "_rejects";
/// Folder of a dataset's change sets (`_changes/v7/year=1987/updated-….parquet`).
pub const CHANGES_DIR: &str = "_changes";

/// Errors of the stage.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The stage location could not be understood.
    #[error("stage '{location}': {reason}")]
    Location {
        /// As given.
        location: String,
        /// Why it was refused.
        reason: String,
    },
    /// A storage option of pqstage's own is bad.
    #[error("stage '{location}'")]
    Option {
        /// The stage.
        location: String,
        /// What is wrong.
        #[source]
        source: OptionError,
    },
    /// A storage option the stage's store does not know.
    #[error("stage '{location}': unknown storage option '{key}' for {scheme}://")]
    UnknownOption {
        /// The stage.
        location: String,
        /// The key.
        key: String,
        /// The store's scheme.
        scheme: String,
        /// The store's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The store could not be set up with these settings.
    #[error("stage '{location}'")]
    Build {
        /// The stage.
        location: String,
        /// The store's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// No dataset (no manifest) where one was expected.
    #[error("no staged dataset at {0} (no {MANIFEST_FILE})")]
    NotFound(String),
    /// A stage root holding several datasets, when one was to be picked.
    #[error("stage '{location}' holds several datasets ({})", datasets.join(", "))]
    SeveralDatasets {
        /// The stage.
        location: String,
        /// Their names.
        datasets: Vec<String>,
    },
    /// A manifest that does not parse or does not add up.
    #[error("corrupt manifest {path}: {reason}")]
    CorruptManifest {
        /// Where it was read.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error("{op} {path}")]
    Store {
        /// What was being done (put, get, list, delete).
        op: &'static str,
        /// Object path.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// Another process is writing the dataset.
    #[error("{dataset} is being written by another pqstage (process {pid}); wait for it to finish")]
    Locked {
        /// The dataset.
        dataset: String,
        /// The holder's process id (0 if unknown).
        pid: u32,
    },
    /// A local file operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Local path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A stage root: an object store plus a prefix.
#[derive(Debug, Clone)]
pub struct Stage {
    store: Arc<dyn ObjectStore>,
    location: Location,
}

impl Stage {
    /// Opens an existing stage from a path, `file://` URL or `memory://`.
    ///
    /// # Errors
    /// [`StageError::Location`] for schemes this build does not support,
    /// [`StageError::NotFound`] for a local folder that does not exist.
    pub fn open(location: &str) -> Result<Self, StageError> {
        Self::open_with(location, &StoreOptions::default())
    }

    /// As [`Stage::open`], also for object store URLs (`s3://`, `gs://`,
    /// `az://` …) with settings for their store.
    ///
    /// # Errors
    /// As [`Stage::open`]; also an unknown storage option.
    pub fn open_with(location: &str, options: &StoreOptions) -> Result<Self, StageError> {
        let location = Location::parse_with(location, options)?;
        let store = location.store()?;
        Ok(Self { store, location })
    }

    /// Opens a stage to write to, creating a local folder if missing.
    ///
    /// # Errors
    /// As [`Stage::open`], and [`StageError::Io`] when the folder cannot be created.
    pub fn create(location: &str) -> Result<Self, StageError> {
        Self::create_with(location, &StoreOptions::default())
    }

    /// As [`Stage::create`], with settings for remote stores.
    ///
    /// # Errors
    /// As [`Stage::create`].
    pub fn create_with(location: &str, options: &StoreOptions) -> Result<Self, StageError> {
        if let Location::Local(root) = Location::parse_with(location, options)? {
            std::fs::create_dir_all(&root).map_err(|source| StageError::Io {
                op: "create",
                path: root.clone(),
                source,
            })?;
        }
        Self::open_with(location, options)
    }

    /// Finds a dataset from a user's STAGE argument: `STAGE/DATASET` when
    /// `dataset` is given, else STAGE itself when it is a dataset folder, else
    /// the only dataset under STAGE. Returns the stage root and the manifest.
    ///
    /// # Errors
    /// [`StageError::NotFound`] when there is no dataset, or several and none
    /// was named; manifest and store errors as [`Stage::read_manifest`].
    pub async fn locate(location: &str, dataset: Option<&str>) -> Result<(Self, Manifest), StageError> {
        Self::locate_with(location, dataset, &StoreOptions::default()).await
    }

    /// As [`Stage::locate`], with settings for remote stores.
    ///
    /// # Errors
    /// As [`Stage::locate`].
    pub async fn locate_with(
        location: &str,
        dataset: Option<&str>,
        options: &StoreOptions,
    ) -> Result<(Self, Manifest), StageError> {
        let stage = Self::open_with(location, options)?;
        if let Some(d) = dataset {
            let m = stage.read_manifest(d).await?.ok_or_else(|| StageError::NotFound(stage.display(d, "")))?;
            return Ok((stage, m));
        }
        if let Some((parent, name)) = stage.location.split_last() {
            let here = stage.store.head(&stage.path("", MANIFEST_FILE)).await.is_ok();
            if here {
                let store = parent.store()?;
                let parent = Self { store, location: parent };
                if let Some(m) = parent.read_manifest(&name).await? {
                    return Ok((parent, m));
                }
            }
        }
        let names = stage.list_datasets().await?;
        match names.as_slice() {
            [only] => {
                let m =
                    stage.read_manifest(only).await?.ok_or_else(|| StageError::NotFound(stage.display(only, "")))?;
                Ok((stage, m))
            }
            [] => Err(StageError::NotFound(stage.url())),
            many => Err(StageError::SeveralDatasets { location: stage.url(), datasets: many.to_vec() }),
        }
    }

    /// The location as given, for messages.
    pub fn url(&self) -> String {
        self.location.to_string()
    }

    /// The local folder of the stage root, when the stage is on the local disk.
    pub fn local_root(&self) -> Option<&FsPath> {
        self.location.local_root()
    }

    /// The object store behind the stage.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Object path of `rel` inside `dataset`.
    pub fn path(&self, dataset: &str, rel: &str) -> Path {
        dataset
            .split('/')
            .chain(rel.split('/'))
            .filter(|s| !s.is_empty())
            .fold(self.location.prefix().clone(), Path::join)
    }

    /// Human-readable location of `rel` inside `dataset`.
    pub fn display(&self, dataset: &str, rel: &str) -> String {
        self.location.display(dataset, rel)
    }

    /// Reads a dataset's manifest; `Ok(None)` when the dataset does not exist.
    ///
    /// # Errors
    /// [`StageError::CorruptManifest`] when it does not parse or its counts do
    /// not reconcile, [`StageError::Store`] when the store fails.
    pub async fn read_manifest(&self, dataset: &str) -> Result<Option<Manifest>, StageError> {
        let path = self.path(dataset, MANIFEST_FILE);
        let bytes = match self.store.get(&path).await {
            Ok(r) => {
                r.bytes().await.map_err(|source| StageError::Store { op: "read", path: path.to_string(), source })?
            }
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(StageError::Store { op: "read", path: path.to_string(), source }),
        };
        let corrupt =
            |reason: String| StageError::CorruptManifest { path: self.display(dataset, MANIFEST_FILE), reason };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if m.format_version != FORMAT_VERSION {
            return Err(corrupt(format!("format_version {} (this pqstage reads {FORMAT_VERSION})", m.format_version)));
        }
        m.check_counts().map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(m))
    }

    /// Writes a manifest in one atomic put: the commit point of a dataset.
    ///
    /// # Errors
    /// [`StageError::Store`] when the put fails; the previous manifest is then unchanged.
    pub async fn write_manifest(&self, manifest: &Manifest) -> Result<(), StageError> {
        let path = self.path(&manifest.dataset, MANIFEST_FILE);
        let mut json = serde_json::to_vec_pretty(manifest).expect("a manifest always serializes");
        json.push(b'\n');
        self.store.put(&path, PutPayload::from(Bytes::from(json))).await.map_err(|source| StageError::Store {
            op: "write",
            path: path.to_string(),
            source,
        })?;
        Ok(())
    }

    /// Moves a finished local file to `rel` inside `dataset`. On a local stage
    /// this is a rename (the file should live on the same file system, see
    /// [`Stage::scratch_dir`]); elsewhere the file is streamed up (a multipart
    /// upload for big files, aborted on failure) and removed.
    ///
    /// # Errors
    /// [`StageError::Io`] or [`StageError::Store`].
    pub async fn put_file(&self, local: &FsPath, dataset: &str, rel: &str) -> Result<(), StageError> {
        if let Some(root) = self.local_root() {
            let dest = root.join(dataset).join(rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|source| StageError::Io {
                    op: "create",
                    path: parent.into(),
                    source,
                })?;
            }
            if std::fs::rename(local, &dest).is_ok() {
                return Ok(());
            }
            copy_into_place(local, &dest).map_err(|source| StageError::Io { op: "copy to", path: dest, source })?;
            let _ = std::fs::remove_file(local);
            return Ok(());
        }
        let path = self.path(dataset, rel);
        transfer::upload_file(self.store.as_ref(), &path, local).await?;
        let _ = std::fs::remove_file(local);
        Ok(())
    }

    /// A local folder for a run's temporary files. On a local stage it sits in
    /// the stage root (same file system, so finished files are renamed into
    /// place) but outside every dataset folder, so `**/*.parquet` globs over a
    /// dataset never see half-written files. The folder is removed when the
    /// returned guard is dropped, however the run ends.
    ///
    /// # Errors
    /// [`StageError::Io`] when the folder cannot be created.
    pub fn scratch_dir(&self, dataset: &str, base: Option<&FsPath>) -> Result<ScratchGuard, StageError> {
        let parent = match (base, self.local_root()) {
            (Some(b), _) => b.to_path_buf(),
            (None, Some(root)) => root.join(SCRATCH_DIR),
            (None, None) => std::env::temp_dir(),
        };
        remove_dead_scratch(&parent);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = parent.join(format!("pqstage-{}-{nanos}-{dataset}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| StageError::Io { op: "create", path: dir.clone(), source })?;
        Ok(ScratchGuard(dir))
    }

    /// Takes the write lock of a dataset on a local stage, so two converts
    /// into one dataset cannot interleave their commits (one's clean-up would
    /// delete the other's files). A lock left by a process that no longer
    /// runs is taken over. Object stores have no lock yet: run one writer per
    /// dataset there. The lock is released when the guard is dropped.
    ///
    /// # Errors
    /// [`StageError::Locked`] naming the process holding it.
    pub fn lock(&self, dataset: &str) -> Result<DatasetLock, StageError> {
        let Some(root) = self.local_root() else { return Ok(DatasetLock(None)) };
        let dir = root.join(SCRATCH_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| StageError::Io { op: "create", path: dir.clone(), source })?;
        let path = dir.join(format!("{dataset}.lock"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(DatasetLock(Some(path)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    let alive = holder.is_some_and(|pid| process_alive(pid) != Some(false));
                    if alive {
                        return Err(StageError::Locked {
                            dataset: self.display(dataset, ""),
                            pid: holder.unwrap_or(0),
                        });
                    }
                    let _ = std::fs::remove_file(&path); // stale: its process is gone
                }
                Err(source) => return Err(StageError::Io { op: "create", path, source }),
            }
        }
        Err(StageError::Locked { dataset: self.display(dataset, ""), pid: 0 })
    }

    /// Deletes objects inside `dataset` that `manifest` does not name and that
    /// pqstage wrote (Parquet files in partition folders, files under
    /// `_rejects/`), except those `previous` names: a convert keeps the
    /// version it replaces, so a load that started reading it still finds
    /// every file (`gc` removes them later). Returns how many were deleted.
    ///
    /// # Errors
    /// [`StageError::Store`] when listing or deleting fails.
    pub async fn delete_unreferenced(
        &self,
        manifest: &Manifest,
        previous: Option<&Manifest>,
    ) -> Result<usize, StageError> {
        let dataset = &manifest.dataset;
        let keep: std::collections::HashSet<Path> = manifest
            .referenced_files()
            .chain(previous.into_iter().flat_map(Manifest::referenced_files))
            .map(|f| self.path(dataset, f))
            .collect();
        let prefix = self.path(dataset, "");
        let mut deleted = 0;
        for o in self.list_all(&prefix).await? {
            let rel = o.location.as_ref().strip_prefix(prefix.as_ref()).unwrap_or("").trim_start_matches('/');
            if maintain::written_by_pqstage(rel) && !keep.contains(&o.location) {
                self.delete(&o.location).await?;
                deleted += 1;
            }
        }
        if let Some(root) = self.local_root() {
            remove_empty_dirs(&root.join(dataset));
        }
        Ok(deleted)
    }

    /// Every object under `prefix`, at any depth.
    ///
    /// # Errors
    /// [`StageError::Store`] when listing fails.
    pub(crate) async fn list_all(&self, prefix: &Path) -> Result<Vec<object_store::ObjectMeta>, StageError> {
        self.store.list(Some(prefix)).try_collect().await.map_err(|source| StageError::Store {
            op: "list",
            path: prefix.to_string(),
            source,
        })
    }

    /// Deletes one object; one that is gone already counts as deleted.
    ///
    /// # Errors
    /// [`StageError::Store`] when the delete fails.
    pub(crate) async fn delete(&self, path: &Path) -> Result<(), StageError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StageError::Store { op: "delete", path: path.to_string(), source }),
        }
    }

    /// Names of the datasets directly under the stage root (folders with a manifest).
    ///
    /// # Errors
    /// [`StageError::Store`] when listing fails.
    pub async fn list_datasets(&self) -> Result<Vec<String>, StageError> {
        let prefix = self.location.prefix().clone();
        let listing = self.store.list_with_delimiter(Some(&prefix)).await.map_err(|source| StageError::Store {
            op: "list",
            path: prefix.to_string(),
            source,
        })?;
        let mut out = Vec::new();
        for dir in listing.common_prefixes {
            let name = dir.filename().unwrap_or_default().to_string();
            if name.starts_with('.') {
                continue;
            }
            if self.store.head(&dir.clone().join(MANIFEST_FILE)).await.is_ok() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Removes scratch folders (`pqstage-<pid>-<n>-<dataset>`) of runs whose
/// process is gone, e.g. after a `kill -9`. Only where `/proc` tells which
/// processes live.
fn remove_dead_scratch(parent: &FsPath) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("pqstage-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.and_then(process_alive) == Some(false) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Whether process `pid` runs; `None` where the system cannot tell (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    FsPath::new("/proc/self").exists().then(|| FsPath::new(&format!("/proc/{pid}")).exists())
}

/// Holds a dataset's write lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DatasetLock(Option<PathBuf>);

impl Drop for DatasetLock {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(&p);
            if let Some(parent) = p.parent() {
                let _ = std::fs::remove_dir(parent); // only if empty
            }
        }
    }
}

/// Copies `local` to `dest` on another file system: under a hidden name
/// that no reader's glob matches, then renamed, so a failed copy (a full
/// disk) never leaves a truncated file under the final name.
fn copy_into_place(local: &FsPath, dest: &FsPath) -> std::io::Result<()> {
    let name = dest.file_name().map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let partial = dest.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let copied = std::fs::copy(local, &partial).and_then(|_| std::fs::rename(&partial, dest));
    if copied.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    copied
}

fn remove_empty_dirs(dir: &FsPath) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_empty_dirs(&e.path());
            let _ = std::fs::remove_dir(e.path()); // fails, harmlessly, unless empty
        }
    }
}

/// A scratch folder that is removed, with its contents, when dropped: a
/// convert's spill and files in the making, or a load's local cache of a
/// remote stage.
#[derive(Debug)]
pub struct ScratchGuard(PathBuf);

impl ScratchGuard {
    /// Takes ownership of `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &FsPath {
        &self.0
    }
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod place_tests {
    #[test]
    fn a_failed_copy_leaves_nothing_under_the_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("scratch.parquet");
        std::fs::write(&local, b"whole file").unwrap();
        let dest = dir.path().join("part-00000-0123456789abcdef.parquet");
        super::copy_into_place(&local, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole file");
        // The copy cannot be written (its hidden name is taken by a folder).
        let dest2 = dir.path().join("part-00001-0123456789abcdef.parquet");
        std::fs::create_dir(
            dir.path().join(format!(".part-00001-0123456789abcdef.parquet.{}.partial", std::process::id())),
        )
        .unwrap();
        assert!(super::copy_into_place(&local, &dest2).is_err());
        assert!(!dest2.exists(), "no file under the final name");
    }
}
