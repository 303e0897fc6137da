"""The DuckDB peer of bench/load_duckdb.sh: DuckDB's own load of a staged dataset.

Usage: python ctas.py DB.duckdb DATASET_DIR [STORAGE_VERSION]

STORAGE_VERSION sets storage_compatibility_version for the new file (as
pqstage does with "latest"); without it, the version's default applies.
"""

import os
import sys

import duckdb

db, dataset = sys.argv[1], sys.argv[2]
for path in (db, db + ".wal"):
    if os.path.exists(path):
        os.remove(path)
config = {"storage_compatibility_version": sys.argv[3]} if len(sys.argv) > 3 else {}
con = duckdb.connect(db, config=config)
con.execute(
    "CREATE TABLE t AS SELECT * FROM read_parquet(?, hive_partitioning = true)",
    [dataset + "/**/*.parquet"],
)
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
con.close()
print(f"duckdb {duckdb.__version__}: {rows} rows")
