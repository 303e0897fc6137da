-- Columns of an existing table, in order: name and type as DuckDB spells them.
SELECT column_name, data_type
FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
ORDER BY column_index;
