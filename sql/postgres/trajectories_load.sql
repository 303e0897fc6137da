-- The PostgreSQL loader's statements for trajectory datasets (the users'
-- tables are in trajectories_schema.sql). One episode is one transaction on
-- one of the --jobs connections. Placeholders: schema (the quoted schema of
-- the users' tables). `$n` are bound parameters.

-- name: create_state
-- pqstage's record of the episodes it loaded, created only where missing
-- (as pqstage.load_state is: see state.sql).
DO $do$
BEGIN
    IF to_regnamespace('pqstage') IS NULL THEN
        BEGIN
            CREATE SCHEMA pqstage;
        EXCEPTION WHEN duplicate_schema OR unique_violation THEN NULL;
        END;
    END IF;
    IF to_regclass('pqstage.episode_state') IS NULL THEN
        BEGIN
            CREATE TABLE pqstage.episode_state (
                table_schema text   NOT NULL,   -- the schema of the users' tables
                episode_id   text   NOT NULL,
                checksum     text   NOT NULL,   -- the episode's checksum in the manifest
                observations bigint NOT NULL,
                properties   bigint NOT NULL,
                dataset      text   NOT NULL,
                loaded_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (table_schema, episode_id)
            );
        EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;
        END;
    END IF;
    IF to_regclass('pqstage.bulk_upkeep') IS NULL THEN
        BEGIN
            -- The foreign keys and indexes a first load on several
            -- connections dropped, kept until it has made them again: a load
            -- that finds rows here finishes what an interrupted one began.
            CREATE TABLE pqstage.bulk_upkeep (
                table_schema text    NOT NULL,
                position     integer NOT NULL,  -- the order they were read in
                kind         text    NOT NULL,  -- 'constraint', 'index' or 'key'
                table_name   text    NOT NULL,  -- qualified
                name         text    NOT NULL,  -- qualified for an index
                definition   text    NOT NULL,
                dropped_at   timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (table_schema, position)
            );
        EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;
        END;
    END IF;
END
$do$;

-- name: lock_schema
-- One trajectory load at a time per schema of the users' tables, held for
-- the load's session (released when it ends, however it ends); waited for
-- up to the session's lock_timeout. Parameter: the schema's name.
SELECT pg_advisory_lock(hashtextextended('pqstage trajectories ' || $1::text, 0));

-- name: pending_upkeep
-- What an interrupted first load on several connections dropped and did not
-- make again. Parameter: the schema's name.
SELECT kind, table_name, name, definition FROM pqstage.bulk_upkeep WHERE table_schema = $1 ORDER BY position;

-- name: save_upkeep
-- Keeps one dropped foreign key or index. Parameters: schema, position,
-- kind, table, name, definition.
INSERT INTO pqstage.bulk_upkeep (table_schema, position, kind, table_name, name, definition)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: forget_upkeep
-- Once they are all made again. Parameter: the schema's name.
DELETE FROM pqstage.bulk_upkeep WHERE table_schema = $1;

-- name: lock_bulk_tables
-- A first load on several connections: nobody writes the two tables while
-- it checks they are empty and drops their keys and indexes.
LOCK TABLE {schema}.observations, {schema}.extended_properties IN ACCESS EXCLUSIVE MODE;

-- name: qualify_names
-- Names in the definitions read next qualified whatever the session's
-- search_path (pg_get_constraintdef leaves out the schemas it finds on it),
-- so they can be replayed by another session. Undone by unqualify_names.
SET LOCAL search_path = pg_catalog;

-- name: unqualify_names
-- The session's own search_path again.
SET LOCAL search_path TO DEFAULT;

-- name: schema_exists
-- Whether the schema of the users' tables exists (looked up first: CREATE
-- SCHEMA IF NOT EXISTS asks for CREATE on the database even when it does).
-- Parameter: the schema's name.
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1);

-- name: create_users_schema
-- A missing schema of the users' tables, owned by the loading role.
CREATE SCHEMA {schema};

-- name: tables_exist
-- Whether the users' observations table exists. Parameter: the schema's name.
SELECT to_regclass(format('%I.observations', $1::text)) IS NOT NULL;

-- name: table_columns
-- The columns of the users' tables, to accept an existing schema.
-- Parameter: the schema's name.
SELECT table_name::text, column_name::text
FROM information_schema.columns
WHERE table_schema = $1;

