//! Sources that change: a dataset converted again from a later dump keeps
//! per-partition change sets, and both loaders apply them row by row. Each
//! incrementally loaded table is compared, row for row, with a fresh load of
//! the same staged version.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::load_postgres::url;
use crate::util::{cmd, files, manifest, ok, run, walk};

pub(crate) fn client() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls).expect("PostgreSQL is reachable")
}

/// `sample violations` of `rows` records, as revision `revision`, into `name`.
pub(crate) fn dump(d: &Path, rows: u64, revision: u64, name: &str) {
    let (rows, revision) = (rows.to_string(), revision.to_string());
    ok(d, &["sample", "violations", "--rows", &rows, "--revision", &revision, "--out", name, "--spec-out", "v.toml"]);
}

pub(crate) fn convert(d: &Path, csv: &str, extra: &[&str]) -> String {
    let mut args = vec!["convert", csv, "--spec", "v.toml", "--to", "stage", "--no-progress"];
    args.extend(extra);
    ok(d, &args)
}

pub(crate) fn load_duck(d: &Path, db: &str) -> String {
    ok(d, &["load", "duckdb", "stage", "--db", db, "--no-progress", "-v"])
}

pub(crate) fn load_pg(d: &Path, table: &str, extra: &[&str]) -> String {
    let url = url();
    let mut args = vec!["load", "postgres", "stage", "--db", &url, "--table", table, "--no-progress", "-v"];
    args.extend(extra);
    ok(d, &args)
}

pub(crate) fn fresh_pg(tables: &[&str]) {
    let mut c = client();
    let state: Option<String> = c.query_one("SELECT to_regclass('pqstage.load_state')::text", &[]).unwrap().get(0);
    for t in tables {
        // Summaries are tables of their own (earlier, views the CASCADE took).
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS {t} CASCADE; DROP TABLE IF EXISTS {t}_by_year, {t}_top_companies"
        ))
        .unwrap();
        if state.is_some() {
            c.execute("DELETE FROM pqstage.load_state WHERE table_name = $1", &[t]).unwrap();
        }
    }
}

/// Rows of `a` not in `b` and of `b` not in `a` (as multisets), in DuckDB files.
pub(crate) fn duck_difference(d: &Path, a: &str, b: &str) -> (i64, i64, i64) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    for (file, alias) in [(a, "a"), (b, "b")] {
        let path = d.join(file).display().to_string();
        conn.execute_batch(&format!("ATTACH '{path}' AS {alias} (READ_ONLY)")).unwrap();
    }
    let q = "SELECT (SELECT count(*) FROM (FROM a.violations EXCEPT ALL FROM b.violations)), \
             (SELECT count(*) FROM (FROM b.violations EXCEPT ALL FROM a.violations)), \
             (SELECT count(*) FROM a.violations)";
    conn.query_row(q, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap()
}

