//! `pqstage load duckdb` and `pqstage summary` against real DuckDB files.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{claim_one_more_row, fixtures, manifest, manifest_per_year, ok, run, sample, staged_sample};

/// Every row of `sql` run against the DuckDB file, each value cast to text.
fn query(db: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
    let conn = duckdb::Connection::open_with_flags(db, config).expect("the DuckDB file opens");
    let mut stmt = conn.prepare(&format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})")).unwrap();
    let n = stmt.query([]).unwrap().as_ref().unwrap().column_count();
    let mut stmt = conn.prepare(&format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})")).unwrap();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Option<String>>(i)).collect())
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A single number from `sql`.
fn scalar(db: &Path, sql: &str) -> i64 {
    query(db, sql)[0][0].as_deref().unwrap().parse().unwrap()
}

/// Rows per year in the table, as text ("NULL" for the NULL key).
pub(crate) fn per_year(db: &Path, table: &str) -> Vec<(String, i64)> {
    query(db, &format!("SELECT year, count(*) FROM {table} GROUP BY ALL ORDER BY 1 NULLS LAST"))
        .into_iter()
        .map(|r| (r[0].clone().unwrap_or_else(|| "NULL".into()), r[1].as_deref().unwrap().parse().unwrap()))
        .collect()
}

fn load(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["load", "duckdb", "stage", "--db", "v.duckdb", "--no-progress"];
    args.extend(extra);
    ok(dir, &args)
}

#[test]
fn every_type_round_trips() {
    let dir = fixtures();
    ok(dir.path(), &["convert", "types.csv", "--spec", "types.toml", "--to", "stage", "--no-progress"]);
    let out = ok(dir.path(), &["load", "duckdb", "stage", "--db", "t.duckdb"]);
    assert!(out.starts_with("loaded 5 partitions (5 rows) into \"main\".\"types\" (created)"), "{out}");
    let db = dir.path().join("t.duckdb");
    // A new file gets the newest storage format of the linked DuckDB.
    let version = query(&db, "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 't'");
    assert_eq!(version, vec![vec![Some("v1.5.0+".to_string())]]);

    let types = query(&db, "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'types' ORDER BY ordinal_position");
    let types: Vec<String> = types
        .iter()
        .map(|r| format!("{} {} {}", r[0].as_deref().unwrap(), r[1].as_deref().unwrap(), r[2].as_deref().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            "id INTEGER NO",
            "b BOOLEAN YES",
            "i16 SMALLINT YES",
            "i64 BIGINT YES",
            "f DOUBLE YES",
            "d DECIMAL(38,10) YES",
            "money DECIMAL(12,2) YES",
            "day DATE YES",
            "ts TIMESTAMP YES",
            "tz TIMESTAMP WITH TIME ZONE YES",
            "t VARCHAR YES",
            "year INTEGER YES",
        ]
    );

    let rows = query(&db, "SELECT * EXCLUDE (tz), epoch_us(tz) AS tz_us FROM types ORDER BY id");
    let row = |i: usize| rows[i].iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>();
    assert_eq!(
        row(0),
        [
            "1",
            "true",
            "-32768",
            "-9223372036854775808",
            "nan",
            "-1234567890123456789012345678.0123456789",
            "-0.01",
            "1900-01-01",
            "1900-01-01 00:00:00",
            "Café \"quoted\", ünïcode ✓",
            "1900",
            "-1",
        ]
    );
    assert_eq!(
        row(1),
        [
            "2",
            "false",
            "32767",
            "9223372036854775807",
            "inf",
            "9999999999999999999999999999.9999999999",
            "9999999999.99",
            "2100-12-31",
            "2262-04-11 23:47:16.854775",
            "",
            "2100",
            "2147476448000000",
        ]
    );
    // Unquoted empty fields are NULL, the NULL date lands in the NULL partition.
    assert_eq!(row(2), ["3", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"]);
    assert_eq!(row(3)[9], "two\nlines, 00501");
    assert_eq!(row(3)[4], "-inf");
    assert_eq!(row(4)[9], "  spaced  ");
    assert_eq!(row(4)[8], "1969-07-20 20:17:40.5");
    assert_eq!(row(4)[11], "-14164940000000");
}

#[test]
fn rerun_skips_unchanged_and_a_correction_reloads_one_year() {
    let dir = staged_sample(20_000);
    let out = load(dir.path(), &[]);
    assert!(out.contains("(20,000 rows) into \"main\".\"violations\" (created)"), "{out}");
    let db = dir.path().join("v.duckdb");
    let stage = dir.path().join("stage");
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&stage));
    let parts = manifest_per_year(&stage).len();

    let out = load(dir.path(), &[]);
    assert!(out.starts_with(&format!("{parts} partitions unchanged, skipped")), "{out}");

    // Correct one record: only its year's partition changes, and only it is reloaded.
    let csv = std::fs::read_to_string(dir.path().join("v.csv")).unwrap();
    let mut records = split_records(&csv.split_inclusive('\n').collect::<Vec<_>>());
    let fields: Vec<&str> = records[100].splitn(4, ',').collect();
    let corrected = format!("{},{},CORRECTED,{}", fields[0], fields[1], fields[3]);
    records[100] = corrected;
    std::fs::write(dir.path().join("v.csv"), records.concat()).unwrap();
    ok(dir.path(), &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    let out = load(dir.path(), &[]);
    let year = query(&db, "SELECT year FROM violations WHERE citation_id = 'CORRECTED'");
    assert_eq!(year.len(), 1, "the corrected row is loaded: {out}");
    let year = year[0][0].clone().unwrap();
    assert!(out.starts_with("loaded 1 partitions ("), "{out}");
    assert!(out.contains(&format!(", {} unchanged, skipped", parts - 1)), "{out}");
    assert!(out.contains(&format!("year={year}")) && out.contains("changed"), "{out}");
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&stage));
    let recorded =
        query(&db, &format!("SELECT checksum FROM pqstage.load_state WHERE partition_path = 'year=' || {year}"));
    let m = manifest(&stage, "violations");
    let changed =
        m["tables"][0]["partitions"].as_array().unwrap().iter().find(|p| p["path"] == format!("year={year}")).unwrap();
    assert_eq!(recorded, vec![vec![Some(changed["checksum"].as_str().unwrap().to_string())]]);

    // --force reloads everything; --years only the named ones.
    let out = load(dir.path(), &["--force"]);
    assert!(out.starts_with(&format!("loaded {parts} partitions (20,000 rows)")), "{out}");
    let out = load(dir.path(), &["--years", "1990,1991", "--force"]);
    assert!(out.starts_with("loaded 2 partitions"), "{out}");
    assert!(!out.contains("skipped"), "partitions outside --years are not considered: {out}");
    let o = run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb", "--years", "1850"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--years: year=1850 is not a partition of violations, nor loaded in the table"), "{err}");
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&stage));
}

