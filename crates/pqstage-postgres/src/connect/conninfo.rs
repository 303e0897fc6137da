//! libpq's connection string, in both of its forms (a `postgres://` URL or
//! `key=value` pairs), with libpq's order of precedence: what the string
//! says, then the service file's section, then the `PG*` environment
//! variables, then the defaults.
//!
//! Values are kept with where they came from, so a bad one is reported with
//! its origin. A password is never part of a message.

use std::collections::BTreeMap;
use std::fmt;

use super::SettingsError;

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The `--db` connection string.
    Given,
    /// A section of a service file.
    Service {
        /// The file.
        file: String,
        /// Its line (1-based).
        line: usize,
    },
    /// An environment variable.
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given => f.write_str("the connection string"),
            Self::Service { file, line } => write!(f, "{file} line {line}"),
            Self::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One parameter libpq knows: its keyword, its environment variable, and
/// whether pqstage honours it (`None`) or refuses it (why not).
struct Keyword {
    name: &'static str,
    env: Option<&'static str>,
    refused: Option<&'static str>,
}

const fn kw(name: &'static str, env: Option<&'static str>) -> Keyword {
    Keyword { name, env, refused: None }
}

/// A libpq parameter pqstage refuses, with libpq's environment variable for
/// it (also refused when set, rather than silently ignored).
const fn no(name: &'static str, env: Option<&'static str>, why: &'static str) -> Keyword {
    Keyword { name, env, refused: Some(why) }
}

