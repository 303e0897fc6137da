//! Error messages as the command line prints them: the library's message
//! and its causes on one line, then, where a flag or a command would help,
//! the hint that names it. Libraries describe the problem; only here are
//! flags and commands named.

use pqstage_convert::{ConvertError, ConvertOption};
use pqstage_duckdb::DuckdbError;
use pqstage_load::{LoadError, PartitionsNeeded};
use pqstage_postgres::PgError;
use pqstage_stage::verify::FileProblem;
use pqstage_stage::StageError;

/// The first error of type `T` in `e`'s chain.
fn find<T: std::error::Error + 'static>(e: &anyhow::Error) -> Option<&T> {
    e.chain().find_map(|c| c.downcast_ref::<T>())
}

/// The flag a converter option is set with; `None` for the dataset's name,
/// which may come from the spec or the file's name rather than `--dataset`.
fn flag(option: ConvertOption) -> Option<&'static str> {
    match option {
        ConvertOption::Jobs => Some("--jobs"),
        ConvertOption::RowGroupRows => Some("--row-group-rows"),
        ConvertOption::FileBytes => Some("--file-size"),
        ConvertOption::ChunkBytes => Some("--chunk-size"),
        ConvertOption::Compression => Some("--compression"),
        ConvertOption::Dataset => None,
        ConvertOption::Derive => Some("--derive"),
        ConvertOption::Sources => None,
        ConvertOption::Mode => Some("--mode"),
    }
}

/// The whole message for `e`: reworded where the library's words stand for
/// a flag, and followed by a hint where one helps.
pub fn message(e: &anyhow::Error) -> String {
    let mut line = reworded(e).unwrap_or_else(|| chain(e));
    if let Some(h) = hint(e) {
        line.push_str(&h);
    }
    line
}

/// Messages that name the flag the user gave, in place of the library's
/// description of the setting.
fn reworded(e: &anyhow::Error) -> Option<String> {
    if let Some(c) = find::<ConvertError>(e) {
        match c {
            ConvertError::TooManyRejects { count, max, first } => {
                return Some(format!(
                    "{count} rows refused, more than --max-rejects {max}; nothing was written. First: {first}"
                ))
            }
            ConvertError::Option { option, reason } => {
                if let Some(flag) = flag(*option) {
                    return Some(format!("{flag}: {reason}"));
                }
            }
            _ => {}
        }
    }
    if let Some(LoadError::NoSuchUnit { .. } | LoadError::NotPartitioned { needed: PartitionsNeeded::Selection, .. }) =
        find::<LoadError>(e)
    {
        return Some(format!("--years: {}", chain(e)));
    }
    None
}

/// What to do next, naming the flag or command, for errors where it is known.
fn hint(e: &anyhow::Error) -> Option<String> {
    if let Some(PgError::Privilege { grant, .. }) = find::<PgError>(e) {
        return Some(format!(
            "\n(an administrator can grant it: {grant}; the README's \"The loading role\" lists every privilege a load needs)"
        ));
    }
    if let Some(ConvertError::BadRow(row)) = find::<ConvertError>(e) {
        let retype = match (&row.column, row.reason.starts_with("is not a valid")) {
            (Some(c), true) => format!(
                "; if the source's {c} values changed type, change its type in the spec (a wider one, or text) and \
                 convert again: a loaded table with the old type is then refused, so reload into a new table"
            ),
            _ => String::new(),
        };
        return Some(format!(
            "\n(nothing was written; rerun with --rejects to keep bad rows under _rejects/ and go on{retype})"
        ));
    }
    if let Some(p) = find::<FileProblem>(e) {
        return match p {
            FileProblem::CacheWrite { .. } => Some("\n(--cache-dir chooses another folder for the cache)".into()),
            FileProblem::Io { .. } => None,
            _ => Some("; re-run `pqstage convert`".into()),
        };
    }
    match find::<StageError>(e) {
        Some(StageError::NotFound(_)) => return Some("; run `pqstage convert` first".into()),
        Some(StageError::SeveralDatasets { .. }) => return Some("; name one with --dataset".into()),
        _ => {}
    }
    match find::<LoadError>(e) {
        Some(LoadError::Conflict { table, .. }) => {
            return Some(format!("; drop the table (DROP TABLE {table}) or load into another --table"))
        }
        Some(LoadError::UnknownIndexColumn { .. }) => return Some(" (--index)".into()),
        Some(LoadError::WhichTable { .. }) => return Some("; name one with --table".into()),
        _ => {}
    }
    match find::<DuckdbError>(e) {
        Some(DuckdbError::NoDatabase(_)) => Some("; run `pqstage load duckdb` first".into()),
        Some(DuckdbError::Locked { .. }) => Some("\n(close it, or its DuckDB shell, and retry)".into()),
        _ => None,
    }
}

