-- The target table, typed from the staged spec. {table} is the quoted name,
-- {columns} the column definitions ("name" TYPE [NOT NULL], ...).
CREATE TABLE {table} ({columns});
