//! The shape of a convert's data, from the spec: the Arrow schema of the
//! parsed source columns (what phase one spills), the schema of the staged
//! files (source columns, then derived ones; the partition column lives in
//! the folder name), and where the derived columns and the partition key
//! come from. Both phases read it; neither changes it.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use pqstage_spec::{ColumnType, Function, Spec, SpecError};

/// The Arrow type a spec type is stored as.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int16 => DataType::Int16,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        // Up to 18 digits fit 64 bits: half the memory, the same Parquet (INT64-backed DECIMAL).
        ColumnType::Decimal { precision, scale } if precision <= 18 => DataType::Decimal64(precision, scale as i8),
        ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Text => DataType::Utf8,
    }
}

/// The spill's last column with a `[target] key`: a row's source index
/// (bits [`LINE_BITS`] and up) and physical line.
pub const LINE_COLUMN: &str = "__pqstage_source_line";
/// Bits of [`LINE_COLUMN`] that hold the line.
pub const LINE_BITS: u32 = 40;

/// The source index that marks a row a merge or append carried over from
/// the previous version (its line is then its position, from 1, in the
/// previous version's partition).
pub const CARRIED_SOURCE: u64 = (1 << (64 - LINE_BITS)) - 1;

/// `FILE line N` of a [`LINE_COLUMN`] value, sources named by `names`.
pub fn place(names: &[String], at: u64) -> String {
    let (source, line) = (at >> LINE_BITS, at & ((1 << LINE_BITS) - 1));
    let name = names.get(source as usize).map_or("?", String::as_str);
    format!("{name} line {}", crate::error::group_digits(line))
}

/// A derived column: the function of a source column.
#[derive(Debug, Clone)]
pub struct Derived {
    /// Index of the source column.
    pub source: usize,
    /// Function applied.
    pub function: Function,
}

/// The spec's columns as Arrow schemas.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The spec.
    pub spec: Spec,
    /// Schema of the staged files: source columns then derived columns.
    pub schema: SchemaRef,
    /// Schema of the parsed source columns.
    pub source_schema: SchemaRef,
    /// What phase one spills: the source columns, then, with a `[target]
    /// key`, where each row came from ([`LINE_COLUMN`]), so that a key seen
    /// twice is reported with both lines. It never reaches the Parquet files.
    pub spill_schema: SchemaRef,
    /// Derived columns in order.
    pub derived: Vec<Derived>,
    /// Source column of `year(...)`, if partitioned.
    pub partition_source: Option<usize>,
}

impl Layout {
    /// The layout of a spec.
    ///
    /// # Errors
    /// The spec's validation error.
    pub fn new(spec: &Spec) -> Result<Self, SpecError> {
        spec.validate()?;
        let idx = |name: &str| {
            spec.columns
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| SpecError::Invalid(format!("no column '{name}'")))
        };
        let mut fields: Vec<Field> =
            spec.columns.iter().map(|c| Field::new(&c.name, arrow_type(c.ty), c.nullable)).collect();
        let source_schema = Arc::new(Schema::new(fields.clone()));
        let mut derived = Vec::new();
        for d in &spec.derived {
            let source = idx(&d.expr.column)?;
            let src = &spec.columns[source];
            let ty = d
                .expr
                .function
                .result_type(src.ty)
                .map_err(|e| SpecError::Invalid(format!("derived column '{}': {e}", d.name)))?;
            fields.push(Field::new(&d.name, arrow_type(ty), src.nullable));
            derived.push(Derived { source, function: d.expr.function });
        }
        let partition_source = match &spec.partition {
            Some(p) => Some(idx(&p.by.column)?),
            None => None,
        };
        let spill_schema = match spec.target.key.is_empty() {
            true => source_schema.clone(),
            false => {
                let mut spilled: Vec<Field> = source_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                spilled.push(Field::new(LINE_COLUMN, DataType::UInt64, false));
                Arc::new(Schema::new(spilled))
            }
        };
        Ok(Self {
            spec: spec.clone(),
            schema: Arc::new(Schema::new(fields)),
            source_schema,
            spill_schema,
            derived,
            partition_source,
        })
    }

    /// Whether the spill carries each row's source and line ([`LINE_COLUMN`]).
    pub fn has_lines(&self) -> bool {
        self.spill_schema.fields().len() > self.source_schema.fields().len()
    }

    /// Number of source columns.
    pub fn ncols(&self) -> usize {
        self.spec.columns.len()
    }
}
