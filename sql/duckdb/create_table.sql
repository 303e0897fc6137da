-- The target table, typed from the spec. Placeholders: table (the quoted
-- name), columns (the column definitions: "name" TYPE [NOT NULL], ...).
CREATE TABLE {table} ({columns});