/// The same for two PostgreSQL tables.
pub(crate) fn pg_difference(a: &str, b: &str) -> (i64, i64, i64) {
    let q = format!(
        "SELECT (SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) x), \
         (SELECT count(*) FROM (TABLE {b} EXCEPT ALL TABLE {a}) y), (SELECT count(*) FROM {a})"
    );
    let r = client().query_one(&q, &[]).unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Inserted, updated and deleted rows of the change sets of `version`.
pub(crate) fn change_totals(d: &Path, version: u64) -> (u64, u64, u64) {
    let m = manifest(&d.join("stage"), "violations");
    let mut t = (0, 0, 0);
    for c in m["tables"][0]["changes"].as_array().unwrap().iter().filter(|c| c["version"] == version) {
        t.0 += c["inserted"]["rows"].as_u64().unwrap();
        t.1 += c["updated"]["rows"].as_u64().unwrap();
        t.2 += c["deleted"]["rows"].as_u64().unwrap();
    }
    t
}

fn rows(n: (u64, u64, u64)) -> String {
    let g = |v: u64| crate::util::group(v as i64);
    format!("({} inserted, {} updated, {} deleted rows)", g(n.0), g(n.1), g(n.2))
}

/// A folder with dumps `r0.csv`.. `r{revisions - 1}.csv` of `rows` records,
/// the first converted into `stage` and loaded into `inc.duckdb` and into
/// the PostgreSQL table `tables[0]` (every table of `tables` dropped first).
pub(crate) fn first_dump_loaded(rows: u64, revisions: u64, tables: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(tables);
    for r in 0..revisions {
        dump(d, rows, r, &format!("r{r}.csv"));
    }
    convert(d, "r0.csv", &[]);
    load_duck(d, "inc.duckdb");
    load_pg(d, tables[0], &[]);
    dir
}

#[test]
fn later_dumps_are_applied_row_by_row_and_equal_a_fresh_load_in_both_engines() {
    let dir = first_dump_loaded(30_000, 3, &["chg_inc", "chg_fresh"]);
    let d = dir.path();

    // A later dump: about 1 % of the records corrected, some moved to the
    // year before, 0.2 % gone and 0.5 % added.
    let out = convert(d, "r1.csv", &[]);
    let v2 = change_totals(d, 2);
    assert!(v2.0 >= 150 && v2.1 >= 200 && v2.2 >= 60, "{v2:?}");
    assert!(out.contains(&format!("version 2: {} inserted, {} updated, {} deleted rows", v2.0, v2.1, v2.2)), "{out}");
    let duck = load_duck(d, "inc.duckdb");
    let pg = load_pg(d, "chg_inc", &[]);
    for out in [&duck, &pg] {
        assert!(out.contains(&rows(v2)), "{out}");
        assert!(out.contains("changes applied (version 1 to 2)"), "{out}");
        assert!(!out.contains("loaded (changed)") && !out.contains("reloaded"), "{out}");
    }
    load_duck(d, "fresh.duckdb");
    load_pg(d, "chg_fresh", &[]);
    let staged = manifest(&d.join("stage"), "violations")["tables"][0]["rows_written"].as_i64().unwrap();
    assert_eq!(duck_difference(d, "inc.duckdb", "fresh.duckdb"), (0, 0, staged));
    assert_eq!(pg_difference("chg_inc", "chg_fresh"), (0, 0, staged));

    // Two versions later (another dump, then the first one again): the
    // targets apply both change sets in order, PostgreSQL with ON CONFLICT.
    convert(d, "r2.csv", &[]);
    convert(d, "r0.csv", &[]);
    let duck = load_duck(d, "inc.duckdb");
    let pg = load_pg(d, "chg_inc", &["--upsert", "on-conflict"]);
    for out in [&duck, &pg] {
        assert!(out.contains("changes applied (version 2 to 4)"), "{out}");
    }
    fresh_pg(&["chg_fresh"]);
    std::fs::remove_file(d.join("fresh.duckdb")).unwrap();
    load_duck(d, "fresh.duckdb");
    load_pg(d, "chg_fresh", &[]);
    assert_eq!(duck_difference(d, "inc.duckdb", "fresh.duckdb"), (0, 0, 30_000));
    assert_eq!(pg_difference("chg_inc", "chg_fresh"), (0, 0, 30_000));

    // A rerun changes nothing.
    for out in [load_duck(d, "inc.duckdb"), load_pg(d, "chg_inc", &[])] {
        assert!(out.contains("partitions unchanged, skipped"), "{out}");
    }
}

/// A dump of the sample's columns with `n` records half of which have no
/// issuance date (the NULL partition) and half one in 2020, changed by
/// `change` (record number, issuance date, current penalty; None drops it).
fn null_year_dump(d: &Path, name: &str, n: u64, change: impl Fn(u64, &str, u64) -> Option<(String, u64)>) {
    let mut csv = String::from(
        "agency,activity_nr,citation_id,company_name,site_address,site_city,site_state,site_zip,naics_code,\
         standard,viol_type,issuance_date,abate_date,current_penalty,initial_penalty,nr_instances,nr_exposed,\
         gravity,emphasis,delete_flag,load_dt\n",
    );
    for i in 0..n {
        let date = if i % 2 == 0 { "" } else { "2020-01-15" };
        if let Some((date, penalty)) = change(i, date, i) {
            csv += &format!(
                "OSHA,{},01001,ACME {i},,,,,,,,{date},,{penalty}.00,,,,,,,2020-02-01 00:00:00\n",
                900_000_000 + i
            );
        }
    }
    std::fs::write(d.join(name), csv).unwrap();
}

/// Each way of writing the staged rows (`--upsert`) gives the table a fresh
/// load of the same version gives, in the NULL partition too (which ON
/// CONFLICT cannot search through the key's index: the rows found there are
/// written through their addresses).
#[test]
fn every_way_of_writing_the_changes_gives_the_fresh_load() {
    let ways = ["update-insert", "merge", "on-conflict", "delete-insert"];
    let tables: Vec<String> = ways.iter().map(|w| format!("chg_way_{}", w.replace('-', "_"))).collect();
    let mut all: Vec<&str> = tables.iter().map(String::as_str).collect();
    all.push("chg_way_fresh");
    fresh_pg(&all);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["sample", "violations", "--spec-out", "v.toml"]);
    null_year_dump(d, "r0.csv", 200, |_, date, p| Some((date.to_string(), p)));
    // In each partition: updates, deletes, inserts, and a record moved to
    // the other one.
    null_year_dump(d, "r1.csv", 208, |i, date, p| match i {
        0..=7 => Some((date.to_string(), p + 1)),
        8..=13 => None,
        14 => Some(("2020-03-01".into(), p)),
        15 => Some((String::new(), p)),
        200.. => Some((date.to_string(), p)),
        _ => Some((date.to_string(), p)),
    });
    convert(d, "r0.csv", &[]);
    for t in &tables {
        load_pg(d, t, &[]);
    }
    convert(d, "r1.csv", &[]);
    // Per partition: 4 updated, 3 deleted, 4 inserted, and one moved out
    // (a delete) and one moved in (an insert).
    assert_eq!(change_totals(d, 2), (10, 8, 8));
    // By hand, in one table's NULL partition (which the key's unique index
    // does not cover): a key the change set updates twice, and another one
    // gone, so the rows under its updated keys still count 4. That
    // partition is reloaded whole, with a note, not patched.
    let hand = &tables[3];
    client()
        .batch_execute(&format!(
            "INSERT INTO {hand} SELECT * FROM {hand} WHERE activity_nr = 900000000; \
             DELETE FROM {hand} WHERE activity_nr = 900000002"
        ))
        .unwrap();
    for (way, table) in ways.iter().zip(&tables) {
        let out = load_pg(d, table, &["--upsert", way]);
        let null = out.lines().find(|l| l.contains("year=__HIVE_DEFAULT_PARTITION__")).unwrap_or_default();
        if table == hand {
            assert!(null.contains("1 of the keys version 2 updates name more than one row"), "{out}");
            continue;
        }
        assert!(out.contains(&rows((10, 8, 8))), "{way}: {out}");
        assert!(null.contains("changes applied (version 1 to 2): 5 inserted, 4 updated, 4 deleted"), "{way}: {out}");
    }
    load_pg(d, "chg_way_fresh", &[]);
    for (way, table) in ways.iter().zip(&tables) {
        assert_eq!(pg_difference(table, "chg_way_fresh"), (0, 0, 202), "{way}");
    }
}

