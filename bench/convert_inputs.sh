#!/usr/bin/env bash
# What reading the files people have costs: the sample CSV converted as is,
# gzip- and zstd-compressed, piped, and (at 1 M rows) in UTF-16, next to
# DuckDB reading the same gzip file, in one run.
#
# Usage: bash bench/convert_inputs.sh      (make bench-convert-inputs)
#
# Environment: ROWS (default 18000000), REPEAT (default 1; best wall time
# and largest RSS per label), JOBS, PQSTAGE (the binary) as in
# bench/convert.sh; PQSTAGE_BASE=path adds a second binary's plain-CSV run
# (say, a build of the commit before a change to the reader).
#
# Files: bench/data/violations-$ROWS.csv (shared with the other benchmarks)
# and, made here when missing, .csv.gz (gzip -6, gzip's default),
# .csv.zst (zstd -3) and violations-1000000.utf16.csv (UTF-16LE with a
# byte-order mark, by iconv); outputs and logs in bench/out/inputs/.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/inputs"
need_pqstage
VENV="$BENCH/.venv"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
if ! cmp -s "$BENCH/requirements.txt" "$VENV/.requirements.installed"; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$BENCH/requirements.txt"
  cp "$BENCH/requirements.txt" "$VENV/.requirements.installed"
fi
PY="$VENV/bin/python"
for tool in gzip zstd iconv; do
  command -v "$tool" >/dev/null || die "$tool is needed (Debian packages gzip, zstd, libc-bin)"
done

SPEC="$DATA/violations.spec.toml"
"$PQSTAGE" sample violations --spec-out "$SPEC"
ensure_sample "$ROWS" "$CSV"
SMALL="$DATA/violations-1000000.csv"
ensure_sample 1000000 "$SMALL"
made() { [[ -s "$1" && ! "$1" -ot "$2" ]]; }
if ! made "$CSV.gz" "$CSV"; then
  log "compressing $CSV with gzip -6"
  gzip -6 -c "$CSV" >"$CSV.gz.tmp" && mv "$CSV.gz.tmp" "$CSV.gz"
fi
if ! made "$CSV.zst" "$CSV"; then
  log "compressing $CSV with zstd -3"
  zstd -q -3 -T0 -c "$CSV" >"$CSV.zst.tmp" && mv "$CSV.zst.tmp" "$CSV.zst"
fi
UTF16="$DATA/violations-1000000.utf16.csv"
if ! made "$UTF16" "$SMALL"; then
  log "writing $UTF16"
  { printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE "$SMALL"; } >"$UTF16.tmp" && mv "$UTF16.tmp" "$UTF16"
fi

: >"$RESULTS"
convert_run() { # LABEL INPUT [FLAGS…]: pqstage convert INPUT with the spec into a fresh stage
  local label="$1" input="$2"
  shift 2
  rm -rf "$OUT/$label"
  sync
  once "$label" "$PQSTAGE" convert "$input" --spec "$SPEC" --to "$OUT/$label" --dataset violations \
    --jobs "$JOBS" -q "$@"
}
for ((round = 1; round <= REPEAT; round++)); do
  log "round $round/$REPEAT"
  cat "$CSV" >/dev/null
  convert_run csv "$CSV"
  if [[ -n "${PQSTAGE_BASE:-}" ]]; then
    rm -rf "$OUT/csv-base"
    sync
    once csv-base "$PQSTAGE_BASE" convert "$CSV" --spec "$SPEC" --to "$OUT/csv-base" --dataset violations \
      --jobs "$JOBS" -q
  fi
  convert_run gzip "$CSV.gz"
  convert_run zstd "$CSV.zst"
  # gzip decompressed by another process, on the other core.
  rm -rf "$OUT/zcat-pipe"
  sync
  once zcat-pipe bash -c "gzip -dc '$CSV.gz' | '$PQSTAGE' convert - --spec '$SPEC' --to '$OUT/zcat-pipe' --dataset violations --jobs $JOBS -q"
  rm -rf "$OUT/duckdb-gzip"
  sync
  once duckdb-gzip "$PY" "$BENCH/peers.py" duckdb "$CSV.gz" "$OUT/duckdb-gzip"
  convert_run utf8-1M "$SMALL"
  convert_run utf16-1M "$UTF16"
done

# Every pqstage run staged the same rows and values: the partitions'
# checksums of each manifest match the plain CSV's.
sums() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(p["checksum"] for p in m["tables"][0]["partitions"]))' "$1/violations/_manifest.json"; }
for label in gzip zstd zcat-pipe ${PQSTAGE_BASE:+csv-base}; do
  [[ "$(sums "$OUT/$label")" == "$(sums "$OUT/csv")" ]] || die "$label staged other partitions than the plain CSV"
done
[[ "$(sums "$OUT/utf16-1M")" == "$(sums "$OUT/utf8-1M")" ]] || die "UTF-16 staged other partitions than UTF-8"

csv_bytes=$(stat -c %s "$CSV")
small_bytes=$(stat -c %s "$SMALL")
{
  echo "## Reading inputs: $ROWS rows ($(awk -v b="$csv_bytes" 'BEGIN { printf "%.2f", b / 1e9 }') GB of CSV), $JOBS cores, $REPEAT round(s)"
  echo
  echo "gzip file $(awk -v b="$(stat -c %s "$CSV.gz")" 'BEGIN { printf "%.0f", b / 1e6 }') MB, zstd file $(awk -v b="$(stat -c %s "$CSV.zst")" 'BEGIN { printf "%.0f", b / 1e6 }') MB. MB/s counts the uncompressed CSV."
  echo
  echo "| input | wall s | CSV MB/s | peak RSS MB | vs DuckDB on the gzip file |"
  echo "|---|---:|---:|---:|---:|"
  awk -F'\t' -v big="$csv_bytes" -v small="$small_bytes" "$AWK_BEST"'END {
    ref = best["duckdb-gzip"]
    for (i = 1; i <= n; i++) {
      l = order[i]; bytes = (l ~ /1M$/) ? small : big
      ratio = (l ~ /1M$/ || l == "duckdb-gzip") ? "" : sprintf("%.2fx", ref / best[l])
      printf "| %s | %.2f | %.0f | %.0f | %s |\n", l, best[l], bytes / 1e6 / best[l], rss[l] / 1024, ratio
    }
  }' "$RESULTS"
} | tee "$OUT/inputs-results.md"
