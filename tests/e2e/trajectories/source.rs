//! What the source files call for, read straight from them with DuckDB and
//! never through pqstage: the episodes of each session folder, the rows each
//! must stage and load, and the queries that compare a loaded DuckDB target
//! with its sources row by row.
//!
//! Every source is seen through one shape, [`SourceEpisode::base`]: a query
//! with the natural key `t, a, ty`, the raw position `x, y`, the other
//! fields as the target must hold them (`z`, `v_x`, `v_y`, `v_z`, NaN as
//! NULL), `selected` (the row carries properties) and one `p_<property>`
//! column per property, raw.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which generator wrote a session folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `sample trajectories --source boids`: Parquet episodes.
    Boids,
    /// `sample trajectories --source tracking`: CSV tracks and boxes per camera.
    Tracking,
}

/// The boids spec's properties: (property_id, source expression), the list
/// columns split into their three components, first target only.
pub const BOIDS_PROPERTIES: [(&str, &str); 9] = [
    ("distance_to_target_center", "distance_target_center_1"),
    ("distance_to_target_mesh", "distance_to_target_mesh_closest_point_1"),
    ("distance_to_scene_mesh", "mesh_scene_distance"),
    ("target_mesh_closest_x", "target_mesh_closest_point_1[1]"),
    ("target_mesh_closest_y", "target_mesh_closest_point_1[2]"),
    ("target_mesh_closest_z", "target_mesh_closest_point_1[3]"),
    ("scene_mesh_closest_x", "mesh_scene_closest_point[1]"),
    ("scene_mesh_closest_y", "mesh_scene_closest_point[2]"),
    ("scene_mesh_closest_z", "mesh_scene_closest_point[3]"),
];

/// The tracking spec's properties: (property_id, bboxes column, is text).
pub const TRACKING_PROPERTIES: [(&str, &str, bool); 6] = [
    ("bbox_x1", "x1", false),
    ("bbox_y1", "y1", false),
    ("bbox_x2", "x2", false),
    ("bbox_y2", "y2", false),
    ("confidence", "confidence", false),
    ("detection_class", "class", true),
];

/// The tracking spec's frame rate (it has no config file to say otherwise).
pub const TRACKING_FRAME_RATE: f64 = 30.0;

/// One episode's source files.
#[derive(Debug, Clone)]
pub struct SourceEpisode {
    /// Which generator wrote it.
    pub kind: Kind,
    /// `episode_id`: `episode-<number>-<file stem>` (boids) or
    /// `episode-<number>-<camera>` (tracking), numbered from 0 in name order.
    pub id: String,
    /// `session-<folder name>`.
    pub session: String,
    /// The episode's file (absolute).
    pub file: PathBuf,
    /// The tracking boxes joined to it.
    pub joined: Option<PathBuf>,
}

/// Rows an episode must stage and load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Source rows.
    pub rows: i64,
    /// Rows with an x and a y: observations.
    pub observations: i64,
    /// Property values that are neither NULL, NaN nor empty, of selected rows with a position.
    pub properties: i64,
    /// Rows without an x or a y, refused into `_rejects/`.
    pub rejected: i64,
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A path as a SQL string literal.
pub fn path_lit(p: &Path) -> String {
    lit(&p.display().to_string())
}

/// Sub-folders of `dir`, in name order.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    out.sort();
    out
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_str().unwrap().to_string()
}

