#!/usr/bin/env python3
"""Latency added per event by `POST /api/v1/tables/{domain}/{table}/events` at a sustained
10,000 events/s on loopback: the round trip of each request (every event of a request waits for
all of it: parse, score, append and sync the buffer, answer), and the scoring alone as the server
reports it (`scoring_micros_per_event`).

    python3 bench/quality/events_latency.py [--rate 10000] [--batch 100] [--seconds 20] [--runs 3]

Method (figures go to docs/benchmarks.md):
  - a fresh mesh with one product (`plant.readings`: sensor, temperature) and a writer; `agora
    serve` on loopback ports; the events' temperatures are the values of the NAB
    realKnownCause series in ../shared/conformance/nab/data, in order, so the detector sees real
    streams.
  - one client thread keeps one HTTP/1.1 connection and sends a request of --batch events every
    batch/rate seconds (paced against a clock, so a slow answer does not lower the offered
    rate); each request's round trip is timed. The buffer is ingested by its own rules (10,000
    events or 2 s), so flushes fall inside the measured requests as they would in production.
  - reported per run: offered and achieved events/s, p50/p99/max round trip per request, and
    p50/p99 of the server's scoring time per event; the median run is quoted.

Needs a release build of agora (`cargo build --release -p agora-cli`); AGORA_TARGET overrides
the directory of the binary (target/debug gives meaningless figures).
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAB = ROOT.parent / "shared" / "conformance" / "nab" / "data" / "realKnownCause"
CONTRACT = """\
apiVersion: v3.0.2
kind: DataContract
id: plant-readings
name: readings
version: 1.0.0
status: active
domain: plant
schema:
  - name: readings
    properties:
      - name: sensor
        logicalType: string
        required: true
      - name: temperature
        logicalType: number
"""


def agora_binary():
    target = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release"))
    binary = target / "agora"
    if not binary.exists():
        sys.exit(f"{binary} not found: cargo build --release -p agora-cli (or set AGORA_TARGET)")
    return binary


def agora(binary, data, *args):
    out = subprocess.run([str(binary), "--data", str(data), *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"agora {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def series():
    values = []
    for f in sorted(NAB.glob("*.csv")):
        for line in f.read_text().splitlines()[1:]:
            try:
                values.append(float(line.rsplit(",", 1)[1]))
            except (IndexError, ValueError):
                pass
    return values


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, round((len(sorted_values) - 1) * q))]


def run_once(binary, rate, batch, seconds, values):
    data = Path(tempfile.mkdtemp(prefix="agora-events-"))
    try:
        agora(binary, data, "init")
        agora(binary, data, "domain", "create", "plant", "--owner", "admin")
        contract = data / "readings.yaml"
        contract.write_text(CONTRACT)
        agora(binary, data, "product", "apply", str(contract))
        token = agora(binary, data, "principal", "create", "sensor_gw").rsplit(": ", 1)[1].strip()
        agora(binary, data, "grant", "sensor_gw", "write", "plant.readings")
        http_port, pg_port = free_port(), free_port()
        server = subprocess.Popen(
            [str(binary), "--data", str(data), "serve", "--http", f"127.0.0.1:{http_port}",
             "--pg", f"127.0.0.1:{pg_port}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for line in server.stdout:
                if "HTTP API" in line:
                    break
            conn = http.client.HTTPConnection("127.0.0.1", http_port)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            path = "/api/v1/tables/plant/readings/events"
            interval = batch / rate
            requests = int(seconds * rate / batch)
            round_trips, scoring, flagged = [], [], 0
            start = time.perf_counter()
            cursor = 0
            for i in range(requests):
                due = start + i * interval
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                lines = []
                for _ in range(batch):
                    lines.append(json.dumps({"sensor": "s1", "temperature": values[cursor % len(values)]}))
                    cursor += 1
                body = "\n".join(lines)
                sent = time.perf_counter()
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                round_trips.append((time.perf_counter() - sent) * 1000)
                if response.status != 200:
                    sys.exit(f"request {i}: {response.status} {payload[:300]!r}")
                report = json.loads(payload)
                scoring.append(report["scoring_micros_per_event"])
                flagged += sum(1 for e in report["events"] if e["anomalous"])
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()
        round_trips.sort()
        scoring.sort()
        return {
            "offered_events_per_s": rate,
            "achieved_events_per_s": requests * batch / elapsed,
            "batch": batch,
            "requests": requests,
            "round_trip_ms": {"p50": percentile(round_trips, 0.5), "p99": percentile(round_trips, 0.99),
                              "max": round_trips[-1]},
            "scoring_us_per_event": {"p50": percentile(scoring, 0.5), "p99": percentile(scoring, 0.99)},
            "flagged": flagged,
        }
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality-events-http.json"))
    args = parser.parse_args()
    binary = agora_binary()
    values = series()
    results = []
    for batch in args.batch or [100, 1000]:
        runs = [run_once(binary, args.rate, batch, args.seconds, values) for _ in range(args.runs)]
        for r in runs:
            print(json.dumps(r), flush=True)
        median = sorted(runs, key=lambda r: r["round_trip_ms"]["p99"])[len(runs) // 2]
        results.append({"batch": batch, "runs": runs, "median_by_p99": median})
    Path(args.out).write_text(json.dumps({
        "what": "POST /api/v1/tables/plant/readings/events on loopback, NAB realKnownCause values",
        "date": time.strftime("%Y-%m-%d"),
        "binary": str(binary),
        "results": results,
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
