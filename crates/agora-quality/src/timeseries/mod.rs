//! Time-series machinery shared by the quality checks and the forecasts: window maxima and
//! quantiles, autocorrelation, the streaming anomaly detector, and the judgement of a batch
//! metric against its history.

mod autocorrelation;
mod metric_history;
mod nearest_stretch;
mod rolling;
mod streaming;

pub use autocorrelation::autocorrelation;
pub use metric_history::{MetricJudgement, judge_metric};
pub use rolling::{WindowMax, quantile_of_sorted};
pub use streaming::{DetectorConfig, StreamingDetector, Verdict};