/// The episodes of session folders (absolute paths), in the order given.
pub fn episodes(kind: Kind, sessions: &[PathBuf]) -> Vec<SourceEpisode> {
    let mut out = Vec::new();
    for folder in sessions {
        let session = format!("session-{}", name(folder));
        match kind {
            Kind::Boids => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| {
                        let n = name(p);
                        n.starts_with("episode-") && n.contains("-completed-") && n.ends_with(".parquet")
                    })
                    .collect();
                files.sort();
                for (i, file) in files.into_iter().enumerate() {
                    let stem = file.file_stem().unwrap().to_str().unwrap().to_string();
                    out.push(SourceEpisode {
                        kind,
                        id: format!("episode-{i}-{stem}"),
                        session: session.clone(),
                        file,
                        joined: None,
                    });
                }
            }
            Kind::Tracking => {
                let mut number = 0;
                for camera in subdirs(&folder.join("aligned_frames")) {
                    let cam = name(&camera);
                    let tracks = camera.join(format!("{cam}_tracks.csv"));
                    if !tracks.exists() {
                        continue;
                    }
                    let bboxes = camera.join(format!("{cam}_bboxes.csv"));
                    out.push(SourceEpisode {
                        kind,
                        id: format!("episode-{number}-{}-{cam}", name(folder)),
                        session: session.clone(),
                        file: tracks,
                        joined: bboxes.exists().then_some(bboxes),
                    });
                    number += 1;
                }
            }
        }
    }
    out
}

/// `v`, or NULL when it is NaN.
fn no_nan(v: &str) -> String {
    format!("CASE WHEN isnan({v}) THEN NULL ELSE {v} END")
}

/// A property value that is stored: neither NULL, NaN nor empty.
fn stored(column: &str, text: bool) -> String {
    if text {
        format!("coalesce({column} <> '', false)")
    } else {
        format!("coalesce(NOT isnan({column}), false)")
    }
}

/// True for a row with a position (x and y neither NULL nor NaN).
pub const HAS_POSITION: &str = "coalesce(NOT isnan(x) AND NOT isnan(y), false)";

impl SourceEpisode {
    /// The properties: (property_id, is text).
    pub fn properties(&self) -> Vec<(&'static str, bool)> {
        match self.kind {
            Kind::Boids => BOIDS_PROPERTIES.iter().map(|(p, _)| (*p, false)).collect(),
            Kind::Tracking => TRACKING_PROPERTIES.iter().map(|(p, _, text)| (*p, *text)).collect(),
        }
    }

    /// The source rows in the common shape (see the module's doc).
    pub fn base(&self) -> String {
        match self.kind {
            Kind::Boids => {
                let props: Vec<String> = BOIDS_PROPERTIES.iter().map(|(p, e)| format!("{e} AS p_{p}")).collect();
                format!(
                    "SELECT time AS t, id AS a, type AS ty, x, y, {} AS z, {} AS v_x, {} AS v_y, {} AS v_z, \
                     coalesce(type = 'agent', false) AS selected, {} FROM read_parquet({})",
                    no_nan("z"),
                    no_nan("v_x"),
                    no_nan("v_y"),
                    no_nan("v_z"),
                    props.join(", "),
                    path_lit(&self.file)
                )
            }
            Kind::Tracking => {
                let boxes = self.joined.as_ref().expect("the sample writes boxes for every camera");
                let props: Vec<String> = TRACKING_PROPERTIES.iter().map(|(p, c, _)| format!("{c} AS p_{p}")).collect();
                // Velocity from the same track's previous frame: none on its
                // first frame and after a gap.
                format!(
                    "WITH tr AS (SELECT * FROM read_csv({tracks}, header = true, \
                         columns = {{'track_id': 'BIGINT', 'frame': 'BIGINT', 'x': 'DOUBLE', 'y': 'DOUBLE'}})), \
                     bb AS (SELECT * FROM read_csv({boxes}, header = true, \
                         columns = {{'track_id': 'BIGINT', 'frame': 'BIGINT', 'x1': 'DOUBLE', 'y1': 'DOUBLE', \
                         'x2': 'DOUBLE', 'y2': 'DOUBLE', 'confidence': 'DOUBLE', 'class': 'VARCHAR'}})), \
                     j AS (SELECT tr.track_id, tr.frame, tr.x, tr.y, bb.x1, bb.y1, bb.x2, bb.y2, bb.confidence, bb.class \
                         FROM tr LEFT JOIN bb ON bb.track_id = tr.track_id AND bb.frame = tr.frame), \
                     w AS (SELECT *, lag(frame) OVER win AS pf, lag(x) OVER win AS px, lag(y) OVER win AS py \
                         FROM j WINDOW win AS (PARTITION BY track_id ORDER BY frame)) \
                     SELECT frame AS t, track_id AS a, coalesce(nullif(class, ''), 'bird') AS ty, x, y, \
                         NULL::DOUBLE AS z, \
                         CASE WHEN pf = frame - 1 THEN (x - px) * {rate} END AS v_x, \
                         CASE WHEN pf = frame - 1 THEN (y - py) * {rate} END AS v_y, \
                         NULL::DOUBLE AS v_z, true AS selected, {props} FROM w",
                    tracks = path_lit(&self.file),
                    boxes = path_lit(boxes),
                    rate = TRACKING_FRAME_RATE,
                    props = props.join(", ")
                )
            }
        }
    }

