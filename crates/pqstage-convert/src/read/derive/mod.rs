//! Derived columns: functions of a source column, computed when phase two
//! writes a partition ([`complete`]). [`normalize`] is `normalize_name`.

pub mod normalize;

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::OffsetBuffer;
use pqstage_spec::Function;

use super::columns::years;
use crate::layout::Layout;
use normalize::normalize_name_append;

/// Adds the derived columns to a batch of source columns.
///
/// # Errors
/// Arrow's, if the columns do not make a batch of the layout's schema (a bug).
pub fn complete(layout: &Layout, batch: RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    if layout.derived.is_empty() {
        return Ok(batch);
    }
    let mut cols = batch.columns().to_vec();
    for d in &layout.derived {
        cols.push(derive(d.function, batch.column(d.source).as_ref()));
    }
    RecordBatch::try_new(layout.schema.clone(), cols)
}

/// Computes a derived column from its source array.
pub fn derive(function: Function, source: &dyn Array) -> ArrayRef {
    match function {
        Function::Year => Arc::new(PrimitiveArray::<Int32Type>::from(years(source))),
        f => {
            // NULL stays NULL, so the source's validity is the result's.
            let s = source.as_any().downcast_ref::<StringArray>().expect("text column");
            let mut values = Vec::with_capacity(s.values().len() + s.len());
            let mut offsets = Vec::with_capacity(s.len() + 1);
            offsets.push(0i32);
            for v in s.iter() {
                if let Some(v) = v {
                    match f {
                        Function::NormalizeName => normalize_name_append(v, &mut values),
                        Function::Upper => values.extend_from_slice(v.to_uppercase().as_bytes()),
                        Function::Lower => values.extend_from_slice(v.to_lowercase().as_bytes()),
                        _ => values.extend_from_slice(v.trim().as_bytes()),
                    }
                }
                offsets.push(i32::try_from(values.len()).expect("a batch's derived text fits 2 GiB"));
            }
            Arc::new(StringArray::new(OffsetBuffer::new(offsets.into()), values.into(), s.nulls().cloned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize::normalize_name;
    use super::*;

    /// The derived column writes every value into one buffer with scratch
    /// bytes past the last value: each value must still come out as the
    /// function gives it alone, NULLs staying NULL.
    #[test]
    fn derived_text_columns_match_the_function_value_by_value() {
        let long = "a & b & c & d & e & f & g & h & i & j & k & l & m & n & o & p & q & r & s & t Inc";
        let names: Vec<Option<&str>> = vec![
            Some("Acme Roofing, Inc."),
            None,
            Some("&&&"),
            Some(""),
            Some(long),
            Some("x"),
            Some("Café Müller GmbH"),
            None,
            Some("  Big   Joe's  Co  "),
            Some("O'Brien L.L.C."),
        ];
        let source = StringArray::from(names.clone());
        for f in [Function::NormalizeName, Function::Upper, Function::Lower, Function::Trim] {
            let got = derive(f, &source);
            let got = got.as_any().downcast_ref::<StringArray>().unwrap();
            assert_eq!(got.len(), names.len());
            for (i, v) in names.iter().enumerate() {
                let want = v.map(|v| match f {
                    Function::NormalizeName => normalize_name(v),
                    Function::Upper => v.to_uppercase(),
                    Function::Lower => v.to_lowercase(),
                    _ => v.trim().to_string(),
                });
                assert_eq!(got.is_valid(i).then(|| got.value(i).to_string()), want, "{f:?} of {v:?}");
            }
        }
    }
}
