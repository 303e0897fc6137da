//! Moving bytes between the local disk and a store, and between stores, in
//! bounded memory: uploads of big files go up as multipart uploads in
//! [`PART_SIZE`] parts with at most [`PARTS_IN_FLIGHT`] in flight (aborted on
//! failure, so nothing half-written is left behind); downloads and copies
//! stream, and check every file's size and checksum against its manifest on
//! the way through.
//!
//! Transient failures (5xx, timeouts, connection resets) are retried inside
//! the store with exponential backoff ([`crate::StoreOptions`]).

use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::manifest::{Checksummer, FileEntry, PartitionEntry};
use crate::verify::{check_files, wrong_checksum, wrong_size, FileProblem};
use crate::{Stage, StageError};

/// Size of one part of a multipart upload (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 << 20;
/// Parts of one upload sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// HEAD requests sent at once when checking a remote stage's files.
const HEADS_IN_FLIGHT: usize = 8;

fn store_err<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(object_store::Error) -> StageError + 'p {
    move |source| StageError::Store { op, path: path.to_string(), source }
}

/// Uploads a local file to `path`: one put when it fits in a part, else a
/// multipart upload that is aborted if any part fails for good.
///
/// # Errors
/// [`StageError::Io`] reading the file, [`StageError::Store`] writing it.
pub async fn upload_file(store: &dyn ObjectStore, path: &Path, local: &FsPath) -> Result<u64, StageError> {
    let io = |source| StageError::Io { op: "read", path: local.to_path_buf(), source };
    let mut file = std::fs::File::open(local).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size <= PART_SIZE as u64 {
        let mut buf = Vec::with_capacity(size as usize);
        file.read_to_end(&mut buf).map_err(io)?;
        store.put(path, PutPayload::from(Bytes::from(buf))).await.map_err(store_err("write", path))?;
        return Ok(size);
    }
    multipart(store, path, async |w: &mut WriteMultipart| loop {
        let mut part = Vec::with_capacity(PART_SIZE);
        (&mut file).take(PART_SIZE as u64).read_to_end(&mut part).map_err(io)?;
        if part.is_empty() {
            return Ok(());
        }
        send(w, path, Bytes::from(part)).await?;
    })
    .await?;
    Ok(size)
}

/// A multipart upload to `to` of what `write` sends: finished when `write`
/// succeeds, aborted when it fails (so no part is left in the store).
async fn multipart<E: From<StageError>>(
    store: &dyn ObjectStore,
    to: &Path,
    write: impl AsyncFnOnce(&mut WriteMultipart) -> Result<(), E>,
) -> Result<(), E> {
    let upload = store.put_multipart(to).await.map_err(store_err("start upload of", to))?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    match write(&mut w).await {
        Ok(()) => Ok(w.finish().await.map(|_| ()).map_err(store_err("finish upload of", to))?),
        Err(e) => {
            let _ = w.abort().await; // best effort: the error that matters is `e`
            Err(e)
        }
    }
}

/// Sends one part, once fewer than [`PARTS_IN_FLIGHT`] are on their way.
async fn send(w: &mut WriteMultipart, to: &Path, part: Bytes) -> Result<(), StageError> {
    w.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(store_err("upload", to))?;
    w.put(part);
    Ok(())
}

/// Streams `from` of `src` to `to` of `dst`, checking the bytes against
/// `entry` on the way; a mismatch aborts the upload. Memory stays within a few
/// parts whatever the file's size.
///
/// # Errors
/// [`FileProblem`] naming the source object when it is missing, short or
/// changed; [`StageError::Store`] when the destination fails.
pub async fn copy_object(
    src: &dyn ObjectStore,
    from: &Path,
    from_display: &str,
    dst: &dyn ObjectStore,
    to: &Path,
    entry: &FileEntry,
) -> Result<(), CopyError> {
    let problem = |e: object_store::Error| CopyError::File(fetch_problem(from_display, e));
    if entry.bytes <= PART_SIZE as u64 {
        let bytes = src.get(from).await.map_err(problem)?.bytes().await.map_err(problem)?;
        let mut sum = Checksummer::new();
        sum.update(&bytes);
        check_entry(from_display, entry, bytes.len() as u64, &sum)?;
        dst.put(to, PutPayload::from(bytes)).await.map_err(store_err("write", to))?;
        return Ok(());
    }
    let mut stream = src.get(from).await.map_err(problem)?.into_stream();
    multipart(dst, to, async |w: &mut WriteMultipart| {
        let mut sum = Checksummer::new();
        let mut seen = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(problem)?;
            sum.update(&chunk);
            seen += chunk.len() as u64;
            send(w, to, chunk).await?;
        }
        check_entry(from_display, entry, seen, &sum).map_err(CopyError::File)
    })
    .await
}

