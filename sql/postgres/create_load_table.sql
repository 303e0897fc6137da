-- A standalone table shaped like the parent, for one partition's rows, with
-- the CHECK constraint of its bound from the start: COPY checks each row as
-- it arrives (no second scan), and ATTACH can then skip scanning the rows.
-- It is created, filled (COPY ... FREEZE), indexed and analysed in one
-- transaction, then swapped in; a failed or killed load rolls it back.
-- Placeholders: table, columns, check_name, check.
CREATE TABLE {table} ({columns}, CONSTRAINT {check_name} CHECK ({check}));
