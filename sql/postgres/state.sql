-- pqstage's record of what each partitioned table holds: one row per loaded
-- partition, with the manifest checksum it was loaded from. Updated in the
-- same transaction that swaps the partition in.
CREATE SCHEMA IF NOT EXISTS pqstage;
CREATE TABLE IF NOT EXISTS pqstage.load_state (
    table_schema    text   NOT NULL,
    table_name      text   NOT NULL,
    partition_path  text   NOT NULL,   -- e.g. 'year=1987'
    partition_value bigint,            -- NULL for the NULL (DEFAULT) partition
    partition_table text   NOT NULL,   -- e.g. 'violations_p1987'
    checksum        text   NOT NULL,   -- the partition's checksum in the manifest
    rows            bigint NOT NULL,
    dataset         text   NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_schema, table_name, partition_path)
);
