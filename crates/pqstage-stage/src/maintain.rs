//! Keeping a stage tidy and moving datasets between stages: `pqstage gc`
//! and `pqstage copy`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::manifest::{FileEntry, Manifest};
use crate::progress::{Measure, Progress};
use crate::transfer::{copy_object, CopyError};
use crate::{Stage, StageError, CHANGES_DIR, MANIFEST_FILE, REJECTS_DIR};

/// An object no manifest names.
#[derive(Debug, Clone)]
pub struct Garbage {
    /// Where it is, for messages.
    pub display: String,
    /// The object.
    pub meta: ObjectMeta,
}

/// Whether `name` is a data file name pqstage writes:
/// `part-NNNNN-<16 hex digits>.parquet` (not, say, Spark's `part-00000-<uuid>-c000.snappy.parquet`).
fn is_data_file_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-").and_then(|r| r.strip_suffix(".parquet")) else { return false };
    let Some((n, hash)) = rest.split_once('-') else { return false };
    n.len() >= 5
        && n.bytes().all(|b| b.is_ascii_digit())
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The data file a hidden copy in progress (`.part-….parquet.PID.partial`,
/// see `Stage::put_file`) was to become.
fn partial_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?.strip_suffix(".partial")?;
    let (file, pid) = rest.rsplit_once('.')?;
    pid.bytes().all(|b| b.is_ascii_digit()).then_some(file)
}

/// Whether `rel` is a file pqstage writes: a data file (named as
/// [`is_data_file_name`] says), a copy of one that a crash left half done,
/// or a file in a `_rejects/` or `_changes/` folder.
pub(crate) fn written_by_pqstage(rel: &str) -> bool {
    let mut segments = rel.rsplit('/');
    let name = segments.next().unwrap_or_default();
    is_data_file_name(name)
        || partial_of(name).is_some_and(is_data_file_name)
        || segments.any(|s| s == REJECTS_DIR || s == CHANGES_DIR)
}

/// The dataset folder an object of pqstage's belongs to, and its path inside
/// it: the nearest folder above it that has a manifest (`committed`), else
/// (a dataset never committed) the folder above `_rejects/` or above the Hive
/// `key=value` folders around a data file. `None` for objects pqstage does
/// not write.
fn dataset_of<'r>(rel: &'r str, committed: &HashSet<String>) -> Option<(&'r str, &'r str)> {
    if !written_by_pqstage(rel) {
        return None;
    }
    let mut folder = rel;
    while let Some((up, _)) = folder.rsplit_once('/') {
        if committed.contains(up) {
            return Some((up, &rel[up.len() + 1..]));
        }
        folder = up;
    }
    if committed.contains("") {
        return Some(("", rel));
    }
    uncommitted_dataset_of(rel)
}

fn uncommitted_dataset_of(rel: &str) -> Option<(&str, &str)> {
    for dir in [REJECTS_DIR, CHANGES_DIR] {
        if rel.starts_with(&format!("{dir}/")) {
            return Some(("", rel)); // the stage given is a dataset folder itself
        }
        if let Some(i) = rel.find(&format!("/{dir}/")) {
            return Some((&rel[..i], &rel[i + 1..]));
        }
    }
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if !is_data_file_name(name) {
        return None;
    }
    let mut folder = dir;
    loop {
        let (up, last) = folder.rsplit_once('/').unwrap_or(("", folder));
        if folder.is_empty() || !last.contains('=') {
            break;
        }
        folder = up;
    }
    Some((folder, rel[folder.len()..].trim_start_matches('/')))
}

