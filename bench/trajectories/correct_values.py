#!/usr/bin/env python3
"""Benchmark input: one episode file with a share of its agent rows corrected.

    correct_values.py EPISODE.parquet OUT.parquet [--every 100]

Every N-th agent row (by position) gets its position moved by 1% and its
first distance recomputed from the move, as a corrected re-export of the
same simulation would: the same keys, a few values different. Written with
pyarrow, keeping the file's schema.
"""
import argparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--every", type=int, default=100)
    a = ap.parse_args()
    t = pq.read_table(a.src)
    n = t.num_rows
    agent = pc.equal(t["type"], "agent").to_numpy(zero_copy_only=False)
    picked = [False] * n
    seen = 0
    for i in range(n):
        if agent[i]:
            picked[i] = seen % a.every == 0
            seen += 1
    mask = pa.array(picked)
    for col in ("x", "distance_target_center_1"):
        i = t.schema.get_field_index(col)
        moved = pc.if_else(mask, pc.multiply(t[col], 1.01), t[col])
        t = t.set_column(i, t.schema.field(i), moved)
    pq.write_table(t, a.dst)
    print(f"{sum(picked)} of {n} rows corrected")


if __name__ == "__main__":
    main()
