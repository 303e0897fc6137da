//! Summaries kept next to a loaded table (`[target] summaries` in the
//! spec), as tables in both engines: made by the first load, kept up to date
//! from the change sets a load applies (PostgreSQL) or computed again after
//! a load that changed the table (DuckDB, and PostgreSQL when whole
//! partitions were replaced), left alone by a rerun that changed nothing,
//! printed by `pqstage summary`. After every load the kept rows are
//! compared with the same aggregates computed afresh from the table.

use std::path::Path;

use crate::changes::{client, convert, dump, fresh_pg};
use crate::load_postgres::url;
use crate::util::{group, ok, run};

/// The summaries' rows computed afresh from `table`, written here rather
/// than taken from the shipped SQL, so a wrong definition shows too.
fn fresh_queries(table: &str) -> [(String, String); 2] {
    [
        (
            format!("{table}_by_year"),
            format!(
                "SELECT year, count(*) AS violations, count(current_penalty) AS penalties, \
                 coalesce(sum(current_penalty), 0) AS total_penalty FROM {table} GROUP BY year"
            ),
        ),
        (
            format!("{table}_top_companies"),
            format!(
                "SELECT company_name_normalized AS company, count(*) AS violations, \
                 coalesce(sum(current_penalty), 0) AS total_penalty FROM {table} \
                 WHERE current_penalty IS NOT NULL GROUP BY 1"
            ),
        ),
    ]
}

/// Rows that differ between each kept summary of `table` and the same
/// aggregates computed afresh (both ways, `EXCEPT ALL`), and the rows kept.
pub(crate) fn pg_summary_diff(table: &str) -> (i64, i64) {
    pg_summary_diff_in(&mut client(), table)
}

/// [`pg_summary_diff`] in the database `c` is connected to.
pub(crate) fn pg_summary_diff_in(c: &mut postgres::Client, table: &str) -> (i64, i64) {
    let (mut diff, mut kept) = (0, 0);
    for (summary, fresh) in fresh_queries(table) {
        let q = format!(
            "SELECT (SELECT count(*) FROM (TABLE {summary} EXCEPT ALL {fresh}) a) + \
             (SELECT count(*) FROM ({fresh} EXCEPT ALL TABLE {summary}) b), (SELECT count(*) FROM {summary})"
        );
        let row = c.query_one(&q, &[]).unwrap();
        diff += row.get::<_, i64>(0);
        kept += row.get::<_, i64>(1);
    }
    (diff, kept)
}

fn pg_fresh(table: &str) {
    let (diff, kept) = pg_summary_diff(table);
    assert_eq!(diff, 0, "{table}'s summaries differ from the table by {diff} rows");
    assert!(kept > 10, "{kept} summary rows");
}

