//! A request id for every request, made here (a caller's own id is kept
//! beside it, never in its place), a span around it, and one log line.
//!
//! This replaces a generic trace layer on purpose: the span records the
//! method, path and id and nothing else, so no header (above all
//! `Authorization`) can reach the logs from here.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the request id, in and out.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The ids of the current request, in the request's extensions.
#[derive(Clone, Debug)]
pub(crate) struct RequestId {
    /// Made by the server: what logs and audit records are keyed by, so a
    /// caller cannot make its requests look like another's.
    pub(crate) id: Arc<str>,
    /// The caller's own `x-request-id`, when it sent a plain one.
    pub(crate) client: Option<Arc<str>>,
}

/// Makes the request's id, keeps a caller's plain `x-request-id` beside it,
/// serves the request with `next` in a span of its own (`route` being its
/// route's label), logs its line, and answers the server's id in
/// `x-request-id`; `started` is when the request came in.
pub(crate) async fn assign(
    mut request: Request,
    route: &'static str,
    started: Instant,
    next: Next,
) -> Response {
    let id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
    let client: Option<Arc<str>> = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_acceptable_id(value))
        .map(Into::into);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client_request_id = client.as_deref(),
        method = %request.method(),
        path = %request.uri().path(),
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    // What only an exported span needs stays out of the logs otherwise:
    // the log lines have the method and path already.
    let exporting = crate::telemetry::traces::exporting();
    if exporting {
        span.record(
            "otel.name",
            tracing::field::display(format_args!("{} {route}", request.method())),
        );
        span.record("otel.kind", "server");
        span.record("http.route", route);
    }
    // A caller's `traceparent` makes this request a part of its trace.
    if let Some(parent) = crate::telemetry::traces::parent_from_headers(request.headers()) {
        crate::telemetry::traces::continue_trace(&span, parent);
    }
    crate::telemetry::traces::settle_sampling(&span);
    request.extensions_mut().insert(RequestId {
        id: Arc::clone(&id),
        client,
    });
    let mut response = next.run(request).instrument(span.clone()).await;
    if exporting {
        span.record("http.response.status_code", response.status().as_u16());
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Ids from callers end up in logs, so only short plain tokens are kept.
/// A plain id: short, of id characters, and not shaped like a JWT (a
/// client that mistakes a token for an id would have it logged).
fn is_acceptable_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        && !(value.starts_with("eyJ") && value.matches('.').count() >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(is_acceptable_id("req-123_abc.def:1"));
        assert!(!is_acceptable_id(
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
        ));
        assert!(!is_acceptable_id(""));
        assert!(!is_acceptable_id("has space"));
        assert!(!is_acceptable_id("line\nbreak"));
        assert!(!is_acceptable_id(&"a".repeat(129)));
    }
}
