-- Inserts the rows of the named Parquet files. Placeholders: files (a list
-- literal of exactly the files the manifest names), hive (for a partitioned
-- table, hive_partitioning on with the partition column's type, which comes
-- from the Hive folder name year=1987; else hive_partitioning off), table and
-- columns. Columns are listed by name, so any other key=value folder above
-- the stage is ignored.
INSERT INTO {table} ({columns})
SELECT {columns}
FROM read_parquet({files}, {hive});
