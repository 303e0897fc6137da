//! The CSV files people actually have: encodings, compression, R and
//! spreadsheet headers, line endings, pipes, batches, values that cannot be
//! kept exactly, names PostgreSQL cannot hold, and a stage that stays
//! readable. One small fixture per case, written by the test; the whole
//! message and the exit code are asserted.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::util::{cmd, fixtures, manifest, ok, run, walk};

const HINT: &str = "\n(nothing was written; rerun with --rejects to keep bad rows under _rejects/ and go on)";

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

/// `pqstage convert FILES --to stage` with `extra` flags.
fn convert(dir: &Path, files: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["convert"];
    args.extend(files);
    args.extend(["--to", "stage", "--no-progress"]);
    args.extend(extra);
    run(dir, &args)
}

/// `convert`, asserting success (the message shown if not).
fn converted(dir: &Path, files: &[&str], extra: &[&str]) -> Output {
    let o = convert(dir, files, extra);
    assert!(o.status.success(), "{files:?}: {}", stderr(&o));
    o
}

/// Asserts a refusal: exit code, the whole message (after any notes), and
/// that nothing was committed.
fn refused(dir: &Path, files: &[&str], extra: &[&str], code: i32, message: &str) {
    let committed = || {
        std::fs::read_dir(dir.join("stage"))
            .map(|entries| entries.filter(|e| e.as_ref().unwrap().path().join("_manifest.json").exists()).count())
            .unwrap_or(0)
    };
    let before = committed();
    let o = convert(dir, files, extra);
    let all = stderr(&o);
    let error = all.find("pqstage: error: ").map_or("", |at| &all[at..]);
    assert_eq!(error, format!("pqstage: error: {}", crate::util::with_retype_hint(message)), "{files:?}");
    assert_eq!(o.status.code(), Some(code), "{files:?}: {all}");
    assert_eq!(committed(), before, "{files:?}: nothing may be committed");
}

/// Every staged row of `dataset`, each value as text, in the order of `order_by`.
fn staged(dir: &Path, dataset: &str, order_by: &str) -> Vec<Vec<Option<String>>> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let glob = dir.join("stage").join(dataset).join("**/*.parquet");
    let sql = format!(
        "SELECT COLUMNS(* EXCLUDE (year))::VARCHAR FROM read_parquet('{}', hive_partitioning = true, union_by_name = true) ORDER BY {order_by}",
        glob.display()
    );
    let sql = sql.replace(" EXCLUDE (year)", if has_year(dir, dataset) { " EXCLUDE (year)" } else { "" });
    let mut stmt = conn.prepare(&sql).unwrap();
    let n = stmt.query([]).unwrap().as_ref().unwrap().column_count();
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Option<String>>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn has_year(dir: &Path, dataset: &str) -> bool {
    manifest(&dir.join("stage"), dataset)["tables"][0]["partition_column"].is_string()
}

fn rows(v: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    v.iter().map(|r| r.iter().map(|s| Some(s.to_string())).collect()).collect()
}

fn utf16(text: &str, little_endian: bool) -> Vec<u8> {
    let mut v = if little_endian { vec![0xff, 0xfe] } else { vec![0xfe, 0xff] };
    for u in text.encode_utf16() {
        v.extend_from_slice(&if little_endian { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    v
}

#[test]
fn utf16_exports_are_transcoded_to_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Excel's "Unicode text": UTF-16LE with a byte-order mark, tabs, CRLF.
    let text = "name\tcity\r\nZoë\tKöln\r\n李\t北京\r\n";
    write(d, "le.csv", &utf16(text, true));
    write(d, "be.csv", &utf16(text, false));
    for f in ["le", "be"] {
        converted(d, &[&format!("{f}.csv")], &["-q"]);
        assert_eq!(staged(d, f, "name"), rows(&[&["Zoë", "Köln"], &["李", "北京"]]));
    }
    // A size and checksum of the bytes as stored: a rerun compares those.
    let m = manifest(&d.join("stage"), "le");
    assert_eq!(m["sources"][0]["size"].as_u64(), Some(utf16(text, true).len() as u64));
}

#[test]
fn utf32_and_utf16_without_a_mark_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "u32.csv", &[0xff, 0xfe, 0, 0, b'a', 0, 0, 0, b'\n', 0, 0, 0]);
    refused(d, &["u32.csv"], &[], 1, "u32.csv: is UTF-32 text (by its byte-order mark), which pqstage does not read: convert it to UTF-8 first (iconv -f UTF-32 -t UTF-8)");
    write(d, "nobom.csv", &utf16("a,b\n1,2\n", true)[2..]);
    refused(d, &["nobom.csv"], &[], 1, "nobom.csv: has a NUL byte in its first line (byte 2); it looks like UTF-16 without a byte-order mark: pass --encoding utf-16le (or utf-16be), or set dialect.encoding");
    converted(d, &["nobom.csv"], &["--encoding", "utf-16le", "-q"]);
    assert_eq!(staged(d, "nobom", "a"), rows(&[&["1", "2"]]));
}

