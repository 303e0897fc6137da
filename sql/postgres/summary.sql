-- Keeping a table's summaries (a set of sql/postgres/summaries_*.sql) as
-- materialized views next to it, and reading them back.

-- name: summary_relation
-- Whether a relation is a materialized view, and its comment (pqstage's
-- marker on the ones it made). Parameter: $1 the quoted, qualified name.
SELECT c.relkind = 'm', obj_description(c.oid, 'pg_class')
FROM pg_class c
WHERE c.oid = to_regclass($1);

-- name: create_summary
-- A summary's view, filled. Placeholders: view (quoted), query (the set's SQL).
CREATE MATERIALIZED VIEW {view} AS
{query}

-- name: create_summary_index
-- The unique index REFRESH ... CONCURRENTLY needs. Placeholders: view, columns.
CREATE UNIQUE INDEX ON {view} ({columns});

-- name: mark_summary
-- Records the set, the summary and its definition's hash. Placeholders: view, marker.
COMMENT ON MATERIALIZED VIEW {view} IS {marker};

-- name: drop_summary
-- A summary whose definition changed. Placeholder: view.
DROP MATERIALIZED VIEW {view};

-- name: refresh_summary
-- Placeholders: view, concurrently (CONCURRENTLY or nothing).
REFRESH MATERIALIZED VIEW {concurrently} {view};

-- name: kept_summaries
-- pqstage's summaries of a table: view names and markers. Parameters: $1
-- the schema, $2 the table (views are named <table>_<summary>).
SELECT c.relname::text, obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
  AND c.relkind = 'm'
  AND starts_with(c.relname::text, $2 || '_')
  AND obj_description(c.oid, 'pg_class') LIKE 'pqstage summary %'
ORDER BY c.oid;

-- name: read_summary
-- A summary's rows as text, in its order. Placeholders: view, order.
SELECT * FROM {view} {order};
