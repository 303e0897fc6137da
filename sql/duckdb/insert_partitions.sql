-- Inserts the rows of the named Parquet files. {files} is a list literal of
-- exactly the files the manifest names; the partition column comes from the
-- Hive folder name (year=1987), typed by {hive_types}. Columns are listed by
-- name, so any other key=value folder above the stage is ignored.
INSERT INTO {table} ({columns})
SELECT {columns}
FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types});
