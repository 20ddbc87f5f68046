#!/usr/bin/env python3
"""Merge of a 10% update batch into TPC-H lineitem: `agora ingest --mode merge` against DuckDB's
`INSERT OR REPLACE` and `MERGE INTO` on the same data, side by side in one run.

    python3 bench/merge.py [--scale 1] [--runs 3]

Method (figures go to docs/benchmarks.md):
  - data: lineitem at the scale factor from DuckDB's TPC-H extension (dbgen), as CSV. The update
    batch is every row whose (l_orderkey * 7 + l_linenumber) % 10 = 0 — 10% of the rows, spread
    over every order — with l_quantity + 1 and ' revised' appended to l_comment, also as CSV.
  - Agora: the tpch contract of bench/tpch/tpch.odcs.yaml with (l_orderkey, l_linenumber) as
    the primary key; the base CSV is ingested (not timed), the mesh directory copied aside, and
    each run starts from a fresh copy of it and times one `agora ingest tpch.lineitem
    update.csv --mode merge` process: decode, validation (one row per key), classification,
    staging, delta-rs MERGE, ledger entry.
  - DuckDB: a database file with lineitem and PRIMARY KEY (l_orderkey, l_linenumber), loaded
    from the base CSV (not timed) and copied aside; each run times, on a fresh copy, one
    statement reading the update CSV: `INSERT OR REPLACE INTO lineitem SELECT * FROM
    read_csv(...)`, then (another copy) `MERGE INTO lineitem USING read_csv(...) ... WHEN
    MATCHED THEN UPDATE ... WHEN NOT MATCHED THEN INSERT`, each followed by CHECKPOINT so
    the result is on disk as Agora's is.
  - both are checked afterwards: the row count is unchanged and the updated comment is there.
  - the median of --runs runs each; the engines take turns, run by run; peak RSS by GNU time for
    Agora's process (DuckDB runs in this Python process, so its RSS is not separated).

Needs: a release build of agora (`cargo build --release -p agora-cli`) and from PyPI
duckdb==1.5.5 and duckdb-extension-tpch==1.5.5.
AGORA_TARGET=target/debug tries the harness on a debug build (figures are meaningless then).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tpch_data import dbgen_csv

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release"))
AGORA = TARGET / "agora"
UPDATED = "(l_orderkey * 7 + l_linenumber) % 10 = 0"
COLUMNS = ["l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity", "l_extendedprice",
           "l_discount", "l_tax", "l_returnflag", "l_linestatus", "l_shipdate", "l_commitdate",
           "l_receiptdate", "l_shipinstruct", "l_shipmode", "l_comment"]
DDL = """
create table lineitem (
    l_orderkey bigint not null, l_partkey bigint not null, l_suppkey bigint not null,
    l_linenumber int not null, l_quantity decimal(15,2), l_extendedprice decimal(15,2),
    l_discount decimal(15,2), l_tax decimal(15,2), l_returnflag varchar, l_linestatus varchar,
    l_shipdate date, l_commitdate date, l_receiptdate date, l_shipinstruct varchar,
    l_shipmode varchar, l_comment varchar, primary key (l_orderkey, l_linenumber))
"""


def update_batch(base, data):
    """The 10% update batch of the module docs, as CSV."""
    out = data / "lineitem-update.csv"
    if not out.exists():
        con = duckdb.connect()
        select = ", ".join(
            "l_quantity + 1 as l_quantity" if c == "l_quantity"
            else "l_comment || ' revised' as l_comment" if c == "l_comment"
            else c
            for c in COLUMNS)
        con.execute(f"copy (select {select} from read_csv('{base}') where {UPDATED}) "
                    f"to '{out}' (header, delimiter ',')")
    return out


def keyed_contract(data):
    """The tpch contract with lineitem's primary key marked."""
    text = (ROOT / "bench" / "tpch" / "tpch.odcs.yaml").read_text()
    head, lineitem = text.split("  - name: lineitem\n", 1)
    for column in ("l_orderkey", "l_linenumber"):
        lineitem = lineitem.replace(f"      - name: {column}\n", f"      - name: {column}\n        primaryKey: true\n", 1)
    path = data / "tpch-keyed.odcs.yaml"
    path.write_text(head + "  - name: lineitem\n" + lineitem)
    return path


def agora(mesh, *args):
    return subprocess.run([str(AGORA), "--data", str(mesh), *args], capture_output=True, text=True, check=True).stdout


