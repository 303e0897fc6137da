#!/usr/bin/env bash
# End-to-end conversion benchmark: pqstage vs DuckDB vs Polars, same run, same
# CSV, each writing year-partitioned (Hive `year=YYYY/`) zstd Parquet.
#
# Usage: bash bench/convert.sh          (what `make bench` runs)
#
# Environment:
#   ROWS=18000000   rows in the main CSV (about 2.7 GB)
#   REPEAT=1        rounds (each runs every tool once, in turn); reports each
#                   tool's best wall time and max RSS
#   PQSTAGE=...     binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/pqstage/target}/release/pqstage)
#   BENCH_STRICT=1  exit 1 if any target check FAILs (default: report only)
#   PQSTAGE_SKIP=1  for testing the harness only: skip every pqstage step
#                   (the CSV must then already exist in bench/data/)
#
# Files: bench/data/violations-$ROWS.csv and violations-1000000.csv (generated
# by `pqstage sample` only when missing; delete them to regenerate),
# bench/data/violations.spec.toml (regenerated each run), outputs and logs in
# bench/out/ (each tool's output dir is wiped before each run), the report in
# bench/out/convert-results.md. Progress goes to stderr, the report to stdout.
#
# Units: MB/s and staged MB are 10^6 bytes; peak RSS MB is MiB (KiB from
# `/usr/bin/time -v` / 1024). Staged size counts only year=*/**.parquet.
# Peer timings include Python start-up and import (a fraction of a second).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out"
VENV="$BENCH/.venv"
SMALL_ROWS=1000000
SKIP_PQ="${PQSTAGE_SKIP:-0}"
CSV_SMALL="$DATA/violations-$SMALL_ROWS.csv"
SPEC="$DATA/violations.spec.toml"
REPORT="$OUT/convert-results.md"

# --- peers: virtualenv pinned by requirements.txt ---------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed"
fi
if ! cmp -s "$BENCH/requirements.txt" "$VENV/.requirements.installed"; then
  log "installing peers from requirements.txt"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$BENCH/requirements.txt" ||
    die "pip install -r bench/requirements.txt failed"
  cp "$BENCH/requirements.txt" "$VENV/.requirements.installed"
fi
PY="$VENV/bin/python"

# --- pqstage binary, spec and input files ------------------------------------
if [[ "$SKIP_PQ" != 1 ]]; then
  [[ -x "$PQSTAGE" ]] || die "pqstage binary not found at $PQSTAGE (build it with cargo build --release, or set PQSTAGE=)"
  "$PQSTAGE" sample violations --spec-out "$SPEC" || die "pqstage sample --spec-out failed"
fi

ensure_csv() { # rows path
  [[ -s "$2" ]] && return 0
  [[ "$SKIP_PQ" != 1 ]] || die "$2 is missing and PQSTAGE_SKIP=1 cannot generate it"
  log "generating $2 ($1 rows)"
  rm -f "$2.tmp"
  "$PQSTAGE" sample violations --rows "$1" --out "$2.tmp" || die "pqstage sample --rows $1 failed"
  mv "$2.tmp" "$2"
}
ensure_csv "$ROWS" "$CSV"
RUN_SMALL=0
if [[ "$SKIP_PQ" != 1 && "$ROWS" != "$SMALL_ROWS" ]]; then
  RUN_SMALL=1
  ensure_csv "$SMALL_ROWS" "$CSV_SMALL"
fi

# --- measurement ---------------------------------------------------------------
staged_bytes() { # dir: bytes of */year=*/**.parquet (pqstage stages into STAGE/DATASET/)
  [[ -d "$1" ]] || { echo 0; return; }
  find "$1" -mindepth 2 -path "*/year=*" -type f -name '*.parquet' -printf '%s\n' |
    awk '{ s += $1 } END { printf "%d\n", s }'
}

: >"$RESULTS"
rm -f "$OUT"/time-*.txt "$OUT"/log-*.txt
# The tools take turns: REPEAT rounds, each running every tool once, so a
# drift in this VM's speed (15-20% within an hour was seen) falls on all of
# them alike instead of on whichever tool's block of runs it hits.
declare -A BEST MAXRSS
# run_once LABEL CSV OUTDIR ROUND CMD... : one run, a fresh process with a
# wiped OUTDIR ("-" for none); keeps the label's best wall time and max RSS.
run_once() {
  local label="$1" csv="$2" dir="$3" i="$4" tfile logf wall rss
  shift 4
  [[ "$dir" == - ]] || rm -rf "$dir"
  # Every run starts alike: its output's dirty pages of the run before
  # written out, and the CSV read just before (this VM pages out file pages
  # idle for 30 s, so a warm-up once per tool would favour its first run).
  sync
  cat "$csv" >/dev/null
  tfile="$OUT/time-$label-$i.txt"
  logf="$OUT/log-$label-$i.txt"
  log "run $i/$REPEAT: $label"
  if ! /usr/bin/time -v -o "$tfile" "$@" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2 || true
    die "$label exited non-zero (run $i; log: $logf, command: $*)"
  fi
  wall="$(wall_of "$tfile")"
  rss="$(rss_of "$tfile")"
  [[ -n "$wall" && -n "$rss" ]] || die "could not parse $tfile"
  if [[ -z "${BEST[$label]:-}" ]] || awk -v a="$wall" -v b="${BEST[$label]}" 'BEGIN { exit !(a < b) }'; then
    BEST[$label]="$wall"
  fi
  if ((rss > ${MAXRSS[$label]:-0})); then MAXRSS[$label]="$rss"; fi
  log "  $label: ${wall}s, max RSS ${rss} KiB"
}

