//! One episode's rows reshaped as the spec says: observations keyed by
//! `(time_index, agent_id, agent_type_id)`, and the properties of the rows
//! `when` selects in long form, each keyed by its observation's natural key.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int32Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pqstage_spec::trajectories::{
    table_spec, Condition, ObservationExprs, TrajectorySpec, ValueExpr, ValueKind, FLOAT_FIELDS,
};

use super::input::{EpisodeReader, Rows};
use super::TrajectoryError;
use crate::layout::arrow_type;

/// Rows buffered before they are written as one batch.
const FLUSH_ROWS: usize = 65_536;

/// The Arrow schema of a staged trajectory table's files.
pub fn table_schema(table: &str) -> SchemaRef {
    let spec = table_spec(table);
    Arc::new(Schema::new(
        spec.columns.iter().map(|c| Field::new(&c.name, arrow_type(c.ty), c.nullable)).collect::<Vec<_>>(),
    ))
}

/// How staged trajectory files are written: zstd, one row group per million
/// rows. Deterministic: the same rows give the same bytes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("zstd level 1 exists")))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by(format!("pqstage {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A Parquet file being written in the scratch folder.
pub struct PartFile {
    path: PathBuf,
    writer: ArrowWriter<File>,
    /// Rows written so far.
    pub rows: u64,
}

impl PartFile {
    /// Creates the file.
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn create(path: PathBuf, schema: SchemaRef) -> Result<Self, TrajectoryError> {
        let f = File::create(&path).map_err(|e| TrajectoryError::io(&path, "create", &e))?;
        let writer = ArrowWriter::try_new(f, schema, Some(writer_properties()))
            .map_err(|e| TrajectoryError::io_msg(&path, format!("cannot write Parquet: {e}")))?;
        Ok(Self { path, writer, rows: 0 })
    }

    /// Appends a batch.
    ///
    /// # Errors
    /// Writing fails (a full disk).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TrajectoryError> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch).map_err(|e| TrajectoryError::io_msg(&self.path, format!("cannot write Parquet: {e}")))
    }

    /// Closes the file: its path and rows.
    ///
    /// # Errors
    /// Writing the footer fails.
    pub fn finish(self) -> Result<(PathBuf, u64), TrajectoryError> {
        self.writer.close().map_err(|e| TrajectoryError::io_msg(&self.path, format!("cannot write Parquet: {e}")))?;
        Ok((self.path, self.rows))
    }
}

/// What reshaping an episode gave.
#[derive(Debug, Default)]
pub struct Reshaped {
    /// Source rows read.
    pub rows_read: u64,
    /// Observations written.
    pub observations: u64,
    /// Property values written.
    pub properties: u64,
    /// Property values not stored because they were NULL, NaN or empty.
    pub properties_empty: u64,
    /// Rows refused (a NULL or NaN position), as CSV lines `file,row,column,value,reason`.
    pub rejects: Vec<String>,
    /// `max(time_index) + 1`.
    pub num_frames: i32,
    /// Distinct agent ids.
    pub num_agents: i32,
}

/// The last frame seen of an agent: for `rate()`.
struct Last {
    time: i32,
    values: Vec<f64>,
}

/// Reshapes one episode into its observations and properties files.
pub struct Reshaper<'s> {
    spec: &'s TrajectorySpec,
    obs: ObservationExprs,
    props: Vec<(String, ValueExpr, ValueKind)>,
    when: Option<Condition>,
    frame_rate: f64,
    /// Whether `rate()` tells agents apart by type as well as id: when the
    /// type is a column of the file. A type made with `coalesce()` (a
    /// detection class that may be missing on some frames) can change along
    /// one track, so there the id alone is the agent.
    rate_by_type: bool,
    /// Columns `rate()` reads, in the order `Last::values` keeps them.
    rate_columns: Vec<usize>,
}

impl<'s> Reshaper<'s> {
    /// A reshaper for the spec's episodes at a session's frame rate.
    ///
    /// # Errors
    /// The spec's expressions do not parse (a spec that was not validated).
    pub fn new(spec: &'s TrajectorySpec, frame_rate: f64) -> Result<Self, pqstage_spec::SpecError> {
        let obs = spec.observation_exprs()?;
        let props = spec.property_exprs()?.into_iter().map(|(p, e)| {
            let k = spec.kind_of(&e);
            (p, e, k)
        });
        let mut rate_columns = Vec::new();
        for e in obs.floats().into_iter().flatten() {
            if let ValueExpr::Rate(c) = e {
                if !rate_columns.contains(c) {
                    rate_columns.push(*c);
                }
            }
        }
        let rate_by_type = matches!(obs.agent_type_id, ValueExpr::Column(_) | ValueExpr::Component { .. });
        Ok(Self { spec, props: props.collect(), when: spec.condition()?, obs, frame_rate, rate_by_type, rate_columns })
    }

