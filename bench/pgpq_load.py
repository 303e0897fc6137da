"""The pgpq peer of bench/load_postgres.sh: stream a staged dataset's Parquet
into an existing year-partitioned table with pgpq's binary COPY encoder and
psycopg 3, one connection, the way pgpq's README shows.

Usage: python pgpq_load.py URL DATASET_DIR TABLE
"""

import json
import os
import sys

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from pgpq import ArrowToPostgresBinaryEncoder

url, dataset, table = sys.argv[1:4]
manifest = json.load(open(os.path.join(dataset, "_manifest.json")))
parts = manifest["tables"][0]["partitions"]
rows = 0
with psycopg.connect(url) as conn, conn.cursor() as cur:
    encoder = None
    with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT BINARY)") as copy:
        for p in parts:
            for f in p["files"]:
                pf = pq.ParquetFile(os.path.join(dataset, f["path"]))
                for batch in pf.iter_batches(batch_size=65536):
                    # The partition column lives in the folder name (Hive).
                    year = pa.array([p["value"]] * batch.num_rows, type=pa.int32())
                    batch = pa.RecordBatch.from_arrays(batch.columns + [year], names=batch.schema.names + ["year"])
                    if encoder is None:
                        encoder = ArrowToPostgresBinaryEncoder(batch.schema)
                        copy.write(encoder.write_header())
                    copy.write(encoder.write_batch(batch))
                    rows += batch.num_rows
        copy.write(encoder.finish())
    conn.commit()
print(f"pgpq: {rows} rows")
