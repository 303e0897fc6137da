//! The SQL of `sql/postgres/`, compiled in.

use std::sync::LazyLock;

pqstage_load::queries! {
    /// `sql/postgres/state.sql`: the state table.
    pub struct StateQueries from "postgres/state.sql" { create_state, read_state, record_unit, forget_unit }
}

pqstage_load::queries! {
    /// `sql/postgres/catalog.sql`: what the server holds.
    pub struct CatalogQueries from "postgres/catalog.sql" { table_columns, partitions, count_partition }
}

pqstage_load::queries! {
    /// `sql/postgres/load.sql`: the load's statements.
    pub struct LoadQueries from "postgres/load.sql" {
        configure_worker, create_parent, create_parent_index, detach_drop, create_load_table, copy,
        create_index, analyze, drop_leftover, attach,
    }
}

/// The state table's queries.
pub static STATE: LazyLock<StateQueries> = LazyLock::new(StateQueries::load);
/// The catalog queries.
pub static CATALOG: LazyLock<CatalogQueries> = LazyLock::new(CatalogQueries::load);
/// The load's statements.
pub static LOAD: LazyLock<LoadQueries> = LazyLock::new(LoadQueries::load);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_query_is_in_its_file() {
        let _ = (StateQueries::load(), CatalogQueries::load(), LoadQueries::load());
        assert!(LOAD.copy.starts_with("-- ") || LOAD.copy.contains("FORMAT binary, FREEZE"), "{}", LOAD.copy);
    }
}
