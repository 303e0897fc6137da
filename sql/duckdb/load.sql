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

-- name: patch_matched
-- Applying a change set to one partition, in the load's one transaction.
-- First: how many rows of the partition have the keys of source (a SELECT
-- of key columns from the change set's files). Placeholders: table,
-- partition (t."year" = 1987), match (t."k" = s."k" AND ...), source.
SELECT count(*) FROM {table} AS t JOIN ({source}) AS s ON {match} WHERE {partition};

-- name: patch_delete
-- The rows of the keys a change set deletes or updates leave.
DELETE FROM {table} AS t USING ({source}) AS s WHERE {partition} AND {match};

-- name: patch_insert
-- The inserted and updated rows go in. Placeholders: table, columns,
-- file_columns (the columns stored in the files), key (the partition's value
-- as a literal), files.
INSERT INTO {table} ({columns})
SELECT {file_columns}, {key} FROM read_parquet({files});

-- name: patch_check
-- Staged rows the partition does not hold exactly as staged after the
-- change set (0 when all landed). Placeholders: file_columns,
-- target_columns (t."c", ...), files, table, source (their keys), match,
-- partition.
SELECT count(*) FROM (
    SELECT {file_columns} FROM read_parquet({files})
    EXCEPT ALL
    SELECT {target_columns} FROM {table} AS t JOIN ({source}) AS s ON {match} WHERE {partition}
);
