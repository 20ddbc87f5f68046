#!/usr/bin/env python3
"""TPC-H lineitem read through Agora's Delta Sharing server by the real `delta-sharing` Python
client, side by side in one run with the same client's Parquet path reading the table's files
directly, and the masked path's first read (materialisation) and second read (cached) against
the unmasked one.

    python3 bench/sharing.py [--scale 1] [--runs 3]

Method (figures go to docs/benchmarks.md):
  - data: TPC-H lineitem at the scale factor from DuckDB's TPC-H extension (dbgen, the same rows
    as tpchgen-cli) as CSV, ingested into the tpch product of bench/tpch/tpch.odcs.yaml in one
    commit. After the ingest `l_comment` is tagged `postal_address`, so the default policy
    hashes it for a reader cleared `internal` (computed at read: no stored hash column).
  - two shares of tpch.lineitem: `full` (recipient cleared `restricted`: nothing masked, so it
    gets the table's own Parquet files) and `masked` (cleared `internal`: `l_comment` hashed,
    so it gets governed files written by the server).
  - the reference Delta Sharing server is a JVM build from Maven, which this machine cannot
    reach; the peer is therefore the client's own Parquet path: for each of the table's data
    files, `pyarrow.dataset(...).to_table().to_pandas(...)` with the options
    `delta_sharing.load_as_pandas` uses, then `pandas.concat`, exactly what the client does
    with each file URL it is handed, minus the HTTP.
  - each run, in turn: the direct read; the unmasked share; the masked share after emptying
    `share_cache/` (materialisation: the governed query, its Parquet files, their SHA-256);
    the masked share again (cached); then the client's delta-format path (`use_delta_format`,
    which reads the answer with delta-kernel-rs): its peer, the same kernel reading the local
    table directly, the unmasked share and the cached masked share in that format. Each read is a fresh `python3` process timed end to end
    (imports included, the same for all), and must return every row. The median of --runs.

Needs: a release build of agora (`cargo build --release -p agora-cli`) and from PyPI
duckdb==1.5.5, duckdb-extension-tpch==1.5.5, delta-sharing==1.4.2.
AGORA_TARGET=target/debug tries the harness on a debug build (figures are meaningless then).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tpch_data import dbgen_csv

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release"))
AGORA = TARGET / "agora"

LOAD_SHARE = """
import sys, delta_sharing
delta = len(sys.argv) > 2 and sys.argv[2] == "delta"
frame = delta_sharing.load_as_pandas(sys.argv[1], use_delta_format=True if delta else None)
print(len(frame))
"""

# What the client does with a delta-format answer, on the local table: delta-kernel-rs (its
# Python wrapper, which the client depends on) scans the table, pyarrow makes it pandas.
LOAD_DIRECT_KERNEL = """
import sys, pyarrow as pa, delta_kernel_rust_sharing_wrapper as kernel
url = "file://" + sys.argv[1]
engine = kernel.PythonInterface(url)
scan = kernel.ScanBuilder(kernel.Table(url).snapshot(engine)).build()
frame = pa.Table.from_batches(scan.execute(engine)).to_pandas(self_destruct=True)
print(len(frame))
"""

LOAD_DIRECT = """
import sys, pandas as pd
from pyarrow.dataset import dataset
frames = []
for path in sys.argv[1:]:
    table = dataset(source=path, format="parquet").to_table()
    frames.append(table.to_pandas(date_as_object=True, use_threads=False, split_blocks=False, self_destruct=True))
frame = pd.concat(frames, axis=0, ignore_index=True, copy=False)
print(len(frame))
"""


def agora(mesh, *args):
    return subprocess.run([str(AGORA), "--data", str(mesh), *args], capture_output=True, text=True, check=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(code, *args):
    """Runs `code` in a fresh Python; returns (seconds, the row count it printed)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    secs = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"read failed: {out.stderr[-2000:]}")
    return secs, int(out.stdout.strip().splitlines()[-1])


