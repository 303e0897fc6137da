//! What both loaders must do alike, written once and run against each
//! engine: the steps of a load test that do not depend on the engine (stage
//! a sample, correct a record, corrupt a file), and the scenarios built
//! from them. Each engine's suite supplies a [`Target`].

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{claim_one_more_row, manifest, manifest_per_year, ok, run, staged_sample};

/// A table one engine loads into, as the tests see it.
pub(crate) trait Target {
    /// `pqstage load ENGINE stage …` into this target, run in `dir`, plus `extra`.
    fn args(&self, dir: &Path, extra: &[&str]) -> Vec<String>;
    /// Rows per year of the table, as text ("NULL" for the NULL key), in key order.
    fn per_year(&self, dir: &Path) -> Vec<(String, i64)>;
    /// The year (as text) of the row whose `citation_id` is `id`; `None` when there is none.
    fn year_of(&self, dir: &Path, id: &str) -> Option<String>;
    /// The checksum the state table records for the partition of `year`.
    fn recorded_checksum(&self, dir: &Path, year: &str) -> String;
}

/// The columns of `tests/data/types.csv` that both engines print alike as text.
pub(crate) const TYPES_ALIKE: [&str; 10] = ["id", "b", "i16", "i64", "d", "money", "day", "ts", "t", "year"];

/// The first three rows of `tests/data/types.csv` in the columns of
/// [`TYPES_ALIKE`], as text ("NULL" for NULL): the extremes of every type,
/// then a row of unquoted empty fields, which are NULL (its NULL date lands
/// in the NULL partition).
pub(crate) const TYPES_ROWS: [[&str; 10]; 3] = [
    [
        "1",
        "true",
        "-32768",
        "-9223372036854775808",
        "-1234567890123456789012345678.0123456789",
        "-0.01",
        "1900-01-01",
        "1900-01-01 00:00:00",
        "Café \"quoted\", ünïcode ✓",
        "1900",
    ],
    [
        "2",
        "false",
        "32767",
        "9223372036854775807",
        "9999999999999999999999999999.9999999999",
        "9999999999.99",
        "2100-12-31",
        "2262-04-11 23:47:16.854775",
        "",
        "2100",
    ],
    ["3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
];

/// Runs a load; returns its whole output.
pub(crate) fn try_load(t: &dyn Target, dir: &Path, extra: &[&str]) -> Output {
    let args = t.args(dir, extra);
    run(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs a load that must succeed; returns stdout.
pub(crate) fn load(t: &dyn Target, dir: &Path, extra: &[&str]) -> String {
    let args = t.args(dir, extra);
    ok(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Joins physical lines into CSV records (quoted newlines stay inside a record).
pub(crate) fn split_records(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in lines {
        cur.push_str(l);
        if cur.matches('"').count() % 2 == 0 {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// The records of `dir/v.csv`, header first.
pub(crate) fn records(dir: &Path) -> Vec<String> {
    let csv = std::fs::read_to_string(dir.join("v.csv")).unwrap();
    split_records(&csv.split_inclusive('\n').collect::<Vec<_>>())
}

/// Writes `records` back to `dir/v.csv` and converts it again into `dir/stage`.
pub(crate) fn reconvert(dir: &Path, records: &[String]) {
    std::fs::write(dir.join("v.csv"), records.concat()).unwrap();
    ok(dir, &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
}

/// Sets one record's `citation_id` to `CORRECTED` and converts again: one
/// year's partition changes.
pub(crate) fn correct_one_record(dir: &Path) {
    let mut records = records(dir);
    let fields: Vec<&str> = records[100].splitn(4, ',').collect();
    records[100] = format!("{},{},CORRECTED,{}", fields[0], fields[1], fields[3]);
    reconvert(dir, &records);
}

/// Flips one byte in the middle of the first staged file (same size, other
/// checksum). Returns its path and its good bytes.
pub(crate) fn corrupt_first_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let m = manifest(&dir.join("stage"), "violations");
    let rel = m["tables"][0]["partitions"][0]["files"][0]["path"].as_str().unwrap().to_string();
    let path = dir.join("stage/violations").join(rel);
    let bytes = std::fs::read(&path).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0xff;
    std::fs::write(&path, &flipped).unwrap();
    (path, bytes)
}

/// A new table from 20,000 staged rows, an unchanged rerun, then a corrected
/// record: only its year changes, by its change set (the correction is to
/// the key, so one row deleted and one inserted), and the state records that
/// year's new checksum. Returns the folder, for the engine's own next steps.
pub(crate) fn rerun_skips_and_a_correction_patches_one_year(t: &dyn Target, table: &str) -> tempfile::TempDir {
    let dir = staged_sample(20_000);
    let d = dir.path();
    let stage = d.join("stage");
    let out = load(t, d, &[]);
    assert!(out.contains(&format!("(20,000 rows) into {table} (created)")), "{out}");
    assert_eq!(t.per_year(d), manifest_per_year(&stage));
    let parts = manifest_per_year(&stage).len();

    let out = load(t, d, &[]);
    assert!(out.starts_with(&format!("{parts} partitions unchanged, skipped")), "{out}");

    correct_one_record(d);
    let out = load(t, d, &[]);
    let year = t.year_of(d, "CORRECTED").unwrap_or_else(|| panic!("the corrected row is loaded: {out}"));
    assert!(out.starts_with("applied changes to 1 partitions of "), "{out}");
    assert!(out.contains("(1 inserted, 0 updated, 1 deleted rows)"), "{out}");
    assert!(out.contains(&format!(", {} unchanged, skipped", parts - 1)), "{out}");
    let line = format!("year={year}");
    let line = out.lines().find(|l| l.contains(&line)).unwrap_or_else(|| panic!("{out}"));
    assert!(line.ends_with("changes applied (version 1 to 2): 1 inserted, 0 updated, 1 deleted"), "{out}");
    assert_eq!(t.per_year(d), manifest_per_year(&stage));
    let m = manifest(&stage, "violations");
    let changed =
        m["tables"][0]["partitions"].as_array().unwrap().iter().find(|p| p["path"] == format!("year={year}")).unwrap();
    assert_eq!(t.recorded_checksum(d, &year), changed["checksum"].as_str().unwrap());
    dir
}

/// A staged file changed after convert is named, with exit code 2.
pub(crate) fn a_corrupt_staged_file_is_named(t: &dyn Target, dir: &Path, extra: &[&str]) -> (PathBuf, Vec<u8>) {
    let (path, bytes) = corrupt_first_file(dir);
    let o = try_load(t, dir, extra);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("staged file {} is corrupt: its checksum is not the manifest's", path.display())),
        "{err}"
    );
    (path, bytes)
}

/// A partition whose rows disagree with its manifest (the manifest claims
/// one more row than its file holds) fails the load with exit code 1,
/// naming the partition; `says` is how the engine counted (`holds` or
/// `received`) and `undone` what became of the load.
pub(crate) fn rows_that_disagree_fail_with_exit_1(
    t: &dyn Target,
    dir: &Path,
    extra: &[&str],
    says: &str,
    undone: &str,
) {
    let name = claim_one_more_row(dir);
    let o = try_load(t, dir, extra);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("partition {name} {says}")) && err.contains(undone), "{err}");
}
