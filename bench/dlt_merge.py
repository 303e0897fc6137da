"""dlt's merge as a peer of pqstage's incremental load (bench/dlt_peer.sh).

    python dlt_merge.py initial STAGE_DIR URL   # the staged version, loaded whole (replace)
    python dlt_merge.py merge STAGE_DIR URL     # the latest version's change sets, merged

The rows come from the stage's files, typed as pqstage staged them, so both
tools load the same values: the first version whole, then the rows the
latest version inserted and updated and, as hard deletes, the keys it
deleted (dlt's `hard_delete` column hint). dlt gets the change already
computed; it does not compare versions itself. Its merge is `delete-insert`
(dlt's default, into a staging dataset, then DELETE and INSERT in one
transaction) unless DLT_STRATEGY says `upsert`.
"""
import json
import os
import sys

import dlt
import pyarrow as pa
import pyarrow.parquet as pq

KEY = ["activity_nr", "citation_id"]


def manifest(root):
    with open(os.path.join(root, "_manifest.json")) as f:
        return json.load(f)


def with_year(path, value, columns=None):
    """A staged file's rows with the partition column the folder names."""
    t = pq.read_table(path, columns=columns)
    return t.append_column("year", pa.array([value] * t.num_rows, pa.int32()))


def batches(root, entries, columns=None):
    for value, f in entries:
        yield with_year(os.path.join(root, f["path"]), value, columns)


def pipeline(url):
    return dlt.pipeline(
        pipeline_name="pqstage_peer",
        destination=dlt.destinations.postgres(url),
        dataset_name="dlt_peer",
        pipelines_dir=os.environ.get("DLT_DIR", "/tmp/dlt-peer"),
    )


def main():
    what, root, url = sys.argv[1], sys.argv[2], sys.argv[3]
    m = manifest(root)
    t = m["tables"][0]
    strategy = os.environ.get("DLT_STRATEGY", "delete-insert")
    if what == "initial":
        files = [(p["value"], f) for p in t["partitions"] for f in p["files"]]

        @dlt.resource(name="violations", write_disposition="replace", primary_key=KEY)
        def rows():
            yield from batches(root, files)

        info = pipeline(url).run(rows(), loader_file_format="csv")
    else:
        changes = [c for c in t["changes"] if c["version"] == m["version"]]
        upserts = [(c["value"], f) for c in changes for k in ("inserted", "updated") for f in c[k].get("files", [])]
        deletes = [(c["value"], f) for c in changes for f in c["deleted"].get("files", [])]
        # dlt's key is the record's (the table is not partitioned by year): a
        # record moved to another year is an upsert, not also a delete.
        upserted = set()
        for b in batches(root, upserts, KEY):
            upserted.update(zip(b.column(KEY[0]).to_pylist(), b.column(KEY[1]).to_pylist()))

        def kept(b):
            keys = zip(b.column(KEY[0]).to_pylist(), b.column(KEY[1]).to_pylist())
            return b.filter(pa.array([k not in upserted for k in keys]))

        @dlt.resource(
            name="violations",
            write_disposition={"disposition": "merge", "strategy": strategy},
            primary_key=KEY,
            columns={"deleted": {"hard_delete": True}},
        )
        def rows():
            for b in batches(root, upserts):
                yield b.append_column("deleted", pa.array([False] * b.num_rows))
            for b in batches(root, deletes):
                b = kept(b)
                yield b.append_column("deleted", pa.array([True] * b.num_rows))

        info = pipeline(url).run(rows(), loader_file_format="csv")
    print(info)


if __name__ == "__main__":
    main()
