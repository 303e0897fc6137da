//! The SQL of `sql/duckdb/`, compiled in, and the few pieces of SQL text that
//! depend on the spec (quoted names, column definitions, literals).

use pqstage_spec::ColumnType;

/// Creates the `pqstage.load_state` table if missing (`{catalog}`: the quoted catalog).
pub const STATE: &str = include_str!("../../../sql/duckdb/state.sql");
/// `CREATE TABLE {table} ({columns})`.
pub const CREATE_TABLE: &str = include_str!("../../../sql/duckdb/create_table.sql");
/// `INSERT INTO {table} ({columns}) SELECT … FROM read_parquet({files}, …)`.
pub const INSERT_PARTITIONS: &str = include_str!("../../../sql/duckdb/insert_partitions.sql");
/// Columns of an existing table (parameters: schema, table).
pub const TABLE_COLUMNS: &str = include_str!("../../../sql/duckdb/table_columns.sql");
/// Per-year summary of the violations table.
pub const SUMMARY_BY_YEAR: &str = include_str!("../../../sql/duckdb/summary_by_year.sql");
/// Top companies by penalty.
pub const SUMMARY_TOP_COMPANIES: &str = include_str!("../../../sql/duckdb/summary_top_companies.sql");

pub use pqstage_stage::plan::{quote_ident as ident, render};

/// A single-quoted string literal.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// DuckDB's name of a spec type, as `duckdb_columns().data_type` spells it.
pub fn type_name(ty: ColumnType) -> String {
    match ty {
        ColumnType::Bool => "BOOLEAN".into(),
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INTEGER".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
        ColumnType::Date => "DATE".into(),
        ColumnType::Timestamp => "TIMESTAMP".into(),
        ColumnType::TimestampTz => "TIMESTAMP WITH TIME ZONE".into(),
        ColumnType::Text => "VARCHAR".into(),
    }
}

/// The target table: an optional schema and a name, each quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Schema (`main` unless `schema.table` was given).
    pub schema: String,
    /// Table.
    pub name: String,
}

impl TableName {
    /// Parses `table` or `schema.table`.
    pub fn parse(s: &str) -> Option<Self> {
        let (schema, name) = match s.split_once('.') {
            Some((a, b)) => (a, b),
            None => ("main", s),
        };
        if schema.is_empty() || name.is_empty() || name.contains('.') {
            return None;
        }
        Some(Self { schema: schema.to_string(), name: name.to_string() })
    }

    /// `"schema"."name"`, for messages.
    pub fn quoted(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }

    /// `"catalog"."schema"."name"`: unambiguous even when the database file's
    /// name (its catalog) equals a schema's, as `main.duckdb` or `pqstage.duckdb` do.
    pub fn qualified(&self, catalog: &str) -> String {
        format!("{}.{}", ident(catalog), self.quoted())
    }
}

/// The state table, `"catalog".pqstage.load_state`.
pub fn state_table(catalog: &str) -> String {
    format!("{}.pqstage.load_state", ident(catalog))
}

/// The catalog (database) name DuckDB gave the open file.
pub fn catalog(conn: &duckdb::Connection) -> Result<String, duckdb::Error> {
    conn.query_row("SELECT current_database()", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_the_quote_character() {
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn table_names() {
        assert_eq!(TableName::parse("v").unwrap().quoted(), r#""main"."v""#);
        assert_eq!(TableName::parse("s.v").unwrap().quoted(), r#""s"."v""#);
        assert!(TableName::parse("a.b.c").is_none());
        assert!(TableName::parse(".v").is_none());
        assert_eq!(TableName::parse("v").unwrap().qualified("main"), r#""main"."main"."v""#);
    }

    #[test]
    fn render_fills_every_placeholder() {
        let s = render(CREATE_TABLE, &[("table", "t"), ("columns", "a INTEGER")]);
        assert!(s.contains("CREATE TABLE t (a INTEGER);"), "{s}");
    }
}
