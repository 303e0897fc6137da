//! Stages in an object store: the binary against a real S3-compatible server
//! on loopback (s3s-fs, started by `make test` and named by
//! PQSTAGE_S3_ENDPOINT), with and without injected faults, and against the
//! Azure Blob emulator (Azurite, named by AZURITE_BLOB_STORAGE_URL).

use std::path::Path;
use std::process::Output;

use crate::faulty_proxy::{Faults, FaultyProxy};
use crate::util::{cmd, manifest, manifest_per_year, ok, partitions, s3_endpoint as endpoint, s3_url, sample, with_s3};

/// `pqstage ARGS` with the S3 server's settings in the environment, as a user sets them.
pub fn s3_run(dir: &Path, args: &[&str]) -> Output {
    with_s3(&mut cmd(dir)).args(args).output().expect("pqstage runs")
}

pub fn s3_ok(dir: &Path, args: &[&str]) -> String {
    let o = s3_run(dir, args);
    assert!(o.status.success(), "pqstage {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The manifest of a stage, as `status --json` prints it.
fn status_json(dir: &Path, stage: &str) -> serde_json::Value {
    serde_json::from_str(&s3_ok(dir, &["status", stage, "--json"])).unwrap()
}

/// The sample's spec without partitioning: one file per dataset, big enough
/// for a multipart upload.
fn unpartitioned_spec(dir: &Path) {
    let spec = std::fs::read_to_string(dir.join("violations.toml")).unwrap();
    let cut = spec.find("[partition]").expect("the sample spec is partitioned");
    std::fs::write(dir.join("flat.toml"), &spec[..cut]).unwrap();
}

/// `pqstage convert CSV --spec SPEC --to URL` through `proxy`, one connection
/// per request, with at most `retries` retries of a failed request.
fn convert_through(d: &Path, proxy: &FaultyProxy, csv: &str, spec: &str, url: &str, retries: u32) -> Output {
    let via = format!("aws_endpoint={}", proxy.endpoint);
    let retries = format!("max_retries={retries}");
    let mut args = vec!["convert", csv, "--spec", spec, "--to", url, "--no-progress"];
    for o in [via.as_str(), "pool_max_idle_per_host=0", retries.as_str()] {
        args.extend(["--storage-option", o]);
    }
    s3_run(d, &args)
}

#[test]
fn an_s3_stage_converts_loads_and_copies_like_a_local_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, 30_000, "v.csv");
    let url = s3_url("roundtrip");
    ok(d, &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    let line = s3_ok(d, &["convert", "v.csv", "--spec", "violations.toml", "--to", &url, "--no-progress"]);
    assert!(line.contains(&format!("-> {url}/violations")), "{line}");

    // Same bytes as on disk: the manifests name the same partitions and checksums.
    let local = manifest(&d.join("stage"), "violations");
    let remote = status_json(d, &url);
    assert_eq!(partitions(&remote), partitions(&local));
    let text = s3_ok(d, &["status", &format!("{url}/violations")]);
    assert!(text.starts_with(&format!("dataset     violations ({url}/violations)")), "{text}");

    // The DDL names the staged folder as each engine addresses S3.
    let bucket_path = url.trim_start_matches("s3://");
    let spark = s3_ok(d, &["ddl", &url, "--engine", "spark"]);
    assert!(spark.contains(&format!("LOCATION 's3a://{bucket_path}/violations';")), "{spark}");
    let trino = s3_ok(d, &["ddl", &url, "--engine", "trino", "--table", "v2"]);
    assert!(trino.contains(&format!("external_location = 's3://{bucket_path}/violations'")), "{trino}");
    assert!(trino.contains("CALL system.sync_partition_metadata(CURRENT_SCHEMA, 'v2', 'FULL');"), "{trino}");

    // DuckDB reads it through the bounded cache, incrementally: a cache of
    // 400 kB makes groups of one or two partitions, each downloaded while the
    // one before is inserted.
    let want = manifest_per_year(&d.join("stage"));
    let args =
        ["load", "duckdb", &url, "--db", "x.duckdb", "--no-progress", "--cache-size", "400kB", "--cache-dir", "cache"];
    let out = s3_ok(d, &args);
    assert_eq!(std::fs::read_dir(d.join("cache")).unwrap().count(), 0, "the cache is emptied");
    assert!(out.starts_with("loaded 51 partitions (30,000 rows)"), "{out}");
    assert_eq!(crate::load_duckdb::per_year(&d.join("x.duckdb"), "violations"), want);
    let out = s3_ok(d, &["load", "duckdb", &url, "--db", "x.duckdb", "--no-progress"]);
    assert!(out.starts_with("51 partitions unchanged, skipped"), "{out}");

    // PostgreSQL too, a year at a time.
    let pg = crate::load_postgres::url();
    crate::load_postgres::fresh("s3_violations");
    s3_ok(
        d,
        &["load", "postgres", &url, "--db", &pg, "--table", "s3_violations", "--no-progress", "--cache-dir", "pgcache"],
    );
    assert_eq!(std::fs::read_dir(d.join("pgcache")).unwrap().count(), 0, "the cache is emptied");
    let got = crate::load_postgres::per_year("s3_violations");
    assert_eq!(got, want);
    let out = s3_ok(d, &["load", "postgres", &url, "--db", &pg, "--table", "s3_violations", "--no-progress"]);
    assert!(out.starts_with("51 partitions unchanged, skipped"), "{out}");

    // copy down and back up: data first, manifest last, unchanged files skipped.
    let out = s3_ok(d, &["copy", &url, "copied"]);
    assert!(out.contains(": 51 files (") && out.contains(" copied, 0 unchanged files"), "{out}");
    assert_eq!(partitions(&manifest(&d.join("copied"), "violations")), partitions(&local));
    let out = s3_ok(d, &["copy", &url, "copied"]);
    assert!(out.contains(": 0 files (0 B) copied, 51 unchanged files"), "{out}");
    let up = s3_url("copied-up");
    s3_ok(d, &["copy", "copied", &up]);
    assert_eq!(partitions(&status_json(d, &up)), partitions(&local));
    let out = s3_ok(d, &["gc", &url, "--min-age", "0"]);
    assert_eq!(out.trim(), format!("nothing to collect in {url}"));
}

#[test]
fn transient_store_failures_are_retried_through() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, 300_000, "v.csv");
    unpartitioned_spec(d);
    let proxy = FaultyProxy::start(&endpoint(), Faults::EveryNthPut(2));
    let url = s3_url("retried");
    let o = convert_through(d, &proxy, "v.csv", "flat.toml", &url, 10);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let parts = proxy.requests().iter().filter(|r| r.starts_with("PUT ") && r.contains("partNumber=")).count();
    assert!(parts >= 2, "the file went up as a multipart upload: {:?}", proxy.requests());
    assert!(proxy.injected() >= 2, "faults were injected: {}", proxy.injected());
    // What landed is what a clean run writes, and it loads (every byte checked).
    ok(d, &["convert", "v.csv", "--spec", "flat.toml", "--to", "stage", "--no-progress"]);
    assert_eq!(partitions(&status_json(d, &url)), partitions(&manifest(&d.join("stage"), "violations")));
    let out = s3_ok(d, &["load", "duckdb", &url, "--db", "x.duckdb", "--no-progress"]);
    assert!(out.contains("300,000 rows"), "{out}");
}