/// [`pg_summary_diff`] for the DuckDB file `db`.
pub(crate) fn duck_summary_diff(db: &Path) -> (i64, i64) {
    let conn = duckdb::Connection::open(db).unwrap();
    let (mut diff, mut kept) = (0, 0);
    for (summary, fresh) in fresh_queries("violations") {
        let q = format!(
            "SELECT (SELECT count(*) FROM (FROM {summary} EXCEPT ALL {fresh})) + \
             (SELECT count(*) FROM ({fresh} EXCEPT ALL FROM {summary})), (SELECT count(*) FROM {summary})"
        );
        let (d, k): (i64, i64) = conn.query_row(&q, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        diff += d;
        kept += k;
    }
    (diff, kept)
}

fn duck_fresh(db: &Path) {
    let (diff, kept) = duck_summary_diff(db);
    assert_eq!(diff, 0, "the summaries differ from the table by {diff} rows");
    assert!(kept > 10, "{kept} summary rows");
}

fn summaries_line(out: &str) -> &str {
    out.lines().find(|l| l.starts_with("summaries: ")).unwrap_or_else(|| panic!("no summaries line: {out}"))
}

#[test]
fn postgres_keeps_them_up_to_date_from_the_change_sets_it_applies() {
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
    pg_fresh("sum_pg");

    // A later dump changes rows in every year: the change sets' transaction
    // keeps the summaries up to date.
    convert(d, "r1.csv", &[]);
    let out = load("sum_pg", &["-v"]);
    assert!(out.contains("applied changes to"), "{out}");
    let line = summaries_line(&out);
    assert!(line.contains("\"sum_pg_by_year\" kept up to date from the changes"), "{out}");
    assert!(line.contains("\"sum_pg_top_companies\" kept up to date from the changes"), "{out}");
    pg_fresh("sum_pg");
    // A merge that moves a record to a year the table does not have and
    // raises another one's penalty: the new year is added after the load.
    let r1 = std::fs::read_to_string(d.join("r1.csv")).unwrap();
    let header: Vec<&str> = r1.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut plain =
        r1.lines().skip(1).filter(|l| !l.contains('"') && l.split(',').nth(col("current_penalty")) != Some(""));
    let mut moved: Vec<String> = plain.next().unwrap().split(',').map(str::to_string).collect();
    moved[col("issuance_date")] = "1960-05-05".into();
    let mut raised: Vec<String> = plain.next().unwrap().split(',').map(str::to_string).collect();
    raised[col("current_penalty")] = "987654.32".into();
    let merge = format!("{}\n{}\n{}\n", header.join(","), moved.join(","), raised.join(","));
    std::fs::write(d.join("merge.csv"), merge).unwrap();
    convert(d, "merge.csv", &["--mode", "merge"]);
    let out = load("sum_pg", &["-v"]);
    assert!(out.contains("year=1960") && out.contains("loaded (new)"), "{out}");
    assert!(out.contains("applied changes to 2 partitions"), "{out}");
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" kept up to date from the changes"), "{out}");
    pg_fresh("sum_pg");
    // A rerun changes nothing, so neither do the summaries.
    let out = load("sum_pg", &[]);
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" unchanged"), "{out}");

    // `pqstage summary` prints them, in their order.
    let printed = ok(d, &["summary", "--db", &url, "--table", "sum_pg"]);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "Per year: violations, total and mean current penalty (sum_pg)");
    assert!(lines[1].starts_with("year  violations  total_penalty  mean_penalty"), "{printed}");
    let per_year = client()
        .query(
            "SELECT year, count(*), round(avg(current_penalty), 2)::text FROM sum_pg WHERE year IS NOT NULL \
             GROUP BY year ORDER BY year",
            &[],
        )
        .unwrap();
    let years: Vec<&str> = lines[3..].iter().take(per_year.len()).copied().collect();
    for (row, line) in per_year.iter().zip(&years) {
        let (year, n, mean): (i32, i64, String) = (row.get(0), row.get(1), row.get(2));
        assert!(
            line.starts_with(&format!("{year} "))
                && line.contains(&format!(" {} ", group(n)))
                && line.split_whitespace().last().map(|m| m.replace(',', "")) == Some(mean.clone()),
            "{line} for {year} ({n}, mean {mean}): {printed}"
        );
    }
    let top = lines.iter().position(|l| l.starts_with("The ten companies")).unwrap();
    assert_eq!(lines.len() - top, 3 + 10, "title, header, rule and ten companies: {printed}");
    let best: String = client()
        .query_one(
            "SELECT company_name_normalized FROM sum_pg WHERE current_penalty IS NOT NULL GROUP BY 1 \
             ORDER BY sum(current_penalty) DESC, 1 LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(lines[top + 3].starts_with(&best), "{best} first: {printed}");

    // A summary whose definition is not this pqstage's is made again, and
    // so is a materialized view an earlier pqstage kept.
    client()
        .batch_execute(
            "COMMENT ON TABLE sum_pg_by_year IS 'pqstage summary violations.by_year 0'; DROP TABLE sum_pg_top_companies; \
             CREATE MATERIALIZED VIEW sum_pg_top_companies AS SELECT 1 AS x; \
             COMMENT ON MATERIALIZED VIEW sum_pg_top_companies IS 'pqstage summary violations.top_companies 0 of version 1'",
        )
        .unwrap();
    let out = load("sum_pg", &[]);
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" created"), "{out}");
    assert!(summaries_line(&out).contains("\"sum_pg_top_companies\" created"), "{out}");
    pg_fresh("sum_pg");
    // --no-summaries leaves them alone, even when change sets are applied.
    convert(d, "r0.csv", &[]);
    let out = load("sum_pg", &["--no-summaries"]);
    assert!(out.contains("applied changes to"), "{out}");
    assert!(!out.contains("summaries: "), "{out}");
    assert!(pg_summary_diff("sum_pg").0 > 0, "the summaries still hold the earlier aggregates");
    // The next load changes no row but finds the summaries computed from
    // another state of the table: it computes them again.
    let out = load("sum_pg", &[]);
    assert!(out.contains("partitions unchanged, skipped"), "{out}");
    assert!(summaries_line(&out).contains("\"sum_pg_by_year\" computed again"), "{out}");
    pg_fresh("sum_pg");
    // A reload of whole partitions computes them again too.
    convert(d, "r1.csv", &[]);
    let out = load("sum_pg", &["--no-patch"]);
    assert!(summaries_line(&out).contains("\"sum_pg_top_companies\" computed again"), "{out}");
    pg_fresh("sum_pg");

    // A relation of a summary's name that pqstage did not make stops it; the
    // load itself is committed.
    client().batch_execute("DROP TABLE IF EXISTS sum_pg2_by_year; CREATE TABLE sum_pg2_by_year (x int)").unwrap();
    let o = run(d, &["load", "postgres", "stage", "--db", &url, "--table", "sum_pg2", "--no-progress"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("\"public\".\"sum_pg2_by_year\" exists and is not a summary pqstage made"), "{err}");
    let n: i64 = client().query_one("SELECT count(*) FROM sum_pg2", &[]).unwrap().get(0);
    assert!(n > 19_000, "{n}");
    client().batch_execute("DROP TABLE sum_pg2_by_year").unwrap();

    // A table whose spec names no summaries has none to print.
    let o = run(d, &["summary", "--db", &url, "--table", "sum_pg_none"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no summaries"), "{o:?}");
}

#[test]
fn duckdb_computes_them_again_after_loads_that_change_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("s.duckdb");
    dump(d, 20_000, 0, "r0.csv");
    dump(d, 20_000, 1, "r1.csv");
    convert(d, "r0.csv", &[]);
    let load = |extra: &[&str]| {
        let mut args = vec!["load", "duckdb", "stage", "--db", "s.duckdb", "--no-progress", "-v"];
        args.extend(extra);
        ok(d, &args)
    };
    let out = load(&[]);
    assert!(summaries_line(&out).starts_with("summaries: \"main\".\"violations_by_year\" created"), "{out}");
    duck_fresh(&db);
    // Change sets applied: the summaries are computed again from the table.
    convert(d, "r1.csv", &[]);
    let out = load(&[]);
    assert!(out.contains("changes applied"), "{out}");
    assert!(summaries_line(&out).contains("\"violations_by_year\" computed again, "), "{out}");
    duck_fresh(&db);
    let out = load(&[]);
    assert!(summaries_line(&out).contains("\"violations_by_year\" unchanged"), "{out}");
    // Whole partitions replaced (--no-patch): the same.
    convert(d, "r0.csv", &[]);
    let out = load(&["--no-patch"]);
    assert!(!out.contains("changes applied"), "{out}");
    assert!(summaries_line(&out).contains("\"violations_top_companies\" computed again"), "{out}");
    duck_fresh(&db);
    // A load without summaries leaves them behind; the next one finds they
    // match another state of the table and computes them again.
    convert(d, "r1.csv", &[]);
    load(&["--no-summaries"]);
    assert!(duck_summary_diff(&db).0 > 0);
    let out = load(&[]);
    assert!(summaries_line(&out).contains("\"violations_by_year\" computed again"), "{out}");
    duck_fresh(&db);
    // A merge that moves a record to a new year.
    let r1 = std::fs::read_to_string(d.join("r1.csv")).unwrap();
    let header: Vec<&str> = r1.lines().next().unwrap().split(',').collect();
    let date = header.iter().position(|h| *h == "issuance_date").unwrap();
    let mut moved: Vec<String> =
        r1.lines().skip(1).find(|l| !l.contains('"')).unwrap().split(',').map(str::to_string).collect();
    moved[date] = "1960-05-05".into();
    std::fs::write(d.join("merge.csv"), format!("{}\n{}\n", header.join(","), moved.join(","))).unwrap();
    convert(d, "merge.csv", &["--mode", "merge"]);
    let out = load(&[]);
    assert!(out.contains("year=1960"), "{out}");
    assert!(summaries_line(&out).contains("\"violations_by_year\" computed again"), "{out}");
    duck_fresh(&db);
    let printed = ok(d, &["summary", "--db", "s.duckdb", "--table", "violations"]);
    assert!(
        printed.starts_with(
            "Per year: violations, total and mean current penalty (violations)\nyear  violations  total_penalty  mean_penalty"
        ),
        "{printed}"
    );
    assert!(printed.lines().any(|l| l.starts_with("1960 ")), "{printed}");

    // A table of a summary's name that pqstage did not make stops the
    // summaries, not the load: it is committed (with its state), and the
    // other summaries are not either.
    {
        let conn = duckdb::Connection::open(d.join("taken.duckdb")).unwrap();
        conn.execute_batch("CREATE TABLE violations_by_year (x INTEGER)").unwrap();
    }
    let o = run(d, &["load", "duckdb", "stage", "--db", "taken.duckdb", "--no-progress"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("\"violations_by_year\" exists and is not a summary pqstage made"), "{err}");
    {
        let conn = duckdb::Connection::open(d.join("taken.duckdb")).unwrap();
        let (n, states): (i64, i64) = conn
            .query_row("SELECT (SELECT count(*) FROM violations), (SELECT count(*) FROM pqstage.load_state)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(n > 19_000 && states > 0, "{n} rows, {states} states");
    }

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
