//! An episode's property values on their way to `extended_properties`: sent
//! one row per observation, a column per property (the property stage), and
//! turned back into one row per value on the server by the view
//! `pqstage_property_stage`, which the insert reads as the long form it
//! joins on the natural key (a changed episode's merge reads the rows as
//! they are, `merge.rs`).
//!
//! The staged files hold the values in long form, an observation's values
//! next to each other. Sent as they are, each value repeats its
//! observation's key and its property id: on a boids episode (93,000
//! observations, 800,000 values) the COPY took 0.29-0.30 s and sent 55 MB;
//! one row per observation took 0.05 s and 12 MB, and the insert reading
//! the view took the same time as from the long table (1.25-1.32 s).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type};
use arrow_array::{Array, RecordBatch};
use pqstage_load::sql::literal;

use crate::encode::{HEADER, TRAILER};
use crate::error::PgError;
use crate::read::{corrupt, for_each_batch, TextColumn};

/// The long form's columns, as the staged files name them.
const LONG: [&str; 6] = ["time_index", "agent_id", "agent_type_id", "property_id", "value_float", "value_text"];

/// Bytes of COPY data gathered before a write to the server.
const SEND_BYTES: usize = 1 << 20;

/// The properties an episode's staged files hold, in name order, and which
/// of the two value columns each uses.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Properties {
    /// (property_id, has a float value, has a text value).
    columns: Vec<(String, bool, bool)>,
}

/// The placeholders of a changed episode's property statements, over a
/// stage row `w` (all NULL where the stage has no row for an observation)
/// and a row `d` of `pqstage_property_diff` joined to a value `e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Diff {
    /// The stage row's value columns, each after a comma (`, w.f0, w.t1`).
    pub(super) values: String,
    /// The property ids the stage row gives values, a `varchar[]`.
    pub(super) ids: String,
    /// The new float value of `e` from `d` (a CASE on `e.property_id`).
    pub(super) float: String,
    /// The new text value of `e` from `d`.
    pub(super) text: String,
}

impl Properties {
    /// Reads the property ids and which values they have from the files.
    pub(super) fn of(paths: &[PathBuf]) -> Result<Self, PgError> {
        let mut seen: std::collections::BTreeMap<String, (bool, bool)> = std::collections::BTreeMap::new();
        for path in paths {
            for_each_batch(path, &LONG[3..], |b| {
                let ids = TextColumn::of(b.column(0), path, "property_id")?;
                let (floats, texts) = (floats(&b, 1, path)?, TextColumn::of(b.column(2), path, "value_text")?);
                for i in 0..b.num_rows() {
                    let Some(id) = ids.get(i) else { continue };
                    let (f, t) = (floats.is_valid(i), texts.get(i).is_some());
                    match seen.get_mut(id) {
                        Some(e) => {
                            e.0 |= f;
                            e.1 |= t;
                        }
                        None => {
                            seen.insert(id.to_string(), (f, t));
                        }
                    }
                }
                Ok(())
            })?;
        }
        Ok(Self { columns: seen.into_iter().map(|(id, (f, t))| (id, f, t)).collect() })
    }

    /// The property ids, sorted.
    pub(super) fn ids(&self) -> Vec<String> {
        self.columns.iter().map(|(id, _, _)| id.clone()).collect()
    }

    /// The placeholders of `create_property_stage`: the stage's value
    /// columns (`f<k>` float, `t<k>` text) and the view's branches, one
    /// `SELECT` of a property's id and value each.
    pub(super) fn placeholders(&self) -> (String, String) {
        let mut columns = String::new();
        let mut branches = Vec::new();
        for (k, (id, f, t)) in self.columns.iter().enumerate() {
            if *f {
                columns.push_str(&format!(", f{k} double precision"));
            }
            if *t {
                columns.push_str(&format!(", t{k} text"));
            }
            let float = if *f { format!("p.f{k}") } else { "NULL::double precision".into() };
            let text = if *t { format!("p.t{k}") } else { "NULL::text".into() };
            branches.push(format!("SELECT {}::varchar, {float}, {text}", literal(id)));
        }
        if branches.is_empty() {
            branches.push("SELECT NULL::varchar, NULL::double precision, NULL::text".into());
        }
        (columns, branches.join("\n        UNION ALL "))
    }

