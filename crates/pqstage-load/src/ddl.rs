//! External-table DDL: the statements that declare a staged table where it
//! lies, for engines that read Hive-partitioned Parquet themselves (Spark,
//! Trino, DuckDB). Nothing is copied: the engine reads the staged files.
//!
//! Columns and types come from the spec the data was converted with; the
//! partition column is declared last and as an integer, as Hive layouts
//! expect, so no engine infers it from the folder names.

use pqstage_spec::{ColumnType, OutputColumn};

use crate::sql::{literal, quote_ident};

/// An engine the DDL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlEngine {
    /// Spark SQL (`CREATE TABLE … USING parquet … LOCATION`).
    Spark,
    /// Trino's Hive connector (`external_location`, `partitioned_by`).
    Trino,
    /// DuckDB (a view over `read_parquet`).
    Duckdb,
}

/// A staged table, as an engine should declare it.
#[derive(Debug, Clone)]
pub struct ExternalTable {
    /// The table's name in the engine.
    pub name: String,
    /// The table's folder, as the engine addresses it (`file:///…`,
    /// `s3a://…`, `/abs/path`, …): see [`engine_location`].
    pub location: String,
    /// The stored columns, the partition column last.
    pub columns: Vec<OutputColumn>,
    /// The partition column, if the table is partitioned.
    pub partition: Option<String>,
}

/// The location of a staged folder as `engine` addresses it. `local` is an
/// absolute local path (`None` for a remote stage, whose URL is `url`).
/// Spark reads S3 through Hadoop's `s3a://`; an Azure container needs the
/// account (`abfss://container@account.dfs.core.windows.net/…`).
pub fn engine_location(engine: DdlEngine, local: Option<&str>, url: &str, azure_account: Option<&str>) -> String {
    if let Some(path) = local {
        return match engine {
            DdlEngine::Duckdb => path.to_string(),
            DdlEngine::Spark | DdlEngine::Trino => format!("file://{path}"),
        };
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match (engine, scheme) {
        (DdlEngine::Spark, "s3") => format!("s3a://{rest}"),
        (DdlEngine::Spark | DdlEngine::Trino, "az" | "azure") => {
            let (container, path) = rest.split_once('/').unwrap_or((rest, ""));
            let account = azure_account.unwrap_or("ACCOUNT");
            format!("abfss://{container}@{account}.dfs.core.windows.net/{path}")
        }
        _ => url.to_string(),
    }
}

/// The statements for `engine`, ending with a newline; each ends with `;`.
pub fn ddl(engine: DdlEngine, t: &ExternalTable) -> String {
    match engine {
        DdlEngine::Spark => spark(t),
        DdlEngine::Trino => trino(t),
        DdlEngine::Duckdb => duckdb(t),
    }
}

fn column_list(t: &ExternalTable, quote: fn(&str) -> String, ty: fn(ColumnType) -> String) -> String {
    t.columns.iter().map(|c| format!("    {} {}", quote(&c.name), ty(c.ty))).collect::<Vec<_>>().join(",\n")
}

fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Spark SQL types: timestamps without a zone are `TIMESTAMP_NTZ` (Spark
/// 3.4+), instants `TIMESTAMP`.
fn spark_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Bool => "BOOLEAN".into(),
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INT".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
        ColumnType::Date => "DATE".into(),
        ColumnType::Timestamp => "TIMESTAMP_NTZ".into(),
        ColumnType::TimestampTz => "TIMESTAMP".into(),
        ColumnType::Text => "STRING".into(),
    }
}

fn spark(t: &ExternalTable) -> String {
    let name = backtick(&t.name);
    let mut s =
        format!("CREATE TABLE IF NOT EXISTS {name} (\n{}\n) USING parquet\n", column_list(t, backtick, spark_type));
    if let Some(p) = &t.partition {
        s.push_str(&format!("PARTITIONED BY ({})\n", backtick(p)));
    }
    s.push_str(&format!("LOCATION {};\n", literal(&t.location)));
    if t.partition.is_some() {
        // The catalog learns the year=… folders (and the NULL one,
        // __HIVE_DEFAULT_PARTITION__); rerun after each convert.
        s.push_str(&format!("ALTER TABLE {name} RECOVER PARTITIONS;\n"));
    }
    s
}

/// Trino's Hive connector types. Hive has no instant type: `timestamptz`
/// columns are declared `TIMESTAMP` and read as UTC.
fn trino_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Bool => "BOOLEAN".into(),
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INTEGER".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
        ColumnType::Date => "DATE".into(),
        ColumnType::Timestamp | ColumnType::TimestampTz => "TIMESTAMP".into(),
        ColumnType::Text => "VARCHAR".into(),
    }
}

