-- The trajectory datasets' tables in PostgreSQL: the schema research groups
-- already use for multi-agent trajectory data (sessions of episodes of
-- observations, with extended properties in entity-attribute-value form).
-- Existing databases were made from that schema, so every statement here
-- only adds what is missing and the names are the ones those databases
-- already have.
--
-- Placeholder: schema, the quoted schema that holds the tables (e.g.
-- "public"). The loader creates a missing schema first
-- (trajectories_load.sql: schema_exists, create_users_schema).
--
-- Constraint names are PostgreSQL's own defaults for unnamed constraints,
-- written out, so that they match databases made by the users' scripts:
--   categories_pkey, sessions_pkey, episodes_pkey, agent_types_pkey,
--   property_definitions_pkey, observations_pkey (the natural key
--   episode_id, time_index, agent_id, agent_type_id),
--   observations_observation_id_key (UNIQUE observation_id),
--   extended_properties_pkey (observation_id, property_id),
--   sessions_category_id_fkey, episodes_session_id_fkey,
--   observations_episode_id_fkey, observations_agent_type_id_fkey,
--   extended_properties_observation_id_fkey,
--   extended_properties_property_id_fkey.
-- The sequence behind observation_id is observations_observation_id_seq.
-- Index names are the users' own (an index with another name would be built
-- a second time on their databases):
--   idx_sessions_category       sessions (category_id)
--   idx_episodes_session        episodes (session_id)
--   idx_obs_episode             observations (episode_id)
--   idx_obs_episode_time        observations (episode_id, time_index)
--   idx_obs_agent_type          observations (agent_type_id)
--   idx_ext_props_observation   extended_properties (observation_id)
--   idx_ext_props_property      extended_properties (property_id)
-- idx_obs_episode, idx_obs_episode_time and idx_ext_props_observation repeat
-- a prefix of their table's primary key; they are kept because the users'
-- databases have them.

-- name: create_schema
-- Creates the seven tables and their indexes where missing, parents first.
-- Placeholder: schema.
CREATE TABLE IF NOT EXISTS {schema}.categories (
    category_id   varchar NOT NULL,
    category_name varchar NOT NULL,
    description   text,
    CONSTRAINT categories_pkey PRIMARY KEY (category_id)
);

CREATE TABLE IF NOT EXISTS {schema}.sessions (
    session_id   varchar NOT NULL,
    session_name varchar NOT NULL,
    category_id  varchar NOT NULL,
    created_at   timestamp DEFAULT now(),
    config       jsonb,      -- the session's configuration file, whole
    metadata     jsonb,
    CONSTRAINT sessions_pkey PRIMARY KEY (session_id),
    CONSTRAINT sessions_category_id_fkey FOREIGN KEY (category_id)
        REFERENCES {schema}.categories (category_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_sessions_category ON {schema}.sessions (category_id);

CREATE TABLE IF NOT EXISTS {schema}.episodes (
    episode_id     varchar NOT NULL,
    session_id     varchar NOT NULL,
    episode_number integer NOT NULL,   -- from 0, in file name order
    num_frames     integer NOT NULL,
    num_agents     integer NOT NULL,
    frame_rate     double precision DEFAULT 30.0,
    file_path      varchar NOT NULL,
    created_at     timestamp DEFAULT now(),
    CONSTRAINT episodes_pkey PRIMARY KEY (episode_id),
    CONSTRAINT episodes_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES {schema}.sessions (session_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS idx_episodes_session ON {schema}.episodes (session_id);

CREATE TABLE IF NOT EXISTS {schema}.agent_types (
    type_id     varchar NOT NULL,
    type_name   varchar NOT NULL,
    description text,
    CONSTRAINT agent_types_pkey PRIMARY KEY (type_id)
);

CREATE TABLE IF NOT EXISTS {schema}.observations (
    observation_id bigserial NOT NULL,   -- surrogate key, for extended_properties
    episode_id     varchar NOT NULL,
    time_index     integer NOT NULL,     -- frame number, from 0
    agent_id       integer NOT NULL,
    agent_type_id  varchar NOT NULL,
    x              double precision NOT NULL,
    y              double precision NOT NULL,
    z              double precision,     -- NULL for 2D data
    v_x            double precision,
    v_y            double precision,
    v_z            double precision,
    CONSTRAINT observations_pkey PRIMARY KEY (episode_id, time_index, agent_id, agent_type_id),
    CONSTRAINT observations_observation_id_key UNIQUE (observation_id),
    CONSTRAINT observations_episode_id_fkey FOREIGN KEY (episode_id)
        REFERENCES {schema}.episodes (episode_id) ON DELETE CASCADE,
    CONSTRAINT observations_agent_type_id_fkey FOREIGN KEY (agent_type_id)
        REFERENCES {schema}.agent_types (type_id)
);
CREATE INDEX IF NOT EXISTS idx_obs_episode ON {schema}.observations (episode_id);
CREATE INDEX IF NOT EXISTS idx_obs_episode_time ON {schema}.observations (episode_id, time_index);
CREATE INDEX IF NOT EXISTS idx_obs_agent_type ON {schema}.observations (agent_type_id);

CREATE TABLE IF NOT EXISTS {schema}.property_definitions (
    property_id   varchar NOT NULL,
    property_name varchar NOT NULL,
    data_type     varchar NOT NULL,   -- float | vector | string
    description   text,
    unit          varchar,
    CONSTRAINT property_definitions_pkey PRIMARY KEY (property_id)
);

CREATE TABLE IF NOT EXISTS {schema}.extended_properties (
    observation_id bigint NOT NULL,
    property_id    varchar NOT NULL,
    value_float    double precision,   -- numeric properties
    value_text     text,               -- string properties
    CONSTRAINT extended_properties_pkey PRIMARY KEY (observation_id, property_id),
    CONSTRAINT extended_properties_observation_id_fkey FOREIGN KEY (observation_id)
        REFERENCES {schema}.observations (observation_id) ON DELETE CASCADE,
    CONSTRAINT extended_properties_property_id_fkey FOREIGN KEY (property_id)
        REFERENCES {schema}.property_definitions (property_id)
);
CREATE INDEX IF NOT EXISTS idx_ext_props_observation ON {schema}.extended_properties (observation_id);
CREATE INDEX IF NOT EXISTS idx_ext_props_property ON {schema}.extended_properties (property_id);

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
-- Drops the seven tables and everything in them, children first.
-- Placeholder: schema.
DROP TABLE IF EXISTS {schema}.extended_properties;
DROP TABLE IF EXISTS {schema}.property_definitions;
DROP TABLE IF EXISTS {schema}.observations;
DROP TABLE IF EXISTS {schema}.agent_types;
DROP TABLE IF EXISTS {schema}.episodes;
DROP TABLE IF EXISTS {schema}.sessions;
DROP TABLE IF EXISTS {schema}.categories;
