//! One conformance suite run against every kind of store: a local folder,
//! `file://`, `memory://`, a real S3-compatible server and the Azure Blob
//! emulator, both on loopback.
//!
//! The S3 and Azure runs need the servers: `make test` starts them
//! (tests/with-servers.sh) and sets PQSTAGE_S3_ENDPOINT and
//! AZURITE_BLOB_STORAGE_URL; by hand, `tests/s3/s3.sh up` and
//! `tests/az/az.sh up`, and export those two variables as the URLs they print.

use super::manifest::*;
use super::*;
use object_store::MultipartUpload;

fn spec() -> pqstage_spec::Spec {
    pqstage_spec::Spec::from_toml("[[columns]]\nname = \"d\"\ntype = \"date\"\n[partition]\nby = \"year(d)\"\n")
        .unwrap()
}

fn manifest(dataset: &str, files: &[(&str, u64)]) -> Manifest {
    let files: Vec<FileEntry> = files
        .iter()
        .map(|(p, rows)| FileEntry { path: p.to_string(), rows: *rows, bytes: 1, checksum: checksum(p.as_bytes()) })
        .collect();
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    Manifest {
        format_version: FORMAT_VERSION,
        dataset: dataset.into(),
        created_by: "test".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        checksum_algorithm: CHECKSUM_ALGORITHM.into(),
        sources: vec![SourceEntry { path: "a.csv".into(), size: 10, checksum: checksum(b"a"), rows }],
        tables: vec![TableEntry {
            name: dataset.into(),
            path: String::new(),
            spec: spec(),
            spec_fingerprint: spec().fingerprint(),
            partition_column: Some("year".into()),
            partitions: vec![PartitionEntry {
                value: Some(2000),
                key: None,
                path: "year=2000".into(),
                rows,
                bytes: files.len() as u64,
                checksum: checksum(b"p"),
                files,
            }],
            rejects: RejectsEntry::default(),
            rows_read: rows,
            rows_written: rows,
            rows_rejected: 0,
            changes: Vec::new(),
            carried: None,
        }],
        trajectories: None,
        version: 1,
    }
}

async fn put(stage: &Stage, dataset: &str, rel: &str, scratch: &std::path::Path) {
    let tmp = scratch.join(rel.replace('/', "_"));
    std::fs::write(&tmp, rel.as_bytes()).unwrap();
    stage.put_file(&tmp, dataset, rel).await.unwrap();
    assert!(!tmp.exists(), "put_file moves the file");
}

async fn conformance(stage: Stage, options: StoreOptions) {
    assert!(stage.read_manifest("ds").await.unwrap().is_none());
    let scratch = tempfile::tempdir().unwrap();
    put(&stage, "ds", "year=2000/part-00000-00000000000000aa.parquet", scratch.path()).await;
    put(&stage, "ds", "year=2000/part-00000-00000000000000bb.parquet", scratch.path()).await;
    put(&stage, "ds", "_rejects/rejects-00000.csv", scratch.path()).await;
    // Data without a manifest is not a dataset yet.
    assert!(stage.list_datasets().await.unwrap().is_empty());
    assert!(stage.read_manifest("ds").await.unwrap().is_none());

    let m = manifest("ds", &[("year=2000/part-00000-00000000000000bb.parquet", 5)]);
    stage.write_manifest(&m).await.unwrap();
    assert_eq!(stage.read_manifest("ds").await.unwrap().unwrap(), m);
    assert_eq!(stage.list_datasets().await.unwrap(), vec!["ds".to_string()]);

    // Found from the root (the only dataset) and from the dataset folder itself.
    let root = stage.url();
    let (_, found) = Stage::locate_with(&root, None, &options).await.unwrap();
    assert_eq!(found, m);
    let (at, found) = Stage::locate_with(&format!("{}/ds", root.trim_end_matches('/')), None, &options).await.unwrap();
    assert_eq!((found, at.url()), (m.clone(), root.clone()));
    assert!(matches!(Stage::locate_with(&root, Some("nope"), &options).await, Err(StageError::NotFound(_))));

    // Files the previous version names stay (a load may be reading them);
    // the stale rejects go.
    let prev = manifest("ds", &[("year=2000/part-00000-00000000000000aa.parquet", 5)]);
    assert_eq!(stage.delete_unreferenced(&m, Some(&prev)).await.unwrap(), 1);
    assert!(stage.store().head(&stage.path("ds", "year=2000/part-00000-00000000000000aa.parquet")).await.is_ok());
    // Without it, the file of the earlier run goes; the named file stays.
    assert_eq!(stage.delete_unreferenced(&m, None).await.unwrap(), 1);
    let got = stage
        .store()
        .get(&stage.path("ds", "year=2000/part-00000-00000000000000bb.parquet"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"year=2000/part-00000-00000000000000bb.parquet");
    assert!(stage.store().head(&stage.path("ds", "year=2000/part-00000-00000000000000aa.parquet")).await.is_err());
    assert_eq!(stage.delete_unreferenced(&m, None).await.unwrap(), 0);

    // A manifest whose counts do not reconcile is refused as corrupt.
    let mut bad = m.clone();
    bad.tables[0].rows_written += 1;
    stage.write_manifest(&bad).await.unwrap();
    let err = stage.read_manifest("ds").await.unwrap_err().to_string();
    assert!(
        err.contains("corrupt manifest") && err.contains("rows_read 5 != rows_written 6 + rows_rejected 0"),
        "{err}"
    );

    stage
        .store()
        .put(&stage.path("ds", MANIFEST_FILE), PutPayload::from(Bytes::from_static(b"{not json")))
        .await
        .unwrap();
    let err = stage.read_manifest("ds").await.unwrap_err().to_string();
    assert!(err.starts_with("corrupt manifest ") && err.contains("_manifest.json"), "{err}");
}

#[tokio::test]
async fn local_folder() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Stage::open(dir.path().to_str().unwrap()).unwrap(), StoreOptions::default()).await;
}

