//! One suite run against every backend this build supports.

use super::manifest::*;
use super::*;

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
        }],
    }
}

async fn put(stage: &Stage, dataset: &str, rel: &str, scratch: &std::path::Path) {
    let tmp = scratch.join(rel.replace('/', "_"));
    std::fs::write(&tmp, rel.as_bytes()).unwrap();
    stage.put_file(&tmp, dataset, rel).await.unwrap();
    assert!(!tmp.exists(), "put_file moves the file");
}

async fn conformance(stage: Stage) {
    assert!(stage.read_manifest("ds").await.unwrap().is_none());
    let scratch = tempfile::tempdir().unwrap();
    put(&stage, "ds", "year=2000/part-00000-aa.parquet", scratch.path()).await;
    put(&stage, "ds", "year=2000/part-00000-bb.parquet", scratch.path()).await;
    put(&stage, "ds", "_rejects/rejects-00000.csv", scratch.path()).await;
    // Data without a manifest is not a dataset yet.
    assert!(stage.list_datasets().await.unwrap().is_empty());
    assert!(stage.read_manifest("ds").await.unwrap().is_none());

    let m = manifest("ds", &[("year=2000/part-00000-bb.parquet", 5)]);
    stage.write_manifest(&m).await.unwrap();
    assert_eq!(stage.read_manifest("ds").await.unwrap().unwrap(), m);
    assert_eq!(stage.list_datasets().await.unwrap(), vec!["ds".to_string()]);

    // Found from the root (the only dataset) and from the dataset folder itself.
    let root = stage.url();
    let (_, found) = Stage::locate(&root, None).await.unwrap();
    assert_eq!(found, m);
    let (at, found) = Stage::locate(&format!("{}/ds", root.trim_end_matches('/')), None).await.unwrap();
    assert_eq!((found, at.url()), (m.clone(), root.clone()));
    assert!(matches!(Stage::locate(&root, Some("nope")).await, Err(StageError::NotFound(_))));

    // The file of the earlier run and the stale rejects go; the named file stays.
    assert_eq!(stage.delete_unreferenced(&m).await.unwrap(), 2);
    let got =
        stage.store().get(&stage.path("ds", "year=2000/part-00000-bb.parquet")).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"year=2000/part-00000-bb.parquet");
    assert!(stage.store().head(&stage.path("ds", "year=2000/part-00000-aa.parquet")).await.is_err());
    assert_eq!(stage.delete_unreferenced(&m).await.unwrap(), 0);

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
    conformance(Stage::open(dir.path().to_str().unwrap()).unwrap()).await;
}

#[tokio::test]
async fn file_url() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Stage::open(&format!("file://{}", dir.path().display())).unwrap()).await;
}

#[tokio::test]
async fn memory() {
    conformance(Stage::open("memory://conformance").unwrap()).await;
}

#[test]
fn unsupported_schemes_say_so() {
    let e = Stage::open("s3://bucket/x").unwrap_err().to_string();
    assert_eq!(e, "stage 's3://bucket/x': s3:// stages are not supported by this build yet; use a local folder, file:// or memory://");
    assert_eq!(Stage::open("ftp://x").unwrap_err().to_string(), "stage 'ftp://x': unknown scheme 'ftp://'");
}
