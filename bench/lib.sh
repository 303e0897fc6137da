# Shared by the benchmark scripts (sourced, not run). The caller sets OUT
# (logs), RESULTS (a TSV the report reads) and PQSTAGE (the binary).

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAILED: %s\n' "$*" >&2; exit 1; }

# Seconds from time -v's "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.34".
wall_of() {
  sed -n 's/.*Elapsed (wall clock) time ([^)]*): *//p' "$1" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f\n", s }'
}
# Peak RSS in KiB from time -v.
rss_of() { sed -n 's/.*Maximum resident set size (kbytes): *//p' "$1"; }

# once LABEL CMD... : one run under /usr/bin/time -v; appends
# "LABEL <tab> wall s <tab> peak RSS KiB" to $RESULTS.
once() {
  local label="$1" tfile="$OUT/time-$1.txt" logf="$OUT/log-$1.txt"
  shift
  if ! /usr/bin/time -v -o "$tfile" "$@" >"$logf" 2>&1; then
    tail -n 20 "$logf" >&2 || true
    die "$label failed (log: $logf)"
  fi
  printf '%s\t%s\t%s\n' "$label" "$(wall_of "$tfile")" "$(rss_of "$tfile")" >>"$RESULTS"
  log "  $label: $(wall_of "$tfile") s, max RSS $(rss_of "$tfile") KiB; $(head -c 200 "$logf" | head -1)"
}

# The start of an awk program over $RESULTS: per label (in first-seen order,
# order[1..n]), the best wall time best[label] and the largest RSS rss[label].
# Scripts append their own END block: awk -F'\t' "$AWK_BEST"'END { … }'.
AWK_BEST='{ if (!($1 in best) || $2 < best[$1]) best[$1] = $2; if ($3 > rss[$1]) rss[$1] = $3; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
'

# ensure_sample ROWS CSV [CORRECTED_CSV]: generates the sample CSV when
# missing, and a copy with one record corrected when asked for.
ensure_sample() {
  if [[ ! -s "$2" ]]; then
    log "generating $2 ($1 rows)"
    "$PQSTAGE" sample violations --rows "$1" --out "$2.tmp" && mv "$2.tmp" "$2"
  fi
  if [[ -n "${3:-}" ]] && [[ ! -s "$3" || "$3" -ot "$2" ]]; then
    log "writing $3 (one citation_id changed, same length)"
    python3 "$(dirname "${BASH_SOURCE[0]}")/correct_one_record.py" "$2" "$3"
  fi
}
