//! A small OTLP/HTTP collector for the tracing tests: it accepts
//! `POST /v1/traces` in OTLP's JSON encoding (what the server sends with
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) and keeps every span.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;

/// One span, as the collector received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The span's name (`otel.name` where the server set one).
    pub name: String,
    /// The trace's id, in hex, as OTLP's JSON encoding writes ids.
    pub trace_id: String,
    /// The span's own id, in hex.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    /// The service the exporting process named.
    pub service: String,
}

type Spans = Arc<Mutex<Vec<Span>>>;

/// A running collector, stopped when dropped.
pub struct Collector {
    base_url: String,
    spans: Spans,
    _runtime: tokio::runtime::Runtime,
}

impl Collector {
    /// Starts the collector on an ephemeral loopback port.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let spans = Spans::default();
        let app = axum::Router::new()
            .route("/v1/traces", post(receive))
            .with_state(Arc::clone(&spans));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the collector");
        let address = listener.local_addr().expect("address");
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{address}"),
            spans,
            _runtime: runtime,
        }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT` for a server that sends here.
    pub fn endpoint(&self) -> &str {
        &self.base_url
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to ten seconds until `done` holds for the spans received.
    pub fn wait_for(&self, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self.spans();
            if done(&spans) || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `POST /v1/traces`: an `ExportTraceServiceRequest` in JSON.
async fn receive(State(spans): State<Spans>, body: axum::body::Bytes) -> StatusCode {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let mut received = Vec::new();
    for resource in request["resourceSpans"].as_array().into_iter().flatten() {
        let service = resource["resource"]["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|attribute| attribute["key"] == "service.name")
            .map(|attribute| text(&attribute["value"]["stringValue"]))
            .unwrap_or_default();
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                received.push(Span {
                    name: text(&span["name"]),
                    trace_id: text(&span["traceId"]).to_lowercase(),
                    span_id: text(&span["spanId"]).to_lowercase(),
                    parent_span_id: text(&span["parentSpanId"]).to_lowercase(),
                    service: service.clone(),
                });
            }
        }
    }
    spans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(received);
    StatusCode::OK
}
