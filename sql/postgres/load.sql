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
-- The tables a patch stages a change set's rows in, when it stages them in
-- its own transaction: dropped at the end of it, whatever way it ends.
-- pqstage_upserts holds the inserted and updated rows, pqstage_new telling
-- which; pqstage_old receives the rows the look-up finds, with their
-- addresses (ctid) and whether the change set deletes their key or inserts
-- it (then the partition is not the version it leads from). Placeholders:
-- parent, keys (the key columns' definitions).
CREATE TEMP TABLE pqstage_upserts (LIKE {parent}, pqstage_new boolean NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE pqstage_deletes ({keys}) ON COMMIT DROP;
CREATE TEMP TABLE pqstage_old (LIKE {parent}, pqstage_row tid, pqstage_deleted boolean, pqstage_new boolean) ON COMMIT DROP;

-- name: patch_prepared_tables
-- The same tables for one partition's change set, staged and looked
-- up ahead of the patch by a second connection: unlogged (no WAL, as
-- temporary tables), in the parent's schema so the patch's transaction
-- reads what that connection committed, named after the patch's backend
-- (pqstage_patch_<pid>_<place>_...), and dropped when the patch ends.
-- Placeholders: parent, keys, upserts, deletes, old.
CREATE UNLOGGED TABLE {upserts} (LIKE {parent}, pqstage_new boolean NOT NULL) WITH (autovacuum_enabled = off);
CREATE UNLOGGED TABLE {deletes} ({keys}) WITH (autovacuum_enabled = off);
CREATE UNLOGGED TABLE {old} (LIKE {parent}, pqstage_row tid, pqstage_deleted boolean, pqstage_new boolean)
    WITH (autovacuum_enabled = off);

-- name: prepare_session
-- The preparing connection's session. The patch waits for it outside the
-- server, where no deadlock detector sees the wait: a lock it cannot have
-- at once is one queued behind the patch's own (an ALTER TABLE waiting for
-- the patch, say), so it gives up after two seconds and the patch prepares
-- the rest itself.
SET lock_timeout = '2s';

-- name: patch_leftovers
-- Tables prepared for the patch of backend $2, and for patches whose
-- backend is gone (a load killed before it dropped them), in the parent's
-- schema ($1): their names, quoted: the change sets' tables and the
-- summaries' (summary_ahead in summary.sql). (The `written` tables are
-- those of pqstage versions that kept the written rows' addresses.)
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT split_part(c.relname, '_', 3)::int AS pid) AS b
WHERE n.nspname = $1 AND c.relkind = 'r'
  AND c.relname ~ '^pqstage_patch_[0-9]+_[0-9]+_(upserts|deletes|old|delta|written)$'
  AND (b.pid = $2 OR b.pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL))
ORDER BY 1;

-- name: backend_pid
-- The backend's process id, which names the tables prepared for its patch.
SELECT pg_backend_pid();

-- name: patch_drop_prepared
-- The prepared tables go. Placeholder: tables (quoted names, comma-separated).
DROP TABLE IF EXISTS {tables};

-- name: patch_rows_view
-- The rows of the prepared tables of every partition, one view for the rows
-- found and one for the staged rows, which the summaries' aggregates read
-- once, at the end of the preparing (or else the patch's) session.
-- Placeholders: view, rows (SELECT ... FROM ... UNION ALL ...).
CREATE OR REPLACE TEMP VIEW {view} AS {rows};

-- name: patch_drop_rows_views
-- The views go once read, before the prepared tables they read do.
DROP VIEW pqstage_old_rows, pqstage_staged_rows;

-- name: patch_clear
-- Empties the staging tables before the next change set.
TRUNCATE pqstage_upserts, pqstage_deletes, pqstage_old;

-- name: patch_copy
-- A change set's rows (or deleted keys) into its staging table.
COPY {table} ({names}) FROM STDIN (FORMAT binary)

-- name: patch_analyze
-- Row counts and key statistics for the planner, so the look-up below goes
-- through the key's index when the change set is small against the
-- partition. Only the key columns and pqstage_new: statistics of every
-- column cost more than the statements they plan. Placeholders: keys (the
-- key columns), upserts, deletes (the staging tables).
ANALYZE {upserts} ({keys}, pqstage_new), {deletes};

-- name: patch_lock
-- Other writers wait until the changes commit (readers do not): the rows
-- found below are then written through their addresses, which a
-- concurrent update would move. Every partition patched is locked before
-- the first is looked up, so the look-ups made ahead on a second
-- connection see what the patch will change. Placeholder: leaves.
LOCK TABLE {leaves} IN SHARE ROW EXCLUSIVE MODE;

-- name: patch_lookup
-- The one look-up of the change set's keys in the partition: every row
-- under a deleted key or a staged key, kept aside whole with its address.
-- Where the key's unique index covers the partition, the inserted keys are
-- not looked up (staged: WHERE NOT s.pqstage_new): inserting one that is
-- there already fails on the index instead. Placeholders: leaf, names,
-- target_names, keys, match (t."k" = k."k" AND ...), staged, and the
-- staging tables old, upserts, deletes.
INSERT INTO {old} ({names}, pqstage_row, pqstage_deleted, pqstage_new)
SELECT {target_names}, t.ctid, k.deleted, k.new
FROM {leaf} AS t
JOIN (SELECT {keys}, true AS deleted, false AS new FROM {deletes}
      UNION ALL SELECT {keys}, false, s.pqstage_new FROM {upserts} AS s {staged}) AS k ON {match};

-- name: patch_found
-- Of the rows found: those under deleted keys; those under updated keys,
-- and how many updated keys they are under (fewer when a key names two
-- rows, as it can in the NULL partition, where the unique index does not
-- apply); those under inserted keys (none in the version a change set
-- leads from). Placeholders: keys, old.
SELECT count(*) FILTER (WHERE pqstage_deleted),
       count(*) FILTER (WHERE NOT pqstage_deleted AND NOT pqstage_new),
       count(DISTINCT ({keys})) FILTER (WHERE NOT pqstage_deleted AND NOT pqstage_new),
       count(*) FILTER (WHERE pqstage_new)
FROM {old};

-- name: patch_unique
-- Whether the leaf ($1) has a valid unique index on exactly the key and
-- the partition column ($2, the names sorted), so that inserting a key it
-- holds fails.
SELECT EXISTS (
    SELECT FROM pg_index AS i
    WHERE i.indrelid = $1::text::regclass AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
      AND i.indexprs IS NULL
      AND ARRAY(SELECT a.attname::text FROM pg_attribute AS a
                WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) ORDER BY 1) = $2::text[]
);

