#!/usr/bin/env bash
# Object-store benchmark: the same convert and loads with the stage on the
# local disk and on an S3-compatible server on loopback (s3s-fs, tests/s3/s3.sh),
# in the same run. Figures: time to stage the sample to each; load time from
# each into DuckDB and PostgreSQL; `pqstage copy` local -> S3; peak RSS of each.
#
# Usage: bash bench/object_store.sh        (part of `make bench`)
#
# Environment:
#   ROWS=18000000   rows of the sample (the CSV is shared with the other benchmarks)
#   REPEAT=1        runs per measurement; the best wall time and the max RSS are reported
#   JOBS=nproc      --jobs of load postgres
#   PQSTAGE=...     binary (default ${CARGO_TARGET_DIR:-$HOME/.cache/pqstage/target}/release/pqstage)
#
# Files: bench/out/os/ (local stage, DuckDB files, logs; the S3 server's data
# under bench/out/os/s3), the report in bench/out/object-store-results.md.
# The loopback server stores objects on the same disk, so the S3 figures
# measure pqstage's S3 path (HTTP, signing, multipart, checksums) and the
# server's own CPU, not a network.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/os"
need_pqstage
SPEC="$DATA/violations.spec.toml"
REPORT="$BENCH/out/object-store-results.md"
ensure_sample "$ROWS" "$CSV"
"$PQSTAGE" sample violations --spec-out "$SPEC"

start_pg 55441
start_s3 59016 "$OUT/s3"
log "PostgreSQL at $PG_URL, S3 at $S3_ENDPOINT"
drop() { "$PSQL" "$PG_URL" -qX -c "DROP TABLE IF EXISTS $1 CASCADE" -c "DELETE FROM pqstage.load_state WHERE table_name = '$1'" >/dev/null 2>&1 || true; }

LOCAL="$OUT/local"
S3="s3://pqstage/bench"
: >"$RESULTS"
for ((i = 1; i <= REPEAT; i++)); do
  log "run $i/$REPEAT"
  rm -rf "$LOCAL" "$OUT"/*.duckdb "$PQSTAGE_S3_DIR/data/pqstage/bench" "$PQSTAGE_S3_DIR/data/pqstage/copy"
  once "convert-local" "$PQSTAGE" convert "$CSV" --spec "$SPEC" --to "$LOCAL" --no-progress
  once "convert-s3" "$PQSTAGE" convert "$CSV" --spec "$SPEC" --to "$S3" --no-progress
  once "copy-local-to-s3" "$PQSTAGE" copy "$LOCAL" s3://pqstage/copy
  once "load-duckdb-local" "$PQSTAGE" load duckdb "$LOCAL" --db "$OUT/local.duckdb" --no-progress
  once "load-duckdb-s3" "$PQSTAGE" load duckdb "$S3" --db "$OUT/s3.duckdb" --no-progress
  drop v_local
  once "load-postgres-local" "$PQSTAGE" load postgres "$LOCAL" --db "$PG_URL" --table v_local --jobs "$JOBS" --no-progress
  drop v_local
  drop v_s3
  once "load-postgres-s3" "$PQSTAGE" load postgres "$S3" --db "$PG_URL" --table v_s3 --jobs "$JOBS" --no-progress
  drop v_s3
done
cmp <(sed -n '/"tables"/,$p' "$LOCAL/violations/_manifest.json") \
    <("$PQSTAGE" status "$S3" --json | sed -n '/"tables"/,$p') >/dev/null ||
  die "the S3 stage's manifest differs from the local one"

{
  echo "## Object store benchmark ($ROWS rows, REPEAT=$REPEAT, load postgres --jobs $JOBS)"
  echo
  echo "- $("$PQSTAGE" --version); S3: s3s-fs 0.14.1 on 127.0.0.1 (objects on the same disk); PostgreSQL: tests/pg/pg.sh defaults"
  echo "- nproc $(nproc); cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo
  awk -F'\t' "$AWK_BEST"'
    END {
      print "| run | wall s (best) | peak RSS MB |"
      print "| --- | ---: | ---: |"
      for (i = 1; i <= n; i++) { l = order[i]; printf "| %s | %.2f | %.0f |\n", l, best[l], rss[l] / 1024 }
      print ""
      printf "- convert to S3 / to disk: %.2fx the time\n", best["convert-s3"] / best["convert-local"]
      printf "- load duckdb from S3 / from disk: %.2fx\n", best["load-duckdb-s3"] / best["load-duckdb-local"]
      printf "- load postgres from S3 / from disk: %.2fx\n", best["load-postgres-s3"] / best["load-postgres-local"]
    }' "$RESULTS"
} | tee "$REPORT"