    /// The placeholders of a changed episode's property statements
    /// (`diff_properties`, `update_properties`), read from the stage's row
    /// per observation itself, so that the long form is never expanded to
    /// compare it.
    pub(super) fn diff(&self) -> Diff {
        let mut values = String::new();
        let (mut ids, mut float, mut text) = (Vec::new(), Vec::new(), Vec::new());
        for (k, (id, f, t)) in self.columns.iter().enumerate() {
            let mut tests = Vec::new();
            if *f {
                values.push_str(&format!(", w.f{k}"));
                tests.push(format!("w.f{k} IS NOT NULL"));
                float.push(format!(" WHEN {} THEN d.f{k}", literal(id)));
            }
            if *t {
                values.push_str(&format!(", w.t{k}"));
                tests.push(format!("w.t{k} IS NOT NULL"));
                text.push(format!(" WHEN {} THEN d.t{k}", literal(id)));
            }
            if !tests.is_empty() {
                ids.push(format!("CASE WHEN {} THEN {}::varchar END", tests.join(" OR "), literal(id)));
            }
        }
        let case = |whens: Vec<String>, ty: &str| {
            if whens.is_empty() {
                format!("NULL::{ty}")
            } else {
                format!("CASE e.property_id{} END", whens.concat())
            }
        };
        Diff {
            values,
            ids: if ids.is_empty() {
                "ARRAY[]::varchar[]".into()
            } else {
                format!("array_remove(ARRAY[{}], NULL)", ids.join(", "))
            },
            float: case(float, "double precision"),
            text: case(text, "text"),
        }
    }

    /// COPYs the files' values into the stage with `copy` ([`Self::encode`]).
    /// Returns the values read, the rows sent and the rows COPY took.
    pub(super) fn copy(
        &self,
        tx: &mut postgres::Transaction<'_>,
        copy: &str,
        paths: &[PathBuf],
        what: &str,
    ) -> Result<(u64, u64, u64), PgError> {
        let mut writer = tx.copy_in(copy).map_err(PgError::db(what.to_string()))?;
        let (values, rows) = self.encode(paths, |bytes| {
            writer.write_all(bytes).map_err(|e| PgError::Send { what: what.to_string(), source: e })
        })?;
        let copied = writer.finish().map_err(PgError::db(what.to_string()))?;
        Ok((values, rows, copied))
    }

    /// The files' values as binary COPY data of the stage, handed to `send`
    /// about a megabyte at a time: one row per run of values with the same
    /// natural key (a property met twice in a run starts a new row, so that
    /// a duplicate is still found: by the primary key, `duplicate_property`
    /// or the merge's count of rows per observation). Returns the values read
    /// and the rows written.
    fn encode(
        &self,
        paths: &[PathBuf],
        mut send: impl FnMut(&[u8]) -> Result<(), PgError>,
    ) -> Result<(u64, u64), PgError> {
        let slot: HashMap<&str, usize> =
            self.columns.iter().enumerate().map(|(k, (id, _, _))| (id.as_str(), k)).collect();
        let mut row = Row::new(&self.columns);
        let mut buf = Vec::with_capacity(2 * SEND_BYTES);
        buf.extend_from_slice(HEADER);
        let (mut values, mut rows) = (0u64, 0u64);
        for path in paths {
            for_each_batch(path, &LONG, |b| {
                let long = Long::of(&b, path)?;
                for i in 0..b.num_rows() {
                    let (key, id) = long.key(i).zip(long.property(i)).ok_or_else(|| null(path, values))?;
                    let k = *slot.get(id).ok_or_else(|| {
                        corrupt(path, format!("property_id '{id}' was not there when it was first read"))
                    })?;
                    let (f, t) = (long.float(i), long.text(i));
                    if f.is_none() && t.is_none() {
                        return Err(corrupt(
                            path,
                            format!("value {} ({id}) has neither a float nor a text", values + 1),
                        ));
                    }
                    if !row.is(key) || row.has(k) {
                        rows += row.write(&mut buf);
                    }
                    row.put(key, k, f, t);
                    values += 1;
                }
                if buf.len() >= SEND_BYTES {
                    send(&buf)?;
                    buf.clear();
                }
                Ok(())
            })?;
        }
        rows += row.write(&mut buf);
        buf.extend_from_slice(TRAILER);
        send(&buf)?;
        Ok((values, rows))
    }
}

