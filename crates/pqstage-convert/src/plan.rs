//! A spec compiled for the hot loop: Arrow schema, NULL rules, tokenizer.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use pqstage_spec::{ColumnType, Function, Spec};

use crate::tokenize::Tokenizer;

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

/// A derived column.
#[derive(Debug, Clone)]
pub struct DerivedPlan {
    /// Index of the source column.
    pub source: usize,
    /// Function applied.
    pub function: Function,
}

/// A compiled spec.
#[derive(Clone)]
pub struct Plan {
    /// The spec.
    pub spec: Spec,
    /// Schema of the Parquet files: source columns then derived columns
    /// (the partition column lives in the folder name).
    pub schema: SchemaRef,
    /// Schema of the parsed source columns (what phase one spills).
    pub source_schema: SchemaRef,
    /// Derived columns in order.
    pub derived: Vec<DerivedPlan>,
    /// Source column of `year(...)`, if partitioned.
    pub partition_source: Option<usize>,
    /// Whether an unquoted empty field is NULL.
    pub null_empty: bool,
    /// Other unquoted NULL spellings.
    pub null_other: Vec<Vec<u8>>,
    /// Tokenizer of the dialect.
    pub tokenizer: Tokenizer,
}

impl Plan {
    /// Compiles a (validated) spec.
    pub fn new(spec: &Spec) -> Self {
        let idx = |name: &str| spec.columns.iter().position(|c| c.name == name).expect("validated spec");
        let mut fields: Vec<Field> =
            spec.columns.iter().map(|c| Field::new(&c.name, arrow_type(c.ty), c.nullable)).collect();
        let source_schema = Arc::new(Schema::new(fields.clone()));
        let mut derived = Vec::new();
        for d in &spec.derived {
            let source = idx(&d.expr.column);
            let src = &spec.columns[source];
            let ty = d.expr.function.result_type(src.ty).expect("validated spec");
            fields.push(Field::new(&d.name, arrow_type(ty), src.nullable));
            derived.push(DerivedPlan { source, function: d.expr.function });
        }
        let d = &spec.dialect;
        Self {
            spec: spec.clone(),
            schema: Arc::new(Schema::new(fields)),
            source_schema,
            derived,
            partition_source: spec.partition.as_ref().map(|p| idx(&p.by.column)),
            null_empty: d.null.iter().any(String::is_empty),
            null_other: d.null.iter().filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect(),
            tokenizer: Tokenizer::new(d.delimiter as u8, d.quote as u8),
        }
    }

    /// Adds the derived columns to a batch of source columns.
    pub fn complete(&self, batch: arrow_array::RecordBatch) -> arrow_array::RecordBatch {
        if self.derived.is_empty() {
            return batch;
        }
        let mut cols = batch.columns().to_vec();
        for d in &self.derived {
            cols.push(crate::columns::derive(d.function, batch.column(d.source).as_ref()));
        }
        arrow_array::RecordBatch::try_new(self.schema.clone(), cols).expect("derived columns match the schema")
    }

    /// Number of source columns.
    pub fn ncols(&self) -> usize {
        self.spec.columns.len()
    }

    /// Whether a field is NULL: unquoted, and empty or one of the NULL spellings.
    #[inline]
    pub fn is_null(&self, quoted: bool, bytes: &[u8]) -> bool {
        !quoted
            && ((bytes.is_empty() && self.null_empty)
                || (!self.null_other.is_empty() && self.null_other.iter().any(|n| n == bytes)))
    }
}
