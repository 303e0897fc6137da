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
-- Placeholders: table, columns, check_name, check.
CREATE TABLE {table} ({columns}, CONSTRAINT {check_name} CHECK ({check}));

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
