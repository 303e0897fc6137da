#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks, from the installed server
# binaries: initdb + pg_ctl on a private port and socket folder. Run as root,
# the server runs as the `postgres` user (PostgreSQL refuses to run as root).
#
#   tests/pg/pg.sh up      start (initdb on first use); prints the URL
#   tests/pg/pg.sh down    stop and delete the cluster
#   tests/pg/pg.sh url     print the URL
#
# Environment: PQSTAGE_PG_PORT (default 55432), PQSTAGE_PG_DIR (default
# /tmp/pqstage-pg-PORT, /tmp/pqstage-pg-tls-PORT with TLS), PQSTAGE_PG_BIN (default the newest
# /usr/lib/postgresql/*/bin), PQSTAGE_PG_OPTS (extra server options, e.g.
# "-c fsync=off"), PQSTAGE_PG_TLS=1 (TLS on, see below).
#
# Authentication: the superuser `pqtest` and other roles are trusted, except
# members of `pqstage_password` (scram-sha-256 password) and, with TLS, of
# `pqstage_cert` (a client certificate) and `pqstage_tls_only` (refused
# without TLS). The tests create such roles to exercise passwords, .pgpass,
# client certificates and least privilege.
#
# With PQSTAGE_PG_TLS=1 the server also accepts TLS (`ssl = on`) with a
# certificate for the name `localhost` only, signed by a CA made here with
# openssl; the URL printed is `postgres://pqtest@localhost:PORT/pqstage?
# sslmode=verify-full&sslrootcert=DIR/tls/ca.crt`. Next to ca.crt:
# other-ca.crt (a CA that signed nothing here) and client.crt / client.key
# (a client certificate for the role pqstage_certuser).
set -euo pipefail

port="${PQSTAGE_PG_PORT:-55432}"
tls="${PQSTAGE_PG_TLS:-0}"
# A TLS cluster has a folder of its own: a plain one on the same port has no
# certificates.
kind=""
[[ "$tls" == 1 ]] && kind="tls-"
dir="${PQSTAGE_PG_DIR:-/tmp/pqstage-pg-$kind$port}"
[[ "$dir" == /* ]] || dir="$PWD/$dir"
bin="${PQSTAGE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [[ "$tls" == 1 ]]; then
  url="postgres://pqtest@localhost:$port/pqstage?sslmode=verify-full&sslrootcert=$dir/tls/ca.crt"
else
  url="postgres://pqtest@127.0.0.1:$port/pqstage"
fi

die() { echo "pg.sh: $*" >&2; exit 1; }
[[ -x "$bin/initdb" && -x "$bin/pg_ctl" ]] ||
  die "no PostgreSQL server binaries (initdb, pg_ctl) in '$bin'; install postgresql-15 or set PQSTAGE_PG_BIN"

as_server() {
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run the server as"
    # From a folder the server's user can read: the tools change back to
    # the caller's folder and complain when it is private (/root).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# make_certs DIR: a CA, a server certificate for `localhost` (DNS name only,
# so connecting to 127.0.0.1 fails verify-full's host check), a second CA
# and a client certificate for the role pqstage_certuser.
make_certs() {
  local d="$1" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  command -v openssl >/dev/null || die "TLS needs openssl (Debian package openssl)"
  mkdir -p "$d"
  (
    cd "$d"
    for ca in ca other-ca; do
      openssl req -x509 "${ec[@]}" -keyout "$ca.key" -out "$ca.crt" -days 3650 -subj "/CN=pqstage test $ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    done
    sign() { # sign NAME CN EXTENSIONS
      openssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 \
        -extfile <(printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" $3)
      rm "$1.csr"
    }
    sign server localhost "subjectAltName=DNS:localhost extendedKeyUsage=serverAuth"
    sign client pqstage_certuser "extendedKeyUsage=clientAuth"
    chmod 600 ./*.key
  ) >"$dir/certs.log" 2>&1
  # (set -e does not reach into a subshell tested by ||, so check the result.)
  for f in ca.crt other-ca.crt server.crt server.key client.crt client.key; do
    [[ -s "$d/$f" ]] || { cat "$dir/certs.log" >&2; die "openssl did not make $d/$f"; }
  done
  [[ "$(id -u)" == 0 ]] && chown postgres: "$d/server.key"
  return 0
}

write_hba() {
  {
    echo "# written by tests/pg/pg.sh"
    echo "local all all trust"
    if [[ "$tls" == 1 ]]; then
      echo "hostnossl all +pqstage_tls_only 127.0.0.1/32 reject"
      echo "hostnossl all +pqstage_cert 127.0.0.1/32 reject"
      echo "hostssl all +pqstage_cert 127.0.0.1/32 cert"
    fi
    echo "host all +pqstage_password 127.0.0.1/32 scram-sha-256"
    echo "host all all 127.0.0.1/32 trust"
    echo "host all all ::1/128 trust"
  } >"$dir/data/pg_hba.conf"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$dir/data/pg_hba.conf"
  return 0
}

psql_admin() { "$bin/psql" -h 127.0.0.1 -p "$port" -U pqtest -X -q "$@"; }

case "${1:-}" in
  up)
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_server "$bin/initdb" -D "$dir/data" -U pqtest --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
      write_hba
      [[ "$tls" == 1 ]] && make_certs "$dir/tls"
    fi
    opts="-p $port -k $dir -c listen_addresses=127.0.0.1"
    if [[ "$tls" == 1 ]]; then
      opts+=" -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key -c ssl_ca_file=$dir/tls/ca.crt"
    fi
    if ! as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "$opts ${PQSTAGE_PG_OPTS:-}" start >/dev/null ||
        { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed (port $port in use?)"; }
    fi
    if ! psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pqstage'" | grep -q 1; then
      psql_admin -d postgres -c "CREATE DATABASE pqstage" >/dev/null
    fi
    psql_admin -d postgres -c "DO \$\$ DECLARE r text; BEGIN
      FOREACH r IN ARRAY ARRAY['pqstage_password', 'pqstage_cert', 'pqstage_tls_only'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN EXECUTE format('CREATE ROLE %I NOLOGIN', r); END IF;
      END LOOP; END \$\$" >/dev/null
    echo "$url"
    ;;
  down)
    if [[ -f "$dir/data/PG_VERSION" ]]; then
      as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  url)
    echo "$url"
    ;;
  *)
    die "usage: pg.sh up|down|url"
    ;;
esac
