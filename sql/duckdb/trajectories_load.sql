-- The DuckDB loader's statements for trajectory datasets (sql/duckdb/
-- trajectories_schema.sql holds the users' tables). One episode is one
-- transaction, with one exception DuckDB forces (see delete_stale).
--
-- Placeholders: schema (the quoted schema of the users' tables, without the
-- catalog), state (the quoted state table "catalog".pqstage.episode_state),
-- catalog (the quoted catalog), files (a list literal of exactly the staged
-- files the manifest names for the episode). `?` are bound parameters.

-- name: create_state
-- pqstage's record of the episodes it loaded into a schema, in the same file
-- as the data, so it commits and rolls back with them.
CREATE SCHEMA IF NOT EXISTS {catalog}.pqstage;
CREATE TABLE IF NOT EXISTS {state} (
    table_schema VARCHAR NOT NULL,   -- the schema of the users' tables
    episode_id   VARCHAR NOT NULL,
    checksum     VARCHAR NOT NULL,   -- the episode's checksum in the manifest
    observations BIGINT NOT NULL,    -- rows loaded
    properties   BIGINT NOT NULL,
    dataset      VARCHAR NOT NULL,
    loaded_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (table_schema, episode_id)
);

-- name: read_state
-- The episodes a dataset loaded into a schema (other datasets' episodes, and
-- rows pqstage did not load, are never removed). Parameters: the schema's
-- name, the dataset.
SELECT episode_id, checksum, observations FROM {state} WHERE table_schema = ? AND dataset = ?;

-- name: held_rows
-- Observations per episode in the target.
SELECT episode_id, count(*) FROM {schema}.observations GROUP BY episode_id;

-- name: record_episode
-- Records a loaded episode. Parameters: schema, episode_id, checksum,
-- observations, properties, dataset.
INSERT INTO {state} (table_schema, episode_id, checksum, observations, properties, dataset)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (table_schema, episode_id) DO UPDATE SET
    checksum = excluded.checksum, observations = excluded.observations,
    properties = excluded.properties, dataset = excluded.dataset, loaded_at = now();

-- name: forget_episode
-- Forgets a removed episode. Parameters: schema, episode_id.
DELETE FROM {state} WHERE table_schema = ? AND episode_id = ?;

-- name: upsert_category
-- The sessions' category, if missing. Parameters: category_id (also its name).
INSERT INTO {schema}.categories (category_id, category_name) VALUES (?, ?)
ON CONFLICT (category_id) DO NOTHING;

-- name: session_categories
-- Sessions of the staged files already in the target under another
-- category: DuckDB cannot move a session (its key is referenced).
SELECT s.session_id, t.category_id, s.category_id
FROM read_parquet({files}, hive_partitioning = true, hive_types = {'session_id': VARCHAR}) s
JOIN {schema}.sessions t ON t.session_id = s.session_id
WHERE t.category_id <> s.category_id;

-- name: upsert_sessions
-- The staged sessions: new ones inserted, existing ones' name and config updated.
INSERT INTO {schema}.sessions (session_id, session_name, category_id, config, metadata)
SELECT session_id, session_name, category_id, config::JSON, metadata::JSON
FROM read_parquet({files}, hive_partitioning = true, hive_types = {'session_id': VARCHAR})
ON CONFLICT (session_id) DO UPDATE SET
    session_name = excluded.session_name, config = excluded.config, metadata = excluded.metadata;

-- name: episode_session
-- The session an episode is under in the target. Parameter: episode_id.
SELECT session_id FROM {schema}.episodes WHERE episode_id = ?;

-- name: upsert_episode
-- The episode's row. Parameter: episode_id.
INSERT INTO {schema}.episodes (episode_id, session_id, episode_number, num_frames, num_agents, frame_rate, file_path)
SELECT ?, session_id, episode_number, num_frames, num_agents, frame_rate, file_path
FROM read_parquet({files}, hive_partitioning = false)
ON CONFLICT (episode_id) DO UPDATE SET
    episode_number = excluded.episode_number, num_frames = excluded.num_frames,
    num_agents = excluded.num_agents, frame_rate = excluded.frame_rate, file_path = excluded.file_path;

-- name: unknown_agent_types
-- The first staged observation whose agent type the target does not define.
SELECT o.agent_type_id, o.time_index, o.agent_id
FROM read_parquet({files}, hive_partitioning = false) o
WHERE NOT EXISTS (SELECT 1 FROM {schema}.agent_types t WHERE t.type_id = o.agent_type_id)
ORDER BY o.time_index, o.agent_id
LIMIT 1;

-- name: unknown_properties
-- The first staged property value whose property the target does not define.
SELECT p.property_id, p.time_index, p.agent_id, p.agent_type_id
FROM read_parquet({files}, hive_partitioning = false) p
WHERE NOT EXISTS (SELECT 1 FROM {schema}.property_definitions d WHERE d.property_id = p.property_id)
ORDER BY p.time_index, p.agent_id
LIMIT 1;

-- name: delete_properties
-- The episode's properties, before its observations are replaced. Parameter: episode_id.
DELETE FROM {schema}.extended_properties
WHERE observation_id IN (SELECT observation_id FROM {schema}.observations WHERE episode_id = ?);

