//! Time-series machinery shared by the quality checks and the forecasts: rolling order
//! statistics and the streaming anomaly detector.

mod rolling;
mod streaming;

pub use rolling::{RollingWindow, quantile_of_sorted};
pub use streaming::{DetectorConfig, StreamingDetector, Verdict};
