-- Keeping a table's summaries (a set of sql/duckdb/summaries_*.sql) as
-- tables next to it, and reading them back.

-- name: summary_comment
-- Whether a table exists, and its comment (pqstage's marker on the ones it
-- made). Parameters: $1 the schema, $2 the table.
SELECT comment FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = $1 AND table_name = $2;

-- name: other_relation
-- Whether a view of that name exists (it would block the table). Parameters: $1 the schema, $2 the name.
SELECT count(*) FROM duckdb_views()
WHERE database_name = current_database() AND schema_name = $1 AND view_name = $2;

-- name: store_summary
-- A summary computed again. Placeholders: summary (quoted), query (the set's SQL).
CREATE OR REPLACE TABLE {summary} AS
{query};

-- name: mark_summary
-- Records the set, the summary and its definition's hash. Placeholders: summary, marker.
COMMENT ON TABLE {summary} IS {marker};

-- name: kept_summaries
-- pqstage's summaries of a table: names and markers. Parameters: $1 the
-- schema, $2 the table (summaries are named <table>_<summary>).
SELECT table_name, comment FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = $1
  AND starts_with(table_name, $2 || '_') AND comment LIKE 'pqstage summary %'
ORDER BY table_oid;
