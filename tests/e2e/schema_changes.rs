//! Dumps whose columns change: a gained column, a lost one and a value
//! that no longer fits its type are refused by `convert` with what changed
//! and how to accept it; a gained column accepted in the spec is added to
//! the loaded tables (ALTER TABLE … ADD COLUMN), which then equal fresh
//! loads.

use std::path::Path;

use crate::changes::{client, convert, dump, fresh_pg};
use crate::load_postgres::url;
use crate::util::{manifest, ok, run};

/// `r0.csv` rewritten by DuckDB's CSV reader and writer through `select`
/// (every column read as text, so values keep their spelling).
fn rewrite(d: &Path, select: &str, out: &str) {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let src = d.join("r0.csv").display().to_string();
    let dst = d.join(out).display().to_string();
    conn.execute_batch(&format!(
        "COPY (SELECT {select} FROM read_csv('{src}', header = true, all_varchar = true)) TO '{dst}' (HEADER, DELIMITER ',')"
    ))
    .unwrap();
}

/// Converts `csv` into the stage with the spec `v.toml`, which must refuse
/// it with exit 1; its stderr.
fn refused(d: &Path, csv: &str) -> String {
    let o = run(d, &["convert", csv, "--spec", "v.toml", "--to", "stage", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The columns both tables of the test have, in one order.
const COLUMNS: &str =
    "agency, activity_nr, citation_id, current_penalty, inspection_type, company_name_normalized, year";

#[test]
fn a_gained_column_is_refused_then_accepted_and_added_to_both_targets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["sch_evolved", "sch_fresh"]);
    dump(d, 3_000, 0, "r0.csv");
    convert(d, "r0.csv", &[]);
    let url = url();
    let load_pg =
        |table: &str| ok(d, &["load", "postgres", "stage", "--db", &url, "--table", table, "--no-progress", "-v"]);
    let load_duck = |db: &str| ok(d, &["load", "duckdb", "stage", "--db", db, "--no-progress", "-v"]);
    load_pg("sch_evolved");
    load_duck("evolved.duckdb");
    let v1 = manifest(&d.join("stage"), "violations");

    // The next dump has a new column, empty on a third of the rows.
    rewrite(d, "*, CASE WHEN activity_nr::BIGINT % 3 = 0 THEN NULL ELSE 'planned' END AS inspection_type", "added.csv");
    let err = refused(d, "added.csv");
    assert!(err.contains("added.csv line 1: header does not match the spec: the file has columns the spec does not: 'inspection_type' (column 22)"), "{err}");
    assert!(err.contains("add it to the spec as nullable ([[columns]] name = \"inspection_type\""), "{err}");
    assert_eq!(manifest(&d.join("stage"), "violations"), v1, "nothing is committed");

    // Accepted: the column in the spec, where the file has it.
    let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
    let at = spec.find("[[derived]]").unwrap();
    let gained = format!(
        "{}[[columns]]\nname = \"inspection_type\"\ntype = \"text\"\nnullable = true\n\n{}",
        &spec[..at],
        &spec[at..]
    );
    std::fs::write(d.join("v2.toml"), gained).unwrap();
    let o = run(d, &["convert", "added.csv", "--spec", "v2.toml", "--to", "stage", "--no-progress"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("the spec differs from version 1's (columns added: inspection_type)"),
        "{o:?}"
    );

    // Both targets gain the column and reload every year; their summaries
    // stay, computed again.
    for out in [load_pg("sch_evolved"), load_duck("evolved.duckdb")] {
        assert!(out.contains("added to the table, as the spec gained them: inspection_type"), "{out}");
        assert!(out.contains("reloaded whole: the spec gained inspection_type"), "{out}");
        assert!(out.contains("summaries: ") && out.contains("_by_year\" computed again"), "{out}");
    }
    // The next loads find the added column at the table's end and skip every year.
    for out in [load_pg("sch_evolved"), load_duck("evolved.duckdb")] {
        assert!(out.contains("partitions unchanged, skipped") && !out.contains("added to the table"), "{out}");
    }
    ok(d, &["load", "postgres", "stage", "--db", &url, "--table", "sch_fresh", "--no-progress"]);
    let q = format!(
        "SELECT (SELECT count(*) FROM (SELECT {COLUMNS} FROM sch_evolved EXCEPT ALL SELECT {COLUMNS} FROM sch_fresh) a), \
         (SELECT count(*) FROM (SELECT {COLUMNS} FROM sch_fresh EXCEPT ALL SELECT {COLUMNS} FROM sch_evolved) b), \
         (SELECT count(*) FROM sch_evolved WHERE inspection_type = 'planned')"
    );
    let r = client().query_one(&q, &[]).unwrap();
    let (only_evolved, only_fresh, planned): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    assert_eq!((only_evolved, only_fresh), (0, 0), "the evolved table equals a fresh load");
    assert!((1_800..=2_200).contains(&planned), "{planned} rows with the new column's value");
    ok(d, &["load", "duckdb", "stage", "--db", "fresh.duckdb", "--no-progress"]);
    let conn = duckdb::Connection::open_in_memory().unwrap();
    for (file, alias) in [("evolved.duckdb", "e"), ("fresh.duckdb", "f")] {
        conn.execute_batch(&format!("ATTACH '{}' AS {alias} (READ_ONLY)", d.join(file).display())).unwrap();
    }
    let q = format!(
        "SELECT (SELECT count(*) FROM (SELECT {COLUMNS} FROM e.violations EXCEPT ALL SELECT {COLUMNS} FROM f.violations)), \
         (SELECT count(*) FROM (SELECT {COLUMNS} FROM f.violations EXCEPT ALL SELECT {COLUMNS} FROM e.violations))"
    );
    let diff: (i64, i64) = conn.query_row(&q, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(diff, (0, 0));
}

#[test]
fn a_lost_column_and_a_changed_type_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 2_000, 0, "r0.csv");
    convert(d, "r0.csv", &[]);
    let v1 = manifest(&d.join("stage"), "violations");
    rewrite(d, "* EXCLUDE (emphasis)", "lost.csv");
    let err = refused(d, "lost.csv");
    assert!(
        err.contains(
            "lost.csv line 1: header does not match the spec: the file lacks the spec's columns 'emphasis' (column 19)"
        ),
        "{err}"
    );
    assert!(err.contains("remove them from the spec"), "{err}");

    // A NAICS code that became text in the source, on the first record.
    rewrite(
        d,
        "* REPLACE (CASE WHEN row_number() OVER () = 1 THEN 'X2361' ELSE naics_code END AS naics_code)",
        "retyped.csv",
    );
    let err = refused(d, "retyped.csv");
    assert!(err.contains("retyped.csv line 2, column naics_code: value 'X2361' is not a valid int32"), "{err}");
    assert!(err.contains("if the source's naics_code values changed type, change its type in the spec"), "{err}");
    assert_eq!(manifest(&d.join("stage"), "violations"), v1, "nothing is committed");
}
