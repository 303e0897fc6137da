//! `pqstage load postgres` connecting as hosted databases require: TLS with
//! each `sslmode`, client certificates, the password file, least privilege,
//! and no password ever printed. Against two real servers started by
//! `make test`: the plain one (PQSTAGE_PG_URL) and one with `ssl = on` and a
//! CA made by the harness (PQSTAGE_PG_TLS_URL, tests/pg/pg.sh).
//!
//! Roles are created per test. `pg.sh` authenticates members of
//! `pqstage_password` by password, of `pqstage_cert` by client certificate,
//! and refuses members of `pqstage_tls_only` without TLS; anyone else is
//! trusted.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::load_postgres::url as plain_url;
use crate::util::{cmd, manifest_per_year, staged_sample};

/// The TLS server: its port and the folder holding its CA and certificates.
struct TlsServer {
    port: u16,
    certs: PathBuf,
}

fn tls_server() -> TlsServer {
    let url = std::env::var("PQSTAGE_PG_TLS_URL")
        .expect("PQSTAGE_PG_TLS_URL is not set: run `make test` (it starts a PostgreSQL with TLS, tests/pg/pg-tls.sh)");
    let port = url.split("localhost:").nth(1).and_then(|r| r.split('/').next()).expect("a localhost:PORT URL");
    let ca = url.split("sslrootcert=").nth(1).expect("sslrootcert in the URL");
    TlsServer { port: port.parse().unwrap(), certs: Path::new(ca).parent().unwrap().to_path_buf() }
}

fn plain_port() -> u16 {
    let url = plain_url();
    url.rsplit(':').next().and_then(|r| r.split('/').next()).unwrap().parse().unwrap()
}

/// A superuser session on a test server, in plaintext (trusted).
fn admin(port: u16, db: &str) -> postgres::Client {
    let conn = format!("host=127.0.0.1 port={port} user=pqtest dbname={db}");
    postgres::Client::connect(&conn, postgres::NoTls).expect("the test server is reachable")
}

/// (Re)creates a login role; `rest` is the rest of CREATE ROLE.
fn role(port: u16, name: &str, rest: &str) {
    let mut c = admin(port, "pqstage");
    // What an earlier run's role owns (the schema pqstage, if it made it)
    // passes to the superuser before the role goes.
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS public.{name}_t CASCADE; \
         DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN \
             REASSIGN OWNED BY {name} TO pqtest; DROP OWNED BY {name}; END IF; END $$; \
         DROP ROLE IF EXISTS {name}"
    ))
    .unwrap();
    c.batch_execute(&format!("CREATE ROLE {name} LOGIN {rest}")).unwrap();
}

/// Runs `pqstage load postgres stage --db DB --table TABLE ARGS` in `dir`
/// with a home folder of its own (no ~/.pgpass, no ~/.postgresql) and no
/// `PG*` variables from the test's environment.
fn load(dir: &Path, db: &str, table: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = cmd(dir);
    c.env("HOME", &home);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PG")) {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c.args(["load", "postgres", "stage", "--db", db, "--table", table, "--no-progress"]).args(args);
    c.output().expect("pqstage runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_loaded(o: &Output, port: u16, dir: &Path, table: &str) {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let q = format!("SELECT year::text, count(*) FROM {table} GROUP BY year ORDER BY year NULLS LAST");
    let got: Vec<(String, i64)> = admin(port, "pqstage")
        .query(&q, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, Option<String>>(0).unwrap_or_else(|| "NULL".into()), r.get(1)))
        .collect();
    assert_eq!(got, manifest_per_year(&dir.join("stage")));
}

/// The TLS URL for `user` at `host`, with extra parameters.
fn tls_db(s: &TlsServer, user: &str, host: &str, params: &str) -> String {
    format!("postgres://{user}@{host}:{}/pqstage?{params}", s.port)
}

