//! Specs of trajectory datasets: session folders of multi-agent trajectory
//! data, reshaped into the tables `sessions`, `episodes`, `observations` and
//! `extended_properties` (an entity-attribute-value table in long form).
//!
//! Everything source-specific is written in the spec, not in code: where a
//! session's files are, how episodes are numbered and named, which source
//! column gives each observation field (directly, a list component `col[2]`,
//! a `coalesce(col, 'default')`, or `rate(col)`, the change per second from
//! the same agent's previous frame), which rows carry properties (`when`),
//! and which column (or list component) each property comes from.
//!
//! ```
//! use pqstage_spec::trajectories::{TrajectorySpec, ValueExpr};
//!
//! let spec = TrajectorySpec::from_toml(r#"
//!     name = "sim"
//!     kind = "trajectories"
//!     [session]
//!     id = "session-{folder}"
//!     category = "boids_3d"
//!     [episodes]
//!     files = "episode-*.parquet"
//!     id = "episode-{number}-{stem}"
//!     format = "parquet"
//!     [[columns]]
//!     name = "t"
//!     type = "int64"
//!     [[columns]]
//!     name = "id"
//!     type = "int64"
//!     [[columns]]
//!     name = "p"
//!     type = "float64"
//!     components = 2
//!     [observations]
//!     time_index = "t"
//!     agent_id = "id"
//!     agent_type_id = "'agent'"
//!     x = "p[1]"
//!     y = "p[2]"
//!     [properties]
//!     [[properties.values]]
//!     property = "speed"
//!     from = "p[2]"
//! "#).unwrap();
//! let obs = spec.observation_exprs().unwrap();
//! assert_eq!(obs.x, ValueExpr::Component { column: 2, index: 1 });
//! ```

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ColumnType, SpecError};

/// The `kind` of a trajectory spec.
pub const KIND: &str = "trajectories";

/// A trajectory dataset's spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrajectorySpec {
    /// Dataset name (its folder in the stage).
    pub name: String,
    /// Always [`KIND`]: tells a trajectory spec from a table spec.
    pub kind: String,
    /// How a session folder becomes a `sessions` row.
    pub session: SessionRule,
    /// How a session's episodes are found and named.
    pub episodes: EpisodeRule,
    /// The source columns read from every episode, with their types.
    pub columns: Vec<SourceColumn>,
    /// Where each observation field comes from.
    pub observations: ObservationMap,
    /// Which rows carry properties and where each comes from.
    #[serde(default)]
    pub properties: PropertyMap,
    /// How the PostgreSQL tables are stored when pqstage creates them.
    #[serde(default, skip_serializing_if = "PostgresStorage::is_unset")]
    pub postgres: PostgresStorage,
}

/// How the PostgreSQL tables of a trajectory dataset are stored when
/// pqstage creates them. Tables that already exist keep their settings
/// unless the load is told otherwise (`--fillfactor`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresStorage {
    /// The fillfactor of observations and extended_properties, 10-100
    /// (PostgreSQL's default is 100). A dataset whose episodes are
    /// rewritten whole (a simulation run again) wants 50: each row's new
    /// version then fits on its page, a HOT update that adds no index entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fillfactor: Option<u8>,
}

impl PostgresStorage {
    fn is_unset(&self) -> bool {
        self == &Self::default()
    }
}

/// How a session folder becomes a `sessions` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRule {
    /// `session_id` template; `{folder}` is the folder's name.
    pub id: String,
    /// `category_id` of every session.
    pub category: String,
    /// A YAML file in the folder, stored whole as JSON in `sessions.config`.
    /// Required when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// A dotted key of the config that holds the frame rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate_key: Option<String>,
    /// Frames per second when the config does not say.
    #[serde(default = "default_frame_rate")]
    pub frame_rate: f64,
}

fn default_frame_rate() -> f64 {
    30.0
}

/// The format of episode files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header line (RFC 4180 quoting, empty field = NULL).
    Csv,
}

