-- Binary COPY into the table created in the same transaction: FREEZE writes
-- the rows already frozen, so no later VACUUM has to rewrite them.
COPY {table} ({names}) FROM STDIN (FORMAT binary, FREEZE)
