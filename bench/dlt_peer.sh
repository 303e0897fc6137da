#!/usr/bin/env bash
# dlt's merge against pqstage's incremental load into PostgreSQL, in one run:
# the sample (ROWS, default 2000000: dlt's first load of 18 M rows through
# Python would take the better part of an hour here) loaded whole by both,
# then a later dump of the same records (`sample --revision 1`) applied:
# pqstage from its change sets (MERGE into the year partitions), dlt merging
# the same changed rows (read from pqstage's change-set files, so dlt gets
# the change already computed) into its own table (delete-insert, its
# default; DLT_STRATEGY=upsert for the other). pqstage runs with
# --no-summaries: dlt keeps none. Both tables are then compared: rows, and
# the sums of the penalties and of the record keys.
#
# Usage: bash bench/dlt_peer.sh      (make bench-dlt)
# dlt comes from PyPI into bench/.venv-dlt on first use. The server is a
# throwaway one on port 55443, deleted at the end.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROWS="${ROWS:-2000000}"
bench_init "$BENCH/out/dlt"
need_pqstage
REPORT="$BENCH/out/dlt-results.md"
CSV1="$DATA/violations-$ROWS-rev1.csv"
SPEC="$OUT/violations.toml"
STAGE="$OUT/stage"
: >"$RESULTS"

VENV="$BENCH/.venv-dlt"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import dlt, pyarrow" 2>/dev/null; then
  log "installing dlt[postgres] and pyarrow into $VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check "dlt[postgres]==1.31.0" pyarrow ||
    die "pip install dlt failed"
fi
DLT_VERSION="$("$VENV/bin/python" -c 'import dlt; print(dlt.__version__)')"

ensure_sample "$ROWS" "$CSV"
if [[ ! -s "$CSV1" || "$CSV1" -ot "$CSV" ]]; then
  "$PQSTAGE" sample violations --rows "$ROWS" --revision 1 --out "$CSV1.tmp" -q && mv "$CSV1.tmp" "$CSV1"
fi
"$PQSTAGE" sample violations --spec-out "$SPEC"

start_pg 55443
URL="postgres://pqtest@127.0.0.1:55443/pqstage?sslmode=disable"
# dlt insists on a password; the throwaway server trusts loopback and ignores it.
DLT_URL="postgresql://pqtest:unused@127.0.0.1:55443/pqstage?sslmode=disable"
sql() { "$PSQL" "$URL" -qXAt -v ON_ERROR_STOP=1 "$@"; }
settle() { sql -c CHECKPOINT; sync; }
export DLT_DIR="$OUT/dlt-pipelines" RUNTIME__LOG_LEVEL=WARNING
rm -rf "$STAGE" "$DLT_DIR"

"$PQSTAGE" convert "$CSV" --spec "$SPEC" --to "$STAGE" --no-progress -q
settle
once pg_first_load "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations --no-summaries --no-progress
settle
once dlt_first_load "$VENV/bin/python" "$BENCH/dlt_merge.py" initial "$STAGE/violations" "$DLT_URL"

cp "$STAGE/violations/_manifest.json" "$OUT/previous-manifest.json"
"$PQSTAGE" convert "$CSV1" --spec "$SPEC" --to "$STAGE" --no-progress -q
settle
once pg_incremental "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations --no-summaries --no-progress
settle
once dlt_merge "$VENV/bin/python" "$BENCH/dlt_merge.py" merge "$STAGE/violations" "$DLT_URL" "$OUT/previous-manifest.json"

CONTENT="count(*) || ' rows, penalties ' || coalesce(sum(current_penalty), 0) || ', keys ' || sum(activity_nr) || ', years ' || coalesce(sum(year), 0)"
PQ="$(sql -c "SELECT $CONTENT FROM public.violations")"
DL="$(sql -c "SELECT $CONTENT FROM dlt_peer.violations")"
[[ "$PQ" == "$DL" ]] || die "dlt's table ($DL) differs from pqstage's ($PQ)"
log "content: both tables hold $PQ"

{
  echo "# dlt $DLT_VERSION merge against pqstage's incremental load: $ROWS rows ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Both tables after the later dump: $PQ."
  echo
  ratio_table dlt_first_load=pg_first_load dlt_merge=pg_incremental
} >"$REPORT"
cat "$REPORT"
