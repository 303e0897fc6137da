#!/usr/bin/env bash
# Runs a command with the servers the tests talk to: a throwaway PostgreSQL
# (tests/pg/pg.sh), S3-compatible server (tests/s3/s3.sh) and Azure Blob
# emulator (tests/az/az.sh), each on a port of its own, started here and
# stopped (and deleted) when the command ends. A server already named in the
# environment is used instead: PQSTAGE_PG_URL, PQSTAGE_S3_ENDPOINT,
# AZURITE_BLOB_STORAGE_URL.
#
#   tests/with-servers.sh cargo test --workspace
#
# Ports: PG_TEST_PORT (55433), S3_TEST_PORT (59015), AZ_TEST_PORT (10010).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PQSTAGE_PG_PORT="${PG_TEST_PORT:-55433}"
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

if [[ -z "${PQSTAGE_PG_URL:-}" ]]; then
  free "$PQSTAGE_PG_PORT" PQSTAGE_PG_URL PG_TEST_PORT
  PQSTAGE_PG_URL="$(bash "$here/pg/pg.sh" up)"
  started+=(pg/pg.sh)
  echo "started a throwaway PostgreSQL at $PQSTAGE_PG_URL"
else
  echo "using the PostgreSQL at $PQSTAGE_PG_URL"
fi
if [[ -z "${PQSTAGE_S3_ENDPOINT:-}" ]]; then
  free "$PQSTAGE_S3_PORT" PQSTAGE_S3_ENDPOINT S3_TEST_PORT
  PQSTAGE_S3_ENDPOINT="$(bash "$here/s3/s3.sh" up)"
  started+=(s3/s3.sh)
  echo "started a throwaway S3 server at $PQSTAGE_S3_ENDPOINT"
else
  echo "using the S3 server at $PQSTAGE_S3_ENDPOINT"
fi
if [[ -z "${AZURITE_BLOB_STORAGE_URL:-}" ]]; then
  free "$PQSTAGE_AZ_PORT" AZURITE_BLOB_STORAGE_URL AZ_TEST_PORT
  AZURITE_BLOB_STORAGE_URL="$(bash "$here/az/az.sh" up)"
  started+=(az/az.sh)
  echo "started a throwaway Azure Blob emulator at $AZURITE_BLOB_STORAGE_URL"
else
  echo "using the Azure Blob emulator at $AZURITE_BLOB_STORAGE_URL"
fi
export PQSTAGE_PG_URL PQSTAGE_S3_ENDPOINT AZURITE_BLOB_STORAGE_URL
"$@"