#[test]
fn verify_full_loads_with_every_connection_over_tls() {
    let s = tls_server();
    // Refused by the server in plaintext: a load that works used TLS on its
    // control connection and on each of its --jobs workers.
    role(s.port, "tls_full", "SUPERUSER IN ROLE pqstage_tls_only");
    let dir = staged_sample(3000);
    let ca = s.certs.join("ca.crt");
    let db = tls_db(&s, "tls_full", "localhost", &format!("sslmode=verify-full&sslrootcert={}", ca.display()));
    let o = load(dir.path(), &db, "tls_full_t", &["--jobs", "3"], &[]);
    assert_loaded(&o, s.port, dir.path(), "tls_full_t");
    // The same from libpq's environment variables instead of the URL.
    let env = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", ca.to_str().unwrap())];
    let o = load(dir.path(), &format!("postgres://tls_full@localhost:{}/pqstage", s.port), "tls_full_t", &[], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped"), "a rerun skips");
}

#[test]
fn a_wrong_ca_or_host_name_fails_naming_the_check() {
    let s = tls_server();
    let dir = staged_sample(500);
    let other = s.certs.join("other-ca.crt");
    let db = tls_db(&s, "pqtest", "localhost", &format!("sslmode=verify-full&sslrootcert={}", other.display()));
    let o = load(dir.path(), &db, "tls_wrong_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        format!(
            "pqstage: error: TLS to PostgreSQL at localhost:{}/pqstage failed: the server's certificate is not signed by a CA \
             in sslrootcert {} (sslmode=verify-full checks the chain): error performing TLS handshake: invalid peer \
             certificate: UnknownIssuer",
            s.port,
            other.display()
        )
    );

    let ca = s.certs.join("ca.crt");
    let by_ip = |mode: &str| tls_db(&s, "pqtest", "127.0.0.1", &format!("sslmode={mode}&sslrootcert={}", ca.display()));
    let o = load(dir.path(), &by_ip("verify-full"), "tls_wrong_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "TLS to PostgreSQL at 127.0.0.1:{}/pqstage failed: the server's certificate is for localhost, not for host \
             '127.0.0.1' (sslmode=verify-full checks the host name; connect by a name the certificate lists, or use \
             sslmode=verify-ca)",
            s.port
        )),
        "{e}"
    );
    // verify-ca checks the chain only, as in libpq.
    admin(s.port, "pqstage").batch_execute("DROP TABLE IF EXISTS tls_ca_t CASCADE").unwrap();
    let o = load(dir.path(), &by_ip("verify-ca"), "tls_ca_t", &[], &[]);
    assert_loaded(&o, s.port, dir.path(), "tls_ca_t");
}

#[test]
fn require_needs_a_tls_server_and_prefer_and_allow_fall_back_as_libpq_does() {
    let dir = staged_sample(500);
    let plain = plain_port();
    let db = format!("postgres://pqtest@127.0.0.1:{plain}/pqstage?sslmode=require");
    let o = load(dir.path(), &db, "tls_require_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "pqstage: error: TLS to PostgreSQL at 127.0.0.1:{plain}/pqstage failed: the server does not offer TLS, and \
             sslmode=require requires it"
        )),
        "{}",
        stderr(&o)
    );
    // prefer (the default) against a server without TLS: plaintext.
    admin(plain, "pqstage").batch_execute("DROP TABLE IF EXISTS tls_prefer_t CASCADE").unwrap();
    let o = load(dir.path(), &format!("postgres://pqtest@127.0.0.1:{plain}/pqstage"), "tls_prefer_t", &[], &[]);
    assert_loaded(&o, plain, dir.path(), "tls_prefer_t");

    // Against the TLS server, for a role refused in plaintext: prefer uses
    // TLS (unverified: there is no root certificate in this home folder),
    // allow starts in plaintext and retries with TLS, disable is refused.
    let s = tls_server();
    role(s.port, "tls_modes", "SUPERUSER IN ROLE pqstage_tls_only");
    for mode in ["prefer", "allow", "require"] {
        let o = load(
            dir.path(),
            &tls_db(&s, "tls_modes", "localhost", &format!("sslmode={mode}")),
            "tls_modes_t",
            &["--force"],
            &[],
        );
        assert_loaded(&o, s.port, dir.path(), "tls_modes_t");
    }
    let o = load(dir.path(), &tls_db(&s, "tls_modes", "localhost", "sslmode=disable"), "tls_modes_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("refused user tls_modes"), "{}", stderr(&o));
    assert!(stderr(&o).contains("no encryption"), "the server's reason is kept: {}", stderr(&o));
}