#[test]
fn latin1_bytes_are_shown_as_escapes_kept_intact_or_read_with_an_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "l1.csv", b"id,name\n1,caf\xe9\n2,ok\n");
    refused(
        d,
        &["l1.csv"],
        &[],
        1,
        &format!("l1.csv line 2, column name: value 'caf\\xE9' is not valid UTF-8 (bytes shown as \\xNN; if the file is Latin-1 or Windows-1252, pass --encoding or set dialect.encoding){HINT}"),
    );
    // Kept aside, the record keeps its byte.
    converted(d, &["l1.csv"], &["--rejects", "-q"]);
    let m = manifest(&d.join("stage"), "l1");
    let rel = m["tables"][0]["rejects"]["files"][0]["path"].as_str().unwrap();
    let kept = std::fs::read(d.join("stage/l1").join(rel)).unwrap();
    assert!(kept.ends_with(b",\"1,caf\xe9\"\n"), "{}", String::from_utf8_lossy(&kept));
    let shown: &[u8] = b",2,name,caf\\xE9,";
    assert!(kept.windows(shown.len()).any(|w| w == shown), "the value column shows the escape");
    // Read as Latin-1, the value is what the file meant.
    converted(d, &["l1.csv"], &["--encoding", "latin-1", "--dataset", "fixed", "-q"]);
    assert_eq!(staged(d, "fixed", "id"), rows(&[&["1", "café"], &["2", "ok"]]));
    // A header in Latin-1 is refused at its line, before any type is guessed.
    write(d, "l1h.csv", b"\nid,r\xe9gion\n1,x\n");
    refused(d, &["l1h.csv"], &[], 1, "l1h.csv line 2: header cell 2 'r\\xE9gion' is not valid UTF-8: if the file is Latin-1 or Windows-1252, pass --encoding latin-1 (or windows-1252), or set dialect.encoding");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_sources_are_read_by_their_content() {
    let dir = fixtures();
    let d = dir.path();
    let plain = std::fs::read(d.join("good.csv")).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&plain).unwrap();
    write(d, "good.csv.gz", &gzip(&plain));
    write(d, "good.csv.bz2", &bz.finish().unwrap());
    write(d, "good.csv.zst", &zstd::encode_all(&plain[..], 3).unwrap());
    // Named like plain CSV, and with --rejects: the content decides.
    write(d, "gzipped.csv", &gzip(&plain));
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "--dataset", "plain", "-q"]);
    let want = staged(d, "plain", "id");
    for f in ["good.csv.gz", "good.csv.bz2", "good.csv.zst", "gzipped.csv"] {
        let name = f.replace('.', "_");
        let o = convert(d, &[f], &["--spec", "small.toml", "--dataset", &name, "--rejects", "-q"]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        assert_eq!(staged(d, &name, "id"), want, "{f}");
        let m = manifest(&d.join("stage"), &name);
        assert_eq!(m["tables"][0]["rows_rejected"].as_u64(), Some(0), "{f}");
    }
    // Without a spec, `data.csv.gz` is the dataset `data`.
    write(d, "data.csv.gz", &gzip(b"a,b\n1,x\n"));
    assert!(convert(d, &["data.csv.gz"], &["-q"]).status.success());
    assert_eq!(staged(d, "data", "a"), rows(&[&["1", "x"]]));
    // A cut stream is named; so are archives and other binary files.
    let gz = gzip(&plain);
    write(d, "cut.csv.gz", &gz[..gz.len() - 12]);
    refused(
        d,
        &["cut.csv.gz"],
        &["--spec", "small.toml"],
        1,
        "cut.csv.gz: the gzip stream is corrupt or truncated (incomplete deflate stream)",
    );
    write(d, "data.zip", b"PK\x03\x04\x14\x00\x00\x00");
    refused(
        d,
        &["data.zip"],
        &[],
        1,
        "data.zip: is a zip archive (unzip it first; pqstage reads gzip, bzip2 and zstd streams)",
    );
    write(d, "blob.csv", b"\x7fELF\x02\x01\x01\x00\x00\x00");
    refused(
        d,
        &["blob.csv"],
        &[],
        1,
        "blob.csv: has a NUL byte in its first line (byte 8): a binary file, not CSV text",
    );
}