#[test]
fn a_failed_upload_leaves_the_old_dataset_and_gc_collects_its_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, 300_000, "v1.csv");
    ok(d, &["sample", "violations", "--rows", "300000", "--seed", "7", "--out", "v2.csv"]);
    unpartitioned_spec(d);
    let url = s3_url("failed");
    // v1, committed; then v2 with the store failing every upload after the first.
    s3_ok(d, &["convert", "v1.csv", "--spec", "flat.toml", "--to", &url, "--no-progress"]);
    let before = status_json(d, &url);
    let proxy = FaultyProxy::start(&endpoint(), Faults::PutsAfter(1));
    let o = convert_through(d, &proxy, "v2.csv", "flat.toml", &url, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("503") || err.contains("Slow Down"), "the store's answer is shown: {err}");

    // Every multipart upload it started was completed or aborted.
    let requests = proxy.requests();
    let started = requests.iter().filter(|r| r.starts_with("POST ") && r.contains("?uploads")).count();
    let finished = requests.iter().filter(|r| r.starts_with("POST ") && r.contains("uploadId=")).count();
    let aborted = requests.iter().filter(|r| r.starts_with("DELETE ") && r.contains("uploadId=")).count();
    assert!(started >= 1, "{requests:?}");
    assert_eq!(started, finished + aborted, "{requests:?}");
    assert!(aborted >= 1, "{requests:?}");

    // The old dataset is still the dataset, and every byte of it loads.
    assert_eq!(status_json(d, &url), before);
    let out = s3_ok(d, &["load", "duckdb", &url, "--db", "x.duckdb", "--no-progress"]);
    assert!(out.contains("300,000 rows"), "{out}");

    // A partitioned run that fails after five files landed leaves them behind.
    let proxy = FaultyProxy::start(&endpoint(), Faults::PutsAfter(5));
    let o = convert_through(d, &proxy, "v2.csv", "violations.toml", &url, 1);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(status_json(d, &url), before);

    // gc: a dry run lists what no manifest names and deletes nothing; --yes deletes it.
    let listed = s3_ok(d, &["gc", &url, "--min-age", "0"]);
    let orphans: Vec<&str> = listed.lines().filter(|l| l.contains("/violations/year=")).collect();
    assert_eq!(orphans.len(), 5, "{listed}");
    assert!(listed.trim_end().ends_with("that no manifest names; run again with --yes to delete them"), "{listed}");
    let again = s3_ok(d, &["gc", &url, "--min-age", "0"]);
    assert_eq!(listed, again, "a dry run deletes nothing");
    let young = s3_ok(d, &["gc", &url]);
    assert_eq!(young.trim(), format!("nothing to collect in {url}"), "fresh objects are left alone by default");
    let deleted = s3_ok(d, &["gc", &url, "--min-age", "0", "--yes"]);
    assert_eq!(listed.lines().count(), deleted.lines().count(), "{listed}\n{deleted}");
    let out = s3_ok(d, &["gc", &url, "--min-age", "0"]);
    assert_eq!(out.trim(), format!("nothing to collect in {url}"));
    assert_eq!(status_json(d, &url), before);
}

