"""dlt's merge as a peer of pqstage's incremental load (bench/dlt_peer.sh).

    python dlt_merge.py initial STAGE_DIR URL   # the staged version, loaded whole (replace)
    python dlt_merge.py merge STAGE_DIR URL PREVIOUS_MANIFEST
                                                # the latest version's change sets, merged

The rows come from the stage's files, typed as pqstage staged them, so both
tools load the same values: the first version whole, then the rows the
latest version inserted and updated (with the rows of years the previous
version did not have, which have no change set) and, as hard deletes, the
keys it deleted (dlt's `hard_delete` column hint). dlt gets the change already
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
        with open(sys.argv[4]) as f:
            had = {p["path"] for p in json.load(f)["tables"][0]["partitions"]}
        upserts += [(p["value"], f) for p in t["partitions"] if p["path"] not in had for f in p["files"]]
        deletes = [(c["value"], f) for c in changes for f in c["deleted"].get("files", [])]
        # dlt's key is the record's (the table is not partitioned by year): a
        # record moved to another year is an upsert, not also a delete.
        upserted = set()
        for b in batches(root, upserts, KEY):
            upserted.update(zip(b.column(KEY[0]).to_pylist(), b.column(KEY[1]).to_pylist()))

        def kept(b):
            keys = zip(b.column(KEY[0]).to_pylist(), b.column(KEY[1]).to_pylist())
            return b.filter(pa.array([k not in upserted for k in keys]))

        # One schema for every batch (dlt buffers them together): the
        # upserts' columns, all nullable, then the hard-delete flag; a deleted
        # key's other columns are NULL.
        first = next(batches(root, upserts[:1]))
        schema = pa.schema([f.with_nullable(True) for f in first.schema] + [pa.field("deleted", pa.bool_())])

        def conform(b, deleted):
            b = b.append_column("deleted", pa.array([deleted] * b.num_rows))
            cols = [b.column(f.name) if f.name in b.column_names else pa.nulls(b.num_rows, f.type) for f in schema]
            return pa.Table.from_arrays(cols, schema=schema)

        @dlt.resource(
            name="violations",
            write_disposition={"disposition": "merge", "strategy": strategy},
            primary_key=KEY,
            columns={"deleted": {"hard_delete": True}},
        )
        def rows():
            for b in batches(root, upserts):
                yield conform(b, False)
            for b in batches(root, deletes):
                yield conform(kept(b), True)

        info = pipeline(url).run(rows(), loader_file_format="csv")
    print(info)


if __name__ == "__main__":
    main()
