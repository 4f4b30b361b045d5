//! What verification counts, for the server's Prometheus metrics: off
//! (one relaxed atomic load) until the server turns them on.

use std::sync::atomic::{AtomicBool, Ordering};

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

pub(crate) fn cache(hit: bool) {
    if ENABLED.load(Ordering::Relaxed) {
        let result = if hit { "hit" } else { "miss" };
        metrics::counter!(TOKEN_CACHE_METRIC, "result" => result).increment(1);
    }
}

pub(crate) fn fetched(ok: bool) {
    if ENABLED.load(Ordering::Relaxed) {
        let result = if ok { "ok" } else { "error" };
        metrics::counter!(JWKS_FETCHES_METRIC, "result" => result).increment(1);
    }
}
