-- The DuckDB loader's statements, all in the load's one transaction.
-- Placeholders are filled with quoted names and literals: table (the quoted
-- catalog.schema.name), schema (the quoted catalog.schema), columns.

-- name: create_table
-- The target table, typed from the spec; columns are the definitions
-- ("name" TYPE [NOT NULL], ...).
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE {table} ({columns});

-- name: drop_table
-- The old table, before a forced reload re-creates it.
DROP TABLE IF EXISTS {table};

-- name: delete_units
-- The rows of the partitions being replaced or removed; condition is
-- "year IN (...) OR year IS NULL" (true for an unpartitioned table).
DELETE FROM {table} WHERE {condition};

-- name: insert_files
-- Inserts the rows of the named Parquet files. Placeholders: files (a list
-- literal of exactly the files the manifest names), hive (for a partitioned
-- table, hive_partitioning on with the partition column's type, which comes
-- from the Hive folder name year=1987; else hive_partitioning off), table and
-- columns. Columns are listed by name, so any other key=value folder above
-- the stage is ignored.
INSERT INTO {table} ({columns})
SELECT {columns}
FROM read_parquet({files}, {hive});