-- name: fillfactors
-- The fillfactor of observations and extended_properties now (100 unless
-- set). Parameter: the schema's name.
SELECT coalesce((SELECT o.option_value FROM pg_options_to_table(c.reloptions) o
                 WHERE o.option_name = 'fillfactor'), '100')::int
FROM pg_class c
WHERE c.oid IN (to_regclass(format('%I.observations', $1::text)),
                to_regclass(format('%I.extended_properties', $1::text)));

-- name: set_fillfactor
-- Only where the fillfactor differs: ALTER TABLE takes a lock an
-- autovacuum of the table holds until the deadlock timeout cancels it, and
-- writes the catalog.
-- --fillfactor: how full the pages of observations and extended_properties
-- written from now on are (after a first load into empty tables, all of
-- them). At 50 each row's new version fits on its own page, so the merge of
-- a re-simulated episode updates its rows in place (HOT: no new index
-- entries), at twice the space. Placeholder: fillfactor (10-100).
ALTER TABLE {schema}.observations SET (fillfactor = {fillfactor});
ALTER TABLE {schema}.extended_properties SET (fillfactor = {fillfactor});

-- name: read_state
-- The episodes a dataset loaded into a schema (other datasets' episodes, and
-- rows pqstage did not load, are never removed). Parameters: the schema's
-- name, the dataset.
SELECT episode_id, checksum, observations FROM pqstage.episode_state WHERE table_schema = $1 AND dataset = $2;

-- name: held_rows
-- Observations per episode in the target.
SELECT episode_id::text, count(*) FROM {schema}.observations GROUP BY episode_id;

-- name: record_episode
-- Records a loaded episode. Parameters: schema, episode_id, checksum,
-- observations, properties, dataset.
INSERT INTO pqstage.episode_state (table_schema, episode_id, checksum, observations, properties, dataset)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (table_schema, episode_id) DO UPDATE SET
    checksum = excluded.checksum, observations = excluded.observations,
    properties = excluded.properties, dataset = excluded.dataset, loaded_at = now();

-- name: forget_episode
-- Forgets a removed episode. Parameters: schema, episode_id.
DELETE FROM pqstage.episode_state WHERE table_schema = $1 AND episode_id = $2;

-- name: upsert_category
-- The sessions' category, if missing. Parameter: category_id (also its name).
INSERT INTO {schema}.categories (category_id, category_name) VALUES ($1, $1)
ON CONFLICT (category_id) DO NOTHING;

-- name: upsert_session
-- A staged session. Parameters: session_id, session_name, category_id,
-- config (JSON text or NULL), metadata (JSON text or NULL).
INSERT INTO {schema}.sessions (session_id, session_name, category_id, config, metadata)
VALUES ($1, $2, $3, $4::text::jsonb, $5::text::jsonb)
ON CONFLICT (session_id) DO UPDATE SET
    session_name = excluded.session_name, category_id = excluded.category_id,
    config = excluded.config, metadata = excluded.metadata;

-- name: upsert_episode
-- An episode's row. Parameters: episode_id, session_id, episode_number,
-- num_frames, num_agents, frame_rate, file_path.
INSERT INTO {schema}.episodes (episode_id, session_id, episode_number, num_frames, num_agents, frame_rate, file_path)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (episode_id) DO UPDATE SET
    session_id = excluded.session_id, episode_number = excluded.episode_number,
    num_frames = excluded.num_frames, num_agents = excluded.num_agents,
    frame_rate = excluded.frame_rate, file_path = excluded.file_path;

-- name: delete_properties
-- A removed episode's properties, deleted by one set-based statement
-- through the observation index, before its observations are (the cascade
-- would delete them one trigger call per observation). Parameter: episode_id.
DELETE FROM {schema}.extended_properties p
USING {schema}.observations o
WHERE o.episode_id = $1 AND p.observation_id = o.observation_id;

