"""DuckDB, pyarrow, Polars and Spark read a staged dataset as it is, `year`
included, and the DDL of `pqstage ddl` declares it in Spark and DuckDB.

Converts a generated sample with the checked-in spec, then compares what the
engines see through the Hive layout with the manifest and with DuckDB's own
reading of the source CSV; converts the every-type fixture (tests/data) and
compares every value across DuckDB, Polars and Spark. Prints one line per
check and a closing "N passed, N failed" line; exits 1 if any check failed.

Spark runs in local mode (PySpark from PyPI; Java 17+, which run.sh installs
from Debian when missing).
"""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

# Spark hands timestamps to Python in the process's time zone.
os.environ["TZ"] = "UTC"
time_module = __import__("time")
time_module.tzset()

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

    per_year = sorted(
        ((p["value"], p["rows"]) for p in table["partitions"]), key=lambda r: (r[0] is None, r[0] or 0)
    )

    lazy = pl.scan_parquet(f"{data}/*/*.parquet", hive_partitioning=True)
    pdf = lazy.select(pl.len().alias("n"), pl.col("year").null_count().alias("nulls"), pl.col("current_penalty").sum()).collect()
    check("polars: rows equal the manifest", pdf["n"][0], table["rows_written"])
    check("polars: NULL-key rows read as NULL year", pdf["nulls"][0], null_rows)
    check("polars: year is an integer column", lazy.collect_schema()["year"].is_integer(), True)
    check("polars: decimal type kept", str(lazy.collect_schema()["current_penalty"]), "Decimal(precision=12, scale=2)")
    check("polars: penalty total equals duckdb's", pdf["current_penalty"][0], want[0])
    got = lazy.group_by("year").len().sort("year", nulls_last=True).collect().rows()
    check("polars: rows per year equal the manifest", [tuple(r) for r in got], per_year)

    ddl = lambda engine, stage_dir: run("ddl", str(stage_dir), "--engine", engine).stdout
    con.execute(ddl("duckdb", stage))
    got = con.execute("SELECT year, count(*) FROM violations GROUP BY year ORDER BY year NULLS LAST").fetchall()
    check("duckdb ddl: the view holds the manifest's rows per year", got, per_year)

    from pyspark.sql import SparkSession, functions as F, types as T

    spark = (
        SparkSession.builder.master("local[2]").appName("pqstage-readers")
        .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4").config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    sdf = spark.read.parquet(str(data))
    types = {f.name: f.dataType for f in sdf.schema.fields}
    check("spark: year is an integer column", types["year"], T.IntegerType())
    check("spark: decimal type kept", types["current_penalty"], T.DecimalType(12, 2))
    check("spark: date type kept", types["issuance_date"], T.DateType())
    check("spark: timestamp without zone kept", types["load_dt"], T.TimestampNTZType())
    srow = sdf.agg(F.count(F.lit(1)), F.count("year"), F.sum("current_penalty")).first()
    check("spark: rows equal the manifest", srow[0], table["rows_written"])
    check("spark: NULL-key rows read as NULL year", srow[0] - srow[1], null_rows)
    check("spark: penalty total equals duckdb's", srow[2], want[0])
    got = [tuple(r) for r in sdf.groupBy("year").count().orderBy(F.col("year").asc_nulls_last()).collect()]
    check("spark: rows per year equal the manifest", got, per_year)

    for chunk in ddl("spark", stage).split(";"):
        statement = "\n".join(line for line in chunk.splitlines() if not line.startswith("--")).strip()
        if statement:
            spark.sql(statement)
    got = [tuple(r) for r in spark.sql("SELECT year, count(*) FROM violations GROUP BY year ORDER BY year NULLS LAST").collect()]
    check("spark ddl: the table holds the manifest's rows per year", got, per_year)
    sums = spark.sql("SELECT sum(current_penalty), count(DISTINCT company_name) FROM violations").first()
    check("spark ddl: sums equal duckdb's", (sums[0], sums[1]), (want[0], want[1]))

    every_type(run, work, con, spark)
    spark.stop()
    print(f"readers: {passed} passed, {failed} failed")
    return 1 if failed else 0


def every_type(run, work, con, spark):
    """The every-type fixture: the same values in DuckDB, Polars and Spark.
    Instants are compared as microseconds since the epoch, so no engine's
    time zone handling enters; floats by repr (NaN and infinities)."""
    from pyspark.sql import functions as F

    fixtures = Path(__file__).resolve().parent.parent / "data"
    stage = work / "types-stage"
    run("convert", str(fixtures / "types.csv"), "--spec", str(fixtures / "types.toml"), "--to", str(stage), "--no-progress")
    data = stage / "types"
    cols = ["id", "b", "i16", "i64", "f", "d", "money", "day", "ts", "t", "year"]

    def canon(v):
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, Decimal):
            # 1E-10 and 1.00E-10 are the same value, spelt by different engines.
            return str(v.normalize())
        return None if v is None else str(v)

    def canon_rows(rows):
        return [tuple(canon(v) for v in r) for r in rows]

    glob = f"read_parquet('{data}/*/*.parquet', hive_partitioning = true)"
    want = canon_rows(con.execute(f"SELECT {', '.join(cols)}, epoch_us(tz) FROM {glob} ORDER BY id").fetchall())
    staged = json.loads((data / "_manifest.json").read_text())["tables"][0]["rows_written"]
    check("every type: duckdb reads every staged row", (len(want), len(want) > 0), (staged, True))
    lazy = pl.scan_parquet(f"{data}/*/*.parquet", hive_partitioning=True)
    got = lazy.select(*cols, pl.col("tz").dt.epoch("us")).sort("id").collect().rows()
    check("every type: polars reads duckdb's values", canon_rows(got), want)
    sdf = spark.read.parquet(str(data))
    got = sdf.select(*cols, F.unix_micros("tz")).orderBy("id").collect()
    check("every type: spark reads duckdb's values", canon_rows(tuple(r) for r in got), want)


if __name__ == "__main__":
    sys.exit(main())
