//! Trajectory datasets end to end: `sample trajectories` → `convert` →
//! `load duckdb` / `load postgres`, each load checked against what the
//! source files say when DuckDB reads them directly ([`source`]), and the two
//! engines' tables checked against each other row by row ([`target`]).

mod changed;
mod refused;
mod source;
mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use source::{episodes, expected, rewrite_parquet, Expected, Kind, SourceEpisode};
use target::Target;

use crate::object_store::s3_ok;
use crate::util::{files, group, manifest, ok, run, s3_url, walk};

const BOIDS: &str = "boids_3d";
const TRACKING: &str = "tracking";

/// The staged tables of a trajectory dataset.
const TABLES: [&str; 4] = ["sessions", "episodes", "observations", "extended_properties"];

/// Writes boids session folders (6 agents, 2 targets, 50 frames) under
/// `dir/out` and the spec to `dir/boids.toml`; returns the folders relative
/// to `dir`, in name order.
fn boids(dir: &Path, out: &str, sessions: u32, episodes: u32, seed: u64) -> Vec<String> {
    let (sessions, episodes, seed) = (sessions.to_string(), episodes.to_string(), seed.to_string());
    ok(
        dir,
        &[
            "sample",
            "trajectories",
            "--source",
            "boids",
            "--out",
            out,
            "--spec-out",
            "boids.toml",
            "--sessions",
            &sessions,
            "--episodes",
            &episodes,
            "--agents",
            "6",
            "--targets",
            "2",
            "--frames",
            "50",
            "--seed",
            &seed,
        ],
    );
    relative(dir, out)
}

/// Writes tracking session folders (2 cameras, 6 tracks, 60 frames) under
/// `dir/out` and the spec to `dir/tracking.toml`; returns the folders
/// relative to `dir`.
fn tracking(dir: &Path, out: &str, sessions: u32, seed: u64) -> Vec<String> {
    let (sessions, seed) = (sessions.to_string(), seed.to_string());
    ok(
        dir,
        &[
            "sample",
            "trajectories",
            "--source",
            "tracking",
            "--out",
            out,
            "--spec-out",
            "tracking.toml",
            "--sessions",
            &sessions,
            "--cameras",
            "2",
            "--tracks",
            "6",
            "--frames",
            "60",
            "--seed",
            &seed,
        ],
    );
    relative(dir, out)
}

fn relative(dir: &Path, out: &str) -> Vec<String> {
    source::subdirs(&dir.join(out))
        .iter()
        .map(|p| format!("{out}/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect()
}

fn absolute(dir: &Path, sessions: &[String]) -> Vec<PathBuf> {
    sessions.iter().map(|s| dir.join(s)).collect()
}

/// `pqstage convert SESSIONS --spec SPEC --to stage --dataset DATASET`.
fn convert(dir: &Path, spec: &str, sessions: &[String], dataset: &str) -> Output {
    let mut args = vec!["convert"];
    args.extend(sessions.iter().map(String::as_str));
    args.extend(["--spec", spec, "--to", "stage", "--dataset", dataset, "--no-progress"]);
    run(dir, &args)
}

fn convert_ok(dir: &Path, spec: &str, sessions: &[String], dataset: &str) -> String {
    let o = convert(dir, spec, sessions, dataset);
    assert!(o.status.success(), "convert {dataset} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// A convert that must be refused as bad data (exit 1) without touching the
/// committed manifest; returns stderr.
fn refused(dir: &Path, spec: &str, sessions: &[String], dataset: &str) -> String {
    let path = dir.join("stage").join(dataset).join("_manifest.json");
    let before = std::fs::read(&path).unwrap();
    let o = convert(dir, spec, sessions, dataset);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "stdout: {}\nstderr: {err}", String::from_utf8_lossy(&o.stdout));
    assert!(std::fs::read(&path).unwrap() == before, "a refused convert leaves the committed manifest: {err}");
    err
}

/// Observations and properties per episode, as `dataset_counts` must give them.
fn counts_of(want: &BTreeMap<String, Expected>) -> BTreeMap<String, (i64, i64)> {
    want.iter().map(|(k, e)| (k.clone(), (e.observations, e.properties))).collect()
}

/// Observations and properties of all the episodes in `want`.
fn totals(want: &BTreeMap<String, Expected>) -> (i64, i64) {
    want.values().fold((0, 0), |(o, p), e| (o + e.observations, p + e.properties))
}

/// A load's headline: `N episodes loaded (O observations, P properties), U unchanged, R removed`.
fn headline(loaded: usize, want: &[&Expected], unchanged: usize, removed: usize) -> String {
    let obs: i64 = want.iter().map(|e| e.observations).sum();
    let props: i64 = want.iter().map(|e| e.properties).sum();
    format!(
        "{loaded} episodes loaded ({} observations, {} properties), {unchanged} unchanged, {removed} removed",
        group(obs),
        group(props)
    )
}

/// The result column of an episode's line in a load's report.
fn result_of<'a>(out: &'a str, episode: &str) -> Option<&'a str> {
    let line = out.lines().find(|l| l.split_whitespace().next() == Some(episode))?;
    let mut rest = line.trim_start()[episode.len()..].trim_start();
    // obs, properties, seconds
    for _ in 0..3 {
        let end = rest.find(char::is_whitespace)?;
        rest = rest[end..].trim_start();
    }
    Some(rest)
}

/// Loses the position of eight rows of a boids episode (x NaN for agent 2
/// every ten frames from 5 and for target 1 at frame 20, y NULL for agent 3
/// at frames 7 and 8) and two property values (agent 4's scene point list
/// at frame 11, agent 5's target distance at frame 12).
fn lose_positions(file: &Path) {
    rewrite_parquet(
        file,
        "SELECT * REPLACE (\
           CASE WHEN (type = 'agent' AND id = 2 AND time % 10 = 5) OR (type = 'env' AND id = 1 AND time = 20) \
                THEN 'NaN'::DOUBLE ELSE x END AS x, \
           CASE WHEN type = 'agent' AND id = 3 AND time IN (7, 8) THEN NULL ELSE y END AS y, \
           CASE WHEN type = 'agent' AND id = 4 AND time = 11 THEN NULL ELSE mesh_scene_closest_point END \
                AS mesh_scene_closest_point, \
           CASE WHEN type = 'agent' AND id = 5 AND time = 12 THEN 'NaN'::DOUBLE ELSE distance_target_center_1 END \
                AS distance_target_center_1) \
         FROM {src}",
    );
}

/// The manifest's tables by name.
fn table<'m>(m: &'m serde_json::Value, name: &str) -> &'m serde_json::Value {
    m["tables"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no table {name}"))
}

