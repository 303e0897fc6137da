//! Tests of the trajectories generator: determinism, the layouts the specs
//! match, the Parquet schema and row order, properties consistent with
//! positions, NaN shares, and the tracker's gaps, births, deaths and boxes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::Array;
use arrow_schema::{DataType, Field};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;
use crate::{Dataset, Generator};

fn options(source: Source, f: impl FnOnce(TrajectoryOptionsBuilder) -> TrajectoryOptionsBuilder) -> TrajectoryOptions {
    f(TrajectoryOptions::builder(source)).build().unwrap()
}

fn generate(opts: &TrajectoryOptions) -> (tempfile::TempDir, TrajectorySummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_trajectories(opts, dir.path()).unwrap();
    (dir, summary)
}

/// Every file under `dir`, by path relative to it (`/`-separated), with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().components();
                let rel: Vec<String> = rel.map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.insert(rel.join("/"), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names of the entries of a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Whether `s` is `YYYYMMDD-HHMMSS` with a plausible date and time.
fn is_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    b.len() == 15
        && b[8] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 8 || c.is_ascii_digit())
        && (2023..=2027).contains(&num(0..4))
        && (1..=12).contains(&num(4..6))
        && (1..=31).contains(&num(6..8))
        && num(9..11) < 24
        && num(11..13) < 60
        && num(13..15) < 60
}

/// The session folders and, per session, its episode files in episode order.
fn boids_sessions(dir: &Path) -> Vec<(PathBuf, Vec<PathBuf>)> {
    names(dir)
        .into_iter()
        .map(|s| {
            let folder = dir.join(&s);
            let mut episodes: Vec<(u32, PathBuf)> = names(&folder)
                .into_iter()
                .filter(|n| n.ends_with(".parquet"))
                .map(|n| (n.split('-').nth(1).unwrap().parse().unwrap(), folder.join(n)))
                .collect();
            episodes.sort();
            (folder, episodes.into_iter().map(|(_, p)| p).collect())
        })
        .collect()
}

/// `key: value` of config.yaml lines with this key (any indentation), in order.
fn yaml_values(config: &str, key: &str) -> Vec<f64> {
    config
        .lines()
        .filter_map(|l| l.trim_start().trim_start_matches("- ").strip_prefix(key)?.strip_prefix(": "))
        .map(|v| v.parse().unwrap())
        .collect()
}

/// An episode file's columns, read whole.
#[derive(Default)]
struct Episode {
    row_groups: Vec<i64>,
    int: HashMap<String, Vec<Option<i64>>>,
    text: HashMap<String, Vec<Option<String>>>,
    float: HashMap<String, Vec<Option<f64>>>,
    list: HashMap<String, Vec<Option<Vec<Option<f64>>>>>,
}

impl Episode {
    fn read(path: &Path) -> (Episode, Vec<(String, DataType, bool)>) {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
        let schema: Vec<(String, DataType, bool)> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect();
        let mut e = Episode {
            row_groups: builder.metadata().row_groups().iter().map(|g| g.num_rows()).collect(),
            ..Episode::default()
        };
        for batch in builder.build().unwrap() {
            let batch = batch.unwrap();
            for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
                let name = field.name().clone();
                match col.data_type() {
                    DataType::Int64 => e.int.entry(name).or_default().extend(col.as_primitive::<Int64Type>().iter()),
                    DataType::Utf8 => e
                        .text
                        .entry(name)
                        .or_default()
                        .extend(col.as_string::<i32>().iter().map(|v| v.map(String::from))),
                    DataType::Float64 => {
                        e.float.entry(name).or_default().extend(col.as_primitive::<Float64Type>().iter())
                    }
                    DataType::List(_) => {
                        let list = col.as_list::<i32>();
                        let out = e.list.entry(name).or_default();
                        for i in 0..list.len() {
                            out.push(
                                (!list.is_null(i))
                                    .then(|| list.value(i).as_primitive::<Float64Type>().iter().collect::<Vec<_>>()),
                            );
                        }
                    }
                    other => panic!("unexpected type {other}"),
                }
            }
        }
        (e, schema)
    }

    fn rows(&self) -> usize {
        self.int["id"].len()
    }
    fn i(&self, col: &str, row: usize) -> i64 {
        self.int[col][row].unwrap()
    }
    fn f(&self, col: &str, row: usize) -> Option<f64> {
        self.float[col][row]
    }
    fn kind(&self, row: usize) -> &str {
        self.text["type"][row].as_deref().unwrap()
    }
    fn pos(&self, row: usize) -> [f64; 3] {
        ["x", "y", "z"].map(|c| self.f(c, row).unwrap())
    }
}

