//! Connection settings against the two test servers `make test` starts: the
//! plain one (PQSTAGE_PG_URL) and the one with `ssl = on`
//! (PQSTAGE_PG_TLS_URL, a CA of its own). What the server reports about each
//! session (`pg_stat_ssl`, `pg_stat_activity`) is the proof.

use pqstage_postgres::connect::{connect, Settings};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run `make test` (tests/with-servers.sh)"))
}

/// Resolves `db` with an environment of only `vars` (and a home folder with
/// no ~/.postgresql or ~/.pgpass in it).
fn settings(db: &str, vars: &[(&str, &str)]) -> Settings {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    let env = move |k: &str| match k {
        "HOME" => Some("/nonexistent".to_string()),
        _ => vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
    };
    Settings::resolve_with(Some(db), &env).unwrap_or_else(|e| panic!("{db}: {e}"))
}

/// (application_name, TLS in use, TLS version) of the session.
fn session(s: &Settings) -> (String, bool, Option<String>) {
    let mut c = connect(s).unwrap_or_else(|e| panic!("{}: {e}", s.describe()));
    let r = c
        .query_one(
            "SELECT a.application_name, coalesce(s.ssl, false), s.version \
             FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s USING (pid) WHERE a.pid = pg_backend_pid()",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

fn tls_port() -> String {
    let url = var("PQSTAGE_PG_TLS_URL");
    url.split("localhost:").nth(1).and_then(|r| r.split('/').next()).unwrap().to_string()
}

fn ca() -> String {
    var("PQSTAGE_PG_TLS_URL").split("sslrootcert=").nth(1).unwrap().to_string()
}

#[test]
fn each_sslmode_gives_the_session_libpq_would() {
    let port = tls_port();
    let tls = |mode: &str| format!("postgres://pqtest@localhost:{port}/pqstage?sslmode={mode}&sslrootcert={}", ca());
    let (app, ssl, version) = session(&settings(&tls("verify-full"), &[]));
    assert_eq!((app.as_str(), ssl), ("pqstage", true));
    assert!(matches!(version.as_deref(), Some("TLSv1.2" | "TLSv1.3")), "{version:?}");
    assert!(session(&settings(&tls("verify-ca"), &[])).1);
    assert!(session(&settings(&tls("require"), &[])).1);
    assert!(!session(&settings(&tls("disable"), &[])).1);
    assert!(!session(&settings(&tls("allow"), &[])).1, "allow starts in plaintext");
    // prefer, with no root certificate anywhere: TLS, unverified, as libpq.
    let prefer = format!("postgres://pqtest@localhost:{port}/pqstage");
    assert!(session(&settings(&prefer, &[])).1);
    // prefer whose TLS fails (a root file that does not sign the server's
    // certificate) goes on in plaintext, as libpq does; require does not.
    let other_ca = ca().replace("/ca.crt", "/other-ca.crt");
    let wrong =
        |mode: &str| format!("postgres://pqtest@localhost:{port}/pqstage?sslmode={mode}&sslrootcert={other_ca}");
    assert!(!session(&settings(&wrong("prefer"), &[])).1);
    let e = connect(&settings(&wrong("require"), &[])).err().expect("require checks the chain when a root file exists");
    assert!(e.to_string().contains("is not signed by a CA in sslrootcert"), "{e}");
    let capped = format!("{}&ssl_max_protocol_version=TLSv1.2", tls("verify-full"));
    assert_eq!(session(&settings(&capped, &[])).2.as_deref(), Some("TLSv1.2"));
    // prefer against the server without TLS: plaintext.
    assert!(!session(&settings(&var("PQSTAGE_PG_URL"), &[])).1);
}

#[test]
fn application_name_comes_from_the_string_or_pgappname() {
    let url = var("PQSTAGE_PG_URL");
    assert_eq!(session(&settings(&url, &[("PGAPPNAME", "nightly-load")])).0, "nightly-load");
    assert_eq!(session(&settings(&format!("{url}?application_name=etl"), &[("PGAPPNAME", "x")])).0, "etl");
}

#[test]
fn scram_with_channel_binding_over_tls() {
    let port = tls_port();
    let admin = format!("host=127.0.0.1 port={port} user=pqtest dbname=pqstage");
    let mut a = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    a.batch_execute(
        "DROP ROLE IF EXISTS pq_binding; \
         CREATE ROLE pq_binding LOGIN PASSWORD 'bind-me' IN ROLE pqstage_password",
    )
    .unwrap();
    // The server computes the binding from its own certificate: a wrong hash
    // on our side fails authentication.
    let db = format!(
        "postgres://pq_binding:bind-me@localhost:{port}/pqstage?sslmode=verify-full&sslrootcert={}&channel_binding=require",
        ca()
    );
    assert!(session(&settings(&db, &[])).1);
    let plain =
        format!("postgres://pq_binding:bind-me@127.0.0.1:{port}/pqstage?sslmode=disable&channel_binding=require");
    let e = connect(&settings(&plain, &[])).err().expect("no binding without TLS");
    assert!(e.to_string().contains("refused user pq_binding") || e.to_string().contains("cannot reach"), "{e}");
}

#[test]
fn several_hosts_are_tried_in_order() {
    let url = var("PQSTAGE_PG_URL");
    let port = url.rsplit(':').next().and_then(|r| r.split('/').next()).unwrap();
    // Nothing listens on port 9 (discard): the second host answers.
    let db = format!("host=127.0.0.1,127.0.0.1 port=9,{port} user=pqtest dbname=pqstage connect_timeout=5");
    let s = settings(&db, &[]);
    assert_eq!(s.describe(), format!("127.0.0.1:9,127.0.0.1:{port}/pqstage"));
    assert_eq!(session(&s).0, "pqstage");
}