/// How a session's episodes are found and named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeRule {
    /// A pattern relative to the session folder (`*` matches within one path
    /// segment). With one `*` segment, each matching file is an episode; with
    /// a `*` folder segment (`aligned_frames/*/*_tracks.csv`), each matching
    /// folder is one.
    pub files: String,
    /// `episode_id` template: `{number}` (position in name order, from 0),
    /// `{stem}` (the file's name without extension), `{camera}` (the episode
    /// folder's name), `{session}` (the session id), `{folder}` (the session
    /// folder's name). Ids must differ across all sessions converted together.
    pub id: String,
    /// The files' format.
    pub format: SourceFormat,
    /// Files joined to each episode's rows on key columns, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinRule>,
}

/// A second file per episode joined on key columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRule {
    /// Pattern of the file, in the episode's folder.
    pub files: String,
    /// The columns both files share and join on.
    pub on: Vec<String>,
}

/// A column of the episode files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceColumn {
    /// Name in the files.
    pub name: String,
    /// Type (of each component, for a list column).
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// A list column of exactly this many values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<u32>,
}

/// Where each observation field comes from: expressions over source columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationMap {
    /// Frame number (int).
    pub time_index: String,
    /// Agent number (int).
    pub agent_id: String,
    /// Agent type (text); part of the natural key.
    pub agent_type_id: String,
    /// Position (float, required).
    pub x: String,
    /// Position (float, required).
    pub y: String,
    /// Position (float).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<String>,
    /// Velocity (float).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_x: Option<String>,
    /// Velocity (float).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_y: Option<String>,
    /// Velocity (float).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v_z: Option<String>,
}

/// Which rows carry properties, and where each property comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyMap {
    /// `column = 'text'` (or `!=`): only these rows carry properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// One per property.
    #[serde(default)]
    pub values: Vec<PropertyValue>,
}

/// One property: its id in `property_definitions` and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyValue {
    /// `property_id`.
    pub property: String,
    /// A column, or a list column's component `col[k]` (from 1). A float
    /// source gives `value_float`, a text source `value_text`.
    pub from: String,
}

/// A parsed value expression; columns are indexes into the spec's columns.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpr {
    /// A column's value.
    Column(usize),
    /// Component `index` (from 1) of a list column.
    Component {
        /// The list column.
        column: usize,
        /// Component, from 1.
        index: u32,
    },
    /// A text constant.
    Text(String),
    /// The column's value, or the constant when it is NULL or empty.
    Coalesce(usize, String),
    /// The change of the column since the same agent's previous frame,
    /// times the frame rate; NULL on an agent's first frame and after a gap.
    /// An agent is its `agent_id` and, when `agent_type_id` is a column of
    /// the file, its type; a type made with `coalesce()` may change along a
    /// track, so then the id alone.
    Rate(usize),
}

/// What a value expression yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// An integer.
    Int,
    /// A float.
    Float,
    /// Text.
    Text,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Int => "integer",
            Self::Float => "float",
            Self::Text => "text",
        })
    }
}

/// A `when` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The text column compared.
    pub column: usize,
    /// The constant.
    pub value: String,
    /// True for `=`, false for `!=`.
    pub equal: bool,
}

/// The observation fields, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservationExprs {
    /// Frame number.
    pub time_index: ValueExpr,
    /// Agent number.
    pub agent_id: ValueExpr,
    /// Agent type.
    pub agent_type_id: ValueExpr,
    /// Position.
    pub x: ValueExpr,
    /// Position.
    pub y: ValueExpr,
    /// Position, velocity: absent fields are NULL.
    pub z: Option<ValueExpr>,
    /// Velocity.
    pub v_x: Option<ValueExpr>,
    /// Velocity.
    pub v_y: Option<ValueExpr>,
    /// Velocity.
    pub v_z: Option<ValueExpr>,
}

impl ObservationExprs {
    /// The float fields in table order (x, y, z, v_x, v_y, v_z).
    pub fn floats(&self) -> [Option<&ValueExpr>; 6] {
        [Some(&self.x), Some(&self.y), self.z.as_ref(), self.v_x.as_ref(), self.v_y.as_ref(), self.v_z.as_ref()]
    }
}

/// Names of the float fields, in table order.
pub const FLOAT_FIELDS: [&str; 6] = ["x", "y", "z", "v_x", "v_y", "v_z"];

impl TrajectorySpec {
    /// Parses and validates a spec.
    ///
    /// # Errors
    /// [`SpecError`] naming what is wrong.
    pub fn from_toml(text: &str) -> Result<Self, SpecError> {
        let spec: Self = toml::from_str(text).map_err(SpecError::Toml)?;
        spec.validate()?;
        Ok(spec)
    }

