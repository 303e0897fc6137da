//! The SQL of `sql/duckdb/`, compiled in, and the few pieces of SQL text
//! that depend on the spec (types, key conditions).

use std::sync::LazyLock;

use pqstage_load::sql::quote_ident;
use pqstage_spec::ColumnType;

pqstage_load::queries! {
    /// `sql/duckdb/state.sql`: the state table.
    pub struct StateQueries from "duckdb/state.sql" { create_state, read_state, record_unit, forget_unit, forget_table, state_digest }
}

pqstage_load::queries! {
    /// `sql/duckdb/catalog.sql`: what the file holds.
    pub struct CatalogQueries from "duckdb/catalog.sql" { current_catalog, table_columns, rows_per_key, rows_unpartitioned, stored_rows }
}

pqstage_load::queries! {
    /// `sql/duckdb/load.sql`: the load's statements.
    pub struct LoadQueries from "duckdb/load.sql" {
        create_table, drop_table, delete_units, insert_files, patch_lookup, patch_found, patch_forget, patch_delete, patch_insert,
        add_column, defer_vacuum
    }
}

pqstage_load::queries! {
    /// `sql/duckdb/trajectories_schema.sql`: the trajectory users' tables.
    pub struct TrajectorySchema from "duckdb/trajectories_schema.sql" {
        create_schema, seed_agent_types, seed_property_definitions, drop_schema
    }
}

pqstage_load::queries! {
    /// `sql/duckdb/trajectories_load.sql`: loading trajectory episodes.
    pub struct TrajectoryLoad from "duckdb/trajectories_load.sql" {
        create_state, read_state, held_rows, record_episode, forget_episode, upsert_category, session_categories,
        upsert_sessions, episode_session, upsert_episode, unknown_agent_types, unknown_properties, delete_properties,
        insert_observations, upsert_observations, insert_properties, stage_properties, update_properties, insert_new_properties, delete_lost_properties, drop_property_stage, delete_stale, delete_observations, delete_episode,
        load_settings
    }
}

pqstage_load::queries! {
    /// `sql/duckdb/trajectories_queries.sql`: what trajectory users ask, and the counts that verify a load.
    pub struct TrajectoryQueries from "duckdb/trajectories_queries.sql" {
        episode_tracks, property_series, episode_properties, episode_counts, dataset_counts, property_summary
    }
}

/// The trajectory users' tables.
pub static TRAJECTORY_SCHEMA: LazyLock<TrajectorySchema> = LazyLock::new(TrajectorySchema::load);
/// Loading trajectory episodes.
pub static TRAJECTORY_LOAD: LazyLock<TrajectoryLoad> = LazyLock::new(TrajectoryLoad::load);
/// Trajectory queries.
pub static TRAJECTORY_QUERIES: LazyLock<TrajectoryQueries> = LazyLock::new(TrajectoryQueries::load);

/// The state table's queries.
pub static STATE: LazyLock<StateQueries> = LazyLock::new(StateQueries::load);
/// The catalog queries.
pub static CATALOG: LazyLock<CatalogQueries> = LazyLock::new(CatalogQueries::load);
/// The load's statements.
pub static LOAD: LazyLock<LoadQueries> = LazyLock::new(LoadQueries::load);

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

/// The state table, `"catalog".pqstage.load_state`.
pub fn state_table(catalog: &str) -> String {
    format!("{}.pqstage.load_state", quote_ident(catalog))
}

/// `year IN (…) OR year IS NULL` for the keys; `true` for an unpartitioned
/// table; `None` when there are no keys.
pub fn key_condition(column: Option<&str>, keys: &[Option<i64>]) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    let Some(col) = column else { return Some("true".into()) };
    let col = quote_ident(col);
    let values: Vec<String> = keys.iter().flatten().map(i64::to_string).collect();
    let mut parts = Vec::new();
    if !values.is_empty() {
        parts.push(format!("{col} IN ({})", values.join(", ")));
    }
    if keys.iter().any(Option::is_none) {
        parts.push(format!("{col} IS NULL"));
    }
    Some(parts.join(" OR "))
}

pqstage_load::queries! {
    /// `sql/duckdb/summary.sql`: keeping summaries as tables.
    pub struct SummaryQueries from "duckdb/summary.sql" {
        summary_comment, other_relation, store_summary, mark_summary, kept_summaries
    }
}

pqstage_load::queries! {
    /// `sql/duckdb/summaries_violations.sql`: the violations dataset's summaries.
    pub struct ViolationsSummaries from "duckdb/summaries_violations.sql" { by_year, top_companies }
}

/// Keeping summaries.
pub static SUMMARY: LazyLock<SummaryQueries> = LazyLock::new(SummaryQueries::load);
/// The summary sets shipped, by the name a spec gives them.
pub static SUMMARY_SETS: LazyLock<Vec<(&'static str, Vec<pqstage_load::summaries::Summary>)>> =
    LazyLock::new(|| vec![("violations", pqstage_load::summaries::summaries(ViolationsSummaries::load().all()))]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_query_is_in_its_file() {
        let _ = (StateQueries::load(), CatalogQueries::load(), LoadQueries::load());
        let _ = (TrajectorySchema::load(), TrajectoryLoad::load(), TrajectoryQueries::load());
        let _ = (SummaryQueries::load(), ViolationsSummaries::load());
        assert!(LOAD.create_table.contains("CREATE TABLE {table} ({columns});"), "{}", LOAD.create_table);
    }

    #[test]
    fn key_conditions() {
        assert_eq!(key_condition(Some("year"), &[]), None);
        assert_eq!(
            key_condition(Some("year"), &[Some(1), Some(2), None]).unwrap(),
            r#""year" IN (1, 2) OR "year" IS NULL"#
        );
        assert_eq!(key_condition(Some("year"), &[None]).unwrap(), r#""year" IS NULL"#);
        assert_eq!(key_condition(None, &[None]).unwrap(), "true");
    }

    #[test]
    fn types_as_duckdb_spells_them() {
        assert_eq!(type_name(ColumnType::Decimal { precision: 12, scale: 2 }), "DECIMAL(12,2)");
        assert_eq!(type_name(ColumnType::TimestampTz), "TIMESTAMP WITH TIME ZONE");
    }
}
