//! Bad input: each a clear error naming the file, row and column (or the
//! value and the first row that uses it), nothing committed for the episode
//! refused, the others untouched.

use super::*;

#[test]
fn a_session_without_its_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sessions, _) = staged_boids(d, 31);
    std::fs::remove_file(d.join(&sessions[0]).join("config.yaml")).unwrap();
    let err = refused(d, "boids.toml", &sessions, BOIDS);
    assert!(err.contains(&sessions[0]) && err.contains("config.yaml: missing"), "{err}");
}

#[test]
fn a_malformed_config_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sessions, _) = staged_boids(d, 32);
    let config = "simulator:\n  name: boids\n  seed: 1: 2\n  num_agents: 6\n";
    std::fs::write(d.join(&sessions[0]).join("config.yaml"), config).unwrap();
    let err = refused(d, "boids.toml", &sessions, BOIDS);
    assert!(err.contains(&sessions[0]) && err.contains("config.yaml line 3 "), "{err}");
}

#[test]
fn an_episode_without_a_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sessions, eps) = staged_boids(d, 33);
    rewrite_parquet(&eps[1].file, "SELECT * EXCLUDE (mesh_scene_distance) FROM {src}");
    let err = refused(d, "boids.toml", &sessions, BOIDS);
    let file = eps[1].file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(file) && err.contains("column 'mesh_scene_distance': is missing"), "{err}");
}

#[test]
fn an_episode_with_a_mistyped_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sessions, eps) = staged_boids(d, 34);
    rewrite_parquet(&eps[0].file, "SELECT * REPLACE (time::VARCHAR AS time) FROM {src}");
    let err = refused(d, "boids.toml", &sessions, BOIDS);
    let file = eps[0].file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(file) && err.contains("column 'time'") && err.contains("int64"), "{err}");
}

#[test]
fn a_duplicate_natural_key_is_refused_naming_both_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (sessions, eps) = staged_boids(d, 35);
    let f = source::path_lit(&eps[1].file);
    let key = "type = 'agent' AND id = 3 AND time = 10";
    rewrite_parquet(
        &eps[1].file,
        &format!(
            "SELECT * EXCLUDE (file_row_number) FROM ( \
               SELECT * FROM read_parquet({f}, file_row_number = true) \
               UNION ALL BY NAME \
               SELECT * REPLACE (1000000::BIGINT AS file_row_number) FROM read_parquet({f}, file_row_number = true) WHERE {key}) \
             ORDER BY file_row_number"
        ),
    );
    let at: Vec<i64> = source::rows(
        &source::memory(),
        &format!("SELECT file_row_number + 1 FROM read_parquet({f}, file_row_number = true) WHERE {key} ORDER BY 1"),
    )
    .into_iter()
    .map(|r| r[0].as_deref().unwrap().parse().unwrap())
    .collect();
    assert_eq!(at.len(), 2);
    let err = refused(d, "boids.toml", &sessions, BOIDS);
    let file = eps[1].file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(file), "{err}");
    assert!(err.contains(&format!("row {}", at[1])) && err.contains(&format!("of row {}", at[0])), "{err}");
    assert!(err.contains("time_index 10, agent_id 3, agent_type_id 'agent'"), "{err}");
}

