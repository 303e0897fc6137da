//! Resolving the settings of a load as libpq does: the connection string,
//! then the service file's section, then the `PG*` variables, then the
//! defaults; the password from the password file when none was given; the
//! TLS checks `sslmode` asks for, with their certificate files read once.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::config::{ChannelBinding, LoadBalanceHosts, SslMode as DriverSsl, SslNegotiation, TargetSessionAttrs};

use super::conninfo::{Origin, Params};
use super::files::{self, Passfile};
use super::tls::{Checks, MakeRustls, Roots};
use super::{Settings, SettingsError, SslMode};

/// The user's home folder; without one, libpq's default files (`~/.pgpass`,
/// `~/.postgresql/…`) are not read (never from the current folder).
fn home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The folder libpq's Debian build looks in for a server's socket.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

pub(super) fn build(db: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
    let mut p = match db {
        Some(s) => Params::parse(s)?,
        None => Params::default(),
    };
    // A service fills what the string left unset, before the environment.
    let service = p.text("service").map(str::to_string).or_else(|| env("PGSERVICE").filter(|s| !s.is_empty()));
    if let Some(name) = service {
        let user_file = env("PGSERVICEFILE").map(PathBuf::from).or_else(|| Some(home(env)?.join(".pg_service.conf")));
        let sysconf = env("PGSYSCONFDIR").unwrap_or_else(|| "/etc/postgresql-common".into());
        let files: Vec<PathBuf> =
            user_file.into_iter().chain(std::iter::once(Path::new(&sysconf).join("pg_service.conf"))).collect();
        let (entries, file) = files::service(&name, &files)?;
        p.fill_from_service(entries, &file.display().to_string())?;
    }
    p.fill_from_env(env)?;

    let mut c = postgres::Config::new();
    let user = p
        .text("user")
        .map(str::to_string)
        .or_else(|| env("USER").or_else(|| env("LOGNAME")))
        .unwrap_or_else(|| "postgres".into());
    c.user(&user);
    let dbname = p.text("dbname").unwrap_or(&user).to_string();
    c.dbname(&dbname);

    // With hostaddr and no host, libpq connects by TCP to the addresses and
    // knows the server by them (for TLS and the password file).
    let hosts: Vec<String> = match (p.text("host"), p.text("hostaddr")) {
        (Some(h), _) => h.split(',').map(|h| if h.is_empty() { DEFAULT_SOCKET_DIR } else { h }.to_string()).collect(),
        (None, Some(a)) => a.split(',').map(str::to_string).collect(),
        (None, None) => vec![DEFAULT_SOCKET_DIR.to_string()],
    };
    if hosts.iter().any(|h| h.contains('@')) {
        return Err(SettingsError::Syntax {
            reason: "a host name contains '@' (write an '@' of a password as %40 in a URL)".into(),
        });
    }
    for h in &hosts {
        if h.starts_with('/') {
            c.host_path(h);
        } else {
            c.host(h);
        }
    }
    let ports = match p.text("port") {
        Some(list) => list
            .split(',')
            .map(|s| if s.is_empty() { Ok(5432) } else { number::<u16>(&p, "port", s, "a port number") })
            .collect::<Result<Vec<u16>, _>>()?,
        None => vec![5432],
    };
    if ports.len() != 1 && ports.len() != hosts.len() {
        return Err(bad(&p, "port", "one port, or one per host".into()));
    }
    for port in &ports {
        c.port(*port);
    }
    if let Some(list) = p.text("hostaddr") {
        let addrs = list.split(',').map(|a| a.parse::<IpAddr>()).collect::<Result<Vec<_>, _>>();
        match addrs {
            Ok(a) if a.len() == hosts.len() => a.into_iter().for_each(|a| {
                c.hostaddr(a);
            }),
            _ => return Err(bad(&p, "hostaddr", "IP addresses, one per host".into())),
        }
    }

    let passfile_note = password(&mut c, &p, env, &hosts, &ports, &dbname, &user)?;

    if let Some(t) = p.text("connect_timeout") {
        // libpq: zero or less waits forever; less than 2 seconds means 2.
        let secs = number::<i64>(&p, "connect_timeout", t, "whole seconds")?;
        if secs > 0 {
            c.connect_timeout(Duration::from_secs(secs.max(2).unsigned_abs()));
        }
    }
    let app = p.text("application_name").or_else(|| p.text("fallback_application_name")).unwrap_or("pqstage");
    c.application_name(app);
    if let Some(o) = p.text("options") {
        c.options(o);
    }
    session_settings(&mut c, &p)?;

    let (ssl, tls, roots) = tls_settings(&mut c, &p, env, &hosts)?;
    Ok(Settings { config: c, ssl, tls, roots, passfile_note })
}

