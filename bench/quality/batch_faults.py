#!/usr/bin/env python3
"""Batch faults: precision and recall of Agora's checks per fault kind, and the share of typos
and unit slips whose right correction `agora quality suggest` ranks first — side by side in
one run with Soda Core configured with the checks a careful engineer would write.

    python3 bench/quality/batch_faults.py [--scale 0.2] [--batches 200] [--seed 7]
        [--soda-python PATH]

Data: TPC-H `orders` from DuckDB's dbgen (the same rows as tpchgen-cli), in order of
`o_orderdate`, cut into batches of 1,000 rows. Each batch's dates are moved so that its newest
is today (the batches arrive as they are made). The first 30 batches are clean (the history
the checks learn from); each later batch gets, with probability 1/2, one fault chosen by a
seeded generator:

  null_spike      30% of one column (clerk, total price, priority or customer) set to null
  volume_drop     only 10% of the batch's rows sent
  duplicated_load 1,000 rows of an earlier batch sent again, in another order
  unit_slip       2% of the rows' o_totalprice multiplied by 1000
  typo            1% of the rows' o_orderpriority misspelt (one letter swapped, dropped or
                  changed)
  format_drift    5% of the rows' o_orderdate written DD/MM/YYYY
  late_arrival    the batch's newest date 10 days ago instead of today

A batch is *flagged for a kind* when a check attributed to that kind fires (the mapping is
`agora_kinds` / `soda_kinds` below); precision of a kind is the share of batches flagged for it
that carry it, recall the share of batches carrying it that are flagged for it.

Agora runs twice: `bare` (the contract gives types and the primary key only: everything is
found by the checks nobody wrote) and `engineer` (the same rules Soda gets: required columns,
valid values, a row-count floor, a maximum total price as an SQL rule, a 2-day latency SLA).
Soda Core (`soda-core`, `soda-duckdb`, in its own virtualenv: --soda-python) scans each batch
loaded into DuckDB, and the table of every batch loaded so far for duplicate keys.

Needs: an agora binary (AGORA_TARGET, default target/release; the figures do not depend on
speed, so target/debug gives the same ones), and for this script duckdb==1.5.5 and
duckdb-extension-tpch==1.5.5 from PyPI.
"""
import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

KINDS = ["null_spike", "volume_drop", "duplicated_load", "unit_slip", "typo", "format_drift",
         "late_arrival"]
COLUMNS = ["o_orderkey", "o_custkey", "o_orderstatus", "o_totalprice", "o_orderdate",
           "o_orderpriority", "o_clerk", "o_shippriority", "o_comment"]
PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
WARM_UP = 30
BATCH = 1000


def contract(engineer):
    req = "\n        required: true" if engineer else ""
    def col(name, logical, extra=""):
        return f"      - name: {name}\n        logicalType: {logical}{req}{extra}\n"
    valid = lambda values: (
        "\n        quality:\n          - metric: invalidValues\n            arguments:\n"
        f"              validValues: {json.dumps(values)}\n            mustBe: 0\n") if engineer else ""
    props = (
        "      - name: o_orderkey\n        logicalType: integer\n        primaryKey: true\n"
        + col("o_custkey", "integer")
        + col("o_orderstatus", "string", valid(["F", "O", "P"]).rstrip("\n"))
        + col("o_totalprice", "number")
        + col("o_orderdate", "date")
        + col("o_orderpriority", "string", valid(PRIORITIES).rstrip("\n"))
        + col("o_clerk", "string")
        + col("o_shippriority", "integer")
        + col("o_comment", "string"))
    table_rules = ""
    sla = ""
    if engineer:
        table_rules = (
            "    quality:\n"
            "      - metric: rowCount\n        mustBeGreaterThan: 500\n"
            "      - type: sql\n        query: select max(o_totalprice) from sales.orders\n"
            "        mustBeLessThan: 600000\n")
        sla = ("slaProperties:\n  - property: latency\n    value: 2\n    unit: d\n"
               "    element: orders.o_orderdate\n")
    return ("apiVersion: v3.0.2\nkind: DataContract\nid: sales-orders\nname: orders\n"
            "version: 1.0.0\nstatus: active\ndomain: sales\nschema:\n  - name: orders\n"
            f"    properties:\n{props}{table_rules}{sla}")


