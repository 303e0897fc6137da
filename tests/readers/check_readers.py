"""DuckDB and pyarrow read a staged dataset as it is, `year` included.

Converts a generated sample with the checked-in spec, then compares what the
engines see through the Hive layout with the manifest and with DuckDB's own
reading of the source CSV. Prints one line per check and a closing
"N passed, N failed" line; exits 1 if any check failed.
"""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

ROWS = 60_000
passed, failed = 0, 0


def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}: got {got!r}, want {want!r}")


def main():
    pqstage, work = sys.argv[1], Path(sys.argv[2])
    csv, spec, stage = work / "v.csv", work / "v.toml", work / "stage"
    run = lambda *a: subprocess.run([pqstage, *a], check=True, capture_output=True, text=True)
    run("sample", "violations", "--rows", str(ROWS), "--out", str(csv), "--spec-out", str(spec), "--seed", "3")
    run("convert", str(csv), "--spec", str(spec), "--to", str(stage), "--no-progress")
    data = stage / "violations"
    manifest = json.loads((data / "_manifest.json").read_text())
    table = manifest["tables"][0]
    null_rows = sum(p["rows"] for p in table["partitions"] if p["value"] is None)
    check("the sample has NULL issuance dates", null_rows > 0, True)

    glob = f"read_parquet('{data}/**/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    rows, years, nulls = con.execute(f"SELECT count(*), count(year), count(*) - count(year) FROM {glob}").fetchone()
    check("duckdb: rows equal the manifest", rows, table["rows_written"])
    check("duckdb: NULL-key rows read as NULL year", nulls, null_rows)
    ytype = con.execute(f"SELECT typeof(any_value(year)) FROM {glob}").fetchone()[0]
    check("duckdb: year is an integer column", ytype in ("BIGINT", "INTEGER"), True)
    mismatched = con.execute(f"SELECT count(*) FROM {glob} WHERE year IS DISTINCT FROM year(issuance_date)").fetchone()[0]
    check("duckdb: year equals year(issuance_date) on every row", mismatched, 0)
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {glob})").fetchall())
    check("duckdb: decimal type kept", types.get("current_penalty"), "DECIMAL(12,2)")
    check("duckdb: date type kept", types.get("issuance_date"), "DATE")
    check("duckdb: zip codes stay text", types.get("site_zip"), "VARCHAR")

    # Values survive: aggregates over the staged data equal DuckDB's own read of the CSV.
    src = f"read_csv('{csv}', header = true, all_varchar = true)"
    want = con.execute(
        f"""SELECT sum(current_penalty::DECIMAL(12,2)), count(DISTINCT company_name), count(DISTINCT site_zip),
                   count(site_address), sum(length(site_address)), min(issuance_date::DATE), max(load_dt::TIMESTAMP)
            FROM {src}"""
    ).fetchone()
    got = con.execute(
        f"""SELECT sum(current_penalty), count(DISTINCT company_name), count(DISTINCT site_zip),
                   count(site_address), sum(length(site_address)), min(issuance_date), max(load_dt)
            FROM {glob}"""
    ).fetchone()
    check("duckdb: aggregates equal those of the source CSV", got, want)
    leading = con.execute(f"SELECT count(*) FROM {glob} WHERE site_zip LIKE '0%'").fetchone()[0]
    check("duckdb: leading zeros survive", leading > 0, True)

    dataset = ds.dataset(data, format="parquet", partitioning="hive")
    t = dataset.to_table()
    check("pyarrow: rows equal the manifest", t.num_rows, table["rows_written"])
    check("pyarrow: year is an integer column", pa.types.is_integer(t.schema.field("year").type), True)
    check("pyarrow: NULL-key rows read as NULL year", t.column("year").null_count, null_rows)
    check("pyarrow: decimal type kept", t.schema.field("current_penalty").type, pa.decimal128(12, 2))
    total = sum((v for v in t.column("current_penalty").to_pylist() if v is not None), Decimal(0))
    check("pyarrow: penalty total equals duckdb's", total, want[0])
    names = [f.name for f in t.schema]
    check("pyarrow: derived column present", "company_name_normalized" in names, True)

    print(f"readers: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
