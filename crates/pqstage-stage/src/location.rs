//! Parsing a stage location: plain path, `file://`, `memory://`, or an object
//! store URL (`s3://`, `gs://`, `az://`, `abfss://` …), and opening its store.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};

use crate::StageError;

/// Settings for remote stores: `--storage-option KEY=VALUE` pairs, applied
/// over what the environment gives (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
///
/// Two keys are pqstage's own and apply to every remote store:
/// `max_retries` (default 10) and `retry_timeout` (default 180 s; also `90s`, `5m`),
/// bounding the retries of transient failures (5xx, timeouts, resets), which
/// back off exponentially from 100 ms. Every other key goes to the store's
/// builder, under the names `object_store` gives it (`aws_endpoint`,
/// `allow_http`, `google_service_account`, `azure_storage_account_name` …);
/// a key with another provider's prefix (`aws_`, `google_`, `azure_`) is
/// left to that provider's store, so one `copy` can set up both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pairs: Vec<KeyValue>,
}

type KeyValue = (String, String);

/// A storage option that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// Not of the form `KEY=VALUE`.
    #[error("storage option '{0}' is not KEY=VALUE")]
    NotKeyValue(String),
    /// A value that is not a whole number.
    #[error("{key}={value}: not a whole number")]
    NotANumber {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A value that is not a duration.
    #[error("{key}={value}: {reason}")]
    NotADuration {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        #[source]
        reason: DurationError,
    },
}

/// Why a text is not a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a non-negative number.
    #[error("not a duration (like 0, 90s, 15m, 2h or 7d)")]
    NotANumber,
    /// A unit other than s, m, h, d.
    #[error("unit must be s, m, h or d")]
    Unit,
}

impl StoreOptions {
    /// Parses `KEY=VALUE` strings.
    ///
    /// # Errors
    /// [`OptionError::NotKeyValue`] naming the malformed option.
    pub fn parse<S: AsRef<str>>(options: &[S]) -> Result<Self, OptionError> {
        let mut pairs = Vec::new();
        for o in options {
            let o = o.as_ref();
            let (k, v) = o
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| OptionError::NotKeyValue(o.to_string()))?;
            pairs.push((k.trim().to_ascii_lowercase(), v.to_string()));
        }
        Ok(Self { pairs })
    }

    /// Adds one option (later ones win).
    #[must_use]
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.pairs.push((key.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// pqstage's retry policy from the options, and the options left for the store's builder.
    fn retry(&self) -> Result<(RetryConfig, Vec<&KeyValue>), OptionError> {
        let mut retry = RetryConfig {
            backoff: BackoffConfig { init_backoff: Duration::from_millis(100), ..BackoffConfig::default() },
            ..RetryConfig::default()
        };
        let mut rest = Vec::new();
        for kv in &self.pairs {
            let (k, v) = kv;
            match k.as_str() {
                "max_retries" => {
                    retry.max_retries =
                        v.parse().map_err(|_| OptionError::NotANumber { key: k.clone(), value: v.clone() })?;
                }
                "retry_timeout" => {
                    retry.retry_timeout = parse_duration(v).map_err(|reason| OptionError::NotADuration {
                        key: k.clone(),
                        value: v.clone(),
                        reason,
                    })?;
                }
                _ => rest.push(kv),
            }
        }
        Ok((retry, rest))
    }
}

/// Parses a duration: seconds (`90`), or a number with `s`, `m`, `h` or `d`
/// (`90s`, `15m`, `2h`, `1.5d`).
///
/// # Errors
/// [`DurationError`]: what is wrong with it, to follow the option's name.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 =
        num.trim().parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0).ok_or(DurationError::NotANumber)?;
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(DurationError::Unit),
    };
    Ok(Duration::from_secs_f64(n * scale))
}

/// Where a stage root is.
#[derive(Debug, Clone)]
pub enum Location {
    /// A folder on the local disk (absolute).
    Local(PathBuf),
    /// An in-process store that lives as long as the process (tests).
    Memory(Path),
    /// A bucket or container of a remote object store, and a prefix in it.
    Remote {
        /// `s3://bucket`, `gs://bucket`, `az://container` … as given, without the prefix.
        root: String,
        /// The prefix inside the bucket.
        prefix: Path,
        /// Settings for the store.
        options: StoreOptions,
    },
}

const REMOTE_SCHEMES: [&str; 8] = ["s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss"];

