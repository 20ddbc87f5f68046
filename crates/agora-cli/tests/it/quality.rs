//! `agora quality detect`: the streaming detector replayed over recorded series.

use std::path::PathBuf;
use std::process::Command;

fn nab(series: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/nab/data")
        .join(series)
}

fn detect(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agora"))
        .args(["quality", "detect"])
        .args(args)
        .env_remove("AGORA_DATA")
        .output()
        .expect("the agora binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_real_series_is_scored_row_by_row_and_its_labelled_failures_are_flagged() {
    // An Amazon RDS CPU series from the Numenta Anomaly Benchmark; NAB labels two anomaly
    // windows in it (rows 846–1046 and 2485–2685 of its 4,032).
    let series = nab("realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv");
    let (code, out, err) = detect(&["--series", series.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let input = std::fs::read_to_string(&series).unwrap();
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,value,anomaly_score,is_anomaly")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let inputs: Vec<&str> = input.lines().skip(1).collect();
    assert_eq!(rows.len(), inputs.len());
    for (row, given) in rows.iter().zip(&inputs) {
        assert_eq!(
            row[0],
            given.split(',').next().unwrap(),
            "timestamps keep their order"
        );
        assert!(row[3] == "0" || row[3] == "1");
    }
    let flagged: Vec<usize> = (0..rows.len()).filter(|i| rows[*i][3] == "1").collect();
    for (start, end) in [(846, 1046), (2485, 2685)] {
        assert!(
            flagged.iter().any(|i| (start..=end).contains(i)),
            "no flag in the labelled window {start}..{end}: {flagged:?}"
        );
    }
    assert!(flagged.len() < 20, "an alert is rare: {flagged:?}");
}

#[test]
fn json_output_says_what_was_expected_and_why_a_point_is_flagged() {
    let series = nab("realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv");
    let (code, out, err) = detect(&["--series", series.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let flagged: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|p| p["is_anomaly"] == true)
        .collect();
    let first = &flagged[0];
    let value = first["value"].as_f64().unwrap();
    let (low, high) = (
        first["expected"]["low"].as_f64().unwrap(),
        first["expected"]["high"].as_f64().unwrap(),
    );
    assert!(value < low || value > high || first["reason"].as_str().unwrap().contains("mean"));
    assert!(
        first["reason"].as_str().unwrap().contains("last"),
        "{first}"
    );
    assert!(first["history"].as_u64().unwrap() > 0);
}

#[test]
fn a_series_with_a_bad_value_names_the_line_and_prints_no_verdict_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:05:00,n/a\n",
    )
    .unwrap();
    let (code, out, err) = detect(&["--series", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.csv, line 3: the value `n/a` is not a number"),
        "{err}"
    );
    assert_eq!(
        out.lines().count(),
        2,
        "the header and the one good row: {out}"
    );
    let (code, _, err) = detect(&["--series", "/nonexistent/series.csv"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/series.csv"), "{err}");
}