/// libpq's parameters. Those pqstage honours carry their environment
/// variable; the others are refused with a reason rather than ignored.
const KEYWORDS: &[Keyword] = &[
    kw("host", Some("PGHOST")),
    kw("hostaddr", Some("PGHOSTADDR")),
    kw("port", Some("PGPORT")),
    kw("dbname", Some("PGDATABASE")),
    kw("user", Some("PGUSER")),
    kw("password", Some("PGPASSWORD")),
    kw("passfile", Some("PGPASSFILE")),
    kw("service", Some("PGSERVICE")),
    kw("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    kw("application_name", Some("PGAPPNAME")),
    kw("fallback_application_name", None),
    kw("options", Some("PGOPTIONS")),
    kw("sslmode", Some("PGSSLMODE")),
    kw("sslrootcert", Some("PGSSLROOTCERT")),
    kw("sslcert", Some("PGSSLCERT")),
    kw("sslkey", Some("PGSSLKEY")),
    kw("sslsni", Some("PGSSLSNI")),
    kw("sslnegotiation", Some("PGSSLNEGOTIATION")),
    kw("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    kw("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    kw("channel_binding", Some("PGCHANNELBINDING")),
    kw("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    kw("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    kw("gssencmode", Some("PGGSSENCMODE")),
    kw("keepalives", None),
    kw("keepalives_idle", None),
    kw("keepalives_interval", None),
    kw("keepalives_count", None),
    kw("tcp_user_timeout", None),
    kw("client_encoding", Some("PGCLIENTENCODING")),
    no(
        "sslpassword",
        None,
        "encrypted client keys are not supported; decrypt the key (openssl pkey -in KEY -out KEY.plain)",
    ),
    no("sslcrl", Some("PGSSLCRL"), "certificate revocation lists are not checked by this build"),
    no("sslcrldir", Some("PGSSLCRLDIR"), "certificate revocation lists are not checked by this build"),
    no("sslcertmode", Some("PGSSLCERTMODE"), "client certificates are sent whenever sslcert names one"),
    no("sslcompression", Some("PGSSLCOMPRESSION"), "TLS compression is not used"),
    no("requiressl", Some("PGREQUIRESSL"), "use sslmode=require"),
    no("requirepeer", Some("PGREQUIREPEER"), "Unix-socket peer checks are not supported"),
    no("require_auth", Some("PGREQUIREAUTH"), "authentication methods cannot be restricted by this build"),
    no("krbsrvname", Some("PGKRBSRVNAME"), "GSSAPI/Kerberos is not supported by this build"),
    no("gsslib", Some("PGGSSLIB"), "GSSAPI/Kerberos is not supported by this build"),
    no("gssdelegation", Some("PGGSSDELEGATION"), "GSSAPI/Kerberos is not supported by this build"),
    no("replication", None, "pqstage opens ordinary sessions"),
    no("sslkeylogfile", None, "TLS key logging is not supported"),
];

fn keyword(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name == name)
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Value {
    /// The text.
    pub text: String,
    /// Its origin.
    pub origin: Origin,
}

/// The parameters of one connection, merged from every source.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<&'static str, Value>);

impl Params {
    /// The value of `name`, if set anywhere.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The text of `name`, if set and not empty (libpq treats an empty
    /// value as unset).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.text.as_str()).filter(|t| !t.is_empty())
    }

    /// Sets `name` unless a source of higher precedence did.
    fn fill(&mut self, name: &str, text: String, origin: Origin) -> Result<(), SettingsError> {
        let k = known(name, &origin)?;
        self.0.entry(k.name).or_insert(Value { text, origin });
        Ok(())
    }

    /// Sets `name`, replacing an earlier value of the same source.
    fn set(&mut self, name: &str, text: String, origin: Origin) -> Result<(), SettingsError> {
        let k = known(name, &origin)?;
        self.0.insert(k.name, Value { text, origin });
        Ok(())
    }

    /// Parses a connection string: a `postgres://` / `postgresql://` URL, or
    /// libpq's `key=value` pairs.
    pub fn parse(s: &str) -> Result<Self, SettingsError> {
        let mut p = Self::default();
        if let Some(rest) = s.strip_prefix("postgresql://").or_else(|| s.strip_prefix("postgres://")) {
            p.parse_url(rest)?;
        } else if s.contains('=') {
            p.parse_pairs(s)?;
        } else {
            return Err(SettingsError::Syntax {
                reason: "expected a postgres:// URL or libpq's key=value pairs".into(),
            });
        }
        Ok(p)
    }

    fn parse_url(&mut self, url: &str) -> Result<(), SettingsError> {
        // As libpq: the user part is what precedes the first '@' that comes
        // before any '/' (so a password may hold '?' or ':').
        let rest = match url.find(['@', '/']) {
            Some(at) if url[at..].starts_with('@') => {
                let userinfo = &url[..at];
                let (user, password) = userinfo.split_once(':').map_or((userinfo, None), |(u, p)| (u, Some(p)));
                if !user.is_empty() {
                    self.set("user", decode(user, "user name")?, Origin::Given)?;
                }
                // An empty password is no password (PGPASSWORD or the
                // password file may still give one).
                if let Some(pw) = password.filter(|p| !p.is_empty()) {
                    self.set("password", decode(pw, "password")?, Origin::Given)?;
                }
                &url[at + 1..]
            }
            _ => url,
        };
        let (main, query) = rest.split_once('?').map_or((rest, None), |(m, q)| (m, Some(q)));
        let (hosts, path) = main.split_once('/').map_or((main, None), |(a, p)| (a, Some(p)));
        if !hosts.is_empty() {
            let (mut names, mut ports) = (Vec::new(), Vec::new());
            for spec in hosts.split(',') {
                let (name, port) = split_host_port(spec)?;
                names.push(decode(name, "host")?);
                ports.push(port.to_string());
            }
            if names.iter().any(|n| !n.is_empty()) {
                self.set("host", names.join(","), Origin::Given)?;
            }
            if ports.iter().any(|p| !p.is_empty()) {
                self.set("port", ports.join(","), Origin::Given)?;
            }
        }
        if let Some(db) = path.filter(|p| !p.is_empty()) {
            self.set("dbname", decode(db, "database name")?, Origin::Given)?;
        }
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(SettingsError::Syntax { reason: "a URL parameter has no '=value'".into() });
            };
            let (k, v) = (decode(k, "parameter name")?, decode(v, "parameter value")?);
            // The JDBC spelling libpq accepts too.
            if k == "ssl" && v == "true" {
                self.set("sslmode", "require".into(), Origin::Given)?;
            } else {
                self.set(&k, v, Origin::Given)?;
            }
        }
        Ok(())
    }

    fn parse_pairs(&mut self, s: &str) -> Result<(), SettingsError> {
        let mut chars = s.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.peek().is_none() {
                return Ok(());
            }
            let mut key = String::new();
            while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
                key.push(c);
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if chars.next() != Some('=') {
                // Never echo the word: it may be the tail of an unquoted
                // password with a space in it.
                return Err(SettingsError::Syntax {
                    reason: "a word without '=value' (quote values with spaces: password='a b')".into(),
                });
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let mut value = String::new();
            if chars.next_if_eq(&'\'').is_some() {
                loop {
                    match chars.next() {
                        Some('\\') => value.extend(chars.next()),
                        Some('\'') => break,
                        Some(c) => value.push(c),
                        None => {
                            return Err(SettingsError::Syntax {
                                reason: format!("the quoted value of '{key}' is not closed"),
                            })
                        }
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '\\' {
                        value.extend(chars.next());
                    } else {
                        value.push(c);
                    }
                }
            }
            self.set(&key, value, Origin::Given)?;
        }
    }

    /// Fills what is still unset from one service file section.
    pub fn fill_from_service(
        &mut self,
        entries: Vec<(String, String, usize)>,
        file: &str,
    ) -> Result<(), SettingsError> {
        for (k, v, line) in entries {
            if k == "service" {
                return Err(SettingsError::Syntax {
                    reason: format!("{file} line {line}: a service cannot name another service"),
                });
            }
            self.fill(&k, v, Origin::Service { file: file.to_string(), line })?;
        }
        Ok(())
    }

    /// Fills what is still unset from the `PG*` environment variables. A
    /// variable of a parameter pqstage refuses is an error, not ignored.
    pub fn fill_from_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), SettingsError> {
        for k in KEYWORDS {
            if let Some(var) = k.env {
                if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                    self.fill(k.name, v, Origin::Env(var))?;
                }
            }
        }
        Ok(())
    }
}