#[test]
fn a_table_that_no_longer_matches_its_state_is_repaired() {
    let dir = staged_sample(5_000);
    load(dir.path(), &[]);
    let db = dir.path().join("v.duckdb");
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch("DELETE FROM violations WHERE year = 2000").unwrap();
    }
    let out = load(dir.path(), &[]);
    assert!(out.starts_with("loaded 1 partitions"), "{out}");
    assert!(out.contains("year=2000") && out.contains("reloaded: the table holds 0 rows, the manifest says"), "{out}");
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&dir.path().join("stage")));
}

#[test]
fn a_partition_dropped_from_the_stage_is_removed() {
    let dir = staged_sample(5_000);
    load(dir.path(), &[]);
    // Re-convert without the 1980 rows.
    let csv = std::fs::read_to_string(dir.path().join("v.csv")).unwrap();
    let kept: Vec<&str> = csv.split_inclusive('\n').collect();
    let records = split_records(&kept);
    let text: String = records.into_iter().filter(|r| !r.contains(",1980-")).collect();
    std::fs::write(dir.path().join("v.csv"), text).unwrap();
    ok(dir.path(), &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    let out = load(dir.path(), &[]);
    assert!(out.contains("year=1980") && out.contains("removed (no longer staged)"), "{out}");
    let db = dir.path().join("v.duckdb");
    assert_eq!(scalar(&db, "SELECT count(*) FROM violations WHERE year = 1980"), 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM pqstage.load_state WHERE partition_path = 'year=1980'"), 0);
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&dir.path().join("stage")));
}