-- name: patch_delete
-- The rows found under deleted keys leave, through their addresses.
-- Placeholders: leaf, old.
DELETE FROM {leaf} WHERE ctid = ANY (ARRAY(SELECT pqstage_row FROM {old} WHERE pqstage_deleted));

-- name: patch_delete_replaced
-- The delete-insert way: every row found leaves, through its address, those
-- the staged rows replace too. Placeholders: leaf, old.
DELETE FROM {leaf} WHERE ctid = ANY (ARRAY(SELECT pqstage_row FROM {old}));

-- name: patch_update
-- The update-insert way, first the updates: each row found under a staged
-- key is updated in place, through its address (no second look-up by key;
-- with room on its page and no indexed column changed, a HOT update that
-- touches no index). Each row as written (after any trigger) is compared
-- with the staged row it came from, as it is written: the rows updated,
-- and those not as staged (0 when every update landed). Placeholders: leaf,
-- set ("c" = s."c", ...), match_o (o."k" = s."k" AND ...), target_names,
-- values (s."c", ...), old, upserts.
WITH written AS (
    UPDATE {leaf} AS t SET {set}
    FROM {old} AS o JOIN {upserts} AS s ON {match_o}
    WHERE NOT o.pqstage_deleted AND t.ctid = o.pqstage_row
    RETURNING ROW({target_names}) IS NOT DISTINCT FROM ROW({values}) AS same
)
SELECT count(*), count(*) FILTER (WHERE NOT same) FROM written;

-- name: patch_insert
-- Then the inserted rows go in (the delete-insert way: every staged row,
-- rows empty; update-insert: rows = WHERE pqstage_new): the rows inserted,
-- and the staged rows the rows as written (after any trigger) do not hold
-- exactly (0 when every insert landed). Placeholders: leaf, names, rows,
-- upserts.
WITH written AS (INSERT INTO {leaf} ({names}) SELECT {names} FROM {upserts} {rows} RETURNING {names})
SELECT (SELECT count(*) FROM written),
       (SELECT count(*) FROM (SELECT {names} FROM {upserts} {rows} EXCEPT ALL SELECT {names} FROM written) AS missing);

-- name: patch_merge
-- The merge way: inserts and updates in one MERGE on the key. Placeholders:
-- leaf, match, set ("c" = s."c", ...), names, values (s."c", ...), upserts.
MERGE INTO {leaf} AS t USING {upserts} AS s ON {match}
WHEN MATCHED THEN UPDATE SET {set}
WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values});

-- name: patch_on_conflict
-- The on-conflict way: INSERT ... ON CONFLICT on the key's unique index.
-- Placeholders: leaf, names, conflict (the key's columns), excluded
-- ("c" = EXCLUDED."c", ...), upserts.
INSERT INTO {leaf} AS t ({names}) SELECT {names} FROM {upserts}
ON CONFLICT ({conflict}) DO UPDATE SET {excluded};

-- name: patch_check
-- After MERGE or ON CONFLICT, which return no addresses: staged rows the
-- partition does not hold exactly as staged under their keys.
-- Placeholders: names, target_names (t."c", ...), leaf, match, upserts.
SELECT count(*) FROM (
    SELECT {names} FROM {upserts}
    EXCEPT ALL
    SELECT {target_names} FROM {leaf} AS t JOIN {upserts} AS s ON {match}
) AS missing;

-- name: patch_matched
-- How many rows the partition holds under the staged keys: after MERGE or
-- ON CONFLICT, each must name exactly one. Placeholders: leaf, match, upserts.
SELECT count(*) FROM {upserts} AS s JOIN {leaf} AS t ON {match};

-- name: server_version
-- The server's version as a number (150004 for 15.4).
SELECT current_setting('server_version_num')::int;

-- name: add_column
-- A column the spec gained, added to the parent and so to every partition:
-- a change of the catalog only (no table rewrite) for a nullable column
-- without a default. Placeholders: parent, column, type.
ALTER TABLE {parent} ADD COLUMN {column} {type};

-- name: read_ahead_extension
-- The schema of the pg_prewarm extension, if the database has it.
SELECT n.nspname::text FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_prewarm';

-- name: read_ahead
-- A partition ($1) and its indexes read whole into the operating system's
-- cache, ahead of the patch; their bytes. Placeholder: prewarm (the
-- function, schema-qualified).
SELECT coalesce(sum({prewarm}(r.oid, 'read') * current_setting('block_size')::bigint), 0)::bigint
FROM (SELECT $1::text::regclass::oid AS oid
      UNION ALL SELECT indexrelid::oid FROM pg_index WHERE indrelid = $1::text::regclass) AS r;
