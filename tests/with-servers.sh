#!/usr/bin/env bash
# Runs a command with the servers the tests talk to: a throwaway PostgreSQL
# (tests/pg/pg.sh), a second one with TLS on (tests/pg/pg-tls.sh), an
# S3-compatible server (tests/s3/s3.sh) and Azure Blob
# emulator (tests/az/az.sh), each on a port of its own, started here and
# stopped (and deleted) when the command ends. A server already named in the
# environment is used instead: PQSTAGE_PG_URL, PQSTAGE_PG_TLS_URL,
# PQSTAGE_S3_ENDPOINT, AZURITE_BLOB_STORAGE_URL.
#
#   tests/with-servers.sh cargo test --workspace
#
# Ports: PG_TEST_PORT (55433), PG_TLS_TEST_PORT (55434), S3_TEST_PORT
# (59015), AZ_TEST_PORT (10010).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PQSTAGE_PG_PORT="${PG_TEST_PORT:-55433}"
export PQSTAGE_PG_TLS_PORT="${PG_TLS_TEST_PORT:-55434}"
export PQSTAGE_S3_PORT="${S3_TEST_PORT:-59015}"
export PQSTAGE_AZ_PORT="${AZ_TEST_PORT:-10010}"

started=()
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A server on our port that we did not start belongs to someone else (another
# test run, say): stopping it afterwards would pull it from under them.
free() {
  in_use "$1" && { echo "with-servers.sh: port $1 is in use; name that server with $2 or pick another port with $3" >&2; exit 2; }
  return 0
}
stop() {
  for s in "${started[@]}"; do bash "$here/$s" down || true; done
}
trap stop EXIT

# ensure VAR PORT PORT_VAR SCRIPT WHAT: the server VAR names, or one started
# with SCRIPT on PORT (and stopped at the end).
ensure() {
  local var="$1" port="$2" port_var="$3" script="$4" what="$5"
  if [[ -n "${!var:-}" ]]; then
    echo "using the $what at ${!var}"
    return
  fi
  free "$port" "$var" "$port_var"
  local value
  value="$(bash "$here/$script" up)" # set -e stops here if it fails
  printf -v "$var" '%s' "$value"
  started+=("$script")
  echo "started a throwaway $what at ${!var}"
}
ensure PQSTAGE_PG_URL "$PQSTAGE_PG_PORT" PG_TEST_PORT pg/pg.sh PostgreSQL
ensure PQSTAGE_PG_TLS_URL "$PQSTAGE_PG_TLS_PORT" PG_TLS_TEST_PORT pg/pg-tls.sh "PostgreSQL with TLS"
ensure PQSTAGE_S3_ENDPOINT "$PQSTAGE_S3_PORT" S3_TEST_PORT s3/s3.sh "S3 server"
ensure AZURITE_BLOB_STORAGE_URL "$PQSTAGE_AZ_PORT" AZ_TEST_PORT az/az.sh "Azure Blob emulator"
export PQSTAGE_PG_URL PQSTAGE_PG_TLS_URL PQSTAGE_S3_ENDPOINT AZURITE_BLOB_STORAGE_URL
"$@"
