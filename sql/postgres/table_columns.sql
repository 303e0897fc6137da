-- Columns of an existing table, in order, with types as format_type spells
-- them. Parameter: the quoted name (text); no rows when the table is missing.
SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;
