#!/usr/bin/env bash
# The throwaway PostgreSQL of tests/pg/pg.sh with TLS on (`ssl = on`, a CA and
# certificates made with openssl), on a port of its own: PQSTAGE_PG_TLS_PORT
# (default 55444). Same commands: up | down | url.
set -euo pipefail
export PQSTAGE_PG_PORT="${PQSTAGE_PG_TLS_PORT:-55444}" PQSTAGE_PG_TLS=1
unset PQSTAGE_PG_DIR
exec bash "$(dirname "${BASH_SOURCE[0]}")/pg.sh" "$@"