    /// The stored property values in long form: t, a, ty, property_id, vf, vt.
    fn long_properties(&self) -> String {
        let parts: Vec<String> = self
            .properties()
            .iter()
            .map(|(p, text)| {
                let (vf, vt) = if *text {
                    ("NULL::DOUBLE".to_string(), format!("p_{p}"))
                } else {
                    (format!("p_{p}"), "NULL::VARCHAR".to_string())
                };
                format!(
                    "SELECT t, a, ty, {} AS property_id, {vf} AS vf, {vt} AS vt FROM b \
                     WHERE {HAS_POSITION} AND selected AND {}",
                    lit(p),
                    stored(&format!("p_{p}"), *text)
                )
            })
            .collect();
        parts.join(" UNION ALL ")
    }

    /// Rows of the target (schema `s`, quoted) that differ from the source
    /// for this episode, as text, at most five: observations whose key or
    /// fields differ, or that only one side has.
    pub fn observation_mismatches(&self, s: &str) -> String {
        let fields = ["x", "y", "z", "v_x", "v_y", "v_z"];
        let differ: Vec<String> = fields.iter().map(|f| format!("src.{f} IS DISTINCT FROM tgt.{f}")).collect();
        format!(
            "WITH b AS ({base}), \
             src AS (SELECT t, a, ty, x, y, z, v_x, v_y, v_z FROM b WHERE {HAS_POSITION}), \
             tgt AS (SELECT time_index AS t, agent_id AS a, agent_type_id AS ty, x, y, z, v_x, v_y, v_z \
                 FROM {s}.observations WHERE episode_id = {id}) \
             SELECT src.*, tgt.* FROM src FULL JOIN tgt ON src.t = tgt.t AND src.a = tgt.a AND src.ty = tgt.ty \
             WHERE src.t IS NULL OR tgt.t IS NULL OR {differ} ORDER BY 1, 2, 3 LIMIT 5",
            base = self.base(),
            id = lit(&self.id),
            differ = differ.join(" OR ")
        )
    }

    /// Like [`Self::observation_mismatches`], for the extended properties
    /// joined to their observations' natural keys.
    pub fn property_mismatches(&self, s: &str) -> String {
        format!(
            "WITH b AS ({base}), src AS ({long}), \
             tgt AS (SELECT o.time_index AS t, o.agent_id AS a, o.agent_type_id AS ty, p.property_id, \
                     p.value_float AS vf, p.value_text AS vt \
                 FROM {s}.extended_properties p JOIN {s}.observations o ON o.observation_id = p.observation_id \
                 WHERE o.episode_id = {id}) \
             SELECT src.*, tgt.* FROM src FULL JOIN tgt \
                 ON src.t = tgt.t AND src.a = tgt.a AND src.ty = tgt.ty AND src.property_id = tgt.property_id \
             WHERE src.t IS NULL OR tgt.t IS NULL OR src.vf IS DISTINCT FROM tgt.vf OR src.vt IS DISTINCT FROM tgt.vt \
             ORDER BY 1, 2, 3, 4 LIMIT 5",
            base = self.base(),
            long = self.long_properties(),
            id = lit(&self.id)
        )
    }

