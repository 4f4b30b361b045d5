//! What the host counts, for the server's Prometheus metrics: off (one
//! relaxed atomic load) until the server turns them on.

use std::sync::atomic::{AtomicBool, Ordering};

/// Plugin calls answered with a time-out error, by `tool` and `plugin`.
pub const TIMEOUTS_METRIC: &str = "orchestrator_tool_timeouts_total";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts counting (once the server installed a metrics recorder).
pub fn enable_metrics() {
    ENABLED.store(true, Ordering::Release);
}

pub(crate) fn timed_out(tool: &str, plugin: &str) {
    if ENABLED.load(Ordering::Relaxed) {
        metrics::counter!(TIMEOUTS_METRIC, "tool" => tool.to_owned(), "plugin" => plugin.to_owned())
            .increment(1);
    }
}
