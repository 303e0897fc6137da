//! One module per command.

mod convert;
mod copy;
mod ddl;
mod gc;
mod infer;
mod inputs;
mod load;
mod sample;
mod status;
mod summary;

use pqstage_stage::{Manifest, Stage, StoreOptions};

use crate::args::{Cli, Command, LoadCommand, StoreArgs};
use crate::Failure;

/// Runs the command line.
pub fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Sample(a) => sample::run(cli, a),
        Command::Infer(a) => infer::run(cli, a),
        Command::Convert(a) => convert::run(cli, a),
        Command::Status(a) => status::run(cli, a),
        Command::Load(LoadCommand::Duckdb(a)) => load::duckdb(cli, a),
        Command::Load(LoadCommand::Postgres(a)) => load::postgres(cli, a),
        Command::Summary(a) => summary::run(cli, a),
        Command::Copy(a) => copy::copy(cli, a),
        Command::Gc(a) => gc::run(cli, a),
        Command::Ddl(a) => ddl::run(cli, a),
    }
}

/// The process's one runtime for the stores' async calls. One, because a
/// remote store's pooled connections belong to the runtime that opened them.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    Ok(RT.get_or_init(|| rt))
}

/// The `--storage-option` settings.
pub fn store_options(a: &StoreArgs) -> Result<StoreOptions, Failure> {
    Ok(StoreOptions::parse(&a.storage_option)?)
}

/// Opens the dataset STAGE names: STAGE/DATASET, STAGE itself, or the only dataset under it.
pub fn open_dataset(store: &StoreArgs, stage_arg: &str, dataset: Option<&str>) -> Result<(Stage, Manifest), Failure> {
    let options = store_options(store)?;
    Ok(runtime()?.block_on(Stage::locate_with(stage_arg, dataset, &options))?)
}
