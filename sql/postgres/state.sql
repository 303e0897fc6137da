-- pqstage's record of what each partitioned table holds: one row per loaded
-- partition, with the manifest checksum it was loaded from, updated in the
-- same transaction that swaps the partition in. `$n` are bound parameters.

-- name: create_state
-- Creates the state table if missing. Only what is missing is created: a
-- role without CREATE on the database (or on an existing schema pqstage)
-- can load once an administrator has made the schema or the table for it
-- (README, "The loading role"); IF NOT EXISTS would check that privilege
-- even when nothing is to be created. Two loads starting at once may both
-- find it missing: the second one's duplicate is ignored.
DO $do$
BEGIN
    IF to_regnamespace('pqstage') IS NULL THEN
        BEGIN
            CREATE SCHEMA pqstage;
        EXCEPTION WHEN duplicate_schema OR unique_violation THEN NULL;
        END;
    END IF;
    IF to_regclass('pqstage.load_state') IS NULL THEN
        BEGIN
            CREATE TABLE pqstage.load_state (
                table_schema    text   NOT NULL,
                table_name      text   NOT NULL,
                partition_path  text   NOT NULL,   -- e.g. 'year=1987'
                partition_value bigint,            -- NULL for the NULL (DEFAULT) partition
                partition_table text   NOT NULL,   -- e.g. 'violations_p1987'
                checksum        text   NOT NULL,   -- the partition's checksum in the manifest
                rows            bigint NOT NULL,
                dataset         text   NOT NULL,
                loaded_at       timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (table_schema, table_name, partition_path)
            );
        EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;
        END;
    END IF;
END
$do$;

-- name: read_state
-- What is recorded for a table. Parameters: schema, table.
SELECT partition_value, checksum, rows
FROM pqstage.load_state
WHERE table_schema = $1 AND table_name = $2;

-- name: record_unit
-- Records a partition just swapped in. Parameters: schema, table, path,
-- value, partition table, checksum, rows, dataset.
INSERT INTO pqstage.load_state
    (table_schema, table_name, partition_path, partition_value, partition_table, checksum, rows, dataset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (table_schema, table_name, partition_path) DO UPDATE SET
    partition_value = EXCLUDED.partition_value,
    partition_table = EXCLUDED.partition_table,
    checksum = EXCLUDED.checksum,
    rows = EXCLUDED.rows,
    dataset = EXCLUDED.dataset,
    loaded_at = now();

-- name: forget_unit
-- Forgets a removed partition. Parameters: schema, table, path.
DELETE FROM pqstage.load_state
WHERE table_schema = $1 AND table_name = $2 AND partition_path = $3;

-- name: state_digest
-- A digest of what a table holds (its partitions and their checksums),
-- leaving out the partitions in $3: kept summaries record it, to tell
-- whether they still match the table. Parameters: schema, table, paths.
SELECT md5(coalesce(string_agg(partition_path || '=' || checksum, ',' ORDER BY partition_path), ''))
FROM pqstage.load_state
WHERE table_schema = $1 AND table_name = $2 AND NOT (partition_path = ANY($3));

-- name: unit_tables
-- The partition tables of some recorded partitions. Parameters: schema,
-- table, paths.
SELECT partition_table
FROM pqstage.load_state
WHERE table_schema = $1 AND table_name = $2 AND partition_path = ANY($3)
ORDER BY partition_path;