#[test]
fn r_and_spreadsheet_headers_get_names_and_later_files_still_match() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // R's write.csv: an empty name for the row names; a blank cell; repeats.
    write(d, "r.csv", b"\"\",\"id\",\"ID\",\"\",\"id\"\n\"1\",1,2,x,3\n\"2\",4,5,y,6\n");
    ok(d, &["infer", "r.csv", "--out", "r.toml"]);
    let spec = std::fs::read_to_string(d.join("r.toml")).unwrap();
    let names: Vec<&str> = spec.lines().filter(|l| l.starts_with("name = ") || l.starts_with("header = \"")).collect();
    assert_eq!(
        names,
        [
            "name = \"r\"",
            "name = \"column_1\"",
            "header = \"\"",
            "name = \"id\"",
            "name = \"ID_1\"",
            "header = \"ID\"",
            "name = \"column_4\"",
            "header = \"\"",
            "name = \"id_2\"",
            "header = \"id\"",
        ]
    );
    // A later file with the same header matches the spec.
    write(d, "r2.csv", b"\"\",\"id\",\"ID\",\"\",\"id\"\n\"3\",7,8,z,9\n");
    converted(d, &["r.csv", "r2.csv"], &["--spec", "r.toml", "-q"]);
    assert_eq!(
        staged(d, "r", "id"),
        rows(&[&["1", "1", "2", "x", "3"], &["2", "4", "5", "y", "6"], &["3", "7", "8", "z", "9"]])
    );
    // The loaders see the names: DuckDB loads them side by side.
    let db = d.join("r.duckdb");
    ok(d, &["load", "duckdb", "stage", "--dataset", "r", "--db", db.to_str().unwrap(), "--no-progress", "-q"]);
    // A file whose header differs is named with its line.
    write(d, "r3.csv", b"\n\"\",\"id\",\"Id\",\"\",\"id\"\n\"3\",7,8,z,9\n");
    refused(
        d,
        &["r3.csv"],
        &["--spec", "r.toml"],
        1,
        "r3.csv line 2: header does not match the spec: column 3 is 'Id', the spec says 'ID': names are matched \
         exactly, case included",
    );
}

#[test]
fn leading_blank_lines_and_every_line_ending_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "blank.csv", b"\n\r\nid,v\n1,a\n2,b\n");
    write(d, "cr.csv", b"id,v\r1,a\r2,\"x\ry\"\r");
    write(d, "crlf.csv", b"id,v\r\n1,a\r\n2,b\r\n");
    for (f, want) in [
        ("blank", rows(&[&["1", "a"], &["2", "b"]])),
        ("cr", rows(&[&["1", "a"], &["2", "x\ry"]])),
        ("crlf", rows(&[&["1", "a"], &["2", "b"]])),
    ] {
        let o = convert(d, &[&format!("{f}.csv")], &["-q"]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
        assert_eq!(staged(d, f, "id"), want, "{f}");
    }
    // Lines are still counted from the top of the file.
    write(
        d,
        "spec.toml",
        b"[dialect]\n[[columns]]\nname = \"id\"\ntype = \"int32\"\n[[columns]]\nname = \"v\"\ntype = \"text\"\n",
    );
    write(d, "late.csv", b"\n\nid,v\n1,a\nx,b\n");
    refused(
        d,
        &["late.csv"],
        &["--spec", "spec.toml"],
        1,
        &format!("late.csv line 5, column id: value 'x' is not a valid int32{HINT}"),
    );
    write(d, "crbad.csv", b"id,v\r1,a\rx,b\r");
    refused(
        d,
        &["crbad.csv"],
        &["--spec", "spec.toml"],
        1,
        &format!("crbad.csv line 3, column id: value 'x' is not a valid int32{HINT}"),
    );
}

