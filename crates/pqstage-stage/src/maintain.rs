//! Keeping a stage tidy and moving datasets between stages: `pqstage gc`
//! and `pqstage copy`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt};

use crate::manifest::{FileEntry, Manifest};
use crate::transfer::{copy_object, CopyError};
use crate::{Stage, StageError, MANIFEST_FILE, REJECTS_DIR};

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

/// Whether `rel` (a path inside a dataset folder) is a file pqstage writes:
/// a data file in the dataset or a partition folder, or a file under `_rejects/`.
pub(crate) fn written_by_pqstage(rel: &str) -> bool {
    rel.starts_with(&format!("{REJECTS_DIR}/")) || rel.rsplit('/').next().is_some_and(is_data_file_name)
}

/// The dataset folder an object of pqstage's belongs to, and its path inside
/// it: the folder above `_rejects/`, or above the Hive `key=value` folders
/// around a data file. `None` for objects pqstage does not write.
fn dataset_of(rel: &str) -> Option<(&str, &str)> {
    if rel.starts_with(&format!("{REJECTS_DIR}/")) {
        return Some(("", rel)); // the stage given is a dataset folder itself
    }
    if let Some(i) = rel.find(&format!("/{REJECTS_DIR}/")) {
        return Some((&rel[..i], &rel[i + 1..]));
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
        let objects: Vec<ObjectMeta> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| StageError::Store { op: "list", path: prefix.to_string(), source })?;
        let rel_of = |o: &ObjectMeta| -> String {
            o.location.as_ref().strip_prefix(prefix.as_ref()).unwrap_or("").trim_start_matches('/').to_string()
        };
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
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
        let mut out = Vec::new();
        for o in objects {
            let rel = rel_of(&o);
            let Some((dataset, inner)) = dataset_of(&rel) else { continue };
            if dataset.split('/').any(|s| s.starts_with('.')) || o.last_modified > cutoff {
                continue;
            }
            if !named.get(dataset).is_some_and(|n| n.contains(inner)) {
                out.push(Garbage { display: self.display(dataset, inner), meta: o });
            }
        }
        out.sort_by(|a, b| a.meta.location.cmp(&b.meta.location));
        Ok(out)
    }

    /// Deletes objects, `concurrency` at a time.
    ///
    /// # Errors
    /// [`StageError::Store`] for the first delete that fails.
    pub async fn delete_objects(&self, objects: &[Garbage], concurrency: usize) -> Result<(), StageError> {
        futures::stream::iter(objects.iter().map(|g| async move {
            match self.store.delete(&g.meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(source) => Err(StageError::Store { op: "delete", path: g.meta.location.to_string(), source }),
            }
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
/// time, then the manifest (the commit), then the destination's files that
/// its old manifest named and the new one does not. A file is skipped when the
/// destination already has it with the manifest's checksum: named with that
/// checksum by the destination's manifest, or (after an interrupted copy)
/// read back and hashed. Every copied byte is checked on the way, so a
/// changed source file fails the copy before anything is committed.
///
/// # Errors
/// [`CopyError`]: the source file that is bad, or the store that failed.
pub async fn copy_dataset(src: &Stage, dst: &Stage, manifest: &Manifest, jobs: usize) -> Result<CopyReport, CopyError> {
    let dataset = &manifest.dataset;
    let old = dst.read_manifest(dataset).await?;
    let known: HashMap<&str, &FileEntry> =
        old.as_ref().map(|m| m.file_entries().map(|f| (f.path.as_str(), f)).collect()).unwrap_or_default();
    let files: Vec<&FileEntry> = manifest.file_entries().collect();
    let results: Vec<(bool, u64)> = futures::stream::iter(files.iter().map(|f| {
        let known = known.get(f.path.as_str()).copied();
        async move {
            let to = dst.path(dataset, &f.path);
            if present(dst, &to, f, known).await {
                return Ok::<_, CopyError>((false, f.bytes));
            }
            let from = src.path(dataset, &f.path);
            copy_object(src.store.as_ref(), &from, &src.display(dataset, &f.path), dst.store.as_ref(), &to, f).await?;
            Ok((true, f.bytes))
        }
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect()
    .await?;
    let mut report = CopyReport::default();
    for (copied, bytes) in results {
        if copied {
            report.copied += 1;
            report.bytes_copied += bytes;
        } else {
            report.skipped += 1;
            report.bytes_skipped += bytes;
        }
    }
    let mut m = manifest.clone();
    m.dataset.clone_from(dataset);
    dst.write_manifest(&m).await?;
    if let Some(old) = old {
        let keep: HashSet<&str> = manifest.referenced_files().collect();
        let stale: Vec<Path> =
            old.referenced_files().filter(|f| !keep.contains(f)).map(|f| dst.path(dataset, f)).collect();
        for p in &stale {
            match dst.store.delete(p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => report.deleted += 1,
                Err(source) => return Err(StageError::Store { op: "delete", path: p.to_string(), source }.into()),
            }
        }
    }
    Ok(report)
}

/// Whether `to` already holds the file `f`: same size, and the checksum
/// either recorded by the destination's manifest or computed from its bytes.
async fn present(dst: &Stage, to: &Path, f: &FileEntry, known: Option<&FileEntry>) -> bool {
    let Ok(meta) = dst.store.head(to).await else { return false };
    if meta.size != f.bytes {
        return false;
    }
    if known.is_some_and(|k| k.checksum == f.checksum && k.bytes == f.bytes) {
        return true;
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
    }

    #[test]
    fn objects_belong_to_the_folder_above_their_hive_folders() {
        let f = "part-00001-0123456789abcdef.parquet";
        assert_eq!(dataset_of(&format!("stage/v/year=2019/{f}")), Some(("stage/v", &*format!("year=2019/{f}"))));
        assert_eq!(dataset_of(&format!("v/{f}")), Some(("v", f)));
        assert_eq!(dataset_of("v/_rejects/rejects-0.csv"), Some(("v", "_rejects/rejects-0.csv")));
        assert_eq!(dataset_of(&format!("year=2019/{f}")), Some(("", &*format!("year=2019/{f}"))));
        assert_eq!(dataset_of("_rejects/r.csv"), Some(("", "_rejects/r.csv")));
        assert_eq!(dataset_of("v/year=2019/other.parquet"), None);
    }
}