    /// Reads the episode and writes its observations to `obs_path` and its
    /// properties to `props_path`.
    ///
    /// # Errors
    /// The first bad value, named by file, row and column: a NULL or
    /// out-of-range key, a duplicate natural key, rows of an agent out of
    /// time order for `rate()`.
    pub fn run(
        &self,
        reader: &mut EpisodeReader,
        file: &Path,
        obs_path: PathBuf,
        props_path: PathBuf,
    ) -> Result<(Reshaped, PathBuf, PathBuf), TrajectoryError> {
        let mut obs_out = PartFile::create(obs_path, table_schema("observations"))?;
        let mut props_out = PartFile::create(props_path, table_schema("extended_properties"))?;
        let mut ob = ObsBuilders::default();
        let mut pb = PropBuilders::default();
        let mut out = Reshaped::default();
        let mut types: HashMap<String, u32> = HashMap::new();
        let mut seen: HashMap<(u32, i32, i32), u64> = HashMap::new();
        let mut agents: HashSet<i64> = HashSet::new();
        let mut last: HashMap<(u32, i32), Last> = HashMap::new();
        let mut max_time = -1i32;
        while let Some(rows) = reader.next_batch()? {
            out.rows_read += rows.len as u64;
            for i in 0..rows.len {
                let row = rows.first_row + i as u64;
                let at = |column: &str, reason: String| TrajectoryError::at(file, Some(row), Some(column), reason);
                let time =
                    self.int(&rows, &self.obs.time_index, i).map_err(|r| at(&self.spec.observations.time_index, r))?;
                let agent =
                    self.int(&rows, &self.obs.agent_id, i).map_err(|r| at(&self.spec.observations.agent_id, r))?;
                let ty = self.text(&rows, &self.obs.agent_type_id, i).filter(|t| !t.is_empty()).ok_or_else(|| {
                    at(&self.spec.observations.agent_type_id, "is empty: the agent type is part of the key".into())
                })?;
                let type_no = match types.get(ty) {
                    Some(n) => *n,
                    None => {
                        let n = types.len() as u32;
                        types.insert(ty.to_string(), n);
                        n
                    }
                };
                if let Some(first) = seen.insert((type_no, time, agent), row) {
                    return Err(TrajectoryError::at(
                        file,
                        Some(row),
                        None,
                        format!(
                            "repeats the natural key (time_index {time}, agent_id {agent}, agent_type_id '{ty}') of row {first}"
                        ),
                    ));
                }
                max_time = max_time.max(time);
                agents.insert(i64::from(agent));
                // rate(): this agent's previous frame.
                let current: Vec<f64> = self.rate_columns.iter().map(|&c| float_at(&rows.columns[c][0], i)).collect();
                let previous = if self.rate_columns.is_empty() {
                    None
                } else {
                    let track = (if self.rate_by_type { type_no } else { u32::MAX }, agent);
                    let prev = last.insert(track, Last { time, values: current.clone() });
                    if let Some(p) = &prev {
                        if p.time >= time {
                            return Err(at(
                                &self.spec.observations.time_index,
                                format!(
                                    "agent {agent} ({ty}) is at frame {time} after frame {}: rate() needs each agent's rows in time order",
                                    p.time
                                ),
                            ));
                        }
                    }
                    prev.filter(|p| p.time == time - 1)
                };
                let mut floats = [None; 6];
                for (slot, e) in floats.iter_mut().zip(self.obs.floats()) {
                    *slot = match e {
                        None => None,
                        Some(ValueExpr::Rate(c)) => {
                            let k = self.rate_columns.iter().position(|x| x == c).expect("collected from these exprs");
                            previous
                                .as_ref()
                                .map(|p| (current[k] - p.values[k]) * self.frame_rate)
                                .filter(|v| v.is_finite())
                        }
                        Some(e) => Some(self.float(&rows, e, i)).filter(|v| !v.is_nan()),
                    };
                }
                if let Some(k) = floats[..2].iter().position(Option::is_none) {
                    let (field, expr) =
                        (FLOAT_FIELDS[k], if k == 0 { &self.spec.observations.x } else { &self.spec.observations.y });
                    let value = if self.float(&rows, if k == 0 { &self.obs.x } else { &self.obs.y }, i).is_nan() {
                        "NaN or NULL"
                    } else {
                        ""
                    };
                    out.rejects.push(format!(
                        "{},{row},{},{value},observations.{field} is NOT NULL in the target and this row has none",
                        csv_field(&file.display().to_string()),
                        csv_field(expr)
                    ));
                    continue;
                }
                ob.push(time, agent, ty, &floats);
                out.observations += 1;
                let selected = match &self.when {
                    None => true,
                    Some(w) => {
                        let v = rows.columns[w.column][0].as_string::<i32>();
                        (v.is_valid(i) && v.value(i) == w.value) == w.equal
                    }
                };
                if selected {
                    for (property, e, kind) in &self.props {
                        match kind {
                            ValueKind::Text => match self.text(&rows, e, i).filter(|t| !t.is_empty()) {
                                Some(t) => pb.push(time, agent, ty, property, None, Some(t)),
                                None => {
                                    out.properties_empty += 1;
                                    continue;
                                }
                            },
                            _ => {
                                let v = self.float(&rows, e, i);
                                if v.is_nan() {
                                    out.properties_empty += 1;
                                    continue;
                                }
                                pb.push(time, agent, ty, property, Some(v), None);
                            }
                        }
                        out.properties += 1;
                    }
                }
                if ob.len >= FLUSH_ROWS {
                    obs_out.write(&ob.finish())?;
                }
                if pb.len >= FLUSH_ROWS {
                    props_out.write(&pb.finish())?;
                }
            }
        }
        if ob.len > 0 {
            obs_out.write(&ob.finish())?;
        }
        if pb.len > 0 {
            props_out.write(&pb.finish())?;
        }
        out.num_frames = max_time.saturating_add(1).max(0);
        out.num_agents = i32::try_from(agents.len()).unwrap_or(i32::MAX);
        let (obs_path, _) = obs_out.finish()?;
        let (props_path, _) = props_out.finish()?;
        Ok((out, obs_path, props_path))
    }