#[test]
fn a_record_without_a_line_break_in_64_mib_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut big = b"h\nstart\n".to_vec();
    big.resize(big.len() + (65 << 20), b'a');
    big.push(b'\n');
    write(d, "big.csv", &big);
    write(d, "spec.toml", b"[[columns]]\nname = \"h\"\ntype = \"text\"\n");
    refused(
        d,
        &["big.csv"],
        &["--spec", "spec.toml"],
        1,
        "big.csv line 3: a record longer than 64 MiB (no line break within 64 MiB of its start)",
    );
}

#[test]
fn a_header_only_source_adds_no_rows_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "day1.csv", b"id,v\n1,a\n");
    write(d, "day2.csv", b"id,v\n");
    write(d, "day3.csv", b"id,v\r\n\r\n");
    let o = converted(d, &["day1.csv", "day2.csv", "day3.csv"], &["--dataset", "days"]);
    let err = stderr(&o);
    assert!(err.contains("note: day2.csv has a header but no data rows: it adds none\n"), "{err}");
    assert!(err.contains("note: day3.csv has a header but no data rows: it adds none"), "{err}");
    let m = manifest(&d.join("stage"), "days");
    let counts: Vec<u64> = m["sources"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).collect();
    assert_eq!(counts, [1, 0, 0]);
    // A day with nothing but headers commits an empty version, so a
    // scheduled convert and load go on.
    converted(d, &["day2.csv", "day3.csv"], &["--dataset", "none", "-q"]);
    assert_eq!(manifest(&d.join("stage"), "none")["tables"][0]["rows_written"], 0);
}

#[test]
fn piped_input_works_with_and_without_a_spec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = b"id,when\n1,2019-03-01\n2,2020-01-02\n";
    for (args, dataset) in [
        (vec!["convert", "-", "--to", "stage", "--dataset", "piped", "--partition-by", "year(when)", "-q"], "piped"),
        (vec!["convert", "/dev/stdin", "--to", "stage", "--dataset", "fd", "-q"], "fd"),
    ] {
        let mut child = cmd(d).args(&args).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(csv).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(staged(d, dataset, "id"), rows(&[&["1", "2019-03-01"], &["2", "2020-01-02"]]));
    }
    let m = manifest(&d.join("stage"), "piped");
    assert_eq!(m["sources"][0]["path"], "-");
    assert_eq!(m["sources"][0]["size"].as_u64(), Some(csv.len() as u64));
    // No spool is left behind.
    let spools = std::fs::read_dir(std::env::temp_dir()).unwrap().filter(|e| {
        let name = e.as_ref().unwrap().file_name();
        name.to_string_lossy().starts_with("pqstage-spool-")
    });
    assert_eq!(spools.count(), 0);
}

#[test]
fn the_same_source_twice_is_refused_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.csv", b"id,v\n1,a\n");
    write(d, "b.csv", b"id,v\n1,a\n");
    let hint = "its rows would be staged twice; pass --allow-same-source if that is meant";
    refused(d, &["a.csv", "a.csv"], &[], 1, &format!("a.csv is given twice: {hint}"));
    refused(d, &["a.csv", "./a.csv"], &[], 1, &format!("./a.csv is the same file as a.csv: {hint}"));
    let sum = xxhash_rust::xxh3::xxh3_128(b"id,v\n1,a\n");
    refused(
        d,
        &["a.csv", "b.csv"],
        &[],
        1,
        &format!("b.csv has the same bytes as a.csv (checksum {sum:032x}): {hint}"),
    );
    converted(d, &["a.csv", "a.csv", "b.csv"], &["--allow-same-source", "--dataset", "twice", "-q"]);
    assert_eq!(staged(d, "twice", "id").len(), 3);
}

