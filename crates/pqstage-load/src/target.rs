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
/// with the wanted ones, by name, order and type. Returns the first column
/// that differs and how, or `None` when they agree.
pub(crate) fn column_conflict(have: &[(String, String)], want: &[(String, String)]) -> Option<(String, String)> {
    for (i, (name, wanted)) in want.iter().enumerate() {
        match have.iter().position(|(n, _)| n == name) {
            None => return Some((name.clone(), format!("the spec has it ({wanted}), the table does not"))),
            Some(j) if have[j].1 != *wanted => {
                return Some((name.clone(), format!("the table has {}, the spec says {wanted}", have[j].1)))
            }
            Some(j) if j != i => {
                return Some((
                    name.clone(),
                    format!("it is column {} of the table, column {} of the spec", j + 1, i + 1),
                ))
            }
            Some(_) => {}
        }
    }
    have.iter()
        .find(|(n, _)| !want.iter().any(|(w, _)| w == n))
        .map(|(name, ty)| (name.clone(), format!("the table has it ({ty}), the spec does not")))
}

/// Refuses an existing table whose columns are not the wanted ones.
///
/// # Errors
/// [`LoadError::Conflict`] naming `table` (as the engine names it), the
/// column and how they differ.
pub(crate) fn check_columns(
    table: &str,
    have: &[(String, String)],
    want: &[(String, String)],
) -> Result<(), LoadError> {
    match column_conflict(have, want) {
        Some((column, reason)) => Err(LoadError::Conflict { table: table.to_string(), column, reason }),
        None => Ok(()),
    }
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
        assert_eq!(column_conflict(&want, &want), None);
        assert_eq!(
            column_conflict(&cols(&[("a", "VARCHAR"), ("b", "VARCHAR")]), &want),
            Some(("a".into(), "the table has VARCHAR, the spec says INTEGER".into()))
        );
        assert_eq!(
            column_conflict(&cols(&[("b", "VARCHAR"), ("a", "INTEGER")]), &want),
            Some(("a".into(), "it is column 2 of the table, column 1 of the spec".into()))
        );
        assert_eq!(column_conflict(&cols(&[("a", "INTEGER")]), &want).unwrap().0, "b");
        assert_eq!(
            column_conflict(&cols(&[("a", "INTEGER"), ("b", "VARCHAR"), ("c", "DATE")]), &want),
            Some(("c".into(), "the table has it (DATE), the spec does not".into()))
        );
        let err = check_columns("main.t", &cols(&[("a", "INTEGER")]), &want).unwrap_err();
        assert_eq!(
            err.to_string(),
            "table main.t conflicts with the staged spec at column b: the spec has it (VARCHAR), the table does not"
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
