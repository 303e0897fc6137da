#!/usr/bin/env bash
# Trajectory datasets: the boids sample (EPISODES episodes of 30 agents + 1
# env x 3,001 frames, ~93K observations and ~800K property values each) into
# a fresh database with the users' full schema, on both engines, against the
# users' own loaders run in the same run on the same server:
#   to_sql  bench/trajectories/to_sql_peer.py: pandas read_parquet, to_sql of
#           the observations, a client-side map of the natural key to
#           observation_id read back, to_sql of the properties (their loader);
#   copy    bench/trajectories/text_copy_peer.py: text COPY of the
#           observations, text COPY of the properties into a temp table, one
#           INSERT ... JOIN on the four key columns (their plan; PostgreSQL only).
# pqstage: convert, load, an unchanged rerun, and the rerun after one episode
# changed (episode 3's file replaced by the same episode simulated with
# another seed: same keys, every value different), into tables at the boids
# spec's fillfactor 50 and into tables loaded with --fillfactor 100 (pages
# packed full, PostgreSQL's default), then convert and load at
# 4x the episodes (client RSS flat in the episode count). Each PostgreSQL
# target is a fresh database on one throwaway server (tests/pg/pg.sh, port
# 55450, default settings); every timed step starts once no autovacuum
# worker runs, after a CHECKPOINT.
#
# Usage: bash bench/trajectories.sh          (make bench-trajectories)
# Environment: EPISODES (default 10), JOBS (default nproc), PQSTAGE (binary),
# PEERS=0 to skip the peers.
# Files: the sample in bench/data/trajectories-E*/, logs in
# bench/out/trajectories/, the report in bench/out/trajectories-results.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/trajectories"
need_pqstage
EPISODES="${EPISODES:-10}"
PEERS="${PEERS:-1}"
[[ "$EPISODES" =~ ^[0-9]+$ && "$EPISODES" -ge 4 ]] || die "EPISODES must be at least 4, got '$EPISODES'"
BIG=$((EPISODES * 4))
REPORT="$BENCH/out/trajectories-results.md"
rm -f "$RESULTS" "$OUT/ff-tables.txt" "$OUT/peer-counts.tsv" "$OUT"/log-*.txt "$OUT"/time-*.txt

sample() { # sample EPISODES SEED DIR
  if [[ ! -d "$3" ]]; then
    log "generating $1 episodes (seed $2) into $3"
    "$PQSTAGE" sample trajectories --out "$3.tmp" --episodes "$1" --seed "$2" --quiet && mv "$3.tmp" "$3"
  fi
}
SPEC="$OUT/boids_3d.toml"
"$PQSTAGE" sample trajectories --spec-out "$SPEC"
sample "$EPISODES" 42 "$DATA/trajectories-e$EPISODES"
sample "$EPISODES" 43 "$DATA/trajectories-e$EPISODES-seed43"
sample "$BIG" 42 "$DATA/trajectories-e$BIG"
# The input the runs change: a copy, so the cached sample stays as generated.
IN="$OUT/in"
rm -rf "$IN" && cp -r "$DATA/trajectories-e$EPISODES" "$IN"
SESSION="$(ls -d "$IN"/*/)"
OTHER="$(ls -d "$DATA/trajectories-e$EPISODES-seed43"/*/)"
[[ "$PEERS" == 0 ]] || trajectories_venv

