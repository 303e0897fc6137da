//! The other two ways in: a file of new and updated records merged by key
//! (with files of keys to delete), and files that only add rows appended.
//! Each builds the next version on the staged one; the result is compared
//! with a whole dump of the same records converted as a snapshot, in the
//! stage and, loaded incrementally, in both engines.

use std::path::Path;

use crate::changes::{
    change_totals, convert, duck_difference, dump, fresh_pg, load_duck, load_pg, pg_count, pg_difference,
};
use crate::load_postgres::url;
use crate::util::{group, manifest, ok, run};

/// `sample violations --rows N --revision R --part PART` into `name`.
fn part(d: &Path, rows: u64, revision: u64, part: &str, name: &str) {
    let (rows, revision) = (rows.to_string(), revision.to_string());
    ok(d, &["sample", "violations", "--rows", &rows, "--revision", &revision, "--part", part, "--out", name]);
}

/// The staged version's `carried` entry.
fn carried(d: &Path) -> serde_json::Value {
    manifest(&d.join("stage"), "violations")["tables"][0]["carried"].clone()
}

/// Loads `stage_dir` into a fresh DuckDB file and a fresh PostgreSQL table.
fn fresh_loads(d: &Path, stage_dir: &str, db: &str, table: &str) {
    fresh_pg(&[table]);
    let _ = std::fs::remove_file(d.join(db));
    ok(d, &["load", "duckdb", stage_dir, "--db", db, "--no-progress"]);
    let url = url();
    ok(d, &["load", "postgres", stage_dir, "--db", &url, "--table", table, "--no-progress"]);
}

#[test]
fn a_file_of_changes_merged_with_its_deletes_equals_the_new_dump_in_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["mrg_inc"]);
    dump(d, 30_000, 0, "r0.csv");
    dump(d, 30_000, 1, "r1.csv");
    part(d, 30_000, 1, "changes", "changes.csv");
    part(d, 30_000, 1, "removed-keys", "removed.csv");
    convert(d, "r0.csv", &[]);
    load_duck(d, "inc.duckdb");
    load_pg(d, "mrg_inc", &[]);

    let out = convert(d, "changes.csv", &["--mode", "merge", "--deletes", "removed.csv"]);
    let c = carried(d);
    let m = manifest(&d.join("stage"), "violations");
    let (read, written) =
        (m["tables"][0]["rows_read"].as_u64().unwrap(), m["tables"][0]["rows_written"].as_u64().unwrap());
    let (replaced, deleted) = (c["replaced"].as_u64().unwrap(), c["deleted"].as_u64().unwrap());
    assert_eq!(
        (c["mode"].as_str(), c["from_version"].as_u64(), c["previous_rows"].as_u64()),
        (Some("merge"), Some(1), Some(30_000))
    );
    assert_eq!(
        read - replaced,
        30_000 * 50 / 10_000,
        "the rows of the file not replacing a staged one are the added ones"
    );
    assert_eq!(deleted, c["delete_keys"].as_u64().unwrap(), "every removed key named a staged row");
    assert_eq!(written, 30_000 + read - replaced - deleted);
    assert!(
        out.contains(&format!(
            "version 2 (merge): {} rows of version 1 kept, {} replaced, {} deleted",
            group((30_000 - replaced - deleted) as i64),
            group(replaced as i64),
            group(deleted as i64)
        )),
        "{out}"
    );

    // What changed is what a whole dump of the same records tells: the
    // same stage converted again from the new dump has the same change sets.
    let merged = change_totals(d, 2);
    std::fs::rename(d.join("stage"), d.join("merged")).unwrap();
    convert(d, "r0.csv", &[]);
    convert(d, "r1.csv", &[]);
    assert_eq!(change_totals(d, 2), merged);
    std::fs::rename(d.join("stage"), d.join("snapshot")).unwrap();
    std::fs::rename(d.join("merged"), d.join("stage")).unwrap();

    // Both engines apply the merged version's change sets row by row and
    // then equal fresh loads of the new dump.
    for out in [load_duck(d, "inc.duckdb"), load_pg(d, "mrg_inc", &[])] {
        assert!(out.contains("changes applied (version 1 to 2)") && !out.contains("reloaded"), "{out}");
    }
    fresh_loads(d, "snapshot", "dump.duckdb", "mrg_dump");
    assert_eq!(duck_difference(d, "inc.duckdb", "dump.duckdb"), (0, 0, written as i64));
    assert_eq!(pg_difference("mrg_inc", "mrg_dump"), (0, 0, written as i64));

    // The same file merged again changes no row: every partition it names
    // is written again with the same bytes, so loads skip them all.
    let out = convert(d, "changes.csv", &["--mode", "merge"]);
    assert!(out.contains(&format!("{} replaced", group(read as i64))), "{out}");
    assert!(!out.contains("inserted"), "no change set: {out}");
    for out in [load_duck(d, "inc.duckdb"), load_pg(d, "mrg_inc", &[])] {
        assert!(out.contains("partitions unchanged, skipped"), "{out}");
    }
}

