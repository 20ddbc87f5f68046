//! How much a series follows itself `lag` values back: the sample autocorrelation, the
//! evidence for a seasonal period.

/// The sample autocorrelation of `values` at `lag` (the covariance of the series with itself
/// shifted by `lag`, over its variance, as Box and Jenkins define it); None when the series is
/// too short for the lag or has no variance.
pub fn autocorrelation(values: &[f64], lag: usize) -> Option<f64> {
    let n = values.len();
    if lag == 0 || lag >= n {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    if variance <= 0.0 || !variance.is_finite() {
        return None;
    }
    let covariance: f64 = (lag..n)
        .map(|t| (values[t] - mean) * (values[t - lag] - mean))
        .sum();
    Some(covariance / variance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_pattern_follows_itself_a_week_back_and_not_three_days_back() {
        let week = [0.0, 5.0, 9.0, 4.0, 2.0, -30.0, -25.0];
        let values: Vec<f64> = (0..140).map(|d| week[d % 7]).collect();
        assert!(autocorrelation(&values, 7).unwrap() > 0.9);
        assert!(autocorrelation(&values, 3).unwrap() < 0.3);
        assert_eq!(autocorrelation(&[2.0; 20], 7), None);
        assert_eq!(autocorrelation(&values[..5], 7), None);
    }
}