impl Stage {
    /// Objects under the stage root that pqstage wrote (data files named
    /// `part-NNNNN-<hash>.parquet`, files under `_rejects/`) and that no
    /// manifest names: left by a failed or killed convert, or replaced by a
    /// later one whose clean-up did not finish. Datasets may sit at any depth
    /// under the root. Objects younger than `min_age` are left out, so a
    /// convert running now keeps its files.
    ///
    /// # Errors
    /// [`StageError::Store`] when listing fails; a corrupt manifest.
    pub async fn garbage(&self, min_age: Duration) -> Result<Vec<Garbage>, StageError> {
        let prefix = self.location.prefix().clone();
        let objects = self.list_all(&prefix).await?;
        let rel_of = |o: &ObjectMeta| -> String {
            o.location.as_ref().strip_prefix(prefix.as_ref()).unwrap_or("").trim_start_matches('/').to_string()
        };
        // Every folder with a manifest, and what its manifest names.
        let mut named: HashMap<String, HashSet<String>> = HashMap::new();
        for o in &objects {
            let rel = rel_of(o);
            let dataset = if rel == MANIFEST_FILE { Some("") } else { rel.strip_suffix(&format!("/{MANIFEST_FILE}")) };
            if let Some(dataset) = dataset {
                if let Some(m) = self.read_manifest(dataset).await? {
                    named.insert(dataset.to_string(), m.referenced_files().map(str::to_string).collect());
                }
            }
        }
        let committed: HashSet<String> = named.keys().cloned().collect();
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
        let mut out = Vec::new();
        let mut writing: HashMap<String, bool> = HashMap::new();
        for o in objects {
            let rel = rel_of(&o);
            let Some((dataset, inner)) = dataset_of(&rel, &committed) else { continue };
            if dataset.split('/').any(|s| s.starts_with('.')) || o.last_modified > cutoff {
                continue;
            }
            // A dataset a live convert is writing (local stages hold a lock) is left alone.
            let busy = *writing.entry(dataset.to_string()).or_insert_with(|| self.being_written(dataset));
            if busy {
                continue;
            }
            if !named.get(dataset).is_some_and(|n| n.contains(inner)) {
                out.push(Garbage { display: self.display(dataset, inner), meta: o });
            }
        }
        out.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
        Ok(out)
    }

    /// Whether a live pqstage holds the write lock of `dataset` (a path under
    /// the stage root), on a local stage. Remote stages have no lock: there
    /// `min_age` is what keeps a running convert's files.
    fn being_written(&self, dataset: &str) -> bool {
        let Some(root) = self.local_root() else { return false };
        let (parent, name) = dataset.rsplit_once('/').unwrap_or(("", dataset));
        let lock = root.join(parent).join(crate::SCRATCH_DIR).join(format!("{name}.lock"));
        let Ok(pid) = std::fs::read_to_string(&lock) else { return false };
        pid.trim().parse::<u32>().ok().and_then(crate::process_alive) != Some(false)
    }

    /// Deletes objects, `concurrency` at a time, counting them in `progress`.
    ///
    /// # Errors
    /// [`StageError::Store`] for the first delete that fails.
    pub async fn delete_objects(
        &self,
        objects: &[Garbage],
        concurrency: usize,
        progress: &Progress,
    ) -> Result<(), StageError> {
        progress.begin("deleting", Measure::Items("objects"), objects.len() as u64);
        futures::stream::iter(objects.iter().map(|g| async move {
            self.delete(&g.meta.location).await?;
            progress.add(1);
            Ok(())
        }))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
    }
}

/// What `pqstage copy` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Files copied.
    pub copied: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Files already at the destination with the same checksum.
    pub skipped: usize,
    /// Bytes of the skipped files.
    pub bytes_skipped: u64,
    /// Files the destination's old manifest named that the new one does not, deleted.
    pub deleted: usize,
}

/// Copies the dataset `manifest` of `src` into `dst`: every file, `jobs` at a
/// time (their bytes counted in `progress` as each is done), then the
/// manifest (the commit), then the destination's files that
/// its old manifest named and the new one does not. A file is skipped when the
/// destination already holds it with the manifest's size and checksum, read
/// back and hashed (a file changed there by hand is copied again). Every copied byte is checked on the way, so a
/// changed source file fails the copy before anything is committed.
///
/// # Errors
/// [`CopyError`]: the source file that is bad, or the store that failed.
pub async fn copy_dataset(
    src: &Stage,
    dst: &Stage,
    manifest: &Manifest,
    jobs: usize,
    progress: &Progress,
) -> Result<CopyReport, CopyError> {
    let dataset = &manifest.dataset;
    // On a local destination, no convert may commit into it meanwhile.
    let _lock = dst.lock(dataset)?;
    let old = dst.read_manifest(dataset).await?;
    let files: Vec<&FileEntry> = manifest.file_entries().collect();
    progress.begin("copying", Measure::Bytes, files.iter().map(|f| f.bytes).sum());
    // After a failure no new file starts, but the ones in flight run to their
    // end (finished or aborted): dropping them would leave multipart uploads
    // open in the store.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<Result<(bool, u64), CopyError>> = futures::stream::iter(files.iter().map(|f| {
        let failed = &failed;
        async move {
            if failed.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok((false, 0));
            }
            let r = copy_file(src, dst, dataset, f).await;
            match &r {
                Ok(_) => progress.add(f.bytes),
                Err(_) => failed.store(true, std::sync::atomic::Ordering::Relaxed),
            }
            r
        }
    }))
    .buffer_unordered(jobs.max(1))
    .collect()
    .await;
    let mut report = CopyReport::default();
    for r in results {
        let (copied, bytes) = r?;
        if copied {
            report.copied += 1;
            report.bytes_copied += bytes;
        } else {
            report.skipped += 1;
            report.bytes_skipped += bytes;
        }
    }
    dst.write_manifest(manifest).await?;
    if let Some(old) = old {
        let keep: HashSet<&str> = manifest.referenced_files().collect();
        let stale: Vec<Path> =
            old.referenced_files().filter(|f| !keep.contains(f)).map(|f| dst.path(dataset, f)).collect();
        for p in &stale {
            dst.delete(p).await?;
            report.deleted += 1;
        }
    }
    Ok(report)
}