fn known(name: &str, origin: &Origin) -> Result<&'static Keyword, SettingsError> {
    match keyword(name) {
        Some(k) if k.refused.is_none() => Ok(k),
        Some(k) => Err(SettingsError::Unsupported {
            name: k.name.to_string(),
            origin: origin.clone(),
            why: k.refused.unwrap_or_default().to_string(),
        }),
        None => Err(SettingsError::UnknownParameter { name: name.to_string(), origin: origin.clone() }),
    }
}

/// The names pqstage accepts, for messages.
pub fn accepted() -> String {
    KEYWORDS.iter().filter(|k| k.refused.is_none()).map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// `host[:port]` or `[v6addr][:port]`.
fn split_host_port(spec: &str) -> Result<(&str, &str), SettingsError> {
    if let Some(rest) = spec.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return Err(SettingsError::Syntax { reason: format!("'[' without ']' in the URL's host '{spec}'") });
        };
        return match after.strip_prefix(':') {
            Some(port) => Ok((addr, port)),
            None if after.is_empty() => Ok((addr, "")),
            None => {
                Err(SettingsError::Syntax { reason: format!("unexpected '{after}' after the URL's host '{spec}'") })
            }
        };
    }
    Ok(spec.rsplit_once(':').unwrap_or((spec, "")))
}

