-- pqstage's record of what each table holds: one row per loaded partition,
-- with the manifest checksum it was loaded from. Lives in the DuckDB file
-- beside the data, so it commits and rolls back with the data. Placeholder:
-- catalog, the quoted catalog name (the file's name): a file called pqstage.duckdb has a
-- catalog named like the schema, and only the full name is unambiguous.
CREATE SCHEMA IF NOT EXISTS {catalog}.pqstage;
CREATE TABLE IF NOT EXISTS {catalog}.pqstage.load_state (
    table_name      VARCHAR NOT NULL,   -- the target table as given to --table
    partition_path  VARCHAR NOT NULL,   -- e.g. 'year=1987' ('' if unpartitioned)
    partition_value BIGINT,             -- the key; NULL for the NULL partition
    checksum        VARCHAR NOT NULL,   -- the partition's checksum in the manifest
    rows            BIGINT NOT NULL,    -- rows loaded
    dataset         VARCHAR NOT NULL,   -- the staged dataset's name
    manifest_created_at VARCHAR NOT NULL,
    loaded_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);