def run_timed(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{out.stderr[-2000:]}")
    _, secs, kib = [l for l in out.stderr.splitlines() if l.startswith("TIME ")][-1].split()
    return float(secs), int(kib) / 1024, out.stdout


def prepare_agora(data, base):
    pristine = data / "agora-base"
    if not pristine.exists():
        work = data / "agora-loading"
        shutil.rmtree(work, ignore_errors=True)
        agora(work, "init")
        agora(work, "principal", "create", "bench")
        agora(work, "domain", "create", "tpch", "--owner", "bench")
        agora(work, "product", "apply", str(keyed_contract(data)))
        agora(work, "ingest", "tpch.lineitem", str(base))
        work.rename(pristine)
    return pristine


def prepare_duckdb(data, base):
    pristine = data / "duckdb-base.db"
    if not pristine.exists():
        work = data / "duckdb-loading.db"
        work.unlink(missing_ok=True)
        con = duckdb.connect(str(work))
        con.execute(DDL)
        con.execute(f"insert into lineitem select * from read_csv('{base}')")
        con.execute("checkpoint")
        con.close()
        work.rename(pristine)
    return pristine


def check(counts, expected_rows, batch_rows):
    """`counts` is (rows, rows with a revised comment) after a merge: every row of the batch
    replaced one of the table's, none was added."""
    rows, revised = counts
    if rows != expected_rows or revised != batch_rows:
        sys.exit(f"after the merge: {rows} rows (expected {expected_rows}), {revised} revised (expected {batch_rows})")


def agora_run(pristine, data, update, expected, batch):
    mesh = data / "agora-run"
    shutil.rmtree(mesh, ignore_errors=True)
    shutil.copytree(pristine, mesh)
    secs, rss, out = run_timed([str(AGORA), "--data", str(mesh), "ingest", "tpch.lineitem", str(update), "--mode", "merge"])
    counts = agora(mesh, "sql", "select count(*) as n, count(*) filter (where l_comment like '% revised') as m "
                               "from tpch.lineitem", "--format", "csv").splitlines()[1].split(",")
    check((int(counts[0]), int(counts[1])), expected, batch)
    merged = [l for l in out.splitlines() if "merged by primary key" in l]
    return secs, rss, merged[0] if merged else out.strip().splitlines()[0]


def duckdb_run(pristine, data, update, expected, batch, statement):
    db = data / "duckdb-run.db"
    db.unlink(missing_ok=True)
    shutil.copy(pristine, db)
    con = duckdb.connect(str(db))
    con.execute("set threads = 2")
    start = time.perf_counter()
    con.execute(statement.format(update=update))
    con.execute("checkpoint")
    secs = time.perf_counter() - start
    check(con.execute("select count(*), count(*) filter (where l_comment like '% revised') from lineitem").fetchone(), expected, batch)
    con.close()
    return secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="1")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = ROOT / "bench" / "data" / f"merge-sf{args.scale}"
    data.mkdir(parents=True, exist_ok=True)
    base = dbgen_csv(args.scale, data, "lineitem")
    update = update_batch(base, data)
    expected = duckdb.connect().execute(f"select count(*) from read_csv('{base}')").fetchone()[0]
    batch = duckdb.connect().execute(f"select count(*) from read_csv('{update}')").fetchone()[0]
    agora_base, duckdb_base = prepare_agora(data, base), prepare_duckdb(data, base)
    set_all = ", ".join(f"{c} = u.{c}" for c in COLUMNS if c not in ("l_orderkey", "l_linenumber"))
    statements = {
        "duckdb_insert_or_replace": "insert or replace into lineitem select * from read_csv('{update}')",
        "duckdb_merge": ("merge into lineitem using (select * from read_csv('{update}')) as u "
                         "on lineitem.l_orderkey = u.l_orderkey and lineitem.l_linenumber = u.l_linenumber "
                         f"when matched then update set {set_all} when not matched then insert values ("
                         + ", ".join(f"u.{c}" for c in COLUMNS) + ")"),
    }
    timings = {"agora_merge": [], **{name: [] for name in statements}}
    agora_rss = []
    for run in range(args.runs):
        secs, rss, report = agora_run(agora_base, data, update, expected, batch)
        timings["agora_merge"].append(secs)
        agora_rss.append(rss)
        print(f"run {run + 1}: agora merge            {secs:7.2f} s  peak {rss:7.0f} MiB  ({report.strip()})", flush=True)
        for name, statement in statements.items():
            secs = duckdb_run(duckdb_base, data, update, expected, batch, statement)
            timings[name].append(secs)
            print(f"run {run + 1}: {name:26} {secs:7.2f} s", flush=True)
    results = {"scale": args.scale, "rows": expected, "batch_rows": batch, "cores": os.cpu_count(),
               "runs": args.runs, "seconds": timings, "agora_peak_rss_mib": agora_rss,
               "median_s": {k: statistics.median(v) for k, v in timings.items()}}
    print(f"\n{'engine':28} {'median s':>9} {'batch rows/s':>13}")
    for name, median in results["median_s"].items():
        print(f"{name:28} {median:9.2f} {batch / median:13,.0f}")
    out = ROOT / "bench" / "results" / f"merge-sf{args.scale}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