/// The password: from the string, service or `PGPASSWORD`, else from the
/// password file. libpq looks the file up per host; the driver holds one
/// password, so hosts the file gives different passwords are refused (one
/// host's password is never sent to another). Returns why the file was
/// ignored, if it was.
fn password(
    c: &mut postgres::Config,
    p: &Params,
    env: &dyn Fn(&str) -> Option<String>,
    hosts: &[String],
    ports: &[u16],
    db: &str,
    user: &str,
) -> Result<Option<String>, SettingsError> {
    if let Some(pw) = p.get("password").filter(|v| !v.text.is_empty()) {
        c.password(pw.text.as_bytes());
        return Ok(None);
    }
    let Some(file) = p.text("passfile").map(PathBuf::from).or_else(|| Some(home(env)?.join(".pgpass"))) else {
        return Ok(None);
    };
    let mut found: Option<String> = None;
    for (i, host) in hosts.iter().enumerate() {
        // libpq matches a socket folder as "localhost" when it is the default one.
        let host = if host == DEFAULT_SOCKET_DIR { "localhost" } else { host };
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        match files::password_from(&file, host, &port.to_string(), db, user) {
            Passfile::Found(pw) => match &found {
                Some(other) if *other != pw => {
                    return Err(SettingsError::Syntax {
                        reason: format!(
                            "the password file {} gives the hosts different passwords; pqstage sends one password to \
                             every host, so give it with PGPASSWORD or connect to one host",
                            file.display()
                        ),
                    })
                }
                _ => found = Some(pw),
            },
            Passfile::NotFound => {}
            Passfile::Ignored(why) => return Ok(Some(why)),
        }
    }
    if let Some(pw) = found {
        c.password(pw.as_bytes());
    }
    Ok(None)
}

/// Keepalives, session attributes, load balancing, channel binding.
fn session_settings(c: &mut postgres::Config, p: &Params) -> Result<(), SettingsError> {
    if let Some(t) = p.text("keepalives") {
        c.keepalives(flag(p, "keepalives", t)?);
    }
    if let Some(t) = p.text("keepalives_idle") {
        c.keepalives_idle(Duration::from_secs(number(p, "keepalives_idle", t, "whole seconds")?));
    }
    if let Some(t) = p.text("keepalives_interval") {
        c.keepalives_interval(Duration::from_secs(number(p, "keepalives_interval", t, "whole seconds")?));
    }
    if let Some(t) = p.text("keepalives_count") {
        c.keepalives_retries(number(p, "keepalives_count", t, "a count")?);
    }
    if let Some(t) = p.text("tcp_user_timeout") {
        c.tcp_user_timeout(Duration::from_millis(number(p, "tcp_user_timeout", t, "milliseconds")?));
    }
    if let Some(t) = p.text("target_session_attrs") {
        c.target_session_attrs(match t {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            _ => return Err(bad(p, "target_session_attrs", "any, read-write or read-only".into())),
        });
    }
    if let Some(t) = p.text("load_balance_hosts") {
        c.load_balance_hosts(match t {
            "disable" => LoadBalanceHosts::Disable,
            "random" => LoadBalanceHosts::Random,
            _ => return Err(bad(p, "load_balance_hosts", "disable or random".into())),
        });
    }
    if let Some(t) = p.text("channel_binding") {
        c.channel_binding(match t {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            _ => return Err(bad(p, "channel_binding", "disable, prefer or require".into())),
        });
    }
    if let Some(t) = p.text("client_encoding") {
        if !["utf8", "utf-8", "unicode", "auto"].contains(&t.to_ascii_lowercase().as_str()) {
            return Err(bad(p, "client_encoding", "UTF8: pqstage always talks UTF8".into()));
        }
    }
    match p.text("gssencmode") {
        None | Some("disable" | "prefer") => Ok(()),
        Some("require") => Err(bad(p, "gssencmode", "disable or prefer: this build has no GSSAPI encryption".into())),
        Some(_) => Err(bad(p, "gssencmode", "disable, prefer or require".into())),
    }
}

