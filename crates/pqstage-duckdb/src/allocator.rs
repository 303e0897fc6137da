//! DuckDB's allocator, as far as a load's peak memory depends on it.
//!
//! DuckDB's official Linux library allocates through its own copy of
//! jemalloc, which keeps freed pages for reuse and hands them back to the
//! system only after a decay of about a second. Within one trajectory
//! episode's commit that kept 17-40 MiB more resident than the commit needed
//! (BENCHMARKS.md), so a `--memory-limit` capped DuckDB's buffer pool but not
//! the process. jemalloc reads its settings from [`ALLOCATOR_ENV`] once, when
//! the library is loaded, before `main` runs: a process that wants other
//! settings has to start with them (the command line restarts itself, see
//! `pqstage-cli`'s `main`). A DuckDB built without jemalloc (the crate's
//! `bundled` feature) ignores the variable and returns freed memory through
//! the C library, as before.

/// The environment variable DuckDB's jemalloc reads its settings from
/// (jemalloc's `MALLOC_CONF`, under DuckDB's symbol prefix).
pub const ALLOCATOR_ENV: &str = "DUCKDB_JE_MALLOC_CONF";

/// jemalloc settings that return freed pages to the system at once: no
/// decay for dirty pages, none for the lazily freed ones either (pages freed
/// lazily still count as resident until the kernel takes them).
const RETURN_AT_ONCE: &str = "dirty_decay_ms:0,muzzy_decay_ms:0";

/// The value [`ALLOCATOR_ENV`] needs for DuckDB to return freed memory at
/// once, given the value it has now; `None` when it already has it. Settings
/// the user gave are kept after ours, so where both set the same option the
/// user's wins (jemalloc applies them left to right).
#[must_use]
pub fn return_freed_memory(current: Option<&str>) -> Option<String> {
    match current.map(str::trim) {
        Some(c) if c.starts_with(RETURN_AT_ONCE) => None,
        Some(c) if !c.is_empty() => Some(format!("{RETURN_AT_ONCE},{c}")),
        _ => Some(RETURN_AT_ONCE.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_added_once_and_the_users_own_come_last() {
        assert_eq!(return_freed_memory(None).as_deref(), Some(RETURN_AT_ONCE));
        assert_eq!(return_freed_memory(Some("  ")).as_deref(), Some(RETURN_AT_ONCE));
        let with_user = return_freed_memory(Some("stats_print:true,dirty_decay_ms:500")).unwrap();
        assert_eq!(with_user, format!("{RETURN_AT_ONCE},stats_print:true,dirty_decay_ms:500"));
        // A process started with the value (the restarted one) is not restarted again.
        assert_eq!(return_freed_memory(Some(&with_user)), None);
        assert_eq!(return_freed_memory(Some(RETURN_AT_ONCE)), None);
    }
}
