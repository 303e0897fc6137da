//! The target table: its name, which staged table feeds it, and whether an
//! existing table has the spec's columns.

use pqstage_stage::manifest::TableEntry;
use pqstage_stage::Manifest;

use crate::error::LoadError;
use crate::sql::quote_ident;

/// A target table: a schema and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Schema.
    pub schema: String,
    /// Table.
    pub name: String,
}

impl TableName {
    /// `name` in `schema`.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self { schema: schema.into(), name: name.into() }
    }

    /// Parses `name` or `schema.name`; `default_schema` when no schema is given.
    ///
    /// # Errors
    /// [`LoadError::BadTableName`] for an empty part or more than one dot.
    pub fn parse(s: &str, default_schema: &str) -> Result<Self, LoadError> {
        let (schema, name) = s.split_once('.').unwrap_or((default_schema, s));
        if schema.is_empty() || name.is_empty() || name.contains('.') {
            return Err(LoadError::BadTableName(s.to_string()));
        }
        Ok(Self::new(schema, name))
    }

    /// `"schema"."name"`.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    /// `"catalog"."schema"."name"`.
    pub fn qualified(&self, catalog: &str) -> String {
        format!("{}.{}", quote_ident(catalog), self.quoted())
    }

    /// A table of the same schema: `"schema"."other"`.
    pub fn sibling(&self, other: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(other))
    }
}

/// The staged table to load into a target called `name`: the dataset's only
/// table, or the one with that name.
///
/// # Errors
/// [`LoadError::WhichTable`] when the dataset has several and none is `name`.
pub(crate) fn source_table<'m>(manifest: &'m Manifest, name: &str) -> Result<&'m TableEntry, LoadError> {
    match manifest.tables.as_slice() {
        [only] => Ok(only),
        many => many.iter().find(|t| t.name == name).ok_or_else(|| LoadError::WhichTable {
            dataset: manifest.dataset.clone(),
            tables: many.iter().map(|t| t.name.clone()).collect(),
            wanted: name.to_string(),
        }),
    }
}

/// Compares an existing table's columns (name, type as the engine spells it)
/// with the wanted ones, by name and type. Columns of `want` missing from
/// the table are returned (their indexes in `want`), not refused: a spec
/// that gained columns. The order does not matter: every statement of a
/// load names its columns, and a column added by an earlier load sits at
/// the table's end, wherever the spec has it.
pub(crate) fn compare_columns(
    have: &[(String, String)],
    want: &[(String, String)],
) -> Result<Vec<usize>, (String, String)> {
    let mut added = Vec::new();
    for (i, (name, wanted)) in want.iter().enumerate() {
        match have.iter().find(|(n, _)| n == name) {
            None => added.push(i),
            Some((_, ty)) if ty != wanted => {
                return Err((name.clone(), format!("the table has {ty}, the spec says {wanted}")))
            }
            Some(_) => {}
        }
    }
    match have.iter().find(|(n, _)| !want.iter().any(|(w, _)| w == n)) {
        Some((name, ty)) => Err((name.clone(), format!("the table has it ({ty}), the spec does not"))),
        None => Ok(added),
    }
}

