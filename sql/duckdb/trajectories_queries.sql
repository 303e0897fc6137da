-- The queries the trajectory datasets' users run, and the counts that check
-- a load: the DuckDB twins of sql/postgres/trajectories_queries.sql.
-- Placeholder: schema, the quoted schema of the tables (e.g. "main").
-- `?` are bound parameters, in the order each query lists them: ids are
-- text, time indexes integer. Rows come in a stable order, and
-- observation_id, which a reload changes, is never returned.

-- name: episode_tracks
-- One episode's observations in a window of frames, both ends included,
-- by frame, then agent type, then agent. Parameters: episode_id, the first
-- time_index, the last time_index. Columns: time_index, agent_id,
-- agent_type_id, x, y, z, v_x, v_y, v_z.
SELECT o.time_index, o.agent_id, o.agent_type_id, o.x, o.y, o.z, o.v_x, o.v_y, o.v_z
FROM {schema}.observations AS o
WHERE o.episode_id = ?
  AND o.time_index BETWEEN ? AND ?
ORDER BY o.time_index, o.agent_type_id, o.agent_id;

-- name: property_series
-- One property's values over one episode, with the observation each belongs
-- to, in the order of episode_tracks. Parameters: episode_id, property_id.
-- Columns: time_index, agent_id, agent_type_id, value_float, value_text.
SELECT o.time_index, o.agent_id, o.agent_type_id, p.value_float, p.value_text
FROM {schema}.extended_properties AS p
JOIN {schema}.observations AS o ON o.observation_id = p.observation_id
WHERE o.episode_id = ?
  AND p.property_id = ?
ORDER BY o.time_index, o.agent_type_id, o.agent_id;

-- name: episode_properties
-- The properties that have values in one episode, by property_id, with how
-- many values each has and its definition. Parameter: episode_id. Columns:
-- property_id, property_name, data_type, unit, value_count.
SELECT p.property_id, d.property_name, d.data_type, d.unit, count(*) AS value_count
FROM {schema}.extended_properties AS p
JOIN {schema}.observations AS o ON o.observation_id = p.observation_id
JOIN {schema}.property_definitions AS d ON d.property_id = p.property_id
WHERE o.episode_id = ?
GROUP BY p.property_id, d.property_name, d.data_type, d.unit
ORDER BY p.property_id;

-- name: episode_counts
-- The rows one episode has in observations and in extended_properties, to
-- check a load against its input. Parameter: episode_id. Columns:
-- observations, properties (bigint). No row when the episode is not there.
SELECT
    (SELECT count(*)
     FROM {schema}.observations AS o
     WHERE o.episode_id = e.episode_id) AS observations,
    (SELECT count(*)
     FROM {schema}.extended_properties AS p
     JOIN {schema}.observations AS o ON o.observation_id = p.observation_id
     WHERE o.episode_id = e.episode_id) AS properties
FROM {schema}.episodes AS e
WHERE e.episode_id = ?;

-- name: dataset_counts
-- Every episode's rows in observations and in extended_properties (0 when
-- it has none), by episode_id. No parameters. Columns: episode_id,
-- observations, properties (bigint).
WITH obs AS (
    SELECT episode_id, count(*) AS observations
    FROM {schema}.observations
    GROUP BY episode_id
), props AS (
    SELECT o.episode_id, count(*) AS properties
    FROM {schema}.extended_properties AS p
    JOIN {schema}.observations AS o ON o.observation_id = p.observation_id
    GROUP BY o.episode_id
)
SELECT e.episode_id,
       coalesce(obs.observations, 0) AS observations,
       coalesce(props.properties, 0) AS properties
FROM {schema}.episodes AS e
LEFT JOIN obs ON obs.episode_id = e.episode_id
LEFT JOIN props ON props.episode_id = e.episode_id
ORDER BY e.episode_id;

-- name: property_summary
-- Per property: how many values, in how many episodes, and the range and
-- mean of the numeric ones. No parameters.
SELECT p.property_id, d.unit, count(*) AS "values", count(DISTINCT o.episode_id) AS episodes,
       min(p.value_float) AS min, avg(p.value_float) AS mean, max(p.value_float) AS max
FROM {schema}.extended_properties AS p
JOIN {schema}.observations AS o ON o.observation_id = p.observation_id
LEFT JOIN {schema}.property_definitions AS d ON d.property_id = p.property_id
GROUP BY p.property_id, d.unit
ORDER BY p.property_id;