def misspell(word, rng):
    """One slip in the letters of `word` (its digits stay: `3-MEDIUM` → `3-MEDUIM`)."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    while True:
        i = rng.choice(letters[:-1])
        how = rng.choice(["swap", "drop", "change"])
        w = list(word)
        if how == "swap" and w[i] != w[i + 1]:
            w[i], w[i + 1] = w[i + 1], w[i]
        elif how == "drop":
            del w[i]
        else:
            w[i] = rng.choice([c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c != w[i]])
        out = "".join(w)
        if out != word and out not in PRIORITIES:
            return out


def make_batches(rows, n, seed):
    """`n` batches with their injected fault (or None) and what a right correction restores."""
    rng = random.Random(seed)
    today = dt.date.today()
    batches = []
    for b in range(n):
        chunk = [dict(r) for r in rows[b * BATCH:(b + 1) * BATCH]]
        kind = None if b < WARM_UP or rng.random() < 0.5 else rng.choice(KINDS)
        newest = max(dt.date.fromisoformat(r["o_orderdate"]) for r in chunk)
        shift = today - newest - (dt.timedelta(days=10) if kind == "late_arrival" else dt.timedelta())
        for r in chunk:
            r["o_orderdate"] = (dt.date.fromisoformat(r["o_orderdate"]) + shift).isoformat()
        truth = {}
        picked = lambda share: rng.sample(range(len(chunk)), max(1, int(share * len(chunk))))
        if kind == "null_spike":
            column = rng.choice(["o_clerk", "o_totalprice", "o_orderpriority", "o_custkey"])
            for i in picked(0.3):
                chunk[i][column] = ""
        elif kind == "volume_drop":
            chunk = rng.sample(chunk, len(chunk) // 10)
        elif kind == "duplicated_load":
            # A clean earlier batch, so that the repeat is the only fault in it.
            earlier = rng.choice([x for x in batches if x["kind"] is None])
            chunk = [dict(r) for r in earlier["rows"]]
            rng.shuffle(chunk)
        elif kind == "unit_slip":
            for i in picked(0.02):
                original = chunk[i]["o_totalprice"]
                slipped = f"{float(original) * 1000:.2f}"
                chunk[i]["o_totalprice"] = slipped
                truth[slipped] = original
        elif kind == "typo":
            for i in picked(0.01):
                original = chunk[i]["o_orderpriority"]
                typo = misspell(original, rng)
                chunk[i]["o_orderpriority"] = typo
                truth[typo] = original
        elif kind == "format_drift":
            for i in picked(0.05):
                d = dt.date.fromisoformat(chunk[i]["o_orderdate"])
                chunk[i]["o_orderdate"] = d.strftime("%d/%m/%Y")
        batches.append({"index": b, "kind": kind, "rows": chunk, "truth": truth})
    return batches


def to_csv(rows):
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def agora_kinds(report):
    """The fault kinds an ingest report's failed checks point at. Checks that describe a
    distribution in general (distinct ratios, text lengths) point at no one kind: `other`."""
    kinds = set()
    for v in report.get("rules", []):
        if v["outcome"] != "failed":
            continue
        rule = v["rule"]
        if "null_ratio" in rule:
            kinds.add("null_spike")
        elif "row_count" in rule or rule == "table orders quality rule 1":
            kinds.add("volume_drop")
        elif "staleness_hours" in rule or "latency" in rule:
            kinds.add("late_arrival")
        elif ("outliers" in rule or rule == "table orders quality rule 2"
              or any(f"metric {m} of" in rule for m in ("mean", "stddev", "p50", "p95"))):
            kinds.add("unit_slip")
        elif "rare_values" in rule:
            kinds.add("typo")
        elif "rows format" in rule:
            kinds.add("format_drift")
        else:
            kinds.add("other")
    for reason, _ in report.get("quarantine_reasons", []):
        if "already in the table" in reason:
            kinds.add("duplicated_load")
        elif "valid Date" in reason:
            kinds.add("format_drift")
        elif "is required" in reason:
            kinds.add("null_spike")
        elif "is not one of" in reason:
            kinds.add("typo")
        else:
            kinds.add("other")
    return kinds


def run_agora(binary, batches, engineer, work):
    data = work / ("mesh-engineer" if engineer else "mesh-bare")
    def agora(*args, check=True):
        out = subprocess.run([str(binary), "--data", str(data), *args], capture_output=True, text=True)
        if check and out.returncode != 0:
            sys.exit(f"agora {' '.join(args[:3])} failed: {out.stderr}")
        return out
    agora("init")
    agora("domain", "create", "sales", "--owner", "admin")
    c = work / "orders.yaml"
    c.write_text(contract(engineer))
    agora("product", "apply", str(c))
    flagged = []
    for batch in batches:
        f = work / f"batch-{batch['index']:03}.csv"
        f.write_text(to_csv(batch["rows"]))
        out = agora("ingest", "sales.orders", str(f), "--output", "json", check=False)
        if out.returncode == 5 and "already ingested" in out.stderr:
            flagged.append({"duplicated_load"})
            continue
        if out.returncode != 0:
            sys.exit(f"ingest of batch {batch['index']} failed: {out.stderr}")
        flagged.append(agora_kinds(json.loads(out.stdout)))
    ranking = None
    if not engineer:
        ranking = correction_ranking(agora, batches)
    return flagged, ranking


def correction_ranking(agora, batches):
    """For every typo and unit slip injected: is the first suggestion that changes it the
    right one?"""
    out = agora("quality", "suggest", "sales.orders", "--format", "json")
    suggestions = json.loads(out.stdout)["suggestions"]
    first = {}
    for s in suggestions:  # most confident first
        fix = s["fix"]
        for change in fix.get("changes", []):
            key = (fix["column"], str(change["original"]))
            first.setdefault(key, change["proposed"])
    results = {"typo": [0, 0], "unit_slip": [0, 0]}
    for b in batches:
        if b["kind"] not in results:
            continue
        column = "o_orderpriority" if b["kind"] == "typo" else "o_totalprice"
        for wrong, right in b["truth"].items():
            results[b["kind"]][1] += 1
            key = (column, wrong if b["kind"] == "typo" else repr(float(wrong)).removesuffix(".0"))
            proposed = first.get(key)
            if proposed is None and b["kind"] == "unit_slip":
                proposed = next((p for (c, o), p in first.items()
                                 if c == column and abs(float(o) - float(wrong)) < 1e-6), None)
            ok = (proposed == right) if b["kind"] == "typo" else (
                proposed is not None and abs(float(proposed) - float(right)) < 0.005)
            results[b["kind"]][0] += int(ok)
    return {k: {"right_first": v[0], "injected": v[1], "share": v[0] / v[1] if v[1] else None}
            for k, v in results.items()}


def run_soda(python, batches, work):
    script = ROOT / "bench" / "quality" / "soda_scan.py"
    files = []
    for batch in batches:
        f = work / f"batch-{batch['index']:03}.csv"
        f.write_text(to_csv(batch["rows"]))
        files.append(str(f))
    listing = work / "batches.json"
    listing.write_text(json.dumps(files))
    out = subprocess.run([python, str(script), str(listing)], capture_output=True, text=True,
                         env={**os.environ, "SODA_CORE_TELEMETRY_ENABLED": "false"})
    if out.returncode != 0:
        sys.exit(f"soda failed: {out.stderr[-2000:]}")
    failed = json.loads(out.stdout)
    return [soda_kinds(checks) for checks in failed]


def soda_kinds(checks):
    """The fault kinds Soda's failed checks (`type:column:name`) point at."""
    kinds = set()
    for check in checks:
        kind, column, _ = (check.split(":", 2) + ["", ""])[:3]
        if kind == "missing":
            kinds.add("null_spike")
        elif kind == "row_count":
            kinds.add("volume_drop")
        elif kind in ("duplicate", "failed_rows"):
            kinds.add("duplicated_load")
        elif kind == "aggregate":
            kinds.add("unit_slip")
        elif kind == "invalid" and column == "o_orderdate":
            kinds.add("format_drift")
        elif kind == "invalid":
            kinds.add("typo")
        elif kind == "freshness":
            kinds.add("late_arrival")
        else:
            kinds.add("other")
    return kinds


