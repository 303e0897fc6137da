#!/usr/bin/env bash
# DuckDB load benchmark: `pqstage load duckdb` against DuckDB's own
# `CREATE TABLE t AS SELECT * FROM read_parquet('…/**/*.parquet', hive_partitioning = true)`
# from Python, on the same staged files, in the same run. Peers:
#   duckdb 2.0.0 — the newest on PyPI, defaults;
#   duckdb 1.5.6 — the engine pqstage links, with the storage format pqstage
#                  gives new files (storage_compatibility_version=latest): the
#                  like-for-like comparison;
#   duckdb 1.5.6 with its default (0.10-compatible) storage, for reference.
# Also: reload of an unchanged dataset, and the load after a correction to one
# record (re-convert, then load: one partition replaced).
#
# Usage: bash bench/load_duckdb.sh          (part of `make bench`)
#
# Environment:
#   ROWS=18000000   rows of the sample (the CSV is shared with bench/convert.sh)
#   REPEAT=1        runs per measurement; the best wall time and the max RSS are reported
#   PQSTAGE=...     binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/pqstage/target}/release/pqstage)
#
# Files: bench/data/violations-$ROWS.csv (generated when missing) and a
# corrected copy (one citation_id changed), the staged dataset in
# bench/out/load/stage, DuckDB files and logs in bench/out/load, the report in
# bench/out/load-duckdb-results.md. Peak RSS is MiB (`/usr/bin/time -v`).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/load"
need_pqstage
CSV_FIXED="$DATA/violations-$ROWS-corrected.csv"
SPEC="$DATA/violations.spec.toml"
STAGE="$OUT/stage"
REPORT="$BENCH/out/load-duckdb-results.md"

# --- peers: one virtualenv per DuckDB version --------------------------------
venv() { # name version -> prints the python
  local dir="$BENCH/.venv-duckdb-$2"
  if [[ ! -x "$dir/bin/python" ]] || ! "$dir/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$2')" 2>/dev/null; then
    log "installing duckdb==$2 into $dir"
    python3 -m venv "$dir" >&2 || die "python3 -m venv failed"
    "$dir/bin/pip" install -q --disable-pip-version-check "duckdb==$2" >&2 || die "pip install duckdb==$2 failed"
  fi
  echo "$dir/bin/python"
}
PY15="$(venv peer 1.5.6)"
PY20="$(venv peer 2.0.0)"

# --- data: the sample, a corrected copy, the staged dataset ------------------
"$PQSTAGE" sample violations --spec-out "$SPEC"
ensure_sample "$ROWS" "$CSV" "$CSV_FIXED"
convert() { # csv
  "$PQSTAGE" convert "$1" --spec "$SPEC" --to "$STAGE" --dataset violations --no-progress >/dev/null
}

# --- measurement ---------------------------------------------------------------
: >"$RESULTS"
log "converting $CSV into $STAGE"
convert "$CSV"
for ((i = 1; i <= REPEAT; i++)); do
  log "run $i/$REPEAT"
  cat "$STAGE"/violations/*/*.parquet >/dev/null # same page cache for everyone
  once "duckdb-2.0.0" "$PY20" "$BENCH/ctas.py" "$OUT/peer20.duckdb" "$STAGE/violations"
  once "duckdb-1.5.6" "$PY15" "$BENCH/ctas.py" "$OUT/peer15.duckdb" "$STAGE/violations" latest
  once "duckdb-1.5.6-default-storage" "$PY15" "$BENCH/ctas.py" "$OUT/peer15d.duckdb" "$STAGE/violations"
  rm -f "$OUT/pqstage.duckdb" "$OUT/pqstage.duckdb.wal"
  once "pqstage" "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pqstage.duckdb" --no-progress
  once "pqstage-unchanged" "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pqstage.duckdb" --no-progress
  # A correction: re-convert (not timed), load, then restore the original.
  convert "$CSV_FIXED"
  once "pqstage-correction" "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pqstage.duckdb" --no-progress
  grep -q '^loaded 1 partitions' "$OUT/log-pqstage-correction.txt" || die "the correction did not reload exactly one partition"
  convert "$CSV"
done

# --- report ----------------------------------------------------------------------
{
  echo "## pqstage load duckdb benchmark ($ROWS rows, REPEAT=$REPEAT)"
  echo
  echo "- $("$PQSTAGE" --version), linking DuckDB 1.5.6 (new files: storage_compatibility_version=latest); peers: Python duckdb 2.0.0 and 1.5.6"
  echo "- staged: $(du -sb "$STAGE/violations" | cut -f1) bytes in $(find "$STAGE/violations" -name '*.parquet' -path '*year=*' | wc -l) files"
  echo "- nproc $(nproc); cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo
  awk -F'\t' "$AWK_BEST"'
    function verdict(ok) { if (!ok) failed = 1; return ok ? "PASS" : "FAIL" }
    END {
      print "| run | wall s (best) | peak RSS MB | vs pqstage full load |"
      print "| --- | ---: | ---: | ---: |"
      for (i = 1; i <= n; i++) { l = order[i]; printf "| %s | %.2f | %.0f | %.2fx |\n", l, best[l], rss[l] / 1024, best[l] / best["pqstage"] }
      print ""
      r15 = best["pqstage"] / best["duckdb-1.5.6"]; r20 = best["pqstage"] / best["duckdb-2.0.0"]
      printf "- full load: %.2fx DuckDB 2.0.0 CTAS (newest on PyPI), target <= 1.10x: %s\n", r20, verdict(r20 <= 1.10)
      printf "- full load: %.2fx DuckDB 1.5.6 CTAS (same engine, same storage format), target <= 1.10x: %s\n", r15, verdict(r15 <= 1.10)
      printf "- unchanged reload: %.2f s, target < 1 s: %s\n", best["pqstage-unchanged"], verdict(best["pqstage-unchanged"] < 1)
      c = best["pqstage-correction"] / best["pqstage"]
      printf "- correction reload: %.3fx the full load, target <= 0.2x: %s\n", c, verdict(c <= 0.2)
      print ""
      print (failed ? "RESULT: FAIL" : "RESULT: PASS")
    }' "$RESULTS"
} | tee "$REPORT"
log "report written to $REPORT"