/// Rows per partition key of a manifest table.
fn rows_by_key(m: &serde_json::Value, name: &str) -> BTreeMap<String, i64> {
    table(m, name)["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap().to_string(), p["rows"].as_i64().unwrap()))
        .collect()
}

/// The manifest of `stage/dataset` agrees with the sources: rows per episode
/// in each table, the rows refused, and the rejects files naming exactly the
/// source rows without a position.
fn check_manifest(dir: &Path, dataset: &str, eps: &[SourceEpisode], want: &BTreeMap<String, Expected>) {
    let m = manifest(&dir.join("stage"), dataset);
    let by = |f: fn(&Expected) -> i64| want.iter().map(|(k, e)| (k.clone(), f(e))).collect::<BTreeMap<_, _>>();
    assert_eq!(rows_by_key(&m, "observations"), by(|e| e.observations), "observations per episode");
    assert_eq!(rows_by_key(&m, "extended_properties"), by(|e| e.properties), "properties per episode");
    assert_eq!(rows_by_key(&m, "episodes"), by(|_| 1), "one row per episode");
    let sessions: BTreeMap<String, i64> = eps.iter().map(|e| (e.session.clone(), 1)).collect();
    assert_eq!(rows_by_key(&m, "sessions"), sessions);

    let obs = table(&m, "observations");
    let sum = |f: fn(&Expected) -> i64| want.values().map(f).sum::<i64>();
    assert_eq!(obs["rows_read"].as_i64(), Some(sum(|e| e.rows)));
    assert_eq!(obs["rows_written"].as_i64(), Some(sum(|e| e.observations)));
    assert_eq!(obs["rows_rejected"].as_i64(), Some(sum(|e| e.rejected)));
    let rejects = obs["rejects"]["files"].as_array().unwrap();
    for e in eps {
        let listed: Vec<i64> = rejects
            .iter()
            .filter(|f| f["path"].as_str().unwrap().contains(&format!("episode_id={}/", e.id)))
            .flat_map(|f| {
                let text =
                    std::fs::read_to_string(dir.join("stage").join(dataset).join(f["path"].as_str().unwrap())).unwrap();
                assert_eq!(text.lines().count() as i64 - 1, f["rows"].as_i64().unwrap(), "{text}");
                text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<i64>().unwrap()).collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            listed,
            source::rows_without_position(e),
            "the rejects of {} name its rows without a position",
            e.id
        );
    }
}

/// `pqstage status` names each table and shows each episode's rows.
fn check_status(dir: &Path, dataset: &str, want: &BTreeMap<String, Expected>) {
    let out = ok(dir, &["status", "stage", "--dataset", dataset]);
    for t in TABLES {
        assert!(out.contains(t), "status names table {t}:\n{out}");
    }
    assert!(!out.contains("+ NULL"), "a trajectory dataset has no NULL partition:\n{out}");
    let sum = |f: fn(&Expected) -> i64| want.values().map(f).sum::<i64>();
    let rows = format!(
        "{} read = {} written + {} rejected",
        group(sum(|e| e.rows)),
        group(sum(|e| e.observations)),
        group(sum(|e| e.rejected))
    );
    assert!(out.contains(&rows), "status shows the observations' rows ({rows}):\n{out}");
    for (id, e) in want {
        let shown: Vec<&str> = out
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&format!("episode_id={id}")))
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        let mut expect = vec![group(e.observations), group(e.properties), "1".to_string()];
        expect.sort();
        let mut shown: Vec<String> = shown.into_iter().map(str::to_string).collect();
        shown.sort();
        assert_eq!(shown, expect, "status rows of {id}:\n{out}");
    }
}

/// A DuckDB target holds exactly the source rows of each episode.
fn check_against_sources(duck: &Target, eps: &[SourceEpisode]) {
    let conn = duck.duck_conn();
    for e in eps {
        let bad = source::rows(&conn, &e.observation_mismatches(&duck.s()));
        assert!(bad.is_empty(), "observations of {} that differ from the source (source, then target): {bad:?}", e.id);
        let bad = source::rows(&conn, &e.property_mismatches(&duck.s()));
        assert!(bad.is_empty(), "properties of {} that differ from the source (source, then target): {bad:?}", e.id);
    }
}

/// Sessions and episodes rows of a boids load, from the folders and files.
fn check_boids_rows(t: &Target, eps: &[SourceEpisode], agents: i32) {
    let c = t.content();
    let conn = source::memory();
    for e in eps {
        let s = c.sessions.iter().find(|s| s.id == e.session).unwrap_or_else(|| panic!("session {}", e.session));
        let folder = e.file.parent().unwrap().file_name().unwrap().to_str().unwrap();
        assert_eq!((s.name.as_str(), s.category.as_str()), (folder, "boids_3d"));
        let config = s.config.as_ref().expect("the session's config.yaml, as JSON");
        assert_eq!(config["simulator"]["num_agents"], agents, "{config}");
        assert_eq!(config["targets"].as_array().map(Vec::len), Some(2), "{config}");
        let ep = c.episodes.iter().find(|x| x.id == e.id).unwrap_or_else(|| panic!("episode {}", e.id));
        let number: i32 = e.id.split('-').nth(1).unwrap().parse().unwrap();
        let frames =
            source::int(&conn, &format!("SELECT max(time) + 1 FROM read_parquet({})", source::path_lit(&e.file)));
        assert_eq!(
            (ep.session.as_str(), ep.number, i64::from(ep.frames), ep.agents),
            (e.session.as_str(), number, frames, agents)
        );
        assert_eq!(ep.frame_rate, config["simulator"]["frame_rate"].as_f64().unwrap_or(30.0));
        assert!(ep.file_path.ends_with(e.file.file_name().unwrap().to_str().unwrap()), "{}", ep.file_path);
    }
}

/// Targets ('env') have observations, without velocity or properties.
fn check_env_rows(t: &Target) {
    assert!(t.int("SELECT count(*) FROM {s}.observations WHERE agent_type_id = 'env'") > 0);
    let moving = "SELECT count(*) FROM {s}.observations WHERE agent_type_id = 'env' \
                  AND (v_x IS NOT NULL OR v_y IS NOT NULL OR v_z IS NOT NULL)";
    assert_eq!(t.int(moving), 0, "env rows have no velocity");
    let with_props = "SELECT count(*) FROM {s}.extended_properties p \
                      JOIN {s}.observations o ON o.observation_id = p.observation_id WHERE o.agent_type_id <> 'agent'";
    assert_eq!(t.int(with_props), 0, "only agents have properties");
}

/// `property_series` for one episode and property gives the source's values in its order.
fn check_property_series(t: &Target, e: &SourceEpisode, property: &str) {
    let want = e.property_values(property);
    assert!(want.len() > 100, "{} values of {property}", want.len());
    let got = t.property_series(&e.id, property);
    assert_eq!(got.len(), want.len(), "{property} of {}", e.id);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "{property} of {}, in the order of episode_tracks", e.id);
    }
}

/// Every file a manifest names: data files and rejects, in name order.
fn named_files(m: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = files(m).into_keys().collect();
    for t in TABLES {
        for f in table(m, t)["rejects"]["files"].as_array().unwrap() {
            out.push(f["path"].as_str().unwrap().to_string());
        }
    }
    out.sort();
    out
}

/// Observations of the `episode`s of `ids`, by natural key.
fn ids_of(ids: &BTreeMap<target::Key, i64>, episode: &str) -> BTreeMap<target::Key, i64> {
    ids.iter().filter(|(k, _)| k.0 == episode).map(|(k, v)| (k.clone(), *v)).collect()
}

#[test]
fn boids_on_duckdb_hold_what_the_source_files_say() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 11);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    assert_eq!(eps.len(), 3);
    lose_positions(&eps[1].file);
    let want = expected(&eps);
    assert!(want[&eps[1].id].rejected >= 8, "the lost positions are refused: {want:?}");

    convert_ok(d, "boids.toml", &sessions, BOIDS);
    check_manifest(d, BOIDS, &eps, &want);

    let duck = Target::duck(d, "t.duckdb", "main");
    let out = duck.load_ok(d, "stage", BOIDS, &[]);
    let all: Vec<&Expected> = want.values().collect();
    assert!(out.contains(&headline(3, &all, 0, 0)), "{out}");
    assert!(out.contains("1 sessions upserted; tables created"), "{out}");
    assert_eq!(duck.counts(), counts_of(&want));
    check_against_sources(&duck, &eps);
    check_env_rows(&duck);
    check_property_series(&duck, &eps[1], "target_mesh_closest_y");
    check_boids_rows(&duck, &eps, 6);

    // A rerun loads nothing and touches nothing.
    let before = duck.content();
    let ids = duck.ids();
    let out = duck.load_ok(d, "stage", BOIDS, &["-v"]);
    assert!(out.contains(&headline(0, &[], 3, 0)), "{out}");
    for e in &eps {
        assert_eq!(result_of(&out, &e.id), Some("skipped (unchanged)"), "{out}");
    }
    before.assert_same(&duck.content(), "after a rerun");
    assert_eq!(duck.ids(), ids, "a rerun keeps every observation_id");

    // --force reloads every episode to the same content.
    let out = duck.load_ok(d, "stage", BOIDS, &["--force"]);
    assert!(out.contains(&headline(3, &all, 0, 0)), "{out}");
    for e in &eps {
        assert_eq!(result_of(&out, &e.id), Some("reloaded (--force)"), "{out}");
    }
    before.assert_same(&duck.content(), "after --force");
    assert_eq!(duck.counts(), counts_of(&want));
}

