//! One fixture per failure mode: the whole message, the exit code, and that
//! nothing was committed.

use crate::util::{fixtures, ok, run};

const HINT: &str = "\n(nothing was written; rerun with --rejects to keep bad rows under _rejects/ and go on)";

fn refused(file: &str) -> (i32, String, bool) {
    let dir = fixtures();
    let o =
        run(dir.path(), &["convert", &format!("bad/{file}"), "--spec", "small.toml", "--to", "stage", "--no-progress"]);
    let committed = dir.path().join("stage/small/_manifest.json").exists();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).trim_end().to_string(), committed)
}

fn assert_refused(file: &str, message: &str) {
    let (code, stderr, committed) = refused(file);
    assert_eq!(stderr, format!("pqstage: error: {}", crate::util::with_retype_hint(message)), "fixture {file}");
    assert_eq!(code, 1, "fixture {file}: data errors exit 1");
    assert!(!committed, "fixture {file}: nothing may be committed");
}

#[test]
fn ragged_row() {
    assert_refused("ragged.csv", &format!("bad/ragged.csv line 3: expected 6 fields, found 5{HINT}"));
}

#[test]
fn unterminated_quote_is_reported_where_it_opened() {
    assert_refused(
        "unterminated.csv",
        &format!(
            "bad/unterminated.csv line 3: unterminated quoted field: the quote opened on line 3 never closes{HINT}"
        ),
    );
}

#[test]
fn invalid_utf8() {
    assert_refused(
        "invalid_utf8.csv",
        &format!("bad/invalid_utf8.csv line 3, column name: value 'b\\xFFc' is not valid UTF-8 (bytes shown as \\xNN; if the file is Latin-1 or Windows-1252, pass --encoding or set dialect.encoding){HINT}"),
    );
}

#[test]
fn unparseable_number() {
    assert_refused(
        "bad_int.csv",
        &format!("bad/bad_int.csv line 3, column id: value 'abc' is not a valid int32{HINT}"),
    );
}

#[test]
fn impossible_date() {
    assert_refused(
        "bad_date.csv",
        &format!("bad/bad_date.csv line 3, column day: value '2019-02-30' is not a valid date (no such day){HINT}"),
    );
}

#[test]
fn unparseable_timestamp() {
    assert_refused(
        "bad_timestamp.csv",
        &format!("bad/bad_timestamp.csv line 3, column ts: value 'yesterday' is not a valid timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff]){HINT}"),
    );
}

#[test]
fn unparseable_bool() {
    assert_refused(
        "bad_bool.csv",
        &format!("bad/bad_bool.csv line 3, column flag: value 'maybe' is not a valid bool (expected true/false, t/f, yes/no, y/n or 1/0){HINT}"),
    );
}

#[test]
fn integer_overflow() {
    assert_refused(
        "overflow.csv",
        &format!("bad/overflow.csv line 3, column id: value '2147483648' overflows int32{HINT}"),
    );
}

#[test]
fn decimal_digits_are_never_rounded_away() {
    assert_refused(
        "decimal_scale.csv",
        &format!("bad/decimal_scale.csv line 3, column amount: value '2.005' has 3 digits after the point, decimal(8,2) keeps 2{HINT}"),
    );
    assert_refused(
        "decimal_overflow.csv",
        &format!("bad/decimal_overflow.csv line 3, column amount: value '1000000.00' overflows decimal(8,2){HINT}"),
    );
}

#[test]
fn null_in_non_nullable_column() {
    assert_refused(
        "null_not_nullable.csv",
        &format!("bad/null_not_nullable.csv line 3, column id: NULL in a non-nullable column{HINT}"),
    );
}

#[test]
fn line_numbers_count_quoted_newlines() {
    assert_refused(
        "after_quoted_newline.csv",
        &format!("bad/after_quoted_newline.csv line 4, column amount: value 'x' is not a valid decimal(8,2){HINT}"),
    );
}