#[test]
fn store_problems_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = s3_url("empty");
    let o = s3_run(d, &["status", &url]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("no staged dataset at {url}")), "{err}");

    let o = s3_run(d, &["status", &url, "--storage-option", "colour=blue"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("stage '{url}': unknown storage option 'colour' for s3://")), "{err}");

    let o = s3_run(d, &["status", &url, "--storage-option", "retries"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("storage option 'retries' is not KEY=VALUE"), "{err}");

    // Nothing listens there: a quick failure that names the endpoint.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let o = s3_run(
        d,
        &[
            "status",
            &url,
            "--storage-option",
            &format!("aws_endpoint=http://{closed}"),
            "--storage-option",
            "max_retries=0",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains(&closed.to_string()), "{err}");
}

#[test]
fn an_azure_stage_converts_loads_and_copies_like_a_local_one() {
    let emulator = std::env::var("AZURITE_BLOB_STORAGE_URL").expect(
        "AZURITE_BLOB_STORAGE_URL is not set: run `make test` (it starts a throwaway Azurite), \
         or `tests/az/az.sh up` and export AZURITE_BLOB_STORAGE_URL=the URL it prints",
    );
    let az = |d: &Path, args: &[&str]| {
        let o = cmd(d)
            .args(args)
            .env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env("AZURITE_BLOB_STORAGE_URL", &emulator)
            .output()
            .unwrap();
        assert!(o.status.success(), "pqstage {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, 20_000, "v.csv");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let url = format!("az://pqstage/e2e-{}-{nanos}", std::process::id());
    ok(d, &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    az(d, &["convert", "v.csv", "--spec", "violations.toml", "--to", &url, "--no-progress"]);
    let remote: serde_json::Value = serde_json::from_str(&az(d, &["status", &url, "--json"])).unwrap();
    let local = manifest(&d.join("stage"), "violations");
    assert_eq!(partitions(&remote), partitions(&local));
    let out = az(d, &["load", "duckdb", &url, "--db", "x.duckdb", "--no-progress"]);
    assert!(out.starts_with("loaded 51 partitions (20,000 rows)"), "{out}");
    assert_eq!(crate::load_duckdb::per_year(&d.join("x.duckdb"), "violations"), manifest_per_year(&d.join("stage")));
    az(d, &["copy", &url, "copied"]);
    assert_eq!(partitions(&manifest(&d.join("copied"), "violations")), partitions(&local));
    let out = az(d, &["gc", &url, "--min-age", "0"]);
    assert_eq!(out.trim(), format!("nothing to collect in {url}"));
}
