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

-- name: patch_held
-- Applying change sets, one version at a time for every partition patched,
-- in the load's one transaction. First: per partition, how many rows have
-- the keys of source (a SELECT of the key columns and the partition column
-- from change set files). Placeholders: table, source, match (t."k" = s."k"
-- AND ..., with the partition column compared IS NOT DISTINCT FROM), key
-- (the partition column).
SELECT s.{key}, count(*) FROM {table} AS t JOIN ({source}) AS s ON {match} GROUP BY s.{key};

-- name: patch_delete
-- The rows of the keys the change sets delete or update leave.
DELETE FROM {table} AS t USING ({source}) AS s WHERE {match};

-- name: patch_insert
-- The inserted and updated rows go in. Placeholders: table, columns, files,
-- hive (the partition column from the folder names).
INSERT INTO {table} ({columns})
SELECT {columns} FROM read_parquet({files}, {hive});

-- name: patch_count
-- The rows under the staged keys after the change sets: each key must name
-- exactly one row. Placeholders: table, source (the keys), match.
SELECT count(*) FROM {table} AS t JOIN ({source}) AS s ON {match};

-- name: add_column
-- A column the spec gained; the rows the table holds get NULL there.
-- Placeholders: table, column, type.
ALTER TABLE {table} ADD COLUMN {column} {type};
