//! What convert stages: layout, manifest, determinism, incremental change,
//! NULL keys, crash safety.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int32Type, TimestampMicrosecondType};
use arrow_array::Array;

use crate::util::{files, fixtures, manifest, ok, partitions, read_parquet, run, sample, walk};

fn convert(dir: &Path, input: &str, stage: &str, extra: &[&str]) -> String {
    let mut args = vec!["convert", input, "--spec", "violations.toml", "--to", stage, "--no-progress"];
    args.extend(extra);
    ok(dir, &args)
}

fn bytes_of(stage: &Path, m: &serde_json::Value) -> Vec<(String, Vec<u8>)> {
    files(m).keys().map(|p| (p.clone(), std::fs::read(stage.join("violations").join(p)).unwrap())).collect()
}

#[test]
fn good_fixture_round_trips_every_type() {
    let dir = fixtures();
    ok(dir.path(), &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "--no-progress"]);
    let stage = dir.path().join("stage/small");
    let m = manifest(&dir.path().join("stage"), "small");
    let parts: Vec<&str> =
        m["tables"][0]["partitions"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(parts, vec!["year=1969", "year=2019", "year=2020", "year=__HIVE_DEFAULT_PARTITION__"]);

    let f2019 = files(&m).into_keys().find(|p| p.starts_with("year=2019/")).unwrap();
    let b = &read_parquet(&stage.join(&f2019))[0];
    // The partition column lives in the folder name only (Hive).
    let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "name", "amount", "day", "ts", "flag", "name_normalized"]);
    assert_eq!(b.num_rows(), 2);
    assert_eq!(b.column(0).as_primitive::<Int32Type>().values(), &[1, 5]);
    let name = b.column(1).as_string::<i32>();
    assert_eq!((name.value(0), name.value(1)), ("Acme Roofing, Inc.", "Café Müller GmbH"));
    let norm = b.column(6).as_string::<i32>();
    assert_eq!((norm.value(0), norm.value(1)), ("ACME ROOFING", "CAFÉ MÜLLER"));
    assert_eq!(b.column(2).as_primitive::<Decimal128Type>().values(), &[125_050, 9_999_999]);
    assert_eq!(b.column(3).as_primitive::<Date32Type>().value(0), 17_956);
    assert_eq!(b.column(4).as_primitive::<TimestampMicrosecondType>().value(1), 2_147_483_648_000_000);

    // NULL key: kept in the Hive default partition; "" stays an empty string.
    let fnull = files(&m).into_keys().find(|p| p.starts_with("year=__HIVE_DEFAULT_PARTITION__/")).unwrap();
    let b = &read_parquet(&stage.join(fnull))[0];
    assert_eq!(b.num_rows(), 1);
    assert!(!b.column(1).is_null(0));
    assert_eq!(b.column(1).as_string::<i32>().value(0), "");
    assert!(b.column(3).is_null(0));

    // Quoted newline and embedded quotes survive; unquoted empty is NULL.
    let f1969 = files(&m).into_keys().find(|p| p.starts_with("year=1969/")).unwrap();
    let b = &read_parquet(&stage.join(f1969))[0];
    assert_eq!(b.column(1).as_string::<i32>().value(0), "two\nlines");
    assert!(b.column(2).is_null(0) && b.column(5).is_null(0));
    let f2020 = files(&m).into_keys().find(|p| p.starts_with("year=2020/")).unwrap();
    assert_eq!(read_parquet(&stage.join(f2020))[0].column(1).as_string::<i32>().value(0), "Say \"hi\" LLC");

    // Counts reconcile; checksums match the bytes on disk.
    let t = &m["tables"][0];
    assert_eq!(
        (t["rows_read"].as_u64(), t["rows_written"].as_u64(), t["rows_rejected"].as_u64()),
        (Some(5), Some(5), Some(0))
    );
    for (path, sum) in files(&m) {
        let bytes = std::fs::read(stage.join(&path)).unwrap();
        assert_eq!(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)), sum, "{path}");
    }
    let src = &m["sources"][0];
    let csv = std::fs::read(dir.path().join("good.csv")).unwrap();
    assert_eq!(src["size"].as_u64(), Some(csv.len() as u64));
    assert_eq!(src["checksum"].as_str().unwrap(), format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&csv)));
}

