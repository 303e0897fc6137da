-- A standalone table shaped like the parent, for one partition's rows. It is
-- created, filled (COPY … FREEZE), constrained, indexed and analysed in one
-- transaction, then swapped in; a failed or killed load rolls it back.
CREATE TABLE {table} ({columns});
