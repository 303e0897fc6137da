//! Running the binary and reading what it staged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's `tests/data` folder.
pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A `pqstage` command running in `dir`, with progress off.
pub fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pqstage"));
    c.current_dir(dir).env("NO_COLOR", "1");
    c
}

/// The test S3 server (s3s-fs, started by `make test` and named by
/// PQSTAGE_S3_ENDPOINT).
pub fn s3_endpoint() -> String {
    std::env::var("PQSTAGE_S3_ENDPOINT").expect(
        "PQSTAGE_S3_ENDPOINT is not set: run `make test` (it starts a throwaway S3 server), \
         or `tests/s3/s3.sh up` and export PQSTAGE_S3_ENDPOINT=the URL it prints",
    )
}

/// A fresh prefix in the test bucket. Short: s3s-fs keeps each object's
/// metadata in a file named by the base64 of its whole key, so a key past
/// about 180 bytes fails there with "File name too long" (S3 allows 1,024).
pub fn s3_url(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("s3://pqstage/e2e-{test}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// `c` with the test S3 server's settings in its environment, as a user sets them.
pub fn with_s3(c: &mut Command) -> &mut Command {
    c.env("AWS_ENDPOINT_URL", s3_endpoint())
        .env("AWS_ACCESS_KEY_ID", "pqstage-test")
        .env("AWS_SECRET_ACCESS_KEY", "pqstage-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ALLOW_HTTP", "true")
}

/// 12345 → "12,345".
pub fn group(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs `pqstage ARGS` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    cmd(dir).args(args).output().expect("pqstage runs")
}

/// Runs and asserts success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(o.status.success(), "pqstage {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf-8 stdout")
}

/// A temp folder holding a copy of the fixtures.
pub fn fixtures() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&data(), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The manifest of `stage/dataset`.
pub fn manifest(stage: &Path, dataset: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(stage.join(dataset).join("_manifest.json")).expect("manifest exists");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Every Parquet file a manifest names (data files, and change sets' files):
/// relative path → checksum.
pub fn files(m: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut add = |files: &serde_json::Value| {
        for f in files.as_array().into_iter().flatten() {
            out.insert(f["path"].as_str().unwrap().to_string(), f["checksum"].as_str().unwrap().to_string());
        }
    };
    for t in m["tables"].as_array().unwrap() {
        for p in t["partitions"].as_array().unwrap() {
            add(&p["files"]);
        }
        for c in t["changes"].as_array().into_iter().flatten() {
            for kind in ["inserted", "updated", "deleted"] {
                add(&c[kind]["files"]);
            }
        }
    }
    out
}

/// Partition path → checksum.
pub fn partitions(m: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    m["tables"][0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap().to_string(), p["checksum"].as_str().unwrap().to_string()))
        .collect()
}

/// Reads every row of a Parquet file as record batches.
pub fn read_parquet(path: &Path) -> Vec<arrow_array::RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Generates `rows` rows of the violations sample and its spec into `dir`.
pub fn sample(dir: &Path, rows: u64, name: &str) {
    ok(dir, &["sample", "violations", "--rows", &rows.to_string(), "--out", name, "--spec-out", "violations.toml"]);
}

/// A sample of `rows` rows converted into `dir/stage/violations`.
pub fn staged_sample(rows: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), rows, "v.csv");
    ok(dir.path(), &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    dir
}

/// Rows per partition of `stage/violations` by key as text ("NULL" for the
/// NULL key), in key order: what a loaded table must hold.
pub fn manifest_per_year(stage: &Path) -> Vec<(String, i64)> {
    let m = manifest(stage, "violations");
    m["tables"][0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["value"].as_i64().map_or("NULL".into(), |v| v.to_string()), p["rows"].as_i64().unwrap()))
        .collect()
}

/// Edits `dir/stage/violations/_manifest.json` to claim one more row in the
/// first partition than its file holds, keeping the manifest's own sums
/// consistent. Returns the partition's folder name.
pub fn claim_one_more_row(dir: &Path) -> String {
    let path = dir.join("stage/violations/_manifest.json");
    let mut m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let bump = |v: &mut serde_json::Value| *v = (v.as_u64().unwrap() + 1).into();
    let t = &mut m["tables"][0];
    bump(&mut t["partitions"][0]["rows"]);
    bump(&mut t["partitions"][0]["files"][0]["rows"]);
    bump(&mut t["rows_written"]);
    bump(&mut t["rows_read"]);
    bump(&mut m["sources"][0]["rows"]);
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    m["tables"][0]["partitions"][0]["path"].as_str().unwrap().to_string()
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// An expected bad-value message as `convert` ends it: a value that is not
/// of its column's type also gets the hint for a source whose column
/// changed type, inside the closing parenthesis of the `--rejects` hint.
pub fn with_retype_hint(message: &str) -> String {
    let column = message
        .split(", column ")
        .nth(1)
        .and_then(|rest| rest.split_once(": value '").filter(|(_, v)| v.contains("' is not a valid ")))
        .map(|(c, _)| c.to_string());
    match (column, message.strip_suffix(')')) {
        (Some(c), Some(head)) if message.contains("\n(nothing was written;") => format!(
            "{head}; if the source's {c} values changed type, change its type in the spec (a wider one, or text) \
             and convert again: a loaded table with the old type is then refused, so reload into a new table)"
        ),
        _ => message.to_string(),
    }
}
