//! `pqstage ddl`: the statements that declare each staged table of a
//! dataset in another engine, reading the files where they lie.

use pqstage_load::ddl::{ddl, engine_location, DdlEngine, ExternalTable};

use crate::args::{Cli, DdlArgs, DdlEngineArg};
use crate::output::out;
use crate::Failure;

pub fn run(_cli: &Cli, a: &DdlArgs) -> Result<(), Failure> {
    let (stage, m) = super::open_dataset(&a.store, &a.stage, a.dataset.as_deref())?;
    let engine = match a.engine {
        DdlEngineArg::Spark => DdlEngine::Spark,
        DdlEngineArg::Trino => DdlEngine::Trino,
        DdlEngineArg::Duckdb => DdlEngine::Duckdb,
    };
    let account = a.azure_account.clone().or_else(|| std::env::var("AZURE_STORAGE_ACCOUNT_NAME").ok());
    for t in &m.tables {
        let folder = stage.display(&m.dataset, &t.path);
        // A local stage is named by its absolute path: the engine may run
        // from another folder.
        let local = match stage.local_root() {
            Some(_) => Some(std::fs::canonicalize(&folder)?.display().to_string()),
            None => None,
        };
        let table = ExternalTable {
            name: if m.tables.len() == 1 { a.table.clone().unwrap_or_else(|| t.name.clone()) } else { t.name.clone() },
            location: engine_location(engine, local.as_deref(), &folder, account.as_deref()),
            columns: t.spec.output_columns(),
            partition: t.partition_column.clone(),
        };
        let rows: u64 = t.partitions.iter().map(|p| p.rows).sum();
        out(&format!(
            "-- pqstage ddl: table {} of dataset {}, {rows} rows in {} partitions, converted {}",
            t.name,
            m.dataset,
            t.partitions.len(),
            m.created_at
        ))?;
        out(ddl(engine, &table).trim_end())?;
    }
    Ok(())
}