    /// One float property's stored values, by time, type and agent:
    /// (t, a, ty, value).
    pub fn property_values(&self, property: &str) -> Vec<(i32, i32, String, Option<f64>)> {
        let sql = format!(
            "WITH b AS ({base}), src AS ({long}) \
             SELECT t::INTEGER, a::INTEGER, ty, vf FROM src WHERE property_id = {p} ORDER BY t, ty, a",
            base = self.base(),
            long = self.long_properties(),
            p = lit(property)
        );
        let conn = memory();
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect()
    }
}

/// A connection for reading source files.
pub fn memory() -> duckdb::Connection {
    duckdb::Connection::open_in_memory().expect("an in-memory DuckDB")
}

/// Every row of `sql` on `conn`, each value as text.
pub fn rows(conn: &duckdb::Connection, sql: &str) -> Vec<Vec<Option<String>>> {
    let wrapped = format!("SELECT COLUMNS(*)::VARCHAR FROM ({sql})");
    let mut stmt = conn.prepare(&wrapped).unwrap_or_else(|e| panic!("{e}: {wrapped}"));
    let mut rows = stmt.query([]).unwrap();
    let n = rows.as_ref().unwrap().column_count();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push((0..n).map(|i| r.get::<_, Option<String>>(i).unwrap()).collect());
    }
    out
}

/// One integer from `sql` on `conn`.
pub fn int(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(&format!("SELECT ({sql})::BIGINT"), [], |r| r.get(0)).unwrap_or_else(|e| panic!("{e}: {sql}"))
}

/// What each episode must stage and load, by episode id.
pub fn expected(episodes: &[SourceEpisode]) -> BTreeMap<String, Expected> {
    let conn = memory();
    episodes
        .iter()
        .map(|e| {
            let props: Vec<String> = e
                .properties()
                .iter()
                .map(|(p, text)| format!("{}::INTEGER", stored(&format!("p_{p}"), *text)))
                .collect();
            let sql = format!(
                "SELECT count(*)::BIGINT, (count(*) FILTER (WHERE ok))::BIGINT, \
                 coalesce(sum(CASE WHEN ok AND selected THEN {} ELSE 0 END), 0)::BIGINT \
                 FROM (SELECT *, {HAS_POSITION} AS ok FROM ({}))",
                props.join(" + "),
                e.base()
            );
            let (rows, observations, properties) = conn
                .query_row(&sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
                .unwrap_or_else(|err| panic!("{err}: {sql}"));
            let want = Expected { rows, observations, properties, rejected: rows - observations };
            (e.id.clone(), want)
        })
        .collect()
}

/// Rows (from 1) of an episode's file without a position: the ones refused.
pub fn rows_without_position(e: &SourceEpisode) -> Vec<i64> {
    let conn = memory();
    let sql = match e.kind {
        Kind::Boids => format!(
            "SELECT file_row_number + 1 FROM read_parquet({}, file_row_number = true) WHERE NOT {HAS_POSITION} ORDER BY 1",
            path_lit(&e.file)
        ),
        Kind::Tracking => format!(
            "SELECT line FROM (SELECT row_number() OVER () AS line, * FROM read_csv({}, header = true, \
             columns = {{'track_id': 'BIGINT', 'frame': 'BIGINT', 'x': 'DOUBLE', 'y': 'DOUBLE'}})) \
             WHERE NOT {HAS_POSITION} ORDER BY 1",
            path_lit(&e.file)
        ),
    };
    rows(&conn, &sql).into_iter().map(|r| r[0].as_deref().unwrap().parse().unwrap()).collect()
}

/// Rewrites a Parquet file in place with `select`, in which `{src}` reads
/// the file as it was.
pub fn rewrite_parquet(file: &Path, select: &str) {
    let tmp = file.with_extension("rewrite");
    let sql = format!(
        "COPY ({}) TO {} (FORMAT parquet)",
        select.replace("{src}", &format!("read_parquet({})", path_lit(file))),
        path_lit(&tmp)
    );
    memory().execute_batch(&sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    std::fs::rename(&tmp, file).unwrap();
}
