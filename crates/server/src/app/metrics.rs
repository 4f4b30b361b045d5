//! Metrics at the HTTP edge: every request counted and timed, and the
//! scrape endpoint, `GET /metrics` (on the main port for `METRICS_TOKEN`,
//! or on `METRICS_ADDR`'s listener for anyone who can reach it).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use core_auth::TokenVerifier;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::settings::SecretText;
use crate::shared::Shared;
use crate::telemetry::metrics;

/// What a scrape reads.
#[derive(Clone)]
pub(crate) struct Scrape {
    handle: PrometheusHandle,
    verifier: Arc<dyn TokenVerifier>,
    shared: Arc<Shared>,
    /// The token a scrape on the main port must bear; `None` on the
    /// metrics listener, which takes none.
    token: Option<Arc<SecretText>>,
}

impl Scrape {
    pub(crate) fn new(
        handle: PrometheusHandle,
        verifier: Arc<dyn TokenVerifier>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            handle,
            verifier,
            shared,
            token: None,
        }
    }

    /// The same scrape, for requests bearing `token` only.
    pub(crate) fn behind(self, token: SecretText) -> Self {
        Self {
            token: Some(Arc::new(token)),
            ..self
        }
    }

    /// `GET /metrics`.
    pub(crate) fn router(self) -> Router {
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(self)
    }
}

/// The metrics in Prometheus's text format.
async fn scrape(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &scrape.token
        && !bears(&headers, &token.0)
    {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer realm=\"metrics\"")],
            axum::Json(serde_json::json!({
                "error": "unauthorized",
                "message": "GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`"
            })),
        )
            .into_response();
    }
    let age = scrape.verifier.jwks_status().and_then(|status| {
        let fetched = std::time::UNIX_EPOCH + std::time::Duration::from_secs(status.fetched_at?);
        std::time::SystemTime::now().duration_since(fetched).ok()
    });
    let redis_up = scrape.shared.health().redis.map(|redis| redis.up);
    metrics::set_gauges(age, redis_up);
    scrape.handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        scrape.handle.render(),
    )
        .into_response()
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in
/// constant time.
fn bears(headers: &HeaderMap, token: &str) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| core_auth::bearer_token(Some(value)).ok());
    presented.is_some_and(|presented| {
        oauth_kit::constant_time_eq(presented.as_bytes(), token.as_bytes())
    })
}
