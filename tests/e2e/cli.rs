//! The command line itself: help golden files, sample, exit codes, pipes.

use std::io::Read;
use std::process::Stdio;

use crate::util::{data, ok, run};

/// `--help` output is kept as golden files; `UPDATE_GOLDEN=1` rewrites them.
#[test]
fn help_matches_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("pqstage", vec!["--help"]),
        ("sample", vec!["sample", "--help"]),
        ("infer", vec!["infer", "--help"]),
        ("convert", vec!["convert", "--help"]),
        ("status", vec!["status", "--help"]),
        ("load-duckdb", vec!["load", "duckdb", "--help"]),
        ("load-postgres", vec!["load", "postgres", "--help"]),
        ("summary", vec!["summary", "--help"]),
        ("copy", vec!["copy", "--help"]),
        ("gc", vec!["gc", "--help"]),
        ("ddl", vec!["ddl", "--help"]),
    ] {
        let got = ok(dir.path(), &args);
        let path = data().join("help").join(format!("{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(got, want, "{name} --help differs from {}; rerun with UPDATE_GOLDEN=1 if intended", path.display());
    }
}

#[test]
fn sample_is_deterministic_and_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |name: &str, seed: &str, threads: &str| {
        ok(
            dir.path(),
            &["sample", "violations", "--rows", "20000", "--out", name, "--seed", seed, "--threads", threads],
        );
        std::fs::read(dir.path().join(name)).unwrap()
    };
    let a = gen("a.csv", "7", "1");
    assert_eq!(a, gen("b.csv", "7", "2"));
    assert_ne!(a, gen("c.csv", "8", "2"));
    assert!(!dir.path().join("a.partial").exists());
    let header = String::from_utf8_lossy(&a[..a.iter().position(|&b| b == b'\n').unwrap()]).into_owned();
    assert!(header.starts_with("agency,activity_nr,citation_id,company_name,site_address"), "{header}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["convert", "x.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--to <STAGE>"));
    let o = run(dir.path(), &["sample", "nonsense", "--rows", "1", "--out", "x.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "pqstage: error: unknown dataset `nonsense` (known datasets: violations, trajectories)"
    );
    let o = run(dir.path(), &["status", "ftp://bucket/x"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "pqstage: error: stage 'ftp://bucket/x': unknown scheme 'ftp://' (a stage is a folder, file://, s3://, gs://, \
         az://, abfss:// or memory://)"
    );
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::util::cmd(dir.path())
        .args(["sample", "violations", "--rows", "200000", "--out", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.as_mut().unwrap().read_exact(&mut head).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn progress_is_not_drawn_when_stderr_is_not_a_terminal() {
    let dir = crate::util::fixtures();
    let o = run(dir.path(), &["convert", "good.csv", "--spec", "small.toml", "--to", "stage"]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.starts_with("converted 5 rows into 4 partitions (0 rejected) in "), "{summary}");
    let q = run(dir.path(), &["-q", "convert", "good.csv", "--spec", "small.toml", "--to", "stage"]);
    assert!(q.status.success() && q.stdout.is_empty() && q.stderr.is_empty());
}