start_pg 55450
URL="postgres://pqtest@127.0.0.1:55450"
sql() { "$PSQL" "$URL/pqstage" -qX -v ON_ERROR_STOP=1 "$@"; }
fresh_db() { sql -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1"; }
# Before a timed step: no autovacuum worker running (a VACUUM of the rows
# the step before wrote is that step's aftermath, not the next one's cost;
# seen taking 1.1 s of a 5.5 s changed episode), then a checkpoint.
settle() {
  local waited=0 quiet=0
  while ((quiet < 2)); do
    if [[ "$(sql -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" == 0 ]]; then
      quiet=$((quiet + 1))
    else
      quiet=0
      waited=$((waited + 1))
      ((waited < 600)) || { log "autovacuum still running after 600 s: timing anyway"; break; }
    fi
    sleep 1
  done
  ((waited == 0)) || log "waited about ${waited} s for autovacuum"
  sql -c CHECKPOINT
  sync
}

STAGE="$OUT/stage"
rm -rf "$STAGE" "$OUT"/*.duckdb
log "pqstage: convert $EPISODES episodes"
once convert "$PQSTAGE" convert "$SESSION" --spec "$SPEC" --to "$STAGE" --no-progress
fresh_db pq; settle
once pg_load "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq" --no-progress -v
settle
once pg_rerun "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq" --no-progress
# The same first load in one transaction (--jobs 1: nobody sees the tables
# without their keys and indexes), against the default on --jobs connections.
fresh_db pq_one; settle
once pg_load_1tx "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq_one" --no-progress -v --jobs 1
sql -c "DROP DATABASE pq_one"
# The same first load with --fillfactor 100 (pages packed full, where the
# boids spec leaves half of each free so that a re-simulated episode's
# rewrite stays on its pages): what the spec's setting costs at load time,
# and what it gives back at the change below.
fresh_db pq_full; settle
once pg_load_ff100 "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq_full" --no-progress -v --fillfactor 100
settle
once pg_rerun_ff100 "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq_full" --no-progress
settle
once duck_load "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pq.duckdb" --no-progress -v
once duck_rerun "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pq.duckdb" --no-progress

log "pqstage: one episode changed"
CHANGED="$(ls "$SESSION" | grep '^episode-3-')"
cp "$OTHER/$(ls "$OTHER" | grep '^episode-3-')" "$SESSION/$CHANGED"
once convert_changed "$PQSTAGE" convert "$SESSION" --spec "$SPEC" --to "$STAGE" --no-progress
settle
once pg_changed "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq" --no-progress -v
settle
once pg_changed_ff100 "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq_full" --no-progress -v
settle
once duck_changed "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pq.duckdb" --no-progress -v
# The changed target against a fresh load of the changed stage: same rows.
fresh_db pq_check
"$PQSTAGE" load postgres "$STAGE" --db "$URL/pq_check" --no-progress --quiet
digest() {
  "$PSQL" "$URL/$1" -qXAt -c "SELECT md5(string_agg(r, '|' ORDER BY r)) FROM (
      SELECT concat_ws(',', o.episode_id, o.time_index, o.agent_id, o.agent_type_id, o.x, o.y, o.z, o.v_x, o.v_y, o.v_z) AS r FROM observations o
      UNION ALL
      SELECT concat_ws(',', o.episode_id, o.time_index, o.agent_id, o.agent_type_id, p.property_id, p.value_float, p.value_text)
      FROM extended_properties p JOIN observations o USING (observation_id)) t"
}
[[ "$(digest pq)" == "$(digest pq_check)" ]] || die "the reloaded target differs from a fresh load of the changed stage"
[[ "$(digest pq_full)" == "$(digest pq_check)" ]] || die "the reloaded target (fillfactor 100) differs from a fresh load of the changed stage"
hot_updates() { "$PSQL" "$URL/$1" -qXAt -c "SELECT string_agg(relname || ' ' || n_tup_hot_upd || ' of ' || n_tup_upd, ', ' ORDER BY relname) FROM pg_stat_user_tables WHERE relname IN ('observations', 'extended_properties')"; }
sizes() { "$PSQL" "$URL/$1" -qXAt -c "SELECT string_agg(format('%s %s MB + indexes %s MB', relname, pg_relation_size(oid) >> 20, pg_indexes_size(oid) >> 20), ', ' ORDER BY relname) FROM pg_class WHERE relname IN ('observations', 'extended_properties') AND relkind = 'r'"; }
{
  echo "HOT updates of the changed episode: fillfactor 50 (the spec's): $(hot_updates pq); fillfactor 100: $(hot_updates pq_full)"
  echo
  echo "Table sizes after it: fillfactor 50: $(sizes pq); fillfactor 100: $(sizes pq_full)"
} >"$OUT/ff-tables.txt"
cat "$OUT/ff-tables.txt" >&2
sql -c "DROP DATABASE pq_full"
log "the target after the changed reload equals a fresh load of the changed stage"
cp "$DATA/trajectories-e$EPISODES/$(basename "$SESSION")/$CHANGED" "$SESSION/$CHANGED"
if [[ "$PEERS" != 0 ]]; then
  # Back to the original, then 1% of another episode's agent rows corrected.
  "$PQSTAGE" convert "$SESSION" --spec "$SPEC" --to "$STAGE" --no-progress --quiet
  "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq" --no-progress --quiet
  "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pq.duckdb" --no-progress --quiet
  FIXED="$(ls "$SESSION" | grep '^episode-5-')"
  "$TPY" "$BENCH/trajectories/correct_values.py" "$DATA/trajectories-e$EPISODES/$(basename "$SESSION")/$FIXED" "$SESSION/$FIXED" >&2
  "$PQSTAGE" convert "$SESSION" --spec "$SPEC" --to "$STAGE" --no-progress --quiet
  settle
  once pg_corrected "$PQSTAGE" load postgres "$STAGE" --db "$URL/pq" --no-progress -v
  settle
  once duck_corrected "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/pq.duckdb" --no-progress -v
  cp "$DATA/trajectories-e$EPISODES/$(basename "$SESSION")/$FIXED" "$SESSION/$FIXED"
fi

if [[ "$PEERS" != 0 ]]; then
  fresh_db peer_to_sql; settle
  once pg_to_sql "$TPY" "$BENCH/trajectories/to_sql_peer.py" --engine postgres --db "$URL/peer_to_sql" "$SESSION"
  fresh_db peer_copy; settle
  once pg_text_copy "$TPY" "$BENCH/trajectories/text_copy_peer.py" --db "$URL/peer_copy" "$SESSION"
  settle
  once duck_to_sql "$TPY" "$BENCH/trajectories/to_sql_peer.py" --engine duckdb --db "$OUT/peer.duckdb" "$SESSION"
  for db in peer_to_sql peer_copy; do
    n="$("$PSQL" "$URL/$db" -qXAt -c "SELECT (SELECT count(*) FROM observations) || '/' || (SELECT count(*) FROM extended_properties)")"
    printf '%s\t%s\n' "$db" "$n" >>"$OUT/peer-counts.tsv"
  done
fi

log "pqstage: $BIG episodes (memory against the episode count)"
STAGE_BIG="$OUT/stage-big"
rm -rf "$STAGE_BIG"
once convert_x4 "$PQSTAGE" convert "$(ls -d "$DATA/trajectories-e$BIG"/*/)" --spec "$SPEC" --to "$STAGE_BIG" --no-progress
fresh_db pq_big; settle
once pg_load_x4 "$PQSTAGE" load postgres "$STAGE_BIG" --db "$URL/pq_big" --no-progress -v
sql -c "DROP DATABASE pq_big"
# At 4x the data the spec's half-empty pages are twice the heap to write and
# read back: the same load with the pages packed full.
fresh_db pq_big_full; settle
once pg_load_x4_ff100 "$PQSTAGE" load postgres "$STAGE_BIG" --db "$URL/pq_big_full" --no-progress -v --fillfactor 100
sql -c "DROP DATABASE pq_big_full"
settle
once duck_load_x4 "$PQSTAGE" load duckdb "$STAGE_BIG" --db "$OUT/pq-big.duckdb" --no-progress
# DuckDB with its buffer pool capped, at both sizes.
rm -f "$OUT"/capped*.duckdb
once duck_load_capped "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/capped.duckdb" --no-progress --memory-limit 192MB
once duck_load_x4_capped "$PQSTAGE" load duckdb "$STAGE_BIG" --db "$OUT/capped-big.duckdb" --no-progress --memory-limit 192MB
rm -f "$OUT"/capped*.duckdb