/// Copies one file unless the destination holds it already; returns whether
/// it was copied, and its size.
async fn copy_file(src: &Stage, dst: &Stage, dataset: &str, f: &FileEntry) -> Result<(bool, u64), CopyError> {
    let to = dst.path(dataset, &f.path);
    if present(dst, &to, f).await {
        return Ok((false, f.bytes));
    }
    let from = src.path(dataset, &f.path);
    copy_object(src.store.as_ref(), &from, &src.display(dataset, &f.path), dst.store.as_ref(), &to, f).await?;
    Ok((true, f.bytes))
}

/// Whether `to` already holds the file `f`: same size and same checksum,
/// computed from the bytes it holds now (what the destination's manifest
/// recorded is not trusted: the file may have changed since).
async fn present(dst: &Stage, to: &Path, f: &FileEntry) -> bool {
    let Ok(meta) = dst.store.head(to).await else { return false };
    if meta.size != f.bytes {
        return false;
    }
    let Ok(got) = dst.store.get(to).await else { return false };
    let mut stream = got.into_stream();
    let mut sum = crate::manifest::Checksummer::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return false };
        sum.update(&chunk);
    }
    sum.finish() == f.checksum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_file_names_count() {
        assert!(is_data_file_name("part-00000-0123456789abcdef.parquet"));
        assert!(!is_data_file_name("part-00000-1b2c3d4e-aaaa-bbbb-cccc-123456789abc-c000.snappy.parquet"));
        assert!(!is_data_file_name("part-00000-0123456789ABCDEF.parquet"));
        assert!(!is_data_file_name("data.parquet"));
        assert!(written_by_pqstage("year=2019/.part-00000-0123456789abcdef.parquet.4242.partial"));
        assert!(!written_by_pqstage("year=2019/.other.parquet.4242.partial"));
        assert!(!written_by_pqstage("year=2019/.part-00000-0123456789abcdef.parquet.x.partial"));
    }

    #[test]
    fn objects_belong_to_the_folder_above_their_hive_folders() {
        let none = HashSet::new();
        let f = "part-00001-0123456789abcdef.parquet";
        let of = |rel: &str| dataset_of(rel, &none).map(|(d, i)| (d.to_string(), i.to_string()));
        let pair = |d: &str, i: &str| Some((d.to_string(), i.to_string()));
        assert_eq!(of(&format!("stage/v/year=2019/{f}")), pair("stage/v", &format!("year=2019/{f}")));
        assert_eq!(of(&format!("v/{f}")), pair("v", f));
        assert_eq!(of("v/_rejects/rejects-0.csv"), pair("v", "_rejects/rejects-0.csv"));
        assert_eq!(of(&format!("year=2019/{f}")), pair("", &format!("year=2019/{f}")));
        assert_eq!(of("_rejects/r.csv"), pair("", "_rejects/r.csv"));
        let change = "_changes/v3/year=2019/updated-0123456789abcdef.parquet";
        assert_eq!(of(&format!("stage/v/{change}")), pair("stage/v", change));
        assert_eq!(of(change), pair("", change));
        assert_eq!(of("v/year=2019/other.parquet"), None);
    }

    #[test]
    fn a_committed_dataset_owns_its_files_whatever_its_name() {
        // A dataset named `run=5` looks like a Hive folder; its manifest says otherwise.
        let committed: HashSet<String> = ["stage/run=5".to_string()].into();
        let f = "part-00001-0123456789abcdef.parquet";
        assert_eq!(
            dataset_of(&format!("stage/run=5/year=2019/{f}"), &committed),
            Some(("stage/run=5", &*format!("year=2019/{f}")))
        );
        assert_eq!(dataset_of(&format!("stage/run=5/{f}"), &committed), Some(("stage/run=5", f)));
        let root: HashSet<String> = [String::new()].into();
        assert_eq!(dataset_of(&format!("run=5/{f}"), &root), Some(("", &*format!("run=5/{f}"))));
    }
}
