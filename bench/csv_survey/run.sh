#!/usr/bin/env bash
# Run pqstage over every file of the CSV survey's manifest and compare with
# DuckDB's baseline.
#
# Usage: bash bench/csv_survey/run.sh PQSTAGE_BINARY
#
# For each file in OUT/manifest.tsv (baseline.py): `pqstage convert FILE`
# with the spec inferred and a 60 s timeout; when it exits 0, the staged
# Parquet is read back with DuckDB (read_parquet, hive_partitioning) to count
# its rows and columns; the file is then classed against the baseline (see
# survey.sh for the class names). Writes OUT/results.tsv and prints one line
# per file, then the count of each class and of each pqstage exit code.
#
# Environment: CSV_SURVEY_PY (a Python with duckdb; default
# bench/.venv-csv-survey/bin/python if present, else bench/.venv/bin/python),
# CSV_SURVEY_FILES (default bench/data/csv-survey/files), CSV_SURVEY_OUT
# (default bench/out/csv-survey). pqstage needs libduckdb: LD_LIBRARY_PATH
# defaults to $DUCKDB_LIB_DIR, else ~/.cache/pqstage/libduckdb-1.5.6.
set -u
PQSTAGE=${1:?usage: run.sh PQSTAGE_BINARY}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
if [[ -z "${CSV_SURVEY_PY:-}" ]]; then
  CSV_SURVEY_PY="$BENCH/.venv-csv-survey/bin/python"
  [[ -x "$CSV_SURVEY_PY" ]] || CSV_SURVEY_PY="$BENCH/.venv/bin/python"
fi
PY="$CSV_SURVEY_PY"
FILES="${CSV_SURVEY_FILES:-$BENCH/data/csv-survey/files}"
OUT="${CSV_SURVEY_OUT:-$BENCH/out/csv-survey}"
MANIFEST="$OUT/manifest.tsv"
RESULTS="$OUT/results.tsv"
STAGE="$OUT/stage"
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-${DUCKDB_LIB_DIR:-$HOME/.cache/pqstage/libduckdb-1.5.6}}"

[[ -x "$PQSTAGE" ]] || { echo "run.sh: pqstage binary not found at $PQSTAGE" >&2; exit 1; }
[[ -x "$PY" ]] || { echo "run.sh: no Python at $PY (set CSV_SURVEY_PY)" >&2; exit 1; }
[[ -f "$MANIFEST" ]] || { echo "run.sh: $MANIFEST missing (run baseline.py first)" >&2; exit 1; }
mkdir -p "$STAGE"

# DuckDB read-back of a staged dataset: prints "rows|cols|error" (the fields
# are separated by "|", not tabs: `read` would merge empty tab-separated
# fields). Files under _rejects/ and hidden folders are not part of the
# dataset. A dataset with no data rows has no Parquet file: its counts are
# then taken from pqstage's _manifest.json (0 rows; the spec's columns).
readback() {
  "$PY" - "$1" <<'PYEOF'
import sys, glob, json, os, duckdb
d = sys.argv[1]
files = [f for f in glob.glob(d + '/**/*.parquet', recursive=True) if '/_rejects/' not in f and '/.' not in f[len(d):]]
if not files:
    try:
        t = json.load(open(os.path.join(d, '_manifest.json')))['tables'][0]
        if t['rows_written'] == 0 and not t['partitions'] and not t.get('partition_column'):
            print(f"0|{len(t['spec']['columns'])}|"); sys.exit()
    except (OSError, ValueError, KeyError, IndexError):
        pass
    print('||readback: no parquet files under ' + d); sys.exit()
con = duckdb.connect(config={'threads': 1})
g = "'" + (d + '/**/*.parquet').replace("'", "''") + "'"
try:
    src = f"read_parquet({g}, hive_partitioning=true)"
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    cols = len(con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall())
    print(f'{rows}|{cols}|')
except Exception as e:
    print('||readback: ' + ' '.join(str(e).split())[:300])
PYEOF
}

printf 'relpath\tduckdb_status\tduckdb_rows\tduckdb_cols\tpq_exit\tpq_rows\tpq_cols\tpq_error\tclass\tpq_seconds\n' > "$RESULTS"
n=0
# Tabs become \x1f before `read`: with IFS=tab, empty fields would be merged.
tail -n +2 "$MANIFEST" | tr '\t' '\037' | while IFS=$'\037' read -r rel src bytes dstatus drows dcols derr dnames; do
  n=$((n+1))
  file=$FILES/$rel
  stage=$STAGE/$n
  rm -rf "$stage"
  t0=$(date +%s.%N)
  timeout 60 "$PQSTAGE" convert "$file" --to "$stage" --dataset "d$n" -q </dev/null >/dev/null 2>"$STAGE/stderr.$n"
  rc=$?
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  # first non-empty stderr line, tabs and carriage returns replaced
  err=$(grep -m1 -v '^[[:space:]]*$' "$STAGE/stderr.$n" | tr '\t\r' '  ' | cut -c1-400)
  [ $rc -eq 124 ] && err="timeout 60s${err:+; $err}"
  prows=''; pcols=''
  if [ $rc -eq 0 ]; then
    IFS='|' read -r prows pcols rerr < <(readback "$stage/d$n")
    [ -n "$rerr" ] && err="$rerr"
  fi
  if [ "$dstatus" = ok ] && [ $rc -eq 0 ] && [ -n "$prows" ]; then
    if [ "$prows" != "$drows" ]; then class=rows-differ
    elif [ "$pcols" != "$dcols" ]; then class=cols-differ
    else class=same; fi
  elif [ $rc -eq 0 ] && [ -z "$prows" ]; then class=pq-readback-failed
  elif [ "$dstatus" = ok ]; then class=pq-refused
  elif [ $rc -eq 0 ]; then class=duck-refused
  else class=both-refused; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rel" "$dstatus" "$drows" "$dcols" "$rc" "$prows" "$pcols" "$err" "$class" "$secs" >> "$RESULTS"
  printf '%-12s rc=%s %6ss %s %s\n' "$class" "$rc" "$secs" "$rel" "${err:0:150}"
  rm -rf "$stage" "$STAGE/stderr.$n"
done
rmdir "$STAGE" 2>/dev/null

echo
echo "== classes ($RESULTS) =="
tail -n +2 "$RESULTS" | cut -f9 | sort | uniq -c | sort -rn
echo "== pqstage exit codes =="
tail -n +2 "$RESULTS" | cut -f5 | sort | uniq -c | sort -rn
