-- The PostgreSQL loader's statements. Placeholders are filled with quoted
-- names: parent (schema.name of the partitioned table), table, partition.

-- name: configure_worker
-- A worker connection's settings. Years are built in parallel already, one
-- per connection, so each index build stays on its own backend: parallel
-- maintenance workers on top oversubscribe the cores and cost a worker
-- start-up per index (the 18M-row load with three indexes took 133 s with
-- them, 100 s without, on two cores).
SET max_parallel_maintenance_workers = 0;

-- name: create_parent
-- The parent table, typed from the spec, partitioned by year ranges.
-- The schema is created only when missing (CREATE SCHEMA IF NOT EXISTS
-- would need CREATE on the database even when it exists). Placeholders:
-- schema, schema_literal, parent, columns ("name" type [NOT NULL], ...),
-- key (the quoted partition column).
DO $do$
BEGIN
    IF to_regnamespace({schema_literal}) IS NULL THEN
        BEGIN
            CREATE SCHEMA {schema};
        EXCEPTION WHEN duplicate_schema OR unique_violation THEN NULL;
        END;
    END IF;
END
$do$;
CREATE TABLE {parent} ({columns}) PARTITION BY RANGE ({key});

-- name: create_parent_index
-- An index of the parent: PostgreSQL matches it with each partition's own
-- index when the partition is attached. Placeholders: name, parent, columns.
CREATE INDEX IF NOT EXISTS {name} ON {parent} ({columns});

-- name: detach_drop
-- Detaches and drops a partition: one no longer staged (in a transaction of
-- its own), or the old one of a swap.
ALTER TABLE {parent} DETACH PARTITION {partition};
DROP TABLE {partition};

-- name: create_load_table
-- A standalone table shaped like the parent, for one partition's rows, with
-- the CHECK constraint of its bound from the start: COPY checks each row as
-- it arrives (no second scan), and ATTACH can then skip scanning the rows.
-- It is created, filled (COPY ... FREEZE), indexed and analysed in one
-- transaction, then swapped in; a failed or killed load rolls it back.
-- Placeholders: table, columns, check_name, check, fillfactor (100 packs
-- the pages full; with a key, less leaves room on each page for the new
-- versions of updated rows, so updates that change no indexed column are
-- HOT: no index is touched).
CREATE TABLE {table} ({columns}, CONSTRAINT {check_name} CHECK ({check})) WITH (fillfactor = {fillfactor});

-- name: copy
-- Binary COPY into the table created in the same transaction: FREEZE writes
-- the rows already frozen, so no later VACUUM has to rewrite them.
COPY {table} ({names}) FROM STDIN (FORMAT binary, FREEZE)

-- name: create_index
-- One index of the loaded partition, built after its rows are in.
CREATE INDEX ON {table} ({columns});

-- name: analyze
-- The loaded partition's statistics, before it is swapped in.
ANALYZE {table};

-- name: drop_leftover
-- The swap's first half when no partition is attached for the key: a table of the
-- final name left over (dropped by hand from the parent, say) goes.
DROP TABLE IF EXISTS {partition};

-- name: attach
-- The swap's second half: the loaded table takes the final name and is
-- attached. The CHECK constraint added before lets ATTACH skip scanning the
-- rows. Placeholders: load, final_name, parent, final, bound.
ALTER TABLE {load} RENAME TO {final_name};
ALTER TABLE {parent} ATTACH PARTITION {final} {bound};

-- name: create_parent_unique_index
-- The unique index of the spec's key (with the partition column, as a
-- partitioned table's unique index must have): change sets find their rows
-- by it, and it refuses a second row with one key. Placeholders: name,
-- parent, columns.
CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {parent} ({columns});

-- name: create_unique_index
-- The loaded partition's index of the key, matched to the parent's at ATTACH.
CREATE UNIQUE INDEX ON {table} ({columns});

