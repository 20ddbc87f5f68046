#!/usr/bin/env python3
"""The edge agent's footprint and speed: release binary size, idle and peak RSS, events per
second through MQTT -> contract check -> redaction -> window aggregation -> buffer (fsync'd) ->
signed Arrow IPC batches -> node commit with the agent on one core, and per-event latency from
arrival at the agent to the node's commit.

    python3 bench/edge/run.py [--rate 10000] [--seconds 20] [--burst 200000]

Method (figures go to docs/benchmarks.md, "Edge agent"):
  - processes: a Mosquitto of the bench's own on a free port (max_inflight_messages 1000, so
    the broker does not hold the agent to 20 unacknowledged messages; max_queued_messages
    1000000, so it queues instead of dropping while the agent catches up), `agora serve`
    (release) on a mesh with the product iot.readings (seq primary key, device, temperature,
    at, contact) and the agent registered, the policy `edge.redact: [email]` (every tenth
    event's contact holds an e-mail address, which the agent's recogniser redacts), a window
    table iot.readings_10s (10 s tumbling windows per device, arrival time: count, mean, max,
    p95 of temperature), and `agora-edge run` (release) pinned to CPU 1 with `taskset`; the
    broker, the node and the publisher share CPU 0.
  - the publisher: `mosquitto_pub -l -q 1` (Debian's mosquitto-clients, C), one process, fed
    JSON lines at the rate by this script (its input left open until the node holds every
    event: see `publish`); each event a JSON object of five fields (about 110 bytes).
  - paced run: --rate events/s for --seconds; the agent's RSS (VmRSS) sampled every 0.25 s,
    its peak (VmHWM) read at the end; done when the node's count reaches every event.
    Latency: the agent's `agora_edge_delivery_seconds` histogram (per event, from its arrival
    to the commit of its batch; buckets doubling from 1 ms), quantiles interpolated within a
    bucket.
  - burst run: --burst events published as fast as the publisher can; the agent's rate =
    events / (time from the first publish to its `accepted` counter reaching them all: MQTT,
    contract check, redaction, windows, buffer fsync'd and acknowledged), and the sustained
    rate end to end = events / (time from the first publish to the node's count reaching them
    all).
  - idle RSS: after the agent has started and fetched its contract, before any event.
  - the peer: Fluent Bit and Vector do not install here (not in this Debian's packages, not on
    crates.io, PyPI or npm), so no peer ran; say so beside the figures.

Needs: `cargo build --release -p agora-cli`, `cargo build --profile edge -p agora-edge` (the
agent as it ships: optimised for size, LTO, stripped), mosquitto (Debian), and from PyPI
nothing (mosquitto-clients comes with Debian's mosquitto packages).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent.parent
TARGET = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release"))
AGORA = TARGET / "agora"
# The agent as it ships: the size-optimised `edge` profile.
EDGE = Path(os.environ.get("AGORA_EDGE_BIN", ROOT / "target" / "edge" / "agora-edge"))
WORK = ROOT / "bench" / "data" / "edge"

CONTRACT = """
apiVersion: v3.0.2
kind: DataContract
id: readings
name: readings
version: 1.0.0
status: active
domain: iot
schema:
  - name: readings
    properties:
      - {name: seq, logicalType: integer, required: true, primaryKey: true}
      - {name: device, logicalType: string, required: true}
      - {name: temperature, logicalType: number}
      - {name: at, logicalType: timestamp}
      - {name: contact, logicalType: string}
"""

WINDOWS = """
apiVersion: v3.0.2
kind: DataContract
id: readings_10s
name: readings_10s
version: 1.0.0
status: active
domain: iot
schema:
  - name: readings_10s
    properties:
      - {name: device, logicalType: string, required: true, primaryKey: true}
      - {name: window_start, logicalType: timestamp, required: true, primaryKey: true}
      - {name: window_end, logicalType: timestamp, required: true}
      - {name: count, logicalType: integer, required: true}
      - {name: temperature_mean, logicalType: number}
      - {name: temperature_max, logicalType: number}
      - {name: temperature_p95, logicalType: number}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agora(*args):
    return subprocess.run([str(AGORA), "--data", str(WORK / "mesh"), *args], capture_output=True, text=True, check=True).stdout


