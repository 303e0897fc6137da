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

-- name: patch_lookup
-- Applying change sets, one version at a time for every partition patched,
-- in the load's one transaction. First the one look-up of the version's
-- keys in the table: the row ids of the rows under the keys it deletes or
-- updates (leaving) and under those it inserts (which must be none).
-- Placeholders: table, leaving and arriving (SELECTs of the key columns and
-- the partition column from change set files, or of no rows), keys (those
-- columns), match (t."k" = s."k" AND ..., with the partition column
-- compared IS NOT DISTINCT FROM), key (the partition column).
CREATE OR REPLACE TEMP TABLE pqstage_found AS
SELECT t.rowid AS row_id, s.leaving, s.{key} AS part
FROM {table} AS t
JOIN (SELECT {keys}, true AS leaving FROM ({leaving}) UNION ALL SELECT {keys}, false FROM ({arriving})) AS s
ON {match};

-- name: patch_found
-- Per partition value: the rows found under leaving keys, and under
-- arriving ones.
SELECT part, count(*) FILTER (WHERE leaving), count(*) FILTER (WHERE NOT leaving)
FROM pqstage_found GROUP BY part;

-- name: patch_forget
-- A partition replaced whole instead of patched leaves the rows found.
-- Placeholder: condition (part = 1987, or part IS NULL).
DELETE FROM pqstage_found WHERE {condition};

-- name: patch_delete
-- The rows found under leaving keys leave, by row id (no second look-up by
-- key). Placeholder: table.
DELETE FROM {table} WHERE rowid IN (SELECT row_id FROM pqstage_found WHERE leaving);

-- name: patch_insert
-- The inserted and updated rows go in. Placeholders: table, columns, files,
-- hive (the partition column from the folder names).
INSERT INTO {table} ({columns})
SELECT {columns} FROM read_parquet({files}, {hive});

-- name: add_column
-- A column the spec gained; the rows the table holds get NULL there.
-- Placeholders: table, column, type.
ALTER TABLE {table} ADD COLUMN {column} {type};

-- name: defer_vacuum
-- No row groups compacted at this load's checkpoint: the deleted rows stay
-- in the file, marked deleted, until a later checkpoint compacts them.
SET max_vacuum_tasks = 0;
