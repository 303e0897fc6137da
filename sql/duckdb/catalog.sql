-- What a DuckDB file holds: its catalog name, a table's columns, its rows
-- per partition. Placeholders: table (the quoted catalog.schema.name), key
-- (the quoted partition column). `?` are bound parameters.

-- name: current_catalog
-- The catalog (database) name DuckDB gave the open file.
SELECT current_database();

-- name: table_columns
-- Columns of an existing table, in order: name and type as DuckDB spells
-- them. Parameters: schema, table. No rows when the table is missing.
SELECT column_name, data_type
FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
ORDER BY column_index;

-- name: rows_per_key
-- Rows per partition key.
SELECT CAST({key} AS BIGINT), count(*) FROM {table} GROUP BY ALL;

-- name: rows_unpartitioned
-- Rows of an unpartitioned table, as the one NULL key (no row when empty).
SELECT CAST(NULL AS BIGINT), count(*) FROM {table} HAVING count(*) > 0;

-- name: stored_rows
-- The rows a table's storage holds, counting deleted rows that no checkpoint
-- has compacted away yet (DuckDB's estimate, exact for a committed table).
-- Parameters: schema, table.
SELECT estimated_size
FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?;