/// An error and its causes on one line, `: `-separated, leaving out a cause
/// whose text the line already holds (wrappers repeat their sources' text,
/// and so do the object store's errors), with a hint where the cause is well
/// known.
pub fn chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    if line.contains("169.254.169.254") {
        line.push_str(
            "\n(no object store credentials were found, so the cloud's instance metadata service was asked; \
             set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --storage-option aws_access_key_id=… and \
             aws_secret_access_key=…, or aws_skip_signature=true for a public bucket)",
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::chain as error_chain;

    #[derive(Debug)]
    struct Repeats(&'static str, Option<Box<Repeats>>);
    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn repeated_causes_are_left_out_and_missing_credentials_explained() {
        let inner = Repeats("403 Forbidden", None);
        let mid = Repeats("PUT http://169.254.169.254/latest/api/token: 403 Forbidden", Some(Box::new(inner)));
        let e = anyhow::Error::new(mid).context("list x");
        let line = error_chain(&e);
        assert!(
            line.starts_with(
                "list x: PUT http://169.254.169.254/latest/api/token: 403 Forbidden\n(no object store credentials"
            ),
            "{line}"
        );
        assert_eq!(line.matches("403 Forbidden").count(), 1, "{line}");
        let plain = anyhow::Error::new(Repeats("disk full", None)).context("write a.parquet");
        assert_eq!(error_chain(&plain), "write a.parquet: disk full");
    }
}

#[cfg(test)]
mod hint_tests {
    use std::path::PathBuf;

    use pqstage_load::LoadError;
    use pqstage_stage::verify::FileProblem;

    use super::*;

    fn say(e: impl Into<anyhow::Error>) -> String {
        message(&e.into())
    }

    #[test]
    fn libraries_describe_and_the_command_line_names_the_flag() {
        let unit = LoadError::NoSuchUnit { unit: "year=1850".into(), dataset: "v".into() };
        assert_eq!(say(DuckdbError::Load(unit)), "--years: year=1850 is not a partition of v, nor loaded in the table");
        let conflict = LoadError::Conflict { table: "main.t".into(), column: "a".into(), reason: "it differs".into() };
        assert_eq!(
            say(PgError::Load(conflict)),
            "table main.t conflicts with the staged spec at column a: it differs; \
             drop the table (DROP TABLE main.t) or load into another --table"
        );
        let missing = LoadError::File(FileProblem::Missing(PathBuf::from("s/v/p.parquet")));
        assert_eq!(
            say(DuckdbError::Load(missing)),
            "staged file s/v/p.parquet is missing (the manifest names it); re-run `pqstage convert`"
        );
        assert_eq!(
            say(StageError::NotFound("s/v".into())),
            "no staged dataset at s/v (no _manifest.json); run `pqstage convert` first"
        );
        let several = StageError::SeveralDatasets { location: "s".into(), datasets: vec!["a".into(), "b".into()] };
        assert_eq!(say(several), "stage 's' holds several datasets (a, b); name one with --dataset");
        assert_eq!(
            say(DuckdbError::NoDatabase(PathBuf::from("x.duckdb"))),
            "no DuckDB file at x.duckdb; run `pqstage load duckdb` first"
        );
        let chunk = ConvertError::Option { option: ConvertOption::ChunkBytes, reason: "must be small".into() };
        assert_eq!(say(chunk), "--chunk-size: must be small");
    }
}
