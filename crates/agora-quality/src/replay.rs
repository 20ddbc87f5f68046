//! Replays a labelled or recorded series through the streaming detector, point by point, so
//! any `timestamp,value` file can be scored the way live events are (`agora quality detect`).

use std::io::Read;

use crate::{DetectorConfig, QualityError, StreamingDetector, Verdict};

/// One point of a replayed series and the detector's verdict on it.
#[derive(Debug, Clone)]
pub struct ScoredPoint {
    pub timestamp: String,
    pub verdict: Verdict,
}

/// Reads CSV with a header naming `timestamp` and `value` columns (others are ignored) and
/// hands each scored point to `emit` as soon as it is judged: the decision for a point uses
/// only the points before it. Returns the number of points. A row without a timestamp or with
/// a value that is not a number stops the replay with an error naming its line.
pub fn replay_series<R: Read>(
    input: R,
    source_name: &str,
    config: DetectorConfig,
    mut emit: impl FnMut(&ScoredPoint) -> std::io::Result<()>,
) -> Result<u64, QualityError> {
    let bad = |line: u64, message: String| QualityError::BadSeries {
        source_name: source_name.to_string(),
        line,
        message,
    };
    let mut reader = csv::Reader::from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| bad(1, format!("cannot read the header: {e}")))?
        .clone();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                bad(
                    1,
                    format!("the header has no `{name}` column (expected timestamp,value)"),
                )
            })
    };
    let (ts_at, value_at) = (column("timestamp")?, column("value")?);
    let mut detector = StreamingDetector::new(config);
    let mut points = 0;
    for record in reader.records() {
        // The line a record starts on (a quoted field may span lines).
        let record = record.map_err(|e| {
            let line = e.position().map_or(points + 2, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(points + 2, |p| p.line());
        let timestamp = record.get(ts_at).unwrap_or("").trim();
        if timestamp.is_empty() {
            return Err(bad(line, "the timestamp is empty".into()));
        }
        let raw = record.get(value_at).unwrap_or("").trim();
        let value: f64 = raw
            .parse()
            .map_err(|_| bad(line, format!("the value `{raw}` is not a number")))?;
        let point = ScoredPoint {
            timestamp: timestamp.to_string(),
            verdict: detector.observe(value),
        };
        emit(&point).map_err(|error| QualityError::Io {
            source_name: "output".into(),
            error,
        })?;
        points += 1;
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(text: &str) -> Result<Vec<ScoredPoint>, QualityError> {
        let mut points = Vec::new();
        replay_series(
            text.as_bytes(),
            "series.csv",
            DetectorConfig::default(),
            |p| {
                points.push(p.clone());
                Ok(())
            },
        )?;
        Ok(points)
    }

    #[test]
    fn a_spike_in_a_steady_series_is_flagged_and_nothing_else() {
        let mut text = String::from("value,timestamp\n");
        for i in 0..400 {
            let value = if i == 300 {
                90.0
            } else {
                20.0 + ((i * 7) % 5) as f64
            };
            text.push_str(&format!(
                "{value},2024-01-01T{:02}:{:02}:00\n",
                i / 60,
                i % 60
            ));
        }
        let points = replay(&text).unwrap();
        let flagged: Vec<usize> = (0..points.len())
            .filter(|i| points[*i].verdict.is_anomaly)
            .collect();
        assert_eq!(flagged, vec![300], "{:?}", points[300].verdict);
        assert!(
            points[300].verdict.reason.contains("90"),
            "{}",
            points[300].verdict.reason
        );
        assert_eq!(points[300].timestamp, "2024-01-01T05:00:00");
    }

    #[test]
    fn a_value_that_is_not_a_number_names_its_line() {
        let error = replay("timestamp,value\n2024-01-01,1\n2024-01-02,abc\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "series.csv, line 3: the value `abc` is not a number"
        );
    }

    #[test]
    fn a_header_without_value_is_refused() {
        let error = replay("time,amount\n1,2\n").unwrap_err();
        assert!(
            error.to_string().contains("no `timestamp` column"),
            "{error}"
        );
    }

    #[test]
    fn a_verdict_never_depends_on_later_points() {
        let base: String = (0..300)
            .map(|i| format!("t{i},{}\n", (i % 11) as f64))
            .collect();
        let short = replay(&format!("timestamp,value\n{base}")).unwrap();
        let long = replay(&format!("timestamp,value\n{base}t300,1000\nt301,-1000\n")).unwrap();
        for (a, b) in short.iter().zip(&long) {
            assert_eq!(a.verdict, b.verdict);
        }
    }
}
