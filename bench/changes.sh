#!/usr/bin/env bash
# Change sets on the 18M-row sample: a later dump of the same records (`sample
# --revision 1`: 1 % of the rows corrected across all years, a fifth of those
# moved to the year before, 0.5 % added, 0.2 % removed), applied to targets
# that hold the first dump, with their indexes.
#
#   convert: the new dump into the stage holding the first one (change sets
#     computed), against a plain convert of it with the key removed from the
#     spec (no key checks, no change sets);
#   PostgreSQL: pqstage's incremental load (the default update-insert, into
#     the database the first load went to, which has pg_prewarm so the load
#     reads ahead; the same without pg_prewarm, MERGE, ON CONFLICT and
#     delete-insert into copies of it), against a full reload of the new dump
#     (load --no-patch: every year swapped) and against the hand-written path
#     of a DBA (text COPY of the changed rows and the deleted keys into
#     temporary tables, DELETE, then INSERT ... ON CONFLICT DO UPDATE), each on
#     its own copy of the database; then the no-op rerun. A copy (CREATE
#     DATABASE ... TEMPLATE) has no statistics counters, so a load into one
#     counts each partition's rows first (about 1 s at 18M rows);
#   DuckDB: the incremental load against a full reload (--no-patch), and the
#     no-op rerun;
#   merge: the same revision as users who get only the changed records have
#     it (`sample --part changes` and `--part removed-keys`), merged into a
#     copy of the first dump's stage (`convert --mode merge --deletes`),
#     against the convert of the whole new dump; the merged version must hold
#     the same rows (EXCEPT ALL both ways) and the same change-set counts.
# Every target is then compared with the full reload by content: PostgreSQL
# by count and the sum of a 64-bit hash of every whole row, DuckDB row for
# row (EXCEPT ALL both ways).
#
# Usage: bash bench/changes.sh          (make bench-changes; part of make bench)
#
# Environment: ROWS (default 18000000), PQSTAGE (binary), JOBS. The server is
# a throwaway one (tests/pg/pg.sh) on port 55442, deleted at the end.
#
# Files: the CSVs in bench/data/ (generated when missing), the stages and
# logs in bench/out/changes, the report in bench/out/changes-results.md.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$BENCH/out/changes"
need_pqstage
REPORT="$BENCH/out/changes-results.md"
CSV1="$DATA/violations-$ROWS-rev1.csv"
CHANGES1="$DATA/violations-$ROWS-rev1-changes.csv"
REMOVED1="$DATA/violations-$ROWS-rev1-removed-keys.csv"
SPEC="$OUT/violations.toml"
PLAIN="$OUT/violations-nokey.toml"
STAGE="$OUT/stage"
: >"$RESULTS"

ensure_sample "$ROWS" "$CSV"
if [[ ! -s "$CSV1" || "$CSV1" -ot "$CSV" ]]; then
  log "generating $CSV1 (revision 1 of the $ROWS rows)"
  "$PQSTAGE" sample violations --rows "$ROWS" --revision 1 --out "$CSV1.tmp" -q && mv "$CSV1.tmp" "$CSV1"
fi
for part in changes removed-keys; do
  f="$DATA/violations-$ROWS-rev1-$part.csv"
  if [[ ! -s "$f" || "$f" -ot "$CSV" ]]; then
    "$PQSTAGE" sample violations --rows "$ROWS" --revision 1 --part "$part" --out "$f.tmp" -q && mv "$f.tmp" "$f"
  fi
done
"$PQSTAGE" sample violations --spec-out "$SPEC"
grep -v '^key = ' "$SPEC" >"$PLAIN"

# DuckDB 1.5.6 (the engine pqstage links) for the row-for-row comparison and
# for writing the DBA's CSV files from the change sets.
PYDIR="$BENCH/.venv-duckdb-1.5.6"
if [[ ! -x "$PYDIR/bin/python" ]] || ! "$PYDIR/bin/python" -c "import duckdb" 2>/dev/null; then
  log "installing duckdb==1.5.6 into $PYDIR"
  python3 -m venv "$PYDIR" && "$PYDIR/bin/pip" install -q --disable-pip-version-check duckdb==1.5.6 ||
    die "pip install duckdb failed"
