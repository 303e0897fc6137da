-- Inserts the rows of the named Parquet files. Placeholders: files (a list
-- literal of exactly the files the manifest names), hive_types (the type of
-- the partition column, which comes from the Hive folder name year=1987),
-- table and columns. Columns are listed by name, so any other key=value
-- folder above the stage is ignored.
INSERT INTO {table} ({columns})
SELECT {columns}
FROM read_parquet({files}, hive_partitioning = true, hive_types = {hive_types});