#[tokio::test]
async fn file_url() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Stage::open(&format!("file://{}", dir.path().display())).unwrap(), StoreOptions::default()).await;
}

#[tokio::test]
async fn memory() {
    conformance(Stage::open("memory://conformance").unwrap(), StoreOptions::default()).await;
}

#[test]
fn unsupported_schemes_say_so() {
    let e = Stage::open("http://host/x").unwrap_err().to_string();
    assert!(e.starts_with("stage 'http://host/x': http:// is not a stage"), "{e}");
    let e = Stage::open("ftp://x").unwrap_err().to_string();
    assert!(e.starts_with("stage 'ftp://x': unknown scheme 'ftp://'"), "{e}");
}

/// The S3 server of the test run, and a fresh prefix in its bucket.
fn s3_location(test: &str) -> (String, StoreOptions) {
    let endpoint = std::env::var("PQSTAGE_S3_ENDPOINT").expect(
        "PQSTAGE_S3_ENDPOINT is not set: run `make test` (it starts a throwaway S3 server), \
         or `tests/s3/s3.sh up` and export PQSTAGE_S3_ENDPOINT=the URL it prints",
    );
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let options = StoreOptions::default()
        .with("aws_endpoint", &endpoint)
        .with("aws_access_key_id", "pqstage-test")
        .with("aws_secret_access_key", "pqstage-test-secret")
        .with("aws_region", "us-east-1")
        .with("allow_http", "true");
    (format!("s3://pqstage/unit-{test}-{}-{nanos}", std::process::id()), options)
}

/// The Azure Blob emulator of the test run (AZURITE_BLOB_STORAGE_URL, read
/// by the store itself), and a fresh prefix in its container.
fn azure_location(test: &str) -> (String, StoreOptions) {
    std::env::var("AZURITE_BLOB_STORAGE_URL").expect(
        "AZURITE_BLOB_STORAGE_URL is not set: run `make test` (it starts a throwaway Azurite), \
         or `tests/az/az.sh up` and export AZURITE_BLOB_STORAGE_URL=the URL it prints",
    );
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let options = StoreOptions::default().with("azure_storage_use_emulator", "true");
    (format!("az://pqstage/unit-{test}-{}-{nanos}", std::process::id()), options)
}

