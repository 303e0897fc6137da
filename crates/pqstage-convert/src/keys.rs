//! One key, one record, across partitions. A partition's [`Differ`] refuses
//! a key it sees twice, but a snapshot could still hold one key in two
//! years (two records of one citation, dated differently). Loaders would
//! then hold both, each year's unique index satisfied, and a later change
//! to that key would be ambiguous. So in a snapshot convert each partition,
//! once written, hands its keys to [`KeyRuns`]: as 128-bit hashes with
//! where each row came from, sorted, in a run file of 24 bytes a row in the
//! scratch folder. When every partition is written, one merge of the runs
//! finds a hash in two of them; the key is then read back from the first
//! partition's files to name it. Memory: one partition's keys while they
//! are sorted, then one buffered reader a partition.
//!
//! Merge and append check their own input across partitions before they
//! spill it (see `convert::carry`); the rows they carry over were checked
//! when they were first converted.
//!
//! [`Differ`]: crate::changes::Differ

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_schema::SchemaRef;
use pqstage_stage::manifest::PartitionEntry;
use pqstage_stage::Stage;

use crate::changes::{describe_key, fetch, read_batches, RowHasher};
use crate::error::{group_digits, ConvertError};
use crate::layout::place;

/// Bytes of one key in a run: its hash and where its row came from.
const RECORD: usize = 24;
/// Read buffer of each run during the merge.
const READ_BUFFER: usize = 64 * 1024;

/// The sorted keys of one written partition.
struct Run {
    path: PathBuf,
    entry: PartitionEntry,
    /// Whether a row's place is a source line (else its position in the
    /// partition).
    lines: bool,
}

/// The runs of a convert's partitions, checked together at the end.
pub(crate) struct KeyRuns {
    dir: PathBuf,
    runs: Mutex<Vec<Run>>,
}

impl KeyRuns {
    /// Runs kept under `scratch`.
    pub(crate) fn new(scratch: &Path) -> Result<Self, ConvertError> {
        let dir = scratch.join("key-runs");
        std::fs::create_dir_all(&dir).map_err(ConvertError::io("create", &dir))?;
        Ok(KeyRuns { dir, runs: Mutex::new(Vec::new()) })
    }

    /// Keeps the keys of the partition written as `entry`: (key hash,
    /// place) of each row, no hash twice.
    pub(crate) fn add(
        &self,
        entry: &PartitionEntry,
        mut keys: Vec<(u128, u64)>,
        lines: bool,
    ) -> Result<(), ConvertError> {
        keys.sort_unstable_by_key(|k| k.0);
        let path = self.dir.join(format!("{}.keys", entry.path.replace(['/', '='], "-")));
        let file = File::create(&path).map_err(ConvertError::io("create", &path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for (hash, at) in keys {
            out.write_all(&hash.to_le_bytes())
                .and_then(|_| out.write_all(&at.to_le_bytes()))
                .map_err(ConvertError::io("write", &path))?;
        }
        out.flush().map_err(ConvertError::io("write", &path))?;
        self.runs.lock().expect("lock").push(Run { path, entry: entry.clone(), lines });
        Ok(())
    }

    /// Merges the runs: the first key found in two partitions is a
    /// [`ConvertError::DuplicateKey`] naming both rows' places. `sources`
    /// name the input files; `schema` and `key` are the files' and the key
    /// columns' indexes in it, to read the key back.
    pub(crate) fn check(
        self,
        sources: &[String],
        schema: &SchemaRef,
        key: &[usize],
        stage: &Stage,
        dataset: &str,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), ConvertError> {
        let mut runs = self.runs.into_inner().expect("lock");
        // Partition order, so that a message does not depend on which
        // worker finished first.
        runs.sort_by_key(|r| (r.entry.value.is_none(), r.entry.value));
        let mut readers = Vec::with_capacity(runs.len());
        for r in &runs {
            let file = File::open(&r.path).map_err(ConvertError::io("open", &r.path))?;
            readers.push(BufReader::with_capacity(READ_BUFFER, file));
        }
        let next = |i: usize, readers: &mut Vec<BufReader<File>>| -> Result<Option<(u128, u64)>, ConvertError> {
            let mut buf = [0u8; RECORD];
            match readers[i].read_exact(&mut buf) {
                Ok(()) => Ok(Some((
                    u128::from_le_bytes(buf[..16].try_into().expect("16 bytes")),
                    u64::from_le_bytes(buf[16..].try_into().expect("8 bytes")),
                ))),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                Err(e) => Err(ConvertError::io("read", &runs[i].path)(e)),
            }
        };
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for i in 0..runs.len() {
            if let Some((hash, at)) = next(i, &mut readers)? {
                heap.push(Reverse((hash, i, at)));
            }
        }
        let mut last: Option<(u128, usize, u64)> = None;
        while let Some(Reverse((hash, i, at))) = heap.pop() {
            if let Some((_, j, there)) = last.filter(|l| l.0 == hash) {
                let key_name = read_key(&runs[j].entry, hash, schema, key, &self.dir, stage, dataset, runtime)?;
                let here = |run: &Run, at: u64| match run.lines {
                    true => place(sources, at),
                    false => format!("row {} of {}", group_digits(at), run.entry.path),
                };
                // Named in the order of the lines.
                let (first, second) = if there <= at { ((j, there), (i, at)) } else { ((i, at), (j, there)) };
                return Err(ConvertError::DuplicateKey {
                    partition: format!("{} and {}", runs[first.0].entry.path, runs[second.0].entry.path),
                    key: key_name,
                    first: here(&runs[first.0], first.1),
                    second: here(&runs[second.0], second.1),
                });
            }
            last = Some((hash, i, at));
            if let Some((hash, at)) = next(i, &mut readers)? {
                heap.push(Reverse((hash, i, at)));
            }
        }
        drop(readers);
        drop(std::fs::remove_dir_all(&self.dir));
        Ok(())
    }
}

/// `column=value, ...` of the key whose hash is `hash`, read back from the
/// files of `entry` (written by this convert, not yet in a manifest).
#[allow(clippy::too_many_arguments)]
fn read_key(
    entry: &PartitionEntry,
    hash: u128,
    schema: &SchemaRef,
    key: &[usize],
    scratch: &Path,
    stage: &Stage,
    dataset: &str,
    runtime: &tokio::runtime::Handle,
) -> Result<String, ConvertError> {
    let columns: Vec<usize> = (0..key.len()).collect();
    let mut found = None;
    for path in fetch(entry, scratch, stage, dataset, runtime)? {
        read_batches(&path, schema, Some(key), |batch| {
            if found.is_none() {
                let hashes = RowHasher::new(&batch.schema(), columns.clone())?.keys(&batch)?;
                found = hashes.iter().position(|h| *h == hash).map(|r| describe_key(&batch, &columns, r));
            }
            Ok(())
        })?;
    }
    Ok(found.unwrap_or_else(|| "a key of two rows".into()))
}
