# Shared by the benchmark scripts (sourced, not run): their common settings
# (bench_init), the throwaway servers they start (start_pg, start_s3), one
# timed run (once) and the sample CSV (ensure_sample).

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] FAILED: %s\n' "$*" >&2; exit 1; }

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
DATA="$BENCH/data"

# bench_init OUT: the settings every benchmark takes from the environment
# (ROWS, default 18000000; REPEAT, default 1; JOBS, default nproc; PQSTAGE,
# the binary), checked; CSV (the shared sample), OUT (its logs) and RESULTS
# (a TSV its report reads), created.
bench_init() {
  OUT="$1"
  ROWS="${ROWS:-18000000}"
  REPEAT="${REPEAT:-1}"
  JOBS="${JOBS:-$(nproc)}"
  PQSTAGE="${PQSTAGE:-${CARGO_TARGET_DIR:-$HOME/.cache/pqstage/target}/release/pqstage}"
  CSV="$DATA/violations-$ROWS.csv"
  RESULTS="$OUT/results.tsv"
  [[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -gt 0 ]] || die "ROWS must be a positive integer, got '$ROWS'"
  [[ "$REPEAT" =~ ^[0-9]+$ && "$REPEAT" -gt 0 ]] || die "REPEAT must be a positive integer, got '$REPEAT'"
  [[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
  mkdir -p "$DATA" "$OUT"
}

# need_pqstage: stops unless the binary is built.
need_pqstage() {
  [[ -x "$PQSTAGE" ]] || die "pqstage binary not found at $PQSTAGE (make build, or set PQSTAGE=)"
}

# Commands run when the script exits, however it exits (servers to stop).
AT_EXIT=()
run_at_exit() { for c in "${AT_EXIT[@]}"; do eval "$c" || true; done; }
trap run_at_exit EXIT

# start_pg PORT: a throwaway PostgreSQL (tests/pg/pg.sh) on PORT, deleted at
# exit; sets PG_URL. PQSTAGE_PG_TLS=1 turns TLS on.
start_pg() {
  export PQSTAGE_PG_PORT="$1"
  PG_URL="$(bash "$ROOT/tests/pg/pg.sh" up)" || die "PostgreSQL did not start"
  AT_EXIT+=("PQSTAGE_PG_TLS=${PQSTAGE_PG_TLS:-0} PQSTAGE_PG_PORT=$1 bash '$ROOT/tests/pg/pg.sh' down")
  PSQL="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql"
}

# start_s3 PORT DIR: a throwaway S3 server (tests/s3/s3.sh) on PORT keeping
# its objects in DIR, deleted at exit; exports the AWS_* settings for it.
start_s3() {
  export PQSTAGE_S3_PORT="$1" PQSTAGE_S3_DIR="$2"
  S3_ENDPOINT="$(bash "$ROOT/tests/s3/s3.sh" up)" || die "the S3 server did not start"
  AT_EXIT+=("PQSTAGE_S3_PORT=$1 PQSTAGE_S3_DIR='$2' bash '$ROOT/tests/s3/s3.sh' down")
  eval "$(bash "$ROOT/tests/s3/s3.sh" env)"
}

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

# ratio_table REF...: RESULTS as a Markdown table of every step's best wall
# time and peak RSS, in run order; each REF, `step=reference`, adds the
# step's time as a ratio of its reference's.
ratio_table() {
  echo "| step | wall s | peak RSS MiB | vs reference |"
  echo "|---|---:|---:|---|"
  awk -F'\t' -v refs="$*" "$AWK_BEST"'END {
    k = split(refs, pairs, " ")
    for (i = 1; i <= k; i++) { split(pairs[i], kv, "="); ref[kv[1]] = kv[2] }
    for (i = 1; i <= n; i++) {
      l = order[i]; r = ref[l]; v = ""
      if (r != "" && best[r] > 0) v = sprintf("%.3fx %s", best[l] / best[r], r)
      printf "| %s | %.2f | %.0f | %s |\n", l, best[l], rss[l] / 1024, v
    }
  }' "$RESULTS"
}

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

# trajectories_venv: bench/trajectories' peers (pandas, SQLAlchemy,
# psycopg2, duckdb_engine) in bench/.venv-trajectories, reinstalled when
# their pinned requirements change; sets TPY.
trajectories_venv() {
  local venv="$BENCH/.venv-trajectories" req="$BENCH/trajectories/requirements.txt"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || die "python3 -m venv failed"
  if ! cmp -s "$req" "$venv/.requirements.installed"; then
    log "installing the trajectory peers from $req"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" || die "pip install -r $req failed"
    cp "$req" "$venv/.requirements.installed"
  fi
  TPY="$venv/bin/python"
}
