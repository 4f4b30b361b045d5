//! The HTTP surface: routes, and the layers every request passes through.

mod auth;
mod body;
mod cors;
mod error;
mod health;
mod host_guard;
pub(crate) mod login;
mod machine_token;
mod mcp_guard;
mod oauth;
mod rate_limit;
mod request_id;
mod rest;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use core_auth::TokenVerifier;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

pub(crate) use host_guard::{AllowedHost, admits as host_admitted};
pub(crate) use rate_limit::RateLimiter;
pub(crate) use request_id::RequestId;

use crate::catalogue::Catalogue;
use crate::demo_auth;
use crate::identity::AuthorizationServer;

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) catalogue: Catalogue,
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) max_request_bytes: usize,
    /// `ALLOWED_HOSTS`, parsed; empty allows every host.
    pub(crate) allowed_hosts: Arc<[AllowedHost]>,
    /// `PUBLIC_URL`, if configured.
    pub(crate) public_url: Option<Arc<str>>,
    /// Where clients get tokens.
    pub(crate) authorization_server: AuthorizationServer,
    /// The embedded authorization server (demo mode only).
    pub(crate) demo_auth: Option<Arc<crate::demo_auth::DemoAuthServer>>,
    /// Descope's access-key exchange (production only).
    pub(crate) access_keys: Option<Arc<core_auth::AccessKeyExchange>>,
    /// The browser login helper's state.
    pub(crate) login: Arc<login::LoginHelper>,
    /// `RATE_LIMIT_PER_MINUTE`; `None` when it is 0 (no limit).
    pub(crate) rate_limiter: Option<Arc<RateLimiter>>,
}

impl AppState {
    /// The base URL this request reached the server at: `PUBLIC_URL`, or
    /// `http://` and the request's `Host` (already checked against
    /// `ALLOWED_HOSTS`), so a client connecting by `localhost` and one
    /// connecting by `127.0.0.1` each get URLs they can validate.
    pub(crate) fn request_base(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.to_string();
        }
        // Rebuilt from the parsed authority, lower-cased and without any
        // user-info, so the URL is the one the Host guard admitted.
        let authority = headers
            .get(axum::http::header::HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<axum::http::uri::Authority>().ok());
        match authority {
            Some(authority) => {
                let host = authority.host().to_ascii_lowercase();
                match authority.port_u16() {
                    Some(port) => format!("http://{host}:{port}"),
                    None => format!("http://{host}"),
                }
            }
            None => "http://localhost".to_owned(),
        }
    }

    /// Every scope the policies know, ordered by name.
    pub(crate) fn scope_names(&self) -> Vec<String> {
        self.catalogue
            .policies()
            .scopes()
            .iter()
            .map(|scope| scope.name.clone())
            .collect()
    }
}

/// The whole application: public routes, protected routes, and the layers.
///
/// `cors_origins` is `CORS_ORIGINS` parsed: `None` for any origin.
pub(crate) fn router(
    state: AppState,
    mcp: crate::mcp::McpService,
    cors_origins: Option<&[String]>,
) -> Router {
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            mcp_guard::check_jsonrpc,
        ));
    // Authentication runs before any body is read, so an anonymous caller
    // cannot make the server buffer a large body.
    let protected = Router::new()
        .route("/tools/{name}", post(rest::call_tool))
        .merge(mcp_routes)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_principal,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_guard::check_host,
        ));
    // Discovery documents name URLs built from the Host header, so they are
    // served only to allowed hosts too.
    let discovery = Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(oauth::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(oauth::protected_resource),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(demo_auth::metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(demo_auth::metadata),
        )
        .route(demo_auth::JWKS_PATH, get(demo_auth::jwks))
        .route(demo_auth::REGISTER_PATH, post(demo_auth::register))
        .route(
            demo_auth::AUTHORIZE_PATH,
            get(demo_auth::authorize).post(demo_auth::decide),
        )
        .route(demo_auth::TOKEN_PATH, post(demo_auth::token))
        .route("/auth/token", post(machine_token::token))
        .route("/auth/login", get(login::login))
        .route("/auth/callback", get(login::callback))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_guard::check_host,
        ));
    Router::new()
        .route("/health", get(health::health))
        .merge(discovery)
        .merge(protected)
        .fallback(no_route)
        .with_state(state)
        .layer(middleware::from_fn(request_id::assign))
        // Outside authentication and the host guard: a browser's preflight
        // carries neither credentials nor, always, an allowed host.
        .layer(tower::util::option_layer(cors::layer(cors_origins)))
        // Outermost: whatever logs a request from here on sees the header
        // as sensitive and prints it redacted.
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
}

async fn no_route(request: Request) -> Response {
    error::ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
    .into_response()
}
