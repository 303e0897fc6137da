-- The partitions of a parent table with their bounds ('DEFAULT' or
-- 'FOR VALUES FROM (1987) TO (1988)') and the server's cumulative row
-- counters for each (NULL when it has none). Parameter: the parent's quoted
-- name (text).
SELECT c.relname::text,
       pg_get_expr(c.relpartbound, c.oid),
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE i.inhparent = to_regclass($1);