/// Why a copy failed: the source is bad, or the destination failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The source file is missing or not what its manifest says.
    #[error("{0}")]
    File(#[from] FileProblem),
    /// The destination store failed.
    #[error("{0}")]
    Stage(#[from] StageError),
}

fn fetch_problem(display: &str, e: object_store::Error) -> FileProblem {
    match e {
        object_store::Error::NotFound { .. } => FileProblem::Missing(PathBuf::from(display)),
        e => FileProblem::Io { path: PathBuf::from(display), source: std::io::Error::other(e) },
    }
}

fn check_entry(display: &str, entry: &FileEntry, seen: u64, sum: &Checksummer) -> Result<(), FileProblem> {
    let path = FsPath::new(display);
    wrong_size(path, entry, seen)?;
    wrong_checksum(path, entry, sum)
}

impl Stage {
    /// Downloads files of `dataset` into `dir` (keeping their relative paths),
    /// `concurrency` at a time, streaming each to disk and checking its size
    /// and checksum against the manifest. A file that fails the check is
    /// removed before the error returns.
    ///
    /// # Errors
    /// [`FileProblem`] naming the object.
    pub async fn download(
        &self,
        dataset: &str,
        files: &[&FileEntry],
        dir: &FsPath,
        concurrency: usize,
    ) -> Result<(), FileProblem> {
        futures::stream::iter(files.iter().map(|f| self.download_one(dataset, f, dir)))
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// What a loader checks before it touches its database: every file of
    /// `partitions` exists with its manifest size and, on a local stage when
    /// `checksums` is set, its manifest checksum (hashed on `threads`
    /// threads). A remote stage's checksums are checked later, as each file
    /// streams into the loader's cache.
    ///
    /// # Errors
    /// [`FileProblem`] naming the first file that is missing or not what the manifest says.
    pub fn check_before_load(
        &self,
        dataset: &str,
        partitions: &[&PartitionEntry],
        checksums: bool,
        threads: Option<usize>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), FileProblem> {
        match self.local_root() {
            Some(root) => check_files(&root.join(dataset), partitions, checksums, threads, None),
            None => {
                let files: Vec<&FileEntry> = partitions.iter().flat_map(|p| p.files.iter()).collect();
                runtime.block_on(self.check_present(dataset, &files, HEADS_IN_FLIGHT))
            }
        }
    }

    /// Checks that every file exists in the store with its manifest size
    /// (one HEAD request each, `concurrency` at a time).
    ///
    /// # Errors
    /// [`FileProblem`] naming the first file that is missing or the wrong size.
    pub async fn check_present(
        &self,
        dataset: &str,
        files: &[&FileEntry],
        concurrency: usize,
    ) -> Result<(), FileProblem> {
        futures::stream::iter(files.iter().map(|f| async move {
            let display = self.display(dataset, &f.path);
            let meta = self.store.head(&self.path(dataset, &f.path)).await.map_err(|e| fetch_problem(&display, e))?;
            wrong_size(FsPath::new(&display), f, meta.size)
        }))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
    }

    async fn download_one(&self, dataset: &str, f: &FileEntry, dir: &FsPath) -> Result<(), FileProblem> {
        let display = self.display(dataset, &f.path);
        let dest = dir.join(&f.path);
        let io = |source| FileProblem::CacheWrite { path: dest.clone(), source };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&dest).map_err(io)?);
        let result = async {
            let mut stream = self
                .store
                .get(&self.path(dataset, &f.path))
                .await
                .map_err(|e| fetch_problem(&display, e))?
                .into_stream();
            let mut sum = Checksummer::new();
            let mut seen = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| fetch_problem(&display, e))?;
                sum.update(&chunk);
                seen += chunk.len() as u64;
                out.write_all(&chunk).map_err(io)?;
            }
            out.flush().map_err(io)?;
            check_entry(&display, f, seen, &sum)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&dest);
        }
        result
    }
}
