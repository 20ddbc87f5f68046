//! Trains and evaluates Agora's column classifier on the labelled corpus.
//!
//! ```sh
//! agora-bench-classify train bench/classify/corpus/train.jsonl crates/agora-classify/model/weights.json
//! agora-bench-classify evaluate bench/classify/corpus/test.jsonl > bench/results/classify.json
//! ```
//!
//! The corpus (made by `bench/classify/generate_corpus.py`) is JSON lines, one column each:
//! `{"name", "label", "locale", "values"}`. Training fits the multinomial logistic regression of
//! `agora_classify::model` by full-batch gradient descent with L2 regularisation, each class
//! weighted by the inverse of its frequency. Evaluation classifies each column of the test
//! split — the way ingest does, from the name and the sampled values — and reports per-category
//! precision, recall and F1 at the column level, the false-positive rate on `none` columns and
//! the throughput in MB of sampled values per second.

use std::collections::BTreeMap;
use std::time::Instant;

use agora_classify::features::{FEATURES, column_features};
use agora_classify::model::{Weights, softmax};
use agora_classify::{Classifier, SAMPLE_SIZE};
use agora_model::Category;
use serde::Deserialize;

#[derive(Deserialize)]
struct Column {
    name: String,
    label: String,
    locale: String,
    values: Vec<String>,
}

impl Column {
    /// The values ingest would classify: the first `SAMPLE_SIZE`.
    fn sample(&self) -> Vec<&str> {
        self.values
            .iter()
            .map(String::as_str)
            .take(SAMPLE_SIZE)
            .collect()
    }
}

fn read_corpus(path: &str) -> Vec<(Column, Category)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let c: Column = serde_json::from_str(line)
                .unwrap_or_else(|e| fail(&format!("{path}:{}: {e}", i + 1)));
            let label = c
                .label
                .parse()
                .unwrap_or_else(|e| fail(&format!("{path}:{}: {e}", i + 1)));
            (c, label)
        })
        .collect()
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["train", corpus, out] => train(corpus, out),
        ["evaluate", corpus] => evaluate(corpus),
        _ => fail("usage: agora-bench-classify train CORPUS OUT.json | evaluate CORPUS"),
    }
}

const EPOCHS: usize = 4_000;
const LEARNING_RATE: f64 = 0.5;
const L2: f64 = 1e-4;

fn train(corpus: &str, out: &str) {
    let columns = read_corpus(corpus);
    let year = 2026;
    let data: Vec<(Vec<f64>, usize)> = columns
        .iter()
        .map(|(c, label)| (column_features(&c.name, &c.sample(), year), label.index()))
        .collect();
    let classes = Category::ALL.len();
    let mut counts = vec![0usize; classes];
    for (_, y) in &data {
        counts[*y] += 1;
    }
    let class_weight: Vec<f64> = counts
        .iter()
        .map(|n| {
            if *n == 0 {
                0.0
            } else {
                data.len() as f64 / (classes as f64 * *n as f64)
            }
        })
        .collect();
    let mut weights = Weights::zero(format!(
        "{corpus}: {} columns, {EPOCHS} epochs of full-batch gradient descent (rate {LEARNING_RATE}, L2 {L2}), classes weighted by inverse frequency",
        data.len()
    ));
    let total_weight: f64 = data.iter().map(|(_, y)| class_weight[*y]).sum();
    for epoch in 0..EPOCHS {
        let mut grad = vec![vec![0.0; FEATURES]; classes];
        let mut loss = 0.0;
        for (x, y) in &data {
            let p = softmax(
                &weights
                    .weights
                    .iter()
                    .map(|row| row.iter().zip(x).map(|(w, v)| w * v).sum())
                    .collect::<Vec<f64>>(),
            );
            let cw = class_weight[*y];
            loss -= cw * p[*y].max(1e-12).ln();
            for k in 0..classes {
                let err = cw * (p[k] - f64::from(u8::from(k == *y)));
                for (g, v) in grad[k].iter_mut().zip(x) {
                    *g += err * v;
                }
            }
        }
        for (row, g_row) in weights.weights.iter_mut().zip(&grad) {
            for (w, g) in row.iter_mut().zip(g_row) {
                *w -= LEARNING_RATE * (g / total_weight + L2 * *w);
            }
        }
        if epoch % 500 == 0 || epoch + 1 == EPOCHS {
            eprintln!("epoch {epoch:>5}: loss {:.4}", loss / total_weight);
        }
    }
    for row in &mut weights.weights {
        for w in row.iter_mut() {
            *w = (*w * 10_000.0).round() / 10_000.0;
        }
    }
    let json = serde_json::to_string_pretty(&weights).expect("INVARIANT: weights are plain JSON");
    std::fs::write(out, json + "\n").unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    eprintln!("wrote {out}");
}

