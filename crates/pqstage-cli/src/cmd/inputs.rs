//! The input files of `infer` and `convert`: `-` is standard input, and an
//! input that cannot be read twice (a pipe) is spooled to a scratch file
//! when it must be (inferring a spec reads the input, then converting reads
//! it again).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Inputs ready to read, each with the name messages and the manifest give it.
pub struct Inputs {
    /// Paths to open.
    pub paths: Vec<PathBuf>,
    /// Names as the user gave them (`-` for standard input).
    pub names: Vec<String>,
    /// Spooled copies, removed when this is dropped.
    _spool: Option<tempfile::TempDir>,
}

/// Whether `path` is something that can only be read once (a pipe, a
/// terminal, a socket), rather than a file.
fn read_once(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Maps `-` to standard input and, when `spool` is set, copies every input
/// that can only be read once into a scratch folder under `tmp` (default:
/// the system's temporary folder), streaming, so memory stays bounded.
///
/// # Errors
/// When a spooled input cannot be read or its copy written.
pub fn prepare(files: &[PathBuf], spool: bool, tmp: Option<&Path>) -> anyhow::Result<Inputs> {
    let mut paths = Vec::with_capacity(files.len());
    let mut names = Vec::with_capacity(files.len());
    let mut dir: Option<tempfile::TempDir> = None;
    for (i, f) in files.iter().enumerate() {
        let stdin = f.as_os_str() == "-";
        let path = if stdin { PathBuf::from("/dev/stdin") } else { f.clone() };
        names.push(f.display().to_string());
        if !(spool && (stdin || read_once(&path))) {
            paths.push(path);
            continue;
        }
        if dir.is_none() {
            let mut b = tempfile::Builder::new();
            b.prefix("pqstage-spool-");
            let made = match tmp {
                Some(t) => b.tempdir_in(t),
                None => b.tempdir(),
            };
            dir = Some(made.context("creating a folder to spool piped input into")?);
        }
        let copy = dir.as_ref().expect("made above").path().join(format!("input-{i}"));
        let mut from = std::fs::File::open(&path).with_context(|| format!("opening {}", f.display()))?;
        let mut to = std::fs::File::create(&copy).with_context(|| format!("creating {}", copy.display()))?;
        std::io::copy(&mut from, &mut to).with_context(|| format!("spooling {} to {}", f.display(), copy.display()))?;
        to.flush()?;
        paths.push(copy);
    }
    Ok(Inputs { paths, names, _spool: dir })
}

/// A dataset name from the first input's file name (`stdin` for `-`).
pub fn default_dataset(files: &[PathBuf]) -> String {
    match files.first() {
        Some(f) if f.as_os_str() == "-" => "stdin".into(),
        Some(f) => {
            let stem = f.file_stem().map_or("dataset".into(), |s| s.to_string_lossy().into_owned());
            // `data.csv.gz` is the dataset `data`.
            stem.strip_suffix(".csv").or_else(|| stem.strip_suffix(".tsv")).unwrap_or(&stem).to_string()
        }
        None => "dataset".into(),
    }
}
