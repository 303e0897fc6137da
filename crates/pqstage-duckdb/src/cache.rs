//! A remote stage's files, loaded through a bounded local cache: DuckDB
//! reads local files only, and no extension is fetched at run time.

use std::path::Path;

use pqstage_load::{Job, StagedFiles};
use pqstage_stage::manifest::FileEntry;

use crate::error::DuckdbError;

/// Files downloaded at once.
const FETCH_CONCURRENCY: usize = 8;

/// Inserts `files` of a remote stage through a local cache that holds at
/// most two groups of files of about `cache_bytes / 2` each (a group holds
/// at least one file, so a file bigger than that is cached alone): while
/// `insert` takes one group, the next downloads (checked against the
/// manifest as it streams); each group's files are deleted once inserted. A
/// partition split across groups is fine: rows per partition are checked
/// after the last.
pub(crate) fn insert_through_cache(
    job: &Job<'_>,
    files: &[&FileEntry],
    cache_bytes: u64,
    insert: impl Fn(&Path, &[&FileEntry]) -> Result<(), DuckdbError>,
) -> Result<(), DuckdbError> {
    let groups = groups(files, cache_bytes / 2);
    if groups.is_empty() {
        return Ok(());
    }
    let cache = StagedFiles::open(job.request.stage, job.dataset(), job.request.options.cache_dir.as_deref())?;
    let fetch = |i: usize| {
        cache.fetch(
            job.request.stage,
            job.dataset(),
            &format!("g{i}"),
            &groups[i],
            FETCH_CONCURRENCY,
            job.request.runtime,
        )
    };
    let mut ready = fetch(0)?;
    for i in 0..groups.len() {
        let next = std::thread::scope(|s| {
            let prefetch = (i + 1 < groups.len()).then(|| s.spawn(|| fetch(i + 1)));
            let inserted = insert(ready.dir(), &groups[i]);
            let next = prefetch.map(|h| h.join().expect("prefetch thread panicked")).transpose();
            inserted.and(next.map_err(DuckdbError::from))
        })?;
        match next {
            Some(fetched) => ready = fetched, // the inserted group's files go with the old value
            None => break,
        }
    }
    Ok(())
}

/// Cuts `files`, in order, into groups of at most `limit` bytes (at least one file each).
fn groups<'f>(files: &[&'f FileEntry], limit: u64) -> Vec<Vec<&'f FileEntry>> {
    let mut groups: Vec<Vec<&FileEntry>> = Vec::new();
    let mut size = u64::MAX;
    for f in files {
        if size.saturating_add(f.bytes) > limit {
            groups.push(Vec::new());
            size = 0;
        }
        size += f.bytes;
        groups.last_mut().expect("pushed above").push(f);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: u64) -> FileEntry {
        FileEntry { path: format!("f{bytes}"), rows: 1, bytes, checksum: String::new() }
    }

    #[test]
    fn groups_fit_the_limit_and_a_big_file_goes_alone() {
        let files = [file(4), file(5), file(20), file(1), file(2)];
        let refs: Vec<&FileEntry> = files.iter().collect();
        let sizes: Vec<Vec<u64>> = groups(&refs, 10).iter().map(|g| g.iter().map(|f| f.bytes).collect()).collect();
        assert_eq!(sizes, [vec![4, 5], vec![20], vec![1, 2]]);
        assert!(groups(&[], 10).is_empty());
    }
}