def wait_port(port):
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def rss_kb(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def count():
    out = agora("sql", "select count(*) from iot.readings", "--format", "csv")
    return int(out.splitlines()[1])


def metric_lines(metrics_url):
    """The agent's Prometheus exposition, line by line."""
    import urllib.request

    return urllib.request.urlopen(metrics_url).read().decode().splitlines()


def accepted(metrics_url):
    """Events of iot.readings the agent has accepted (buffered and acknowledged) so far."""
    for line in metric_lines(metrics_url):
        if line.startswith('agora_edge_accepted_total{table="iot.readings"}'):
            return int(float(line.split()[-1]))
    return 0


def histogram(metrics_url):
    buckets = []
    for line in metric_lines(metrics_url):
        if line.startswith("agora_edge_delivery_seconds_bucket{") and 'table="iot.readings"' in line:
            le = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    return buckets


def quantile(buckets, q):
    total = buckets[-1][1]
    if total == 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for upper, cumulative in buckets:
        if cumulative >= rank:
            if upper == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0)
        lower, below = upper, cumulative
    return lower


def event(seq):
    contact = f"driver{seq}@example.com" if seq % 10 == 0 else "depot north"
    return json.dumps({"seq": seq, "device": f"d{seq % 50}", "temperature": 20 + (seq % 100) / 10, "at": "2026-12-04T10:00:00Z", "contact": contact})


def publish(port, first, n, rate):
    """Feeds events first..first+n-1 to `mosquitto_pub -l -q 1` (at `rate`/s, or as fast as it
    takes them with None); returns the publisher, still running, and when it started.

    The publisher's stdin stays open until the node holds every event (`finish`): at the end of
    its input mosquitto_pub 2.0.11 disconnects without sending the messages it still queues
    (of 100,000 lines fed at once, a broker's subscriber got 34,467 when stdin closed at once,
    and all of them when it stayed open), which would count as the agent's loss."""
    pub = subprocess.Popen(["taskset", "-c", "0", "mosquitto_pub", "-p", str(port), "-q", "1", "-t", "sensors/bench", "-l"], stdin=subprocess.PIPE)
    start = time.perf_counter()
    chunk = 100
    for i in range(0, n, chunk):
        lines = "".join(event(first + j) + "\n" for j in range(i, min(i + chunk, n)))
        pub.stdin.write(lines.encode())
        if rate:
            pub.stdin.flush()
            ahead = (i + chunk) / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
    pub.stdin.flush()
    return pub, start