#[test]
fn output_does_not_depend_on_jobs_or_chunking() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 30_000, "v.csv");
    convert(dir.path(), "v.csv", "a", &["--jobs", "1"]);
    convert(dir.path(), "v.csv", "b", &["--jobs", "2"]);
    convert(dir.path(), "v.csv", "c", &["--jobs", "3", "--chunk-size", "4096"]);
    let ma = manifest(&dir.path().join("a"), "violations");
    let a = bytes_of(&dir.path().join("a"), &ma);
    assert!(a.len() > 40, "one file per year and then some");
    for other in ["b", "c"] {
        let m = manifest(&dir.path().join(other), "violations");
        assert_eq!(files(&ma), files(&m), "manifest of {other}");
        assert!(a == bytes_of(&dir.path().join(other), &m), "bytes of {other} differ");
    }
}

#[test]
fn a_correction_to_one_year_changes_only_that_partition() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 20_000, "v.csv");
    convert(dir.path(), "v.csv", "stage", &[]);
    let before = manifest(&dir.path().join("stage"), "violations");

    // Correct the penalty of every 2001 row, and make another year's rows
    // longer, so chunk boundaries of the whole file shift.
    let text = std::fs::read_to_string(dir.path().join("v.csv")).unwrap();
    let mut out = String::new();
    let mut changed = 0;
    for line in text.split_inclusive('\n') {
        if line.contains(",2001-") && line.matches(',').count() == 20 && line.contains(",S,") {
            let fields: Vec<&str> = line.trim_end().split(',').collect();
            if fields[11].starts_with("2001-") {
                let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                f[13] = "1.00".into();
                out.push_str(&f.join(","));
                out.push('\n');
                changed += 1;
                continue;
            }
        }
        out.push_str(&line.replace("TRUCKING", "TRUCKING AND HAULING"));
    }
    assert!(changed > 10, "the fixture changes some 2001 rows ({changed})");
    std::fs::write(dir.path().join("v.csv"), out).unwrap();
    let summary = convert(dir.path(), "v.csv", "stage", &[]);
    let after = manifest(&dir.path().join("stage"), "violations");

    let (pb, pa) = (partitions(&before), partitions(&after));
    let differ: Vec<&String> = pb.keys().filter(|k| pb[*k] != pa[*k]).collect();
    // TRUCKING rows changed too; they are spread over years, so restrict the
    // claim to years that hold no TRUCKING row.
    assert!(differ.contains(&&"year=2001".to_string()), "{differ:?}");
    let csv = std::fs::read_to_string(dir.path().join("v.csv")).unwrap();
    for (k, sum) in &pb {
        let year = k.trim_start_matches("year=");
        let touched = year == "2001"
            || csv.lines().any(|l| l.contains("TRUCKING AND HAULING") && l.contains(&format!(",{year}-")));
        if !touched {
            assert_eq!(&pa[k], sum, "{k} changed although none of its rows did");
        }
    }
    // The stage holds the new manifest's files and, for a load that may be
    // reading it, the replaced version's: nothing else.
    let mut on_disk = Vec::new();
    for e in walk(&dir.path().join("stage/violations")) {
        let rel = e.strip_prefix(dir.path().join("stage/violations")).unwrap().to_string_lossy().into_owned();
        if rel.ends_with(".parquet") {
            on_disk.push(rel);
        }
    }
    on_disk.sort();
    let mut both: Vec<String> = files(&after).into_keys().chain(files(&before).into_keys()).collect();
    both.sort();
    both.dedup();
    assert_eq!(on_disk, both);
    assert!(summary.starts_with("converted 20,000 rows"), "{summary}");
}

