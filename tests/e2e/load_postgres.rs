//! `pqstage load postgres` against a real PostgreSQL (started by `make test`,
//! named by PQSTAGE_PG_URL). Each test loads its own table.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::load_common::{self as common, Target, TYPES_ALIKE, TYPES_ROWS};
use crate::util::{fixtures, manifest_per_year, ok, run, staged_sample};

pub(crate) fn url() -> String {
    std::env::var("PQSTAGE_PG_URL").expect(
        "PQSTAGE_PG_URL is not set: run `make test` (it starts a throwaway PostgreSQL), \
         or `make pg-up` and export the URL it prints",
    )
}

fn client() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls).expect("PostgreSQL is reachable")
}

/// Rows per year of `table`, as text ("NULL" for the NULL key), in key order.
pub(crate) fn per_year(table: &str) -> Vec<(String, i64)> {
    client()
        .query(&format!("SELECT year::text, count(*) FROM {table} GROUP BY year ORDER BY year NULLS LAST"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, Option<String>>(0).unwrap_or_else(|| "NULL".into()), r.get(1)))
        .collect()
}

/// A table of the test server.
struct Pg(&'static str);

impl Target for Pg {
    fn args(&self, _dir: &Path, extra: &[&str]) -> Vec<String> {
        let url = url();
        let base = ["load", "postgres", "stage", "--db", &url, "--table", self.0, "--no-progress"];
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    }
    fn per_year(&self, _dir: &Path) -> Vec<(String, i64)> {
        per_year(self.0)
    }
    fn year_of(&self, _dir: &Path, id: &str) -> Option<String> {
        let q = format!("SELECT year::text FROM {} WHERE citation_id = $1", self.0);
        client().query_opt(&q, &[&id]).unwrap().map(|r| r.get(0))
    }
    fn recorded_checksum(&self, _dir: &Path, year: &str) -> String {
        let year: i64 = year.parse().unwrap();
        client()
            .query_one(
                "SELECT checksum FROM pqstage.load_state WHERE table_name = $1 AND partition_value = $2",
                &[&self.0, &year],
            )
            .unwrap()
            .get(0)
    }
}

fn load(dir: &Path, table: &'static str, extra: &[&str]) -> String {
    common::load(&Pg(table), dir, extra)
}

/// Tables whose name ends in `_load`: what a failed load must not leave behind.
fn orphans(table: &str) -> Vec<String> {
    client()
        .query(
            "SELECT relname::text FROM pg_class WHERE relname LIKE $1 AND relkind = 'r'",
            &[&format!("{table}%_load")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Drops what an earlier run of a test left in the server (a named server may
/// outlive `make test`).
pub(crate) fn fresh(table: &str) {
    let mut c = client();
    c.batch_execute(&format!("DROP TABLE IF EXISTS {table} CASCADE")).unwrap();
    let _ = c.execute("DELETE FROM pqstage.load_state WHERE table_name = $1", &[&table]);
}

#[test]
fn every_type_round_trips() {
    fresh("pg_types");
    let dir = fixtures();
    ok(dir.path(), &["convert", "types.csv", "--spec", "types.toml", "--to", "stage", "--no-progress"]);
    let out = load(dir.path(), "pg_types", &[]);
    assert!(out.starts_with("loaded 5 partitions (5 rows) into \"public\".\"pg_types\" (created)"), "{out}");
    let mut c = client();
    let types: Vec<String> = c
        .query(
            "SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END \
             FROM pg_attribute WHERE attrelid = 'pg_types'::regclass AND attnum > 0 ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        types,
        [
            "id integer not null",
            "b boolean",
            "i16 smallint",
            "i64 bigint",
            "f double precision",
            "d numeric(38,10)",
            "money numeric(12,2)",
            "day date",
            "ts timestamp without time zone",
            "tz timestamp with time zone",
            "t text",
            "year integer",
        ]
    );
    c.batch_execute("SET TimeZone = 'UTC'").unwrap();
    let alike: Vec<String> = TYPES_ALIKE.iter().map(|c| format!("{c}::text")).collect();
    let q = format!("SELECT {}, f::text, tz::text FROM pg_types ORDER BY id", alike.join(", "));
    let rows: Vec<Vec<Option<String>>> =
        c.query(&q, &[]).unwrap().iter().map(|r| (0..12).map(|i| r.get(i)).collect()).collect();
    let row = |i: usize| rows[i].iter().map(|v| v.as_deref().unwrap_or("NULL")).collect::<Vec<_>>();
    for (i, want) in TYPES_ROWS.iter().enumerate() {
        assert_eq!(row(i)[..10], want[..], "row {i}");
    }
    // f and tz as PostgreSQL prints them (in UTC).
    assert_eq!(row(0)[10..], ["NaN", "1969-12-31 23:59:59.999999+00"]);
    assert_eq!(row(1)[10..], ["Infinity", "2038-01-19 01:14:08+00"]);
    assert_eq!(row(2)[10..], ["NULL", "NULL"]);
    assert_eq!((row(3)[10], row(3)[8]), ("-Infinity", "two\nlines, 00501"));
    assert_eq!((row(4)[11], row(4)[8]), ("1969-07-21 01:17:40+00", "  spaced  "));
    // The NULL date went to the DEFAULT partition.
    let default: String = c
        .query_one(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'pg_types'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(default, "pg_types_pnull");
}

#[test]
fn rerun_skips_and_a_correction_patches_one_year() {
    fresh("pg_rerun");
    common::rerun_skips_and_a_correction_patches_one_year(&Pg("pg_rerun"), "\"public\".\"pg_rerun\"");
}

/// Partitions of `table` with and without a manual ANALYZE (autovacuum's
/// own analyses are counted apart by the server, so they cannot interfere).
fn analysed(table: &str) -> (i64, i64) {
    let r = client()
        .query_one(
            "SELECT count(*) FILTER (WHERE s.last_analyze IS NOT NULL), count(*) FILTER (WHERE s.last_analyze IS NULL) \
             FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid WHERE i.inhparent = to_regclass($1)",
            &[&table],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn no_analyze_leaves_statistics_to_autovacuum_and_loads_the_same_rows() {
    fresh("pg_analyzed");
    fresh("pg_unanalyzed");
    let dir = staged_sample(5_000);
    let stage = dir.path().join("stage");
    let parts = manifest_per_year(&stage).len() as i64;
    load(dir.path(), "pg_analyzed", &[]);
    load(dir.path(), "pg_unanalyzed", &["--no-analyze"]);
    assert_eq!(analysed("pg_analyzed"), (parts, 0));
    assert_eq!(analysed("pg_unanalyzed"), (0, parts));
    assert_eq!(per_year("pg_unanalyzed"), manifest_per_year(&stage));
    // The rerun's row check does not depend on statistics.
    let out = load(dir.path(), "pg_unanalyzed", &["--no-analyze"]);
    assert!(out.starts_with(&format!("{parts} partitions unchanged, skipped")), "{out}");
}

#[test]
fn a_dropped_or_changed_partition_is_reloaded_although_its_checksum_matches() {
    fresh("pg_repair");
    let dir = staged_sample(5_000);
    load(dir.path(), "pg_repair", &[]);
    // The session ends before the load (its statistics are flushed then; a
    // still-open session flushes them within about a second of going idle).
    client()
        .batch_execute("DROP TABLE pg_repair_p1990; DELETE FROM pg_repair WHERE year = 2000 AND activity_nr % 2 = 0")
        .unwrap();
    let out = load(dir.path(), "pg_repair", &[]);
    assert!(out.starts_with("loaded 2 partitions"), "{out}");
    assert!(out.contains("year=1990") && out.contains("loaded (new)"), "{out}");
    assert!(out.contains("year=2000") && out.contains("reloaded: the table holds"), "{out}");
    assert_eq!(per_year("pg_repair"), manifest_per_year(&dir.path().join("stage")));
}

#[test]
fn a_killed_load_resumes_and_leaves_no_orphans() {
    fresh("pg_kill");
    let dir = staged_sample(400_000);
    let url = url();
    let mut child = crate::util::cmd(dir.path())
        .args(["load", "postgres", "stage", "--db", &url, "--table", "pg_kill", "--jobs", "1", "--no-progress"])
        .spawn()
        .unwrap();
    // Kill -9 once a few years are committed and more are to come.
    let started = Instant::now();
    loop {
        let done: i64 = client()
            .query_one("SELECT count(*) FROM pqstage.load_state WHERE table_name = 'pg_kill'", &[])
            .map_or(0, |r| r.get(0));
        if done >= 3 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the load finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(120), "no partition was committed");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The killed transaction is rolled back by the server: no half table.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !orphans("pg_kill").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(orphans("pg_kill"), Vec::<String>::new());
    let committed: i64 =
        client().query_one("SELECT count(*) FROM pqstage.load_state WHERE table_name = 'pg_kill'", &[]).unwrap().get(0);
    let parts = manifest_per_year(&dir.path().join("stage")).len() as i64;
    assert!(committed < parts, "the kill came before the end");

    let out = load(dir.path(), "pg_kill", &[]);
    assert!(out.starts_with(&format!("loaded {} partitions", parts - committed)), "{out}");
    assert!(out.contains(&format!("{committed} unchanged, skipped")), "{out}");
    assert_eq!(per_year("pg_kill"), manifest_per_year(&dir.path().join("stage")));
}

#[test]
fn a_terminated_backend_fails_cleanly_and_the_rerun_finishes() {
    fresh("pg_term");
    let dir = staged_sample(400_000);
    let url = url();
    let child = crate::util::cmd(dir.path())
        .args(["load", "postgres", "stage", "--db", &url, "--table", "pg_term", "--jobs", "1", "--no-progress"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Terminate the backend that is copying into a _load table.
    let started = Instant::now();
    loop {
        let n: i64 = client()
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND state = 'active' \
                   AND query LIKE '%COPY \"public\".\"pg_term_p%_load\"%'",
                &[],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "never saw the COPY");
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pqstage: error: PostgreSQL:"), "{err}");
    assert_eq!(orphans("pg_term"), Vec::<String>::new());
    load(dir.path(), "pg_term", &[]);
    assert_eq!(per_year("pg_term"), manifest_per_year(&dir.path().join("stage")));
}

#[test]
fn readers_see_the_old_year_or_the_new_one_never_a_gap() {
    fresh("pg_swap");
    let dir = staged_sample(200_000);
    load(dir.path(), "pg_swap", &[]);
    let before = per_year("pg_swap");
    let expected: std::collections::BTreeMap<String, i64> = before.iter().cloned().collect();

    // Readers count every year while a forced reload swaps each one.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = client();
            let mut seen = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let rows = c.query("SELECT year::text, count(*) FROM pg_swap GROUP BY year", &[]).unwrap();
                let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
                assert_eq!(total, 200_000, "a reader saw {total} rows");
                for r in &rows {
                    let y: Option<String> = r.get(0);
                    let y = y.unwrap_or_else(|| "NULL".into());
                    assert_eq!(Some(&r.get::<_, i64>(1)), expected.get(&y), "year {y}");
                }
                seen += 1;
            }
            seen
        })
    };
    let out = load(dir.path(), "pg_swap", &["--force"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().expect("no reader saw a missing or partial year");
    assert!(reads > 5, "the readers ran during the load ({reads} reads)");
    assert!(out.contains("reloaded (--force)"), "{out}");
    assert_eq!(per_year("pg_swap"), before);
}

#[test]
fn errors_are_clear() {
    fresh("pg_conflict");
    fresh("pg_count");
    let dir = staged_sample(1_000);
    // A table whose columns conflict with the spec.
    client().batch_execute("CREATE TABLE public.pg_conflict (agency text, activity_nr text)").unwrap();
    let url = url();
    let o = run(dir.path(), &["load", "postgres", "stage", "--db", &url, "--table", "pg_conflict"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "table \"public\".\"pg_conflict\" conflicts with the staged spec at column activity_nr: the table has text, the spec says bigint"
        ),
        "{err}"
    );

    // Nothing listens on this port.
    let o = run(dir.path(), &["load", "postgres", "stage", "--db", "postgres://pqstage@127.0.0.1:9/x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot reach PostgreSQL at 127.0.0.1:9/x"), "{err}");

    // A role the server does not know.
    let bad_user = url.replacen("pqtest@", "nobody_here@", 1);
    let o = run(dir.path(), &["load", "postgres", "stage", "--db", &bad_user]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refused user nobody_here"), "{err}");

    // A staged file changed after convert: named, and its year is not loaded.
    let (first, bytes) = common::a_corrupt_staged_file_is_named(&Pg("pg_count"), dir.path(), &["--jobs", "1"]);
    std::fs::write(&first, &bytes).unwrap();
    fresh("pg_count");

    // Rows that disagree with the manifest: exit 1, partition named, rolled back.
    common::rows_that_disagree_fail_with_exit_1(
        &Pg("pg_count"),
        dir.path(),
        &["--jobs", "1"],
        "received",
        "rolled back",
    );
    assert_eq!(orphans("pg_count"), Vec::<String>::new());
}