/// `sslmode` and the certificates, as libpq reads them.
fn tls_settings(
    c: &mut postgres::Config,
    p: &Params,
    env: &dyn Fn(&str) -> Option<String>,
    hosts: &[String],
) -> Result<(SslMode, Option<MakeRustls>, Roots), SettingsError> {
    let given = p.text("sslmode").map(|t| SslMode::parse(t).ok_or_else(|| bad(p, "sslmode", modes())));
    let given = given.transpose()?;
    let system = p.text("sslrootcert") == Some("system");
    let ssl = match (given, system) {
        (None, true) => SslMode::VerifyFull,
        (Some(m), true) if m != SslMode::VerifyFull => {
            return Err(bad(
                p,
                "sslmode",
                "verify-full with sslrootcert=system (the system's CAs trust any name they signed)".into(),
            ))
        }
        (m, _) => m.unwrap_or(SslMode::Prefer),
    };
    // TLS is never used on a Unix socket (the server does not offer it).
    if ssl == SslMode::Disable || hosts.iter().all(|h| h.starts_with('/')) {
        c.ssl_mode(DriverSsl::Disable);
        return Ok((ssl, None, Roots::None));
    }
    let dot = home(env).map(|h| h.join(".postgresql"));
    let default =
        |name: &str| dot.as_ref().map_or_else(|| PathBuf::from(format!("~/.postgresql/{name}")), |d| d.join(name));
    let root_file = p.text("sslrootcert").map_or_else(|| default("root.crt"), PathBuf::from);
    let roots = if system {
        Roots::System
    } else if root_file.is_file() && (p.text("sslrootcert").is_some() || dot.is_some()) {
        // As libpq: with a root file, even require and prefer check the chain.
        Roots::File(root_file)
    } else if matches!(ssl, SslMode::VerifyCa | SslMode::VerifyFull) {
        return Err(SettingsError::File {
            param: "sslrootcert",
            path: root_file,
            reason: format!(
                "does not exist; sslmode={} checks the server's certificate against it (or use sslrootcert=system for the system's CAs)",
                ssl.as_str()
            ),
        });
    } else {
        Roots::None
    };
    let client = match p.text("sslcert") {
        Some(cert) => Some(PathBuf::from(cert)),
        None => dot.as_ref().map(|d| d.join("postgresql.crt")).filter(|f| f.is_file()),
    };
    let client = client.map(|cert| (cert, p.text("sslkey").map_or_else(|| default("postgresql.key"), PathBuf::from)));
    let version = |name: &'static str, default: &str| -> Result<u8, SettingsError> {
        match p.text(name).unwrap_or(default) {
            "TLSv1" | "TLSv1.1" | "TLSv1.2" => Ok(2),
            "TLSv1.3" => Ok(3),
            _ => Err(bad(p, name, "TLSv1.2 or TLSv1.3".into())),
        }
    };
    let (min, max) = (version("ssl_min_protocol_version", "TLSv1.2")?, version("ssl_max_protocol_version", "TLSv1.3")?);
    if p.text("ssl_max_protocol_version").is_some_and(|v| v == "TLSv1" || v == "TLSv1.1") || min > max {
        return Err(bad(p, "ssl_max_protocol_version", "TLSv1.2 or TLSv1.3, not below the minimum".into()));
    }
    let sni = p.text("sslsni").map_or(Ok(true), |t| flag(p, "sslsni", t))?;
    let checks = Checks {
        roots: roots.clone(),
        host_name: ssl == SslMode::VerifyFull,
        client,
        versions: (min <= 2, max >= 3),
        sni,
    };
    if let Some(t) = p.text("sslnegotiation") {
        c.ssl_negotiation(match t {
            "postgres" => SslNegotiation::Postgres,
            "direct" if matches!(ssl, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => {
                SslNegotiation::Direct
            }
            "direct" => {
                return Err(bad(
                    p,
                    "sslnegotiation",
                    "postgres: direct needs sslmode=require, verify-ca or verify-full".into(),
                ))
            }
            _ => return Err(bad(p, "sslnegotiation", "postgres or direct".into())),
        });
    }
    c.ssl_mode(match ssl {
        SslMode::Prefer => DriverSsl::Prefer,
        SslMode::Allow | SslMode::Disable => DriverSsl::Disable,
        _ => DriverSsl::Require,
    });
    Ok((ssl, Some(MakeRustls::new(&checks)?), roots))
}

