#!/usr/bin/env python3
"""Numenta Anomaly Benchmark: Agora's streaming detector on NAB's realKnownCause and
realAWSCloudwatch series, scored with ../shared/conformance/nab/score.py (NAB v1.1,
standard profile), optionally side by side with NAB's published detectors.

    python3 bench/quality/nab.py [--agora target/release/agora] [--nab-repo PATH]

Each series is replayed with `agora quality detect --series FILE` (one fixed configuration,
the detector's default, for every series); the `is_anomaly` column is scored. With
--nab-repo (a checkout of numenta/NAB), the published result files of HTM (`numenta`),
ARTime, contextOSE and windowedGaussian are scored by the same scorer at the thresholds in
NAB's config/thresholds.json. Writes bench/results/nab.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFORMANCE = os.path.join(ROOT, "..", "shared", "conformance", "nab")
CATEGORIES = ["realKnownCause", "realAWSCloudwatch"]
PEERS = ["numenta", "ARTime", "contextOSE", "windowedGaussian"]

sys.path.insert(0, CONFORMANCE)
import score  # noqa: E402  (the conformance scorer, standard library only)


def run_agora(agora, out_dir):
    for cat in CATEGORIES:
        os.makedirs(os.path.join(out_dir, cat), exist_ok=True)
        data = os.path.join(CONFORMANCE, "data", cat)
        for name in sorted(os.listdir(data)):
            with open(os.path.join(out_dir, cat, name), "w") as out:
                subprocess.run([agora, "quality", "detect", "--series", os.path.join(data, name)],
                               stdout=out, check=True)


def summary(result):
    return {
        "per_category": {c: round(r["normalised"], 2) for c, r in result["per_category"].items()},
        "total": round(result["total"]["normalised"], 2),
        "per_series": {k: {"raw": round(r["score"], 4), "windows": r["windows"],
                           "detected": r["windows_detected"], "false_positive_rows": r["fp_rows"]}
                       for k, r in result["per_series"].items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agora", default=os.path.join(ROOT, "target", "release", "agora"))
    ap.add_argument("--nab-repo", help="a checkout of numenta/NAB, to score its published detectors")
    a = ap.parse_args()
    windows = os.path.join(CONFORMANCE, "labels", "combined_windows.json")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        run_agora(a.agora, os.path.join(tmp, "agora"))
        results["agora"] = summary(score.score_folder(
            windows, os.path.join(tmp, "agora"), det_col="is_anomaly", categories=set(CATEGORIES)))
    if a.nab_repo:
        with open(os.path.join(a.nab_repo, "config", "thresholds.json")) as f:
            thresholds = json.load(f)
        for peer in PEERS:
            results[peer] = summary(score.score_folder(
                windows, os.path.join(a.nab_repo, "results", peer),
                threshold=thresholds[peer]["standard"]["threshold"], categories=set(CATEGORIES)))
    print("%-18s %18s %18s %8s" % ("detector", "realKnownCause", "realAWSCloudwatch", "both"))
    for name, r in results.items():
        print("%-18s %18.2f %18.2f %8.2f" % (name, r["per_category"]["realKnownCause"],
                                             r["per_category"]["realAWSCloudwatch"], r["total"]))
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "nab.json"), "w") as f:
        json.dump({"profile": "standard", "categories": CATEGORIES, "detectors": results}, f,
                  indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