-- name: patch_tables
-- The tables a patch stages each change set's rows in: dropped at the end of
-- the transaction, whatever way it ends. Placeholders: parent, keys (the
-- key columns' definitions).
CREATE TEMP TABLE pqstage_upserts (LIKE {parent}) ON COMMIT DROP;
CREATE TEMP TABLE pqstage_deletes ({keys}) ON COMMIT DROP;
CREATE TEMP TABLE pqstage_old (LIKE {parent}) ON COMMIT DROP;

-- name: patch_clear
-- Empties the staging tables before the next change set.
TRUNCATE pqstage_upserts, pqstage_deletes, pqstage_old;

-- name: patch_copy
-- A change set's rows (or deleted keys) into its staging table.
COPY {table} ({names}) FROM STDIN (FORMAT binary)

-- name: patch_analyze
-- Row counts for the planner, so the statements below look the staged rows
-- up through the key's index instead of scanning the partition.
ANALYZE pqstage_upserts, pqstage_deletes;

-- name: patch_delete
-- The deleted keys' rows leave the partition. Placeholders: leaf (the
-- attached partition), match (t.k = d.k AND ...).
DELETE FROM {leaf} AS t USING pqstage_deletes AS d WHERE {match};

-- name: patch_delete_keep
-- The same, keeping the deleted rows aside in pqstage_old (for the summaries
-- kept up to date). Placeholders: leaf, match, names, target_names.
WITH gone AS (DELETE FROM {leaf} AS t USING pqstage_deletes AS d WHERE {match} RETURNING {target_names})
INSERT INTO pqstage_old ({names}) SELECT * FROM gone;

-- name: patch_matched_keep
-- The rows the staged rows replace, kept aside in pqstage_old before they
-- are replaced; how many there are is the count patch_matched gives.
-- Placeholders: leaf, match, names, target_names.
INSERT INTO pqstage_old ({names}) SELECT {target_names} FROM {leaf} AS t JOIN pqstage_upserts AS s ON {match};

-- name: patch_matched
-- How many of the staged rows' keys the partition holds: the change set's
-- updated rows, if the partition holds the version it leads from.
SELECT count(*) FROM pqstage_upserts AS s JOIN {leaf} AS t ON {match};

-- name: patch_merge
-- Inserts and updates in one statement. Placeholders: leaf, match, set
-- ("c" = s."c", ...), names, values (s."c", ...).
MERGE INTO {leaf} AS t USING pqstage_upserts AS s ON {match}
WHEN MATCHED THEN UPDATE SET {set}
WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values});

-- name: patch_on_conflict
-- The same with INSERT ... ON CONFLICT on the key's unique index.
-- Placeholders: leaf, names, conflict (the key's columns), excluded
-- ("c" = EXCLUDED."c", ...).
INSERT INTO {leaf} AS t ({names}) SELECT {names} FROM pqstage_upserts
ON CONFLICT ({conflict}) DO UPDATE SET {excluded};

-- name: patch_check
-- Staged rows the partition does not hold exactly as staged, after the
-- upsert (0 when every insert and update landed). Placeholders: names,
-- target_names (t."c", ...), leaf, match.
SELECT count(*) FROM (
    SELECT {names} FROM pqstage_upserts
    EXCEPT ALL
    SELECT {target_names} FROM {leaf} AS t JOIN pqstage_upserts AS s ON {match}
) AS missing;

-- name: patch_delete_updated
-- The delete-insert way (what PostgreSQL before 15, without MERGE, does):
-- the updated rows' old versions leave, then all staged rows are inserted.
DELETE FROM {leaf} AS t USING pqstage_upserts AS s WHERE {match};

-- name: patch_insert
-- The staged rows go in as they are. Placeholders: leaf, names.
INSERT INTO {leaf} ({names}) SELECT {names} FROM pqstage_upserts;

-- name: server_version
-- The server's version as a number (150004 for 15.4).
SELECT current_setting('server_version_num')::int;

-- name: add_column
-- A column the spec gained, added to the parent and so to every partition:
-- a change of the catalog only (no table rewrite) for a nullable column
-- without a default. Placeholders: parent, column, type.
ALTER TABLE {parent} ADD COLUMN {column} {type};