-- name: insert_observations
-- A new episode's observations; observation_id comes from the sequence.
-- Parameter: episode_id.
INSERT INTO {schema}.observations (episode_id, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z)
SELECT ?, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z
FROM read_parquet({files}, hive_partitioning = false);

-- name: upsert_observations
-- A changed episode's observations: rows of a key already there are
-- updated in place (their observation_id kept), others inserted. DuckDB
-- cannot delete a row whose referencing rows were deleted in the same
-- transaction, so a replaced episode is upserted, not deleted and inserted.
-- Parameter: episode_id.
INSERT INTO {schema}.observations (episode_id, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z)
SELECT ?, time_index, agent_id, agent_type_id, x, y, z, v_x, v_y, v_z
FROM read_parquet({files}, hive_partitioning = false)
ON CONFLICT (episode_id, time_index, agent_id, agent_type_id) DO UPDATE SET
    x = excluded.x, y = excluded.y, z = excluded.z,
    v_x = excluded.v_x, v_y = excluded.v_y, v_z = excluded.v_z;

-- name: insert_properties
-- The episode's properties, each given its observation's id by one join on
-- the natural key, with the episode a constant so only its rows are
-- searched. Parameter: episode_id.
INSERT INTO {schema}.extended_properties (observation_id, property_id, value_float, value_text)
SELECT o.observation_id, p.property_id, p.value_float, p.value_text
FROM read_parquet({files}, hive_partitioning = false) p
JOIN {schema}.observations o
  ON o.episode_id = ?
 AND o.time_index = p.time_index AND o.agent_id = p.agent_id AND o.agent_type_id = p.agent_type_id;

-- name: stage_properties
-- A changed episode's properties with their observation's id, by the same
-- join, kept for the update, insert and delete below. Parameter: episode_id.
CREATE TEMPORARY TABLE pqstage_property_stage AS
SELECT o.observation_id, p.property_id, p.value_float, p.value_text
FROM read_parquet({files}, hive_partitioning = false) p
JOIN {schema}.observations o
  ON o.episode_id = ?
 AND o.time_index = p.time_index AND o.agent_id = p.agent_id AND o.agent_type_id = p.agent_type_id;

-- name: update_properties
-- Values of a key already there, updated in place where they differ
-- (DuckDB then touches none of the table's indexes, which a delete and
-- insert would). An UPDATE and an INSERT of the new keys rather than one
-- INSERT … ON CONFLICT DO UPDATE: on an episode whose values mostly did not
-- change, that took 1.0 GiB of client memory, this 0.31-0.32 GiB (and
-- 0.8-1.1 s against 1.8 s). The price, on a re-simulated episode whose every
-- value is updated: 0.40-0.44 GiB against 0.35.
UPDATE {schema}.extended_properties e
SET value_float = s.value_float, value_text = s.value_text
FROM pqstage_property_stage s
WHERE e.observation_id = s.observation_id AND e.property_id = s.property_id
  AND (e.value_float IS DISTINCT FROM s.value_float OR e.value_text IS DISTINCT FROM s.value_text);

-- name: insert_new_properties
-- The keys the episode did not have.
INSERT INTO {schema}.extended_properties (observation_id, property_id, value_float, value_text)
SELECT s.observation_id, s.property_id, s.value_float, s.value_text
FROM pqstage_property_stage s
WHERE NOT EXISTS (
    SELECT 1 FROM {schema}.extended_properties e
    WHERE e.observation_id = s.observation_id AND e.property_id = s.property_id);

-- name: delete_lost_properties
-- A changed episode's properties the new version no longer has (their value
-- now NaN, or their observation gone). Parameter: episode_id.
DELETE FROM {schema}.extended_properties
WHERE observation_id IN (SELECT observation_id FROM {schema}.observations WHERE episode_id = ?)
  AND (observation_id, property_id) NOT IN (
    SELECT (s.observation_id, s.property_id) FROM pqstage_property_stage s);

-- name: drop_property_stage
-- The stage above, once the episode's properties are written.
DROP TABLE IF EXISTS pqstage_property_stage;

-- name: delete_stale
-- After a changed episode commits: its observations whose key the new
-- version no longer has (they have no properties left). A transaction of
-- its own, since DuckDB refuses it in the one that deleted their properties.
-- Parameter: episode_id.
DELETE FROM {schema}.observations o
WHERE o.episode_id = ?
  AND NOT EXISTS (
    SELECT 1 FROM read_parquet({files}, hive_partitioning = false) p
    WHERE p.time_index = o.time_index AND p.agent_id = o.agent_id AND p.agent_type_id = o.agent_type_id);

-- name: delete_observations
-- A removed episode's observations (its properties are gone, committed
-- first). Parameter: episode_id.
DELETE FROM {schema}.observations WHERE episode_id = ?;

-- name: delete_episode
-- A removed episode's row (its observations are gone, committed first).
-- Parameter: episode_id.
DELETE FROM {schema}.episodes WHERE episode_id = ?;

-- name: load_settings
-- The load's connection: DuckDB checkpoints once the WAL passes this size
-- (16 MB by default: after every episode, rewriting the growing file each
-- time). Measured on 10 boids episodes: 64 MB halved the load's time and
-- lowered its peak memory; 256 MB and more kept the data in memory instead.
SET checkpoint_threshold = '64MB';