#[test]
fn a_duckdb_memory_limit_is_duckdbs_own() {
    // --memory-limit caps DuckDB's buffer pool on every connection of the
    // load (the file is reopened between episodes): far too little fails
    // with DuckDB's own error and commits nothing; enough loads everything.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, eps) = staged_boids(d, 33);
    let want = expected(&eps);
    let duck = Target::duck(d, "t.duckdb", "main");
    let o = duck.load(d, "stage", BOIDS, &["--memory-limit", "1MB"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("Out of Memory"), "{err}");
    let o = duck.load(d, "stage", BOIDS, &["--memory-limit", "12 parsecs"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--memory-limit: bad size unit in '12 parsecs'"), "{err}");
    let out = duck.load_ok(d, "stage", BOIDS, &["--memory-limit", "256MB", "--jobs", "1"]);
    let all: Vec<&Expected> = want.values().collect();
    assert!(out.contains(&headline(2, &all, 0, 0)), "{out}");
    assert_eq!(duck.counts(), counts_of(&want));
}

#[test]
fn duckdb_returns_freed_memory_at_once_for_trajectories_and_under_a_memory_limit() {
    // DuckDB's allocator (its own jemalloc) reads its settings before main
    // runs, so for a trajectory dataset, or with --memory-limit, the command
    // starts itself again with them set to hand freed pages back at once.
    // jemalloc's report at exit (stats_print, a setting of the user's, kept)
    // shows what it ran with; the user's own decay wins over ours.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    staged_boids(d, 34);
    crate::util::sample(d, 2_000, "v.csv");
    ok(d, &["convert", "v.csv", "--spec", "violations.toml", "--to", "stage", "--no-progress"]);
    let jemalloc_says_with = |conf: &str, dataset: &str, extra: &[&str]| -> (String, String) {
        let o = crate::util::cmd(d)
            .env("DUCKDB_JE_MALLOC_CONF", conf)
            .args(["load", "duckdb", "stage", "--dataset", dataset, "--db", "t.duckdb", "--no-progress"])
            .args(extra)
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{out}\n{err}");
        let setting = |name: &str| {
            err.lines()
                .map(str::trim)
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| {
                    panic!("no {name} in jemalloc's report (the official libduckdb links jemalloc):\n{err}")
                })
                .to_string()
        };
        (setting("opt.dirty_decay_ms:"), setting("opt.muzzy_decay_ms:"))
    };
    let jemalloc_says = |dataset: &str, extra: &[&str]| jemalloc_says_with("stats_print:true", dataset, extra);
    let at_once = |(dirty, muzzy): &(String, String)| {
        dirty.starts_with("opt.dirty_decay_ms: 0 ") && muzzy.starts_with("opt.muzzy_decay_ms: 0 ")
    };
    let kept = |(dirty, muzzy): &(String, String)| {
        !dirty.starts_with("opt.dirty_decay_ms: 0 ") && !muzzy.starts_with("opt.muzzy_decay_ms: 0 ")
    };
    for says in [jemalloc_says(BOIDS, &[]), jemalloc_says(BOIDS, &["--force", "--memory-limit", "256MB"])] {
        assert!(at_once(&says), "{says:?}");
    }
    // A table dataset keeps DuckDB's own settings unless capped.
    let says = jemalloc_says("violations", &[]);
    assert!(kept(&says), "{says:?}");
    let says = jemalloc_says("violations", &["--force", "--memory-limit", "256MB"]);
    assert!(at_once(&says), "{says:?}");
    // Settings of the user's own come after ours and win.
    let (dirty, _) = jemalloc_says_with("stats_print:true,dirty_decay_ms:1000", BOIDS, &["--force"]);
    assert!(dirty.starts_with("opt.dirty_decay_ms: 1000 "), "{dirty}");
}

/// The secondary indexes of a DuckDB target's schema, by name.
fn duck_indexes(t: &Target) -> Vec<String> {
    let conn = t.duck_conn();
    let mut stmt =
        conn.prepare("SELECT index_name FROM duckdb_indexes() WHERE schema_name = ? ORDER BY index_name").unwrap();
    stmt.query_map([t.schema()], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn duckdb_tables_get_no_second_copy_of_a_foreign_keys_index_and_a_users_file_keeps_its_own() {
    // DuckDB gives every foreign key an ART index on its referencing column,
    // so the tables pqstage creates skip the users' indexes that would copy
    // one of those: only idx_obs_episode_time is made, and every key still
    // holds. A file made from the users' own schema, all seven indexes,
    // loads the same and keeps them.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, eps) = staged_boids(d, 35);
    let want = expected(&eps);

    let duck = Target::duck(d, "t.duckdb", "main");
    duck.load_ok(d, "stage", BOIDS, &[]);
    assert_eq!(duck_indexes(&duck), ["idx_obs_episode_time"]);
    assert_eq!(duck.counts(), counts_of(&want));
    let Target::Duck { db, .. } = &duck else { unreachable!() };
    let conn = duckdb::Connection::open(db).unwrap();
    let refused = |sql: &str| {
        let err = conn.execute_batch(sql).expect_err(sql).to_string();
        assert!(err.to_lowercase().contains("foreign key"), "{sql}: {err}");
    };
    refused("DELETE FROM observations WHERE observation_id = (SELECT min(observation_id) FROM extended_properties)");
    refused("DELETE FROM episodes WHERE episode_id = (SELECT min(episode_id) FROM observations)");
    refused(
        "INSERT INTO extended_properties VALUES ((SELECT min(observation_id) FROM observations), 'no_such_property', 1.0, NULL)",
    );
    refused("INSERT INTO extended_properties VALUES (-1, 'speed', 1.0, NULL)");
    refused("UPDATE observations SET agent_type_id = 'no_such_type' WHERE observation_id = (SELECT max(observation_id) FROM observations)");
    drop(conn);

    let users = Target::duck(d, "u.duckdb", "main");
    let all_seven = [
        ("idx_sessions_category", "sessions (category_id)"),
        ("idx_episodes_session", "episodes (session_id)"),
        ("idx_obs_episode", "observations (episode_id)"),
        ("idx_obs_episode_time", "observations (episode_id, time_index)"),
        ("idx_obs_agent_type", "observations (agent_type_id)"),
        ("idx_ext_props_observation", "extended_properties (observation_id)"),
        ("idx_ext_props_property", "extended_properties (property_id)"),
    ];
    {
        let conn = duckdb::Connection::open(d.join("u.duckdb")).unwrap();
        conn.execute_batch(&target::named_sql("duckdb/trajectories_schema.sql", "create_schema", "main")).unwrap();
        for (name, on) in all_seven {
            conn.execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} ON main.{on}")).unwrap();
        }
    }
    let out = users.load_ok(d, "stage", BOIDS, &[]);
    assert!(!out.contains("tables created"), "{out}");
    assert_eq!(users.counts(), counts_of(&want));
    let mut names: Vec<&str> = all_seven.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(duck_indexes(&users), names);
    users.content().assert_same(&duck.content(), "a file with the users' seven indexes");
}

#[test]
fn status_shows_each_table_of_a_trajectory_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 2, 15);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    lose_positions(&eps[0].file);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    check_status(d, BOIDS, &expected(&eps));
}

#[test]
fn boids_on_postgres_equal_the_sources_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 2, 2, 12);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    assert_eq!(eps.len(), 4);
    lose_positions(&eps[2].file);
    let want = expected(&eps);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    check_manifest(d, BOIDS, &eps, &want);

    let duck = Target::duck(d, "t.duckdb", "main");
    duck.load_ok(d, "stage", BOIDS, &[]);
    check_against_sources(&duck, &eps);
    let pg = Target::pg("traj_boids_pg");
    let out = pg.load_ok(d, "stage", BOIDS, &[]);
    let all: Vec<&Expected> = want.values().collect();
    assert!(out.contains(&headline(4, &all, 0, 0)), "{out}");
    assert!(out.contains("2 sessions upserted; tables created"), "{out}");
    assert_eq!(pg.counts(), counts_of(&want));
    let content = duck.content();
    content.assert_same(&pg.content(), "DuckDB, then PostgreSQL");
    check_env_rows(&pg);
    check_property_series(&pg, &eps[2], "scene_mesh_closest_x");
    check_boids_rows(&pg, &eps, 6);

    let ids = pg.ids();
    let out = pg.load_ok(d, "stage", BOIDS, &[]);
    assert!(out.contains(&headline(0, &[], 4, 0)), "{out}");
    assert_eq!(pg.ids(), ids, "a rerun keeps every observation_id");
    let out = pg.load_ok(d, "stage", BOIDS, &["--force"]);
    assert!(out.contains(&headline(4, &all, 0, 0)), "{out}");
    for e in &eps {
        assert_eq!(result_of(&out, &e.id), Some("reloaded (--force)"), "{out}");
    }
    content.assert_same(&pg.content(), "DuckDB, then PostgreSQL after --force");
}