fn trino(t: &ExternalTable) -> String {
    let mut with =
        vec!["    format = 'PARQUET'".to_string(), format!("    external_location = {}", literal(&t.location))];
    if let Some(p) = &t.partition {
        with.push(format!("    partitioned_by = ARRAY[{}]", literal(p)));
    }
    let mut s = format!(
        "CREATE TABLE {} (\n{}\n) WITH (\n{}\n);\n",
        quote_ident(&t.name),
        column_list(t, quote_ident, trino_type),
        with.join(",\n")
    );
    if t.partition.is_some() {
        // Run in the catalog and schema the table was created in.
        s.push_str(&format!("CALL system.sync_partition_metadata(CURRENT_SCHEMA, {}, 'FULL');\n", literal(&t.name)));
    }
    s
}

fn duckdb(t: &ExternalTable) -> String {
    let loc = t.location.trim_end_matches('/');
    let (glob, hive) = match &t.partition {
        Some(p) => (
            format!("{loc}/*/*.parquet"),
            format!(", hive_partitioning = true, hive_types = {{{}: INTEGER}}", literal(p)),
        ),
        None => (format!("{loc}/*.parquet"), ", hive_partitioning = false".to_string()),
    };
    format!(
        "CREATE OR REPLACE VIEW {} AS\nSELECT * FROM read_parquet({}{hive}, union_by_name = true);\n",
        quote_ident(&t.name),
        literal(&glob)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ExternalTable {
        let col = |name: &str, ty| OutputColumn { name: name.into(), ty, nullable: true };
        ExternalTable {
            name: "viol`ations".into(),
            location: "file:///data/stage/violations".into(),
            columns: vec![
                col("agency", ColumnType::Text),
                col("penalty", ColumnType::Decimal { precision: 12, scale: 2 }),
                col("load_dt", ColumnType::Timestamp),
                col("year", ColumnType::Int32),
            ],
            partition: Some("year".into()),
        }
    }

    #[test]
    fn spark_declares_the_partition_column_and_recovers_partitions() {
        assert_eq!(
            ddl(DdlEngine::Spark, &table()),
            "CREATE TABLE IF NOT EXISTS `viol``ations` (\n    `agency` STRING,\n    `penalty` DECIMAL(12,2),\n    \
             `load_dt` TIMESTAMP_NTZ,\n    `year` INT\n) USING parquet\nPARTITIONED BY (`year`)\n\
             LOCATION 'file:///data/stage/violations';\nALTER TABLE `viol``ations` RECOVER PARTITIONS;\n"
        );
    }

    #[test]
    fn trino_puts_the_location_and_partitions_in_with() {
        let s = ddl(DdlEngine::Trino, &table());
        assert!(s.contains("    \"year\" INTEGER\n) WITH (\n    format = 'PARQUET',\n    external_location = 'file:///data/stage/violations',\n    partitioned_by = ARRAY['year']\n);"), "{s}");
        assert!(s.ends_with("CALL system.sync_partition_metadata(CURRENT_SCHEMA, 'viol`ations', 'FULL');\n"), "{s}");
    }

    #[test]
    fn duckdb_reads_the_folders_with_an_integer_year() {
        let mut t = table();
        t.location = "/data/stage/violations".into();
        assert_eq!(
            ddl(DdlEngine::Duckdb, &t),
            "CREATE OR REPLACE VIEW \"viol`ations\" AS\nSELECT * FROM read_parquet('/data/stage/violations/*/*.parquet', \
             hive_partitioning = true, hive_types = {'year': INTEGER}, union_by_name = true);\n"
        );
    }

    #[test]
    fn locations_follow_each_engines_scheme() {
        assert_eq!(engine_location(DdlEngine::Spark, Some("/s/v"), "", None), "file:///s/v");
        assert_eq!(engine_location(DdlEngine::Duckdb, Some("/s/v"), "", None), "/s/v");
        assert_eq!(engine_location(DdlEngine::Spark, None, "s3://b/p/v", None), "s3a://b/p/v");
        assert_eq!(engine_location(DdlEngine::Trino, None, "s3://b/p/v", None), "s3://b/p/v");
        assert_eq!(
            engine_location(DdlEngine::Trino, None, "az://c/p/v", Some("acct")),
            "abfss://c@acct.dfs.core.windows.net/p/v"
        );
        assert_eq!(engine_location(DdlEngine::Duckdb, None, "gs://b/v", None), "gs://b/v");
    }
}
