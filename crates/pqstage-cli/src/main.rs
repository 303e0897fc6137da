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

/// Starts this process again, with the same arguments, under the allocator
/// settings that make DuckDB return freed memory to the system at once
/// ([`pqstage_duckdb::allocator`]); returns only when the process already has
/// them or could not restart (the load then runs as it is, and says so).
/// `load duckdb` asks for it once it knows the dataset, for a trajectory
/// dataset or `--memory-limit`: DuckDB's allocator reads its settings before
/// `main`, and the pages it kept for reuse put the process 17-40 MiB higher
/// (on 10 boids episodes 255 MiB against 236-238 uncapped, 271-276 against
/// 236-237 at `--memory-limit 192MB`; BENCHMARKS.md), for 10-15% more of the
/// load's time.
#[cfg(unix)]
pub(crate) fn restart_returning_freed_memory() {
    use std::os::unix::process::CommandExt;
    let var = pqstage_duckdb::allocator::ALLOCATOR_ENV;
    let current = std::env::var(var).ok();
    let Some(conf) = pqstage_duckdb::allocator::return_freed_memory(current.as_deref()) else { return };
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let error = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe).arg0(argv0).args(args).env(var, conf).exec(),
        Err(e) => e,
    };
    eprintln!(
        "pqstage: note: DuckDB keeps freed memory for reuse in this run (could not restart with {var} set: {error})"
    );
}

#[cfg(not(unix))]
pub(crate) fn restart_returning_freed_memory() {}

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
