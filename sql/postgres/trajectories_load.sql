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
END
$do$;

-- name: tables_exist
-- Whether the users' observations table exists. Parameter: the schema's name.
SELECT to_regclass(format('%I.observations', $1::text)) IS NOT NULL;

-- name: table_columns
-- The columns of the users' tables, to accept an existing schema.
-- Parameter: the schema's name.
SELECT table_name::text, column_name::text
FROM information_schema.columns
WHERE table_schema = $1;

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
-- A replaced episode's properties, deleted by one set-based statement
-- through the observation index, before its observations are (the cascade
-- would delete them one trigger call per observation). Parameter: episode_id.
DELETE FROM {schema}.extended_properties p
USING {schema}.observations o
WHERE o.episode_id = $1 AND p.observation_id = o.observation_id;

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
-- The episode's properties in long form, keyed by the natural key, before
-- they find their observation. Dropped at commit.
CREATE TEMPORARY TABLE pqstage_property_stage (
    time_index    integer NOT NULL,
    agent_id      integer NOT NULL,
    agent_type_id varchar NOT NULL,
    property_id   varchar NOT NULL,
    value_float   double precision,
    value_text    text
) ON COMMIT DROP;

-- name: copy_properties
-- The property stage, binary COPY.
COPY pqstage_property_stage (time_index, agent_id, agent_type_id, property_id, value_float, value_text)
FROM STDIN (FORMAT binary);

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