def finish(pub):
    """Lets the publisher end once the node holds what it published."""
    pub.stdin.close()
    pub.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--burst", type=int, default=200000)
    args = ap.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    os.chmod(WORK, 0o777)  # mosquitto drops to its own user and writes its persistence here

    broker_port, node_port, metrics_port = free_port(), free_port(), free_port()
    (WORK / "mosquitto.conf").write_text(
        f"listener {broker_port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n"
    )
    procs = []
    try:
        procs.append(subprocess.Popen(["taskset", "-c", "0", "/usr/sbin/mosquitto", "-c", str(WORK / "mosquitto.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(broker_port)
        agora("init")
        agora("principal", "create", "olivia")
        agora("domain", "create", "iot", "--owner", "olivia")
        (WORK / "readings.yaml").write_text(CONTRACT)
        agora("--as", "olivia", "product", "apply", str(WORK / "readings.yaml"))
        (WORK / "readings_10s.yaml").write_text(WINDOWS)
        agora("--as", "olivia", "product", "apply", str(WORK / "readings_10s.yaml"))
        (WORK / "policy.yaml").write_text("kind: AgoraPolicy\nedge:\n  redact: [email]\n")
        agora("policy", "apply", str(WORK / "policy.yaml"))
        public = subprocess.run([str(EDGE), "keygen", "--key", str(WORK / "agent.key")], capture_output=True, text=True, check=True).stdout.strip()
        agora("--as", "olivia", "edge", "register", "bench_gw", "--domain", "iot", "--public-key", public)
        agora("--as", "olivia", "grant", "bench_gw", "write", "iot.readings")
        agora("--as", "olivia", "grant", "bench_gw", "write", "iot.readings_10s")
        procs.append(subprocess.Popen(["taskset", "-c", "0", str(AGORA), "--data", str(WORK / "mesh"), "serve", "--http", f"127.0.0.1:{node_port}", "--pg", f"127.0.0.1:{free_port()}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(node_port)
        (WORK / "edge.toml").write_text(f"""
[agent]
name = "bench_gw"
key = "agent.key"
data_dir = "edge-data"
[node]
url = "http://127.0.0.1:{node_port}"
table = "iot.readings"
[mqtt]
port = {broker_port}
topics = ["sensors/#"]
[[window]]
table = "iot.readings_10s"
size = "10s"
by = ["device"]
aggregates = ["count", "mean(temperature)", "max(temperature)", "p95(temperature)"]
[metrics]
listen = "127.0.0.1:{metrics_port}"
""")
        agent = subprocess.Popen(["taskset", "-c", "1", str(EDGE), "run", "--config", str(WORK / "edge.toml")], stdout=subprocess.DEVNULL)
        procs.append(agent)
        wait_port(metrics_port)
        time.sleep(3)
        idle = rss_kb(agent.pid)

        # Paced run.
        n = args.rate * args.seconds
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_kb(agent.pid))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample)
        sampler.start()
        pub, start = publish(broker_port, 1, n, args.rate)
        published = time.perf_counter()
        while count() < n:
            time.sleep(0.5)
        paced_done = time.perf_counter()
        finish(pub)
        stop.set()
        sampler.join()
        peak = rss_kb(agent.pid, "VmHWM")
        buckets = histogram(f"http://127.0.0.1:{metrics_port}/metrics")
        paced = {
            "events": n,
            "target_rate": args.rate,
            "publish_s": published - start,
            "achieved_publish_rate": n / (published - start),
            "all_committed_after_s": paced_done - start,
            "rss_max_sampled_kb": max(samples) if samples else None,
            "latency_p50_s": quantile(buckets, 0.5),
            "latency_p99_s": quantile(buckets, 0.99),
        }

        print("paced:", json.dumps(paced), flush=True)

        # Burst run.
        before = count()
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        pub, start = publish(broker_port, n + 1, args.burst, None)
        published = time.perf_counter()
        # The agent's part: every event through MQTT, the contract check, redaction, the
        # windows and the buffer (acknowledged); then the node's part.
        while accepted(metrics) < before + args.burst:
            time.sleep(0.05)
        agent_done = time.perf_counter()
        while count() < before + args.burst:
            time.sleep(0.25)
        burst_done = time.perf_counter()
        finish(pub)
        burst = {
            "events": args.burst,
            "publish_s": published - start,
            "agent_accepted_all_after_s": agent_done - start,
            "agent_events_per_s": args.burst / (agent_done - start),
            "all_committed_after_s": burst_done - start,
            "sustained_events_per_s": args.burst / (burst_done - start),
        }
        total = count()
        distinct = int(agora("sql", "select count(distinct seq) from iot.readings", "--format", "csv").splitlines()[1])
        leaked = int(agora("sql", "select count(*) from iot.readings where contact like '%@example.com'", "--format", "csv").splitlines()[1])
        # Every window closes 10 s after its end (arrival time); wait for the last ones.
        time.sleep(12)
        windowed = int(agora("sql", "select coalesce(sum(\"count\"), 0) from iot.readings_10s", "--format", "csv").splitlines()[1])
        result = {
            "binary_bytes": EDGE.stat().st_size,
            "rss_idle_kb": idle,
            "rss_peak_kb": rss_kb(agent.pid, "VmHWM"),
            "rss_peak_during_paced_kb": peak,
            "paced": paced,
            "burst": burst,
            "rows_at_node": total,
            "distinct_seq": distinct,
            "raw_emails_at_node": leaked,
            "events_counted_in_windows": windowed,
            "cores": os.cpu_count(),
        }
        out = ROOT / "bench" / "results" / "edge.json"
        out.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        print(f"written to {out.relative_to(ROOT)}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