#[test]
fn values_that_would_change_are_refused_with_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "spec.toml",
        b"[[columns]]\nname = \"ts\"\ntype = \"timestamp\"\n[[columns]]\nname = \"x\"\ntype = \"float64\"\n[[columns]]\nname = \"day\"\ntype = \"date\"\n",
    );
    let cases = [
        ("nanos.csv", "2019-01-01 00:00:00.9999999,1,2019-01-01", "column ts: value '2019-01-01 00:00:00.9999999' has more than microsecond precision (digits past the 6th after the point would be cut): timestamps keep microseconds; round it first, or make the column text"),
        ("huge.csv", "2019-01-01 00:00:00,1e400,2019-01-01", "column x: value '1e400' is out of float64's range (it would become infinity): make the column decimal(p,s) or text"),
        ("tiny.csv", "2019-01-01 00:00:00,1e-400,2019-01-01", "column x: value '1e-400' is too small for float64 (it would become 0): make the column decimal(p,s) or text"),
        ("year0.csv", "2019-01-01 00:00:00,1,0000-03-01", "column day: value '0000-03-01' has year 0, which does not exist (PostgreSQL would store it as 1 BC)"),
    ];
    for (f, row, why) in cases {
        write(d, f, format!("ts,x,day\n2019-01-01 00:00:00,0,2019-01-01\n{row}\n").as_bytes());
        refused(d, &[f], &["--spec", "spec.toml"], 1, &format!("{f} line 3, {why}{HINT}"));
    }
    // Zeros past the microseconds, an explicit infinity and a real zero are exact.
    write(
        d,
        "fine.csv",
        b"ts,x,day\n2019-01-01 00:00:00.123456000,-Infinity,0001-01-01\n2019-01-01 00:00:00,0.0e-400,2019-01-01\n",
    );
    converted(d, &["fine.csv"], &["--spec", "spec.toml", "-q"]);
    assert_eq!(
        staged(d, "fine", "ts"),
        rows(&[&["2019-01-01 00:00:00", "0.0", "2019-01-01"], &["2019-01-01 00:00:00.123456", "-inf", "0001-01-01"]])
    );
    // Inferred, such values make the column a type that keeps them.
    write(d, "wide.csv", b"big,n20,f,ts\n123456789012345678901234567890123456789012,12345678901234567890,1e400,2019-01-01 00:00:00.1234567\n1,-1,1,2019-01-01 00:00:00\n");
    ok(d, &["infer", "wide.csv", "--out", "wide.toml"]);
    let spec = std::fs::read_to_string(d.join("wide.toml")).unwrap();
    let types: Vec<&str> = spec.lines().filter(|l| l.starts_with("type = ")).collect();
    assert_eq!(types, ["type = \"text\"", "type = \"decimal(20,0)\"", "type = \"text\"", "type = \"text\""]);
    converted(d, &["wide.csv"], &["--spec", "wide.toml", "-q"]);
    assert_eq!(staged(d, "wide", "n20")[1][0].as_deref(), Some("123456789012345678901234567890123456789012"));
}

#[test]
fn nul_bytes_are_refused_at_convert_never_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "spec.toml",
        b"[[columns]]\nname = \"id\"\ntype = \"int32\"\n[[columns]]\nname = \"name\"\ntype = \"text\"\n",
    );
    write(d, "nul.csv", b"id,name\n1,ok\n2,a\x00b\n");
    refused(d, &["nul.csv"], &["--spec", "spec.toml"], 1, &format!("nul.csv line 3, column name: value 'a\\x00b' holds a NUL byte (\\x00), which PostgreSQL text cannot store{HINT}"));
    converted(d, &["nul.csv"], &["--spec", "spec.toml", "--rejects", "-q"]);
    assert_eq!(staged(d, "nul", "id"), rows(&[&["1", "ok"]]));
}

