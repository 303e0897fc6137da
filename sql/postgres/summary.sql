-- Keeping a table's summaries (a set of sql/postgres/summaries_*.sql) as
-- tables next to it, and reading them back.

-- name: summary_relation
-- Whether a relation exists, its kind ('r' a table, 'm' a materialized view,
-- what summaries were before) and its comment (pqstage's marker on the ones
-- it made). Parameter: $1 the quoted, qualified name.
SELECT c.relkind::text, obj_description(c.oid, 'pg_class')
FROM pg_class c
WHERE c.oid = to_regclass($1);

-- name: create_summary
-- A summary's table, filled. Placeholders: summary (quoted), query.
CREATE TABLE {summary} AS
{query};

-- name: fill_summary
-- A summary computed again, in place, in a transaction: readers see the
-- previous rows until it commits. Placeholders: summary, query.
DELETE FROM {summary};
INSERT INTO {summary}
{query};

-- name: mark_summary
-- Records the set, the summary, its definition's hash and what it was
-- computed from. Placeholders: summary, marker.
COMMENT ON TABLE {summary} IS {marker};

-- name: drop_summary
-- A summary whose definition changed. Placeholders: kind (TABLE or
-- MATERIALIZED VIEW), summary.
DROP {kind} {summary};

-- name: summary_delta
-- Where a transaction gathers the aggregates of the rows it writes and
-- removes, before folding them into the summary. Placeholders: delta, summary.
CREATE TEMP TABLE {delta} ON COMMIT DROP AS SELECT * FROM {summary} WITH NO DATA;

-- name: summary_columns
-- A summary's columns, in order. Parameter: $1 the quoted, qualified name.
SELECT attname::text FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
ORDER BY attnum;

-- name: kept_summaries
-- pqstage's summaries of a table: names and markers. Parameters: $1 the
-- schema, $2 the table (summaries are named <table>_<summary>).
SELECT c.relname::text, obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
  AND c.relkind IN ('r', 'm')
  AND starts_with(c.relname::text, $2 || '_')
  AND obj_description(c.oid, 'pg_class') LIKE 'pqstage summary %'
ORDER BY c.oid;

-- name: summary_ahead
-- Where the connection that prepares a patch's change sets ahead of it
-- (see patch_prepared_tables in load.sql) gathers a maintained summary's
-- aggregates over the rows of every partition it prepared, once it has
-- prepared them all: unlogged, in the parent's schema, named as the
-- prepared tables (pqstage_patch_<pid>_<n>_delta) and dropped with them.
-- Placeholders: table, summary.
CREATE UNLOGGED TABLE {table} (LIKE {summary}) WITH (autovacuum_enabled = off);

-- name: summary_take_ahead
-- What was gathered ahead joins what the patch gathered itself.
-- Placeholders: delta, table.
INSERT INTO {delta} TABLE {table};