    /// An integer field: NULL and values outside int32 are refused.
    fn int(&self, rows: &Rows, e: &ValueExpr, i: usize) -> Result<i32, String> {
        let a = match e {
            ValueExpr::Column(c) => &rows.columns[*c][0],
            ValueExpr::Component { column, index } => &rows.columns[*column][*index as usize - 1],
            _ => unreachable!("validated: integer fields are columns"),
        };
        let a = a.as_primitive::<Int64Type>();
        if a.is_null(i) {
            return Err("is empty: it is part of the observation's key".into());
        }
        let v = a.value(i);
        i32::try_from(v).map_err(|_| format!("value {v} does not fit the target's int column"))
    }

    /// A float field; NULL reads as NaN.
    fn float(&self, rows: &Rows, e: &ValueExpr, i: usize) -> f64 {
        let a = match e {
            ValueExpr::Column(c) => &rows.columns[*c][0],
            ValueExpr::Component { column, index } => &rows.columns[*column][*index as usize - 1],
            _ => return f64::NAN,
        };
        float_at(a, i)
    }

    /// A text field; NULL is `None`.
    fn text<'r>(&'r self, rows: &'r Rows, e: &'r ValueExpr, i: usize) -> Option<&'r str> {
        match e {
            ValueExpr::Text(t) => Some(t),
            ValueExpr::Coalesce(c, default) => {
                let a = rows.columns[*c][0].as_string::<i32>();
                Some(if a.is_valid(i) && !a.value(i).is_empty() { a.value(i) } else { default })
            }
            ValueExpr::Column(c) => {
                let a = rows.columns[*c][0].as_string::<i32>();
                a.is_valid(i).then(|| a.value(i))
            }
            ValueExpr::Component { column, index } => {
                let a = rows.columns[*column][*index as usize - 1].as_string::<i32>();
                a.is_valid(i).then(|| a.value(i))
            }
            ValueExpr::Rate(_) => None,
        }
    }
}

/// A number of an Int64 or Float64 array as f64; NULL is NaN.
fn float_at(a: &ArrayRef, i: usize) -> f64 {
    if a.is_null(i) {
        return f64::NAN;
    }
    match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().value(i),
        _ => a.as_primitive::<Int64Type>().value(i) as f64,
    }
}

/// A CSV field, quoted when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Default)]
struct ObsBuilders {
    time: Int32Builder,
    agent: Int32Builder,
    ty: StringBuilder,
    floats: [Float64Builder; 6],
    len: usize,
}

impl ObsBuilders {
    fn push(&mut self, time: i32, agent: i32, ty: &str, floats: &[Option<f64>; 6]) {
        self.time.append_value(time);
        self.agent.append_value(agent);
        self.ty.append_value(ty);
        for (b, v) in self.floats.iter_mut().zip(floats) {
            b.append_option(*v);
        }
        self.len += 1;
    }

    fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        let mut cols: Vec<ArrayRef> =
            vec![Arc::new(self.time.finish()), Arc::new(self.agent.finish()), Arc::new(self.ty.finish())];
        cols.extend(self.floats.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(table_schema("observations"), cols).expect("the columns follow the table's schema")
    }
}

#[derive(Default)]
struct PropBuilders {
    time: Int32Builder,
    agent: Int32Builder,
    ty: StringBuilder,
    property: StringBuilder,
    float: Float64Builder,
    text: StringBuilder,
    len: usize,
}

impl PropBuilders {
    fn push(&mut self, time: i32, agent: i32, ty: &str, property: &str, float: Option<f64>, text: Option<&str>) {
        self.time.append_value(time);
        self.agent.append_value(agent);
        self.ty.append_value(ty);
        self.property.append_value(property);
        self.float.append_option(float);
        self.text.append_option(text);
        self.len += 1;
    }

    fn finish(&mut self) -> RecordBatch {
        self.len = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.agent.finish()),
            Arc::new(self.ty.finish()),
            Arc::new(self.property.finish()),
            Arc::new(self.float.finish()),
            Arc::new(self.text.finish()),
        ];
        RecordBatch::try_new(table_schema("extended_properties"), cols).expect("the columns follow the table's schema")
    }
}
