//! The two files libpq reads besides certificates: the password file
//! (`~/.pgpass`, `PGPASSFILE`) and the connection service file
//! (`~/.pg_service.conf`, `PGSERVICEFILE`, `PGSYSCONFDIR/pg_service.conf`).

use std::path::{Path, PathBuf};

use super::SettingsError;

/// What the password file gave for one connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Passfile {
    /// A line matched: the password.
    Found(String),
    /// No line matched, or there is no file.
    NotFound,
    /// The file was not read, and why (libpq warns and goes on the same way).
    Ignored(String),
}

/// Looks up the password for (host, port, database, user) in a password
/// file: lines `hostname:port:database:username:password`, `*` matching
/// anything, `\:` and `\\` escaping; the first matching line wins. As libpq
/// does, a file readable or writable by group or others is ignored.
pub fn password_from(file: &Path, host: &str, port: &str, db: &str, user: &str) -> Passfile {
    let Ok(meta) = std::fs::metadata(file) else {
        return Passfile::NotFound;
    };
    if !meta.is_file() {
        return Passfile::Ignored(format!("password file {} is not a plain file", file.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Passfile::Ignored(format!(
                "password file {} has group or world access; permissions should be u=rw (0600) or less",
                file.display()
            ));
        }
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return Passfile::Ignored(format!("password file {} cannot be read as UTF-8 text", file.display()));
    };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let wanted = [host, port, db, user];
        if fields[..4].iter().zip(wanted).all(|((f, any), w)| *any || f == w) {
            // As libpq: the password ends at the next unescaped colon.
            return Passfile::Found(fields[4].0.clone());
        }
    }
    Passfile::NotFound
}

/// Splits a password-file line at unescaped colons, removing the escapes.
/// Each field comes with whether it is a bare `*` (a wildcard; an escaped
/// `\*` is a literal star).
fn split_fields(line: &str) -> Vec<(String, bool)> {
    let mut fields = vec![(String::new(), String::new())];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        let (text, raw) = fields.last_mut().expect("one field");
        match c {
            '\\' => {
                raw.push(c);
                if let Some(next) = chars.next() {
                    text.push(next);
                    raw.push(next);
                }
            }
            ':' => fields.push((String::new(), String::new())),
            c => {
                text.push(c);
                raw.push(c);
            }
        }
    }
    fields.into_iter().map(|(text, raw)| (text, raw == "*")).collect()
}

/// One setting of a service file section: keyword, value, line (1-based).
pub type ServiceEntry = (String, String, usize);

/// The entries of service `name`: from the user's file if it defines the
/// service, else from the system-wide file. Each entry is (keyword, value,
/// line).
///
/// # Errors
/// A syntax error in a file, or no file defining the service.
pub fn service(name: &str, files: &[PathBuf]) -> Result<(Vec<ServiceEntry>, PathBuf), SettingsError> {
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        if let Some(entries) = section(&text, name, file)? {
            return Ok((entries, file.clone()));
        }
    }
    Err(SettingsError::NoService {
        name: name.to_string(),
        searched: files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

/// The section `[name]` of a service file, if there is one.
fn section(text: &str, name: &str, file: &Path) -> Result<Option<Vec<ServiceEntry>>, SettingsError> {
    let mut current: Option<&str> = None;
    let mut found = None::<Vec<_>>;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[') {
            let Some(section) = head.strip_suffix(']') else {
                return Err(bad_line(file, i, "a section header has no closing ']'"));
            };
            if found.is_some() {
                break;
            }
            current = Some(section);
            if section == name {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(bad_line(file, i, "expected keyword=value"));
        };
        if current.is_none() {
            return Err(bad_line(file, i, "a setting before any [service] header"));
        }
        if let Some(entries) = found.as_mut() {
            entries.push((k.trim().to_string(), v.trim().to_string(), i + 1));
        }
    }
    Ok(found)
}

fn bad_line(file: &Path, i: usize, reason: &str) -> SettingsError {
    SettingsError::Syntax { reason: format!("{} line {}: {reason}", file.display(), i + 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn the_first_matching_line_wins_and_escapes_are_undone() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# comment\nother:5432:*:alice:nope\n*:5433:sales:alice:s\\:e\\\\cret\n*:*:*:*:fallback\n";
        let f = write(dir.path(), "pgpass", text, 0o600);
        assert_eq!(password_from(&f, "db1", "5433", "sales", "alice"), Passfile::Found("s:e\\cret".into()));
        assert_eq!(password_from(&f, "db1", "5432", "sales", "alice"), Passfile::Found("fallback".into()));
        assert_eq!(password_from(&f, "other", "5432", "x", "alice"), Passfile::Found("nope".into()));
        assert_eq!(password_from(&dir.path().join("missing"), "h", "1", "d", "u"), Passfile::NotFound);
        let f = write(dir.path(), "pgpass2", "\\*:*:*:*:literal-star\nh:*:*:*:first:rest\n", 0o600);
        assert_eq!(password_from(&f, "*", "1", "d", "u"), Passfile::Found("literal-star".into()));
        assert_eq!(password_from(&f, "h", "1", "d", "u"), Passfile::Found("first".into()), "ends at a colon");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_ignored_as_libpq_does() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "pgpass", "*:*:*:*:secret\n", 0o640);
        match password_from(&f, "h", "5432", "d", "u") {
            Passfile::Ignored(why) => assert!(why.contains("group or world access"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_users_service_file_wins_and_a_missing_service_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let user = write(dir.path(), "user.conf", "[prod]\nhost = db.example.com\nport=6432\n[other]\nport=1\n", 0o644);
        let system = write(dir.path(), "system.conf", "[prod]\nhost=wrong\n[ci]\nsslmode=disable\n", 0o644);
        let files = [user.clone(), system.clone()];
        let (entries, from) = service("prod", &files).unwrap();
        assert_eq!(from, user);
        assert_eq!(entries, vec![("host".into(), "db.example.com".into(), 2), ("port".into(), "6432".into(), 3)]);
        let (entries, from) = service("ci", &files).unwrap();
        assert_eq!((entries.len(), from), (1, system));
        let e = service("nope", &files).unwrap_err().to_string();
        assert!(e.contains("service 'nope' is not defined") && e.contains("user.conf"), "{e}");
    }

    #[test]
    fn a_malformed_service_file_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "svc.conf", "[a]\nhost=h\njunk\n", 0o644);
        let e = service("a", &[f]).unwrap_err().to_string();
        assert!(e.contains("svc.conf line 3: expected keyword=value"), "{e}");
    }
}
