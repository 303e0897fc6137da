//! The users' tables as a test reads them back, from a schema of a DuckDB
//! file or of the test server: their whole content without observation_id
//! (to compare engines and loads), the observation ids by natural key, and
//! the named queries of `sql/<engine>/trajectories_queries.sql`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::load_postgres::url;
use crate::util::{cmd, with_s3};

/// An observation's natural key: episode_id, time_index, agent_id, agent_type_id.
pub type Key = (String, i32, i32, String);

/// A `sessions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub name: String,
    pub category: String,
    pub config: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
}

/// An `episodes` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub id: String,
    pub session: String,
    pub number: i32,
    pub frames: i32,
    pub agents: i32,
    pub frame_rate: f64,
    pub file_path: String,
}

/// An `observations` row without its id: x, y, z, v_x, v_y, v_z.
#[derive(Debug, Clone, PartialEq)]
pub struct Obs {
    pub key: Key,
    pub values: [Option<f64>; 6],
}

/// An `extended_properties` row, by its observation's natural key.
#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    pub key: Key,
    pub property: String,
    pub float: Option<f64>,
    pub text: Option<String>,
}

/// What a schema holds, sorted by key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Content {
    pub categories: Vec<String>,
    pub sessions: Vec<Session>,
    pub episodes: Vec<Episode>,
    pub observations: Vec<Obs>,
    pub properties: Vec<Prop>,
}

/// Panics at the first row that differs, or on different lengths.
fn same_rows<T: PartialEq + Debug>(what: &str, a: &[T], b: &[T]) {
    if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
        panic!("{what}: row {i} differs:\n  {:?}\n  {:?}", a[i], b[i]);
    }
    assert_eq!(a.len(), b.len(), "{what}: {} rows, then {} rows", a.len(), b.len());
}

impl Content {
    fn sorted(mut self) -> Self {
        self.categories.sort();
        self.sessions.sort_by(|a, b| a.id.cmp(&b.id));
        self.episodes.sort_by(|a, b| a.id.cmp(&b.id));
        self.observations.sort_by(|a, b| a.key.cmp(&b.key));
        self.properties.sort_by(|a, b| (&a.key, &a.property).cmp(&(&b.key, &b.property)));
        self
    }

    /// Asserts `other` holds exactly the same rows, naming the first that differs.
    pub fn assert_same(&self, other: &Content, what: &str) {
        same_rows(&format!("{what}: categories"), &self.categories, &other.categories);
        same_rows(&format!("{what}: sessions"), &self.sessions, &other.sessions);
        same_rows(&format!("{what}: episodes"), &self.episodes, &other.episodes);
        same_rows(&format!("{what}: observations"), &self.observations, &other.observations);
        same_rows(&format!("{what}: extended_properties"), &self.properties, &other.properties);
    }
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}: {t}")))
}

/// The text of the named query `name` of `sql/<engine>/trajectories_queries.sql`
/// for the tables in `schema`.
pub fn named_query(engine: &str, name: &str, schema: &str) -> String {
    named_sql(&format!("{engine}/trajectories_queries.sql"), name, schema)
}

/// The text of the `-- name: NAME` block of `sql/FILE` for the tables in
/// `schema`, without its comments.
pub fn named_sql(file: &str, name: &str, schema: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../sql/{file}"));
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = format!("-- name: {name}\n");
    let start = text.find(&marker).unwrap_or_else(|| panic!("no query {name} in {}", path.display())) + marker.len();
    let body = &text[start..];
    let body = body.find("-- name: ").map_or(body, |end| &body[..end]);
    let sql: Vec<&str> = body.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    sql.join("\n").trim().trim_end_matches(';').replace("{schema}", &format!("\"{schema}\""))
}

/// A PostgreSQL client of the test server.
pub fn pg() -> postgres::Client {
    postgres::Client::connect(&url(), postgres::NoTls).expect("PostgreSQL is reachable")
}

/// A schema of the test server for one test: made empty at the start,
/// dropped (with pqstage's records of it) at the end of a test that passed;
/// a failed test leaves it to look at, and its next run starts afresh.
pub struct PgSchema(pub String);

impl PgSchema {
    pub fn fresh(name: &str) -> Self {
        drop_schema(name);
        pg().batch_execute(&format!("CREATE SCHEMA \"{name}\"")).unwrap();
        Self(name.to_string())
    }
}

fn drop_schema(name: &str) {
    let mut c = pg();
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).unwrap();
    let state: bool = c.query_one("SELECT to_regclass('pqstage.episode_state') IS NOT NULL", &[]).unwrap().get(0);
    if state {
        c.execute("DELETE FROM pqstage.episode_state WHERE table_schema = $1", &[&name]).unwrap();
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            drop_schema(&self.0);
        }
    }
}

/// Where a test loads trajectories.
pub enum Target {
    /// A schema of a DuckDB file.
    Duck { db: PathBuf, schema: String },
    /// A schema of the test server.
    Pg(PgSchema),
}

impl Target {
    /// Schema `schema` of the DuckDB file `dir/file` (made by the first load).
    pub fn duck(dir: &Path, file: &str, schema: &str) -> Self {
        Self::Duck { db: dir.join(file), schema: schema.to_string() }
    }