def wait_for(port):
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"agora serve did not listen on {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="1")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    data = ROOT / "bench" / "data" / f"sharing-sf{args.scale}"
    data.mkdir(parents=True, exist_ok=True)
    csv = dbgen_csv(args.scale, data, "lineitem")
    mesh = data / "mesh"
    shutil.rmtree(mesh, ignore_errors=True)
    agora(mesh, "init")
    agora(mesh, "principal", "create", "bench")
    agora(mesh, "domain", "create", "tpch", "--owner", "bench")
    agora(mesh, "product", "apply", str(ROOT / "bench" / "tpch" / "tpch.odcs.yaml"))
    agora(mesh, "ingest", "tpch.lineitem", str(csv))
    agora(mesh, "tag", "set", "tpch.lineitem.l_comment", "postal_address", "--reason", "benchmark: a masked column")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/delta-sharing"
    profiles = {}
    for name, clearance in (("full", "restricted"), ("masked", "internal")):
        profile = data / f"{name}.share"
        agora(mesh, "share", "create", name, "--clearance", clearance, "--profile", str(profile), "--endpoint", endpoint)
        agora(mesh, "--as", "bench", "share", "add", name, "tpch.lineitem")
        profiles[name] = f"{profile}#{name}.tpch.lineitem"
    files = sorted(p for p in (mesh / "tables" / "tpch" / "lineitem").glob("*.parquet"))
    server = subprocess.Popen([str(AGORA), "--data", str(mesh), "serve", "--http", f"127.0.0.1:{port}",
                               "--pg", f"127.0.0.1:{free_port()}", "--query-timeout", "off"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reads = ("direct parquet", "unmasked share", "masked share, first read", "masked share, cached",
             "direct, delta kernel", "unmasked share, delta format", "masked share, cached, delta format")
    timings = {r: [] for r in reads}
    rows = None
    try:
        wait_for(port)
        for run in range(args.runs):
            for read in reads:
                if read == "direct parquet":
                    secs, n = timed(LOAD_DIRECT, *files)
                elif read == "unmasked share":
                    secs, n = timed(LOAD_SHARE, profiles["full"])
                elif read == "direct, delta kernel":
                    secs, n = timed(LOAD_DIRECT_KERNEL, mesh / "tables" / "tpch" / "lineitem")
                elif read == "unmasked share, delta format":
                    secs, n = timed(LOAD_SHARE, profiles["full"], "delta")
                elif read == "masked share, cached, delta format":
                    secs, n = timed(LOAD_SHARE, profiles["masked"], "delta")
                else:
                    if read.endswith("first read"):
                        shutil.rmtree(mesh / "share_cache", ignore_errors=True)
                    secs, n = timed(LOAD_SHARE, profiles["masked"])
                rows = rows or n
                if n != rows:
                    sys.exit(f"{read} returned {n} rows, not {rows}")
                timings[read].append(secs)
                print(f"run {run + 1}: {read:36} {secs:7.2f} s  {n / secs:12,.0f} rows/s", flush=True)
    finally:
        server.terminate()
        server.wait()
    audit = agora(mesh, "share", "audit", "masked")
    results = {"scale": args.scale, "rows": rows, "cores": os.cpu_count(), "runs": args.runs,
               "table_files": len(files), "reads": {}, "masked_audit_tail": audit.splitlines()[-2:]}
    # Each read against the direct read of the same reader: the delta format's against the
    # kernel's read of the local table, the others against pyarrow's read of its files.
    direct = {reader: statistics.median(timings[name])
              for reader, name in (("parquet", "direct parquet"), ("delta", "direct, delta kernel"))}
    print(f"\n{'read':36} {'median s':>9} {'rows/s':>12} {'vs direct':>10}")
    for read, secs in timings.items():
        median = statistics.median(secs)
        base = direct["delta" if "delta" in read else "parquet"]
        results["reads"][read] = {"seconds": secs, "median_s": median, "rows_per_s": rows / median,
                                  "vs_direct": median / base}
        print(f"{read:36} {median:9.2f} {rows / median:12,.0f} {median / base:9.2f}x")
    out = ROOT / "bench" / "results" / f"sharing-sf{args.scale}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