impl Location {
    /// Parses a plain path, `file://` URL or `memory://[prefix]`, or an object
    /// store URL (`s3://bucket/prefix`, `gs://…`, `az://…`, `abfss://…`).
    ///
    /// # Errors
    /// [`StageError::Location`] for other schemes or malformed URLs.
    pub fn parse(s: &str) -> Result<Self, StageError> {
        Self::parse_with(s, &StoreOptions::default())
    }

    /// As [`Location::parse`], with settings for remote stores.
    ///
    /// # Errors
    /// [`StageError::Location`] for other schemes or malformed URLs.
    pub fn parse_with(s: &str, options: &StoreOptions) -> Result<Self, StageError> {
        let bad = |reason: String| StageError::Location { location: s.to_string(), reason };
        if let Some((scheme, rest)) = s.split_once("://") {
            let scheme = scheme.to_ascii_lowercase();
            return match scheme.as_str() {
                "file" => {
                    let url = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
                    let path = url.to_file_path().map_err(|()| bad("not a local file path".into()))?;
                    Ok(Self::Local(path))
                }
                "memory" => Ok(Self::Memory(Path::from(rest))),
                s if REMOTE_SCHEMES.contains(&s) => {
                    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                    if bucket.is_empty() {
                        return Err(bad("no bucket or container in the URL".into()));
                    }
                    let prefix = Path::parse(prefix).map_err(|e| bad(e.to_string()))?;
                    Ok(Self::Remote { root: format!("{scheme}://{bucket}"), prefix, options: options.clone() })
                }
                "http" | "https" => Err(bad(format!(
                    "{scheme}:// is not a stage; for an S3-compatible server use s3://BUCKET/PREFIX with \
                     AWS_ENDPOINT_URL (or --storage-option aws_endpoint=URL)"
                ))),
                _ => Err(bad(format!(
                    "unknown scheme '{scheme}://' (a stage is a folder, file://, s3://, gs://, az://, abfss:// or memory://)"
                ))),
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
        let split = |p: &Path| {
            let parts: Vec<_> = p.parts().collect();
            let (last, init) = parts.split_last()?;
            Some((Path::from_iter(init.iter().cloned()), last.as_ref().to_string()))
        };
        match self {
            Self::Local(p) => {
                Some((Self::Local(p.parent()?.to_path_buf()), p.file_name()?.to_string_lossy().into_owned()))
            }
            Self::Memory(p) => split(p).map(|(p, last)| (Self::Memory(p), last)),
            Self::Remote { root, prefix, options } => split(prefix)
                .map(|(p, last)| (Self::Remote { root: root.clone(), prefix: p, options: options.clone() }, last)),
        }
    }

    pub(crate) fn store(&self) -> Result<Arc<dyn ObjectStore>, StageError> {
        match self {
            Self::Local(root) => {
                if !root.is_dir() {
                    return Err(StageError::NotFound(root.display().to_string()));
                }
                let fs = LocalFileSystem::new_with_prefix(root).map_err(|source| StageError::Build {
                    location: root.display().to_string(),
                    source: Box::new(source),
                })?;
                Ok(Arc::new(fs))
            }
            Self::Memory(_) => Ok(memory_store()),
            Self::Remote { root, options, .. } => remote_store(root, options).map_err(|problem| match problem {
                StoreProblem::Option(source) => StageError::Option { location: self.to_string(), source },
                StoreProblem::Unknown { key, scheme, source } => {
                    StageError::UnknownOption { location: self.to_string(), key, scheme, source: Box::new(source) }
                }
                StoreProblem::Build(source) => {
                    StageError::Build { location: self.to_string(), source: Box::new(source) }
                }
            }),
        }
    }

    pub(crate) fn prefix(&self) -> &Path {
        static ROOT: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
        match self {
            Self::Local(_) => ROOT.get_or_init(Path::default),
            Self::Memory(p) | Self::Remote { prefix: p, .. } => p,
        }
    }

    pub(crate) fn local_root(&self) -> Option<&FsPath> {
        match self {
            Self::Local(p) => Some(p),
            Self::Memory(_) | Self::Remote { .. } => None,
        }
    }

    pub(crate) fn display(&self, dataset: &str, rel: &str) -> String {
        let tail = [dataset, rel].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("/");
        let under = |base: &str, p: &Path| {
            [base.to_string(), p.to_string(), tail.clone()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("/")
        };
        match self {
            Self::Local(p) => p.join(&tail).display().to_string(),
            Self::Memory(p) if p.as_ref().is_empty() => format!("memory://{tail}"),
            Self::Memory(p) => format!("memory://{}", under("", p).trim_start_matches('/')),
            Self::Remote { root, prefix, .. } => under(root, prefix),
        }
    }
}

/// Why a remote store could not be built.
enum StoreProblem {
    /// A storage option of pqstage's own is bad.
    Option(OptionError),
    /// The store does not know a key.
    Unknown { key: String, scheme: String, source: object_store::Error },
    /// The builder refused the settings.
    Build(object_store::Error),
}

/// Builds the store of a remote bucket: the environment first, then the
/// options, then pqstage's retry policy.
fn remote_store(root: &str, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>, StoreProblem> {
    let (retry, pairs) = options.retry().map_err(StoreProblem::Option)?;
    let scheme = root.split_once("://").map_or("", |(s, _)| s);
    // Keys named for another provider are for the other side of a `copy`
    // (say aws_endpoint when copying from S3 to gs://): not this store's.
    let own = match scheme {
        "s3" | "s3a" => "aws_",
        "gs" => "google_",
        _ => "azure_",
    };
    let pairs: Vec<&KeyValue> = pairs
        .into_iter()
        .filter(|(k, _)| k.starts_with(own) || !["aws_", "google_", "azure_"].iter().any(|p| k.starts_with(p)))
        .collect();
    let unknown = |k: &str, source| StoreProblem::Unknown { key: k.to_string(), scheme: scheme.to_string(), source };
    // The three builders share no trait; each gets the same steps.
    macro_rules! build {
        ($builder:ty) => {{
            let mut b = <$builder>::from_env().with_url(root).with_retry(retry);
            for (k, v) in pairs {
                b = b.with_config(k.parse().map_err(|e| unknown(k, e))?, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }};
    }
    let built = match scheme {
        "s3" | "s3a" => build!(AmazonS3Builder),
        "gs" => build!(GoogleCloudStorageBuilder),
        _ => build!(MicrosoftAzureBuilder),
    };
    built.map_err(StoreProblem::Build)
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
            Self::Remote { root, prefix, .. } if prefix.as_ref().is_empty() => write!(f, "{root}"),
            Self::Remote { root, prefix, .. } => write!(f, "{root}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_split_into_bucket_and_prefix() {
        let l = Location::parse("s3://bucket/some/prefix").unwrap();
        assert_eq!(l.to_string(), "s3://bucket/some/prefix");
        assert_eq!(
            l.display("violations", "year=2019/part-0.parquet"),
            "s3://bucket/some/prefix/violations/year=2019/part-0.parquet"
        );
        let (parent, last) = l.split_last().unwrap();
        assert_eq!((parent.to_string().as_str(), last.as_str()), ("s3://bucket/some", "prefix"));
        let bare = Location::parse("gs://b").unwrap();
        assert_eq!(bare.display("d", ""), "gs://b/d");
        assert!(bare.split_last().is_none());
    }

    #[test]
    fn bad_locations_say_why() {
        let e = Location::parse("s3:///x").unwrap_err().to_string();
        assert_eq!(e, "stage 's3:///x': no bucket or container in the URL");
        let e = Location::parse("ftp://x/y").unwrap_err().to_string();
        assert!(e.starts_with("stage 'ftp://x/y': unknown scheme 'ftp://'"), "{e}");
        let e = Location::parse("https://host/b").unwrap_err().to_string();
        assert!(e.contains("use s3://BUCKET/PREFIX with AWS_ENDPOINT_URL"), "{e}");
    }

    #[test]
    fn options_are_parsed_and_checked() {
        assert_eq!(StoreOptions::parse(&["nope"]).unwrap_err().to_string(), "storage option 'nope' is not KEY=VALUE");
        let o = StoreOptions::parse(&["AWS_REGION=eu-west-1", "max_retries=2", "retry_timeout=5s"]).unwrap();
        let (retry, rest) = o.retry().unwrap();
        assert_eq!((retry.max_retries, retry.retry_timeout), (2, Duration::from_secs(5)));
        assert_eq!(rest, vec![&("aws_region".to_string(), "eu-west-1".to_string())]);
        let o = StoreOptions::parse(&["max_retries=many"]).unwrap();
        assert_eq!(o.retry().unwrap_err().to_string(), "max_retries=many: not a whole number");
        // Another provider's key is not this store's business.
        let both = StoreOptions::parse(&["aws_region=eu-west-1", "google_service_account=/nonexistent.json"]).unwrap();
        assert!(Location::parse_with("s3://b/p", &both).unwrap().store().is_ok());
        let e = Location::parse_with("s3://b/p", &StoreOptions::parse(&["colour=blue"]).unwrap())
            .unwrap()
            .store()
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("stage 's3://b/p': unknown storage option 'colour' for s3://"), "{e}");
    }
}