/// Column `c` of a batch, the values' floats.
fn floats<'b>(b: &'b RecordBatch, c: usize, path: &std::path::Path) -> Result<&'b arrow_array::Float64Array, PgError> {
    b.column(c)
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| corrupt(path, format!("its column value_float is {}, not double", b.column(c).data_type())))
}

fn null(path: &std::path::Path, before: u64) -> PgError {
    corrupt(path, format!("value {} has a NULL natural key or property_id", before + 1))
}

/// A natural key: time_index, agent_id, agent_type_id.
type Key<'a> = (i32, i32, &'a str);

/// The stage row being gathered.
struct Row<'p> {
    columns: &'p [(String, bool, bool)],
    /// The fields of a stage row: the key's three and the value columns.
    fields: i16,
    key: Option<(i32, i32, String)>,
    floats: Vec<Option<f64>>,
    texts: Vec<Option<String>>,
}

impl<'p> Row<'p> {
    fn new(columns: &'p [(String, bool, bool)]) -> Self {
        let n = columns.len();
        let fields = 3 + columns.iter().map(|(_, f, t)| i16::from(*f) + i16::from(*t)).sum::<i16>();
        Self { columns, fields, key: None, floats: vec![None; n], texts: vec![None; n] }
    }

    /// Whether the row is empty or gathers this key's values.
    fn is(&self, key: Key<'_>) -> bool {
        self.key.as_ref().is_none_or(|(t, a, ty)| (*t, *a, ty.as_str()) == key)
    }

    /// Whether property `k` has a value here (every value has a float or a text).
    fn has(&self, k: usize) -> bool {
        self.floats[k].is_some() || self.texts[k].is_some()
    }

    fn put(&mut self, key: Key<'_>, k: usize, f: Option<f64>, t: Option<&str>) {
        if self.key.is_none() {
            self.key = Some((key.0, key.1, key.2.to_string()));
        }
        self.floats[k] = f;
        self.texts[k] = t.map(str::to_string);
    }