#[tokio::test]
async fn azure() {
    let (url, options) = azure_location("conformance");
    conformance(Stage::open_with(&url, &options).unwrap(), options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_azure() {
    let (url, options) = azure_location("transfers");
    let b = tempfile::tempdir().unwrap();
    transfers(Stage::open_with(&url, &options).unwrap(), Stage::open(b.path().to_str().unwrap()).unwrap()).await;
}

#[tokio::test]
async fn s3() {
    let (url, options) = s3_location("conformance");
    conformance(Stage::open_with(&url, &options).unwrap(), options).await;
}

// ---- moving bytes: multipart uploads, downloads, interrupted uploads, gc, copy

/// A local file of `n` bytes that are not all alike.
fn big_file(dir: &std::path::Path, name: &str, n: usize) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..n).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn entry(rel: &str, bytes: &[u8]) -> FileEntry {
    FileEntry { path: rel.into(), rows: 1, bytes: bytes.len() as u64, checksum: checksum(bytes) }
}

/// A dataset of two files, one bigger than a multipart part, committed.
async fn staged(stage: &Stage, dataset: &str) -> (Manifest, Vec<Vec<u8>>) {
    let scratch = tempfile::tempdir().unwrap();
    let names = ["year=2000/part-00000-00000000000000a1.parquet", "year=2000/part-00001-00000000000000a2.parquet"];
    let sizes = [transfer::PART_SIZE * 2 + 12_345, 1000];
    let mut m = manifest(dataset, &[]);
    let mut contents = Vec::new();
    for (name, size) in names.iter().zip(sizes) {
        let (path, bytes) = big_file(scratch.path(), &name.replace('/', "_"), size);
        stage.put_file(&path, dataset, name).await.unwrap();
        m.tables[0].partitions[0].files.push(entry(name, &bytes));
        contents.push(bytes);
    }
    let p = &mut m.tables[0].partitions[0];
    p.rows = 2;
    p.bytes = p.files.iter().map(|f| f.bytes).sum();
    m.tables[0].rows_read = 2;
    m.tables[0].rows_written = 2;
    m.sources[0].rows = 2;
    stage.write_manifest(&m).await.unwrap();
    (m, contents)
}

async fn transfers(stage: Stage, other: Stage) {
    let (m, contents) = staged(&stage, "tr").await;
    let files: Vec<&FileEntry> = m.file_entries().collect();

    // Read back, whole and through download (which checks every byte).
    let got = stage.store().get(&stage.path("tr", &files[0].path)).await.unwrap().bytes().await.unwrap();
    assert!(got[..] == contents[0][..], "the multipart upload reads back as written");
    let cache = tempfile::tempdir().unwrap();
    stage.download("tr", &files, cache.path(), 4).await.unwrap();
    for (f, want) in files.iter().zip(&contents) {
        assert!(std::fs::read(cache.path().join(&f.path)).unwrap() == *want);
    }
    stage.check_present("tr", &files, 4).await.unwrap();

    // A file that is not what the manifest says is refused, and not kept.
    let mut wrong = files[1].clone();
    wrong.checksum = checksum(b"something else");
    let err = stage.download("tr", &[&wrong], cache.path(), 1).await.unwrap_err().to_string();
    assert!(err.contains("is corrupt: its checksum is not the manifest's"), "{err}");
    assert!(!cache.path().join(&wrong.path).exists());
    let mut short = files[1].clone();
    short.bytes += 1;
    let err = stage.check_present("tr", &[&short], 1).await.unwrap_err().to_string();
    assert!(err.contains("is corrupt: 1000 bytes, the manifest says 1001"), "{err}");
    let mut gone = files[1].clone();
    gone.path = "year=2000/part-00009-00000000000000ff.parquet".into();
    let err = stage.download("tr", &[&gone], cache.path(), 1).await.unwrap_err().to_string();
    assert!(err.contains("part-00009-00000000000000ff.parquet is missing"), "{err}");

    // An interrupted multipart upload leaves nothing behind once aborted.
    let half = stage.path("tr", "year=2000/part-00002-00000000000000a3.parquet");
    let mut upload = stage.store().put_multipart(&half).await.unwrap();
    upload.put_part(PutPayload::from(vec![7u8; transfer::PART_SIZE])).await.unwrap();
    upload.abort().await.unwrap();
    assert!(stage.store().head(&half).await.is_err());
    let listed: Vec<_> = stage.store().list(Some(&stage.path("tr", ""))).try_collect().await.unwrap();
    assert_eq!(listed.len(), 3, "two data files and the manifest: {listed:?}");
    if let Some(root) = stage.local_root() {
        // Listings hide a local multipart upload's part file; the disk does not.
        assert_eq!(files_under(&root.join("tr")), 3, "the aborted upload's part file is gone");
    }

    // gc: an orphan of ours is found (not when it is younger than min_age),
    // a file that only looks like ours is left alone.
    let scratch = tempfile::tempdir().unwrap();
    let (orphan, _) = big_file(scratch.path(), "o", 10);
    stage.put_file(&orphan, "tr", "year=2001/part-00000-00000000000000b1.parquet").await.unwrap();
    let (spark, _) = big_file(scratch.path(), "s", 10);
    stage.put_file(&spark, "tr", "year=2001/part-00000-1b2c3d4e-c000.snappy.parquet").await.unwrap();
    assert!(stage.garbage(std::time::Duration::from_secs(3600)).await.unwrap().is_empty());
    let garbage = stage.garbage(std::time::Duration::ZERO).await.unwrap();
    let names: Vec<&str> = garbage.iter().map(|g| g.display.as_str()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with("/tr/year=2001/part-00000-00000000000000b1.parquet"), "{names:?}");
    let progress = crate::progress::Progress::default();
    stage.delete_objects(&garbage, 4, &progress).await.unwrap();
    let deleted = progress.snapshot().unwrap();
    assert_eq!((deleted.label, deleted.done, deleted.total), ("deleting", 1, 1));
    assert!(stage.garbage(std::time::Duration::ZERO).await.unwrap().is_empty());
    assert!(stage.store().head(&stage.path("tr", "year=2001/part-00000-1b2c3d4e-c000.snappy.parquet")).await.is_ok());

    // copy: everything the first time, nothing the second, and the copy is
    // the same dataset; a changed source file fails before the commit.
    let r = maintain::copy_dataset(&stage, &other, &m, 4, &progress).await.unwrap();
    assert_eq!((r.copied, r.skipped), (2, 0));
    let copied_bytes = progress.snapshot().unwrap();
    assert_eq!(copied_bytes.label, "copying");
    assert_eq!((copied_bytes.done, copied_bytes.total), (r.bytes_copied, r.bytes_copied));
    assert_eq!(other.read_manifest("tr").await.unwrap().unwrap(), m);
    let r = maintain::copy_dataset(&stage, &other, &m, 4, &progress).await.unwrap();
    assert_eq!((r.copied, r.skipped, r.bytes_skipped), (0, 2, m.tables[0].partitions[0].bytes));
    let copied = tempfile::tempdir().unwrap();
    other.download("tr", &files, copied.path(), 2).await.unwrap();

    let mut changed = m.clone();
    changed.dataset = "tr2".into();
    stage.write_manifest(&changed).await.unwrap();
    for f in &files {
        let bytes = stage.store().get(&stage.path("tr", &f.path)).await.unwrap().bytes().await.unwrap();
        stage.store().put(&stage.path("tr2", &f.path), PutPayload::from(bytes)).await.unwrap();
    }
    let mut flipped = contents[0].clone();
    flipped[PART_SIZE_PLUS] ^= 1;
    stage.store().put(&stage.path("tr2", &files[0].path), PutPayload::from(flipped)).await.unwrap();
    let err = maintain::copy_dataset(&stage, &other, &changed, 4, &progress).await.unwrap_err().to_string();
    assert!(err.contains("tr2/year=2000/part-00000-00000000000000a1.parquet is corrupt"), "{err}");
    assert!(other.read_manifest("tr2").await.unwrap().is_none(), "nothing committed");
    assert!(other.store().head(&other.path("tr2", &files[0].path)).await.is_err(), "the upload was aborted");
    if let Some(root) = other.local_root() {
        assert!(files_under(&root.join("tr2")) <= 1, "at most the small file; no part file of the big one");
    }
}

/// Files on disk under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| if e.file_type().unwrap().is_dir() { files_under(&e.path()) } else { 1 })
        .sum()
}

