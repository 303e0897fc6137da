-- pqstage's record of what each DuckDB table holds: one row per loaded
-- partition, with the manifest checksum it was loaded from. It lives in the
-- DuckDB file beside the data, so it commits and rolls back with the data.
-- Placeholders: catalog (the quoted catalog name, i.e. the file's name: a
-- file called pqstage.duckdb has a catalog named like the schema, and only
-- the full name is unambiguous), state (the quoted state table,
-- "catalog".pqstage.load_state). `?` are bound parameters.

-- name: create_state
-- Creates the state table if missing.
CREATE SCHEMA IF NOT EXISTS {catalog}.pqstage;
CREATE TABLE IF NOT EXISTS {catalog}.pqstage.load_state (
    table_name      VARCHAR NOT NULL,   -- the target table as given to --table
    partition_path  VARCHAR NOT NULL,   -- e.g. 'year=1987' ('' if unpartitioned)
    partition_value BIGINT,             -- the key; NULL for the NULL partition
    checksum        VARCHAR NOT NULL,   -- the partition's checksum in the manifest
    rows            BIGINT NOT NULL,    -- rows loaded
    dataset         VARCHAR NOT NULL,   -- the staged dataset's name
    manifest_created_at VARCHAR NOT NULL,
    loaded_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- name: read_state
-- What is recorded for a table. Parameter: the table.
SELECT partition_value, checksum, rows FROM {state} WHERE table_name = ?;

-- name: record_unit
-- Records a loaded partition. Parameters: table, path, value, checksum, rows,
-- dataset, the manifest's created_at.
INSERT INTO {state} (table_name, partition_path, partition_value, checksum, rows, dataset, manifest_created_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: forget_unit
-- Forgets a partition being replaced or removed. Parameters: table, path.
DELETE FROM {state} WHERE table_name = ? AND partition_path = ?;

-- name: forget_table
-- Forgets a table being re-created. Parameter: the table.
DELETE FROM {state} WHERE table_name = ?;

-- name: state_digest
-- A digest of what a table holds (its partitions and their checksums): kept
-- summaries record it, to tell whether they still match the table.
-- Parameter: the table.
SELECT md5(coalesce(string_agg(partition_path || '=' || checksum, ',' ORDER BY partition_path), ''))
FROM {state} WHERE table_name = ?;