#[test]
fn names_postgres_cannot_hold_are_settled_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let long = "a_column_name_that_an_open_data_portal_thought_was_a_good_idea_";
    let header = format!("id,day,{long}first,{long}second\n1,2019-01-01,2,3\n");
    write(d, "long.csv", header.as_bytes());
    ok(d, &["infer", "long.csv", "--out", "long.toml", "--partition-by", "year(day)"]);
    let spec = std::fs::read_to_string(d.join("long.toml")).unwrap();
    let names: Vec<String> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("name = \"").map(|n| n.trim_end_matches('"').to_string()))
        .skip(1)
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.iter().all(|n| n.len() <= 63), "{names:?}");
    assert_ne!(names[2], names[3], "names that share 63 bytes stay distinct");
    assert!(spec.contains(&format!("header = \"{long}first\"")), "{spec}");
    // A spec that names a column PostgreSQL would cut is refused up front.
    let over = format!("[[columns]]\nname = \"{long}x\"\ntype = \"text\"\n");
    write(d, "over.toml", over.as_bytes());
    write(d, "over.csv", format!("{long}x\n1\n").as_bytes());
    let o = convert(d, &["over.csv"], &["--spec", "over.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), format!("pqstage: error: spec over.toml: invalid spec: column '{long}x' is {} bytes long; PostgreSQL keeps 63: give it a shorter name (with header = \"…\" set to the file's header text, so files still match)", long.len() + 1));
    // The inferred names load, and load again.
    ok(d, &["convert", "long.csv", "--spec", "long.toml", "--to", "stage", "-q"]);
    let url = crate::load_postgres::url();
    crate::load_postgres::fresh("long_names");
    for _ in 0..2 {
        ok(d, &["load", "postgres", "stage", "--db", &url, "--table", "long_names", "--no-progress", "-q"]);
    }
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let cols: Vec<String> = c
        .query("SELECT attname::text FROM pg_attribute WHERE attrelid = 'long_names'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut want = names.clone();
    want.push("year".into());
    assert_eq!(cols, want);
}

#[test]
fn a_convert_keeps_the_version_a_load_may_be_reading_until_gc() {
    let dir = fixtures();
    let d = dir.path();
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "-q"]);
    let v1: Vec<String> = crate::util::files(&manifest(&d.join("stage"), "small")).into_keys().collect();
    // A corrected file: two years change.
    let text =
        std::fs::read_to_string(d.join("good.csv")).unwrap().replace("1250.50", "1250.75").replace("0.00", "0.01");
    write(d, "good.csv", text.as_bytes());
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "-q"]);
    let v2: Vec<String> = crate::util::files(&manifest(&d.join("stage"), "small")).into_keys().collect();
    let replaced: Vec<&String> = v1.iter().filter(|f| !v2.contains(f)).collect();
    assert_eq!(replaced.len(), 2, "{v1:?} {v2:?}");
    for f in &replaced {
        assert!(d.join("stage/small").join(f).exists(), "{f} of the previous version stays for loads reading it");
    }
    let out = ok(d, &["gc", "stage", "--min-age", "0", "--yes", "--no-progress"]);
    assert!(out.contains("2 objects"), "{out}");
    for f in &replaced {
        assert!(!d.join("stage/small").join(f).exists(), "{f} is collected by gc");
    }
    // A third version removes what neither it nor the second names.
    write(d, "good.csv", text.replace("1250.75", "1250.80").as_bytes());
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "-q"]);
    write(d, "good.csv", text.replace("1250.75", "1250.90").as_bytes());
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "-q"]);
    let parquet_files =
        walk(&d.join("stage/small")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count();
    assert_eq!(parquet_files, v2.len() + 1, "the current files plus the one year the previous version had of its own");
}

#[test]
fn copy_compares_checksums_not_sizes() {
    let dir = fixtures();
    let d = dir.path();
    ok(d, &["convert", "good.csv", "--spec", "small.toml", "--to", "stage", "-q"]);
    ok(d, &["copy", "stage", "copied", "--no-progress"]);
    let files = crate::util::files(&manifest(&d.join("copied"), "small"));
    let (rel, _) = files.iter().next().unwrap();
    let at = d.join("copied/small").join(rel);
    let mut bytes = std::fs::read(&at).unwrap();
    let good = bytes.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&at, &bytes).unwrap();
    let out = ok(d, &["copy", "stage", "copied", "--no-progress"]);
    assert!(out.contains(": 1 files ("), "{out}");
    assert!(out.contains(&format!(" copied, {} unchanged files", files.len() - 1)), "{out}");
    assert_eq!(std::fs::read(&at).unwrap(), good, "the changed file is copied again");
}