    /// The spec as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks everything a convert relies on: the kind, names, templates,
    /// that every expression parses and has the type its field needs.
    ///
    /// # Errors
    /// [`SpecError::Invalid`] or [`SpecError::BadExpr`].
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.kind != KIND {
            return Err(SpecError::Invalid(format!("kind is '{}', expected '{KIND}'", self.kind)));
        }
        if self.name.is_empty() {
            return Err(SpecError::Invalid("name is empty".into()));
        }
        let mut seen = HashSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(SpecError::Invalid(format!("column '{}' is listed twice", c.name)));
            }
            if !matches!(c.ty, ColumnType::Int64 | ColumnType::Int32 | ColumnType::Float64 | ColumnType::Text) {
                return Err(SpecError::Invalid(format!(
                    "column '{}' is {}: a trajectory source column is int32, int64, float64 or text",
                    c.name, c.ty
                )));
            }
            if c.components == Some(0) {
                return Err(SpecError::Invalid(format!("column '{}' has 0 components", c.name)));
            }
        }
        if let Some(ff) = self.postgres.fillfactor {
            if !(10..=100).contains(&ff) {
                return Err(SpecError::Invalid(format!("postgres.fillfactor {ff} is not between 10 and 100")));
            }
        }
        if !self.session.id.contains("{folder}") {
            return Err(SpecError::Invalid(format!(
                "session.id '{}' must contain {{folder}}, so sessions get distinct ids",
                self.session.id
            )));
        }
        if !(self.session.frame_rate.is_finite() && self.session.frame_rate > 0.0) {
            return Err(SpecError::Invalid(format!(
                "session.frame_rate {} is not a positive number",
                self.session.frame_rate
            )));
        }
        if !self.episodes.id.contains("{number}") {
            return Err(SpecError::Invalid(format!(
                "episodes.id '{}' must contain {{number}}, so episodes get distinct ids",
                self.episodes.id
            )));
        }
        if self.episodes.files.split('/').any(|s| s.is_empty() || s == "..") {
            return Err(SpecError::Invalid(format!(
                "episodes.files '{}' is not a relative pattern",
                self.episodes.files
            )));
        }
        if let Some(j) = &self.episodes.join {
            if j.on.is_empty() {
                return Err(SpecError::Invalid("episodes.join.on names no column".into()));
            }
            for k in &j.on {
                let c = self.column(k)?;
                if !matches!(self.columns[c].ty, ColumnType::Int64 | ColumnType::Int32)
                    || self.columns[c].components.is_some()
                {
                    return Err(SpecError::Invalid(format!("episodes.join.on: '{k}' must be an integer column")));
                }
            }
        }
        let obs = self.observation_exprs()?;
        for (field, e, want) in [
            ("time_index", Some(&obs.time_index), ValueKind::Int),
            ("agent_id", Some(&obs.agent_id), ValueKind::Int),
            ("agent_type_id", Some(&obs.agent_type_id), ValueKind::Text),
        ]
        .into_iter()
        .chain(FLOAT_FIELDS.iter().zip(obs.floats()).map(|(f, e)| (*f, e, ValueKind::Float)))
        {
            let Some(e) = e else { continue };
            let got = self.kind_of(e);
            let fits = got == want || (want == ValueKind::Float && got == ValueKind::Int);
            if !fits {
                return Err(SpecError::Invalid(format!("observations.{field} is {got}, it must be {want}")));
            }
            if matches!(e, ValueExpr::Rate(_)) && !matches!(field, "v_x" | "v_y" | "v_z") {
                return Err(SpecError::Invalid(format!("observations.{field}: rate() gives a velocity")));
            }
        }
        self.condition()?;
        let mut props = HashSet::new();
        for p in &self.properties.values {
            if !props.insert(p.property.as_str()) {
                return Err(SpecError::Invalid(format!("property '{}' is listed twice", p.property)));
            }
            match self.parse_expr(&p.from)? {
                ValueExpr::Column(_) | ValueExpr::Component { .. } => {}
                _ => {
                    return Err(SpecError::BadExpr {
                        expr: p.from.clone(),
                        reason: "a property comes from a column or a list component".into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// The index of a source column.
    ///
    /// # Errors
    /// [`SpecError::Invalid`] when there is none.
    pub fn column(&self, name: &str) -> Result<usize, SpecError> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| SpecError::Invalid(format!("no column '{name}' in [[columns]]")))
    }

    /// What an expression yields.
    pub fn kind_of(&self, e: &ValueExpr) -> ValueKind {
        let of = |c: usize| match self.columns[c].ty {
            ColumnType::Text => ValueKind::Text,
            ColumnType::Float64 => ValueKind::Float,
            _ => ValueKind::Int,
        };
        match e {
            ValueExpr::Column(c) | ValueExpr::Component { column: c, .. } => of(*c),
            ValueExpr::Text(_) | ValueExpr::Coalesce(..) => ValueKind::Text,
            ValueExpr::Rate(_) => ValueKind::Float,
        }
    }

    /// Parses one value expression against the spec's columns.
    ///
    /// # Errors
    /// [`SpecError::BadExpr`] saying why.
    pub fn parse_expr(&self, text: &str) -> Result<ValueExpr, SpecError> {
        let bad = |reason: String| SpecError::BadExpr { expr: text.to_string(), reason };
        let col = |name: &str| self.column(name.trim()).map_err(|e| bad(e.to_string()));
        let list = |c: usize, want: bool| -> Result<(), SpecError> {
            match (self.columns[c].components.is_some(), want) {
                (true, false) => Err(bad(format!(
                    "'{}' is a list column: pick a component, e.g. {}[1]",
                    self.columns[c].name, self.columns[c].name
                ))),
                (false, true) => Err(bad(format!("'{}' is not a list column", self.columns[c].name))),
                _ => Ok(()),
            }
        };
        let t = text.trim();
        if let Some(s) = literal(t) {
            return Ok(ValueExpr::Text(s));
        }
        if let Some(args) = call(t, "rate") {
            let c = col(args)?;
            list(c, false)?;
            if self.columns[c].ty == ColumnType::Text {
                return Err(bad("rate() takes a number column".into()));
            }
            return Ok(ValueExpr::Rate(c));
        }
        if let Some(args) = call(t, "coalesce") {
            let (a, b) =
                args.split_once(',').ok_or_else(|| bad("coalesce takes a column and a text constant".into()))?;
            let c = col(a)?;
            list(c, false)?;
            let lit =
                literal(b.trim()).ok_or_else(|| bad("coalesce's second argument is a quoted text constant".into()))?;
            if self.columns[c].ty != ColumnType::Text {
                return Err(bad("coalesce() takes a text column".into()));
            }
            return Ok(ValueExpr::Coalesce(c, lit));
        }
        if let Some((name, rest)) = t.split_once('[') {
            let k: u32 = rest
                .strip_suffix(']')
                .and_then(|k| k.trim().parse().ok())
                .ok_or_else(|| bad("a component is written col[k], k from 1".into()))?;
            let c = col(name)?;
            list(c, true)?;
            let n = self.columns[c].components.unwrap_or(0);
            if k == 0 || k > n {
                return Err(bad(format!("'{}' has components 1..{n}", self.columns[c].name)));
            }
            return Ok(ValueExpr::Component { column: c, index: k });
        }
        if !t.chars().all(|ch| ch.is_alphanumeric() || ch == '_') || t.is_empty() {
            return Err(bad("expected a column, col[k], 'text', coalesce(col, 'text') or rate(col)".into()));
        }
        let c = col(t)?;
        list(c, false)?;
        Ok(ValueExpr::Column(c))
    }

    /// The observation fields, parsed.
    ///
    /// # Errors
    /// The first expression that does not parse.
    pub fn observation_exprs(&self) -> Result<ObservationExprs, SpecError> {
        let o = &self.observations;
        let opt = |s: &Option<String>| s.as_deref().map(|s| self.parse_expr(s)).transpose();
        Ok(ObservationExprs {
            time_index: self.parse_expr(&o.time_index)?,
            agent_id: self.parse_expr(&o.agent_id)?,
            agent_type_id: self.parse_expr(&o.agent_type_id)?,
            x: self.parse_expr(&o.x)?,
            y: self.parse_expr(&o.y)?,
            z: opt(&o.z)?,
            v_x: opt(&o.v_x)?,
            v_y: opt(&o.v_y)?,
            v_z: opt(&o.v_z)?,
        })
    }

    /// The properties' sources, parsed, in spec order.
    ///
    /// # Errors
    /// The first expression that does not parse.
    pub fn property_exprs(&self) -> Result<Vec<(String, ValueExpr)>, SpecError> {
        self.properties.values.iter().map(|p| Ok((p.property.clone(), self.parse_expr(&p.from)?))).collect()
    }

    /// The `when` condition, parsed.
    ///
    /// # Errors
    /// [`SpecError::BadExpr`] when it is not `column = 'text'` or `column != 'text'`.
    pub fn condition(&self) -> Result<Option<Condition>, SpecError> {
        let Some(w) = &self.properties.when else { return Ok(None) };
        let bad = |reason: &str| SpecError::BadExpr { expr: w.clone(), reason: reason.into() };
        let (lhs, rhs, equal) = if let Some((l, r)) = w.split_once("!=") {
            (l, r, false)
        } else if let Some((l, r)) = w.split_once('=') {
            (l, r, true)
        } else {
            return Err(bad("expected column = 'text'"));
        };
        let column = self.column(lhs.trim()).map_err(|e| bad(&e.to_string()))?;
        if self.columns[column].ty != ColumnType::Text || self.columns[column].components.is_some() {
            return Err(bad("the column must be a text column"));
        }
        let value = literal(rhs.trim()).ok_or_else(|| bad("the right side is a quoted text constant"))?;
        Ok(Some(Condition { column, value, equal }))
    }

    /// A short fingerprint of the spec: equal specs give equal fingerprints.
    pub fn fingerprint(&self) -> String {
        crate::fnv_hex(&self.to_toml())
    }
}

/// The staged tables of a trajectory dataset, in load order.
pub const TABLES: [&str; 4] = ["sessions", "episodes", "observations", "extended_properties"];

/// The partition column of a staged table: its unit of loading.
pub fn unit_column(table: &str) -> &'static str {
    if table == "sessions" {
        "session_id"
    } else {
        "episode_id"
    }
}

/// The columns of a staged table's files (its partition column lives in the
/// folder name), typed as the target's columns are.
///
/// # Panics
/// On a name that is not in [`TABLES`].
pub fn table_spec(table: &str) -> crate::Spec {
    use ColumnType::{Float64, Int32, Text};
    let cols: &[(&str, ColumnType, bool)] = match table {
        "sessions" => &[
            ("session_name", Text, false),
            ("category_id", Text, false),
            ("config", Text, true),
            ("metadata", Text, true),
        ],
        "episodes" => &[
            ("session_id", Text, false),
            ("episode_number", Int32, false),
            ("num_frames", Int32, false),
            ("num_agents", Int32, false),
            ("frame_rate", Float64, false),
            ("file_path", Text, false),
        ],
        "observations" => &[
            ("time_index", Int32, false),
            ("agent_id", Int32, false),
            ("agent_type_id", Text, false),
            ("x", Float64, false),
            ("y", Float64, false),
            ("z", Float64, true),
            ("v_x", Float64, true),
            ("v_y", Float64, true),
            ("v_z", Float64, true),
        ],
        "extended_properties" => &[
            ("time_index", Int32, false),
            ("agent_id", Int32, false),
            ("agent_type_id", Text, false),
            ("property_id", Text, false),
            ("value_float", Float64, true),
            ("value_text", Text, true),
        ],
        other => panic!("no trajectory table '{other}'"),
    };
    crate::Spec {
        name: Some(table.to_string()),
        dialect: crate::Dialect::default(),
        columns: cols
            .iter()
            .map(|(n, ty, nullable)| crate::Column {
                name: n.to_string(),
                header: None,
                ty: *ty,
                nullable: *nullable,
                format: None,
            })
            .collect(),
        derived: Vec::new(),
        partition: None,
        target: crate::Target::default(),
    }
}

/// `'text'` (a doubled quote inside stands for one).
fn literal(t: &str) -> Option<String> {
    let inner = t.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// The argument text of `name(...)`.
fn call<'t>(t: &'t str, name: &str) -> Option<&'t str> {
    t.strip_prefix(name)?.trim_start().strip_prefix('(')?.strip_suffix(')')
}

