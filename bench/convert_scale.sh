#!/usr/bin/env bash
# Convert as the input grows: the 18M-row sample and one SCALE times its size
# (default 6: 108M rows, about 17 GB of CSV), converted one after the other in
# the same run with the same spec and settings; wall time per row, read
# throughput and peak RSS side by side. The claim checked: memory stays flat
# in the input size, and time grows in proportion to it.
#
# Usage: bash bench/convert_scale.sh     (make bench-convert-scale)
#
# Environment: ROWS (default 18000000), SCALE (default 6), JOBS (default
# nproc), PQSTAGE (binary), KEEP=1 to keep the big CSV and its stage (by
# default both are deleted at the end: they take about 20 GB).
# Files: the small CSV is shared with the other benchmarks (bench/data/); the
# big one, both stages and the logs go to bench/out/scale/; the report to
# bench/out/convert-scale-results.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/scale"
need_pqstage
SCALE="${SCALE:-6}"
[[ "$SCALE" =~ ^[0-9]+$ && "$SCALE" -gt 1 ]] || die "SCALE must be an integer above 1, got '$SCALE'"
BIG_ROWS=$((ROWS * SCALE))
BIG_CSV="$OUT/violations-$BIG_ROWS.csv"
SPEC="$OUT/violations.spec.toml"
REPORT="$BENCH/out/convert-scale-results.md"
cleanup() { [[ "${KEEP:-0}" == 1 ]] || rm -rf "$BIG_CSV" "$OUT/stage-big"; }
AT_EXIT+=(cleanup)

need=$((BIG_ROWS / 1000000 * 340 * 1024 * 1024 / 1000 * 1000))
free=$(($(df --output=avail -B1 "$OUT" | tail -1)))
((free > need)) || die "about $((need >> 30)) GiB free needed under $OUT for the big CSV and its stage; $((free >> 30)) GiB free"

ensure_sample "$ROWS" "$CSV"
"$PQSTAGE" sample violations --spec-out "$SPEC"
if [[ ! -s "$BIG_CSV" ]]; then
  log "generating $BIG_CSV ($BIG_ROWS rows; not timed)"
  "$PQSTAGE" sample violations --rows "$BIG_ROWS" --out "$BIG_CSV.tmp" --seed 7 && mv "$BIG_CSV.tmp" "$BIG_CSV"
fi
: >"$RESULTS"

convert() { # LABEL CSV STAGE
  rm -rf "$3"
  # The CSV read once before, so both runs start from the same cache state
  # (it cannot stay cached: the big one is larger than the page cache).
  dd if="$2" of=/dev/null bs=8M status=none
  sync
  once "$1" "$PQSTAGE" convert "$2" --spec "$SPEC" --to "$3" --dataset violations --jobs "$JOBS" --no-progress
}
for ((i = 1; i <= REPEAT; i++)); do
  convert "small" "$CSV" "$OUT/stage-small"
  convert "big" "$BIG_CSV" "$OUT/stage-big"
done
staged() { du -sb "$1/violations" | cut -f1; }

{
  echo "## pqstage convert at ${SCALE}x the input ($ROWS and $BIG_ROWS rows, REPEAT=$REPEAT, --jobs $JOBS)"
  echo
  echo "- $("$PQSTAGE" --version); nproc $(nproc); cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo
  awk -F'\t' -v small_rows="$ROWS" -v big_rows="$BIG_ROWS" -v small_bytes="$(stat -c %s "$CSV")" \
    -v big_bytes="$(stat -c %s "$BIG_CSV")" -v small_staged="$(staged "$OUT/stage-small")" \
    -v big_staged="$(staged "$OUT/stage-big")" "$AWK_BEST"'
    END {
      rows["small"] = small_rows; rows["big"] = big_rows; bytes["small"] = small_bytes; bytes["big"] = big_bytes
      st["small"] = small_staged; st["big"] = big_staged
      print "| input | rows | CSV GB | wall s (best) | ns per row | CSV MB/s | peak RSS MB | staged GB |"
      print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      split("small big", labels, " ")
      for (i = 1; i <= 2; i++) {
        l = labels[i]
        printf "| %s | %d | %.2f | %.2f | %.1f | %.0f | %.0f | %.2f |\n", l, rows[l], bytes[l] / 1e9, best[l], best[l] * 1e9 / rows[l], bytes[l] / 1e6 / best[l], rss[l] / 1024, st[l] / 1e9
      }
      print ""
      t = (best["big"] / rows["big"]) / (best["small"] / rows["small"])
      m = rss["big"] / rss["small"]
      printf "- time per row at %dx the rows: %.2fx that of the small input (1.00 is linear)\n", rows["big"] / rows["small"], t
      printf "- peak RSS at %dx the rows: %.2fx that of the small input (1.00 is flat)\n", rows["big"] / rows["small"], m
    }' "$RESULTS"
} | tee "$REPORT"
log "report written to $REPORT"