/// An empty or header-only file (an empty daily extract) adds no rows, with
/// a note, and the dataset it makes is committed with zero rows.
fn adds_no_rows(file: &str, note: &str) {
    let dir = fixtures();
    let o =
        run(dir.path(), &["convert", &format!("bad/{file}"), "--spec", "small.toml", "--to", "stage", "--no-progress"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end(), format!("note: bad/{file} {note}"));
    let m = crate::util::manifest(&dir.path().join("stage"), "small");
    assert_eq!(m["tables"][0]["rows_read"], 0);
    assert_eq!(m["tables"][0]["partitions"].as_array().unwrap().len(), 0);
}

#[test]
fn empty_file() {
    adds_no_rows("empty.csv", "is empty: it adds no rows");
}

#[test]
fn header_only_file() {
    adds_no_rows("header_only.csv", "has a header but no data rows: it adds none");
}

#[test]
fn header_that_does_not_match_the_spec() {
    assert_refused(
        "header_mismatch.csv",
        "bad/header_mismatch.csv line 1: header does not match the spec: the file has columns the spec does not \
         ('date' (column 4)) and lacks some it has ('day' (column 4)): renamed? Name them as the spec does, or change \
         the spec (a renamed column is a column lost and one gained)",
    );
    assert_refused(
        "header_short.csv",
        "bad/header_short.csv line 1: header does not match the spec: the file lacks the spec's columns 'flag' \
         (column 6). If the source no longer has them, remove them from the spec (a table already loaded keeps them: \
         drop them there, or load into a new table); if they are only empty now, the file must still have them, empty",
    );
}

#[test]
fn rejects_are_kept_with_their_reasons_and_counts_reconcile() {
    let dir = fixtures();
    let files = ["bad/bad_int.csv", "bad/ragged.csv", "bad/invalid_utf8.csv", "good.csv"];
    let mut args = vec!["convert"];
    args.extend(files);
    args.extend(["--spec", "small.toml", "--to", "stage", "--rejects", "--no-progress"]);
    let out = ok(dir.path(), &args);
    assert!(out.contains("(3 rejected)"), "{out}");
    let m = crate::util::manifest(&dir.path().join("stage"), "small");
    let t = &m["tables"][0];
    assert_eq!(
        (t["rows_read"].as_u64(), t["rows_written"].as_u64(), t["rows_rejected"].as_u64()),
        (Some(11), Some(8), Some(3))
    );
    let rel = t["rejects"]["files"][0]["path"].as_str().unwrap();
    assert!(rel.starts_with("_rejects/rejects-") && rel.ends_with(".csv"), "{rel}");
    let text = String::from_utf8_lossy(&std::fs::read(dir.path().join("stage/small").join(rel)).unwrap()).into_owned();
    let want = "source,line,column,value,reason,record\n\
        bad/bad_int.csv,3,id,abc,is not a valid int32,\"abc,b,2.00,2019-01-02,2019-01-02 00:00:00,true\"\n\
        bad/ragged.csv,3,,,\"expected 6 fields, found 5\",\"2,b,2.00,2019-01-02,2019-01-02 00:00:00\"\n\
        bad/invalid_utf8.csv,3,name,b\\xFFc,\"is not valid UTF-8 (bytes shown as \\xNN; if the file is Latin-1 or Windows-1252, pass --encoding or set dialect.encoding)\",\"2,b\u{fffd}c,2.00,2019-01-02,2019-01-02 00:00:00,true\"\n";
    assert_eq!(text, want);
    let sources: Vec<u64> = m["sources"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).collect();
    assert_eq!(sources, vec![2, 2, 2, 5]);
}

#[test]
fn more_rejects_than_allowed_fail_with_exit_1() {
    let dir = fixtures();
    let args =
        ["convert", "bad/bad_int.csv", "bad/ragged.csv", "--spec", "small.toml", "--to", "stage", "--max-rejects", "1"];
    let o = run(dir.path(), &args);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "pqstage: error: 2 rows refused, more than --max-rejects 1; nothing was written. First: bad/bad_int.csv line 3, column id: value 'abc' is not a valid int32"
    );
    assert!(!dir.path().join("stage/small/_manifest.json").exists());
    // One is allowed.
    let args = ["convert", "bad/bad_int.csv", "--spec", "small.toml", "--to", "stage", "--max-rejects", "1"];
    assert!(run(dir.path(), &args).status.success());
}

#[test]
fn a_bad_spec_is_a_usage_error() {
    let dir = fixtures();
    std::fs::write(dir.path().join("bad.toml"), "[[columns]]\nname = \"id\"\ntype = \"int128\"\n").unwrap();
    let o = run(dir.path(), &["convert", "good.csv", "--spec", "bad.toml", "--to", "stage"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("pqstage: error: spec bad.toml: spec is not valid TOML")
            && err.contains("unknown column type 'int128'"),
        "{err}"
    );
}

#[test]
fn a_missing_input_is_a_system_error() {
    let dir = fixtures();
    let o = run(dir.path(), &["convert", "nope.csv", "--spec", "small.toml", "--to", "stage"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "pqstage: error: opening nope.csv: No such file or directory (os error 2)"
    );
}

#[test]
fn several_sources_are_read_in_order_and_each_header_is_checked() {
    let dir = fixtures();
    let args =
        ["convert", "good.csv", "good.csv", "--spec", "small.toml", "--to", "stage", "-q", "--allow-same-source"];
    let out = ok(dir.path(), &args);
    assert!(out.is_empty());
    let m = crate::util::manifest(&dir.path().join("stage"), "small");
    let sources: Vec<(&str, u64)> = m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(sources, vec![("good.csv", 5), ("good.csv", 5)]);
    assert_eq!(m["tables"][0]["rows_written"], 10);

    // A mismatched header in the second file refuses the whole run.
    let o =
        run(dir.path(), &["convert", "good.csv", "bad/header_mismatch.csv", "--spec", "small.toml", "--to", "other"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "pqstage: error: bad/header_mismatch.csv line 1: header does not match the spec: the file has columns the spec \
         does not ('date' (column 4)) and lacks some it has ('day' (column 4)): renamed? Name them as the spec does, \
         or change the spec (a renamed column is a column lost and one gained)"
    );
    assert!(!dir.path().join("other/small/_manifest.json").exists());
}

#[test]
fn settings_out_of_bounds_name_the_flag_given() {
    let dir = fixtures();
    // 4 GiB once reached an assertion in the tokenizer.
    let cases = [
        (["--chunk-size", "4294967296"], "--chunk-size: must be between 1024 and 1073741824, not 4294967296"),
        (["--chunk-size", "1000"], "--chunk-size: must be between 1024 and 1073741824, not 1000"),
        (["--row-group-rows", "0"], "--row-group-rows: must be between 1 and 67108864, not 0"),
        (["--file-size", "0"], "--file-size: must be at least 1, not 0"),
        (["--jobs", "0"], "--jobs: must be between 1 and 1024, not 0"),
        (["--compression", "zstd:99"], "--compression: zstd level must be 1..=22, not 99"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["convert", "good.csv", "--spec", "small.toml", "--to", "stage"];
        args.extend(extra);
        let o = run(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end(), format!("pqstage: error: {message}"));
    }
    assert!(!dir.path().join("stage/small/_manifest.json").exists(), "nothing was committed");
}