#[test]
fn a_client_certificate_authenticates_the_role() {
    let s = tls_server();
    role(s.port, "pqstage_certuser", "SUPERUSER IN ROLE pqstage_cert");
    let dir = staged_sample(500);
    let c = &s.certs;
    let params = format!(
        "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        c.join("ca.crt").display(),
        c.join("client.crt").display(),
        c.join("client.key").display()
    );
    let o = load(dir.path(), &tls_db(&s, "pqstage_certuser", "localhost", &params), "pqstage_certuser_t", &[], &[]);
    assert_loaded(&o, s.port, dir.path(), "pqstage_certuser_t");
    let params = format!("sslmode=verify-full&sslrootcert={}", c.join("ca.crt").display());
    let o = load(dir.path(), &tls_db(&s, "pqstage_certuser", "localhost", &params), "pqstage_certuser_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("refused user pqstage_certuser"), "{}", stderr(&o));
}

#[test]
fn the_password_file_is_used_unless_others_can_read_it() {
    let port = plain_port();
    let secret = "Pgpass-s3cret:with\\colon";
    role(port, "pw_file", "SUPERUSER IN ROLE pqstage_password PASSWORD 'Pgpass-s3cret:with\\colon'");
    let dir = staged_sample(500);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let pgpass = home.join(".pgpass");
    let escaped = secret.replace('\\', "\\\\").replace(':', "\\:");
    std::fs::write(&pgpass, format!("# test\n127.0.0.1:{port}:pqstage:pw_file:{escaped}\n")).unwrap();
    let mode = |m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(0o600);
    let db = format!("postgres://pw_file@127.0.0.1:{port}/pqstage");
    let o = load(dir.path(), &db, "pw_file_t", &[], &[]);
    assert_loaded(&o, port, dir.path(), "pw_file_t");

    mode(0o644);
    let o = load(dir.path(), &db, "pw_file_t", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "refused user pw_file: the server asks for a password and none was given; password file {} has group \
             or world access; permissions should be u=rw (0600) or less",
            pgpass.display()
        )),
        "{e}"
    );
    // PGPASSFILE names another file.
    let elsewhere = dir.path().join("passwords");
    std::fs::rename(&pgpass, &elsewhere).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = load(dir.path(), &db, "pw_file_t", &[], &[("PGPASSFILE", elsewhere.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn no_password_is_ever_printed() {
    let port = plain_port();
    let secret = "Never-Print-Me-7";
    role(port, "pw_quiet", &format!("SUPERUSER IN ROLE pqstage_password PASSWORD '{secret}'"));
    let dir = staged_sample(500);
    let wrong = "Wrong-Pass-Word-9";
    // (connection string, environment, exit code)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, i32);
    let cases: Vec<Case<'_>> = vec![
        (format!("postgres://pw_quiet:{secret}@127.0.0.1:{port}/pqstage"), vec![], 0),
        (format!("postgres://pw_quiet@127.0.0.1:{port}/pqstage"), vec![("PGPASSWORD", secret)], 0),
        (format!("postgres://pw_quiet:{wrong}@127.0.0.1:{port}/pqstage"), vec![], 2),
        (format!("postgres://pw_quiet@127.0.0.1:{port}/pqstage"), vec![("PGPASSWORD", wrong)], 2),
        (format!("postgres://pw_quiet:{secret}@127.0.0.1:notaport/pqstage"), vec![], 2),
        (format!("postgres://pw_quiet:{secret}@127.0.0.1:{port}/pqstage?sslmode=bogus"), vec![], 2),
        (format!("host=127.0.0.1 port={port} user=pw_quiet password={secret} dbname=pqstage sslrootcrt=x"), vec![], 2),
        (format!("postgres://pw_quiet:{secret}@127.0.0.1:1/pqstage"), vec![], 2),
    ];
    for (db, env, code) in cases {
        for verbose in [&[][..], &["-v"][..]] {
            let o = load(dir.path(), &db, "pw_quiet_t", verbose, &env);
            assert_eq!(o.status.code(), Some(code), "{db}: {}", stderr(&o));
            let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
            assert!(!all.contains(secret) && !all.contains(wrong), "a password was printed for {db}:\n{all}");
            if code == 2 {
                assert!(all.starts_with("pqstage: error: "), "{all}");
            }
        }
    }
}

#[test]
fn a_least_privileged_role_loads_and_reruns_and_a_missing_grant_is_named() {
    let port = plain_port();
    let mut a = admin(port, "postgres");
    // One statement per call: CREATE and DROP DATABASE refuse to run in the
    // implicit transaction of a multi-statement string.
    for sql in [
        "DROP DATABASE IF EXISTS pqleast WITH (FORCE)",
        "DROP ROLE IF EXISTS pq_least",
        "DROP ROLE IF EXISTS pq_lacking",
        "CREATE DATABASE pqleast",
        "CREATE ROLE pq_least LOGIN PASSWORD 'least-pw' IN ROLE pqstage_password",
        "CREATE ROLE pq_lacking LOGIN PASSWORD 'lacking-pw' IN ROLE pqstage_password",
    ] {
        a.batch_execute(sql).unwrap();
    }
    // Exactly the README's grants ("The loading role"); PostgreSQL 15's
    // default for the schema public (no CREATE for PUBLIC) made explicit.
    admin(port, "pqleast")
        .batch_execute(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC; \
             CREATE SCHEMA pqstage AUTHORIZATION pq_least; \
             CREATE SCHEMA warehouse AUTHORIZATION pq_least",
        )
        .unwrap();
    let dir = staged_sample(3000);
    let db = format!("postgres://pq_least:least-pw@127.0.0.1:{port}/pqleast");
    let table = ["--schema", "warehouse", "--index", "company_name", "--jobs", "2"];
    let o = load(dir.path(), &db, "violations", &table, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = load(dir.path(), &db, "violations", &table, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped"), "the rerun skips");
    let o = load(dir.path(), &db, "violations", &[&table[..], &["--force"]].concat(), &[]);
    assert_eq!(o.status.code(), Some(0), "a forced reload swaps partitions: {}", stderr(&o));
    let count: i64 = admin(port, "pqleast").query_one("SELECT count(*) FROM warehouse.violations", &[]).unwrap().get(0);
    assert_eq!(count, 3000);

    // A role with the state table's grants but no CREATE on its target schema.
    admin(port, "pqleast")
        .batch_execute(
            "GRANT USAGE ON SCHEMA pqstage TO pq_lacking; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON pqstage.load_state TO pq_lacking",
        )
        .unwrap();
    let db = format!("postgres://pq_lacking:lacking-pw@127.0.0.1:{port}/pqleast");
    let o = load(dir.path(), &db, "lacking", &[], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "pqstage: error: PostgreSQL: create \"public\".\"lacking\": role pq_lacking lacks USAGE and CREATE on schema public: \
         db error: ERROR: permission denied for schema public\n\
         (an administrator can grant it: GRANT USAGE, CREATE ON SCHEMA public TO pq_lacking; the README's \
         \"The loading role\" lists every privilege a load needs)"
    );
    // ... and one that does not own the table it is asked to reload.
    admin(port, "pqleast").batch_execute("GRANT USAGE, CREATE ON SCHEMA warehouse TO pq_lacking").unwrap();
    let o = load(dir.path(), &db, "violations", &["--schema", "warehouse", "--force"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("role pq_lacking lacks ownership of table warehouse.violations"), "{}", stderr(&o));
    assert!(stderr(&o).contains("ALTER TABLE warehouse.violations"), "{}", stderr(&o));
}