/// A partition (not the NULL one) with `kind` ("updated" or "inserted")
/// rows in `version`'s change sets, and the key of the first such row.
fn a_changed_key(d: &Path, version: u64, kind: &str) -> (String, i64, String) {
    let m = manifest(&d.join("stage"), "violations");
    let c = m["tables"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["version"] == version && c[kind]["rows"].as_u64().unwrap() > 0 && c["value"].is_i64())
        .unwrap_or_else(|| panic!("a partition with {kind} rows"));
    let path = d.join("stage/violations").join(c[kind]["files"][0]["path"].as_str().unwrap());
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let q = format!("SELECT activity_nr, citation_id FROM read_parquet('{}') LIMIT 1", path.display());
    let (nr, id) = conn.query_row(&q, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    (c["partition"].as_str().unwrap().to_string(), nr, id)
}

/// The line of `out` that reports `partition`.
fn partition_line<'o>(out: &'o str, partition: &str) -> &'o str {
    out.lines().find(|l| l.trim_start().starts_with(&format!("{partition} "))).unwrap_or_default()
}

#[test]
fn a_partition_changed_by_hand_is_reloaded_whole_with_a_note() {
    let tables = ["chg_hand", "chg_hand_fresh", "chg_hand_ins", "chg_hand_ins_merge"];
    let dir = first_dump_loaded(20_000, 3, &tables);
    let d = dir.path();
    load_pg(d, "chg_hand_ins", &[]);
    load_pg(d, "chg_hand_ins_merge", &[]);
    convert(d, "r1.csv", &[]);
    // By hand, in both targets: a row the change set updates gets another
    // key (the row count stays), so that partition no longer holds version 1.
    let (part, nr, id) = a_changed_key(d, 2, "updated");
    let mut pg = client();
    let n = pg
        .execute("UPDATE chg_hand SET citation_id = 'BYHAND' WHERE activity_nr = $1 AND citation_id = $2", &[&nr, &id])
        .unwrap();
    assert_eq!(n, 1);
    let conn = duckdb::Connection::open(d.join("inc.duckdb")).unwrap();
    let sql = format!("UPDATE violations SET citation_id = 'BYHAND' WHERE activity_nr = {nr} AND citation_id = '{id}'");
    assert_eq!(conn.execute(&sql, []).unwrap(), 1);
    drop(conn);

    let duck = load_duck(d, "inc.duckdb");
    let pg_out = load_pg(d, "chg_hand", &["--upsert", "delete-insert"]);
    for out in [&duck, &pg_out] {
        assert!(partition_line(out, &part).contains("reloaded whole: it held"), "{out}");
        assert!(out.contains("changes applied (version 1 to 2)"), "the other partitions are patched: {out}");
    }
    load_duck(d, "fresh.duckdb");
    load_pg(d, "chg_hand_fresh", &[]);
    assert_eq!(duck_difference(d, "inc.duckdb", "fresh.duckdb").0, 0);
    assert_eq!(pg_difference("chg_hand", "chg_hand_fresh").0, 0);
    assert_eq!(pg_difference("chg_hand_fresh", "chg_hand").0, 0);

    // By hand, in a partition with the key's unique index: a row under a
    // key version 2 inserts. Written by key (MERGE), the look-up finds it;
    // by default the inserted keys are not looked up, and the index refuses
    // the insert. Either way that partition is reloaded whole.
    let (part, nr, id) = a_changed_key(d, 2, "inserted");
    let year: i32 = part.trim_start_matches("year=").parse().unwrap();
    for t in ["chg_hand_ins", "chg_hand_ins_merge"] {
        pg.batch_execute(&format!(
            "CREATE TEMP TABLE hand AS SELECT * FROM {t} WHERE year = {year} LIMIT 1; \
             UPDATE hand SET activity_nr = {nr}, citation_id = '{id}'; INSERT INTO {t} SELECT * FROM hand; DROP TABLE hand"
        ))
        .unwrap();
    }
    let by_index = load_pg(d, "chg_hand_ins", &[]);
    let held = format!("reloaded whole: it held a key version 2 inserts (Key (activity_nr, citation_id, year)=({nr}, {id}, {year}) already exists.)");
    assert!(partition_line(&by_index, &part).contains(&held), "{by_index}");
    let by_key = load_pg(d, "chg_hand_ins_merge", &["--upsert", "merge"]);
    assert!(
        partition_line(&by_key, &part).contains("reloaded whole: it held 1 of the keys version 2 inserts"),
        "{by_key}"
    );
    for (out, t) in [(&by_index, "chg_hand_ins"), (&by_key, "chg_hand_ins_merge")] {
        assert!(out.contains("changes applied (version 1 to 2)"), "the other partitions are patched: {out}");
        assert_eq!(pg_difference(t, "chg_hand_fresh"), (0, 0, pg_count("chg_hand_fresh")), "{t}");
    }

    // A table whose state names a version no kept change set leads from is
    // reloaded whole: --keep-versions 1 keeps only the latest change sets
    // (from r2 to r0), and the table holds r1.
    convert(d, "r2.csv", &["--keep-versions", "1"]);
    convert(d, "r0.csv", &["--keep-versions", "1"]);
    let out = load_pg(d, "chg_hand", &[]);
    assert!(out.contains("reloaded whole: no kept change set leads from the version the table holds"), "{out}");
    assert!(!out.contains("changes applied"), "{out}");
}