#[test]
fn a_changed_episode_is_reloaded_alone_and_equals_a_fresh_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 13);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let duck = Target::duck(d, "t.duckdb", "main");
    let pg = Target::pg("traj_changed");
    duck.load_ok(d, "stage", BOIDS, &[]);
    pg.load_ok(d, "stage", BOIDS, &[]);
    let ids = [duck.ids(), pg.ids()];
    let staged = files(&manifest(&d.join("stage"), BOIDS));

    // Episode 1 moves every x by one and loses agent 1's last ten frames.
    let changed = &eps[1];
    rewrite_parquet(
        &changed.file,
        "SELECT * REPLACE (x + 1 AS x) FROM {src} WHERE NOT (type = 'agent' AND id = 1 AND time >= 40)",
    );
    let want = expected(&eps);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    check_manifest(d, BOIDS, &eps, &want);
    let restaged = files(&manifest(&d.join("stage"), BOIDS));
    for (path, sum) in &staged {
        let of_changed = path.contains(&format!("episode_id={}/", changed.id));
        if !of_changed {
            assert_eq!(restaged.get(path), Some(sum), "{path} of an unchanged episode keeps its file");
        }
    }

    let one: Vec<&Expected> = vec![&want[&changed.id]];
    for t in [&duck, &pg] {
        let (out, err) = t.load_ok_both(d, "stage", BOIDS, &["-v"]);
        // Its property values did not change: no advice about rewriting them.
        assert!(!err.contains("note:"), "{}: {err}", t.engine());
        assert!(out.contains(&headline(1, &one, 2, 0)), "{}: {out}", t.engine());
        for e in &eps {
            let result = if e.id == changed.id { "loaded (changed)" } else { "skipped (unchanged)" };
            assert_eq!(result_of(&out, &e.id), Some(result), "{}: {out}", t.engine());
        }
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    check_against_sources(&duck, &eps);
    for (t, before) in [&duck, &pg].into_iter().zip(&ids) {
        let after = t.ids();
        for e in eps.iter().filter(|e| e.id != changed.id) {
            assert_eq!(
                ids_of(&after, &e.id),
                ids_of(before, &e.id),
                "{}: observation_id of unchanged {}",
                t.engine(),
                e.id
            );
        }
    }

    // The same as a fresh load of the new stage, on either engine.
    let fresh_duck = Target::duck(d, "fresh.duckdb", "main");
    let fresh_pg = Target::pg("traj_changed_fresh");
    fresh_duck.load_ok(d, "stage", BOIDS, &[]);
    fresh_pg.load_ok(d, "stage", BOIDS, &[]);
    let content = fresh_duck.content();
    content.assert_same(&duck.content(), "a fresh DuckDB load, then the reloaded one");
    content.assert_same(&fresh_pg.content(), "a fresh DuckDB load, then a fresh PostgreSQL load");
    content.assert_same(&pg.content(), "a fresh DuckDB load, then the reloaded PostgreSQL");

    // Episode 2 keeps every observation but changes every y and every
    // distance to the first target, loses two property values, and agent 5
    // loses all of its values at frame 6 (its observation stays, with no
    // row in the property stage): the lost ones are found after the merge,
    // not before.
    let kept = &eps[2];
    let gone = "type = 'agent' AND id = 5 AND time = 6";
    rewrite_parquet(
        &kept.file,
        &format!(
            "SELECT * REPLACE (y - 1 AS y, \
               CASE WHEN {gone} THEN NULL ELSE distance_target_center_1 + 0.5 END AS distance_target_center_1, \
               CASE WHEN type = 'agent' AND id = 3 AND time IN (4, 9) THEN 'NaN'::DOUBLE \
                    WHEN {gone} THEN NULL ELSE mesh_scene_distance END AS mesh_scene_distance, \
               CASE WHEN {gone} THEN NULL ELSE distance_to_target_mesh_closest_point_1 END \
                    AS distance_to_target_mesh_closest_point_1, \
               CASE WHEN {gone} THEN NULL ELSE target_mesh_closest_point_1 END AS target_mesh_closest_point_1, \
               CASE WHEN {gone} THEN NULL ELSE mesh_scene_closest_point END AS mesh_scene_closest_point) \
             FROM {{src}}"
        ),
    );
    let again = expected(&eps);
    assert_eq!(again[&kept.id].observations, want[&kept.id].observations, "no observation is lost");
    assert!(
        again[&kept.id].properties + 2 < want[&kept.id].properties,
        "two property values are, and agent 5's at frame 6: {} against {}",
        again[&kept.id].properties,
        want[&kept.id].properties
    );
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let one: Vec<&Expected> = vec![&again[&kept.id]];
    let ids = [duck.ids(), pg.ids()];
    for (t, before) in [&duck, &pg].into_iter().zip(&ids) {
        let out = t.load_ok(d, "stage", BOIDS, &["-v"]);
        assert!(out.contains(&headline(1, &one, 2, 0)), "{}: {out}", t.engine());
        assert_eq!(result_of(&out, &kept.id), Some("loaded (changed)"), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&again), "{}", t.engine());
        assert_eq!(&t.ids(), before, "{}: every observation keeps its observation_id", t.engine());
    }
    check_against_sources(&duck, &eps);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL, after the second change");
}