/// Fills a template's `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// The `kind` a spec's TOML declares, if any: tells a trajectory spec from a
/// table spec before parsing either.
pub fn declared_kind(text: &str) -> Option<String> {
    let v: toml::Table = toml::from_str(text).ok()?;
    v.get("kind")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOIDS: &str = include_str!("../../pqstage-sample/specs/boids_3d.toml");
    const TRACKING: &str = include_str!("../../pqstage-sample/specs/tracking.toml");

    #[test]
    fn shipped_specs_parse_and_round_trip() {
        for text in [BOIDS, TRACKING] {
            let spec = TrajectorySpec::from_toml(text).unwrap();
            assert_eq!(declared_kind(text).as_deref(), Some(KIND));
            let again = TrajectorySpec::from_toml(&spec.to_toml()).unwrap();
            assert_eq!(again, spec);
            assert_eq!(again.fingerprint(), spec.fingerprint());
        }
        let boids = TrajectorySpec::from_toml(BOIDS).unwrap();
        assert_eq!(boids.properties.values.len(), 9);
        let props = boids.property_exprs().unwrap();
        let c = boids.column("target_mesh_closest_point_1").unwrap();
        assert_eq!(props[3], ("target_mesh_closest_x".to_string(), ValueExpr::Component { column: c, index: 1 }));
        let when = boids.condition().unwrap().unwrap();
        assert_eq!((when.column, when.value.as_str(), when.equal), (boids.column("type").unwrap(), "agent", true));
        assert_eq!(boids.postgres.fillfactor, Some(50));
        let tracking = TrajectorySpec::from_toml(TRACKING).unwrap();
        assert_eq!(tracking.postgres, PostgresStorage::default());
        assert!(!tracking.to_toml().contains("[postgres]"), "an unset section is not written");
        let obs = tracking.observation_exprs().unwrap();
        assert_eq!(obs.v_x, Some(ValueExpr::Rate(tracking.column("x").unwrap())));
        assert_eq!(obs.agent_type_id, ValueExpr::Coalesce(tracking.column("class").unwrap(), "bird".into()));
    }

    fn with(find: &str, replace: &str) -> Result<TrajectorySpec, SpecError> {
        assert!(BOIDS.contains(find), "{find}");
        TrajectorySpec::from_toml(&BOIDS.replacen(find, replace, 1))
    }

    #[test]
    fn mistakes_are_named() {
        let msg = |r: Result<TrajectorySpec, SpecError>| r.unwrap_err().to_string();
        assert!(msg(with("from = \"mesh_scene_closest_point[3]\"", "from = \"mesh_scene_closest_point[4]\""))
            .contains("components 1..3"));
        assert!(msg(with("from = \"mesh_scene_closest_point[3]\"", "from = \"mesh_scene_closest_point\""))
            .contains("pick a component"));
        assert!(msg(with("from = \"mesh_scene_distance\"", "from = \"mesh_scene_distanse\""))
            .contains("no column 'mesh_scene_distanse'"));
        assert!(msg(with("agent_type_id = \"type\"", "agent_type_id = \"time\""))
            .contains("agent_type_id is integer, it must be text"));
        assert!(msg(with("x = \"x\"", "x = \"type\"")).contains("observations.x is text"));
        assert!(msg(with("when = \"type = 'agent'\"", "when = \"type = agent\"")).contains("quoted text constant"));
        assert!(msg(with("id = \"episode-{number}-{stem}\"", "id = \"episode-{stem}\"")).contains("{number}"));
        assert!(msg(with("kind = \"trajectories\"", "kind = \"table\"")).contains("expected 'trajectories'"));
        assert!(msg(with("property = \"distance_to_scene_mesh\"", "property = \"distance_to_target_mesh\""))
            .contains("listed twice"));
        assert!(
            msg(with("fillfactor = 50", "fillfactor = 5")).contains("postgres.fillfactor 5 is not between 10 and 100")
        );
        assert!(msg(with("fillfactor = 50", "fillfactor = 101")).contains("postgres.fillfactor 101"));
        assert!(msg(with("fillfactor = 50", "filfactor = 50")).contains("filfactor"));
    }
}