/// Rows the storage of `violations` in the DuckDB file `db` holds beyond its
/// live ones: deleted rows no checkpoint has compacted away.
fn duck_deleted_rows_kept(d: &Path, db: &str) -> i64 {
    let q = "SELECT (SELECT estimated_size FROM duckdb_tables() WHERE table_name = 'violations') \
             - (SELECT count(*) FROM violations)";
    crate::load_duckdb::scalar(&d.join(db), q)
}

#[test]
fn duckdb_keeps_patched_away_rows_until_they_pass_vacuum_above_then_compacts_them() {
    // 600 K rows fill five of DuckDB's row groups (122,880 rows each), so
    // deleting a third of them lets a checkpoint merge row groups.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 600_000, 0, "r0.csv");
    convert(d, "r0.csv", &[]);
    load_duck(d, "keep.duckdb");
    // A third of the keys, spread over every row group, to delete.
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let (staged, del) = (d.join("stage/violations/*/*.parquet"), d.join("del.csv"));
    conn.execute_batch(&format!(
        "COPY (SELECT activity_nr, citation_id FROM read_parquet('{}') WHERE hash(activity_nr, citation_id) % 3 = 0) \
         TO '{}' (HEADER)",
        staged.display(),
        del.display()
    ))
    .unwrap();
    drop(conn);
    std::fs::write(d.join("none.csv"), std::fs::read_to_string(d.join("r0.csv")).unwrap().lines().next().unwrap())
        .unwrap();
    convert(d, "none.csv", &["--mode", "merge", "--deletes", "del.csv"]);
    let (_, _, deleted) = change_totals(d, 2);
    assert!(deleted > 190_000, "{deleted}");
    std::fs::copy(d.join("keep.duckdb"), d.join("compact.duckdb")).unwrap();

    let load = |db: &str, above: &str| {
        let args =
            ["load", "duckdb", "stage", "--db", db, "--no-progress", "--patch-limit", "100", "--vacuum-above", above];
        let o = run(d, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.contains("applied changes to 51 partitions"), "{out}");
        String::from_utf8(o.stderr).unwrap()
    };
    // Below the threshold the file keeps every row the patch deleted.
    let kept = load("keep.duckdb", "50");
    let n = crate::util::group(deleted as i64);
    assert!(kept.contains(&format!("the file keeps {n} deleted rows (33.")), "{kept}");
    assert!(kept.contains("until they pass 50% (--vacuum-above)"), "{kept}");
    assert_eq!(duck_deleted_rows_kept(d, "keep.duckdb"), deleted as i64);
    // Past it (the default, 10%) DuckDB's checkpoint compacts row groups.
    let compacted = load("compact.duckdb", "10");
    assert!(compacted.contains(&format!("the file's deleted rows, {n} (33.")), "{compacted}");
    assert!(compacted.contains("passed 10% (--vacuum-above)"), "{compacted}");
    assert!(duck_deleted_rows_kept(d, "compact.duckdb") < deleted as i64 / 2);
    // Either way the tables hold the same rows.
    let live = 600_000 - deleted as i64;
    assert_eq!(duck_difference(d, "keep.duckdb", "compact.duckdb"), (0, 0, live));

    let o = run(d, &["load", "duckdb", "stage", "--db", "x.duckdb", "--vacuum-above", "101"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--vacuum-above: 101 is not a percentage from 0 to 100"));
}

/// The server's URL with database `db` in place of the tests' one.
fn db_url(db: &str) -> String {
    let url = url();
    let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{db}{}", query.map(|q| format!("?{q}")).unwrap_or_default())
}

/// A patch reads the partitions it changes enough of ahead, on a second
/// connection, when the database has pg_prewarm, and says so; without it,
/// it says how to get it. The changes are applied the same either way.
#[test]
fn a_patch_reads_its_partitions_ahead_where_pg_prewarm_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut admin = client();
    admin.batch_execute("DROP DATABASE IF EXISTS chg_ahead").unwrap();
    admin.batch_execute("CREATE DATABASE chg_ahead").unwrap();
    let db = db_url("chg_ahead");
    for r in 0..3 {
        dump(d, 20_000, r, &format!("r{r}.csv"));
    }
    let load = |d: &Path| {
        let o = run(d, &["load", "postgres", "stage", "--db", &db, "--no-progress"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    convert(d, "r0.csv", &[]);
    load(d);
    convert(d, "r1.csv", &[]);
    let (out, err) = load(d);
    assert!(out.contains("applied changes to"), "{out}");
    assert!(err.contains("note: the changed partitions were read page by page"), "{err}");
    assert!(err.contains("CREATE EXTENSION pg_prewarm"), "{err}");

    let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION pg_prewarm").unwrap();
    convert(d, "r2.csv", &[]);
    let (out, err) = load(d);
    assert!(out.contains("applied changes to"), "{out}");
    // Some of the partitions patched, those whose changes are 0.5% of their
    // rows or more, were read ahead.
    let number = |text: &str, before: &str, after: &str| -> u64 {
        let rest = &text[text.find(before).unwrap_or_else(|| panic!("{before} in {text}")) + before.len()..];
        rest[..rest.find(after).unwrap()].replace(',', "").parse().unwrap()
    };
    let patched = number(&out, "applied changes to ", " partitions");
    let read = number(&err, "note: read ", " partitions ahead of their changes (");
    assert!((1..=patched).contains(&read), "{read} of {patched}: {err}");
    let m = manifest(&d.join("stage"), "violations");
    let held: i64 = c.query_one("SELECT count(*) FROM violations", &[]).unwrap().get(0);
    assert_eq!(held as u64, m["tables"][0]["rows_written"].as_u64().unwrap());
    drop(c);
    admin.batch_execute("DROP DATABASE chg_ahead").unwrap();
}

/// The tables a patch prepared its changes in (`pqstage_patch_<pid>_...`)
/// that `c`'s database holds.
fn prepared_tables(c: &mut postgres::Client) -> Vec<String> {
    c.query("SELECT relname::text FROM pg_class WHERE relname ~ '^pqstage_patch_[0-9]+_' ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A second connection stages the changes and looks their keys up ahead of
/// the patch, and gathers the summaries' changes over them, in tables that
/// go when the patch ends (those of a killed load when the next patch
/// starts); where it would wait for a lock queued behind the patch's, or
/// cannot be opened at all, the patch does it all in its own transaction,
/// with a note, and the table and its summaries are the same.
#[test]
fn a_second_connection_prepares_the_changes_and_the_patch_goes_on_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut admin = client();
    for sql in [
        "DROP DATABASE IF EXISTS chg_prep",
        "DROP ROLE IF EXISTS chg_prep",
        "CREATE ROLE chg_prep LOGIN",
        "CREATE DATABASE chg_prep OWNER chg_prep",
    ] {
        admin.batch_execute(sql).unwrap();
    }
    // The role's own connections (trusted on loopback), not the superuser's:
    // superusers are not held to a connection limit.
    let db = db_url("chg_prep").replacen("pqtest@", "chg_prep@", 1);
    assert!(db.contains("chg_prep@"), "{db}");
    for r in 0..5 {
        dump(d, 100_000, r, &format!("r{r}.csv"));
    }
    let load = |d: &Path, db: &str, table: &str| {
        let o = run(d, &["load", "postgres", "stage", "--db", db, "--table", table, "--no-progress"]);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    convert(d, "r0.csv", &[]);
    load(d, &db, "violations");
    convert(d, "r1.csv", &[]);
    let (out, err) = load(d, &db, "violations");
    assert!(out.contains("applied changes to"), "{out}");
    assert!(out.contains("\"violations_by_year\" kept up to date"), "{out}");
    assert!(!err.contains("own transaction"), "{err}");
    let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    assert_eq!(prepared_tables(&mut c), Vec::<String>::new(), "the prepared tables went with the patch");
    let summaries_fresh = |c: &mut postgres::Client| {
        let (diff, kept) = crate::summaries::pg_summary_diff_in(c, "violations");
        assert_eq!(diff, 0, "the summaries differ from the table by {diff} rows");
        assert!(kept > 10, "{kept} summary rows");
    };
    summaries_fresh(&mut c);

    // A load killed while it patches leaves its prepared tables (its
    // backends are gone); the next patch drops them.
    convert(d, "r2.csv", &[]);
    let mut child = cmd(d)
        .args(["load", "postgres", "stage", "--db", &db, "--table", "violations", "--no-progress"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    while prepared_tables(&mut c).is_empty() {
        assert!(child.try_wait().unwrap().is_none(), "the load ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the patch never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let others = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'chg_prep' \
                  AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
    while c.query_one(others, &[]).unwrap().get::<_, i64>(0) > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the killed load's backends stay");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(prepared_tables(&mut c), Vec::<String>::new(), "the killed load left prepared tables");
    let (out, _) = load(d, &db, "violations");
    assert!(out.contains("applied changes to"), "{out}");
    assert_eq!(prepared_tables(&mut c), Vec::<String>::new(), "the rerun dropped the killed load's tables");
    summaries_fresh(&mut c);

    // Someone's ALTER TABLE of the last year, queued behind the patch's
    // lock: the preparing connection would wait behind it, and the patch
    // for the preparing connection. It gives up the lock instead, and the
    // patch goes on by itself.
    convert(d, "r3.csv", &[]);
    let last: String = c
        .query_one("SELECT max(relname::text) FROM pg_class WHERE relname ~ '^violations_p[0-9]+$'", &[])
        .unwrap()
        .get(0);
    let child = cmd(d)
        .args(["load", "postgres", "stage", "--db", &db, "--table", "violations", "--no-progress"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while prepared_tables(&mut c).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the patch never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    let superuser = db_url("chg_prep");
    let alter = std::thread::spawn(move || {
        let mut s = postgres::Client::connect(&superuser, postgres::NoTls).unwrap();
        s.batch_execute(&format!("BEGIN; LOCK TABLE {last} IN ACCESS EXCLUSIVE MODE; COMMIT")).unwrap();
    });
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("applied changes to"), "{o:?}");
    assert!(err.contains("preparing them on a second connection stopped:"), "{err}");
    assert!(err.contains("canceling statement due to lock timeout"), "{err}");
    alter.join().unwrap();
    assert_eq!(prepared_tables(&mut c), Vec::<String>::new());
    // Partitions prepared ahead and partitions staged by the patch itself:
    // each gathered once for the summaries.
    summaries_fresh(&mut c);

    // One connection only: neither reading ahead nor preparing can start.
    admin.batch_execute("ALTER ROLE chg_prep CONNECTION LIMIT 1").unwrap();
    drop(c);
    // A closed connection's backend ends a moment later, and counts against
    // the limit until it has: wait for it, or the load's first connection
    // is the one refused.
    let started = Instant::now();
    while admin
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = 'chg_prep'", &[])
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(started.elapsed() < Duration::from_secs(30), "a connection of chg_prep stays open");
        std::thread::sleep(Duration::from_millis(10));
    }
    convert(d, "r4.csv", &[]);
    let (out, err) = load(d, &db, "violations");
    assert!(out.contains("applied changes to"), "{out}");
    assert!(
        err.contains("were staged in the patch's own transaction: preparing them on a second connection stopped:"),
        "{err}"
    );
    assert!(
        err.contains("connect to 127.0.0.1:") && err.contains("too many connections for role \"chg_prep\""),
        "{err}"
    );
    admin.batch_execute("ALTER ROLE chg_prep CONNECTION LIMIT -1").unwrap();
    load(d, &db_url("chg_prep"), "fresh");
    let mut c = postgres::Client::connect(&db_url("chg_prep"), postgres::NoTls).unwrap();
    summaries_fresh(&mut c);
    let held = |c: &mut postgres::Client, t: &str| -> (i64, i64) {
        let sql =
            format!("SELECT count(*), sum(hashtextextended(t::text, 0)::numeric % 1000000007)::bigint FROM {t} AS t");
        let r = c.query_one(&sql, &[]).unwrap();
        (r.get(0), r.get(1))
    };
    let m = manifest(&d.join("stage"), "violations");
    assert_eq!(held(&mut c, "violations").0 as u64, m["tables"][0]["rows_written"].as_u64().unwrap());
    assert_eq!(held(&mut c, "violations"), held(&mut c, "fresh"));
    assert_eq!(prepared_tables(&mut c), Vec::<String>::new());
    drop(c);
    admin.batch_execute("DROP DATABASE chg_prep").unwrap();
    admin.batch_execute("DROP ROLE chg_prep").unwrap();
}

#[test]
fn a_killed_incremental_load_leaves_the_previous_version_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["chg_kill", "chg_kill_fresh"]);
    dump(d, 300_000, 0, "r0.csv");
    dump(d, 300_000, 1, "r1.csv");
    convert(d, "r0.csv", &[]);
    load_pg(d, "chg_kill", &[]);
    let before = pg_count("chg_kill");
    let state = recorded("chg_kill");
    convert(d, "r1.csv", &[]);

    let url = url();
    let mut child = cmd(d)
        .args(["load", "postgres", "stage", "--db", &url, "--table", "chg_kill", "--no-progress"])
        .spawn()
        .unwrap();
    // Kill -9 while the patch is writing rows.
    let started = Instant::now();
    loop {
        let busy: i64 = client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%WITH written AS%' \
                 AND query NOT LIKE '%pg_stat_activity%'",
                &[],
            )
            .unwrap()
            .get(0);
        if busy > 0 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the load ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the patch never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server rolls the transaction back: the previous version is served.
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorded("chg_kill") != state && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(recorded("chg_kill"), state, "nothing of the killed load is committed");
    assert_eq!(pg_count("chg_kill"), before);
    // Nor of the summaries, kept in the same transaction: they still match
    // the table, so the rerun keeps them up to date from the changes.
    assert_eq!(crate::summaries::pg_summary_diff("chg_kill").0, 0);
    let out = load_pg(d, "chg_kill", &[]);
    assert!(out.contains("changes applied (version 1 to 2)"), "{out}");
    assert!(out.contains("\"chg_kill_by_year\" kept up to date from the changes"), "{out}");
    assert_eq!(crate::summaries::pg_summary_diff("chg_kill").0, 0);
    load_pg(d, "chg_kill_fresh", &[]);
    assert_eq!(pg_difference("chg_kill", "chg_kill_fresh"), (0, 0, pg_count("chg_kill_fresh")));
}

/// Whether process `pid` holds `file` open.
fn holds_open(pid: u32, file: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file)))
        .unwrap_or(false)
}

#[test]
fn a_killed_incremental_duckdb_load_leaves_the_previous_version_and_the_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 300_000, 0, "r0.csv");
    dump(d, 300_000, 1, "r1.csv");
    convert(d, "r0.csv", &[]);
    load_duck(d, "inc.duckdb");
    std::fs::copy(d.join("inc.duckdb"), d.join("before.duckdb")).unwrap();
    convert(d, "r1.csv", &[]);

    // Kill -9 as soon as the load has the file open: its transaction has
    // begun, and it commits only after the look-up, the deletes, the
    // inserts, the counts and the summaries.
    let file = std::path::absolute(d.join("inc.duckdb")).unwrap();
    let mut child = cmd(d).args(["load", "duckdb", "stage", "--db", "inc.duckdb", "--no-progress"]).spawn().unwrap();
    let started = Instant::now();
    while !holds_open(child.id(), &file) {
        assert!(child.try_wait().unwrap().is_none(), "the load ended before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(60), "the load never opened the file");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());

    // The next process to open the file finds the previous version, rows
    // and state: nothing of the killed transaction was committed.
    assert_eq!(duck_difference(d, "inc.duckdb", "before.duckdb"), (0, 0, 300_000));
    let state = |db: &str| {
        let q = "SELECT partition_path, checksum FROM pqstage.load_state ORDER BY partition_path";
        crate::load_duckdb::query(&d.join(db), q)
    };
    assert_eq!(state("inc.duckdb"), state("before.duckdb"));
    let out = load_duck(d, "inc.duckdb");
    assert!(out.contains("changes applied (version 1 to 2)"), "{out}");
    load_duck(d, "fresh.duckdb");
    let staged = manifest(&d.join("stage"), "violations")["tables"][0]["rows_written"].as_i64().unwrap();
    assert_eq!(duck_difference(d, "inc.duckdb", "fresh.duckdb"), (0, 0, staged));
    assert_eq!(crate::summaries::duck_summary_diff(&d.join("inc.duckdb")).0, 0);
}

pub(crate) fn pg_count(table: &str) -> i64 {
    client().query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
}

/// The state table's checksums of `table`, in partition order.
fn recorded(table: &str) -> Vec<String> {
    client()
        .query("SELECT checksum FROM pqstage.load_state WHERE table_name = $1 ORDER BY partition_path", &[&table])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn rows_not_written_as_staged_fail_the_load_and_nothing_is_committed() {
    // (table, flags, the writes a trigger alters): the updates and the
    // inserts of the default way, checked as they are written; delete-insert,
    // all inserts; MERGE, read back through the key.
    let cases: [(&str, &[&str], &str); 4] = [
        ("chg_trig_upd", &[], "UPDATE"),
        ("chg_trig_ins", &[], "INSERT"),
        ("chg_trig_di", &["--upsert", "delete-insert"], "INSERT"),
        ("chg_trig_merge", &["--upsert", "merge"], "UPDATE"),
    ];
    let mut tables: Vec<&str> = cases.iter().map(|c| c.0).collect();
    tables.extend(["chg_trig_before", "chg_trig_fresh"]);
    let dir = first_dump_loaded(20_000, 2, &tables);
    let d = dir.path();
    let mut c = client();
    c.batch_execute(
        "CREATE TABLE chg_trig_before AS TABLE chg_trig_upd; \
         CREATE OR REPLACE FUNCTION chg_trig_bump() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN NEW.current_penalty := coalesce(NEW.current_penalty, 0) + 1; RETURN NEW; END $$",
    )
    .unwrap();
    for (t, _, _) in &cases[1..] {
        load_pg(d, t, &[]);
        assert_eq!(pg_difference(t, "chg_trig_before"), (0, 0, pg_count("chg_trig_before")), "{t}");
    }
    convert(d, "r1.csv", &[]);
    let (inserted, updated, _) = change_totals(d, 2);
    for (t, flags, writes) in cases {
        // A row trigger on the parent, cloned to every partition, that
        // changes the penalty of every row it writes.
        c.batch_execute(&format!(
            "CREATE TRIGGER bump BEFORE {writes} ON {t} FOR EACH ROW EXECUTE FUNCTION chg_trig_bump()"
        ))
        .unwrap();
        let before = recorded(t);
        let url = url();
        let mut args = vec!["load", "postgres", "stage", "--db", &url, "--table", t, "--no-progress"];
        args.extend(flags);
        let o = run(d, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{t}: {err}");
        assert!(err.contains("is not the staged version after its changes were applied"), "{t}: {err}");
        assert!(err.contains("nothing was committed"), "{t}: {err}");
        if flags.is_empty() {
            // The default way names what it found unlike the staged rows
            // in the first partition: every row the trigger changed.
            let (m, n) = if writes == "UPDATE" { (updated, "updated") } else { (inserted, "inserted") };
            assert!(m > 0, "the change sets hold {n} rows");
            assert!(err.contains("staged rows not held as staged"), "{t}: {err}");
            assert!(!err.contains(", 0 staged rows not held"), "{t}: {err}");
        }
        // Nothing moved: the table and its recorded state are version 1's.
        assert_eq!(recorded(t), before, "{t}");
        assert_eq!(pg_difference(t, "chg_trig_before"), (0, 0, pg_count("chg_trig_before")), "{t}");
        // Without the trigger, the same load applies the changes.
        c.batch_execute(&format!("DROP TRIGGER bump ON {t}")).unwrap();
        let out = load_pg(d, t, flags);
        assert!(out.contains("changes applied (version 1 to 2)"), "{t}: {out}");
    }
    load_pg(d, "chg_trig_fresh", &[]);
    for (t, _, _) in cases {
        assert_eq!(pg_difference(t, "chg_trig_fresh"), (0, 0, pg_count("chg_trig_fresh")), "{t}");
    }
}

#[test]
fn duplicate_and_null_keys_are_refused_and_nothing_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 2_000, 0, "r0.csv");
    convert(d, "r0.csv", &[]);
    let before = manifest(&d.join("stage"), "violations");
    // The record on line 12 again at the end.
    let text = std::fs::read_to_string(d.join("r0.csv")).unwrap();
    let line = text.lines().nth(11).unwrap().to_string();
    let again: Vec<&str> = line.splitn(4, ',').collect();
    std::fs::write(d.join("dup.csv"), format!("{text}{line}\n")).unwrap();
    let o = run(d, &["convert", "dup.csv", "--spec", "v.toml", "--to", "stage", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    let key = format!("duplicate key (activity_nr={}, citation_id={})", again[1], again[2]);
    assert!(err.contains(&key), "{err}");
    // Lines are physical lines: a quoted value may hold a line break.
    let last = crate::util::group(text.matches('\n').count() as i64 + 1);
    assert!(err.contains(&format!("dup.csv line 12 and dup.csv line {last} have it")), "{err}");
    assert!(err.contains("fix the source, or change [target] key in the spec"), "{err}");
    assert_eq!(manifest(&d.join("stage"), "violations"), before, "nothing is committed");

    // One key in two years, or in a year and the NULL partition: each
    // partition holds it once, and the convert refuses it all the same,
    // naming both years and lines. Record i is on line i + 2; record 3 is
    // dated 2020, record 2 has no date.
    null_year_dump(d, "years.csv", 10, |_, date, p| Some((date.to_string(), p)));
    let years = std::fs::read_to_string(d.join("years.csv")).unwrap();
    let again = |nr: u64, date: &str| {
        format!("{years}OSHA,{nr},01001,ACME AGAIN,,,,,,,,{date},,1.00,,,,,,,2020-02-01 00:00:00\n")
    };
    for (nr, date, parts) in [
        (900_000_003, "2019-05-01", "year=2020 and year=2019"),
        (900_000_002, "2021-05-01", "year=__HIVE_DEFAULT_PARTITION__ and year=2021"),
    ] {
        std::fs::write(d.join("twice.csv"), again(nr, date)).unwrap();
        let o = run(d, &["convert", "twice.csv", "--spec", "v.toml", "--to", "years", "--no-progress"]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        let line = nr - 900_000_000 + 2;
        let want = format!(
            "duplicate key (activity_nr={nr}, citation_id=01001) in {parts}: twice.csv line {line} and twice.csv line 12 have it"
        );
        assert!(err.contains(&want), "{err}");
        assert!(!d.join("years/violations/_manifest.json").exists(), "nothing is committed");
    }
    // Without the second row, the same dump converts.
    let o = run(d, &["convert", "years.csv", "--spec", "v.toml", "--to", "years", "--no-progress"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");

    // A key column that may be NULL is refused when the spec is read.
    let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
    let spec = spec.replacen(
        "name = \"citation_id\"\ntype = \"text\"\nnullable = false",
        "name = \"citation_id\"\ntype = \"text\"",
        1,
    );
    std::fs::write(d.join("nullable.toml"), spec).unwrap();
    let o = run(d, &["convert", "r0.csv", "--spec", "nullable.toml", "--to", "other", "--no-progress"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("target.key column 'citation_id' may be NULL"), "{err}");
}

#[test]
fn kept_versions_bound_the_change_sets_and_gc_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for r in 0..3 {
        dump(d, 5_000, r, &format!("r{r}.csv"));
        convert(d, &format!("r{r}.csv"), &["--keep-versions", "2"]);
    }
    convert(d, "r0.csv", &["--keep-versions", "2"]);
    let m = manifest(&d.join("stage"), "violations");
    assert_eq!(m["version"], 4);
    let versions: std::collections::BTreeSet<u64> =
        m["tables"][0]["changes"].as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [3, 4].into());
    // Version 2's change sets stay until gc, for a load that may be reading them.
    let on_disk = |d: &Path| -> Vec<String> {
        let root = d.join("stage/violations");
        let mut v: Vec<String> = walk(&root)
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().to_string_lossy().into_owned())
            .filter(|p| p.starts_with("_changes/"))
            .collect();
        v.sort();
        v
    };
    assert!(on_disk(d).iter().any(|p| p.starts_with("_changes/v2/")), "{:?}", on_disk(d));
    ok(d, &["gc", "stage", "--min-age", "0", "--yes", "--no-progress"]);
    let named: Vec<String> = files(&m).into_keys().filter(|p| p.starts_with("_changes/")).collect();
    assert_eq!(on_disk(d), named);
}

#[test]
fn change_sets_on_s3_are_computed_and_applied_like_local_ones() {
    use crate::object_store::s3_ok;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["chg_s3"]);
    dump(d, 20_000, 0, "r0.csv");
    dump(d, 20_000, 1, "r1.csv");
    let pg = url();
    let url = crate::util::s3_url("changes");
    let convert = |csv: &str| s3_ok(d, &["convert", csv, "--spec", "v.toml", "--to", &url, "--no-progress"]);
    let duck = |db: &str| s3_ok(d, &["load", "duckdb", &url, "--db", db, "--no-progress"]);
    let pg_load = || s3_ok(d, &["load", "postgres", &url, "--db", &pg, "--table", "chg_s3", "--no-progress"]);
    convert("r0.csv");
    duck("inc.duckdb");
    pg_load();
    // The previous version is read back from the server to tell what changed.
    let out = convert("r1.csv");
    assert!(out.contains("version 2: "), "{out}");
    // And the change sets are fetched from it by both loaders.
    for out in [duck("inc.duckdb"), pg_load()] {
        assert!(out.starts_with("applied changes to "), "{out}");
    }
    // The same stage converted locally has the same change sets, and the
    // targets equal fresh loads of it.
    for csv in ["r0.csv", "r1.csv"] {
        self::convert(d, csv, &[]);
    }
    let remote: serde_json::Value = serde_json::from_str(&s3_ok(d, &["status", &url, "--json"])).unwrap();
    let local = manifest(&d.join("stage"), "violations");
    assert_eq!(remote["tables"][0]["changes"], local["tables"][0]["changes"]);
    load_duck(d, "fresh.duckdb");
    assert_eq!(duck_difference(d, "inc.duckdb", "fresh.duckdb").0, 0);
    assert_eq!(duck_difference(d, "fresh.duckdb", "inc.duckdb").0, 0);
    fresh_pg(&["chg_s3_fresh"]);
    load_pg(d, "chg_s3_fresh", &[]);
    assert_eq!(pg_difference("chg_s3", "chg_s3_fresh"), (0, 0, pg_count("chg_s3_fresh")));
}