#[test]
fn same_options_write_the_same_bytes_and_another_seed_other_bytes() {
    for &source in Source::ALL {
        let opts = |seed| {
            options(source, |b| {
                b.with_seed(seed)
                    .with_sessions(2)
                    .with_episodes(2)
                    .with_agents(8)
                    .with_targets(2)
                    .with_frames(120)
                    .with_tracks(6)
            })
        };
        let (a, summary_a) = generate(&opts(7));
        let (b, summary_b) = generate(&opts(7));
        let (c, _) = generate(&opts(8));
        let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
        assert_eq!(summary_a, summary_b, "{source}");
        assert!(fa == fb, "{source}: same seed, different files");
        assert_eq!(summary_a.files as usize, fa.len(), "{source}");
        assert_eq!(summary_a.bytes, fa.values().map(|v| v.len() as u64).sum::<u64>(), "{source}");
        assert!(fa.keys().all(|k| !k.ends_with(".partial")), "{source}: {:?}", fa.keys());
        // Another seed: every file's bytes differ (file i against file i, in name order).
        assert_eq!(fa.len(), fc.len());
        for ((na, va), (nc, vc)) in fa.iter().zip(&fc) {
            assert_ne!(va, vc, "{source}: {na} and {nc} are the same");
        }
        // Writing again into the same folder replaces the files with the same bytes.
        let again = write_trajectories(&opts(7), a.path()).unwrap();
        assert_eq!(again, summary_a);
        assert!(files(a.path()) == fa, "{source}: a second run changed the files");
    }
}