    /// Appends the row in COPY's binary form and empties it; 1 if there was one.
    fn write(&mut self, buf: &mut Vec<u8>) -> u64 {
        let Some((t, a, ty)) = self.key.take() else { return 0 };
        buf.extend_from_slice(&self.fields.to_be_bytes());
        for v in [t, a] {
            buf.extend_from_slice(&4i32.to_be_bytes());
            buf.extend_from_slice(&v.to_be_bytes());
        }
        put_text(buf, Some(&ty));
        for (k, (_, f, t)) in self.columns.iter().enumerate() {
            if *f {
                match self.floats[k] {
                    Some(v) => {
                        buf.extend_from_slice(&8i32.to_be_bytes());
                        buf.extend_from_slice(&v.to_bits().to_be_bytes());
                    }
                    None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
            if *t {
                put_text(buf, self.texts[k].as_deref());
            }
        }
        self.floats.fill(None);
        self.texts.fill(None);
        1
    }
}

fn put_text(buf: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => {
            buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// A batch of the long form.
struct Long<'b> {
    time: &'b arrow_array::Int32Array,
    agent: &'b arrow_array::Int32Array,
    ty: TextColumn<'b>,
    property: TextColumn<'b>,
    float: &'b arrow_array::Float64Array,
    text: TextColumn<'b>,
}

impl<'b> Long<'b> {
    fn of(b: &'b RecordBatch, path: &std::path::Path) -> Result<Self, PgError> {
        let int = |c: usize| {
            b.column(c).as_primitive_opt::<Int32Type>().ok_or_else(|| {
                corrupt(path, format!("its column {} is {}, not int32", LONG[c], b.column(c).data_type()))
            })
        };
        let float = floats(b, 4, path)?;
        Ok(Self {
            time: int(0)?,
            agent: int(1)?,
            ty: TextColumn::of(b.column(2), path, LONG[2])?,
            property: TextColumn::of(b.column(3), path, LONG[3])?,
            float,
            text: TextColumn::of(b.column(5), path, LONG[5])?,
        })
    }

    fn key(&self, i: usize) -> Option<Key<'b>> {
        let valid = self.time.is_valid(i) && self.agent.is_valid(i);
        valid.then(|| self.ty.get(i).map(|ty| (self.time.value(i), self.agent.value(i), ty))).flatten()
    }

    fn property(&self, i: usize) -> Option<&'b str> {
        self.property.get(i)
    }

    fn float(&self, i: usize) -> Option<f64> {
        self.float.is_valid(i).then(|| self.float.value(i))
    }

    fn text(&self, i: usize) -> Option<&'b str> {
        self.text.get(i)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int32Array, StringArray};
    use parquet::arrow::ArrowWriter;

    use super::*;

