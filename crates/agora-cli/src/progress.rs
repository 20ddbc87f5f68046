//! The ingest progress bar: shown on a terminal for files, never when stderr is redirected.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-count bar for `file`, or `None` when there is no terminal or no file size.
pub fn for_file(file: &str) -> Option<ProgressBar> {
    if file == "-" || !std::io::stderr().is_terminal() {
        return None;
    }
    let size = std::fs::metadata(file).ok()?.len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("INVARIANT: the template is valid"),
    );
    Some(bar)
}

pub fn callback(bar: &ProgressBar) -> Arc<dyn Fn(u64) + Send + Sync> {
    let bar = bar.clone();
    Arc::new(move |bytes| bar.set_position(bytes))
}