#[test]
fn boids_layout_matches_the_spec() {
    let spec = Source::Boids.spec_toml();
    assert!(spec.contains(r#"files = "episode-*-completed-*.parquet""#));
    assert!(spec.contains(r#"config = "config.yaml""#));
    let opts = options(Source::Boids, |b| b.with_sessions(3).with_episodes(4).with_agents(3).with_frames(5));
    let (dir, summary) = generate(&opts);
    let expected = TrajectorySummary { sessions: 3, episodes: 12, files: 15, rows: 12 * 5 * 4, bytes: summary.bytes };
    assert_eq!(summary, expected);

    let mut starts = BTreeSet::new();
    for session in names(dir.path()) {
        let (run, started) = session.split_once("_sim_run-started-").unwrap_or_else(|| panic!("{session}"));
        assert!(run.starts_with("boids") && run.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{session}");
        assert!(is_stamp(started), "{session}");
        assert!(starts.insert(started.to_owned()), "two sessions started at {started}");

        let entries = names(&dir.path().join(&session));
        assert_eq!(entries.len(), 5, "{entries:?}");
        assert!(entries.contains(&"config.yaml".to_owned()));
        let mut previous = started.to_owned();
        for k in 0..4 {
            let prefix = format!("episode-{k}-completed-");
            let name =
                entries.iter().find(|e| e.starts_with(&prefix)).unwrap_or_else(|| panic!("{prefix} {entries:?}"));
            let stamp = name.strip_prefix(&prefix).unwrap().strip_suffix(".parquet").unwrap();
            assert!(is_stamp(stamp), "{name}");
            assert!(stamp > previous.as_str(), "{name} does not follow {previous}");
            previous = stamp.to_owned();
        }
    }
    assert_eq!(starts.len(), 3);
}

#[test]
fn config_yaml_is_nested_without_a_frame_rate() {
    // The spec looks for simulator.frame_rate and falls back to 30.
    assert!(Source::Boids.spec_toml().contains(r#"frame_rate_key = "simulator.frame_rate""#));
    let opts = options(Source::Boids, |b| b.with_episodes(1).with_agents(12).with_targets(2).with_frames(101));
    let (dir, _) = generate(&opts);
    let (folder, _) = &boids_sessions(dir.path())[0];
    let config = std::fs::read_to_string(folder.join("config.yaml")).unwrap();
    for needle in [
        "\nsimulator:\n",
        "\n  num_agents: 12\n",
        "\n  num_targets: 2\n",
        "\n  num_frames: 100\n",
        "\n  num_episodes: 1\n",
        "\nagents:\n  neighbor_radius: ",
        "\ntargets:\n  - id: 1\n    shape: sphere\n",
        "\n  - id: 2\n",
        "\nscene:\n  mesh: floor_plane\n",
    ] {
        assert!(config.contains(needle), "{needle:?} not in\n{config}");
    }
    assert!(!config.contains("frame_rate"), "{config}");
    assert!(!config.contains('\t'));
    for line in config.lines() {
        let indent = line.len() - line.trim_start().len();
        assert!(line.starts_with('#') || [0, 2, 4].contains(&indent), "{line:?}");
        assert!(line.starts_with('#') || line.contains(':') || line.trim_start().starts_with("- "), "{line:?}");
    }
    assert_eq!(yaml_values(&config, "box_size").len(), 1);
    assert_eq!(yaml_values(&config, "radius").len(), 2);
}

#[test]
fn boids_schema_row_order_and_env_rows() {
    let (agents, targets, frames) = (7usize, 2usize, 50usize);
    let opts = options(Source::Boids, |b| b.with_episodes(1).with_agents(7).with_targets(2).with_frames(50));
    let (dir, _) = generate(&opts);
    let episode = &boids_sessions(dir.path())[0].1[0];
    let (e, schema) = Episode::read(episode);

    let float = |n: &str| (n.to_owned(), DataType::Float64, true);
    let list = |n: &str| (n.to_owned(), DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))), true);
    let mut expected = vec![("id".into(), DataType::Int64, true), ("type".into(), DataType::Utf8, true)];
    expected.push(("time".into(), DataType::Int64, true));
    expected.extend(["x", "y", "z", "v_x", "v_y", "v_z"].map(float));
    for t in 1..=2 {
        expected.push(float(&format!("distance_target_center_{t}")));
        expected.push(float(&format!("distance_to_target_mesh_closest_point_{t}")));
        expected.push(list(&format!("target_mesh_closest_point_{t}")));
    }
    expected.push(float("mesh_scene_distance"));
    expected.push(list("mesh_scene_closest_point"));
    assert_eq!(schema, expected);

    let per_frame = agents + targets;
    assert_eq!(e.rows(), frames * per_frame);
    assert_eq!(e.row_groups, [e.rows() as i64]);
    let properties = [
        "distance_target_center_1",
        "distance_to_target_mesh_closest_point_1",
        "distance_target_center_2",
        "distance_to_target_mesh_closest_point_2",
        "mesh_scene_distance",
    ];
    let lists = ["target_mesh_closest_point_1", "target_mesh_closest_point_2", "mesh_scene_closest_point"];
    let mut keys: HashMap<(i64, i64), usize> = HashMap::new();
    for row in 0..e.rows() {
        let (time, slot) = (row / per_frame, row % per_frame);
        assert_eq!(e.i("time", row), time as i64, "row {row}");
        *keys.entry((e.i("time", row), e.i("id", row))).or_default() += 1;
        if slot < agents {
            assert_eq!((e.kind(row), e.i("id", row)), ("agent", slot as i64 + 1), "row {row}");
            assert!(["v_x", "v_y", "v_z"].iter().all(|c| e.f(c, row).is_some()), "row {row}");
            assert!(properties.iter().all(|c| e.f(c, row).is_some()), "row {row}");
        } else {
            assert_eq!((e.kind(row), e.i("id", row)), ("env", (slot - agents) as i64 + 1), "row {row}");
            assert!(e.pos(row).iter().all(|v| v.is_finite()), "row {row}");
            assert!(["v_x", "v_y", "v_z"].iter().all(|c| e.f(c, row).is_none()), "row {row}");
            assert!(properties.iter().all(|c| e.f(c, row).is_none()), "row {row}");
            assert!(lists.iter().all(|c| e.list[*c][row].is_none()), "row {row}");
        }
    }
    // env ids 1 and 2 share (time, id) with agents 1 and 2 on every frame.
    let shared: Vec<(i64, i64)> = keys.iter().filter(|(_, n)| **n > 1).map(|(k, _)| *k).collect();
    assert_eq!(shared.len(), frames * targets);
    assert!(shared.iter().all(|(_, id)| (1..=targets as i64).contains(id)));
    assert!(keys.values().all(|n| *n <= 2));
}

#[test]
fn boids_properties_agree_with_positions() {
    let (agents, targets) = (20usize, 2usize);
    let per_frame = agents + targets;
    let opts = options(Source::Boids, |b| b.with_episodes(2).with_agents(20).with_targets(2).with_frames(300));
    let (dir, _) = generate(&opts);
    let (folder, episodes) = &boids_sessions(dir.path())[0];
    let config = std::fs::read_to_string(folder.join("config.yaml")).unwrap();
    let radii = yaml_values(&config, "radius");
    let drift = yaml_values(&config, "drift_speed");
    let box_size = yaml_values(&config, "box_size")[0];
    let max_speed = yaml_values(&config, "max_speed")[0];
    assert_eq!((radii.len(), drift.len()), (targets, targets));

    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
    let mut checked = [0usize; 4];
    for path in episodes {
        let (e, _) = Episode::read(path);
        for row in 0..e.rows() {
            let (time, slot) = (row / per_frame, row % per_frame);
            if slot >= agents {
                // Targets drift slowly, or stay put when the config says so.
                if time > 0 {
                    let (now, before) = (e.pos(row), e.pos(row - per_frame));
                    let moved = (0..3).map(|k| (now[k] - before[k]).abs()).fold(0.0, f64::max);
                    let speed = drift[slot - agents];
                    assert!(if speed == 0.0 { moved == 0.0 } else { moved > 0.0 && moved <= speed + 1e-12 });
                }
                continue;
            }
            let p = e.pos(row);
            if p.iter().any(|v| v.is_nan()) {
                continue;
            }
            assert!(p.iter().all(|v| (0.0..=box_size).contains(v)), "row {row}: {p:?} outside the box");
            for (t, &radius) in radii.iter().enumerate() {
                let c = e.pos(time * per_frame + agents + t);
                let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
                let n = t + 1;
                if let Some(v) = e.f(&format!("distance_target_center_{n}"), row).filter(|v| !v.is_nan()) {
                    assert!(close(v, d), "row {row}: center distance {v} vs {d}");
                    checked[0] += 1;
                }
                if let Some(v) = e.f(&format!("distance_to_target_mesh_closest_point_{n}"), row).filter(|v| !v.is_nan())
                {
                    assert!(close(v, d - radius), "row {row}: mesh distance {v} vs {}", d - radius);
                    checked[1] += 1;
                }
                if let Some(point) = &e.list[&format!("target_mesh_closest_point_{n}")][row] {
                    assert_eq!(point.len(), 3);
                    for k in 0..3 {
                        let v = point[k].unwrap();
                        if !v.is_nan() {
                            let want = c[k] + radius * (p[k] - c[k]) / d;
                            assert!(close(v, want), "row {row}: closest point {v} vs {want}");
                            checked[2] += 1;
                        }
                    }
                }
            }
            if let Some(v) = e.f("mesh_scene_distance", row).filter(|v| !v.is_nan()) {
                assert_eq!(v, p[2]);
            }
            if let Some(point) = &e.list["mesh_scene_closest_point"][row] {
                for (v, want) in point.iter().map(|v| v.unwrap()).zip([p[0], p[1], 0.0]) {
                    assert!(v.is_nan() || v == want, "row {row}: scene point {v} vs {want}");
                }
            }
            // Velocity is the position change since the previous frame.
            let v = ["v_x", "v_y", "v_z"].map(|c| e.f(c, row).unwrap());
            let speed = (v.iter().filter(|x| !x.is_nan()).map(|x| x * x).sum::<f64>()).sqrt();
            assert!(speed <= max_speed + 1e-9, "row {row}: speed {speed}");
            if time > 0 {
                let q = e.pos(row - per_frame);
                for k in 0..3 {
                    if !v[k].is_nan() && !q[k].is_nan() {
                        assert_eq!(v[k], p[k] - q[k], "row {row}");
                        checked[3] += 1;
                    }
                }
            }
        }
    }
    println!("checked {checked:?}");
    assert!(checked.iter().all(|n| *n > 10_000), "{checked:?}");
}

#[test]
fn boids_nan_shares_are_about_one_percent() {
    let opts = options(Source::Boids, |b| b.with_episodes(1).with_agents(40).with_frames(1000).with_seed(3));
    let (dir, _) = generate(&opts);
    let (e, _) = Episode::read(&boids_sessions(dir.path())[0].1[0]);
    let agent_rows: Vec<usize> = (0..e.rows()).filter(|&r| e.kind(r) == "agent").collect();
    assert_eq!(agent_rows.len(), 40_000);

    let share = |nan: usize, all: usize| nan as f64 / all as f64;
    let (mut values, mut nan) = (0, 0);
    for c in ["distance_target_center_1", "distance_to_target_mesh_closest_point_1", "mesh_scene_distance"] {
        for &r in &agent_rows {
            values += 1;
            nan += usize::from(e.f(c, r).unwrap().is_nan());
        }
    }
    let (mut lists, mut null_lists) = (0, 0);
    for c in ["target_mesh_closest_point_1", "mesh_scene_closest_point"] {
        for &r in &agent_rows {
            lists += 1;
            match &e.list[c][r] {
                None => null_lists += 1,
                Some(point) => {
                    values += 3;
                    nan += point.iter().filter(|v| v.unwrap().is_nan()).count();
                }
            }
        }
    }
    let velocities: Vec<f64> =
        ["v_x", "v_y", "v_z"].iter().flat_map(|c| agent_rows.iter().map(|&r| e.f(c, r).unwrap())).collect();
    let nan_velocity = velocities.iter().filter(|v| v.is_nan()).count();
    let nan_position = agent_rows.iter().filter(|&&r| e.f("x", r).unwrap().is_nan()).count();
    let shares = [share(nan, values), share(nan_velocity, velocities.len()), share(null_lists, lists)];
    println!(
        "NaN properties {:.3}%, NaN velocities {:.3}%, NULL lists {:.3}%, NaN positions {nan_position}",
        shares[0] * 100.0,
        shares[1] * 100.0,
        shares[2] * 100.0
    );
    assert!((0.005..=0.02).contains(&shares[0]), "{shares:?}");
    assert!((0.0003..=0.003).contains(&shares[1]), "{shares:?}");
    assert!((0.0005..=0.005).contains(&shares[2]), "{shares:?}");
    assert!(nan_position <= 40, "{nan_position} NaN positions");
    // A NaN position is NaN in x, y and z together.
    for &r in &agent_rows {
        let nans = ["x", "y", "z"].iter().filter(|c| e.f(c, r).unwrap().is_nan()).count();
        assert!(nans == 0 || nans == 3, "row {r}");
    }
}

#[test]
fn boids_row_groups_hold_at_most_64k_rows() {
    let opts = options(Source::Boids, |b| b.with_episodes(1).with_agents(400).with_frames(200));
    let (dir, summary) = generate(&opts);
    assert_eq!(summary.rows, 200 * 401);
    let (e, _) = Episode::read(&boids_sessions(dir.path())[0].1[0]);
    assert_eq!(e.row_groups, [65_536, 200 * 401 - 65_536]);
}

/// A CSV file without quoting, as header and rows of fields.
fn read_csv(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n') && !text.contains('"') && !text.contains('\r'));
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_owned();
    let fields = header.split(',').count();
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert!(rows.iter().all(|r| r.len() == fields), "{}", path.display());
    (header, rows)
}

/// A number with exactly `decimals` decimals, as an integer of those units.
fn fixed(s: &str, decimals: usize) -> u64 {
    let (whole, frac) = s.split_once('.').unwrap_or_else(|| panic!("{s:?}"));
    assert!(frac.len() == decimals && whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()), "{s:?}");
    assert!(whole == "0" || !whole.starts_with('0'), "{s:?}");
    (whole.to_owned() + frac).parse().unwrap()
}

#[test]
fn tracking_layout_matches_the_spec() {
    let spec = Source::Tracking.spec_toml();
    assert!(spec.contains(r#"files = "aligned_frames/*/*_tracks.csv""#));
    assert!(spec.contains(r#"join = { files = "*_bboxes.csv", on = ["track_id", "frame"] }"#));
    let opts = options(Source::Tracking, |b| b.with_sessions(3).with_cameras(3).with_tracks(4).with_frames(60));
    let (dir, summary) = generate(&opts);
    assert_eq!((summary.sessions, summary.episodes, summary.files), (3, 9, 18));

    let sessions = names(dir.path());
    let mut previous_day = String::new();
    for (s, name) in sessions.iter().enumerate() {
        let (day, number) = name.split_once("-session_").unwrap_or_else(|| panic!("{name}"));
        assert_eq!(number, format!("{:04}", s + 1));
        let b = day.as_bytes();
        assert!(b.len() == 10 && b[4] == b'_' && b[7] == b'_', "{name}");
        assert!(is_stamp(&format!("{}-000000", day.replace('_', ""))), "{name}");
        assert!(*day >= *previous_day, "{name}");
        previous_day = day.to_owned();

        let session = dir.path().join(name);
        assert_eq!(names(&session), ["aligned_frames"]);
        assert_eq!(names(&session.join("aligned_frames")), ["cam_a", "cam_b", "cam_c"]);
        for cam in ["cam_a", "cam_b", "cam_c"] {
            let folder = session.join("aligned_frames").join(cam);
            assert_eq!(names(&folder), [format!("{cam}_bboxes.csv"), format!("{cam}_tracks.csv")]);
            assert_eq!(read_csv(&folder.join(format!("{cam}_tracks.csv"))).0, "track_id,frame,x,y");
            assert_eq!(
                read_csv(&folder.join(format!("{cam}_bboxes.csv"))).0,
                "track_id,frame,x1,y1,x2,y2,confidence,class"
            );
        }
    }
}

#[test]
fn tracking_tracks_are_born_lost_found_and_die() {
    let opts = options(Source::Tracking, |b| b.with_cameras(1).with_seed(11));
    assert_eq!((opts.frames(), opts.tracks()), (900, 20));
    let (dir, summary) = generate(&opts);
    let session = &names(dir.path())[0];
    let (_, rows) = read_csv(&dir.path().join(session).join("aligned_frames/cam_a/cam_a_tracks.csv"));
    assert_eq!(summary.rows as usize, rows.len());

    let mut tracks: BTreeMap<u64, Vec<(u64, [u64; 2])>> = BTreeMap::new();
    let mut previous = None;
    for r in &rows {
        let (id, frame): (u64, u64) = (r[0].parse().unwrap(), r[1].parse().unwrap());
        let xy = [fixed(&r[2], 2), fixed(&r[3], 2)];
        assert!(xy[0] <= 192_000 && xy[1] <= 108_000, "{r:?}");
        assert!(frame < 900, "{r:?}");
        assert!(previous < Some((frame, id)), "rows not sorted by frame, track_id at {r:?}");
        previous = Some((frame, id));
        tracks.entry(id).or_default().push((frame, xy));
    }
    assert_eq!(tracks.len(), 20);
    let born_late = tracks.values().filter(|t| t[0].0 > 0).count();
    let died_early = tracks.values().filter(|t| t.last().unwrap().0 < 899).count();
    let gaps: usize = tracks.values().map(|t| t.windows(2).filter(|w| w[1].0 > w[0].0 + 1).count()).sum();
    println!("born after frame 0: {born_late}, died before the last: {died_early}, gaps: {gaps}");
    assert!(born_late >= 3 && died_early >= 3, "{born_late} births, {died_early} deaths");
    assert!(gaps >= 20, "{gaps} gaps");
    // Smooth: at most 12 px a frame (plus rounding) between consecutive rows.
    for t in tracks.values() {
        for w in t.windows(2) {
            let frames = w[1].0 - w[0].0;
            for k in 0..2 {
                assert!(w[1].1[k].abs_diff(w[0].1[k]) <= 1200 * frames + 1, "{w:?}");
            }
        }
    }
    // Ids grow with the birth frame.
    let births: Vec<u64> = tracks.values().map(|t| t[0].0).collect();
    assert!(births.windows(2).all(|w| w[0] <= w[1]), "{births:?}");
}

#[test]
fn tracking_bboxes_contain_the_positions() {
    let opts = options(Source::Tracking, |b| b.with_cameras(3).with_tracks(30).with_seed(5));
    let (dir, _) = generate(&opts);
    let session = dir.path().join(&names(dir.path())[0]).join("aligned_frames");
    let (mut track_rows, mut box_rows, mut empty_class) = (0usize, 0usize, 0usize);
    let mut classes: HashMap<&str, usize> = HashMap::new();
    for cam in ["cam_a", "cam_b", "cam_c"] {
        let (_, points) = read_csv(&session.join(cam).join(format!("{cam}_tracks.csv")));
        let (_, boxes) = read_csv(&session.join(cam).join(format!("{cam}_bboxes.csv")));
        let at: HashMap<(&str, &str), [u64; 2]> =
            points.iter().map(|r| ((r[0].as_str(), r[1].as_str()), [fixed(&r[2], 2), fixed(&r[3], 2)])).collect();
        assert_eq!(at.len(), points.len(), "duplicate (track_id, frame)");
        track_rows += points.len();
        box_rows += boxes.len();
        let mut class_of: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut previous = None;
        for r in &boxes {
            let key = (r[1].parse::<u64>().unwrap(), r[0].parse::<u64>().unwrap());
            assert!(previous < Some(key), "bboxes not sorted at {r:?}");
            previous = Some(key);
            let [x, y] = at[&(r[0].as_str(), r[1].as_str())];
            let [x1, y1, x2, y2] = [2, 3, 4, 5].map(|i| fixed(&r[i], 2));
            assert!(x1 < x && x < x2 && y1 < y && y < y2, "{r:?} does not contain ({x}, {y})");
            assert!(x2 <= 192_000 && y2 <= 108_000, "{r:?}");
            let confidence = fixed(&r[6], 3);
            assert!((1..=1000).contains(&confidence), "{r:?}");
            if r[7].is_empty() {
                empty_class += 1;
            } else {
                assert!(["bird", "rat", "gerbil"].contains(&r[7].as_str()), "{r:?}");
                class_of.entry(r[0].clone()).or_default().insert(r[7].clone());
            }
        }
        for (track, set) in &class_of {
            assert_eq!(set.len(), 1, "track {track} of {cam} has classes {set:?}");
            *classes.entry(["bird", "rat", "gerbil"].into_iter().find(|c| set.contains(*c)).unwrap()).or_default() += 1;
        }
    }
    let missing = (track_rows - box_rows) as f64 / track_rows as f64;
    println!("track rows {track_rows}, bbox rows {box_rows}, empty classes {empty_class}, classes {classes:?}");
    assert!((0.003..=0.03).contains(&missing), "{missing} of track rows without a box");
    assert!(empty_class > 10 && (empty_class as f64) < 0.05 * box_rows as f64, "{empty_class} empty classes");
    assert!(classes["bird"] > classes.get("rat").copied().unwrap_or(0) + classes.get("gerbil").copied().unwrap_or(0));
    assert!(classes.len() == 3, "{classes:?}");
}

#[test]
fn options_have_documented_defaults_and_are_checked() {
    let boids = TrajectoryOptions::builder(Source::Boids).build().unwrap();
    assert_eq!(
        (boids.seed(), boids.sessions(), boids.episodes(), boids.agents(), boids.targets(), boids.frames()),
        (42, 1, 3, 30, 1, 3001)
    );
    assert_eq!(boids.episodes_per_session(), 3);
    let tracking = TrajectoryOptions::builder(Source::Tracking).build().unwrap();
    assert_eq!((tracking.frames(), tracking.cameras(), tracking.tracks()), (900, 2, 20));
    assert_eq!(tracking.episodes_per_session(), 2);
    assert_eq!(TrajectoryOptions::builder(Source::Tracking).with_frames(5).build().unwrap().frames(), 5);

    let err = |b: TrajectoryOptionsBuilder| b.build().unwrap_err().to_string();
    let b = || TrajectoryOptions::builder(Source::Boids);
    assert_eq!(err(b().with_sessions(0)), "trajectories: sessions = 0 is out of range (1..=9999)");
    assert_eq!(err(b().with_sessions(10_000)), "trajectories: sessions = 10000 is out of range (1..=9999)");
    assert_eq!(err(b().with_agents(0)), "trajectories: agents = 0 is out of range (at least 1)");
    assert_eq!(
        err(b().with_targets(0)),
        "trajectories: targets = 0 is out of range (at least 1: the spec reads target 1)"
    );
    assert_eq!(err(b().with_frames(0)), "trajectories: frames = 0 is out of range (at least 1)");
    assert_eq!(err(b().with_cameras(27)), "trajectories: cameras = 27 is out of range (1..=26, cam_a to cam_z)");
    assert!(matches!(
        b().with_episodes(0).build(),
        Err(SampleError::InvalidOption { option: "episodes", value: 0, .. })
    ));
}

#[test]
fn names_parse_and_specs_are_embedded() {
    assert_eq!(Source::from_str("boids").unwrap(), Source::Boids);
    assert_eq!(" Tracking ".parse::<Source>().unwrap(), Source::Tracking);
    assert_eq!(Source::default(), Source::Boids);
    assert_eq!(
        Source::from_str("video").unwrap_err().to_string(),
        "unknown trajectory source `video` (known sources: boids, tracking)"
    );
    assert!(Source::Boids.spec_toml().contains("\nname = \"boids_3d\"\nkind = \"trajectories\"\n"));
    assert!(Source::Tracking.spec_toml().contains("\nname = \"tracking\"\nkind = \"trajectories\"\n"));

    assert_eq!("trajectories".parse::<Generator>().unwrap(), Generator::Trajectories);
    assert_eq!("Violations".parse::<Generator>().unwrap(), Generator::Csv(Dataset::Violations));
    assert_eq!(
        "nonsense".parse::<Generator>().unwrap_err().to_string(),
        "unknown dataset `nonsense` (known datasets: violations, trajectories)"
    );
    assert_eq!(
        "trajectories".parse::<Dataset>().unwrap_err().to_string(),
        "unknown dataset `trajectories` (known datasets: violations)"
    );
}

#[test]
fn errors_name_the_path_and_leave_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("taken");
    std::fs::write(&blocker, b"a file").unwrap();
    let opts = options(Source::Tracking, |b| b.with_frames(3));
    let err = write_trajectories(&opts, &blocker).unwrap_err();
    assert!(matches!(err, SampleError::Write { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("writing {}: ", blocker.display())), "{err}");

    // A file dropped before its commit is removed; a committed one is renamed.
    let path = dir.path().join("x.csv");
    let mut f = PartialFile::create(path.clone()).unwrap();
    f.put(b"half").unwrap();
    assert!(dir.path().join("x.csv.partial").exists());
    drop(f);
    assert_eq!(names(dir.path()), ["taken"]);
    let mut f = PartialFile::create(path.clone()).unwrap();
    f.put(b"whole\n").unwrap();
    assert_eq!(f.commit().unwrap(), 6);
    assert_eq!(names(dir.path()), ["taken", "x.csv"]);
}
