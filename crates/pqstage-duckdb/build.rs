//! When DuckDB is linked from a prebuilt library (`DUCKDB_LIB_DIR`, the
//! Makefile's default), record its folder as the run-time search path of this
//! crate's binaries and tests, so they run without `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        if std::env::var("CARGO_CFG_TARGET_FAMILY").as_deref() == Ok("unix") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
