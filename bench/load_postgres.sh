#!/usr/bin/env bash
# PostgreSQL load benchmark, same server, same run, the 18M-row sample:
#   psql \copy of the CSV into an equivalent year-partitioned table, then the
#     same three CREATE INDEX statements and ANALYZE;
#   pqstage load postgres with those indexes (the spec's) and ANALYZE;
#   pgpq 0.12 + psycopg 3 streaming the staged Parquet into the same table
#     shape, without indexes, against pqstage load postgres --no-indexes
#     --no-analyze (the same work: COPY only), and --no-indexes with ANALYZE;
#   every timed step after a CHECKPOINT and sync, so none pays for the last;
#   pqstage: an unchanged rerun, and the load after a one-record correction;
#   pqstage over TLS (sslmode=verify-full) against plaintext, with indexes and
#     COPY only: the same server has ssl = on, and every plaintext run (the
#     peers' too) says sslmode=disable.
# The staged dataset is converted with the sample's spec plus
# `cluster_by = "site_state"` (not timed): each year's rows are stored in
# site_state order, so the (site_state, year) index builds without a sort.
# pgpq streams the same staged files; psql loads the CSV in file order.
#
# Usage: bash bench/load_postgres.sh          (part of `make bench`)
#
# Environment: ROWS (default 18000000), REPEAT (default 1), PQSTAGE (binary),
# JOBS (default nproc). The server is a throwaway one (tests/pg/pg.sh) on
# port 55440 with default settings; it is deleted at the end.
#
# Files: shares bench/data/ (the CSV and its corrected copy, generated when
# missing) with the other benchmarks; the staged dataset in bench/out/pg/stage,
# logs in bench/out/pg, the report in bench/out/load-postgres-results.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/pg"
need_pqstage
STAGE="$OUT/stage"
CSV_FIXED="$DATA/violations-$ROWS-corrected.csv"
SPEC="$OUT/violations-clustered.spec.toml"
REPORT="$BENCH/out/load-postgres-results.md"
ensure_sample "$ROWS" "$CSV" "$CSV_FIXED"

# --- peers -----------------------------------------------------------------------
VENV="$BENCH/.venv-pgpq"
if [[ ! -x "$VENV/bin/python" ]]; then
  log "installing pgpq, psycopg and pyarrow into $VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check \
    pgpq==0.12.0 "psycopg[binary]==3.3.9" pyarrow==26.0.1 || die "pip install failed"
fi

PQSTAGE_PG_TLS=1 start_pg 55440
# pg.sh prints the TLS URL (verify-full against its CA); plaintext is asked
# for explicitly, since libpq's default (prefer) would use TLS here.
TLS_URL="$PG_URL"
URL="postgres://pqtest@127.0.0.1:55440/pqstage?sslmode=disable"
log "server at $URL (TLS: $TLS_URL)"
sql() { "$PSQL" "$URL" -qX -v ON_ERROR_STOP=1 "$@"; }

"$PQSTAGE" sample violations --spec-out "$SPEC"
# The spec ends with its [target] table, so the key lands there.
echo 'cluster_by = "site_state"' >>"$SPEC"
convert() { "$PQSTAGE" convert "$1" --spec "$SPEC" --to "$STAGE" --dataset violations --no-progress >/dev/null; }
log "converting $CSV into $STAGE"
convert "$CSV"

: >"$RESULTS"

# The psql peer's table: the CSV's 21 columns, partitioned by year ranges of
# issuance_date (PostgreSQL cannot partition on a generated year column).
psql_table() {
  local t="$1"
  {
    echo "DROP TABLE IF EXISTS $t CASCADE;"
    echo "CREATE TABLE $t (agency text NOT NULL, activity_nr bigint NOT NULL, citation_id text NOT NULL,
      company_name text NOT NULL, site_address text, site_city text, site_state text, site_zip text,
      naics_code integer, standard text, viol_type text, issuance_date date, abate_date date,
      current_penalty numeric(12,2), initial_penalty numeric(12,2), nr_instances integer, nr_exposed integer,
      gravity text, emphasis text, delete_flag text, load_dt timestamp) PARTITION BY RANGE (issuance_date);"
    for y in $(seq 1900 2100); do
      echo "CREATE TABLE ${t}_p$y PARTITION OF $t FOR VALUES FROM ('$y-01-01') TO ('$((y + 1))-01-01');"
    done
    echo "CREATE TABLE ${t}_pnull PARTITION OF $t DEFAULT;"
  } | sql
}
psql_copy() { sql -c "\\copy violations_psql FROM '$CSV' WITH (FORMAT csv, HEADER)"; }
psql_index() {
  sql -c "CREATE INDEX ON violations_psql (agency)" \
      -c "CREATE INDEX ON violations_psql (company_name, issuance_date)" \
      -c "CREATE INDEX ON violations_psql (site_state, issuance_date)" \
      -c "ANALYZE violations_psql"
}
drop() { sql -c "DROP TABLE IF EXISTS $1 CASCADE" -c "DELETE FROM pqstage.load_state WHERE table_name = '$1'" 2>/dev/null || sql -c "DROP TABLE IF EXISTS $1 CASCADE"; }
export -f sql psql_copy psql_index
export PSQL URL CSV
# Every timed step starts from the same server state: no dirty buffers left by
# the step before (a checkpoint it triggered would be paid by the next one),
# and the kernel's dirty pages written out.
timed() { sql -c "CHECKPOINT" && sync && once "$@"; }