-- name: merge_settings
-- A changed episode's statements probe indexes row by row; their cost
-- estimates still pass jit_above_cost, and compiling them took 0.2-0.4 s a
-- statement (EXPLAIN's JIT timing on a re-simulated boids episode) for
-- nothing the probes gain.
-- Their sorts and hashes of an episode's 93,000 observations spilled to
-- disk at the default work_mem (4 MB).
SET LOCAL jit = off;
SET LOCAL work_mem = '64MB';

-- name: create_observation_stage
-- A changed episode's new observations, before they are compared with the
-- old ones. Dropped at commit.
CREATE TEMPORARY TABLE pqstage_observation_stage (
    time_index    integer NOT NULL,
    agent_id      integer NOT NULL,
    agent_type_id varchar NOT NULL,
    x double precision NOT NULL,
    y double precision NOT NULL,
    z double precision, v_x double precision, v_y double precision, v_z double precision,
    episode_id    varchar NOT NULL
) ON COMMIT DROP;

-- name: copy_observation_stage
-- The observation stage, binary COPY (the episode id the constant last column).
COPY pqstage_observation_stage (time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z, episode_id)
FROM STDIN (FORMAT binary);

-- name: analyze_stages
-- Statistics of the stages, so the comparisons below are planned as hash
-- joins: of the key columns only, the ones those joins match on (all the
-- columns took 148 ms on a boids episode, the keys 71 ms).
ANALYZE pqstage_observation_stage (time_index, agent_id, agent_type_id);
ANALYZE pqstage_property_wide (time_index, agent_id, agent_type_id);

-- name: delete_lost_observations
-- A changed episode's observations the new version no longer has, and
-- their properties. These are deleted here, not left to the foreign key's
-- cascade: a first load that resumes an interrupted one merges the
-- episodes it recorded while that key is still dropped, and their
-- properties would stay behind (the key's validation at the end would then
-- fail). With the key there, its cascade finds nothing left to delete (one
-- index probe per lost observation: few unless the episode shrank).
-- Parameter: episode_id.
WITH lost AS (
    SELECT o.observation_id
    FROM {schema}.observations o
    WHERE o.episode_id = $1
      AND NOT EXISTS (
        SELECT 1 FROM pqstage_observation_stage s
        WHERE s.time_index = o.time_index AND s.agent_id = o.agent_id AND s.agent_type_id = o.agent_type_id)
), properties AS (
    DELETE FROM {schema}.extended_properties e USING lost l WHERE e.observation_id = l.observation_id
)
DELETE FROM {schema}.observations o USING lost l WHERE o.observation_id = l.observation_id;

-- name: merge_observations
-- A changed episode's observations: new keys inserted, changed values
-- updated in place (observation_id kept, so the properties that point at it
-- stay), unchanged rows not touched at all. Returns how many keys are new
-- (an inserted row has xmax 0, an updated one the transaction's id).
-- The key columns are assigned their own values (see update_properties).
WITH merged AS (
    INSERT INTO {schema}.observations (episode_id, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z)
    SELECT episode_id, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z FROM pqstage_observation_stage
    ON CONFLICT (episode_id, time_index, agent_id, agent_type_id) DO UPDATE SET
        observation_id = observations.observation_id, episode_id = observations.episode_id,
        time_index = observations.time_index, agent_id = observations.agent_id,
        agent_type_id = observations.agent_type_id,
        x = excluded.x, y = excluded.y, z = excluded.z, v_x = excluded.v_x, v_y = excluded.v_y, v_z = excluded.v_z
    WHERE (observations.x, observations.y, observations.z, observations.v_x, observations.v_y, observations.v_z)
          IS DISTINCT FROM (excluded.x, excluded.y, excluded.z, excluded.v_x, excluded.v_y, excluded.v_z)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) FROM merged;

-- name: count_observations
-- An episode's observations. Parameter: episode_id.
SELECT count(*) FROM {schema}.observations WHERE episode_id = $1;

-- name: create_property_diff
-- A changed episode's observations, each with the values its stage row
-- gives it (the columns of pqstage_property_wide), the ids of those
-- properties (ids) and the ids it holds before the merge (old). Dropped at
-- commit. Placeholder: columns, as in create_property_stage.
CREATE TEMPORARY TABLE pqstage_property_diff (
    observation_id bigint NOT NULL{columns},
    ids varchar[] NOT NULL,
    old varchar[] NOT NULL
) ON COMMIT DROP;

-- name: diff_properties
-- A changed episode's properties are compared observation by observation,
-- not value by value (trajectories/merge.rs): one look into the index per
-- observation finds the ids it holds. Parameter: episode_id. Placeholders:
-- values and ids (Properties::diff).
INSERT INTO pqstage_property_diff
SELECT o.observation_id{values}, {ids},
       coalesce(x.old, ARRAY[]::varchar[])
FROM {schema}.observations o
LEFT JOIN pqstage_property_wide w
  ON w.time_index = o.time_index AND w.agent_id = o.agent_id AND w.agent_type_id = o.agent_type_id
CROSS JOIN LATERAL (
    SELECT array_agg(e.property_id) AS old FROM {schema}.extended_properties e WHERE e.observation_id = o.observation_id
) x
WHERE o.episode_id = $1;

-- name: diff_summary
-- The episode's observations, how many distinct ones (fewer when the stage
-- gives one observation two rows), and the property values they held.
SELECT count(*), count(DISTINCT observation_id), coalesce(sum(cardinality(old)), 0)::bigint
FROM pqstage_property_diff;

-- name: diff_plans
-- The next two statements go through the episode's observations, each
-- looking up its values in the index; as joins of the whole table
-- (8 million values for 10 boids episodes) they read every value: the
-- update took 12.0 s against 6.2 s at fillfactor 100.
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;

-- name: delete_lost_properties
-- The values of properties the new version no longer gives an observation:
-- deleted (only observations that held such a value are looked into).
DELETE FROM {schema}.extended_properties e
USING pqstage_property_diff d
WHERE NOT (d.old <@ d.ids) AND e.observation_id = d.observation_id AND e.property_id <> ALL (d.ids);

-- name: update_properties
-- The values the new version changes, updated in place; unchanged ones are
-- not touched, and no foreign key check fires for them. The key columns
-- are assigned their own values: an update that names no column of an
-- index tells PostgreSQL (14 and later) that the index's key is unchanged,
-- and when such an entry meets a full leaf page it first visits the heap to
-- delete old versions of that key (bottom-up deletion). Here every old
-- version belongs to this very transaction and none can go, so on full
-- pages (fillfactor 100) each of those visits is wasted: 13% of the
-- server's time in a re-simulated episode. Whether an update is HOT and
-- whether a foreign key is checked depend on the values, which are the
-- row's own. A users' trigger declared UPDATE OF a key column does fire.
-- Placeholders: float and text (Properties::diff).
UPDATE {schema}.extended_properties e SET
    observation_id = e.observation_id, property_id = e.property_id,
    value_float = {float}, value_text = {text}
FROM pqstage_property_diff d
WHERE e.observation_id = d.observation_id AND e.property_id = ANY (d.ids)
  AND (e.value_float, e.value_text) IS DISTINCT FROM ({float}, {text});

-- name: diff_plans_reset
RESET enable_hashjoin;
RESET enable_mergejoin;

-- name: insert_added_properties
-- The values of properties an observation did not hold (all of a new
-- observation's): inserted. Placeholder: branches, as in
-- create_property_stage.
INSERT INTO {schema}.extended_properties (observation_id, property_id, value_float, value_text)
SELECT p.observation_id, v.property_id, v.value_float, v.value_text
FROM pqstage_property_diff p
CROSS JOIN LATERAL (
        {branches}
    ) v (property_id, value_float, value_text)
WHERE NOT (p.ids <@ p.old)
  AND (v.value_float IS NOT NULL OR v.value_text IS NOT NULL)
  AND v.property_id <> ALL (p.old);

-- name: delete_observations
-- A replaced or removed episode's observations. Parameter: episode_id.
DELETE FROM {schema}.observations WHERE episode_id = $1;

-- name: delete_episode
-- A removed episode's row. Parameter: episode_id.
DELETE FROM {schema}.episodes WHERE episode_id = $1;

-- name: copy_observations
-- The episode's observations, binary COPY; the episode id is the constant
-- last column and observation_id comes from its sequence.
COPY {schema}.observations (time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z, episode_id)
FROM STDIN (FORMAT binary);

-- name: create_property_stage
-- The episode's property values before they find their observation: one
-- row per observation, a column per property (f<k> its float values, t<k>
-- its text ones), and the view pqstage_property_stage, which gives them
-- back one row per value, the long form the insert joins on the natural
-- key (a changed episode's merge reads the rows as they are). Sent in long form, each value would repeat its
-- observation's key and its property id: on a boids episode (93,000
-- observations, 800,000 values) that COPY took 0.29-0.30 s against 0.05 s,
-- and the insert reading the view plans the join before the branches and
-- takes the time it took from a long table. The branches are a UNION ALL,
-- not a VALUES list: PostgreSQL sets up a VALUES list's expressions again
-- for every row it is joined to (3% of a first load's server time), a
-- UNION ALL's once; reading the view took 91 ms against 180 ms. Both
-- dropped at commit. Placeholders: columns (", f0 double precision, t1
-- text, …"), branches (one "SELECT 'id'::varchar, p.f0, NULL::text" per
-- property, joined by UNION ALL).
CREATE TEMPORARY TABLE pqstage_property_wide (
    time_index    integer NOT NULL,
    agent_id      integer NOT NULL,
    agent_type_id varchar NOT NULL{columns}
) ON COMMIT DROP;
CREATE TEMPORARY VIEW pqstage_property_stage AS
SELECT p.time_index, p.agent_id, p.agent_type_id, v.property_id, v.value_float, v.value_text
FROM pqstage_property_wide p
CROSS JOIN LATERAL (
        {branches}
    ) v (property_id, value_float, value_text)
WHERE v.value_float IS NOT NULL OR v.value_text IS NOT NULL;

-- name: copy_properties
-- The property stage, binary COPY (every column, in order).
COPY pqstage_property_wide FROM STDIN (FORMAT binary);

-- name: insert_properties
-- Each property gets its observation's id by one join on the natural key,
-- with the episode a constant, so only this episode's observations are
-- searched (through the primary key). Parameter: episode_id.
INSERT INTO {schema}.extended_properties (observation_id, property_id, value_float, value_text)
SELECT o.observation_id, p.property_id, p.value_float, p.value_text
FROM pqstage_property_stage p
JOIN {schema}.observations o
  ON o.episode_id = $1
 AND o.time_index = p.time_index AND o.agent_id = p.agent_id AND o.agent_type_id = p.agent_type_id;

-- name: table_is_empty
-- Whether the users' observations table holds no row: a first load then
-- takes the bulk path.
SELECT NOT EXISTS (SELECT 1 FROM {schema}.observations);

-- name: bulk_upkeep
-- What makes each inserted row of observations and extended_properties
-- expensive: their foreign keys (a trigger call per row) and the indexes no
-- constraint needs. For a first load these are dropped inside the load's one
-- transaction and made again, with exactly these definitions and names,
-- before it commits: a set-based check of each foreign key and one sort per
-- index instead of a lookup per row. Also the primary key of
-- extended_properties (kind 'key', its index's definition): nothing in a
-- first load reads it, and inserting 800,000 entries an episode into it
-- took 8.3 of the load's 43 CPU-seconds on 10 boids episodes, where
-- building it after the data takes 3.5 (a key others may defer is left
-- alone). Each episode is checked for a repeated value instead
-- (duplicate_property). The primary key of observations stays: the
-- properties find their observation through it. Parameter: the schema's
-- name. Columns: kind ('constraint', 'index' or 'key'), table (qualified),
-- name (qualified for an index; a key's index has the key's name),
-- definition.
WITH t AS (
    SELECT to_regclass(format('%I.observations', $1::text)) AS oid
    UNION ALL SELECT to_regclass(format('%I.extended_properties', $1::text))
)
SELECT 'constraint', c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN t ON c.conrelid = t.oid
WHERE c.contype = 'f'
UNION ALL
SELECT 'index', i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN t ON i.indrelid = t.oid
WHERE NOT i.indisprimary AND NOT i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
UNION ALL
SELECT 'key', c.conrelid::regclass::text, c.conname::text, pg_get_indexdef(c.conindid)
FROM pg_constraint c
WHERE c.conrelid = to_regclass(format('%I.extended_properties', $1::text))
  AND c.contype = 'p' AND NOT c.condeferrable
  AND c.conname = (SELECT relname FROM pg_class WHERE oid = c.conindid)
  -- Nothing of the users' may depend on it (a foreign key that references
  -- it, a view grouped by it): dropping it would fail, so it stays live.
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.deptype = 'n'
      AND ((d.refclassid = 'pg_constraint'::regclass AND d.refobjid = c.oid)
        OR (d.refclassid = 'pg_class'::regclass AND d.refobjid = c.conindid)))
ORDER BY 1 DESC, 2, 3;

-- name: drop_stages
-- The stages of the previous episode of a bulk load (one transaction, so
-- ON COMMIT DROP has not dropped them yet); named in pg_temp, so that a
-- users' table of the same name is never the one dropped.
DROP VIEW IF EXISTS pg_temp.pqstage_property_stage;
DROP TABLE IF EXISTS pg_temp.pqstage_observation_stage, pg_temp.pqstage_property_wide, pg_temp.pqstage_property_diff;

-- name: bulk_settings
-- A transaction that makes keys and indexes again: its index builds use
-- the server's parallel maintenance workers. A first load on several
-- connections hands these transactions to two connections, so that the
-- checks of the foreign keys (one query each, on one core) run beside
-- index builds, and extended_properties' builds beside each other.
SET LOCAL maintenance_work_mem = '512MB';
SET LOCAL max_parallel_maintenance_workers = 2;

-- name: analyze_loaded
-- The end of a first load: the planner's statistics of the tables it
-- filled, gathered in the transaction that makes the keys, so that the
-- queries run next (users', and a changed episode's merge) are planned from
-- them rather than from defaults until autovacuum comes by (on 10 boids
-- episodes, a changed episode's merge right after the load took 3.2 s to
-- delete lost property values without them, 1.5 s with).
ANALYZE {schema}.episodes, {schema}.observations, {schema}.extended_properties;

-- name: analyze_observations
-- analyze_loaded's first two tables, for the end of a first load on
-- several connections, which makes observations' keys and indexes on a
-- connection of their own.
ANALYZE {schema}.episodes, {schema}.observations;

-- name: analyze_properties
-- analyze_loaded's last table, on the connection that makes the keys and
-- indexes of extended_properties.
ANALYZE {schema}.extended_properties;

-- name: undefined_lookups
-- In a bulk load (its foreign keys made after the data): which of the agent
-- types and property ids an episode uses (read from its staged files by the
-- client, a handful each) the target does not define. Only when one is
-- missing do unknown_agent_type and unknown_property look for the first row
-- that uses it, so a good episode costs no scan of its rows (on 10 boids
-- episodes, the two scans took 0.16-0.21 s of each episode's 2.3).
-- Parameters: the agent types, the property ids. Columns: kind
-- ('agent_type' or 'property'), value.
SELECT 'agent_type', a FROM unnest($1::text[]) a
WHERE NOT EXISTS (SELECT 1 FROM {schema}.agent_types t WHERE t.type_id = a)
UNION ALL
SELECT 'property', p FROM unnest($2::text[]) p
WHERE NOT EXISTS (SELECT 1 FROM {schema}.property_definitions d WHERE d.property_id = p);

-- name: duplicate_property
-- In a bulk load, whose primary key of extended_properties is made after
-- the data: the first property value the episode's stage gives twice for
-- one observation, so that the episode alone is refused, naming it. The
-- stage holds one row per observation unless a key comes back, so only
-- such keys are looked into. Columns: property_id, time_index, agent_id,
-- agent_type_id.
WITH twice AS (
    SELECT time_index, agent_id, agent_type_id
    FROM pqstage_property_wide
    GROUP BY time_index, agent_id, agent_type_id
    HAVING count(*) > 1
)
SELECT p.property_id::text, p.time_index, p.agent_id, p.agent_type_id::text
FROM pqstage_property_stage p JOIN twice USING (time_index, agent_id, agent_type_id)
GROUP BY p.property_id, p.time_index, p.agent_id, p.agent_type_id
HAVING count(*) > 1
ORDER BY p.time_index, p.agent_id, p.agent_type_id, p.property_id
LIMIT 1;

-- name: unknown_agent_type
-- In a bulk load, once undefined_lookups found one: the first observation
-- of an episode whose agent type the target does not define, so that the
-- episode alone is refused, naming it. Parameter: episode_id.
SELECT o.agent_type_id::text, o.time_index, o.agent_id
FROM {schema}.observations o
WHERE o.episode_id = $1
  AND NOT EXISTS (SELECT 1 FROM {schema}.agent_types t WHERE t.type_id = o.agent_type_id)
ORDER BY o.time_index, o.agent_id
LIMIT 1;

-- name: unknown_property
-- In a bulk load, once undefined_lookups found one: the first staged
-- property value whose property the target does not define.
SELECT p.property_id::text, p.time_index, p.agent_id, p.agent_type_id::text
FROM pqstage_property_stage p
WHERE NOT EXISTS (SELECT 1 FROM {schema}.property_definitions d WHERE d.property_id = p.property_id)
ORDER BY p.time_index, p.agent_id
LIMIT 1;
