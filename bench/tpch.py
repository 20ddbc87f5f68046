#!/usr/bin/env python3
"""TPC-H benchmarks of Agora against DuckDB, side by side in one run.

    python3 bench/tpch.py [--scale 1] [--runs 3]

What it measures (figures go to docs/benchmarks.md):
  1. ingest: lineitem as CSV into an Agora product (`agora ingest`, validation and one Delta
     commit included) against DuckDB copying the same CSV to Parquet; wall time, MB/s and peak
     resident memory of each process (GNU time).
  2. queries: the 22 TPC-H queries through `agora sql` (the governed layer) against DuckDB
     querying Parquet files of the same data in one process; the median of --runs runs each,
     the ratio per query and the total. Agora runs them twice: each in a fresh `agora sql`
     process, and all in one `agora sql --file` process as DuckDB does (per-statement times
     from `--timing`).

  3. the governed query layer's overhead against plain DataFusion on the same Delta tables, in
     one process (bench/overhead), as a principal with a grant so the check runs on every plan;
     and the cost of masking: the same queries as a principal for whom c_phone, c_address and
     c_name are hashed (Q10, Q18 and Q22 touch them), against the unmasked governed run.

AGORA_TARGET=target/debug tries the harness on debug builds (figures are meaningless then).

Needs: tpchgen-cli (`cargo install --locked tpchgen-cli`), a release build of agora
(`cargo build --release -p agora-cli -p agora-bench-overhead`), and DuckDB 1.5.5 with its TPC-H extension from PyPI
(`pip install duckdb==1.5.5 duckdb-extension-tpch==1.5.5`), which also provides the query texts.
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

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release"))
AGORA = TARGET / "agora"
TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]


def run_timed(cmd, **kw):
    """Runs cmd under GNU time; returns (seconds, peak RSS in MiB, stdout)."""
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{out.stderr[-2000:]}")
    line = [l for l in out.stderr.splitlines() if l.startswith("TIME ")][-1]
    _, secs, kib = line.split()
    return float(secs), int(kib) / 1024, out.stdout


def generate(scale, data):
    csv_dir, pq_dir = data / "csv", data / "parquet"
    if not (csv_dir / "lineitem.csv").exists():
        subprocess.run(["tpchgen-cli", "csv", "-s", str(scale), f"--output-dir={csv_dir}"], check=True)
    if not (pq_dir / "lineitem.parquet").exists():
        subprocess.run(["tpchgen-cli", "parquet", "-s", str(scale), f"--output-dir={pq_dir}"], check=True)
    return csv_dir, pq_dir


def agora(mesh, *args):
    return subprocess.run([str(AGORA), "--data", str(mesh), *args], capture_output=True, text=True, check=True).stdout


def duckdb_queries():
    """The 22 query texts from DuckDB's TPC-H extension, loaded by path from its PyPI wheel
    (DuckDB cannot download extensions here)."""
    import duckdb
    import duckdb_extension_tpch
    ext = next(Path(duckdb_extension_tpch.__file__).parent.glob("extensions/*/tpch.duckdb_extension"))
    con = duckdb.connect()
    con.execute(f"load '{ext}'")
    return dict(con.execute("select query_nr, query from tpch_queries()").fetchall())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="1")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ingest-only", action="store_true",
                    help="measure the lineitem ingest against DuckDB only (to bench/results/tpch-sfN-ingest.json)")
    args = ap.parse_args()
    data = ROOT / "bench" / "data" / f"sf{args.scale}"
    data.mkdir(parents=True, exist_ok=True)
    csv_dir, pq_dir = generate(args.scale, data)
    results = {"scale": args.scale, "cores": os.cpu_count()}

    # 1. Ingest: the other tables first, untimed; then lineitem, timed.
    mesh = data / "mesh"
    shutil.rmtree(mesh, ignore_errors=True)
    agora(mesh, "init")
    agora(mesh, "principal", "create", "bench")
    # The governed-layer reader sees everything unmasked (its clearance covers every column);
    # the masked reader is below the level of the columns tagged below, so the default policy
    # hashes them for it.
    agora(mesh, "principal", "create", "reader", "--clearance", "restricted")
    agora(mesh, "principal", "create", "masked_reader", "--clearance", "internal")
    agora(mesh, "domain", "create", "tpch", "--owner", "bench")
    agora(mesh, "product", "apply", str(ROOT / "bench" / "tpch" / "tpch.odcs.yaml"))
    # The masked columns are tagged before their data arrives (as an owner who knows them
    # would), so the ingest stores their hashes; the classifier finds c_phone by itself.
    for column, category in (("tpch.customer.c_phone", "phone_number"), ("tpch.customer.c_address", "postal_address"),
                             ("tpch.customer.c_name", "person_name")):
        agora(mesh, "tag", "set", column, category, "--reason", "benchmark: masked columns for the masking overhead")
    for t in TABLES[:-1]:
        agora(mesh, "ingest", f"tpch.{t}", str(csv_dir / f"{t}.csv"))
    agora(mesh, "grant", "reader", "read", "tpch.tpch")
    agora(mesh, "grant", "masked_reader", "read", "tpch.tpch")
    # TPC-H's `*_name` columns of nations, regions, suppliers and parts are names of things;
    # the classifier tells them from people's names by their values (no tag overrides).
    results["labels"] = {t: agora(mesh, "tag", "list", f"tpch.{t}").splitlines() for t in TABLES[:-1]}
    print("\n".join(f"{t}: {line}" for t, lines in results["labels"].items() for line in lines))
    lineitem = csv_dir / "lineitem.csv"
    size_mb = lineitem.stat().st_size / 1e6
    secs, rss, out = run_timed([str(AGORA), "--data", str(mesh), "ingest", "tpch.lineitem", str(lineitem)])
    print(out.strip())
    results["ingest_agora"] = {"seconds": secs, "peak_rss_mib": rss, "mb_per_s": size_mb / secs}
    duck_copy = (
        "import duckdb,sys; con=duckdb.connect(); "
        f"con.execute(\"copy (select * from read_csv('{lineitem}')) to '{data / 'duck_lineitem.parquet'}' (format parquet)\")"
    )
    secs, rss, _ = run_timed([sys.executable, "-c", duck_copy])
    results["ingest_duckdb"] = {"seconds": secs, "peak_rss_mib": rss, "mb_per_s": size_mb / secs}
    results["lineitem_csv_mb"] = size_mb
    print(json.dumps({k: results[k] for k in ("ingest_agora", "ingest_duckdb")}, indent=1))
    if args.ingest_only:
        out_file = ROOT / "bench" / "results" / f"tpch-sf{args.scale}-ingest.json"
        out_file.write_text(json.dumps(results, indent=1))
        print(f"wrote {out_file}")
        return

    # 2. The 22 queries.
    import duckdb
    queries = duckdb_queries()
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"create view {t} as select * from read_parquet('{pq_dir / (t + '.parquet')}')")
    rows = []
    for nr in sorted(queries):
        sql = queries[nr]
        duck, ours = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            con.execute(sql).fetchall()
            duck.append(time.perf_counter() - start)
            start = time.perf_counter()
            # DuckDB's texts name tables bare: `--schema tpch` resolves them in the tpch domain.
            proc = subprocess.run([str(AGORA), "--data", str(mesh), "sql", sql, "--schema", "tpch", "--format", "csv"], capture_output=True, text=True)
            ours.append(time.perf_counter() - start)
            if proc.returncode != 0:
                ours[-1] = float("nan")
                print(f"Q{nr}: agora failed: {proc.stderr.strip()[:300]}")
                break
        row = {"query": nr, "duckdb_s": statistics.median(duck), "agora_s": statistics.median(ours)}
        row["ratio"] = row["agora_s"] / row["duckdb_s"]
        rows.append(row)
        print(f"Q{nr:>2}  duckdb {row['duckdb_s']:7.3f}s  agora {row['agora_s']:7.3f}s  ratio {row['ratio']:6.2f}")
    ok = [r for r in rows if r["agora_s"] == r["agora_s"]]
    # The same queries as one script in one `agora sql --file` process, as DuckDB runs them in
    # one process: each statement's time as `--timing` prints it (planning, grant check, the
    # durable audit entry and the CSV output included), median of --runs processes.
    script = data / "tpch-queries.sql"
    script.write_text(";\n".join(queries[r["query"]].strip().rstrip(";") for r in ok) + ";\n")
    script_times, script_walls = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.run([str(AGORA), "--data", str(mesh), "sql", "--file", str(script), "--schema", "tpch",
                               "--format", "csv", "--timing"], capture_output=True, text=True)
        script_walls.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"the query script failed: {proc.stderr.strip()[:500]}")
        times = [float(l.split()[1]) / 1000 for l in proc.stderr.splitlines() if l.startswith("Time: ")]
        assert len(times) == len(ok), f"expected {len(ok)} timings, got {len(times)}"
        script_times.append(times)
    for i, r in enumerate(ok):
        r["agora_one_process_s"] = statistics.median(t[i] for t in script_times)
        r["one_process_ratio"] = r["agora_one_process_s"] / r["duckdb_s"]
        print(f"Q{r['query']:>2}  one process: duckdb {r['duckdb_s']:7.3f}s  agora {r['agora_one_process_s']:7.3f}s  ratio {r['one_process_ratio']:6.2f}")
    results["queries"] = rows
    results["total_duckdb_s"] = sum(r["duckdb_s"] for r in ok)
    results["total_agora_s"] = sum(r["agora_s"] for r in ok)
    results["total_agora_one_process_s"] = sum(r["agora_one_process_s"] for r in ok)
    results["agora_script_process_s"] = statistics.median(script_walls)
    results["queries_failed"] = [r["query"] for r in rows if r not in ok]
    print(f"total over {len(ok)} queries: duckdb {results['total_duckdb_s']:.2f}s  "
          f"agora per process {results['total_agora_s']:.2f}s (ratio {results['total_agora_s'] / results['total_duckdb_s']:.2f})  "
          f"agora in one process {results['total_agora_one_process_s']:.2f}s "
          f"(ratio {results['total_agora_one_process_s'] / results['total_duckdb_s']:.2f}; the whole process "
          f"{results['agora_script_process_s']:.2f}s)")
    # 3. The governed layer against plain DataFusion, in one process, on the same tables.
    qdir = data / "queries"
    qdir.mkdir(exist_ok=True)
    for nr, sql in queries.items():
        (qdir / f"q{nr}.sql").write_text(sql)
    for nr in results["queries_failed"]:
        (qdir / f"q{nr}.sql").unlink()
    overhead = subprocess.run([str(TARGET / "agora-bench-overhead"), str(mesh), "tpch", str(qdir), str(args.runs)],
                              capture_output=True, text=True, check=True, env={**os.environ, "AGORA_BENCH_PRINCIPAL": "reader",
                                                        "AGORA_BENCH_MASKED_PRINCIPAL": "masked_reader"})
    print(overhead.stdout)
    results["overhead"] = overhead.stdout

    out_file = ROOT / "bench" / "results" / f"tpch-sf{args.scale}.json"
    out_file.parent.mkdir(exist_ok=True)
    out_file.write_text(json.dumps(results, indent=1))
    print(f"wrote {out_file}")


if __name__ == "__main__":
    main()
