//! Finding a session folder's config and episodes, as the spec describes them.

use std::path::{Path, PathBuf};

use pqstage_spec::trajectories::{fill, TrajectorySpec};

use super::TrajectoryError;

/// A session folder, read.
#[derive(Debug, Clone)]
pub struct Session {
    /// The folder.
    pub folder: PathBuf,
    /// `sessions.session_id`.
    pub id: String,
    /// `sessions.session_name`: the folder's name.
    pub name: String,
    /// The config as JSON text, when the spec names a config file.
    pub config: Option<String>,
    /// The config file, when there is one.
    pub config_path: Option<PathBuf>,
    /// Frames per second.
    pub frame_rate: f64,
    /// Episodes in number order.
    pub episodes: Vec<Episode>,
}

/// One episode's files.
#[derive(Debug, Clone)]
pub struct Episode {
    /// Position among the session's episodes, from 0.
    pub number: u32,
    /// `episodes.episode_id`.
    pub id: String,
    /// The file of its rows.
    pub file: PathBuf,
    /// The file joined to it, if the spec has one and it exists.
    pub joined: Option<PathBuf>,
}

/// `*` matches any run of characters within one name.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The entries of `dir` whose names match `pattern`, files or folders, sorted by name.
fn entries(dir: &Path, pattern: &str, want_dirs: bool) -> Result<Vec<PathBuf>, TrajectoryError> {
    let read =
        std::fs::read_dir(dir).map_err(|e| TrajectoryError::session(dir, format!("cannot list the folder: {e}")))?;
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| TrajectoryError::session(dir, format!("cannot list the folder: {e}")))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !matches(pattern, name) {
            continue;
        }
        let is_dir = entry.path().is_dir();
        if is_dir == want_dirs {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a session folder: its config and its episodes, in name order.
///
/// # Errors
/// A folder that is not one, a config that is missing or not YAML, or no episode.
pub fn session(folder: &Path, spec: &TrajectorySpec) -> Result<Session, TrajectoryError> {
    if !folder.is_dir() {
        return Err(TrajectoryError::session(folder, "is not a folder (convert takes session folders)".into()));
    }
    let canonical = folder.canonicalize().unwrap_or_else(|_| folder.to_path_buf());
    let name = canonical
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| TrajectoryError::session(folder, "has no name in UTF-8".into()))?
        .to_string();
    let id = fill(&spec.session.id, &[("folder", &name)]);
    let (config, config_path, frame_rate) = match &spec.session.config {
        Some(file) => {
            let path = folder.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                TrajectoryError::session(folder, format!("{file}: {} (the spec's session.config names it)", reason(&e)))
            })?;
            let yaml: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
                let at = e.location().map_or(String::new(), |l| format!(" line {} column {}", l.line(), l.column()));
                TrajectoryError::session(folder, format!("{file}{at}: not valid YAML: {e}"))
            })?;
            let json = serde_json::to_value(&yaml)
                .map_err(|e| TrajectoryError::session(folder, format!("{file}: cannot be stored as JSON: {e}")))?;
            if !json.is_object() {
                return Err(TrajectoryError::session(
                    folder,
                    format!("{file}: expected a mapping of settings at the top"),
                ));
            }
            let rate = match &spec.session.frame_rate_key {
                Some(key) => frame_rate_of(&json, key)
                    .map_err(|r| TrajectoryError::session(folder, format!("{file}: {key}: {r}")))?,
                None => None,
            };
            (Some(json.to_string()), Some(path), rate.unwrap_or(spec.session.frame_rate))
        }
        None => (None, None, spec.session.frame_rate),
    };
    let episodes = episodes(folder, spec, &id, &name)?;
    if episodes.is_empty() {
        return Err(TrajectoryError::session(
            folder,
            format!("holds no episode: nothing matches episodes.files = '{}'", spec.episodes.files),
        ));
    }
    Ok(Session { folder: folder.to_path_buf(), id, name, config, config_path, frame_rate, episodes })
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "missing".into(),
        _ => e.to_string(),
    }
}

