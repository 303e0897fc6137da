//! Checks that the files a manifest names are there and intact, before a
//! loader reads them.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::manifest::{Checksummer, FileEntry, PartitionEntry};
use crate::progress::Progress;

/// A staged file that is missing, or not what its manifest says, or unreadable.
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    /// The file is missing.
    #[error("staged file {} is missing (the manifest names it)", .0.display())]
    Missing(PathBuf),
    /// Its size or checksum differs from the manifest's.
    #[error("staged file {} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// It does not decode as what the manifest says it is (Parquet).
    #[error("staged file {} is corrupt", path.display())]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Its local copy could not be written (the cache folder's disk is full, say).
    #[error("write {} (the local cache of a remote stage)", path.display())]
    CacheWrite {
        /// The local copy.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// It could not be read.
    #[error("read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Refuses `path` when its size is not `entry`'s.
pub(crate) fn wrong_size(path: &Path, entry: &FileEntry, size: u64) -> Result<(), FileProblem> {
    if size == entry.bytes {
        return Ok(());
    }
    Err(FileProblem::Corrupt {
        path: path.to_path_buf(),
        reason: format!("{size} bytes, the manifest says {}", entry.bytes),
    })
}

/// Refuses `path` when the checksum of its bytes is not `entry`'s.
pub(crate) fn wrong_checksum(path: &Path, entry: &FileEntry, sum: &Checksummer) -> Result<(), FileProblem> {
    if sum.finish() == entry.checksum {
        return Ok(());
    }
    Err(FileProblem::Corrupt {
        path: path.to_path_buf(),
        reason: "its checksum is not the manifest's (the file changed after convert)".into(),
    })
}

/// Checks that every file to load exists with the manifest's size and, when
/// asked, its checksum. Files are hashed on `threads` threads; the bytes
/// hashed are counted in `progress`.
///
/// # Errors
/// [`FileProblem`] naming the first file that is missing or not what the manifest says.
pub fn check_files(
    dir: &Path,
    partitions: &[&PartitionEntry],
    checksums: bool,
    threads: Option<usize>,
    progress: Option<&Progress>,
) -> Result<(), FileProblem> {
    let files: Vec<_> = partitions.iter().flat_map(|p| p.files.iter()).collect();
    for f in &files {
        let path = dir.join(&f.path);
        let meta = std::fs::metadata(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => FileProblem::Missing(path.clone()),
            _ => FileProblem::Io { path: path.clone(), source },
        })?;
        wrong_size(&path, f, meta.len())?;
    }
    if !checksums || files.is_empty() {
        return Ok(());
    }
    let workers = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
        .clamp(1, files.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<(), FileProblem> {
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else { return Ok(()) };
                        let path = dir.join(&f.path);
                        let io = |source| FileProblem::Io { path: path.clone(), source };
                        let mut file = std::fs::File::open(&path).map_err(io)?;
                        let mut sum = Checksummer::new();
                        loop {
                            let n = file.read(&mut buf).map_err(io)?;
                            if n == 0 {
                                break;
                            }
                            sum.update(&buf[..n]);
                            if let Some(p) = progress {
                                p.add(n as u64);
                            }
                        }
                        wrong_checksum(&path, f, &sum)?;
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().expect("checksum worker panicked"))
    })
}
