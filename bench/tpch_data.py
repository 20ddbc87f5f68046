"""TPC-H data for the benchmarks that need one table as CSV (bench/pg_fetch.py, bench/merge.py)."""
from pathlib import Path


def dbgen_csv(scale, data, table):
    """`table` at `scale` as CSV with a header in `data`, from DuckDB's dbgen (the same rows as
    tpchgen-cli), its extension loaded by path from the PyPI wheel (DuckDB cannot download
    extensions here); made once and reused."""
    csv = Path(data) / f"{table}.csv"
    if not csv.exists():
        import duckdb
        import duckdb_extension_tpch
        ext = next(Path(duckdb_extension_tpch.__file__).parent.glob("extensions/*/tpch.duckdb_extension"))
        con = duckdb.connect()
        con.execute(f"load '{ext}'")
        con.execute(f"call dbgen(sf={scale})")
        con.execute(f"copy {table} to '{csv}' (header, delimiter ',')")
    return csv
