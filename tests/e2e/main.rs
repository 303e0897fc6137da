//! End-to-end tests: the built `pqstage` binary, run in fresh temporary
//! folders, on the fixtures in `tests/data/` and on generated samples.

mod faulty_proxy;
mod util;

mod changes;
mod cli;
mod convert_errors;
mod convert_output;
mod csv_inputs;
mod infer;
mod load_common;
mod load_duckdb;
mod load_postgres;
mod merge_append;
mod object_store;
mod pg_connect;
mod schema_changes;
mod summaries;
mod trajectories;