/// A byte in the second part of the big file.
const PART_SIZE_PLUS: usize = transfer::PART_SIZE + 17;

#[tokio::test]
async fn transfers_local() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    transfers(Stage::open(a.path().to_str().unwrap()).unwrap(), Stage::open(b.path().to_str().unwrap()).unwrap()).await;
}

#[tokio::test]
async fn transfers_memory() {
    let b = tempfile::tempdir().unwrap();
    transfers(Stage::open("memory://transfers").unwrap(), Stage::open(b.path().to_str().unwrap()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_s3() {
    let (url, options) = s3_location("transfers");
    let (to, _) = s3_location("transfers-copy");
    let b = tempfile::tempdir().unwrap();
    transfers(Stage::open_with(&url, &options).unwrap(), Stage::open(b.path().to_str().unwrap()).unwrap()).await;
    // And from a local stage up to S3.
    let a = tempfile::tempdir().unwrap();
    transfers(Stage::open(a.path().to_str().unwrap()).unwrap(), Stage::open_with(&to, &options).unwrap()).await;
}

#[tokio::test]
async fn gc_leaves_a_dataset_being_written_alone() {
    let dir = tempfile::tempdir().unwrap();
    let stage = Stage::open(dir.path().to_str().unwrap()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (orphan, _) = big_file(scratch.path(), "o", 10);
    stage.put_file(&orphan, "busy", "year=2001/part-00000-00000000000000c1.parquet").await.unwrap();
    // While a live process (this one) holds the dataset's lock, its files are
    // a convert's work in progress, whatever their age.
    let lock = stage.lock("busy").unwrap();
    assert!(stage.garbage(std::time::Duration::ZERO).await.unwrap().is_empty());
    drop(lock);
    assert_eq!(stage.garbage(std::time::Duration::ZERO).await.unwrap().len(), 1);
}