# --- report ------------------------------------------------------------------------
step_split() { sed -n 's/^seconds per step: //p' "$OUT/log-$1.txt"; }
{
  echo "# Trajectories: $EPISODES episodes (x4: $BIG), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "| step | wall s | peak RSS MiB | vs pqstage |"
  echo "|---|---:|---:|---:|"
  awk -F'\t' -v episodes="$EPISODES" "$AWK_BEST"'END {
    for (i = 1; i <= n; i++) best_of[order[i]] = best[order[i]]
    for (i = 1; i <= n; i++) {
      l = order[i]; ref = ""
      if (l == "pg_to_sql" || l == "pg_text_copy") ref = sprintf("%.1fx slower", best[l] / best_of["pg_load"])
      if (l == "duck_to_sql") ref = sprintf("%.1fx slower", best[l] / best_of["duck_load"])
      if (l == "pg_changed") ref = sprintf("%.2fx the full load", best[l] / best_of["pg_load"])
      if (l == "duck_changed") ref = sprintf("%.2fx the full load", best[l] / best_of["duck_load"])
      if (l == "pg_corrected") ref = sprintf("%.2fx the full load", best[l] / best_of["pg_load"])
      if (l == "duck_corrected") ref = sprintf("%.2fx the full load", best[l] / best_of["duck_load"])
      if (l == "pg_load_x4") ref = sprintf("%.2fx the %d-episode load", best[l] / best_of["pg_load"], episodes)
      if (l == "pg_load_x4_ff100") ref = sprintf("%.2fx the %d-episode load at fillfactor 100", best[l] / best_of["pg_load_ff100"], episodes)
      if (l == "duck_load_x4") ref = sprintf("%.2fx the %d-episode load", best[l] / best_of["duck_load"], episodes)
      if (l == "pg_load_ff100") ref = sprintf("%.2fx the load at fillfactor 50 (the spec)", best[l] / best_of["pg_load"])
      if (l == "pg_changed_ff100") ref = sprintf("%.2fx its full load", best[l] / best_of["pg_load_ff100"])
      if (l == "pg_load_1tx") ref = sprintf("%.2fx the load on --jobs connections", best[l] / best_of["pg_load"])
      if (l == "duck_load_capped") ref = sprintf("%.2fx the uncapped load", best[l] / best_of["duck_load"])
      if (l == "duck_load_x4_capped") ref = sprintf("%.2fx the uncapped load", best[l] / best_of["duck_load_x4"])
      printf "| %s | %.2f | %.0f | %s |\n", l, best[l], rss[l] / 1024, ref
    }
  }' "$RESULTS"
  echo
  echo "pqstage per-step seconds (summed over episodes and connections):"
  echo
  for l in pg_load pg_load_1tx pg_load_ff100 pg_changed pg_changed_ff100 pg_corrected duck_load duck_changed duck_corrected pg_load_x4 pg_load_x4_ff100; do
    [[ -s "$OUT/log-$l.txt" ]] && echo "- $l: $(step_split "$l")$(sed -n 's/^first load: /; /p' "$OUT/log-$l.txt")"
  done
  [[ -s "$OUT/ff-tables.txt" ]] && echo && cat "$OUT/ff-tables.txt"
  if [[ -s "$OUT/peer-counts.tsv" ]]; then
    echo
    echo "Rows loaded (observations/properties): pqstage $("$PSQL" "$URL/pq_check" -qXAt -c "SELECT (SELECT count(*) FROM observations) || '/' || (SELECT count(*) FROM extended_properties)") (changed stage); peers on the original: $(tr '\t' '=' <"$OUT/peer-counts.tsv" | paste -sd' ')"
  fi
} >"$REPORT"
cat "$REPORT"
