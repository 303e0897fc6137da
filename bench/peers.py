"""Peer converters for bench/convert.sh: CSV -> year-partitioned zstd Parquet.

    python peers.py duckdb  CSV OUT_DIR
    python peers.py polars  CSV OUT_DIR
    python peers.py versions

Each run writes Hive-style `OUT_DIR/year=YYYY/*.parquet`, with the year taken
from the `issuance_date` column (YYYY-MM-DD, may be empty). Both engines use
all cores (their defaults). OUT_DIR must not exist yet or be empty.
"""

import sys


def run_duckdb(csv: str, out: str) -> None:
    import duckdb

    con = duckdb.connect()  # in-memory; threads default to the core count
    lit = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731
    con.execute(
        f"COPY (SELECT *, year(issuance_date) AS year FROM read_csv({lit(csv)})) "
        f"TO {lit(out)} (FORMAT parquet, PARTITION_BY (year), COMPRESSION zstd)"
    )


def run_polars(csv: str, out: str) -> None:
    import polars as pl

    lf = pl.scan_csv(csv, try_parse_dates=True, infer_schema_length=10_000)
    date = pl.col("issuance_date")
    if lf.collect_schema()["issuance_date"] != pl.Date:
        # Not inferred as a date (e.g. all empty in the sample): parse it.
        date = date.cast(pl.String).str.to_date("%Y-%m-%d", strict=True)
        lf = lf.with_columns(date.alias("issuance_date"))
        date = pl.col("issuance_date")
    lf = lf.with_columns(date.dt.year().alias("year"))

    # The partitioned-sink API changed across Polars releases.
    if hasattr(pl, "PartitionBy"):  # >= 1.33-ish / 2.x
        target = pl.PartitionBy(out, key="year", include_key=False)
    elif hasattr(pl, "PartitionByKey"):  # 1.2x .. 1.3x
        target = pl.PartitionByKey(out, by="year", include_key=False)
    else:
        raise SystemExit(f"polars {pl.__version__} has no partitioned sink")
    lf.sink_parquet(target, compression="zstd", mkdir=True)


def versions() -> None:
    import duckdb
    import polars

    print(f"duckdb {duckdb.__version__}")
    print(f"polars {polars.__version__}")


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[1] == "versions":
        return versions()
    if len(argv) != 4 or argv[1] not in ("duckdb", "polars"):
        raise SystemExit(__doc__)
    {"duckdb": run_duckdb, "polars": run_polars}[argv[1]](argv[2], argv[3])


if __name__ == "__main__":
    main(sys.argv)
