-- The trajectory datasets' tables in a DuckDB file: the same tables, columns,
-- keys and lookups as sql/postgres/trajectories_schema.sql, with DuckDB's
-- types (DOUBLE, JSON) and these differences:
--   * observation_id is taken from the sequence obs_id_seq (the name the
--     users' DuckDB files already have) instead of a bigserial;
--   * foreign keys are enforced but do not cascade (DuckDB refuses ON DELETE
--     CASCADE), so deletes go children first: extended_properties,
--     observations, episodes, sessions;
--   * constraints cannot be named: DuckDB accepts CONSTRAINT name and
--     forgets it, so they are written unnamed here. duckdb_constraints()
--     reports them as categories_category_id_pkey, sessions_session_id_pkey,
--     sessions_category_id_category_id_fkey, episodes_episode_id_pkey,
--     episodes_session_id_session_id_fkey, agent_types_type_id_pkey,
--     observations_observation_id_key,
--     observations_episode_id_episode_id_fkey,
--     observations_agent_type_id_type_id_fkey,
--     observations_episode_id_time_index_agent_id_agent_type_id_pkey,
--     property_definitions_property_id_pkey,
--     extended_properties_observation_id_observation_id_fkey,
--     extended_properties_property_id_property_id_fkey,
--     extended_properties_observation_id_property_id_pkey.
--   * of the users' seven secondary indexes, only idx_obs_episode_time is
--     created. DuckDB gives every foreign key an ART index of its own on the
--     referencing columns (it finds the rows that still reference a deleted
--     key through it), so idx_sessions_category, idx_episodes_session,
--     idx_obs_episode, idx_obs_agent_type, idx_ext_props_observation and
--     idx_ext_props_property would each be a second copy of one of those:
--     every inserted row paid for both, and a loaded episode's commit
--     appended its keys to twelve indexes instead of eight (on 10 boids
--     episodes the load took 1.17x the time with them; the users' queries
--     in trajectories_queries.sql ran in the same time with or without, as
--     DuckDB planned none of them through an index). A file that already
--     has them keeps them: only missing tables are created here.
-- Every index is an ART index, kept in memory while it is built.
--
-- The JSON type comes from DuckDB's json extension: a DuckDB built without
-- it (the Rust crate's `bundled` feature alone) does not know the type.
--
-- Placeholder: schema, the quoted schema that holds the tables (e.g. "main"
-- or "public"), created if missing, in the connection's default catalog.
-- Give it without the catalog: DuckDB 1.5 refuses a REFERENCES clause that
-- names a catalog ("FOREIGN KEY constraints cannot be defined
-- cross-database", even for the same file), and the sequence's name in
-- observation_id's default would tie the table to the name the file was
-- attached under. Being written inside that default's string literal, the
-- schema must not contain a single quote.

-- name: create_schema
-- Creates the schema, the sequence, the seven tables and their one
-- secondary index where missing, parents first. Placeholder: schema.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE SEQUENCE IF NOT EXISTS {schema}.obs_id_seq START 1;

CREATE TABLE IF NOT EXISTS {schema}.categories (
    category_id   VARCHAR NOT NULL PRIMARY KEY,
    category_name VARCHAR NOT NULL,
    description   VARCHAR
);

CREATE TABLE IF NOT EXISTS {schema}.sessions (
    session_id   VARCHAR NOT NULL PRIMARY KEY,
    session_name VARCHAR NOT NULL,
    category_id  VARCHAR NOT NULL REFERENCES {schema}.categories (category_id),
    created_at   TIMESTAMP DEFAULT now(),
    config       JSON,      -- the session's configuration file, whole
    metadata     JSON
);

CREATE TABLE IF NOT EXISTS {schema}.episodes (
    episode_id     VARCHAR NOT NULL PRIMARY KEY,
    session_id     VARCHAR NOT NULL REFERENCES {schema}.sessions (session_id),
    episode_number INTEGER NOT NULL,   -- from 0, in file name order
    num_frames     INTEGER NOT NULL,
    num_agents     INTEGER NOT NULL,
    frame_rate     DOUBLE DEFAULT 30.0,
    file_path      VARCHAR NOT NULL,
    created_at     TIMESTAMP DEFAULT now()
);

CREATE TABLE IF NOT EXISTS {schema}.agent_types (
    type_id     VARCHAR NOT NULL PRIMARY KEY,
    type_name   VARCHAR NOT NULL,
    description VARCHAR
);

CREATE TABLE IF NOT EXISTS {schema}.observations (
    observation_id BIGINT NOT NULL UNIQUE DEFAULT nextval('{schema}.obs_id_seq'),
    episode_id     VARCHAR NOT NULL REFERENCES {schema}.episodes (episode_id),
    time_index     INTEGER NOT NULL,   -- frame number, from 0
    agent_id       INTEGER NOT NULL,
    agent_type_id  VARCHAR NOT NULL REFERENCES {schema}.agent_types (type_id),
    x              DOUBLE NOT NULL,
    y              DOUBLE NOT NULL,
    z              DOUBLE,             -- NULL for 2D data
    v_x            DOUBLE,
    v_y            DOUBLE,
    v_z            DOUBLE,
    PRIMARY KEY (episode_id, time_index, agent_id, agent_type_id)
);
CREATE INDEX IF NOT EXISTS idx_obs_episode_time ON {schema}.observations (episode_id, time_index);

CREATE TABLE IF NOT EXISTS {schema}.property_definitions (
    property_id   VARCHAR NOT NULL PRIMARY KEY,
    property_name VARCHAR NOT NULL,
    data_type     VARCHAR NOT NULL,   -- float | vector | string
    description   VARCHAR,
    unit          VARCHAR
);

CREATE TABLE IF NOT EXISTS {schema}.extended_properties (
    observation_id BIGINT NOT NULL REFERENCES {schema}.observations (observation_id),
    property_id    VARCHAR NOT NULL REFERENCES {schema}.property_definitions (property_id),
    value_float    DOUBLE,    -- numeric properties
    value_text     VARCHAR,   -- string properties
    PRIMARY KEY (observation_id, property_id)
);

-- name: seed_agent_types
-- Adds the standard agent types; a type already there is left as it is.
-- Placeholder: schema.
INSERT INTO {schema}.agent_types (type_id, type_name, description) VALUES
    ('agent',  'agent',       'Simulated agent (boid)'),
    ('env',    'environment', 'Environment entity: walls, obstacles, boundaries'),
    ('target', 'target',      'Target object of a simulation'),
    ('food',   'food',        'Stationary food target of the 2D boids simulation'),
    ('bird',   'bird',        'Bird tracked in video'),
    ('rat',    'rat',         'Rat tracked in video'),
    ('gerbil', 'gerbil',      'Gerbil tracked in video')
ON CONFLICT (type_id) DO NOTHING;

-- name: seed_property_definitions
-- Adds the standard property definitions: the 3D boids' distances and
-- closest points, the video tracking's bounding box, confidence and class,
-- and the properties computed from velocities. A definition already there
-- is left as it is. Placeholder: schema.
INSERT INTO {schema}.property_definitions (property_id, property_name, data_type, description, unit) VALUES
    ('distance_to_target_center', 'Distance to target center', 'float', 'Distance to the center of the first target', 'scene_units'),
    ('distance_to_target_mesh', 'Distance to target mesh', 'float', 'Distance to the closest point of the first target''s mesh', 'scene_units'),
    ('distance_to_scene_mesh', 'Distance to scene mesh', 'float', 'Distance to the closest point of the scene mesh', 'scene_units'),
    ('target_mesh_closest_x', 'Target mesh closest point x', 'float', 'x of the closest point of the first target''s mesh', 'scene_units'),
    ('target_mesh_closest_y', 'Target mesh closest point y', 'float', 'y of the closest point of the first target''s mesh', 'scene_units'),
    ('target_mesh_closest_z', 'Target mesh closest point z', 'float', 'z of the closest point of the first target''s mesh', 'scene_units'),
    ('scene_mesh_closest_x', 'Scene mesh closest point x', 'float', 'x of the closest point of the scene mesh', 'scene_units'),
    ('scene_mesh_closest_y', 'Scene mesh closest point y', 'float', 'y of the closest point of the scene mesh', 'scene_units'),
    ('scene_mesh_closest_z', 'Scene mesh closest point z', 'float', 'z of the closest point of the scene mesh', 'scene_units'),
    ('bbox_x1', 'Bounding box x1', 'float', 'Left edge of the detection''s bounding box', 'pixels'),
    ('bbox_y1', 'Bounding box y1', 'float', 'Top edge of the detection''s bounding box', 'pixels'),
    ('bbox_x2', 'Bounding box x2', 'float', 'Right edge of the detection''s bounding box', 'pixels'),
    ('bbox_y2', 'Bounding box y2', 'float', 'Bottom edge of the detection''s bounding box', 'pixels'),
    ('confidence', 'Detection confidence', 'float', 'The tracker''s confidence in the detection', 'probability'),
    ('detection_class', 'Detection class', 'string', 'The class the tracker gave the detection', 'label'),
    ('acceleration_x', 'Acceleration x', 'float', 'x component of the acceleration, from the velocities', 'scene_units/frame^2'),
    ('acceleration_y', 'Acceleration y', 'float', 'y component of the acceleration, from the velocities', 'scene_units/frame^2'),
    ('acceleration_z', 'Acceleration z', 'float', 'z component of the acceleration, from the velocities', 'scene_units/frame^2'),
    ('acceleration_magnitude', 'Acceleration magnitude', 'float', 'Length of the acceleration vector', 'scene_units/frame^2'),
    ('speed', 'Speed', 'float', 'Length of the velocity vector', 'scene_units/frame')
ON CONFLICT (property_id) DO NOTHING;

-- name: drop_schema
-- Drops the seven tables and everything in them, children first, then the
-- sequence; the schema itself is kept. Placeholder: schema.
DROP TABLE IF EXISTS {schema}.extended_properties;
DROP TABLE IF EXISTS {schema}.property_definitions;
DROP TABLE IF EXISTS {schema}.observations;
DROP TABLE IF EXISTS {schema}.agent_types;
DROP TABLE IF EXISTS {schema}.episodes;
DROP TABLE IF EXISTS {schema}.sessions;
DROP TABLE IF EXISTS {schema}.categories;
DROP SEQUENCE IF EXISTS {schema}.obs_id_seq;
