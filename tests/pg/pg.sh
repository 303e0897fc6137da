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
# /tmp/pqstage-pg-PORT), PQSTAGE_PG_BIN (default the newest
# /usr/lib/postgresql/*/bin), PQSTAGE_PG_OPTS (extra server options, e.g.
# "-c fsync=off").
set -euo pipefail

port="${PQSTAGE_PG_PORT:-55432}"
dir="${PQSTAGE_PG_DIR:-/tmp/pqstage-pg-$port}"
bin="${PQSTAGE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
url="postgres://pqtest@127.0.0.1:$port/pqstage"

die() { echo "pg.sh: $*" >&2; exit 1; }
[[ -x "$bin/initdb" && -x "$bin/pg_ctl" ]] ||
  die "no PostgreSQL server binaries (initdb, pg_ctl) in '$bin'; install postgresql-15 or set PQSTAGE_PG_BIN"

as_server() {
  if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user to run the server as"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  up)
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown postgres: "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_server "$bin/initdb" -D "$dir/data" -U pqtest --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if ! as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${PQSTAGE_PG_OPTS:-}" start >/dev/null ||
        { tail -20 "$dir/server.log" >&2; die "pg_ctl start failed (port $port in use?)"; }
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U pqtest -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pqstage'" | grep -q 1; then
      "$bin/psql" -h 127.0.0.1 -p "$port" -U pqtest -d postgres -qc "CREATE DATABASE pqstage" >/dev/null
    fi
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