def score(batches, flagged):
    scored = [(b, f) for b, f in zip(batches, flagged) if b["index"] >= WARM_UP]
    per_kind = {}
    for kind in KINDS:
        carry = [f for b, f in scored if b["kind"] == kind]
        flag = [b for b, f in scored if kind in f]
        tp = sum(1 for f in carry if kind in f)
        per_kind[kind] = {
            "batches": len(carry),
            "recall": tp / len(carry) if carry else None,
            "precision": (sum(1 for b in flag if b["kind"] == kind) / len(flag)) if flag else None,
        }
    any_flag = [b for b, f in scored if f]
    faulty = [b for b, f in scored if b["kind"]]
    overall = {
        "faulty_batches": len(faulty),
        "clean_batches": len(scored) - len(faulty),
        "recall_any_alert": sum(1 for b, f in scored if b["kind"] and f) / len(faulty),
        "precision_any_alert": (sum(1 for b in any_flag if b["kind"]) / len(any_flag)) if any_flag else None,
        "clean_batches_alerted": sum(1 for b, f in scored if not b["kind"] and f),
    }
    return {"per_kind": per_kind, "overall": overall}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--soda-python")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality-batch-faults.json"))
    args = parser.parse_args()
    binary = Path(os.environ.get("AGORA_TARGET", ROOT / "target" / "release")) / "agora"
    if not binary.exists():
        sys.exit(f"{binary} not found: cargo build --release -p agora-cli (or set AGORA_TARGET)")
    from tpch_data import dbgen_csv
    cache = ROOT / "target" / "bench-data" / f"tpch-{args.scale}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(dbgen_csv(args.scale, cache, "orders")) as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (r["o_orderdate"], int(r["o_orderkey"])))
    if len(rows) < args.batches * BATCH:
        sys.exit(f"scale {args.scale} has {len(rows)} orders: too few for {args.batches} batches")
    batches = make_batches(rows, args.batches, args.seed)
    work = Path(tempfile.mkdtemp(prefix="agora-faults-"))
    try:
        result = {"date": dt.date.today().isoformat(), "seed": args.seed, "batches": args.batches,
                  "faults": {k: sum(1 for b in batches if b["kind"] == k) for k in KINDS}}
        for engineer in (False, True):
            flagged, ranking = run_agora(binary, batches, engineer, work)
            name = "agora_engineer" if engineer else "agora_bare"
            result[name] = score(batches, flagged)
            if ranking:
                result[name]["corrections"] = ranking
            print(name, json.dumps(result[name]), flush=True)
        if args.soda_python:
            flagged = run_soda(args.soda_python, batches, work)
            result["soda"] = score(batches, flagged)
            print("soda", json.dumps(result["soda"]), flush=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
