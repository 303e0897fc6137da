//! The `pqstage` binary: parses arguments, runs a command, prints, and maps
//! errors to exit codes (0 ok, 1 the data was refused, 2 usage or system
//! error). A closed stdout (`pqstage status … | head`) is not an error.

mod args;
mod cmd;
mod hint;
mod output;
mod printer;

use std::process::ExitCode;

use clap::Parser;

/// Exit code when the data was refused (bad rows, too many rejects, validation).
pub const EXIT_DATA: u8 = 1;
/// Exit code for usage and system errors.
pub const EXIT_ERROR: u8 = 2;

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error = e.into();
        let data = error.downcast_ref::<pqstage_convert::ConvertError>().is_some_and(|c| c.is_data_error())
            || error.downcast_ref::<pqstage_duckdb::DuckdbError>().is_some_and(|c| c.is_data_error())
            || error.downcast_ref::<pqstage_postgres::PgError>().is_some_and(|c| c.is_data_error());
        let code = if data { EXIT_DATA } else { EXIT_ERROR };
        Self { code, error }
    }
}

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = cmd::run(&cli);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) if output::is_broken_pipe(&f.error) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("pqstage: error: {}", hint::message(&f.error));
            ExitCode::from(f.code)
        }
    }
}
