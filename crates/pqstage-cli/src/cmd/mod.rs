//! One module per command.

mod convert;
mod infer;
mod load;
mod sample;
mod status;
mod summary;

use crate::args::{Cli, Command, LoadCommand};
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
    }
}

/// A runtime for the stage's async calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?)
}