fn modes() -> String {
    "disable, allow, prefer, require, verify-ca or verify-full".into()
}

fn bad(p: &Params, name: &'static str, expected: String) -> SettingsError {
    let v = p.get(name);
    SettingsError::BadValue {
        name,
        value: v.map(|v| v.text.clone()).unwrap_or_default(),
        origin: v.map_or(Origin::Given, |v| v.origin.clone()),
        expected,
    }
}

fn number<T: std::str::FromStr>(p: &Params, name: &'static str, text: &str, what: &str) -> Result<T, SettingsError> {
    text.trim().parse().map_err(|_| bad(p, name, what.to_string()))
}

fn flag(p: &Params, name: &'static str, text: &str) -> Result<bool, SettingsError> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(bad(p, name, "0 or 1".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(db: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        build(db, &move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_follow_libpq() {
        let s = resolve(None, &[("USER", "ann"), ("HOME", "/nonexistent")]).unwrap();
        assert_eq!(s.describe(), "/var/run/postgresql:5432/ann");
        assert_eq!(s.config().get_user(), Some("ann"));
        assert_eq!(s.config().get_application_name(), Some("pqstage"));
        // Prefer, but TLS is never tried over a socket.
        assert_eq!(s.ssl_mode(), SslMode::Prefer);
        assert_eq!(s.config().get_ssl_mode(), DriverSsl::Disable);
        let s = resolve(Some("postgres://h/db"), &[("HOME", "/nonexistent")]).unwrap();
        assert_eq!(s.config().get_ssl_mode(), DriverSsl::Prefer);
        assert!(s.config().get_connect_timeout().is_none());
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_unset() {
        let vars = [("PGSSLMODE", "require"), ("PGPASSWORD", "envpw"), ("PGCONNECT_TIMEOUT", "1"), ("PGAPPNAME", "x")];
        let s = resolve(Some("postgres://u@db.example.com:6000/sales?application_name=nightly"), &vars).unwrap();
        assert_eq!(s.ssl_mode(), SslMode::Require);
        assert_eq!(s.config().get_password(), Some(&b"envpw"[..]));
        assert_eq!(s.config().get_connect_timeout(), Some(&Duration::from_secs(2)), "libpq's minimum");
        assert_eq!(s.config().get_application_name(), Some("nightly"));
        assert_eq!(s.describe(), "db.example.com:6000/sales");
    }

    #[test]
    fn hostaddr_alone_is_a_tcp_host_with_tls_and_its_own_password_line() {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pgpass");
        std::fs::write(&pass, "localhost:*:*:*:socket-pw\n10.0.0.5:*:*:*:tcp-pw\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let vars = [("PGPASSFILE", pass.to_str().unwrap()), ("HOME", "/nonexistent")];
        let s = resolve(Some("hostaddr=10.0.0.5 user=u dbname=d sslmode=require"), &vars).unwrap();
        assert_eq!(s.describe(), "10.0.0.5:5432/d");
        assert_eq!(s.config().get_ssl_mode(), DriverSsl::Require);
        assert_eq!(s.config().get_password(), Some(&b"tcp-pw"[..]));
        // Two hosts the file gives different passwords: refused, not guessed.
        let e = resolve(Some("host=localhost,10.0.0.5 user=u dbname=d"), &vars).unwrap_err();
        assert!(e.to_string().contains("gives the hosts different passwords"), "{e}");
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let e = resolve(Some("postgres://h/db?sslmode=verify-full"), &[("HOME", "/nonexistent")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sslrootcert /nonexistent/.postgresql/root.crt: does not exist; sslmode=verify-full checks the server's \
             certificate against it (or use sslrootcert=system for the system's CAs)"
        );
        let e = resolve(Some("postgres://h/db?sslrootcert=system&sslmode=require"), &[]).unwrap_err();
        assert!(e.to_string().contains("sslmode='require'"), "{e}");
        let e = resolve(Some("postgres://h/db?sslmode=verify"), &[]).unwrap_err();
        assert!(e.to_string().contains("expected disable, allow, prefer"), "{e}");
    }

    #[test]
    fn a_password_file_is_read_for_the_first_host() {
        let dir = tempfile::tempdir().unwrap();
        let pass = dir.path().join("pgpass");
        std::fs::write(&pass, "db.example.com:5432:sales:ann:from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let passfile = pass.to_str().unwrap();
        let s = resolve(Some("postgres://ann@db.example.com/sales"), &[("PGPASSFILE", passfile)]).unwrap();
        assert_eq!(s.config().get_password(), Some(&b"from-file"[..]));
        let s = resolve(Some("postgres://ann:given@db.example.com/sales"), &[("PGPASSFILE", passfile)]).unwrap();
        assert_eq!(s.config().get_password(), Some(&b"given"[..]), "a given password wins");
        let s = resolve(Some("postgres://bob@db.example.com/sales"), &[("PGPASSFILE", passfile)]).unwrap();
        assert_eq!(s.config().get_password(), None);
    }

    #[test]
    fn a_service_section_is_used_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("svc.conf");
        std::fs::write(&file, "[warehouse]\nhost=wh.example.com\nport=6432\ndbname=dw\nsslmode=bogus\n").unwrap();
        let vars = [("PGSERVICEFILE", file.to_str().unwrap()), ("PGSYSCONFDIR", "/nonexistent")];
        let s = resolve(Some("service=warehouse sslmode=disable"), &vars).unwrap();
        assert_eq!(s.describe(), "wh.example.com:6432/dw");
        assert_eq!(s.ssl_mode(), SslMode::Disable, "the string wins over the service");
        let e = resolve(Some("service=warehouse"), &vars).unwrap_err().to_string();
        assert!(e.contains("sslmode='bogus' (in ") && e.contains("svc.conf line 5"), "{e}");
    }

    #[test]
    fn messages_and_debug_never_show_the_password() {
        let secret = "Sup3r-s3cret";
        for db in [
            format!("postgres://u:{secret}@h:notaport/db"),
            format!("postgres://u:{secret}@h/db?nope=1"),
            format!("postgres://u:{secret}@h/db?sslmode=verify-full&sslrootcert=/missing.crt"),
            format!("host=h password={secret} port=x"),
        ] {
            let e = resolve(Some(&db), &[]).unwrap_err();
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
        }
        let s = resolve(Some(&format!("postgres://u:{secret}@h/db")), &[]).unwrap();
        assert!(!format!("{s:?}").contains(secret));
    }
}
