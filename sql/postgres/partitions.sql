-- The partitions of a parent table with their bounds ('DEFAULT' or
-- 'FOR VALUES FROM (1987) TO (1988)'). Parameter: the parent's quoted name (text).
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass($1);
