//! Summaries kept next to a loaded table (`[target] summaries` in the
//! spec): PostgreSQL materialized views and DuckDB tables, made by the first
//! load, refreshed after every load that changed the table, left alone by a
//! rerun that changed nothing, printed by `pqstage summary`.

use std::path::Path;

use crate::changes::{client, convert, dump, fresh_pg};
use crate::load_postgres::url;
use crate::util::{group, ok, run};

/// Years whose count in the kept `by_year` summary differs from the table's.
fn pg_stale_years(table: &str) -> i64 {
    let q = format!(
        "SELECT count(*) FROM {table}_by_year s FULL JOIN (SELECT year, count(*) AS n FROM {table} GROUP BY year) t \
         ON coalesce(s.year, -1) = coalesce(t.year, -1) WHERE s.violations IS DISTINCT FROM t.n"
    );
    client().query_one(&q, &[]).unwrap().get(0)
}

fn duck_stale_years(db: &Path) -> i64 {
    let conn = duckdb::Connection::open(db).unwrap();
    let q = "SELECT count(*) FROM violations_by_year s FULL JOIN (SELECT year, count(*) AS n FROM violations GROUP BY year) t \
             ON coalesce(s.year, -1) = coalesce(t.year, -1) WHERE s.violations IS DISTINCT FROM t.n";
    conn.query_row(q, [], |r| r.get(0)).unwrap()
}

fn summaries_line(out: &str) -> &str {
    out.lines().find(|l| l.starts_with("summaries: ")).unwrap_or_else(|| panic!("no summaries line: {out}"))
}