#[test]
fn rerun_with_the_same_input_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 5_000, "v.csv");
    convert(dir.path(), "v.csv", "stage", &[]);
    let first = manifest(&dir.path().join("stage"), "violations");
    let out = convert(dir.path(), "v.csv", "stage", &[]);
    let second = manifest(&dir.path().join("stage"), "violations");
    assert_eq!(files(&first), files(&second));
    // Nor does the source's name matter.
    std::fs::copy(dir.path().join("v.csv"), dir.path().join("renamed.csv")).unwrap();
    convert(dir.path(), "renamed.csv", "other", &["--dataset", "violations"]);
    assert_eq!(files(&first), files(&manifest(&dir.path().join("other"), "violations")));
    assert!(out.starts_with("converted 5,000 rows into 50 partitions (0 rejected)"), "{out}");
    // Nor whether the scratch and staged files bypass the page cache.
    convert(dir.path(), "v.csv", "buffered", &["--buffered-io"]);
    assert_eq!(files(&first), files(&manifest(&dir.path().join("buffered"), "violations")));
}

#[test]
fn killed_convert_leaves_the_previous_dataset_readable() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 2_000, "small.csv");
    sample(dir.path(), 1_500_000, "big.csv");
    convert(dir.path(), "small.csv", "stage", &[]);
    let before = manifest(&dir.path().join("stage"), "violations");

    let mut child = crate::util::cmd(dir.path())
        .args(["convert", "big.csv", "--spec", "violations.toml", "--to", "stage", "--jobs", "1", "--no-progress"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the convert was killed before it finished");

    let after = manifest(&dir.path().join("stage"), "violations");
    assert_eq!(before, after, "the manifest is the old one");
    for (path, sum) in files(&after) {
        let bytes = std::fs::read(dir.path().join("stage/violations").join(&path)).unwrap();
        assert_eq!(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)), sum, "{path} intact");
    }
    let status = ok(dir.path(), &["status", "stage"]);
    assert!(status.contains("rows        2,000 read = 2,000 written + 0 rejected"), "{status}");
    // The killed run left its scratch files; the next convert removes them.
    assert!(dir.path().join("stage/.pqstage-tmp").exists());
    convert(dir.path(), "small.csv", "stage", &[]);
    assert!(!dir.path().join("stage/.pqstage-tmp").exists(), "scratch of the killed run is cleaned up");
}