/// Updates of `table` in the test server's statistics: (all, HOT). The
/// loader's backends report them when they end, after the load returns.
fn updates(pg: &Target, table: &str) -> (i64, i64) {
    let sql = format!(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = '{}.{table}'::regclass",
        pg.s()
    );
    let clock = std::time::Instant::now();
    loop {
        let r = target::pg().query_one(&sql, &[]).unwrap();
        let got: (i64, i64) = (r.get(0), r.get(1));
        if got.0 > 0 || clock.elapsed().as_secs() > 20 {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_fillfactor_lets_a_re_simulated_episode_be_rewritten_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 15);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let pg = Target::pg("traj_fillfactor");
    // No --fillfactor: the boids spec's [postgres] fillfactor = 50 is set on
    // the tables this load creates.
    let out = pg.load_ok(d, "stage", BOIDS, &["--no-analyze", "-v"]);
    assert!(out.contains("first load: foreign keys and indexes made after the data"), "{out}");
    let half = "SELECT count(*) FROM pg_class WHERE reloptions @> ARRAY['fillfactor=50']
        AND oid IN ('{s}.observations'::regclass, '{s}.extended_properties'::regclass)";
    assert_eq!(pg.int(half), 2, "both tables fill half their pages, as the spec says");
    let analyzed = "SELECT max(analyze_count) FROM pg_stat_user_tables
        WHERE relid IN ('{s}.observations'::regclass, '{s}.extended_properties'::regclass)";
    assert_eq!(pg.int(analyzed), 0, "--no-analyze leaves the statistics to autovacuum");

    // Episode 0 simulated again with another seed: the same keys, every
    // position and property value new.
    let other = episodes(Kind::Boids, &absolute(d, &boids(d, "other", 1, 3, 16)));
    std::fs::copy(&other[0].file, &eps[0].file).unwrap();
    let want = expected(&eps);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let ids = pg.ids();
    // The catalog row's version: a fillfactor already set is not set again
    // (ALTER TABLE would wait for an autovacuum of the table).
    let version = "SELECT xmin::text::bigint FROM pg_class WHERE oid = '{s}.extended_properties'::regclass";
    let before = pg.int(version);
    let (out, err) = pg.load_ok_both(d, "stage", BOIDS, &["--fillfactor", "50", "-v"]);
    assert!(!err.contains("note:"), "no advice at fillfactor 50: {err}");
    assert_eq!(result_of(&out, &eps[0].id), Some("loaded (changed)"), "{out}");
    assert_eq!(pg.int(version), before, "the fillfactor was already 50");
    assert_eq!(pg.counts(), counts_of(&want));
    assert_eq!(ids_of(&pg.ids(), &eps[1].id), ids_of(&ids, &eps[1].id), "an unchanged episode keeps its ids");
    for table in ["observations", "extended_properties"] {
        let (all, hot) = updates(&pg, table);
        assert!(all > 0, "{table}: the changed episode's rows were updated");
        assert!(hot * 10 >= all * 9, "{table}: {hot} of {all} updates stayed on their page");
    }
    let duck = Target::duck(d, "fresh.duckdb", "main");
    duck.load_ok(d, "stage", BOIDS, &[]);
    duck.content().assert_same(&pg.content(), "a fresh DuckDB load, then PostgreSQL rewritten in place");
    check_against_sources(&duck, &eps);

    pg.load_ok(d, "stage", BOIDS, &["--fillfactor", "70"]);
    assert_eq!(pg.int(&half.replace("=50", "=70")), 2, "another fillfactor is set on both tables");

    // Back at fillfactor 100, an episode simulated again brings the advice:
    // the tables exist, so the spec's fillfactor is not set on them again.
    pg.load_ok(d, "stage", BOIDS, &["--fillfactor", "100"]);
    std::fs::copy(&other[1].file, &eps[1].file).unwrap();
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let (_, err) = pg.load_ok_both(d, "stage", BOIDS, &[]);
    let note = format!("note: changed episode {} rewrote ", eps[1].id);
    assert!(err.contains(&note) && err.contains("loading with --fillfactor 50 leaves room"), "{err}");
    assert_eq!(err.matches("note:").count(), 1, "{err}");
    let full = "SELECT count(*) FROM pg_class WHERE reloptions @> ARRAY['fillfactor=100']
        AND oid IN ('{s}.observations'::regclass, '{s}.extended_properties'::regclass)";
    assert_eq!(pg.int(full), 2, "existing tables keep their fillfactor");

    // Options of table datasets are refused, not ignored.
    let o = pg.load(d, "stage", BOIDS, &["--index", "x", "--no-patch"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--no-patch, --index are for table datasets; boids_3d is a trajectory dataset"), "{err}");
}

#[test]
fn datasets_sharing_a_schema_keep_each_others_episodes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bs = boids(d, "bsrc", 2, 2, 14);
    let ts = tracking(d, "tsrc", 1, 14);
    let beps = episodes(Kind::Boids, &absolute(d, &bs));
    let teps = episodes(Kind::Tracking, &absolute(d, &ts));
    assert_eq!((beps.len(), teps.len()), (4, 2));
    convert_ok(d, "boids.toml", &bs, BOIDS);
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    let mut want = expected(&beps);
    want.extend(expected(&teps));

    let duck = Target::duck(d, "t.duckdb", "main");
    let pg = Target::pg("traj_shared");
    for t in [&duck, &pg] {
        t.load_ok(d, "stage", BOIDS, &[]);
        let out = t.load_ok(d, "stage", TRACKING, &[]);
        let tw: Vec<&Expected> = teps.iter().map(|e| &want[&e.id]).collect();
        assert!(out.contains(&headline(2, &tw, 0, 0)), "{}: {out}", t.engine());
        assert!(!out.contains("tables created"), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());

        // Reloading one dataset leaves the other's episodes.
        let out = t.load_ok(d, "stage", BOIDS, &["--force"]);
        let bw: Vec<&Expected> = beps.iter().map(|e| &want[&e.id]).collect();
        assert!(out.contains(&headline(4, &bw, 0, 0)), "{}: {out}", t.engine());
        let out = t.load_ok(d, "stage", TRACKING, &[]);
        assert!(out.contains(&headline(0, &[], 2, 0)), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    check_against_sources(&duck, &beps);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL, with two datasets");

    // The boids dataset without its second session: its two episodes go, nothing else.
    convert_ok(d, "boids.toml", &bs[..1], BOIDS);
    let gone: Vec<&SourceEpisode> = beps.iter().filter(|e| e.file.starts_with(d.join(&bs[1]))).collect();
    assert_eq!(gone.len(), 2);
    for e in &gone {
        want.remove(&e.id);
    }
    for t in [&duck, &pg] {
        let out = t.load_ok(d, "stage", BOIDS, &[]);
        assert!(out.contains(&headline(0, &[], 2, 2)), "{}: {out}", t.engine());
        for e in &beps {
            let gone = gone.iter().any(|g| g.id == e.id);
            let result = if gone { "removed (no longer staged)" } else { "skipped (unchanged)" };
            assert_eq!(result_of(&out, &e.id).unwrap_or("skipped (unchanged)"), result, "{}: {out}", t.engine());
        }
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
        for e in &gone {
            let recorded = format!("SELECT count(*) FROM pqstage.episode_state WHERE episode_id = '{}'", e.id);
            assert_eq!(t.int(&recorded), 0, "{}: {} is forgotten", t.engine(), e.id);
        }
    }

    // The tracking session without its last camera's tracks: that episode goes, nothing else.
    let last = teps.last().unwrap();
    std::fs::remove_file(&last.file).unwrap();
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    want.remove(&last.id);
    for t in [&duck, &pg] {
        let out = t.load_ok(d, "stage", TRACKING, &[]);
        assert!(out.contains(&headline(0, &[], 1, 1)), "{}: {out}", t.engine());
        assert_eq!(result_of(&out, &last.id), Some("removed (no longer staged)"), "{}: {out}", t.engine());
        let out = t.load_ok(d, "stage", BOIDS, &[]);
        assert!(out.contains(&headline(0, &[], 2, 0)), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    check_against_sources(&duck, &beps[..2]);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL, after the removals");
}

/// The (track_id, frame) of a tracks or boxes CSV line.
fn track_frame(line: &str) -> (i64, i64) {
    let mut f = line.split(',').map(|v| v.parse::<i64>().unwrap());
    (f.next().unwrap(), f.next().unwrap())
}

/// Rewrites a CSV file with `edit` applied to its lines (the header is line 0).
fn edit_csv<T>(file: &Path, edit: impl FnOnce(&mut Vec<String>) -> T) -> T {
    let mut lines: Vec<String> = std::fs::read_to_string(file).unwrap().lines().map(str::to_string).collect();
    let out = edit(&mut lines);
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
    out
}

/// Empties the x of a row of a tracks file (from its 20th row on) whose
/// track is seen at the next frame too; returns that row's track and frame.
fn lose_tracking_x(file: &Path) -> (i64, i64) {
    edit_csv(file, |lines| {
        let keys: BTreeSet<(i64, i64)> = lines[1..].iter().map(|l| track_frame(l)).collect();
        let i = (20..lines.len())
            .find(|&i| {
                let (track, frame) = track_frame(&lines[i]);
                keys.contains(&(track, frame + 1))
            })
            .expect("a track seen at two frames in a row");
        let (track, frame) = track_frame(&lines[i]);
        let y = lines[i].rsplit(',').next().unwrap().to_string();
        lines[i] = format!("{track},{frame},,{y}");
        (track, frame)
    })
}

/// Empties the class of a bird's box row (from the 10th row on); returns its track and frame.
fn blank_class(boxes: &Path) -> (i64, i64) {
    edit_csv(boxes, |lines| {
        let i = (10..lines.len()).find(|&i| lines[i].ends_with(",bird")).expect("a bird");
        let keep = lines[i].len() - "bird".len();
        lines[i].truncate(keep);
        track_frame(&lines[i])
    })
}

/// Drops the box row of a rat's or gerbil's frame whose track has a row and
/// a box at the frames before and after; returns the track and frame.
fn drop_box(tracks: &Path, boxes: &Path) -> Option<(i64, i64)> {
    let text = std::fs::read_to_string(tracks).unwrap();
    let seen: BTreeSet<(i64, i64)> = text.lines().skip(1).map(track_frame).collect();
    edit_csv(boxes, |lines| {
        let boxed: BTreeSet<(i64, i64)> = lines[1..].iter().map(|l| track_frame(l)).collect();
        let i = (1..lines.len()).find(|&i| {
            let (track, frame) = track_frame(&lines[i]);
            let around = [(track, frame - 1), (track, frame + 1)];
            (lines[i].ends_with(",rat") || lines[i].ends_with(",gerbil"))
                && around.iter().all(|k| seen.contains(k) && boxed.contains(k))
        })?;
        let key = track_frame(&lines[i]);
        lines.remove(i);
        Some(key)
    })
}

#[test]
fn tracking_velocities_types_and_classes_follow_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ts = tracking(d, "tsrc", 1, 21);
    let eps = episodes(Kind::Tracking, &absolute(d, &ts));
    assert_eq!(eps.len(), 2);
    // A row that loses its x: refused, and the next frame of its track has no v_x but a v_y.
    let (track, frame) = lose_tracking_x(&eps[0].file);
    // A bird's box without a class: still a bird, without a detection_class.
    let (bird, bird_frame) = blank_class(eps[1].joined.as_ref().unwrap());
    let want = expected(&eps);
    assert_eq!(want[&eps[0].id].rejected, 1);
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    check_manifest(d, TRACKING, &eps, &want);

    let duck = Target::duck(d, "t.duckdb", "main");
    duck.load_ok(d, "stage", TRACKING, &[]);
    assert_eq!(duck.counts(), counts_of(&want));
    // Velocities, types and every property value, row by row against the sources.
    check_against_sources(&duck, &eps);

    // What that comparison covers is in the data: first frames, gaps, other classes.
    let conn = source::memory();
    let (mut gaps, mut others) = (0, 0);
    for e in &eps {
        let b = e.base();
        let n = |cond: &str| source::int(&conn, &format!("SELECT count(*) FROM ({b}) WHERE {cond}"));
        let tracks = source::int(&conn, &format!("SELECT count(DISTINCT a) FROM ({b})"));
        assert!(n("v_x IS NULL") > tracks, "{}: first frames and gaps", e.id);
        assert!(n("v_x IS NOT NULL") > 100, "{}", e.id);
        others += n("ty IN ('rat', 'gerbil')");
        let sql = format!(
            "SELECT count(*) FROM (SELECT frame - lag(frame) OVER (PARTITION BY track_id ORDER BY frame) AS step \
             FROM read_csv({}, header = true)) WHERE step > 1",
            source::path_lit(&e.file)
        );
        gaps += source::int(&conn, &sql);
    }
    assert!(gaps > 0, "the sample has tracks with gaps");
    assert!(others > 0, "the sample has rats or gerbils");

    // The rows around the lost x.
    let at = |e: &SourceEpisode, track: i64, frame: i64, cond: &str| {
        let sql = format!(
            "SELECT count(*) FROM {{s}}.observations WHERE episode_id = '{}' AND agent_id = {track} AND time_index = {frame} {cond}",
            e.id
        );
        duck.int(&sql)
    };
    assert_eq!(at(&eps[0], track, frame, ""), 0, "the row without x is not loaded");
    let next = at(&eps[0], track, frame + 1, "AND v_x IS NULL AND v_y IS NOT NULL");
    assert_eq!(next, 1, "the next frame has no v_x (its previous x is unknown) but a v_y");
    // The box without a class.
    assert_eq!(at(&eps[1], bird, bird_frame, "AND agent_type_id = 'bird'"), 1);
    let props = format!(
        "SELECT string_agg(p.property_id, ',' ORDER BY p.property_id) FROM {{s}}.extended_properties p \
         JOIN {{s}}.observations o ON o.observation_id = p.observation_id \
         WHERE o.episode_id = '{}' AND o.agent_id = {bird} AND o.time_index = {bird_frame}",
        eps[1].id
    );
    let props = source::rows(&duck.duck_conn(), &props.replace("{s}", &duck.s()));
    assert_eq!(props, [[Some("bbox_x1,bbox_x2,bbox_y1,bbox_y2,confidence".to_string())]]);

    // Classes: the type of each observation; detection_class is text, the others floats.
    let untyped = "SELECT count(*) FROM {s}.observations WHERE agent_type_id NOT IN ('bird', 'rat', 'gerbil')";
    assert_eq!(duck.int(untyped), 0);
    let class = "SELECT count(*) FROM {s}.extended_properties WHERE property_id = 'detection_class'";
    assert!(duck.int(class) > 0);
    let typed = "SELECT count(*) FROM {s}.extended_properties WHERE property_id = 'detection_class' \
                 AND (value_text IS NULL OR value_float IS NOT NULL)";
    assert_eq!(duck.int(typed), 0, "detection_class is value_text");
    let numeric = "SELECT count(*) FROM {s}.extended_properties WHERE property_id <> 'detection_class' \
                   AND (value_text IS NOT NULL OR value_float IS NULL)";
    assert_eq!(duck.int(numeric), 0, "the box and confidence are value_float");
    let mismatched = "SELECT count(*) FROM {s}.extended_properties p JOIN {s}.observations o \
                      ON o.observation_id = p.observation_id \
                      WHERE p.property_id = 'detection_class' AND p.value_text <> o.agent_type_id";
    assert_eq!(duck.int(mismatched), 0, "a detection's class is its observation's type");
    for e in &eps {
        let frames = source::int(
            &conn,
            &format!("SELECT max(frame) + 1 FROM read_csv({}, header = true)", source::path_lit(&e.file)),
        );
        let row = format!(
            "SELECT count(*) FROM {{s}}.episodes WHERE episode_id = '{}' AND frame_rate = 30 AND num_frames = {frames}",
            e.id
        );
        assert_eq!(duck.int(&row), 1, "{}: 30 frames per second, {frames} frames", e.id);
    }
}

#[test]
fn a_tracks_velocity_does_not_depend_on_its_boxes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ts = tracking(d, "tsrc", 1, 14);
    let eps = episodes(Kind::Tracking, &absolute(d, &ts));
    // A rat's or gerbil's frame without a box row: the spec's coalesce(class,
    // 'bird') types that one frame a bird, but it is the same track, moving.
    let (e, track, frame) = eps
        .iter()
        .find_map(|e| drop_box(&e.file, e.joined.as_ref().unwrap()).map(|(t, f)| (e, t, f)))
        .expect("a rat or gerbil seen at three frames in a row");
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    let duck = Target::duck(d, "t.duckdb", "main");
    duck.load_ok(d, "stage", TRACKING, &[]);

    let text = std::fs::read_to_string(&e.file).unwrap();
    let x_at = |f: i64| -> f64 {
        let line = text.lines().skip(1).find(|l| track_frame(l) == (track, f)).unwrap();
        line.split(',').nth(2).unwrap().parse().unwrap()
    };
    let conn = duck.duck_conn();
    for f in [frame, frame + 1] {
        let sql = format!(
            "SELECT agent_type_id, v_x FROM main.observations WHERE episode_id = '{}' AND agent_id = {track} AND time_index = {f}",
            e.id
        );
        let (ty, v_x): (String, Option<f64>) = conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        let want = (x_at(f) - x_at(f - 1)) * source::TRACKING_FRAME_RATE;
        assert_eq!(v_x, Some(want), "{}: track {track} ({ty}) at frame {f}, whose frame {} is loaded too", e.id, f - 1);
    }
    drop(conn);
    check_against_sources(&duck, &eps);
}

#[test]
fn tracking_sessions_of_one_dataset_convert_together() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ts = tracking(d, "tsrc", 2, 22);
    let eps = episodes(Kind::Tracking, &absolute(d, &ts));
    assert_eq!(eps.len(), 4);
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    let m = manifest(&d.join("stage"), TRACKING);
    let want = expected(&eps);
    let staged = rows_by_key(&m, "observations");
    assert_eq!(staged.len(), 4, "every camera of every session is an episode of its own: {staged:?}");
    let rows: i64 = staged.values().sum();
    assert_eq!(rows, totals(&want).0);
}

/// One boids session of two episodes, staged; returns the sessions and episodes.
fn staged_boids(d: &Path, seed: u64) -> (Vec<String>, Vec<SourceEpisode>) {
    let sessions = boids(d, "src", 1, 2, seed);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    (sessions, eps)
}

#[test]
fn a_copied_dataset_loads_the_same_and_gc_finds_only_replaced_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 2, 41);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    lose_positions(&eps[0].file);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let gc = |stage: &str| ok(d, &["gc", stage, "--min-age", "0"]);
    let out = gc("stage");
    assert!(out.starts_with("nothing to collect"), "{out}");

    let copy = || ok(d, &["copy", "stage", "copied", "--dataset", BOIDS, "--no-progress"]);
    copy();
    let in_dataset = |stage: &str| -> Vec<String> {
        let root = d.join(stage).join(BOIDS);
        let mut out: Vec<String> = walk(&root)
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .filter(|p| p != "_manifest.json")
            .collect();
        out.sort();
        out
    };
    let copied_as_named = || {
        let (a, b) = (manifest(&d.join("stage"), BOIDS), manifest(&d.join("copied"), BOIDS));
        assert_eq!(files(&a), files(&b));
        assert!(named_files(&b).iter().any(|p| p.starts_with("_rejects/")), "the sample has rejects");
        assert_eq!(
            in_dataset("copied"),
            named_files(&b),
            "the copy holds the files its manifest names, and only those"
        );
    };
    copied_as_named();
    let out = gc("copied");
    assert!(out.starts_with("nothing to collect"), "{out}");

    let a = Target::duck(d, "a.duckdb", "main");
    let b = Target::duck(d, "b.duckdb", "main");
    a.load_ok(d, "stage", BOIDS, &[]);
    b.load_ok(d, "copied", BOIDS, &[]);
    a.content().assert_same(&b.content(), "loaded from the stage, then from its copy");

    // A changed episode: the convert keeps the files it replaced (a load may
    // be reading them) for gc; the copy deletes them at once.
    let v1 = named_files(&manifest(&d.join("stage"), BOIDS));
    rewrite_parquet(&eps[1].file, "SELECT * REPLACE (z * 2 AS z) FROM {src}");
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let v2 = named_files(&manifest(&d.join("stage"), BOIDS));
    let replaced: Vec<&String> = v1.iter().filter(|f| !v2.contains(f)).collect();
    assert!(!replaced.is_empty());
    let out = gc("stage");
    for f in &replaced {
        assert!(out.contains(f.as_str()), "gc lists {f}: {out}");
    }
    assert_eq!(out.lines().count(), replaced.len() + 1, "gc lists the replaced files only: {out}");
    ok(d, &["gc", "stage", "--min-age", "0", "--yes", "--no-progress"]);
    assert_eq!(in_dataset("stage"), v2);
    assert!(gc("stage").starts_with("nothing to collect"));
    copy();
    copied_as_named();
    let out = gc("copied");
    assert!(out.starts_with("nothing to collect"), "{out}");
    let out = b.load_ok(d, "copied", BOIDS, &[]);
    assert_eq!(result_of(&out, &eps[1].id), Some("loaded (changed)"), "{out}");
    a.load_ok(d, "stage", BOIDS, &[]);
    a.content().assert_same(&b.content(), "reloaded from the stage, then from its copy");
    check_against_sources(&b, &eps);
}

#[test]
fn a_dataset_staged_on_s3_converts_loads_changes_and_copies_like_a_local_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 47);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    lose_positions(&eps[0].file);
    let url = s3_url("tj");
    let convert_s3 = || {
        let mut args = vec!["convert"];
        args.extend(sessions.iter().map(String::as_str));
        args.extend(["--spec", "boids.toml", "--to", &url, "--dataset", BOIDS, "--no-progress"]);
        s3_ok(d, &args)
    };
    convert_s3();
    // The same sources converted locally: the staged files are the same.
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let remote = || -> serde_json::Value {
        serde_json::from_str(&s3_ok(d, &["status", &url, "--dataset", BOIDS, "--json"])).unwrap()
    };
    assert_eq!(files(&remote()), files(&manifest(&d.join("stage"), BOIDS)), "S3 and local stages hold the same files");

    // Loaded straight from S3; PostgreSQL into a schema that does not exist yet.
    let duck = Target::duck(d, "s3.duckdb", "main");
    let want = expected(&eps);
    let all: Vec<&Expected> = want.values().collect();
    let out = duck.load_ok(d, &url, BOIDS, &[]);
    assert!(out.contains(&headline(3, &all, 0, 0)), "{out}");
    check_against_sources(&duck, &eps);
    let pg = Target::Pg(target::PgSchema("traj_s3_new".to_string()));
    target::pg().batch_execute("DROP SCHEMA IF EXISTS traj_s3_new CASCADE").unwrap();
    let out = pg.load_ok(d, &url, BOIDS, &[]);
    assert!(out.contains("tables created"), "{out}");
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL, both from S3");

    // One episode changes: only its files are replaced on S3, only it reloads,
    // gc on S3 finds exactly the replaced files.
    let v1 = named_files(&remote());
    rewrite_parquet(&eps[2].file, "SELECT * REPLACE (y - 3 AS y) FROM {src}");
    convert_s3();
    let v2 = named_files(&remote());
    let replaced: Vec<&String> = v1.iter().filter(|f| !v2.contains(f)).collect();
    assert!(!replaced.is_empty() && replaced.iter().all(|f| f.contains(&eps[2].id)), "{replaced:?}");
    let want = expected(&eps);
    let one: Vec<&Expected> = vec![&want[&eps[2].id]];
    for t in [&duck, &pg] {
        let out = t.load_ok(d, &url, BOIDS, &["-v"]);
        assert!(out.contains(&headline(1, &one, 2, 0)), "{}: {out}", t.engine());
        assert_eq!(result_of(&out, &eps[2].id), Some("loaded (changed)"), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    check_against_sources(&duck, &eps);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL, after the change");
    let out = s3_ok(d, &["gc", &url, "--min-age", "0"]);
    for f in &replaced {
        assert!(out.contains(f.as_str()), "gc lists {f}: {out}");
    }
    assert_eq!(out.lines().count(), replaced.len() + 1, "gc lists the replaced files only: {out}");
    s3_ok(d, &["gc", &url, "--min-age", "0", "--yes", "--no-progress"]);
    assert!(s3_ok(d, &["gc", &url, "--min-age", "0"]).starts_with("nothing to collect"));

    // Copied from S3 to disk: the copy loads the same rows.
    s3_ok(d, &["copy", &url, "copied", "--dataset", BOIDS, "--no-progress"]);
    assert_eq!(files(&manifest(&d.join("copied"), BOIDS)), files(&remote()));
    let local = Target::duck(d, "copied.duckdb", "main");
    local.load_ok(d, "copied", BOIDS, &[]);
    duck.content().assert_same(&local.content(), "loaded from S3, then from its copy on disk");
}

#[test]
fn a_bulk_load_killed_midway_leaves_the_schema_whole_and_the_rerun_completes() {
    killed_first_load("1", "traj_killed");
}

#[test]
fn a_parallel_first_load_killed_midway_is_finished_by_the_next_load() {
    killed_first_load("2", "traj_killed_jobs");
}

#[test]
fn a_load_waits_for_another_load_of_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, eps) = staged_boids(d, 34);
    let pg = Target::pg("traj_waits");
    let schema = pg.schema().to_string();
    // The lock a load of this schema holds for its session.
    let mut other = target::pg();
    other
        .execute("SELECT pg_advisory_lock(hashtextextended('pqstage trajectories ' || $1::text, 0))", &[&schema])
        .unwrap();
    let db = crate::load_postgres::url();
    let args = ["load", "postgres", "stage", "--dataset", BOIDS, "--schema", &schema, "--db", &db, "--no-progress"];
    let mut child =
        crate::util::cmd(d).args(args).stdout(std::process::Stdio::piped()).spawn().expect("pqstage starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the load went on while another held the schema");
    let tables: i64 = target::pg()
        .query_one("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", &[&schema])
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "nothing is made before the lock is had");
    other.execute("SELECT pg_advisory_unlock_all()", &[]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(pg.counts(), counts_of(&expected(&eps)));
}