#[test]
fn files_without_a_header_or_with_a_preamble_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No header: the first line is data like the rest (DuckDB reads it so too).
    write(d, "noheader.csv", b"1,a,true,2015-11-04\n2,b,false,2015-11-05\n3,,,\n");
    let o = converted(d, &["noheader.csv"], &[]);
    assert!(stderr(&o).contains("note: noheader.csv: its first line is read as a row, not a header (each value fits its column's type); the columns are named column_1 …; pass --header yes if it names them"), "{}", stderr(&o));
    let m = manifest(&d.join("stage"), "noheader");
    assert_eq!(m["tables"][0]["rows_written"], 3);
    assert_eq!(m["tables"][0]["spec"]["dialect"]["header"], false);
    let names: Vec<&str> =
        m["tables"][0]["spec"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["column_1", "column_2", "column_3", "column_4"]);
    // One line of numbers is a row too; --header yes says otherwise.
    write(d, "one.csv", b"7,7\n");
    assert!(convert(d, &["one.csv"], &["-q"]).status.success());
    assert_eq!(manifest(&d.join("stage"), "one")["tables"][0]["rows_written"], 1);
    converted(d, &["one.csv"], &["--header", "yes", "--dataset", "one_header", "-q"]);
    assert_eq!(manifest(&d.join("stage"), "one_header")["tables"][0]["rows_written"], 0);
    // A title and notes above the table are skipped, and the spec says so.
    write(d, "report.csv", b"Unemployment rate\nSource: a statistics office\n\nyear,rate\n2019,3.5\n2020,8.1\n");
    let o = converted(d, &["report.csv"], &[]);
    assert!(stderr(&o).contains("note: report.csv: the table starts on line 4: the 3 lines above it are not part of it (skip_lines = 3 in the spec; --skip-lines to change)"), "{}", stderr(&o));
    assert_eq!(staged(d, "report", "year"), rows(&[&["2019", "3.5"], &["2020", "8.1"]]));
    let m = manifest(&d.join("stage"), "report");
    assert_eq!(m["tables"][0]["spec"]["dialect"]["skip_lines"], 3);
    // With a spec that does not know the preamble, --skip-lines says it.
    write(
        d,
        "plain.toml",
        b"[[columns]]\nname = \"year\"\ntype = \"int32\"\n[[columns]]\nname = \"rate\"\ntype = \"float64\"\n",
    );
    refused(
        d,
        &["report.csv"],
        &["--spec", "plain.toml", "--dataset", "r2"],
        1,
        "report.csv line 1: header does not match the spec: none of the spec's columns is in it (column 1 is \
         'Unemployment rate', the spec's is 'year'): a title or notes above the header? --skip-lines N (or \
         dialect.skip_lines) skips them; else the file holds another table",
    );
    converted(d, &["report.csv"], &["--spec", "plain.toml", "--dataset", "r2", "--skip-lines", "3", "-q"]);
    assert_eq!(staged(d, "r2", "year"), rows(&[&["2019", "3.5"], &["2020", "8.1"]]));
    // A header line whose names are words is a header, even over numbers.
    write(d, "words.csv", b"id,score\n1,2.5\n");
    assert!(convert(d, &["words.csv"], &["-q"]).status.success());
    assert_eq!(staged(d, "words", "id"), rows(&[&["1", "2.5"]]));
}

#[test]
fn comment_lines_are_skipped_when_asked_and_named_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "notes.csv", b"# exported 2026-12-01\nid,name\n1,english\n# a remark\n2,\"one\n# not a comment\"\n3,german\n4,french\n# a \"quote\n5,italian\n");
    let why = "line 4: expected 2 fields, found 1; if lines starting with # are comments, pass --comment '#' (or set dialect.comment)";
    refused(d, &["notes.csv"], &[], 1, &format!("notes.csv {why}{HINT}"));
    converted(d, &["notes.csv"], &["--comment", "#", "-q"]);
    assert_eq!(
        staged(d, "notes", "id"),
        rows(&[
            &["1", "english"],
            &["2", "one\n# not a comment"],
            &["3", "german"],
            &["4", "french"],
            &["5", "italian"]
        ])
    );
    let m = manifest(&d.join("stage"), "notes");
    assert_eq!(m["tables"][0]["spec"]["dialect"]["comment"], "#");
    // Line numbers count the comment lines.
    write(d, "spec.toml", b"[dialect]\ncomment = \"#\"\n[[columns]]\nname = \"id\"\ntype = \"int32\"\n[[columns]]\nname = \"name\"\ntype = \"text\"\n");
    write(d, "late.csv", b"# c\nid,name\n# c\n1,a\n# c\nx,b\n");
    refused(
        d,
        &["late.csv"],
        &["--spec", "spec.toml"],
        1,
        &format!("late.csv line 6, column id: value 'x' is not a valid int32{HINT}"),
    );
}
