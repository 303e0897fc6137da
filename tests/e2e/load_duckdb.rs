//! `pqstage load duckdb` and `pqstage summary` against real DuckDB files.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::load_common::{self as common, reconvert, records, Target, TYPES_ALIKE, TYPES_ROWS};
use crate::util::{fixtures, group, manifest_per_year, ok, run, sample, staged_sample};

/// Every row of `sql` run against the DuckDB file, each value cast to text.
pub(crate) fn query(db: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
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
pub(crate) fn scalar(db: &Path, sql: &str) -> i64 {
    query(db, sql)[0][0].as_deref().unwrap().parse().unwrap()
}

/// Rows per year in the table, as text ("NULL" for the NULL key).
pub(crate) fn per_year(db: &Path, table: &str) -> Vec<(String, i64)> {
    query(db, &format!("SELECT year, count(*) FROM {table} GROUP BY ALL ORDER BY 1 NULLS LAST"))
        .into_iter()
        .map(|r| (r[0].clone().unwrap_or_else(|| "NULL".into()), r[1].as_deref().unwrap().parse().unwrap()))
        .collect()
}

/// The table `violations` of `v.duckdb` in the test's folder.
struct Duck;

impl Target for Duck {
    fn args(&self, _dir: &Path, extra: &[&str]) -> Vec<String> {
        let base = ["load", "duckdb", "stage", "--db", "v.duckdb", "--no-progress"];
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    }
    fn per_year(&self, dir: &Path) -> Vec<(String, i64)> {
        per_year(&dir.join("v.duckdb"), "violations")
    }
    fn year_of(&self, dir: &Path, id: &str) -> Option<String> {
        let q = format!("SELECT year FROM violations WHERE citation_id = '{id}'");
        query(&dir.join("v.duckdb"), &q).into_iter().next().and_then(|r| r[0].clone())
    }
    fn recorded_checksum(&self, dir: &Path, year: &str) -> String {
        let q = format!("SELECT checksum FROM pqstage.load_state WHERE partition_path = 'year=' || {year}");
        query(&dir.join("v.duckdb"), &q)[0][0].clone().unwrap()
    }
}

fn load(dir: &Path, extra: &[&str]) -> String {
    common::load(&Duck, dir, extra)
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

    let rows =
        query(&db, &format!("SELECT {}, f, epoch_us(tz) AS tz_us FROM types ORDER BY id", TYPES_ALIKE.join(", ")));
    let row = |i: usize| rows[i].iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>();
    for (i, want) in TYPES_ROWS.iter().enumerate() {
        assert_eq!(row(i)[..10], want[..], "row {i}");
    }
    // f and tz as DuckDB prints them (tz as microseconds since the epoch).
    assert_eq!(row(0)[10..], ["nan", "-1"]);
    assert_eq!(row(1)[10..], ["inf", "2147476448000000"]);
    assert_eq!(row(2)[10..], ["NULL", "NULL"]);
    assert_eq!(row(3)[8], "two\nlines, 00501");
    assert_eq!(row(3)[10], "-inf");
    assert_eq!(row(4)[8], "  spaced  ");
    assert_eq!(row(4)[7], "1969-07-20 20:17:40.5");
    assert_eq!(row(4)[11], "-14164940000000");
}

#[test]
fn rerun_skips_unchanged_and_a_correction_patches_one_year() {
    let dir = common::rerun_skips_and_a_correction_patches_one_year(&Duck, "\"main\".\"violations\"");
    let db = dir.path().join("v.duckdb");
    let stage = dir.path().join("stage");
    let parts = manifest_per_year(&stage).len();

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
    let kept: Vec<String> = records(dir.path()).into_iter().filter(|r| !r.contains(",1980-")).collect();
    reconvert(dir.path(), &kept);
    let out = load(dir.path(), &[]);
    assert!(out.contains("year=1980") && out.contains("removed (no longer staged)"), "{out}");
    let db = dir.path().join("v.duckdb");
    assert_eq!(scalar(&db, "SELECT count(*) FROM violations WHERE year = 1980"), 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM pqstage.load_state WHERE partition_path = 'year=1980'"), 0);
    assert_eq!(per_year(&db, "violations"), manifest_per_year(&dir.path().join("stage")));
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
    // Same size, one byte changed: the checksum catches it.
    let (path, bytes) = common::a_corrupt_staged_file_is_named(&Duck, dir.path(), &[]);

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
    let db = dir.path().join("v.duckdb");
    let before = per_year(&db, "violations");
    // A forced reload of a manifest that claims one more row than its file holds.
    common::rows_that_disagree_fail_with_exit_1(&Duck, dir.path(), &["--force"], "holds", "nothing was committed");
    assert_eq!(per_year(&db, "violations"), before);
}

#[test]
fn summary_prints_the_named_queries() {
    let dir = staged_sample(50_000);
    load(dir.path(), &[]);
    let db = dir.path().join("v.duckdb");
    let out = ok(dir.path(), &["summary", "--db", "v.duckdb", "--table", "violations"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Per year: violations, total and mean current penalty (violations)");
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

#[test]
fn an_unpartitioned_table_is_one_unit_that_can_be_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sample(d, 2_000, "v.csv");
    let spec = std::fs::read_to_string(d.join("violations.toml")).unwrap();
    std::fs::write(d.join("flat.toml"), &spec[..spec.find("[partition]").unwrap()]).unwrap();
    let convert =
        |csv: &str| ok(d, &["convert", csv, "--spec", "flat.toml", "--to", "stage", "--rejects", "--no-progress"]);
    convert("v.csv");

    // --years needs partitions: refused before the database file is made.
    let o = run(d, &["load", "duckdb", "stage", "--db", "other.duckdb", "--years", "1990"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--years: table violations is not partitioned"), "{err}");
    assert!(!d.join("other.duckdb").exists(), "a refused load leaves no database file");

    let out = load(d, &[]);
    assert!(out.starts_with("loaded 1 partitions (2,000 rows) into \"main\".\"violations\" (created)"), "{out}");
    // A new dump whose only row is refused: the one unit is emptied.
    let header = records(d).remove(0);
    std::fs::write(d.join("bad.csv"), header + "OSHA,not-a-number\n").unwrap();
    convert("bad.csv");
    let out = load(d, &[]);
    assert!(
        out.starts_with("loaded 0 partitions (0 rows) into \"main\".\"violations\", 1 removed; it holds 0 rows"),
        "{out}"
    );
    assert!(out.contains("(all rows)") && out.contains("removed (no longer staged)"), "{out}");
    let db = d.join("v.duckdb");
    assert_eq!(scalar(&db, "SELECT count(*) FROM pqstage.load_state WHERE table_name = 'violations'"), 0);
    let out = load(d, &[]);
    assert!(out.starts_with("0 partitions unchanged, skipped; \"main\".\"violations\" holds 0 rows"), "{out}");
}