fi
PY="$PYDIR/bin/python"

start_pg 55442
URL="postgres://pqtest@127.0.0.1:55442/pqstage?sslmode=disable"
db_url() { echo "postgres://pqtest@127.0.0.1:55442/$1?sslmode=disable"; }
sql() { "$PSQL" "$(db_url "$1")" -qXAt -v ON_ERROR_STOP=1 "${@:2}"; }
settle() { sql pqstage -c CHECKPOINT; sync; }
# pg_load LABEL DB [flags...]: one timed load of the stage into DB's table.
pg_load() {
  local label="$1" db="$2"
  shift 2
  once "$label" "$PQSTAGE" load postgres "$STAGE" --db "$(db_url "$db")" --table violations --no-progress "$@"
}

# --- the first dump, loaded ----------------------------------------------------
rm -rf "$STAGE" "$OUT/plain" "$OUT/merged" "$OUT"/*.duckdb "$OUT"/*.duckdb.wal
once convert_first "$PQSTAGE" convert "$CSV" --spec "$SPEC" --to "$STAGE" --no-progress
settle
pg_load pg_first_load pqstage
# pg_prewarm, as a DBA would install it: the incremental loads read the
# partitions they change ahead of their changes. One copy goes without, to
# measure what reading ahead gives.
sql pqstage -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm"
for copy in merge on_conflict delete_insert full_reload dba no_read_ahead; do
  sql pqstage -c "CREATE DATABASE $copy TEMPLATE pqstage STRATEGY FILE_COPY"
done
sql no_read_ahead -c "DROP EXTENSION pg_prewarm"
once duck_first_load "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/inc.duckdb" --no-progress
cp "$OUT/inc.duckdb" "$OUT/full.duckdb"
cp "$OUT/inc.duckdb" "$OUT/compact.duckdb"

# --- the new dump ----------------------------------------------------------------
cp -r "$STAGE" "$OUT/merged"
once convert_plain "$PQSTAGE" convert "$CSV1" --spec "$PLAIN" --to "$OUT/plain" --no-progress
rm -rf "$OUT/plain"
once convert_changes "$PQSTAGE" convert "$CSV1" --spec "$SPEC" --to "$STAGE" --no-progress
log "  $(tail -1 "$OUT/log-convert_changes.txt")"
settle
once convert_merge "$PQSTAGE" convert "$CHANGES1" --deletes "$REMOVED1" --mode merge --spec "$SPEC" --to "$OUT/merged" --no-progress
log "  $(grep '(merge)' "$OUT/log-convert_merge.txt")"

settle
pg_load pg_incremental pqstage -v
settle
pg_load pg_incremental_no_read_ahead no_read_ahead
settle
pg_load pg_incremental_merge merge --upsert merge
settle
pg_load pg_incremental_on_conflict on_conflict --upsert on-conflict
settle
pg_load pg_incremental_delete_insert delete_insert --upsert delete-insert
settle
pg_load pg_full_reload full_reload --no-patch
settle
pg_load pg_noop_rerun pqstage

# The DBA's path: the changed rows and the deleted keys as CSV (not timed),
# then text COPY into temporary tables, DELETE and INSERT ... ON CONFLICT.
# A year the table does not have yet (a record moved to it) gets its
# partition, and its rows come from the staged partition.
HAVE="$(sql dba -c "SELECT string_agg(DISTINCT year::text, ',') FROM violations")"
NEW_YEARS="$("$PY" - "$STAGE/violations" "$OUT" "$HAVE" <<'EOF'
import duckdb, json, sys
root, out, have = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
m = json.load(open(f"{root}/_manifest.json"))
t = m["tables"][0]
changes = [c for c in t["changes"] if c["version"] == m["version"]]
new = [p for p in t["partitions"] if p["value"] is not None and str(p["value"]) not in have]
def files(kind):
    return [(f"{root}/{f['path']}", c["value"]) for c in changes for f in c[kind].get("files", [])]
con = duckdb.connect()
cols = [c["name"] for c in t["spec"]["columns"]] + [d["name"] for d in t["spec"].get("derived", [])]
def export(sources, select, path):
    parts = [f"SELECT {select}, {'NULL' if v is None else v}::INTEGER AS year FROM read_parquet('{p}')"
             for p, v in sources]
    con.execute(f"COPY ({' UNION ALL '.join(parts)}) TO '{path}' (HEADER, DELIMITER ',')")
whole = [(f"{root}/{f['path']}", p["value"]) for p in new for f in p["files"]]
export(files("inserted") + files("updated") + whole, ", ".join(f'"{c}"' for c in cols), f"{out}/dba-upserts.csv")
export(files("deleted"), '"activity_nr", "citation_id"', f"{out}/dba-deletes.csv")
print(" ".join(str(p["value"]) for p in new))
EOF
)"
PARTITIONS=""
for y in $NEW_YEARS; do
  PARTITIONS+="CREATE TABLE violations_dba_$y PARTITION OF violations FOR VALUES FROM ($y) TO ($((y + 1)));"$'\n'
done
COLS="$(sql dba -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
  WHERE attrelid = 'violations'::regclass AND attnum > 0 AND NOT attisdropped")"
SET="$(sql dba -c "SELECT string_agg(format('%1\$I = EXCLUDED.%1\$I', attname), ', ' ORDER BY attnum) FROM pg_attribute
  WHERE attrelid = 'violations'::regclass AND attnum > 0 AND NOT attisdropped
  AND attname NOT IN ('activity_nr', 'citation_id', 'year')")"
cat >"$OUT/dba.sql" <<EOF
BEGIN;
$PARTITIONS
CREATE TEMP TABLE up (LIKE violations) ON COMMIT DROP;
CREATE TEMP TABLE del (activity_nr bigint, citation_id text, year int) ON COMMIT DROP;
\\copy up ($COLS) FROM '$OUT/dba-upserts.csv' (FORMAT csv, HEADER)
\\copy del FROM '$OUT/dba-deletes.csv' (FORMAT csv, HEADER)
ANALYZE up;
ANALYZE del;
DELETE FROM violations t USING del d
  WHERE t.activity_nr = d.activity_nr AND t.citation_id = d.citation_id AND t.year IS NOT DISTINCT FROM d.year;
-- ON CONFLICT never matches a NULL year: those rows are replaced by hand.
DELETE FROM violations t USING up u
  WHERE t.year IS NULL AND u.year IS NULL AND t.activity_nr = u.activity_nr AND t.citation_id = u.citation_id;
INSERT INTO violations SELECT * FROM up
  ON CONFLICT (activity_nr, citation_id, year) DO UPDATE SET $SET;
COMMIT;
EOF
settle
once pg_dba_copy_on_conflict "$PSQL" "$(db_url dba)" -qX -v ON_ERROR_STOP=1 -f "$OUT/dba.sql"

once duck_incremental "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/inc.duckdb" --no-progress -v
# The same with DuckDB's own compaction of the deleted rows at the checkpoint
# (pqstage defers it until they pass 10% of the table).
once duck_incremental_compact "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/compact.duckdb" --no-progress -v --vacuum-above 0
once duck_full_reload "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/full.duckdb" --no-progress --no-patch
once duck_noop_rerun "$PQSTAGE" load duckdb "$STAGE" --db "$OUT/inc.duckdb" --no-progress

# --- the same content? -------------------------------------------------------------
CONTENT="SELECT count(*) || ' rows, hash ' || sum(hashtextextended(v::text, 0)::numeric) FROM violations v"
FULL="$(sql full_reload -c "$CONTENT")"
: >"$OUT/content.txt"
for db in pqstage no_read_ahead merge on_conflict delete_insert dba; do
  got="$(sql "$db" -c "$CONTENT")"
  printf '%s\t%s\n' "$db" "$got" >>"$OUT/content.txt"
  [[ "$got" == "$FULL" ]] || die "PostgreSQL database $db holds other rows than the full reload: $got vs $FULL"
done
# The summaries each load kept (up to date from the changes, or computed
# again) against the same aggregates computed afresh from the table, written
# here rather than taken from sql/: rows that differ, both ways.
BY_YEAR="SELECT year, count(*) AS violations, count(current_penalty) AS penalties,
  coalesce(sum(current_penalty), 0) AS total_penalty FROM violations GROUP BY year"
BY_COMPANY="SELECT company_name_normalized AS company, count(*) AS violations,
  coalesce(sum(current_penalty), 0) AS total_penalty FROM violations WHERE current_penalty IS NOT NULL GROUP BY 1"
SUMMARY_DIFF="SELECT (SELECT count(*) FROM (TABLE violations_by_year EXCEPT ALL $BY_YEAR) a)
  + (SELECT count(*) FROM ($BY_YEAR EXCEPT ALL TABLE violations_by_year) b)
  + (SELECT count(*) FROM (TABLE violations_top_companies EXCEPT ALL $BY_COMPANY) c)
  + (SELECT count(*) FROM ($BY_COMPANY EXCEPT ALL TABLE violations_top_companies) d)"
for db in pqstage no_read_ahead merge on_conflict delete_insert full_reload; do
  diff="$(sql "$db" -c "$SUMMARY_DIFF")"
  [[ "$diff" == 0 ]] || die "PostgreSQL database $db: its summaries differ from its table by $diff rows"
done
DUCK="$("$PY" - "$OUT/inc.duckdb" "$OUT/full.duckdb" "$BY_YEAR" "$BY_COMPANY" "$OUT/compact.duckdb" <<'EOF'
import duckdb, sys
c = duckdb.connect()
c.execute(f"ATTACH '{sys.argv[1]}' AS a (READ_ONLY); ATTACH '{sys.argv[2]}' AS b (READ_ONLY)")
c.execute(f"ATTACH '{sys.argv[5]}' AS k (READ_ONLY)")
rows = c.execute("SELECT (SELECT count(*) FROM (FROM a.violations EXCEPT ALL FROM b.violations)) "
                 "+ (SELECT count(*) FROM (FROM k.violations EXCEPT ALL FROM b.violations)), "
                 "(SELECT count(*) FROM (FROM b.violations EXCEPT ALL FROM a.violations)) "
                 "+ (SELECT count(*) FROM (FROM b.violations EXCEPT ALL FROM k.violations)), "
                 "(SELECT count(*) FROM a.violations)").fetchone()
diff = 0
for db in ("a", "b", "k"):
    c.execute(f"USE {db}")
    for kept, fresh in (("violations_by_year", sys.argv[3]), ("violations_top_companies", sys.argv[4])):
        diff += c.execute(f"SELECT (SELECT count(*) FROM (FROM {kept} EXCEPT ALL {fresh})) + "
                          f"(SELECT count(*) FROM ({fresh} EXCEPT ALL FROM {kept}))").fetchone()[0]
print(*rows, diff)
EOF
)"
read -r only_inc only_full duck_rows duck_summary_diff <<<"$DUCK"
[[ "$only_inc" == 0 && "$only_full" == 0 ]] || die "DuckDB: $only_inc rows only in the incremental loads, $only_full only in the full reload"
[[ "$duck_summary_diff" == 0 ]] || die "DuckDB: the summaries differ from their tables by $duck_summary_diff rows"
log "content: PostgreSQL all equal to the full reload ($FULL); DuckDB equal row for row ($duck_rows rows); every summary equal to its table's aggregates"
# Room on the disk for the merged check's spill.
rm -f "$OUT/compact.duckdb"

# The merged stage against the new dump's: the same rows, the same changes.
MERGED="$("$PY" - "$OUT/merged/violations" "$STAGE/violations" <<'EOF'
import duckdb, json, sys
def staged(root):
    m = json.load(open(f"{root}/_manifest.json"))
    t = m["tables"][0]
    files = [f"{root}/{f['path']}" for p in t["partitions"] for f in p["files"]]
    totals = [sum(c[k]["rows"] for c in t["changes"] if c["version"] == m["version"]) for k in ("inserted", "updated", "deleted")]
    return f"read_parquet({files!r}, hive_partitioning = true)", totals, t["rows_written"]
(a, ta, na), (b, tb, nb) = staged(sys.argv[1]), staged(sys.argv[2])
c = duckdb.connect()
d = c.execute(f"SELECT (SELECT count(*) FROM (FROM {a} EXCEPT ALL FROM {b})), (SELECT count(*) FROM (FROM {b} EXCEPT ALL FROM {a}))").fetchone()
print(d[0], d[1], na, nb, "/".join(map(str, ta)), "/".join(map(str, tb)))
EOF
)"
read -r only_merged only_dump merged_rows dump_rows merged_changes dump_changes <<<"$MERGED"
[[ "$only_merged" == 0 && "$only_dump" == 0 && "$merged_rows" == "$dump_rows" ]] ||
  die "merged stage: $only_merged rows only in it, $only_dump only in the new dump's ($merged_rows vs $dump_rows rows)"
[[ "$merged_changes" == "$dump_changes" ]] || die "merged change sets $merged_changes, the new dump's $dump_changes"
log "merge: the merged stage holds the new dump's $dump_rows rows; change sets $merged_changes (inserted/updated/deleted) as the dump's"

# --- report ------------------------------------------------------------------------
CHANGED="$(grep -m1 '^version ' "$OUT/log-convert_changes.txt" || true)"
{
  echo "# Change sets: $ROWS rows, a later dump applied ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Convert of the new dump: $CHANGED."
  echo "PostgreSQL content (count, sum of a 64-bit hash of every row) equal in every database: $FULL."
  echo "DuckDB: both incremental tables equal the full reload row for row ($duck_rows rows, EXCEPT ALL both ways)."
  echo "Summaries: in every PostgreSQL database but the DBA's, and in both DuckDB files, equal row for row to the aggregates computed afresh from the table."
  echo
  echo "Time spent on the summaries, by load:"
  for l in pg_first_load pg_incremental pg_incremental_no_read_ahead pg_incremental_merge pg_incremental_on_conflict pg_incremental_delete_insert pg_full_reload pg_noop_rerun duck_first_load duck_incremental duck_incremental_compact duck_full_reload duck_noop_rerun; do
    echo "- $l: $(grep -m1 '^summaries: ' "$OUT/log-$l.txt" | sed 's/"public"\.//g; s/"main"\.//g' || echo none)"
  done
  echo "DuckDB's deleted rows: duck_incremental $(grep -m1 -o 'the file keeps [0-9,]* deleted rows ([0-9.]*% of the table.s stored rows)' "$OUT/log-duck_incremental.txt" || echo '(no note)'); duck_incremental_compact $(grep -m1 -o 'deleted rows, [0-9,]* ([0-9.]*% of the table.s stored rows)' "$OUT/log-duck_incremental_compact.txt" || echo '(no note)') compacted at its checkpoint."
  echo "Merge of the changed records ($(grep '(merge)' "$OUT/log-convert_merge.txt")): the same $dump_rows rows as the new dump's stage (EXCEPT ALL both ways), change sets $merged_changes (inserted/updated/deleted) as its."
  echo
  ratio_table convert_changes=convert_plain convert_merge=convert_changes \
    pg_incremental=pg_full_reload pg_incremental_no_read_ahead=pg_full_reload pg_incremental_merge=pg_full_reload pg_incremental_on_conflict=pg_full_reload \
    pg_incremental_delete_insert=pg_full_reload pg_dba_copy_on_conflict=pg_full_reload \
    pg_noop_rerun=pg_full_reload duck_incremental=duck_full_reload duck_incremental_compact=duck_full_reload \
    duck_noop_rerun=duck_full_reload
} >"$REPORT"
cat "$REPORT"
