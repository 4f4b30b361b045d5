//! What the server tells operators besides its logs: Prometheus metrics
//! (`metrics`).

pub(crate) mod metrics;
