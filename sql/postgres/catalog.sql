-- What the server holds: a table's columns, a parent's partitions, a
-- partition's rows. `$n` are bound parameters; {partition} is a quoted name.

-- name: table_columns
-- Columns of an existing table, in order, with types as format_type spells
-- them. Parameter: the quoted name (text); no rows when the table is missing.
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: partitions
-- The partitions of a parent table with their bounds ('DEFAULT' or 'FOR
-- VALUES FROM (1987) TO (1988)') and the server's cumulative row counters
-- for each (NULL when it has none). Parameter: the parent's quoted name (text).
SELECT c.relname::text,
       pg_get_expr(c.relpartbound, c.oid),
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE i.inhparent = to_regclass($1);

-- name: count_partition
-- Rows of one partition.
SELECT count(*) FROM ONLY {partition};
