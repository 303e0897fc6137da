//! Parsing a stage location: plain path, `file://` URL or `memory://`.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::StageError;

/// Where a stage root is.
#[derive(Debug, Clone)]
pub enum Location {
    /// A folder on the local disk (absolute).
    Local(PathBuf),
    /// An in-process store that lives as long as the process (tests).
    Memory(Path),
}

impl Location {
    /// Parses a plain path, `file://` URL or `memory://[prefix]`.
    ///
    /// # Errors
    /// [`StageError::Location`] for other schemes or malformed URLs.
    pub fn parse(s: &str) -> Result<Self, StageError> {
        let bad = |reason: String| StageError::Location { location: s.to_string(), reason };
        if let Some((scheme, rest)) = s.split_once("://") {
            return match scheme {
                "file" => {
                    let url = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
                    let path = url.to_file_path().map_err(|()| bad("not a local file path".into()))?;
                    Ok(Self::Local(path))
                }
                "memory" => Ok(Self::Memory(Path::from(rest))),
                "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "http" | "https" => Err(bad(format!(
                    "{scheme}:// stages are not supported by this build yet; use a local folder, file:// or memory://"
                ))),
                _ => Err(bad(format!("unknown scheme '{scheme}://'"))),
            };
        }
        if s.is_empty() {
            return Err(bad("empty path".into()));
        }
        let p = FsPath::new(s);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map_err(|e| bad(e.to_string()))?.join(p)
        };
        Ok(Self::Local(abs))
    }

    /// The parent location and the last path segment, if there is one.
    pub(crate) fn split_last(&self) -> Option<(Self, String)> {
        match self {
            Self::Local(p) => {
                Some((Self::Local(p.parent()?.to_path_buf()), p.file_name()?.to_string_lossy().into_owned()))
            }
            Self::Memory(p) => {
                let parts: Vec<_> = p.parts().collect();
                let (last, init) = parts.split_last()?;
                Some((Self::Memory(Path::from_iter(init.iter().cloned())), last.as_ref().to_string()))
            }
        }
    }

    pub(crate) fn store(&self) -> Result<Arc<dyn ObjectStore>, StageError> {
        match self {
            Self::Local(root) => {
                if !root.is_dir() {
                    return Err(StageError::NotFound(root.display().to_string()));
                }
                let fs = LocalFileSystem::new_with_prefix(root).map_err(|e| StageError::Location {
                    location: root.display().to_string(),
                    reason: e.to_string(),
                })?;
                Ok(Arc::new(fs))
            }
            Self::Memory(_) => Ok(memory_store()),
        }
    }

    pub(crate) fn prefix(&self) -> &Path {
        static ROOT: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
        match self {
            Self::Local(_) => ROOT.get_or_init(Path::default),
            Self::Memory(p) => p,
        }
    }

    pub(crate) fn local_root(&self) -> Option<&FsPath> {
        match self {
            Self::Local(p) => Some(p),
            Self::Memory(_) => None,
        }
    }

    pub(crate) fn display(&self, dataset: &str, rel: &str) -> String {
        let tail = [dataset, rel].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/");
        match self {
            Self::Local(p) => p.join(tail).display().to_string(),
            Self::Memory(p) if p.as_ref().is_empty() => format!("memory://{tail}"),
            Self::Memory(p) => format!("memory://{p}/{tail}"),
        }
    }
}

/// One in-memory store per process, so `memory://` means the same place to
/// every `Stage` opened in it.
fn memory_store() -> Arc<dyn ObjectStore> {
    static STORE: std::sync::OnceLock<Arc<InMemory>> = std::sync::OnceLock::new();
    STORE.get_or_init(|| Arc::new(InMemory::new())).clone()
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Memory(p) => write!(f, "memory://{p}"),
        }
    }
}