fn evaluate(corpus: &str) {
    let columns = read_corpus(corpus);
    let classifier = Classifier::embedded();
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut bytes = 0usize;
    let mut mistakes = Vec::new();
    let start = Instant::now();
    for (c, label) in &columns {
        let values = c.sample();
        bytes += values.iter().map(|v| v.len()).sum::<usize>();
        let result = classifier.classify(&c.name, &values);
        if result.category != *label {
            mistakes.push(serde_json::json!({
                "column": c.name, "locale": c.locale, "label": label.as_str(),
                "predicted": result.category.as_str(), "confidence": result.confidence,
            }));
        }
        *confusion
            .entry((label.to_string(), result.category.to_string()))
            .or_default() += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut per_category = serde_json::Map::new();
    let mut f1s = Vec::new();
    for category in Category::ALL {
        let name = category.as_str();
        let tp = confusion
            .get(&(name.into(), name.into()))
            .copied()
            .unwrap_or(0) as f64;
        let predicted: f64 = confusion
            .iter()
            .filter(|((_, p), _)| p == name)
            .map(|(_, n)| *n as f64)
            .sum();
        let actual: f64 = confusion
            .iter()
            .filter(|((l, _), _)| l == name)
            .map(|(_, n)| *n as f64)
            .sum();
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = if actual > 0.0 { tp / actual } else { 0.0 };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        if category != Category::None {
            f1s.push(f1);
        }
        per_category.insert(
            name.into(),
            serde_json::json!({"columns": actual, "precision": round(precision), "recall": round(recall), "f1": round(f1)}),
        );
        eprintln!(
            "{name:<16} columns {actual:>4}  precision {precision:.3}  recall {recall:.3}  F1 {f1:.3}"
        );
    }
    let macro_f1 = f1s.iter().sum::<f64>() / f1s.len() as f64;
    let none_total: f64 = confusion
        .iter()
        .filter(|((l, _), _)| l == "none")
        .map(|(_, n)| *n as f64)
        .sum();
    let none_flagged: f64 = confusion
        .iter()
        .filter(|((l, p), _)| l == "none" && p != "none")
        .map(|(_, n)| *n as f64)
        .sum();
    let fpr = if none_total > 0.0 {
        none_flagged / none_total
    } else {
        0.0
    };
    let mb_per_s = bytes as f64 / 1e6 / seconds;
    eprintln!("macro F1 (categories other than none): {macro_f1:.3}");
    eprintln!(
        "false-positive rate on none columns: {:.1}% ({none_flagged} of {none_total})",
        fpr * 100.0
    );
    eprintln!("throughput: {mb_per_s:.2} MB/s of sampled values ({bytes} bytes in {seconds:.2} s)");
    let report = serde_json::json!({
        "tool": "agora",
        "corpus": corpus,
        "columns": columns.len(),
        "macro_f1": round(macro_f1),
        "none_false_positive_rate": round(fpr),
        "mb_per_s": round(mb_per_s),
        "per_category": per_category,
        "mistakes": mistakes,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("INVARIANT: plain JSON")
    );
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