    type LongRow = (i32, i32, &'static str, &'static str, Option<f64>, Option<&'static str>);

    fn staged(dir: &std::path::Path, rows: &[LongRow]) -> PathBuf {
        let batch = RecordBatch::try_from_iter([
            ("time_index", Arc::new(rows.iter().map(|r| r.0).collect::<Int32Array>()) as ArrayRef),
            ("agent_id", Arc::new(rows.iter().map(|r| r.1).collect::<Int32Array>()) as _),
            ("agent_type_id", Arc::new(rows.iter().map(|r| Some(r.2)).collect::<StringArray>()) as _),
            ("property_id", Arc::new(rows.iter().map(|r| Some(r.3)).collect::<StringArray>()) as _),
            ("value_float", Arc::new(rows.iter().map(|r| r.4).collect::<Float64Array>()) as _),
            ("value_text", Arc::new(rows.iter().map(|r| r.5).collect::<StringArray>()) as _),
        ])
        .unwrap();
        let path = dir.join("part.parquet");
        let mut w = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        path
    }

    /// A decoded field of COPY's binary rows.
    #[derive(Debug, PartialEq)]
    enum Field {
        Int(i32),
        Float(f64),
        Text(String),
        Null,
    }

    /// Decodes the rows, given which fields (after the key's three) are
    /// floats (the others text).
    fn decode(data: &[u8], floats: &[bool]) -> Vec<Vec<Field>> {
        assert!(data.starts_with(HEADER) && data.ends_with(TRAILER));
        let mut at = HEADER.len();
        let mut rows = Vec::new();
        let take = |at: &mut usize, n: usize| {
            *at += n;
            &data[*at - n..*at]
        };
        while at < data.len() - TRAILER.len() {
            let n = i16::from_be_bytes(take(&mut at, 2).try_into().unwrap()) as usize;
            assert_eq!(n, 3 + floats.len());
            let mut row = Vec::new();
            for f in 0..n {
                let len = i32::from_be_bytes(take(&mut at, 4).try_into().unwrap());
                if len < 0 {
                    row.push(Field::Null);
                    continue;
                }
                let v = take(&mut at, len as usize);
                row.push(match f {
                    0 | 1 => Field::Int(i32::from_be_bytes(v.try_into().unwrap())),
                    2 => Field::Text(String::from_utf8(v.to_vec()).unwrap()),
                    _ if floats[f - 3] => Field::Float(f64::from_bits(u64::from_be_bytes(v.try_into().unwrap()))),
                    _ => Field::Text(String::from_utf8(v.to_vec()).unwrap()),
                });
            }
            rows.push(row);
        }
        rows
    }

    #[test]
    fn an_observations_values_make_one_row_and_a_repeated_property_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = staged(
            dir.path(),
            &[
                (0, 1, "agent", "speed", Some(1.5), None),
                (0, 1, "agent", "class", None, Some("bird")),
                (0, 1, "env", "speed", Some(2.0), None),
                (1, 1, "agent", "speed", Some(3.0), None),
                (1, 1, "agent", "speed", Some(4.0), None),
                (1, 2, "agent", "class", None, Some("rat")),
            ],
        );
        let props = Properties::of(std::slice::from_ref(&path)).unwrap();
        assert_eq!(props.ids(), ["class", "speed"]);
        let (columns, branches) = props.placeholders();
        assert_eq!(columns, ", t0 text, f1 double precision");
        assert_eq!(
            branches,
            "SELECT 'class'::varchar, NULL::double precision, p.t0\n        UNION ALL SELECT 'speed'::varchar, p.f1, NULL::text"
        );
        let diff = props.diff();
        assert_eq!(diff.values, ", w.t0, w.f1");
        assert_eq!(
            diff.ids,
            "array_remove(ARRAY[CASE WHEN w.t0 IS NOT NULL THEN 'class'::varchar END, \
             CASE WHEN w.f1 IS NOT NULL THEN 'speed'::varchar END], NULL)"
        );
        assert_eq!(diff.float, "CASE e.property_id WHEN 'speed' THEN d.f1 END");
        assert_eq!(diff.text, "CASE e.property_id WHEN 'class' THEN d.t0 END");

        let mut data = Vec::new();
        let (read, rows) = props
            .encode(std::slice::from_ref(&path), |b| {
                data.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        assert_eq!((read, rows), (6, 5));
        use Field::{Float, Int, Null, Text};
        let t = |s: &str| Text(s.to_string());
        assert_eq!(
            decode(&data, &[false, true]),
            [
                vec![Int(0), Int(1), t("agent"), t("bird"), Float(1.5)],
                vec![Int(0), Int(1), t("env"), Null, Float(2.0)],
                vec![Int(1), Int(1), t("agent"), Null, Float(3.0)],
                vec![Int(1), Int(1), t("agent"), Null, Float(4.0)],
                vec![Int(1), Int(2), t("agent"), t("rat"), Null],
            ]
        );
    }

    #[test]
    fn a_value_with_neither_a_float_nor_a_text_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path =
            staged(dir.path(), &[(0, 1, "agent", "speed", Some(1.0), None), (0, 2, "agent", "speed", None, None)]);
        let props = Properties::of(std::slice::from_ref(&path)).unwrap();
        let err = props.encode(std::slice::from_ref(&path), |_| Ok(())).unwrap_err().to_string();
        assert!(
            err.contains("part.parquet") && err.contains("value 2 (speed) has neither a float nor a text"),
            "{err}"
        );
    }

    #[test]
    fn an_episode_without_properties_gets_a_view_with_no_rows() {
        let (columns, branches) = Properties::default().placeholders();
        assert_eq!(columns, "");
        assert_eq!(branches, "SELECT NULL::varchar, NULL::double precision, NULL::text");
        let diff = Properties::default().diff();
        assert_eq!((diff.values.as_str(), diff.ids.as_str()), ("", "ARRAY[]::varchar[]"));
        assert_eq!((diff.float.as_str(), diff.text.as_str()), ("NULL::double precision", "NULL::text"));
    }
}