for ((i = 1; i <= REPEAT; i++)); do
  log "run $i/$REPEAT"
  psql_table violations_psql
  timed "psql-copy" bash -c psql_copy
  timed "psql-index-analyze" bash -c psql_index
  sql -c "DROP TABLE violations_psql CASCADE"

  drop violations
  timed "pqstage" "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations --jobs "$JOBS" --no-progress
  timed "pqstage-unchanged" "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations --no-progress
  convert "$CSV_FIXED"
  timed "pqstage-correction" "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations --jobs "$JOBS" --no-progress
  grep -q '^loaded 1 partitions' "$OUT/log-pqstage-correction.txt" || die "the correction did not reload exactly one partition"
  convert "$CSV"
  drop violations
  timed "pqstage-tls" "$PQSTAGE" load postgres "$STAGE" --db "$TLS_URL" --table violations --jobs "$JOBS" --no-progress
  drop violations

  # Without indexes: pgpq runs COPY alone, so pqstage is compared doing the
  # same work (--no-analyze); the run with ANALYZE is reported beside it.
  drop violations_noidx
  timed "pqstage-no-indexes" "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations_noidx --no-indexes --jobs "$JOBS" --no-progress
  drop violations_noidx
  timed "pqstage-no-indexes-no-analyze" "$PQSTAGE" load postgres "$STAGE" --db "$URL" --table violations_noidx --no-indexes --no-analyze --jobs "$JOBS" --no-progress
  drop violations_noidx
  timed "pqstage-no-indexes-no-analyze-tls" "$PQSTAGE" load postgres "$STAGE" --db "$TLS_URL" --table violations_noidx --no-indexes --no-analyze --jobs "$JOBS" --no-progress
  # pgpq streams into a parent of the same shape (created by pqstage, emptied).
  sql -c "TRUNCATE violations_noidx"
  timed "pgpq" "$VENV/bin/python" "$BENCH/pgpq_load.py" "$URL" "$STAGE/violations" violations_noidx
  drop violations_noidx
done

{
  echo "## pqstage load postgres benchmark ($ROWS rows, REPEAT=$REPEAT, --jobs $JOBS)"
  echo
  echo "- $("$PQSTAGE" --version); $("$PSQL" --version); server: tests/pg/pg.sh defaults (shared_buffers 128MB, fsync on, wal_level replica) with ssl = on"
  echo "- peers: psql \\copy of the CSV; pgpq 0.12.0 + psycopg 3.3.9 + pyarrow 26.0.1"
  echo "- nproc $(nproc); cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo
  awk -F'\t' "$AWK_BEST"'
    function verdict(ok) { if (!ok) failed = 1; return ok ? "PASS" : "FAIL" }
    END {
      print "| run | wall s (best) | client peak RSS MB |"
      print "| --- | ---: | ---: |"
      for (i = 1; i <= n; i++) { l = order[i]; printf "| %s | %.2f | %.0f |\n", l, best[l], rss[l] / 1024 }
      print ""
      psql = best["psql-copy"] + best["psql-index-analyze"]
      r1 = psql / best["pqstage"]
      printf "- with indexes + ANALYZE: psql \\copy + CREATE INDEX + ANALYZE %.2f s, pqstage %.2f s: %.2fx faster, target >= 2x: %s\n", psql, best["pqstage"], r1, verdict(r1 >= 2)
      r2 = best["pgpq"] / best["pqstage-no-indexes-no-analyze"]
      printf "- without indexes (COPY only on both sides): pgpq %.2f s, pqstage --no-analyze %.2f s: %.2fx faster, target >= 1.5x: %s\n", best["pgpq"], best["pqstage-no-indexes-no-analyze"], r2, verdict(r2 >= 1.5)
      printf "- without indexes, pqstage with ANALYZE: %.2f s (%.2fx pgpq, which does not analyse)\n", best["pqstage-no-indexes"], best["pgpq"] / best["pqstage-no-indexes"]
      printf "- unchanged rerun: %.2f s, target < 2 s: %s\n", best["pqstage-unchanged"], verdict(best["pqstage-unchanged"] < 2)
      c = best["pqstage-correction"] / best["pqstage"]
      printf "- correction: %.3fx the full load, target <= 0.2x: %s\n", c, verdict(c <= 0.2)
      t = best["pqstage-tls"] / best["pqstage"]
      printf "- over TLS (verify-full): with indexes + ANALYZE %.2f s against %.2f s in plaintext: %.2fx the time\n", best["pqstage-tls"], best["pqstage"], t
      t = best["pqstage-no-indexes-no-analyze-tls"] / best["pqstage-no-indexes-no-analyze"]
      printf "- over TLS (verify-full), COPY only: %.2f s against %.2f s in plaintext: %.2fx the time\n", best["pqstage-no-indexes-no-analyze-tls"], best["pqstage-no-indexes-no-analyze"], t
      m = 0; for (l in rss) if (l ~ /^pqstage/ && rss[l] > m) m = rss[l]
      printf "- pqstage client peak RSS: %.0f MB, target <= 256 MB: %s\n", m / 1024, verdict(m <= 256 * 1024)
      print ""
      print (failed ? "RESULT: FAIL" : "RESULT: PASS")
    }' "$RESULTS"
} | tee "$REPORT"
log "report written to $REPORT"