/// The columns of `want` an existing table lacks, to be added to it (a spec
/// that gained nullable columns); the table is refused when the columns
/// differ otherwise, or when a column to add may not be NULL (the rows the
/// table holds have no value for it).
///
/// # Errors
/// [`LoadError::Conflict`] naming `table`, the column and why.
pub(crate) fn columns_to_add(
    table: &str,
    have: &[(String, String)],
    want: &[(String, String)],
    columns: &[pqstage_spec::OutputColumn],
) -> Result<Vec<pqstage_spec::OutputColumn>, LoadError> {
    let conflict = |column: String, reason: String| LoadError::Conflict { table: table.to_string(), column, reason };
    let added = compare_columns(have, want).map_err(|(c, r)| conflict(c, r))?;
    let mut out = Vec::new();
    for i in added {
        let c = &columns[i];
        if !c.nullable {
            return Err(conflict(
                c.name.clone(),
                format!(
                    "the spec has it ({}, NOT NULL), the table does not; a column added to a loaded table must be \
                     nullable (its rows have no value for it): set nullable = true in the spec, or load into a new table",
                    want[i].1
                ),
            ));
        }
        out.push(c.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn column_conflicts_name_the_column() {
        let want = cols(&[("a", "INTEGER"), ("b", "VARCHAR")]);
        let conflict = |have: &[(&str, &str)]| compare_columns(&cols(have), &want).unwrap_err();
        assert_eq!(compare_columns(&want, &want), Ok(vec![]));
        assert_eq!(
            conflict(&[("a", "VARCHAR"), ("b", "VARCHAR")]),
            ("a".into(), "the table has VARCHAR, the spec says INTEGER".into())
        );
        // Order does not matter: a column added by an earlier load is at the
        // table's end, wherever the spec has it.
        assert_eq!(compare_columns(&cols(&[("b", "VARCHAR"), ("a", "INTEGER")]), &want), Ok(vec![]));
        let evolved = cols(&[("b", "VARCHAR"), ("c", "DATE"), ("a", "INTEGER")]);
        assert_eq!(compare_columns(&cols(&[("b", "VARCHAR"), ("a", "INTEGER"), ("c", "DATE")]), &evolved), Ok(vec![]));
        assert_eq!(
            conflict(&[("a", "INTEGER"), ("b", "VARCHAR"), ("c", "DATE")]),
            ("c".into(), "the table has it (DATE), the spec does not".into())
        );
        // A spec that gained columns: they are added, wherever the spec has
        // them, as long as they may be NULL and the rest agrees.
        let gained = cols(&[("a", "INTEGER"), ("n", "TEXT"), ("b", "VARCHAR"), ("m", "DATE")]);
        assert_eq!(compare_columns(&want, &gained), Ok(vec![1, 3]));
        let spec = |nullable: bool| -> Vec<pqstage_spec::OutputColumn> {
            gained
                .iter()
                .map(|(n, _)| pqstage_spec::OutputColumn {
                    name: n.clone(),
                    ty: pqstage_spec::ColumnType::Text,
                    nullable,
                })
                .collect()
        };
        let added = columns_to_add("t", &want, &gained, &spec(true)).unwrap();
        assert_eq!(added.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["n", "m"]);
        let err = columns_to_add("t", &want, &gained, &spec(false)).unwrap_err().to_string();
        assert!(
            err.contains("at column n: the spec has it (TEXT, NOT NULL), the table does not; a column added"),
            "{err}"
        );
        // Added columns go at the table's end, and loads name every column:
        // only the order of the columns both have must agree.
        assert_eq!(compare_columns(&cols(&[("b", "VARCHAR")]), &want), Ok(vec![0]));
        let err = columns_to_add("main.t", &cols(&[("a", "VARCHAR")]), &want, &spec(true)[..2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table main.t conflicts with the staged spec at column a: the table has VARCHAR, the spec says INTEGER"
        );
    }

    #[test]
    fn table_names() {
        assert_eq!(TableName::parse("v", "main").unwrap().quoted(), r#""main"."v""#);
        assert_eq!(TableName::parse("s.v", "main").unwrap().quoted(), r#""s"."v""#);
        assert!(TableName::parse("a.b.c", "main").is_err());
        assert_eq!(
            TableName::parse(".v", "main").unwrap_err().to_string(),
            "bad table name '.v': use NAME or SCHEMA.NAME"
        );
        assert_eq!(TableName::parse("v", "main").unwrap().qualified("main"), r#""main"."main"."v""#);
        assert_eq!(TableName::new("public", "v").sibling("v_p1987"), r#""public"."v_p1987""#);
    }
}
