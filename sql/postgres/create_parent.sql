-- The parent table, typed from the spec, partitioned by year ranges.
-- Placeholders: table (quoted schema.name), columns ("name" type [NOT NULL],
-- ...), key (the quoted partition column).
CREATE TABLE {table} ({columns}) PARTITION BY RANGE ({key});