#[test]
fn a_merge_refuses_what_it_cannot_apply_and_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 3_000, 0, "r0.csv");
    part(d, 3_000, 1, "changes", "changes.csv");
    let before = || manifest(&d.join("stage"), "violations");
    convert(d, "r0.csv", &[]);
    let v1 = before();
    let refused = |args: &[&str], code: i32| -> String {
        let mut all = vec!["convert", "--spec", "v.toml", "--to", "stage", "--no-progress"];
        all.extend(args);
        let o = run(d, &all);
        assert_eq!(o.status.code(), Some(code), "{o:?}");
        assert_eq!(before(), v1, "nothing is committed");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };

    // A key both upserted and deleted: the file's first record, whose line
    // (after the header) is line 2, is also in the deletes.
    let text = std::fs::read_to_string(d.join("changes.csv")).unwrap();
    let first: Vec<&str> = text.lines().nth(1).unwrap().splitn(4, ',').collect();
    std::fs::write(d.join("del.csv"), format!("activity_nr,citation_id\n{},{}\n", first[1], first[2])).unwrap();
    let err = refused(&["changes.csv", "--mode", "merge", "--deletes", "del.csv"], 1);
    let key = format!("key (activity_nr={}, citation_id={})", first[1], first[2]);
    assert!(
        err.contains(&format!("{key} is both upserted (changes.csv line 2) and deleted (del.csv line 2)")),
        "{err}"
    );

    // A bad key in a deletes file is named like a bad row of data.
    std::fs::write(d.join("bad.csv"), "activity_nr,citation_id\n17,01001\nabc,01002\n").unwrap();
    let err = refused(&["--mode", "merge", "--deletes", "bad.csv"], 1);
    assert!(err.contains("bad.csv line 3, column activity_nr: value 'abc'"), "{err}");
    // A deletes file whose header is not the key's columns.
    std::fs::write(d.join("hdr.csv"), "activity_nr\n17\n").unwrap();
    let err = refused(&["--mode", "merge", "--deletes", "hdr.csv"], 1);
    assert!(err.contains("hdr.csv line 1: header does not match the spec"), "{err}");

    // One key twice in a merge file, in different years: a record without
    // quotes (so commas split its fields) with a date, again 3 years earlier.
    let lines: Vec<&str> = text.lines().collect();
    let at = (1..lines.len())
        .find(|&i| {
            !lines[i].contains('"')
                && lines[i].matches(',').count() == 20
                && !lines[i].split(',').nth(11).unwrap().is_empty()
        })
        .expect("a plain record");
    let row: Vec<&str> = lines[at].split(',').collect();
    let key = format!("key (activity_nr={}, citation_id={})", row[1], row[2]);
    let mut moved = row.clone();
    let date = row[11];
    let earlier = format!("{}{}", (date[..4].parse::<i32>().unwrap() - 3), &date[4..]);
    moved[11] = &earlier;
    std::fs::write(d.join("twice.csv"), format!("{}\n{}\n{}\n", lines[0], lines[at], moved.join(","))).unwrap();
    let err = refused(&["twice.csv", "--mode", "merge"], 1);
    assert!(err.contains(&format!("duplicate {key} in year=")), "{err}");
    assert!(err.contains(" and year=") && err.contains("twice.csv line 2 and twice.csv line 3 have it"), "{err}");

    // Deletes belong to merges; a merge needs a key; and it builds on a
    // version converted with the same spec.
    let err = refused(&["changes.csv", "--deletes", "del.csv"], 2);
    assert!(err.contains("--deletes") && err.contains("--mode merge"), "{err}");
    let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
    std::fs::write(d.join("nokey.toml"), spec.replace("key = [\"activity_nr\", \"citation_id\"]\n", "")).unwrap();
    let o = run(
        d,
        &["convert", "changes.csv", "--spec", "nokey.toml", "--to", "stage", "--mode", "merge", "--no-progress"],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--mode merge needs a [target] key"), "{o:?}");
    let other = spec.replacen("type = \"int32\"", "type = \"int64\"", 1);
    assert_ne!(other, spec, "the spec has an int32 column to widen");
    std::fs::write(d.join("other.toml"), other).unwrap();
    let o = run(
        d,
        &["convert", "changes.csv", "--spec", "other.toml", "--to", "stage", "--mode", "merge", "--no-progress"],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("was converted with another spec"), "{o:?}");
    assert_eq!(before(), v1);
}

