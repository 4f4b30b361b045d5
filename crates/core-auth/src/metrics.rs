//! What verification counts, for the server's Prometheus metrics: off
//! (one relaxed atomic load) until the server turns them on.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics::Counter;

/// Token verifications answered from the cache or not (`result`: `hit`,
/// `miss`).
pub const TOKEN_CACHE_METRIC: &str = "orchestrator_token_cache_total";
/// Signing-key fetches (`result`: `ok`, `error`).
pub const JWKS_FETCHES_METRIC: &str = "orchestrator_jwks_fetches_total";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts counting (once the server installed a metrics recorder).
pub fn enable_metrics() {
    ENABLED.store(true, Ordering::Release);
}

/// The cache's counters, hits then misses: registered once, on the first
/// count, which comes after the server installed its recorder, so that a
/// verification neither looks the series up nor allocates.
static CACHE_COUNTERS: OnceLock<[Counter; 2]> = OnceLock::new();

pub(crate) fn cache(hit: bool) {
    if ENABLED.load(Ordering::Relaxed) {
        let [hits, misses] = CACHE_COUNTERS.get_or_init(|| {
            [
                metrics::counter!(TOKEN_CACHE_METRIC, "result" => "hit"),
                metrics::counter!(TOKEN_CACHE_METRIC, "result" => "miss"),
            ]
        });
        if hit { hits } else { misses }.increment(1);
    }
}

pub(crate) fn fetched(ok: bool) {
    if ENABLED.load(Ordering::Relaxed) {
        let result = if ok { "ok" } else { "error" };
        metrics::counter!(JWKS_FETCHES_METRIC, "result" => result).increment(1);
    }
}