/// The number at a dotted key, if the config has the key.
fn frame_rate_of(json: &serde_json::Value, key: &str) -> Result<Option<f64>, String> {
    let mut v = json;
    for part in key.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return Ok(None),
        }
    }
    match v.as_f64() {
        Some(r) if r.is_finite() && r > 0.0 => Ok(Some(r)),
        _ => Err(format!("{v} is not a positive number of frames per second")),
    }
}

/// The episodes: files matching the pattern, or, when the pattern has a `*`
/// folder, one per matching folder (its one matching file).
fn episodes(
    folder: &Path,
    spec: &TrajectorySpec,
    session_id: &str,
    folder_name: &str,
) -> Result<Vec<Episode>, TrajectoryError> {
    let segments: Vec<&str> = spec.episodes.files.split('/').collect();
    let (file_pattern, dir_segments) = segments.split_last().expect("split gives one segment at least");
    // Walk the folder segments: fixed ones descend, a `*` one fans out into episodes.
    let mut dirs = vec![(folder.to_path_buf(), None::<String>)];
    for seg in dir_segments {
        let mut next = Vec::new();
        for (dir, camera) in &dirs {
            if seg.contains('*') {
                for d in entries(dir, seg, true)? {
                    let name = d.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                    next.push((d, Some(name)));
                }
            } else {
                let d = dir.join(seg);
                if d.is_dir() {
                    next.push((d, camera.clone()));
                }
            }
        }
        dirs = next;
    }
    let mut found = Vec::new();
    for (dir, camera) in dirs {
        let files = entries(&dir, file_pattern, false)?;
        match camera {
            Some(camera) => match files.as_slice() {
                [] => {}
                [one] => found.push((one.clone(), Some(camera))),
                [first, second, ..] => {
                    return Err(TrajectoryError::session(
                        &dir,
                        format!(
                            "holds {} files matching '{file_pattern}' ({} and {}): an episode folder holds one",
                            files.len(),
                            name_of(first),
                            name_of(second)
                        ),
                    ))
                }
            },
            None => found.extend(files.into_iter().map(|f| (f, None))),
        }
    }
    let mut out = Vec::with_capacity(found.len());
    for (number, (file, camera)) in found.into_iter().enumerate() {
        let number = u32::try_from(number).unwrap_or(u32::MAX);
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let n = number.to_string();
        let id = fill(
            &spec.episodes.id,
            &[
                ("number", &n),
                ("stem", &stem),
                ("camera", camera.as_deref().unwrap_or(&stem)),
                ("session", session_id),
                ("folder", folder_name),
            ],
        );
        let joined = match &spec.episodes.join {
            Some(j) => {
                let dir = file.parent().unwrap_or(folder);
                let mut js = entries(dir, &j.files, false)?;
                if js.len() > 1 {
                    return Err(TrajectoryError::session(
                        dir,
                        format!("holds {} files matching '{}': expected at most one per episode", js.len(), j.files),
                    ));
                }
                js.pop()
            }
            None => None,
        };
        out.push(Episode { number, id, file, joined });
    }
    Ok(out)
}

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_within_a_name() {
        assert!(matches("episode-*-completed-*.parquet", "episode-0-completed-20240101-120000.parquet"));
        assert!(!matches("episode-*-completed-*.parquet", "episode-0-started.parquet"));
        assert!(!matches("episode-*-completed-*.parquet", "episode-0-completed-1.parquet.partial"));
        assert!(matches("*_tracks.csv", "cam_a_tracks.csv"));
        assert!(!matches("*_tracks.csv", "cam_a_bboxes.csv"));
        assert!(matches("a*a", "aa"));
        assert!(!matches("a*a", "a"));
        assert!(matches("config.yaml", "config.yaml"));
    }

    #[test]
    fn frame_rate_from_a_dotted_key() {
        let j: serde_json::Value = serde_json::json!({"simulator": {"frame_rate": 25, "bad": "x"}});
        assert_eq!(frame_rate_of(&j, "simulator.frame_rate"), Ok(Some(25.0)));
        assert_eq!(frame_rate_of(&j, "simulator.missing"), Ok(None));
        assert!(frame_rate_of(&j, "simulator.bad").unwrap_err().contains("not a positive number"));
    }
}