#[test]
fn an_unknown_agent_type_fails_its_episode_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 36);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    // Target 1 of episode 1 is an 'alien': the spec's `when` gives it no properties.
    rewrite_parquet(
        &eps[1].file,
        "SELECT * REPLACE (CASE WHEN type = 'env' AND id = 1 THEN 'alien' ELSE type END AS type) FROM {src}",
    );
    let want = expected(&eps);
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let bad = &eps[1].id;

    let duck = Target::duck(d, "t.duckdb", "main");
    let pg = Target::pg("traj_alien");
    let mut reports = Vec::new();
    for t in [&duck, &pg] {
        let o = t.load(d, "stage", BOIDS, &["-v"]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{}: {out}\n{err}", t.engine());
        let result = result_of(&out, bad).unwrap_or_else(|| panic!("{}: {bad} listed: {out}", t.engine()));
        assert!(result.starts_with("FAILED"), "{}: {out}", t.engine());
        // The episode's entry: its line, up to the next episode's.
        let entry: String = out
            .lines()
            .skip_while(|l| l.split_whitespace().next() != Some(bad.as_str()))
            .enumerate()
            .take_while(|(i, l)| *i == 0 || !l.trim_start().starts_with("episode-"))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert!(entry.contains("'alien'") || entry.contains("(alien)"), "{}: the value is named: {entry}", t.engine());
        reports.push((t.engine(), entry));
        assert!(err.contains("1 episode(s) not loaded") && err.contains(bad.as_str()), "{}: {err}", t.engine());
        for e in eps.iter().filter(|e| &e.id != bad) {
            assert_eq!(result_of(&out, &e.id), Some("loaded (new)"), "{}: {out}", t.engine());
        }
        let mut others = want.clone();
        others.remove(bad);
        assert_eq!(t.counts(), counts_of(&others), "{}: nothing of {bad} is committed", t.engine());
        assert_eq!(t.int(&format!("SELECT count(*) FROM {{s}}.observations WHERE episode_id = '{bad}'")), 0);
        assert_eq!(t.int(&format!("SELECT count(*) FROM pqstage.episode_state WHERE episode_id = '{bad}'")), 0);
    }

    // Once the type is defined, the episode loads.
    let add = "INSERT INTO main.agent_types (type_id, type_name) VALUES ('alien', 'alien')";
    duckdb::Connection::open(d.join("t.duckdb")).unwrap().execute_batch(add).unwrap();
    target::pg().batch_execute(&add.replace("main.", "traj_alien.")).unwrap();
    for t in [&duck, &pg] {
        let out = t.load_ok(d, "stage", BOIDS, &[]);
        assert!(out.contains(&headline(1, &[&want[bad]], 2, 0)), "{}: {out}", t.engine());
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    check_against_sources(&duck, &eps);
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL");
    // Each episode's report is one line: its result, or why it failed.
    for (engine, entry) in reports {
        assert_eq!(entry.lines().count(), 1, "{engine}: the failed episode's report takes one line:\n{entry}");
    }
}

#[test]
fn an_undefined_property_refuses_the_episodes_that_use_it_naming_the_first_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 2, 37);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    // The spec calls one property by a name the target's seeded definitions lack.
    let gone = "scene_distance";
    let spec = std::fs::read_to_string(d.join("boids.toml")).unwrap();
    let renamed = spec.replace("property = \"distance_to_scene_mesh\"", &format!("property = \"{gone}\""));
    assert_ne!(spec, renamed);
    std::fs::write(d.join("boids.toml"), renamed).unwrap();
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    let want = expected(&eps);
    let duck = Target::duck(d, "t.duckdb", "main");
    let pg = Target::pg("traj_undefined");

    let mut named = Vec::new();
    for t in [&duck, &pg] {
        let o = t.load(d, "stage", BOIDS, &[]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{}: {out}\n{err}", t.engine());
        assert!(err.contains("2 episode(s) not loaded"), "{}: {err}", t.engine());
        for e in &eps {
            let result = result_of(&out, &e.id).unwrap_or_else(|| panic!("{}: {} listed: {out}", t.engine(), e.id));
            assert!(result.starts_with("FAILED"), "{}: {out}", t.engine());
        }
        let at = out
            .find(&format!("property_id '{gone}' (time_index "))
            .unwrap_or_else(|| panic!("{}: the property and the first row that uses it are named: {out}", t.engine()));
        named.push(out[at..out[at..].find(')').map(|i| at + i + 1).unwrap()].to_string());
        assert!(out.contains(&format!("is not in {}.property_definitions", t.schema())), "{}: {out}", t.engine());
        assert_eq!(t.int("SELECT count(*) FROM {s}.observations"), 0, "{}: nothing is committed", t.engine());
        assert_eq!(t.int("SELECT count(*) FROM {s}.extended_properties"), 0, "{}", t.engine());
    }
    assert_eq!(named[0], named[1], "both engines name the same first row");

    let add = |s: &str| {
        format!("INSERT INTO {s}.property_definitions (property_id, property_name, data_type) VALUES ('{gone}', '{gone}', 'float')")
    };
    duckdb::Connection::open(d.join("t.duckdb")).unwrap().execute_batch(&add("main")).unwrap();
    target::pg().batch_execute(&add("traj_undefined")).unwrap();
    for t in [&duck, &pg] {
        t.load_ok(d, "stage", BOIDS, &[]);
        assert_eq!(t.counts(), counts_of(&want), "{}", t.engine());
    }
    duck.content().assert_same(&pg.content(), "DuckDB, then PostgreSQL");
}