# record LABEL ROWS CSV OUTDIR : appends the label's line to $RESULTS (staged
# bytes from its last run's output).
record() {
  local label="$1" rows="$2" csv="$3" dir="$4" staged=-
  if [[ "$dir" != - ]]; then
    staged="$(staged_bytes "$dir")"
    ((staged > 0)) || die "$label wrote no year=*/*.parquet under $dir"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rows" "$(stat -c %s "$csv")" "${BEST[$label]}" "${MAXRSS[$label]}" "$staged" >>"$RESULTS"
}

for ((round = 1; round <= REPEAT; round++)); do
  run_once "cat" "$CSV" - "$round" dd if="$CSV" of=/dev/null bs=1M status=none
  if [[ "$SKIP_PQ" != 1 ]]; then
    run_once "pqstage" "$CSV" "$OUT/pqstage" "$round" \
      "$PQSTAGE" convert "$CSV" --to "$OUT/pqstage" --dataset violations --spec "$SPEC" --jobs "$JOBS"
  fi
  run_once "duckdb" "$CSV" "$OUT/duckdb" "$round" "$PY" "$BENCH/peers.py" duckdb "$CSV" "$OUT/duckdb"
  run_once "polars" "$CSV" "$OUT/polars" "$round" "$PY" "$BENCH/peers.py" polars "$CSV" "$OUT/polars"
  if ((RUN_SMALL)); then
    run_once "pqstage-1M" "$CSV_SMALL" "$OUT/pqstage-1M" "$round" \
      "$PQSTAGE" convert "$CSV_SMALL" --to "$OUT/pqstage-1M" --dataset violations --spec "$SPEC" --jobs "$JOBS"
  fi
done
record "cat" "$ROWS" "$CSV" -
[[ "$SKIP_PQ" == 1 ]] || record "pqstage" "$ROWS" "$CSV" "$OUT/pqstage"
record "duckdb" "$ROWS" "$CSV" "$OUT/duckdb"
record "polars" "$ROWS" "$CSV" "$OUT/polars"
if ((RUN_SMALL)); then record "pqstage-1M" "$SMALL_ROWS" "$CSV_SMALL" "$OUT/pqstage-1M"; fi

# --- report ----------------------------------------------------------------------
versions() {
  "$PY" "$BENCH/peers.py" versions
  if [[ "$SKIP_PQ" != 1 ]]; then "$PQSTAGE" --version; else echo "pqstage skipped (PQSTAGE_SKIP=1)"; fi
  echo "nproc $JOBS"
  echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
}

report() {
  echo "## pqstage convert benchmark ($ROWS rows, $(stat -c %s "$CSV") bytes, REPEAT=$REPEAT)"
  echo
  versions | sed 's/^/- /'
  echo
  awk -F'\t' -v min_speedup=1.5 -v max_rss_kib=$((256 * 1024)) -v max_size=1.1 \
      -v skip_pq="$SKIP_PQ" -v run_small="$RUN_SMALL" '
    { label[NR] = $1; rows[NR] = $2; bytes[NR] = $3; wall[NR] = $4; rss[NR] = $5; staged[NR] = $6; idx[$1] = NR }
    function ratio(a, b) { return (b > 0) ? sprintf("%.2fx", a / b) : "-" }
    function mb(x) { return (x == "-") ? "-" : sprintf("%.1f", x / 1e6) }
    function verdict(ok) { if (!ok) failed = 1; return ok ? "PASS" : "FAIL" }
    END {
      d = idx["duckdb"]; p = idx["polars"]
      peer = (wall[d] <= wall[p]) ? d : p
      print "| tool | rows | wall s | MB/s | peak RSS MB | staged MB | speed vs faster peer | size vs DuckDB |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for (i = 1; i <= NR; i++) {
        same = (label[i] != "cat" && rows[i] == rows[d])
        name = (label[i] == "cat") ? "cat (page cache, reference)" : label[i]
        printf "| %s | %d | %.2f | %s | %.0f | %s | %s | %s |\n", name, rows[i], wall[i],
          (wall[i] > 0 ? sprintf("%.0f", bytes[i] / wall[i] / 1e6) : "-"), rss[i] / 1024, mb(staged[i]),
          same ? ratio(wall[peer], wall[i]) : "-", same ? ratio(staged[i], staged[d]) : "-"
      }
      print ""
      if (skip_pq == 1) { print "- targets: SKIP (PQSTAGE_SKIP=1)"; exit }
      q = idx["pqstage"]
      sp = (wall[q] > 0) ? wall[peer] / wall[q] : 0
      printf "- throughput: pqstage %.2fx the faster peer (%s), target >= %.1fx: %s\n", sp, label[peer], min_speedup, verdict(sp >= min_speedup)
      printf "- peak RSS at %d rows: %.0f MB, target <= 256 MB: %s\n", rows[q], rss[q] / 1024, verdict(rss[q] <= max_rss_kib)
      s = idx["pqstage-1M"]
      if (run_small == 1) printf "- peak RSS at %d rows: %.0f MB, target <= 256 MB: %s\n", rows[s], rss[s] / 1024, verdict(rss[s] <= max_rss_kib)
      sz = staged[q] / staged[d]
      printf "- staged size: pqstage %.3fx DuckDB, target <= %.1fx: %s\n", sz, max_size, verdict(sz <= max_size)
      print ""
      print (failed ? "RESULT: FAIL" : "RESULT: PASS")
    }' "$RESULTS"
}

report | tee "$REPORT"
log "report written to $REPORT"
if [[ "${BENCH_STRICT:-0}" == 1 ]] && grep -q '^RESULT: FAIL' "$REPORT"; then
  die "targets not met (BENCH_STRICT=1)"
fi
