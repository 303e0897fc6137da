//! A changed episode merged into PostgreSQL's tables: what they hold after
//! the merge equals a fresh load of the same stage.

use super::*;

#[test]
fn a_changed_tracking_episode_merges_its_float_and_text_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ts = tracking(d, "tsrc", 1, 22);
    let eps = episodes(Kind::Tracking, &absolute(d, &ts));
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    let pg = Target::pg("traj_tracking_changed");
    pg.load_ok(d, "stage", TRACKING, &[]);

    // The first camera's boxes: every confidence halved (float values
    // updated next to unchanged text ones), and one box's class changed: its
    // frame's agent type changes with it, so that observation is lost and
    // another gained, with its class as a text value.
    let boxes = eps[0].joined.as_ref().expect("tracking episodes have boxes");
    let swapped = edit_csv(boxes, |lines| {
        for line in lines[1..].iter_mut() {
            let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
            if let Ok(c) = fields[6].parse::<f64>() {
                fields[6] = (c / 2.0).to_string();
            }
            *line = fields.join(",");
        }
        let (head, class) = lines[1].rsplit_once(',').map(|(h, c)| (h.to_string(), c.to_string())).unwrap();
        let other = if class == "rat" { "gerbil" } else { "rat" };
        lines[1] = format!("{head},{other}");
        (class, other)
    });
    assert_ne!(swapped.0, swapped.1);
    let want = expected(&eps);
    convert_ok(d, "tracking.toml", &ts, TRACKING);
    let out = pg.load_ok(d, "stage", TRACKING, &["-v"]);
    assert_eq!(result_of(&out, &eps[0].id), Some("loaded (changed)"), "{out}");
    assert_eq!(result_of(&out, &eps[1].id), Some("skipped (unchanged)"), "{out}");
    assert_eq!(pg.counts(), counts_of(&want));

    let duck = Target::duck(d, "fresh.duckdb", "main");
    duck.load_ok(d, "stage", TRACKING, &[]);
    check_against_sources(&duck, &eps);
    duck.content().assert_same(&pg.content(), "a fresh DuckDB load, then PostgreSQL merged");
}
