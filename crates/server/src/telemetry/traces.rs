//! OpenTelemetry traces, exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! The server's `tracing` spans become OpenTelemetry spans: one per request
//! (`request`), with children for the token's verification, each decision,
//! each tool call (nested calls under their parent's) and each Redis round
//! trip. A request continues the trace its `traceparent` header names; an
//! MCP request whose `_meta` carries a `traceparent` continues that one
//! from the MCP handler on.
//!
//! Spans are sampled by `OTEL_TRACES_SAMPLER_ARG` (a ratio), following a
//! sampled parent; an unsampled request costs little, and without an
//! endpoint the layer is not installed at all.

use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::settings::TraceSettings;

/// The exporter while the server runs; flushed and shut down when dropped.
pub(crate) struct Exporting {
    provider: SdkTracerProvider,
}

impl Drop for Exporting {
    fn drop(&mut self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(%err, "the last spans could not be exported");
        }
    }
}

/// The `tracing` layer that turns spans into OpenTelemetry spans, and the
/// exporter behind it.
pub(crate) fn layer<S>(
    settings: &TraceSettings,
) -> anyhow::Result<(
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    Exporting,
)>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let endpoint = format!("{}/v1/traces", settings.endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(if settings.json {
            Protocol::HttpJson
        } else {
            Protocol::HttpBinary
        })
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| anyhow::anyhow!("OTEL_EXPORTER_OTLP_ENDPOINT: {err}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("orchestrator-mcp");
    // Only what a trace needs: no source locations, thread ids, levels,
    // targets or busy/idle timings, each of which costs every span; and no
    // OpenTelemetry context made current on every poll of a span's future
    // (the server reads none: spans find their parents through `tracing`).
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(false)
        .with_location(false)
        .with_threads(false)
        .with_level(false)
        .with_target(false)
        .with_tracked_inactivity(false);
    EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok((layer, Exporting { provider }))
}

/// Set once the trace layer is made: until then no span is exported.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`): what only
/// an exported span needs (its OpenTelemetry name, kind and attributes)
/// is recorded only then, and so stays out of the logs otherwise.
pub(crate) fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// The span an MCP `tools/call` runs in, which may continue the trace its
/// `_meta.traceparent` names.
pub(crate) const MCP_CALL_SPAN: &str = "mcp.tools/call";

/// Whether the trace a span starts (a request's, or an MCP call's own) is
/// recorded, kept in the span for [`skips_unsampled`] to read.
struct Sampling(bool);

/// Settles now whether the trace `span` starts is recorded (after its
/// parent is set), so that the spans under it are not even made for the
/// exporter when it is not: a sampled-out request then costs one span.
pub(crate) fn settle_sampling(span: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_subscriber::registry::{LookupSpan as _, SpanData as _};
    if span.is_disabled() || !exporting() {
        return;
    }
    let sampled = span.context().span().span_context().is_sampled();
    span.with_subscriber(|(id, dispatch)| {
        if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
            && let Some(data) = registry.span_data(id)
        {
            data.extensions_mut().insert(Sampling(sampled));
        }
    });
}

/// The trace layer's filter: the server's spans only (no log events), and
/// none under a span whose trace is not recorded.
pub(crate) fn skips_unsampled<S>(
    metadata: &tracing::Metadata<'_>,
    context: &tracing_subscriber::layer::Context<'_, S>,
) -> bool
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    if !metadata.is_span() {
        return false;
    }
    // An MCP call may start a trace of its own (`_meta.traceparent`).
    if metadata.name() == MCP_CALL_SPAN {
        return true;
    }
    let Some(current) = context.lookup_current() else {
        return true;
    };
    let recorded = current.scope().find_map(|span| {
        span.extensions()
            .get::<Sampling>()
            .map(|sampling| sampling.0)
    });
    recorded.unwrap_or(true)
}

/// The trace a request's `traceparent` header names, if a valid one.
pub(crate) fn parent_from_headers(headers: &HeaderMap) -> Option<Context> {
    headers.get("traceparent")?;
    continued(&HeaderCarrier(headers))
}

/// The trace a `traceparent` value (MCP's `_meta.traceparent`) names, if
/// a valid one.
pub(crate) fn parent_from_traceparent(traceparent: &str) -> Option<Context> {
    continued(&TextCarrier(traceparent))
}

fn continued(carrier: &dyn Extractor) -> Option<Context> {
    use opentelemetry::trace::TraceContextExt as _;
    let context = TraceContextPropagator::new().extract(carrier);
    context.span().span_context().is_valid().then_some(context)
}

/// Makes `span` continue the trace `parent` names. Only before `span` is
/// first entered; afterwards it keeps the parent it had.
pub(crate) fn continue_trace(span: &tracing::Span, parent: Context) {
    let _ = span.set_parent(parent);
}

struct HeaderCarrier<'a>(&'a HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

struct TextCarrier<'a>(&'a str);

impl Extractor for TextCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_traceparent_continues_a_trace() {
        use opentelemetry::trace::TraceContextExt as _;
        let parent =
            parent_from_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .expect("a valid traceparent");
        assert_eq!(
            parent.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        for bad in [
            "",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "zz-not-a-traceparent",
        ] {
            assert!(parent_from_traceparent(bad).is_none(), "{bad}");
        }
    }
}
