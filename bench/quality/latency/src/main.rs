//! Times `StreamingDetector::observe` — the scoring an event pays for — once per value of every
//! NAB series in `../shared/conformance/nab/data` (realKnownCause and realAWSCloudwatch), a
//! fresh detector per series, and prints the percentiles of those times as JSON.
//!
//! `cargo run --release -p agora-bench-quality-latency [NAB_DATA_DIR]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use agora_quality::{DetectorConfig, StreamingDetector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/conformance/nab/data")
        });
    let mut nanos: Vec<u64> = Vec::new();
    for category in ["realKnownCause", "realAWSCloudwatch"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join(category))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)?;
            let values: Vec<f64> = text
                .lines()
                .skip(1)
                .filter_map(|l| l.rsplit(',').next()?.trim().parse().ok())
                .collect();
            let mut detector = StreamingDetector::new(DetectorConfig::default());
            for v in values {
                let start = Instant::now();
                std::hint::black_box(detector.observe(v));
                nanos.push(start.elapsed().as_nanos() as u64);
            }
        }
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    let total: u64 = nanos.iter().sum();
    println!(
        "{}",
        serde_json::json!({
            "events": nanos.len(),
            "p50_us": at(0.5),
            "p99_us": at(0.99),
            "p999_us": at(0.999),
            "max_us": at(1.0),
            "events_per_second_one_core": nanos.len() as f64 / (total as f64 / 1e9),
        })
    );
    Ok(())
}