/// Percent-decoding of one URL part; `what` names the part (never its text,
/// which may be a password).
fn decode(s: &str, what: &str) -> Result<String, SettingsError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) else {
                return Err(SettingsError::Syntax { reason: format!("bad percent-encoding in the URL's {what}") });
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| SettingsError::Syntax { reason: format!("the URL's {what} is not UTF-8 once decoded") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Params, k: &str) -> Option<String> {
        p.text(k).map(str::to_string)
    }

    #[test]
    fn url_parts_decode_into_parameters() {
        let p = Params::parse(
            "postgresql://us%40er:p%3Ass@db.example.com:6543,[::1]:7000/my%20db?sslmode=verify-full&sslrootcert=ca.crt",
        )
        .unwrap();
        assert_eq!(text(&p, "user").as_deref(), Some("us@er"));
        assert_eq!(text(&p, "password").as_deref(), Some("p:ss"));
        assert_eq!(text(&p, "host").as_deref(), Some("db.example.com,::1"));
        assert_eq!(text(&p, "port").as_deref(), Some("6543,7000"));
        assert_eq!(text(&p, "dbname").as_deref(), Some("my db"));
        assert_eq!(text(&p, "sslmode").as_deref(), Some("verify-full"));
        assert_eq!(text(&p, "sslrootcert").as_deref(), Some("ca.crt"));
    }

    #[test]
    fn a_socket_folder_and_the_jdbc_ssl_flag() {
        let p = Params::parse("postgres://%2Fvar%2Frun%2Fpostgresql/db?ssl=true").unwrap();
        assert_eq!(text(&p, "host").as_deref(), Some("/var/run/postgresql"));
        assert_eq!(text(&p, "sslmode").as_deref(), Some("require"));
        assert_eq!(text(&p, "port"), None);
    }

    #[test]
    fn key_value_pairs_with_quotes_and_escapes() {
        let p = Params::parse(r"host=localhost  port = 5433 password='it\'s a \\secret' dbname=x\ y").unwrap();
        assert_eq!(text(&p, "host").as_deref(), Some("localhost"));
        assert_eq!(text(&p, "port").as_deref(), Some("5433"));
        assert_eq!(text(&p, "password").as_deref(), Some(r"it's a \secret"));
        assert_eq!(text(&p, "dbname").as_deref(), Some("x y"));
        let e = Params::parse("host='open").unwrap_err();
        assert!(e.to_string().contains("quoted value of 'host' is not closed"), "{e}");
    }

    #[test]
    fn unknown_and_unsupported_parameters_are_refused_by_name() {
        let e = Params::parse("postgres://h/db?sslmod=require").unwrap_err();
        assert!(e.to_string().contains("unknown connection parameter 'sslmod'"), "{e}");
        let e = Params::parse("host=h sslcrl=crl.pem").unwrap_err();
        assert!(e.to_string().contains("parameter 'sslcrl' (in the connection string) is not supported"), "{e}");
        assert!(e.to_string().contains("revocation"), "{e}");
    }

    #[test]
    fn the_string_wins_over_the_service_which_wins_over_the_environment() {
        let mut p = Params::parse("postgres://h/db?sslmode=require").unwrap();
        let section = vec![("sslmode".into(), "disable".into(), 2), ("port".into(), "6000".into(), 3)];
        p.fill_from_service(section, "svc.conf").unwrap();
        let env = |k: &str| match k {
            "PGSSLMODE" => Some("verify-full".to_string()),
            "PGPORT" => Some("7000".to_string()),
            "PGAPPNAME" => Some("nightly".to_string()),
            _ => None,
        };
        p.fill_from_env(&env).unwrap();
        assert_eq!(text(&p, "sslmode").as_deref(), Some("require"));
        assert_eq!(text(&p, "port").as_deref(), Some("6000"));
        assert_eq!(p.get("port").unwrap().origin, Origin::Service { file: "svc.conf".into(), line: 3 });
        assert_eq!(text(&p, "application_name").as_deref(), Some("nightly"));
        assert_eq!(p.get("application_name").unwrap().origin, Origin::Env("PGAPPNAME"));
    }

    #[test]
    fn the_user_part_ends_at_the_first_at_before_a_slash_as_in_libpq() {
        let p = Params::parse("postgres://u:pa?ss:w@h/db?sslmode=disable").unwrap();
        assert_eq!(text(&p, "password").as_deref(), Some("pa?ss:w"));
        assert_eq!(text(&p, "host").as_deref(), Some("h"));
        assert_eq!(text(&p, "sslmode").as_deref(), Some("disable"));
        let p = Params::parse("postgres://u:@h/db").unwrap();
        assert!(p.get("password").is_none(), "an empty password is no password");
        let e = Params::parse("host=h password=my secret").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn refused_parameters_are_refused_from_the_environment_too() {
        let mut p = Params::default();
        let e = p.fill_from_env(&|k| (k == "PGSSLCRL").then(|| "crl.pem".to_string())).unwrap_err();
        assert!(e.to_string().contains("'sslcrl' (in environment variable PGSSLCRL) is not supported"), "{e}");
    }

    #[test]
    fn malformed_urls_name_the_part_never_the_password() {
        let e = Params::parse("postgres://u:s%zzecret@h/db").unwrap_err();
        assert_eq!(e.to_string(), "bad connection string: bad percent-encoding in the URL's password");
        let e = Params::parse("mysql:host").unwrap_err();
        assert!(e.to_string().contains("expected a postgres:// URL"), "{e}");
    }
}