#[test]
fn appended_files_are_read_once_and_equal_one_dump_of_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["app_inc"]);
    // Rows 0..20,000, then 20,000..20,100 and 20,100..20,200 of the same
    // records: a revision adds 0.5 % after the records it revises.
    dump(d, 20_000, 0, "r0.csv");
    part(d, 20_000, 1, "added", "a1.csv");
    part(d, 20_100, 1, "added", "a2.csv");
    convert(d, "r0.csv", &[]);
    load_duck(d, "inc.duckdb");
    load_pg(d, "app_inc", &[]);

    let o = run(
        d,
        &["convert", "r0.csv", "a1.csv", "--spec", "v.toml", "--to", "stage", "--mode", "append", "--no-progress"],
    );
    assert!(o.status.success(), "{o:?}");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(err.contains("note: r0.csv converted before (same bytes): not read again"), "{err}");
    assert!(
        out.contains("version 2 (append): 20,000 rows of version 1 kept, 0 replaced; 100 rows read from 1 files"),
        "{out}"
    );
    let out = convert(d, "r0.csv", &["a1.csv", "a2.csv", "--mode", "append"]);
    assert!(
        out.contains("version 3 (append): 20,100 rows of version 2 kept, 0 replaced; 100 rows read from 1 files"),
        "{out}"
    );
    let m = manifest(&d.join("stage"), "violations");
    let earlier: Vec<&str> =
        m["tables"][0]["carried"]["sources"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(earlier, ["r0.csv", "a1.csv"]);
    assert_eq!(change_totals(d, 3), (100, 0, 0));
    // Nothing new: the version stays.
    let out = convert(d, "r0.csv", &["a1.csv", "a2.csv", "--mode", "append"]);
    assert!(out.contains("nothing to append: every file was converted before; version 3"), "{out}");
    assert_eq!(manifest(&d.join("stage"), "violations"), m);

    // The targets take versions 2 and 3 as inserts, and equal one dump of
    // all three files.
    for out in [load_duck(d, "inc.duckdb"), load_pg(d, "app_inc", &[])] {
        assert!(out.contains("changes applied (version 1 to 3)") && !out.contains("reloaded"), "{out}");
    }
    ok(d, &["convert", "r0.csv", "a1.csv", "a2.csv", "--spec", "v.toml", "--to", "whole", "--no-progress"]);
    fresh_loads(d, "whole", "whole.duckdb", "app_whole");
    assert_eq!(duck_difference(d, "inc.duckdb", "whole.duckdb"), (0, 0, 20_200));
    assert_eq!(pg_difference("app_inc", "app_whole"), (0, 0, 20_200));
    assert_eq!(pg_count("app_inc"), 20_200);

    // Refused, nothing committed: a record already staged, a file converted
    // before whose bytes changed, the same bytes under another name.
    part(d, 20_000, 1, "changes", "changes.csv");
    let o =
        run(d, &["convert", "changes.csv", "--spec", "v.toml", "--to", "stage", "--mode", "append", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("changes.csv line ")
            && err.contains("is staged already, in year=")
            && err.contains("use --mode merge"),
        "{err}"
    );
    let mut grown = std::fs::read(d.join("a1.csv")).unwrap();
    grown.extend_from_slice(b"\n");
    std::fs::write(d.join("a1.csv"), &grown).unwrap();
    let o = run(d, &["convert", "a1.csv", "--spec", "v.toml", "--to", "stage", "--mode", "append", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("a1.csv was converted before with other bytes"), "{o:?}");
    std::fs::copy(d.join("a2.csv"), d.join("copy.csv")).unwrap();
    let o = run(d, &["convert", "copy.csv", "--spec", "v.toml", "--to", "stage", "--mode", "append", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("copy.csv has the same bytes as a2.csv, converted before"),
        "{o:?}"
    );
    assert_eq!(manifest(&d.join("stage"), "violations"), m);

    // Without a key, rows are simply added.
    let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
    std::fs::write(d.join("nokey.toml"), spec.replace("key = [\"activity_nr\", \"citation_id\"]\n", "")).unwrap();
    let nokey = |files: &[&str], mode: &str| {
        let mut args = vec!["convert", "--spec", "nokey.toml", "--to", "nokey", "--mode", mode, "--no-progress"];
        args.extend(files);
        ok(d, &args);
        manifest(&d.join("nokey"), "violations")["tables"][0]["rows_written"].as_u64().unwrap()
    };
    assert_eq!(nokey(&["r0.csv"], "snapshot"), 20_000);
    assert_eq!(nokey(&["r0.csv", "a2.csv"], "append"), 20_100);
}

#[test]
fn a_merge_on_s3_reads_the_staged_partitions_back_and_equals_a_local_one() {
    use crate::object_store::s3_ok;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 10_000, 0, "r0.csv");
    part(d, 10_000, 1, "changes", "changes.csv");
    part(d, 10_000, 1, "removed-keys", "removed.csv");
    let url = crate::util::s3_url("merge");
    let convert_s3 = |args: &[&str]| {
        let mut all = vec!["convert", "--spec", "v.toml", "--to", &url, "--no-progress"];
        all.extend(args);
        s3_ok(d, &all)
    };
    convert_s3(&["r0.csv"]);
    convert_s3(&["changes.csv", "--mode", "merge", "--deletes", "removed.csv"]);
    convert(d, "r0.csv", &[]);
    convert(d, "changes.csv", &["--mode", "merge", "--deletes", "removed.csv"]);
    let remote: serde_json::Value = serde_json::from_str(&s3_ok(d, &["status", &url, "--json"])).unwrap();
    let local = manifest(&d.join("stage"), "violations");
    for field in ["partitions", "changes", "carried", "rows_written"] {
        assert_eq!(remote["tables"][0][field], local["tables"][0][field], "{field}");
    }
}

#[test]
fn a_key_named_in_another_order_than_its_columns_merges_alike() {
    // Key columns read back from the staged files come in file order; a key
    // that names them the other way round must hash the same rows.
    let merged = |reversed: bool| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        dump(d, 5_000, 0, "r0.csv");
        part(d, 5_000, 1, "changes", "changes.csv");
        part(d, 5_000, 1, "removed-keys", "removed.csv");
        if reversed {
            let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
            let spec =
                spec.replace("key = [\"activity_nr\", \"citation_id\"]", "key = [\"citation_id\", \"activity_nr\"]");
            std::fs::write(d.join("v.toml"), spec).unwrap();
            std::fs::write(
                d.join("removed.csv"),
                std::fs::read_to_string(d.join("removed.csv"))
                    .unwrap()
                    .lines()
                    .map(|l| l.split_once(',').map(|(a, b)| format!("{b},{a}\n")).unwrap())
                    .collect::<String>(),
            )
            .unwrap();
        }
        convert(d, "r0.csv", &[]);
        convert(d, "changes.csv", &["--mode", "merge", "--deletes", "removed.csv"]);
        let c = carried(d);
        (change_totals(d, 2), c["replaced"].as_u64(), c["deleted"].as_u64(), c["delete_keys"].as_u64())
    };
    let (plain, reversed) = (merged(false), merged(true));
    assert_eq!(reversed, plain);
    assert!(plain.2 > Some(0) && plain.2 == plain.3, "every removed key was deleted: {plain:?}");
}