/// A property value given twice for one observation. `convert` never stages
/// one, so the stage was changed after it was written (here by hand, its
/// manifest's counts made to agree and its checksums not verified). A bulk
/// first load on PostgreSQL makes the primary key of extended_properties
/// after the data, so it checks each episode itself: the episode alone is
/// refused, naming the value; the others load and the key is made.
#[test]
fn a_property_staged_twice_refuses_its_episode_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sessions = boids(d, "src", 1, 3, 38);
    let eps = episodes(Kind::Boids, &absolute(d, &sessions));
    convert_ok(d, "boids.toml", &sessions, BOIDS);
    // A target that holds every episode as converted, for the merge below.
    let merged = Target::pg("traj_twice_merge");
    merged.load_ok(d, "stage", BOIDS, &[]);
    let held = merged.counts();
    let bad = &eps[1].id;
    let root = d.join("stage").join(BOIDS);
    let mut m = manifest(&d.join("stage"), BOIDS);
    let tables = m["tables"].as_array_mut().unwrap();
    let props = tables.iter_mut().find(|t| t["name"] == "extended_properties").unwrap();
    let part = props["partitions"].as_array_mut().unwrap().iter_mut().find(|p| p["key"] == bad.as_str()).unwrap();
    let file = root.join(part["files"][0]["path"].as_str().unwrap());
    // Its first value, given again at the end of the file (another run of
    // the same key, not the row next to it).
    let first = &source::rows(
        &source::memory(),
        &format!(
            "SELECT property_id, time_index, agent_id, agent_type_id FROM read_parquet({}) LIMIT 1",
            source::path_lit(&file)
        ),
    )[0];
    source::rewrite_parquet(&file, "SELECT * FROM {src} UNION ALL (SELECT * FROM {src} LIMIT 1)");
    let bump = |v: &mut serde_json::Value| *v = (v.as_u64().unwrap() + 1).into();
    bump(&mut part["rows"]);
    bump(&mut part["files"][0]["rows"]);
    bump(&mut props["rows_written"]);
    bump(&mut props["rows_read"]);
    std::fs::write(root.join("_manifest.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let want = expected(&eps);
    let [p, t, a, ty] = [0, 1, 2, 3].map(|i| first[i].clone().unwrap());
    let named = format!("property_id '{p}' is staged twice for time_index {t}, agent_id {a}, agent_type_id '{ty}'");
    let mut others = counts_of(&want);
    others.remove(bad);
    // On two connections (episodes committed one by one, the key made at the
    // end) and on one (one transaction, the episode in a savepoint).
    for jobs in ["2", "1"] {
        let pg = Target::pg(&format!("traj_twice_{jobs}"));
        let o = pg.load(d, "stage", BOIDS, &["--no-verify", "--jobs", jobs]);
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "--jobs {jobs}: {out}\n{err}");
        assert!(err.contains("1 episode(s) not loaded"), "--jobs {jobs}: {err}");
        let result = result_of(&out, bad).unwrap_or_else(|| panic!("--jobs {jobs}: {bad} listed: {out}"));
        assert!(result.starts_with("FAILED"), "--jobs {jobs}: {out}");
        assert!(out.contains(&named), "--jobs {jobs}: the value is named ({named}): {out}");
        assert!(out.contains(&format!("episode_id={bad}")), "--jobs {jobs}: the staged folder is named: {out}");
        // The others are whole, the refused one absent, and the key is back.
        assert_eq!(pg.counts(), others, "--jobs {jobs}");
        let key =
            "SELECT count(*) FROM pg_constraint WHERE conrelid = '{s}.extended_properties'::regclass AND contype = 'p'";
        assert_eq!(pg.int(key), 1, "--jobs {jobs}: the primary key of extended_properties is made after the data");
        assert_eq!(pg.int("SELECT count(*) FROM pqstage.bulk_upkeep WHERE table_schema = '{s}'"), 0, "--jobs {jobs}");
    }

    // Into the target that holds it, the episode is merged (its checksum
    // changed): refused the same way, its old version kept whole.
    let mut m = manifest(&d.join("stage"), BOIDS);
    let tables = m["tables"].as_array_mut().unwrap();
    let props = tables.iter_mut().find(|t| t["name"] == "extended_properties").unwrap();
    let part = props["partitions"].as_array_mut().unwrap().iter_mut().find(|p| p["key"] == bad.as_str()).unwrap();
    part["checksum"] = "0".repeat(32).into();
    std::fs::write(root.join("_manifest.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let o = merged.load(d, "stage", BOIDS, &["--no-verify"]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(result_of(&out, bad).is_some_and(|r| r.starts_with("FAILED")), "{out}");
    assert!(out.contains(&named), "the value is named ({named}): {out}");
    assert_eq!(merged.counts(), held, "the episode keeps its old version, the others are unchanged");
}