#[test]
fn postgres_keeps_them_as_views_refreshed_concurrently_after_loads_that_change_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fresh_pg(&["sum_pg", "sum_pg2"]);
    dump(d, 20_000, 0, "r0.csv");
    dump(d, 20_000, 1, "r1.csv");
    convert(d, "r0.csv", &[]);
    let url = url();
    let load = |table: &str, extra: &[&str]| {
        let mut args = vec!["load", "postgres", "stage", "--db", &url, "--table", table, "--no-progress"];
        args.extend(extra);
        ok(d, &args)
    };
    let out = load("sum_pg", &[]);
    assert_eq!(
        summaries_line(&out).split(" (").next().unwrap(),
        "summaries: \"public\".\"sum_pg_by_year\" created, \"public\".\"sum_pg_top_companies\" created"
    );
    assert_eq!(pg_stale_years("sum_pg"), 0);
    let unique: i64 = client()
        .query_one(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             WHERE c.relname IN ('sum_pg_by_year', 'sum_pg_top_companies') AND i.indisunique",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unique, 2, "each view has the unique index a concurrent refresh needs");

    // A later dump changes every year's count; the views follow.
    convert(d, "r1.csv", &[]);
    let out = load("sum_pg", &[]);
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" refreshed concurrently"), "{out}");
    assert_eq!(pg_stale_years("sum_pg"), 0);
    // A rerun changes nothing, so neither do the summaries.
    let out = load("sum_pg", &[]);
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" unchanged"), "{out}");

    // `pqstage summary` prints them, in their order.
    let printed = ok(d, &["summary", "--db", &url, "--table", "sum_pg"]);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "Per year: violations, total and mean current penalty (sum_pg)");
    assert!(lines[1].starts_with("year  violations"), "{printed}");
    let per_year = client()
        .query("SELECT year, count(*) FROM sum_pg WHERE year IS NOT NULL GROUP BY year ORDER BY year", &[])
        .unwrap();
    let years: Vec<&str> = lines[3..].iter().take(per_year.len()).copied().collect();
    for (row, line) in per_year.iter().zip(&years) {
        let (year, n): (i32, i64) = (row.get(0), row.get(1));
        assert!(
            line.starts_with(&format!("{year} ")) && line.contains(&format!(" {} ", group(n))),
            "{line} for {year}: {printed}"
        );
    }
    let top = lines.iter().position(|l| l.starts_with("The ten companies")).unwrap();
    assert_eq!(lines.len() - top, 3 + 10, "title, header, rule and ten companies: {printed}");

    // A view whose definition is not this pqstage's is made again.
    client()
        .batch_execute("COMMENT ON MATERIALIZED VIEW sum_pg_by_year IS 'pqstage summary violations.by_year 0'")
        .unwrap();
    let out = load("sum_pg", &[]);
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" created"), "{out}");
    // --no-summaries leaves them alone.
    convert(d, "r0.csv", &[]);
    let out = load("sum_pg", &["--no-summaries"]);
    assert!(!out.contains("summaries: "), "{out}");
    assert!(pg_stale_years("sum_pg") > 0, "the views still hold the earlier counts");
    // The next load changes no row but finds the views computed from an
    // older version: it refreshes them.
    let out = load("sum_pg", &[]);
    assert!(out.contains("partitions unchanged, skipped"), "{out}");
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" refreshed concurrently"), "{out}");
    assert_eq!(pg_stale_years("sum_pg"), 0);

    // A relation of a summary's name that pqstage did not make stops it; the
    // load itself is committed.
    client().batch_execute("DROP TABLE IF EXISTS sum_pg2_by_year; CREATE TABLE sum_pg2_by_year (x int)").unwrap();
    let o = run(d, &["load", "postgres", "stage", "--db", &url, "--table", "sum_pg2", "--no-progress"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("\"public\".\"sum_pg2_by_year\" exists and is not a summary pqstage made"), "{err}");
    let n: i64 = client().query_one("SELECT count(*) FROM sum_pg2", &[]).unwrap().get(0);
    assert_eq!(n, 20_000);
    client().batch_execute("DROP TABLE sum_pg2_by_year").unwrap();

    // A table whose spec names no summaries has none to print.
    let o = run(d, &["summary", "--db", &url, "--table", "sum_pg_none"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no summaries"), "{o:?}");
}

#[test]
fn duckdb_keeps_them_as_tables_made_again_after_loads_that_change_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    dump(d, 20_000, 0, "r0.csv");
    dump(d, 20_000, 1, "r1.csv");
    convert(d, "r0.csv", &[]);
    let load = |extra: &[&str]| {
        let mut args = vec!["load", "duckdb", "stage", "--db", "s.duckdb", "--no-progress"];
        args.extend(extra);
        ok(d, &args)
    };
    let out = load(&[]);
    assert!(summaries_line(&out).starts_with("summaries: \"main\".\"violations_by_year\" created"), "{out}");
    assert_eq!(duck_stale_years(&d.join("s.duckdb")), 0);
    convert(d, "r1.csv", &[]);
    let out = load(&[]);
    assert!(summaries_line(&out).contains("\"violations_by_year\" refreshed, "), "{out}");
    assert_eq!(duck_stale_years(&d.join("s.duckdb")), 0);
    let out = load(&[]);
    assert!(summaries_line(&out).contains("\"violations_by_year\" unchanged"), "{out}");
    convert(d, "r0.csv", &[]);
    load(&["--no-summaries"]);
    assert!(duck_stale_years(&d.join("s.duckdb")) > 0);
    let out = load(&[]);
    assert!(summaries_line(&out).contains("\"violations_by_year\" refreshed"), "{out}");
    assert_eq!(duck_stale_years(&d.join("s.duckdb")), 0);
    let printed = ok(d, &["summary", "--db", "s.duckdb", "--table", "violations"]);
    assert!(
        printed.starts_with("Per year: violations, total and mean current penalty (violations)\nyear  violations"),
        "{printed}"
    );

    // A spec naming a set pqstage does not ship is refused before loading.
    let spec = std::fs::read_to_string(d.join("v.toml")).unwrap();
    std::fs::write(d.join("other.toml"), spec.replace("summaries = \"violations\"", "summaries = \"nosuch\"")).unwrap();
    ok(d, &["convert", "r0.csv", "--spec", "other.toml", "--to", "other", "--no-progress"]);
    let o = run(d, &["load", "duckdb", "other", "--db", "o.duckdb", "--no-progress"]);
    assert_ne!(o.status.code(), Some(0), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("summaries = \"nosuch\" names no set of summaries pqstage ships (known: violations)"),
        "{err}"
    );
}