#[test]
fn status_summarises_the_manifest() {
    let dir = fixtures();
    let o = run(dir.path(), &["status", "stage"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no staged dataset at"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ok(dir.path(), &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "--no-progress"]);
    for target in ["stage", "stage/small"] {
        let s = ok(dir.path(), &["status", target]);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].starts_with("dataset     small ("), "{s}");
        let size = std::fs::metadata(dir.path().join("good.csv")).unwrap().len();
        assert!(s.contains(&format!("source      good.csv ({size} B, 5 rows, xxh3-128 ")), "{s}");
        assert!(s.contains("rows        5 read = 5 written + 0 rejected"), "{s}");
        assert!(s.contains("partitions  4, year 1969..2020 + NULL: 4 files, "), "{s}");
        assert!(s.contains("\nyear=2019                                       2      1 "), "{s}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["status", "stage", "--json"])).unwrap();
    assert_eq!(json["tables"][0]["rows_written"], 5);
}

#[test]
fn file_size_row_groups_and_compression_are_applied() {
    use parquet::basic::Compression;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 40_000, "v.csv");
    let args = ["--file-size", "20kB", "--row-group-rows", "200", "--compression", "snappy", "--jobs", "2"];
    convert(dir.path(), "v.csv", "a", &args);
    convert(
        dir.path(),
        "v.csv",
        "b",
        &["--file-size", "20kB", "--row-group-rows", "200", "--compression", "snappy", "--jobs", "1"],
    );
    let m = manifest(&dir.path().join("a"), "violations");
    assert_eq!(files(&m), files(&manifest(&dir.path().join("b"), "violations")), "rolled files are deterministic too");
    let mut rolled = 0;
    for p in m["tables"][0]["partitions"].as_array().unwrap() {
        let fs = p["files"].as_array().unwrap();
        let rows: u64 = fs.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
        assert_eq!(rows, p["rows"].as_u64().unwrap());
        rolled += usize::from(fs.len() > 1);
        for (i, f) in fs.iter().enumerate() {
            let path = f["path"].as_str().unwrap();
            assert!(path.contains(&format!("/part-{i:05}-")), "{path}");
            let reader =
                SerializedFileReader::new(std::fs::File::open(dir.path().join("a/violations").join(path)).unwrap())
                    .unwrap();
            let meta = reader.metadata();
            assert_eq!(meta.file_metadata().num_rows() as u64, f["rows"].as_u64().unwrap());
            for rg in meta.row_groups() {
                assert!(rg.num_rows() <= 200, "row group of {} rows", rg.num_rows());
                assert!(rg.columns().iter().all(|c| c.compression() == Compression::SNAPPY));
            }
            if i + 1 < fs.len() {
                assert!(
                    f["bytes"].as_u64().unwrap() >= 20_000,
                    "only the last file of a partition is under --file-size"
                );
            }
        }
    }
    assert!(rolled > 10, "most partitions rolled over to a second file ({rolled})");
}

#[test]
fn a_dataset_has_one_writer_at_a_time() {
    let dir = crate::util::fixtures();
    let tmp = dir.path().join("stage/.pqstage-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A live holder (this test process) keeps others out.
    std::fs::write(tmp.join("small.lock"), std::process::id().to_string()).unwrap();
    let o = run(dir.path(), &["convert", "good.csv", "--spec", "small.toml", "--to", "stage"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "is being written by another pqstage (process {}); wait for it to finish",
            std::process::id()
        )),
        "{err}"
    );
    assert!(!dir.path().join("stage/small/_manifest.json").exists());
    // A lock whose process is gone is taken over, and released afterwards.
    std::fs::write(tmp.join("small.lock"), "4194303").unwrap();
    ok(dir.path(), &["convert", "good.csv", "--spec", "small.toml", "--to", "stage"]);
    assert!(!tmp.exists(), "lock and scratch are gone after the run");
}

#[test]
fn more_partitions_than_open_spill_files() {
    // 300 years in scattered order: more partitions than the spill keeps open
    // at once (128), so segments are closed and reopened during the run.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,day,note\n");
    let mut want: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for i in 0..30_000u64 {
        let year = 1700 + (i * 7919 % 300) as i64;
        *want.entry(year).or_default() += 1;
        csv.push_str(&format!("{i},{year}-0{}-1{},\"row {i}, year {year}\"\n", 1 + i % 9, i % 10));
    }
    std::fs::write(dir.path().join("wide.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("wide.toml"),
        "[[columns]]\nname = \"id\"\ntype = \"int64\"\n[[columns]]\nname = \"day\"\ntype = \"date\"\n\
         [[columns]]\nname = \"note\"\ntype = \"text\"\n[partition]\nby = \"year(day)\"\n",
    )
    .unwrap();
    for (stage, jobs) in [("a", "1"), ("b", "2")] {
        let args =
            ["convert", "wide.csv", "--spec", "wide.toml", "--to", stage, "--jobs", jobs, "--chunk-size", "8192"];
        ok(dir.path(), &args);
    }
    let m = manifest(&dir.path().join("a"), "wide");
    assert_eq!(files(&m), files(&manifest(&dir.path().join("b"), "wide")));
    let got: std::collections::BTreeMap<i64, u64> = m["tables"][0]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["value"].as_i64().unwrap(), p["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, want);
    // Rows keep input order inside a partition across reopened segments.
    let first = files(&m).into_keys().find(|p| p.starts_with("year=1700/")).unwrap();
    let ids: Vec<i64> = read_parquet(&dir.path().join("a/wide").join(first))
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<arrow_array::types::Int64Type>().values().to_vec())
        .collect();
    assert!(ids.len() == 100 && ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// A cluster column's value: one variant per column, so derived order is the column's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Int(i64),
    Text(String),
}

/// (value of `column`, activity_nr, citation_id) of every row of each partition, in file order.
fn rows_by_partition(
    stage: &Path,
    column: &str,
) -> std::collections::BTreeMap<String, Vec<(Option<Value>, i64, String)>> {
    let m = manifest(stage, "violations");
    let mut out = std::collections::BTreeMap::new();
    for (path, _) in files(&m) {
        let part = path.split('/').next().unwrap().to_string();
        let rows: &mut Vec<_> = out.entry(part).or_default();
        for b in read_parquet(&stage.join("violations").join(&path)) {
            let key = b.column_by_name(column).unwrap();
            let nr = b.column_by_name("activity_nr").unwrap().as_primitive::<arrow_array::types::Int64Type>().clone();
            let cit = b.column_by_name("citation_id").unwrap().as_string::<i32>().clone();
            for i in 0..b.num_rows() {
                let v = key.is_valid(i).then(|| match key.as_string_opt::<i32>() {
                    Some(text) => Value::Text(text.value(i).to_string()),
                    None => Value::Int(i64::from(key.as_primitive::<Int32Type>().value(i))),
                });
                rows.push((v, nr.value(i), cit.value(i).to_string()));
            }
        }
    }
    out
}

#[test]
fn cluster_by_orders_each_partition_stably_with_nulls_last() {
    let dir = tempfile::tempdir().unwrap();
    sample(dir.path(), 20_000, "v.csv");
    let spec = std::fs::read_to_string(dir.path().join("violations.toml")).unwrap();
    let last_table = spec.lines().rfind(|l| l.starts_with('['));
    assert_eq!(last_table, Some("[target]"), "the sample spec ends inside [target]");
    convert(dir.path(), "v.csv", "plain", &[]);
    // Text (site_state) and a nullable integer (naics_code, with NULLs).
    for column in ["site_state", "naics_code"] {
        std::fs::write(dir.path().join("clustered.toml"), format!("{spec}cluster_by = \"{column}\"\n")).unwrap();
        let cluster = |stage: &str, jobs: &str| {
            let args = ["convert", "v.csv", "--spec", "clustered.toml", "--to", stage, "--jobs", jobs, "--no-progress"];
            ok(dir.path(), &args)
        };
        cluster("clustered", "2");
        cluster("one-job", "1");

        let plain = rows_by_partition(&dir.path().join("plain"), column);
        let clustered = rows_by_partition(&dir.path().join("clustered"), column);
        assert_eq!(plain.keys().collect::<Vec<_>>(), clustered.keys().collect::<Vec<_>>());
        let mut nulls = 0;
        for (part, rows) in &plain {
            // A stable sort by value, NULL after every value: the same rows,
            // and rows of one value in their input order.
            let mut want = rows.clone();
            want.sort_by(|a, b| a.0.is_none().cmp(&b.0.is_none()).then_with(|| a.0.cmp(&b.0)));
            assert_eq!(&clustered[part], &want, "{column} {part}");
            nulls += rows.iter().filter(|r| r.0.is_none()).count();
        }
        assert_eq!(nulls > 0, column == "naics_code", "{column}: NULLs seen {nulls}");
        // Deterministic: the files do not depend on --jobs.
        let m = |s: &str| files(&manifest(&dir.path().join(s), "violations"));
        assert_eq!(m("clustered"), m("one-job"), "{column}");
        assert_ne!(m("clustered"), m("plain"), "{column}");
    }
}