/// A first load on `jobs` connections into an empty schema, killed once it
/// copies rows, then run again.
fn killed_first_load(jobs: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = "src";
    ok(
        d,
        &[
            "sample",
            "trajectories",
            "--out",
            folder,
            "--spec-out",
            "boids.toml",
            "--episodes",
            "4",
            "--agents",
            "30",
            "--frames",
            "600",
            "--seed",
            "53",
        ],
    );
    let sessions = relative(d, folder);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let pg = Target::pg(name);
    let schema = pg.schema().to_string();
    let upkeep = || -> (i64, i64) {
        let row = target::pg()
            .query_one(
                "SELECT (SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
                          JOIN pg_namespace n ON n.oid = t.relnamespace
                          WHERE n.nspname = $1 AND c.contype = 'f' AND t.relname IN ('observations', 'extended_properties')),
                        (SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE 'idx_%')",
                &[&schema],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };

    let primary_key = "SELECT count(*) FROM pg_constraint
        WHERE conrelid = '{s}.extended_properties'::regclass AND contype = 'p' AND conname = 'extended_properties_pkey'";
    let pending = || -> i64 {
        target::pg()
            .query_one("SELECT count(*) FROM pqstage.bulk_upkeep WHERE table_schema = $1", &[&schema])
            .unwrap()
            .get(0)
    };

    // A first load into an empty schema, killed while it copies rows. On one
    // connection the tables are created and committed, then keys and indexes
    // are dropped inside the load's one transaction; on two, they are dropped
    // and recorded in pqstage.bulk_upkeep first, committed, and each episode
    // is a transaction of its own.
    let mut args =
        vec!["load", "postgres", "stage", "--dataset", BOIDS, "--schema", &schema, "--no-progress", "--jobs", jobs];
    let db = crate::load_postgres::url();
    args.extend(["--db", &db]);
    assert_eq!(upkeep(), (0, 0), "the schema starts empty");
    let mut child = crate::util::cmd(d).args(&args).spawn().expect("pqstage starts");
    let mut client = target::pg();
    let started = std::time::Instant::now();
    let like = format!("COPY %{schema}%");
    loop {
        let copying: i64 =
            client.query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1", &[&like]).unwrap().get(0);
        if copying > 0 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the load ended before it was seen copying");
        assert!(started.elapsed().as_secs() < 60, "the load never started copying");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server rolls the transaction back when the connection drops.
    let gone = std::time::Instant::now();
    while client
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1", &[&like])
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(gone.elapsed().as_secs() < 30, "the killed load's backend did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    let want = expected(&eps);
    let all: Vec<&Expected> = want.values().collect();
    if jobs == "1" {
        assert_eq!(pg.int("SELECT count(*) FROM {s}.observations"), 0, "nothing of the killed load is committed");
        // Four foreign keys of observations and extended_properties; seven idx_
        // indexes in all, five of them on those two tables.
        assert_eq!(upkeep(), (4, 7), "the foreign keys and indexes the killed load dropped are all there");
        assert_eq!(pg.int(primary_key), 1, "so is the primary key of extended_properties");
        assert_eq!(pending(), 0);
    } else {
        // Dropped and committed, as pg_restore --jobs does: the record says
        // what to make again. The episodes committed are whole.
        assert_eq!(upkeep(), (0, 2), "the keys and indexes of the two tables were dropped");
        assert_eq!(pg.int(primary_key), 0, "the primary key of extended_properties was dropped");
        assert_eq!(pending(), 10, "four foreign keys, five indexes and that primary key recorded");
        let committed = pg.counts();
        for (episode, got) in &committed {
            assert_eq!(Some(got), counts_of(&want).get(episode), "episode {episode} is whole or absent");
        }
        // Had it been killed at the end instead, once the foreign keys were
        // back NOT VALID and the primary key's index built but not yet made
        // the key: the rerun makes them all again, valid.
        let mut c = target::pg();
        let key_index: String = c
            .query_one(
                "SELECT definition FROM pqstage.bulk_upkeep WHERE table_schema = $1 AND kind = 'key'",
                &[&schema],
            )
            .unwrap()
            .get(0);
        c.batch_execute(&key_index).unwrap();
        for r in c
            .query(
                "SELECT table_name, name, definition FROM pqstage.bulk_upkeep WHERE table_schema = $1 AND kind = 'constraint'",
                &[&schema],
            )
            .unwrap()
        {
            let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            c.batch_execute(&format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def} NOT VALID")).unwrap();
        }
        assert_eq!(upkeep(), (4, 2), "the four foreign keys are back, not validated");
    }

    // The rerun loads what is missing and makes the keys and indexes again;
    // the result is what DuckDB holds.
    let out = pg.load_ok(d, "stage", BOIDS, &["-v"]);
    if jobs == "1" {
        assert!(out.contains(&headline(4, &all, 0, 0)), "{out}");
    }
    assert!(out.contains("foreign keys, indexes and statistics made after the data"), "{out}");
    assert_eq!(upkeep(), (4, 7));
    assert_eq!(pg.int(primary_key), 1, "the primary key of extended_properties is back");
    assert_eq!(pending(), 0, "the record is cleared once they are made");
    let invalid = "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND connamespace = '{s}'::regnamespace";
    assert_eq!(pg.int(invalid), 0, "every foreign key is validated");
    assert_eq!(pg.counts(), counts_of(&want));
    // Statistics gathered by the load itself (autovacuum's count apart).
    let analyzed = "SELECT min(analyze_count) FROM pg_stat_user_tables
        WHERE relid IN ('{s}.observations'::regclass, '{s}.extended_properties'::regclass)";
    assert!(pg.int(analyzed) > 0, "the first load analyzed observations and extended_properties");
    let duck = Target::duck(d, "t.duckdb", "main");
    duck.load_ok(d, "stage", BOIDS, &[]);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL after a killed first load");
}

/// A first load that resumes an interrupted one merges the episodes that
/// one committed while their foreign keys are still dropped, so an episode
/// that lost observations must lose their property values by hand, not by
/// the cascade. The interrupted load is made here from a whole one: its
/// foreign keys, indexes and primary key dropped and recorded as the loader
/// records them, and episode 0 given observations (with values) its stage
/// no longer has.
#[test]
fn a_resumed_first_load_deletes_the_properties_of_observations_an_episode_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 39);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let want = expected(&eps);
    let pg = Target::pg("traj_resumed");
    pg.load_ok(d, "stage", BOIDS, &[]);
    let schema = pg.schema().to_string();
    // What the loader records, by its own query, its names qualified as the loader qualifies them.
    let queries = pqstage_load::sql::Queries::parse(
        "trajectories_load.sql",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/postgres/trajectories_load.sql")),
    )
    .unwrap();
    let upkeep = queries.get("bulk_upkeep").unwrap().sql.trim_end_matches(';');
    let mut c = target::pg();
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SET LOCAL search_path = pg_catalog").unwrap();
    tx.execute(
        &format!(
            "INSERT INTO pqstage.bulk_upkeep (table_schema, position, kind, table_name, name, definition)
             SELECT $1::text, (row_number() OVER ())::int, kind, t, name, def FROM ({upkeep}) x (kind, t, name, def)"
        ),
        &[&schema],
    )
    .unwrap();
    tx.commit().unwrap();
    let recorded: Vec<(String, String, String)> = c
        .query("SELECT kind, table_name, name FROM pqstage.bulk_upkeep WHERE table_schema = $1", &[&schema])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(recorded.len(), 10, "four foreign keys, five indexes, a primary key: {recorded:?}");
    for (kind, table, name) in &recorded {
        c.batch_execute(&match kind.as_str() {
            "index" => format!("DROP INDEX {name}"),
            _ => format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""),
        })
        .unwrap();
    }
    let added = c
        .execute(
            &format!(
                "WITH src AS (
                     SELECT * FROM {schema}.observations
                     WHERE episode_id = $1 AND time_index < 2 AND agent_type_id = 'agent'),
                 ins AS (
                     INSERT INTO {schema}.observations (episode_id, time_index, agent_id, agent_type_id, x, y)
                     SELECT episode_id, time_index + 100000, agent_id, agent_type_id, x, y FROM src
                     RETURNING observation_id, time_index, agent_id)
                 INSERT INTO {schema}.extended_properties (observation_id, property_id, value_float)
                 SELECT ins.observation_id, e.property_id, e.value_float
                 FROM ins JOIN src ON src.time_index + 100000 = ins.time_index AND src.agent_id = ins.agent_id
                 JOIN {schema}.extended_properties e ON e.observation_id = src.observation_id"
            ),
            &[&eps[0].id],
        )
        .unwrap();
    assert!(added > 0, "values added to the lost observations");

    let out = pg.load_ok(d, "stage", BOIDS, &["-v"]);
    assert!(out.contains("foreign keys, indexes and statistics made after the data"), "{out}");
    assert_eq!(pg.counts(), counts_of(&want), "the lost observations and their values are gone");
    let orphans = "SELECT count(*) FROM {s}.extended_properties e
        WHERE NOT EXISTS (SELECT 1 FROM {s}.observations o WHERE o.observation_id = e.observation_id)";
    assert_eq!(pg.int(orphans), 0);
    assert_eq!(pg.int("SELECT count(*) FROM pqstage.bulk_upkeep WHERE table_schema = '{s}'"), 0);
    let invalid = "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND connamespace = '{s}'::regnamespace";
    assert_eq!(pg.int(invalid), 0, "every foreign key is validated");
    let key =
        "SELECT count(*) FROM pg_constraint WHERE conrelid = '{s}.extended_properties'::regclass AND contype = 'p'";
    assert_eq!(pg.int(key), 1);
}
