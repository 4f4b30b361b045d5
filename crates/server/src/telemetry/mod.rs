//! What the server tells operators besides its logs: Prometheus metrics
//! (`metrics`) and OpenTelemetry traces (`traces`).

pub(crate) mod log_format;
pub(crate) mod log_writer;
pub(crate) mod metrics;
pub(crate) mod traces;