    /// A fresh schema of the test server.
    pub fn pg(schema: &str) -> Self {
        Self::Pg(PgSchema::fresh(schema))
    }

    /// The engine's name, as in `sql/<engine>/`.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Duck { .. } => "duckdb",
            Self::Pg(_) => "postgres",
        }
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        match self {
            Self::Duck { schema, .. } => schema,
            Self::Pg(s) => &s.0,
        }
    }

    /// The quoted schema, for SQL.
    pub fn s(&self) -> String {
        format!("\"{}\"", self.schema())
    }

    /// `pqstage load ENGINE STAGE --dataset DATASET …` into this target, run in `dir`.
    pub fn load(&self, dir: &Path, stage: &str, dataset: &str, extra: &[&str]) -> Output {
        let mut args: Vec<String> = match self {
            Self::Duck { db, schema } => ["load", "duckdb", stage, "--dataset", dataset, "--db"]
                .iter()
                .map(|s| s.to_string())
                .chain([db.display().to_string(), "--schema".into(), schema.clone()])
                .collect(),
            // Two connections unless the caller says otherwise.
            Self::Pg(s) => ["load", "postgres", stage, "--dataset", dataset, "--db", &url(), "--schema", &s.0]
                .iter()
                .map(|s| s.to_string())
                .chain(if extra.contains(&"--jobs") { vec![] } else { vec!["--jobs".into(), "2".into()] })
                .collect(),
        };
        args.push("--no-progress".into());
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut c = cmd(dir);
        if stage.starts_with("s3://") {
            with_s3(&mut c);
        }
        c.args(&args).output().expect("pqstage runs")
    }

    /// Like [`Self::load`], asserting success; returns stdout.
    pub fn load_ok(&self, dir: &Path, stage: &str, dataset: &str, extra: &[&str]) -> String {
        self.load_ok_both(dir, stage, dataset, extra).0
    }

    /// Like [`Self::load`], asserting success; returns stdout and stderr.
    pub fn load_ok_both(&self, dir: &Path, stage: &str, dataset: &str, extra: &[&str]) -> (String, String) {
        let o = self.load(dir, stage, dataset, extra);
        let (out, err) =
            (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert!(
            o.status.success(),
            "load {dataset} into {} failed ({:?}):\n{out}\n{err}",
            self.engine(),
            o.status.code(),
        );
        (out, err)
    }

    /// A read-only connection to the DuckDB file.
    pub fn duck_conn(&self) -> duckdb::Connection {
        let Self::Duck { db, .. } = self else { panic!("not a DuckDB target") };
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).unwrap();
        duckdb::Connection::open_with_flags(db, config).expect("the DuckDB file opens")
    }

    /// One integer from `sql`, in which `{s}` is the quoted schema.
    pub fn int(&self, sql: &str) -> i64 {
        let sql = sql.replace("{s}", &self.s());
        match self {
            Self::Duck { .. } => super::source::int(&self.duck_conn(), &sql),
            Self::Pg(_) => pg().query_one(&format!("SELECT ({sql})::bigint"), &[]).unwrap().get(0),
        }
    }

    /// Per episode: observations and properties, from the named query `dataset_counts`.
    pub fn counts(&self) -> BTreeMap<String, (i64, i64)> {
        let sql = named_query(self.engine(), "dataset_counts", self.schema());
        match self {
            Self::Duck { .. } => {
                let c = self.duck_conn();
                let mut stmt = c.prepare(&sql).unwrap();
                stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))).unwrap().map(Result::unwrap).collect()
            }
            Self::Pg(_) => pg().query(&sql, &[]).unwrap().iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect(),
        }
    }

    /// One property's values over one episode, from the named query
    /// `property_series`: (time_index, agent_id, agent_type_id, value_float).
    pub fn property_series(&self, episode: &str, property: &str) -> Vec<(i32, i32, String, Option<f64>)> {
        let sql = named_query(self.engine(), "property_series", self.schema());
        match self {
            Self::Duck { .. } => {
                let c = self.duck_conn();
                let mut stmt = c.prepare(&sql).unwrap();
                stmt.query_map(duckdb::params![episode, property], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Self::Pg(_) => pg()
                .query(&sql, &[&episode, &property])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get::<_, String>(2), r.get(3)))
                .collect(),
        }
    }

    /// observation_id by natural key.
    pub fn ids(&self) -> BTreeMap<Key, i64> {
        let sql = format!(
            "SELECT episode_id::text, time_index, agent_id, agent_type_id::text, observation_id FROM {}.observations",
            self.s()
        );
        match self {
            Self::Duck { .. } => {
                let c = self.duck_conn();
                let mut stmt = c.prepare(&sql).unwrap();
                stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), r.get(4)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Self::Pg(_) => pg()
                .query(&sql, &[])
                .unwrap()
                .iter()
                .map(|r| ((r.get(0), r.get(1), r.get(2), r.get(3)), r.get(4)))
                .collect(),
        }
    }

    /// Everything the users' tables hold but ids and timestamps.
    pub fn content(&self) -> Content {
        let s = self.s();
        let q = [
            format!("SELECT category_id::text FROM {s}.categories"),
            format!("SELECT session_id::text, session_name::text, category_id::text, config::text, metadata::text FROM {s}.sessions"),
            format!(
                "SELECT episode_id::text, session_id::text, episode_number, num_frames, num_agents, frame_rate, file_path::text \
                 FROM {s}.episodes"
            ),
            format!(
                "SELECT episode_id::text, time_index, agent_id, agent_type_id::text, x, y, z, v_x, v_y, v_z FROM {s}.observations"
            ),
            format!(
                "SELECT o.episode_id::text, o.time_index, o.agent_id, o.agent_type_id::text, p.property_id::text, \
                 p.value_float, p.value_text FROM {s}.extended_properties p \
                 JOIN {s}.observations o ON o.observation_id = p.observation_id"
            ),
        ];
        let content = match self {
            Self::Duck { .. } => {
                let c = self.duck_conn();
                let all = |sql: &str| -> Vec<Vec<duckdb::types::Value>> {
                    let mut stmt = c.prepare(sql).unwrap();
                    let n = stmt.query([]).unwrap().as_ref().unwrap().column_count();
                    let mut stmt = c.prepare(sql).unwrap();
                    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, duckdb::types::Value>(i)).collect())
                        .unwrap()
                        .map(Result::unwrap)
                        .collect()
                };
                Content {
                    categories: all(&q[0]).into_iter().map(|r| text(&r[0]).unwrap()).collect(),
                    sessions: all(&q[1])
                        .into_iter()
                        .map(|r| Session {
                            id: text(&r[0]).unwrap(),
                            name: text(&r[1]).unwrap(),
                            category: text(&r[2]).unwrap(),
                            config: json(text(&r[3])),
                            metadata: json(text(&r[4])),
                        })
                        .collect(),
                    episodes: all(&q[2])
                        .into_iter()
                        .map(|r| Episode {
                            id: text(&r[0]).unwrap(),
                            session: text(&r[1]).unwrap(),
                            number: int(&r[2]),
                            frames: int(&r[3]),
                            agents: int(&r[4]),
                            frame_rate: float(&r[5]).unwrap(),
                            file_path: text(&r[6]).unwrap(),
                        })
                        .collect(),
                    observations: all(&q[3])
                        .into_iter()
                        .map(|r| Obs {
                            key: (text(&r[0]).unwrap(), int(&r[1]), int(&r[2]), text(&r[3]).unwrap()),
                            values: std::array::from_fn(|i| float(&r[4 + i])),
                        })
                        .collect(),
                    properties: all(&q[4])
                        .into_iter()
                        .map(|r| Prop {
                            key: (text(&r[0]).unwrap(), int(&r[1]), int(&r[2]), text(&r[3]).unwrap()),
                            property: text(&r[4]).unwrap(),
                            float: float(&r[5]),
                            text: text(&r[6]),
                        })
                        .collect(),
                }
            }
            Self::Pg(_) => {
                let mut c = pg();
                let mut all = |sql: &str| c.query(sql, &[]).unwrap();
                Content {
                    categories: all(&q[0]).iter().map(|r| r.get(0)).collect(),
                    sessions: all(&q[1])
                        .iter()
                        .map(|r| Session {
                            id: r.get(0),
                            name: r.get(1),
                            category: r.get(2),
                            config: json(r.get(3)),
                            metadata: json(r.get(4)),
                        })
                        .collect(),
                    episodes: all(&q[2])
                        .iter()
                        .map(|r| Episode {
                            id: r.get(0),
                            session: r.get(1),
                            number: r.get(2),
                            frames: r.get(3),
                            agents: r.get(4),
                            frame_rate: r.get(5),
                            file_path: r.get(6),
                        })
                        .collect(),
                    observations: all(&q[3])
                        .iter()
                        .map(|r| Obs {
                            key: (r.get(0), r.get(1), r.get(2), r.get(3)),
                            values: std::array::from_fn(|i| r.get(4 + i)),
                        })
                        .collect(),
                    properties: all(&q[4])
                        .iter()
                        .map(|r| Prop {
                            key: (r.get(0), r.get(1), r.get(2), r.get(3)),
                            property: r.get(4),
                            float: r.get(5),
                            text: r.get(6),
                        })
                        .collect(),
                }
            }
        };
        content.sorted()
    }
}

fn text(v: &duckdb::types::Value) -> Option<String> {
    match v {
        duckdb::types::Value::Null => None,
        duckdb::types::Value::Text(s) => Some(s.clone()),
        other => panic!("expected text, got {other:?}"),
    }
}

fn int(v: &duckdb::types::Value) -> i32 {
    match v {
        duckdb::types::Value::Int(i) => *i,
        other => panic!("expected an INTEGER, got {other:?}"),
    }
}

fn float(v: &duckdb::types::Value) -> Option<f64> {
    match v {
        duckdb::types::Value::Null => None,
        duckdb::types::Value::Double(f) => Some(*f),
        other => panic!("expected a DOUBLE, got {other:?}"),
    }
}