/// Joins physical lines into CSV records (quoted newlines stay inside a record).
fn split_records(lines: &[&str]) -> Vec<String> {
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

#[test]
fn a_killed_load_leaves_the_previous_table() {
    let dir = staged_sample(3_000);
    load(dir.path(), &[]);
    let db = dir.path().join("v.duckdb");
    let before = per_year(&db, "violations");

    // A bigger dataset, then kill -9 the load once DuckDB has started writing it.
    sample(dir.path(), 1_500_000, "v.csv");
    ok(dir.path(), &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let start_size = size(&db) + size(&dir.path().join("v.duckdb.wal"));
    let mut child = crate::util::cmd(dir.path())
        .args(["load", "duckdb", "stage", "--db", "v.duckdb", "--no-progress"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let grown = size(&db) + size(&dir.path().join("v.duckdb.wal"));
        if grown > start_size + (8 << 20) {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the load finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the load never started writing");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());

    assert_eq!(per_year(&db, "violations"), before, "the previous table, untouched");
    let out = load(dir.path(), &[]);
    assert!(out.contains("(1,500,000 rows)"), "{out}");
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&dir.path().join("stage")));
}

#[test]
fn a_conflicting_table_is_refused() {
    let dir = staged_sample(1_000);
    let db = dir.path().join("v.duckdb");
    {
        let conn = duckdb::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE violations AS SELECT 'x' AS agency, 'not a number' AS activity_nr").unwrap();
    }
    let o = run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "table main.violations conflicts with the staged spec at column activity_nr: the table has VARCHAR, the spec says BIGINT"
        ),
        "{err}"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM violations"), 1, "the table is left alone");
}

#[test]
fn a_locked_database_is_refused_clearly() {
    let dir = staged_sample(1_000);
    let db = dir.path().join("v.duckdb");
    let holder = duckdb::Connection::open(&db).unwrap();
    holder.execute_batch("CREATE TABLE other (x INTEGER)").unwrap();
    let o = run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("DuckDB file v.duckdb is in use by another process"), "{err}");
    assert!(err.contains(&format!("PID {}", std::process::id())), "DuckDB's own detail names the holder: {err}");
    drop(holder);
    load(dir.path(), &[]);
}

#[test]
fn missing_and_corrupt_parquet_files_are_named() {
    let dir = staged_sample(2_000);
    let stage = dir.path().join("stage/violations");
    let m = manifest(&dir.path().join("stage"), "violations");
    let first = m["tables"][0]["partitions"][0]["files"][0]["path"].as_str().unwrap().to_string();
    let path = stage.join(&first);
    let bytes = std::fs::read(&path).unwrap();

    // Same size, one byte changed: the checksum catches it.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0xff;
    std::fs::write(&path, &flipped).unwrap();
    let o = run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("staged file {} is corrupt: its checksum is not the manifest's", path.display())),
        "{err}"
    );

    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let err =
        String::from_utf8_lossy(&run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb"]).stderr).to_string();
    assert!(err.contains(&format!("{} bytes, the manifest says {}", bytes.len() - 10, bytes.len())), "{err}");

    std::fs::remove_file(&path).unwrap();
    let err =
        String::from_utf8_lossy(&run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb"]).stderr).to_string();
    assert!(err.contains(&format!("staged file {} is missing", path.display())), "{err}");
    let db = dir.path().join("v.duckdb");
    assert!(
        query(&db, "SELECT * FROM duckdb_tables() WHERE table_name = 'violations'").is_empty(),
        "nothing committed"
    );
}

#[test]
fn rows_that_disagree_with_the_manifest_fail_with_exit_1() {
    let dir = staged_sample(2_000);
    load(dir.path(), &[]);
    // Claim one more row in the first partition than its file holds, keeping
    // the manifest's own sums consistent, and force a reload.
    let name = claim_one_more_row(dir.path());

    let db = dir.path().join("v.duckdb");
    let before = per_year(&db, "violations");
    let o = run(dir.path(), &["load", "duckdb", "stage", "--db", "v.duckdb", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("partition {name} holds")) && err.contains("nothing was committed"), "{err}");
    assert_eq!(per_year(&db, "violations"), before);
}

#[test]
fn summary_prints_the_named_queries() {
    let dir = staged_sample(50_000);
    load(dir.path(), &[]);
    let db = dir.path().join("v.duckdb");
    let out = ok(dir.path(), &["summary", "--db", "v.duckdb", "--table", "violations"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Per year: violations, total and mean current penalty, distinct companies (violations)");
    assert!(lines[1].starts_with("year  violations"), "{out}");
    // Every year's count is printed, aligned to the right of its header.
    let header_end = lines[1].find("violations").unwrap() + "violations".len();
    for (year, n) in per_year(&db, "violations") {
        let formatted = group(n);
        let line =
            lines.iter().find(|l| l.starts_with(&format!("{year} "))).unwrap_or_else(|| panic!("{year} in {out}"));
        assert_eq!(&line[header_end - formatted.len()..header_end], formatted, "{line}");
    }
    assert!(lines.iter().any(|l| l.starts_with("NULL ")), "the NULL year has its own line: {out}");
    let top = lines.iter().position(|l| l.starts_with("The ten companies")).unwrap();
    assert_eq!(lines.len() - top, 3 + 10, "title, header, rule and ten companies: {out}");
}

/// 12345 → "12,345".
fn group(n: i64) -> String {
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

#[test]
fn a_database_file_named_like_a_schema_works() {
    // The file's name is DuckDB's catalog name: `pqstage.duckdb` and
    // `main.duckdb` collide with the schemas pqstage uses unless qualified.
    let dir = staged_sample(1_000);
    for db in ["pqstage.duckdb", "main.duckdb"] {
        let out = ok(dir.path(), &["load", "duckdb", "stage", "--db", db, "--table", "main.violations"]);
        assert!(out.contains("(1,000 rows)"), "{db}: {out}");
        let out = ok(dir.path(), &["load", "duckdb", "stage", "--db", db, "--table", "main.violations"]);
        assert!(out.contains("partitions unchanged, skipped"), "{db}: {out}");
        let out = ok(dir.path(), &["summary", "--db", db, "--table", "main.violations"]);
        assert!(out.contains("year  violations"), "{db}: {out}");
    }
}
