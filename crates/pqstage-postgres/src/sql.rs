//! The SQL of `sql/postgres/`, compiled in.

use std::sync::LazyLock;

pqstage_load::queries! {
    /// `sql/postgres/state.sql`: the state table.
    pub struct StateQueries from "postgres/state.sql" { create_state, read_state, record_unit, forget_unit, state_digest, unit_tables }
}

pqstage_load::queries! {
    /// `sql/postgres/catalog.sql`: what the server holds.
    pub struct CatalogQueries from "postgres/catalog.sql" { table_columns, partitions, count_partition }
}

pqstage_load::queries! {
    /// `sql/postgres/load.sql`: the load's statements.
    pub struct LoadQueries from "postgres/load.sql" {
        configure_worker, create_parent, create_parent_index, detach_drop, create_load_table, copy,
        create_index, analyze, drop_leftover, attach, create_parent_unique_index, create_unique_index,
        patch_tables, patch_prepared_tables, prepare_session, patch_leftovers, patch_drop_prepared, backend_pid, patch_rows_view, patch_drop_rows_views, patch_clear, patch_copy, patch_analyze, patch_lock, patch_lookup, patch_found, patch_unique, patch_delete,
        patch_delete_replaced, patch_update, patch_insert, patch_merge,
        patch_on_conflict, patch_check, patch_matched, server_version, add_column, read_ahead_extension, read_ahead,
    }
}

pqstage_load::queries! {
    /// `sql/postgres/trajectories_schema.sql`: the trajectory users' tables.
    pub struct TrajectorySchema from "postgres/trajectories_schema.sql" {
        create_schema, seed_agent_types, seed_property_definitions, drop_schema
    }
}

pqstage_load::queries! {
    /// `sql/postgres/trajectories_load.sql`: loading trajectory episodes.
    pub struct TrajectoryLoad from "postgres/trajectories_load.sql" {
        create_state, schema_exists, create_users_schema, tables_exist, table_columns, fillfactors, set_fillfactor, read_state, held_rows, record_episode, forget_episode,
        upsert_category, upsert_session, upsert_episode, delete_properties, merge_settings, create_observation_stage,
        copy_observation_stage, analyze_stages, delete_lost_observations, merge_observations, count_observations,
        create_property_diff, diff_properties, diff_summary, diff_plans, delete_lost_properties, update_properties,
        diff_plans_reset, insert_added_properties, delete_observations, delete_episode, copy_observations, create_property_stage,
        copy_properties, insert_properties, table_is_empty, bulk_upkeep, drop_stages, bulk_settings,
        lock_schema, pending_upkeep, save_upkeep, forget_upkeep, lock_bulk_tables, qualify_names, unqualify_names,
        analyze_loaded, analyze_observations, analyze_properties, undefined_lookups, duplicate_property, unknown_agent_type, unknown_property
    }
}

pqstage_load::queries! {
    /// `sql/postgres/trajectories_queries.sql`: what trajectory users ask, and the counts that verify a load.
    pub struct TrajectoryQueries from "postgres/trajectories_queries.sql" {
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

pqstage_load::queries! {
    /// `sql/postgres/summary.sql`: keeping summaries as tables.
    pub struct SummaryQueries from "postgres/summary.sql" {
        summary_relation, create_summary, fill_summary, mark_summary, drop_summary, summary_delta, summary_columns,
        kept_summaries, summary_ahead, summary_take_ahead
    }
}

pqstage_load::queries! {
    /// `sql/postgres/summaries_violations.sql`: the violations dataset's summaries.
    pub struct ViolationsSummaries from "postgres/summaries_violations.sql" { by_year, top_companies }
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
        assert!(LOAD.copy.starts_with("-- ") || LOAD.copy.contains("FORMAT binary, FREEZE"), "{}", LOAD.copy);
    }
}
