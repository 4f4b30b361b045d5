//! The embedded demo authorization server, mounted only in demo mode.
//!
//! A small but real OAuth 2.1 authorization server, so the whole MCP
//! authorization flow runs offline: metadata (RFC 8414), dynamic client
//! registration (RFC 7591), authorization code with PKCE S256 only, refresh
//! tokens rotated on every use (a rotated token presented again revokes its
//! whole family), client credentials for demo access keys, and a JWKS. Its
//! access tokens are RS256 JWTs verified by the same verifier as Descope's.
//! The signed-in user is always the configured demo principal: the consent
//! page is the only interaction.
//!
//! The issuer (and the only audience tokens are minted for) is the
//! configured public URL ([`Settings::public_url`]) when there is one, and
//! nothing a request says changes it. Only without one (a local demo) is it
//! the base URL each request reached the server at, as the [`Resource`]
//! resolves it. The [`Resource`] also says which scopes its policies know.

mod authorize;
mod caller;
mod consent;
mod register;
mod state;
mod store;
mod token;
mod url;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use core_auth::DemoPrincipalConfig;
use oauth_kit::{OAuthError, SigningKey, TokenForm};
use redis_state::RedisState;
use serde::Deserialize;
use serde_json::json;

use state::StateStore;

/// The authorization endpoint (the consent page, and the decision).
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The dynamic client registration endpoint.
pub const REGISTER_PATH: &str = "/oauth/register";
/// The key set tokens are verified with.
pub const JWKS_PATH: &str = "/oauth/jwks";
/// Where clients look for the metadata (RFC 8414).
pub const METADATA_PATHS: [&str; 2] = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

/// Scopes named with this prefix are administrative: granted only when an
/// authorization request names them in `scope`, never by default.
const ADMIN_SCOPE_PREFIX: &str = "admin:";

/// Whether `scope` is administrative (see [`ADMIN_SCOPE_PREFIX`]).
fn is_admin_scope(scope: &str) -> bool {
    scope.starts_with(ADMIN_SCOPE_PREFIX)
}

/// A scope the protected server's policies know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The scope's name (`tools:ping`).
    pub name: String,
    /// What it grants, shown on the consent page.
    pub description: String,
}

/// The server the demo authorization server issues tokens for.
pub trait Resource: Send + Sync + 'static {
    /// The base URL a request with these headers reached the server at
    /// (its `Host`, already checked against the allowed hosts): the issuer
    /// and audience of a local demo. Never asked when
    /// [`Settings::public_url`] is set.
    fn request_base_url(&self, headers: &HeaderMap) -> String;

    /// Every scope the policies know, ordered by name.
    fn scopes(&self) -> Vec<Scope>;
}

/// A machine credential the demo authorization server accepts for the
/// client-credentials grant (`[[demo_auth.access_keys]]`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// The client id the machine sends.
    pub client_id: String,
    /// The secret it proves itself with.
    pub client_secret: String,
    /// The principal its tokens stand for.
    pub principal_id: String,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("principal_id", &self.principal_id)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// How the demo authorization server issues tokens.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The user every sign-in is.
    pub user: DemoPrincipalConfig,
    /// The access keys the client-credentials grant accepts.
    pub access_keys: Vec<AccessKey>,
    /// How long an access token lives.
    pub access_ttl: Duration,
    /// How long a sign-in may be refreshed for; `None` issues no refresh
    /// tokens (`ENABLE_TOKEN_REFRESH=false`).
    pub refresh_ttl: Option<Duration>,
    /// The configured public URL (`PUBLIC_URL`, no trailing slash). When
    /// set, it alone is the issuer, the base of every metadata URL and the
    /// tokens' `iss` and `aud`: the request's `Host` is never read. `None`
    /// for a local demo, where each request's base URL is used.
    pub public_url: Option<String>,
}

/// The demo authorization server: cheap to clone, one store behind it.
#[derive(Clone)]
pub struct DemoOAuth {
    inner: Arc<Inner>,
}

struct Inner {
    key: Arc<SigningKey>,
    settings: Settings,
    resource: Arc<dyn Resource>,
    state: StateStore,
}

impl DemoOAuth {
    /// A server signing with `key`, for `resource`. With `redis`, its
    /// clients, consents, codes and sign-ins live there, shared by every
    /// replica; without, in this process's memory.
    pub fn new(
        key: Arc<SigningKey>,
        settings: Settings,
        resource: Arc<dyn Resource>,
        redis: Option<RedisState>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                key,
                settings,
                resource,
                state: StateStore::new(redis),
            }),
        }
    }

    /// Its routes: metadata, JWKS, registration, authorize and token.
    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for path in METADATA_PATHS {
            router = router.route(path, get(metadata));
        }
        router
            .route(JWKS_PATH, get(jwks))
            .route(REGISTER_PATH, post(register::register))
            .route(
                AUTHORIZE_PATH,
                get(authorize::authorize).post(authorize::decide),
            )
            .route(TOKEN_PATH, post(token::token))
            .with_state(self.clone())
    }

    /// Registers a client from inside the server (the login helper). It is
    /// the server's own, so the consent page does not mark it unverified;
    /// like any client, it is dropped when no authorization request names
    /// it within an hour, or a day after the last one (see [`Self::has_client`]).
    /// `None` when it could not be registered (the shared state is
    /// unreachable, or the random source failed).
    pub async fn register_client(&self, name: &str, redirect_uri: &str) -> Option<String> {
        register::register_in_process(self, name, redirect_uri).await
    }

    /// Whether `client_id` is registered (and not yet dropped); false when
    /// the shared state cannot be asked.
    pub async fn has_client(&self, client_id: &str) -> bool {
        matches!(self.state().client(client_id).await, Ok(Some(_)))
    }

    /// Exchanges an authorization code from inside the server (the login
    /// helper), through the same checks as `POST /oauth/token`. In-process,
    /// so the helper never sends a request to a URL built from a header.
    /// `base` is the base URL the login started at; the configured public
    /// URL, when set, is used instead. `Ok` holds the token response's body.
    pub async fn exchange_code(
        &self,
        base: &str,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        client_id: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let form = TokenForm {
            grant_type: Some("authorization_code".to_owned()),
            code: Some(code.to_owned()),
            redirect_uri: Some(redirect_uri.to_owned()),
            client_id: Some(client_id.to_owned()),
            code_verifier: Some(verifier.to_owned()),
            ..TokenForm::default()
        };
        let base = self.settings().public_url.as_deref().unwrap_or(base);
        token::authorization_code(self, base, &HeaderMap::new(), &form, store::Origin::Server).await
    }

    /// The client-credentials grant for a demo access key, as `POST
    /// /auth/token` serves it in demo mode.
    pub fn client_credentials(&self, headers: &HeaderMap, form: &TokenForm) -> Response {
        let base = self.base_url(headers);
        token::respond(token::client_credentials(self, &base, headers, form))
    }

    fn state(&self) -> &StateStore {
        &self.inner.state
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The issuer: the configured public URL, or, for a local demo
    /// without one, the base URL this request reached the server at.
    fn base_url(&self, headers: &HeaderMap) -> String {
        match &self.settings().public_url {
            Some(url) => url.clone(),
            None => self.inner.resource.request_base_url(headers),
        }
    }

    fn scopes(&self) -> Vec<Scope> {
        self.inner.resource.scopes()
    }

    fn scope_names(&self) -> Vec<String> {
        self.scopes().into_iter().map(|scope| scope.name).collect()
    }
}

/// What the demo server's paths answer outside demo mode, where it is not
/// mounted: a 404 that says how to turn it on.
pub fn absent_router() -> Router {
    let mut router = Router::new();
    for path in METADATA_PATHS {
        router = router.route(path, get(not_in_demo_mode));
    }
    router
        .route(JWKS_PATH, get(not_in_demo_mode))
        .route(REGISTER_PATH, post(not_in_demo_mode))
        .route(AUTHORIZE_PATH, get(not_in_demo_mode).post(not_in_demo_mode))
        .route(TOKEN_PATH, post(not_in_demo_mode))
}

/// An error page the user sees, as this crate's handlers answer it.
fn error_page(status: StatusCode, message: &str) -> Response {
    oauth_kit::error_page(status, message).into_response()
}

/// What a sign-in page answers while the shared state (Redis) is down.
fn unreachable_page() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-ins are kept in Redis, which this server cannot reach right now. Try again in a moment.",
    )
}

/// What the API endpoints answer while the shared state (Redis) is down:
/// `503`, and nothing was changed.
fn unreachable_error() -> OAuthError {
    OAuthError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the authorization server keeps its state in Redis, which it cannot reach right now; try again shortly",
    )
}

async fn not_in_demo_mode() -> Response {
    OAuthError::new(
        StatusCode::NOT_FOUND,
        "invalid_request",
        "the demo authorization server runs only in demo mode (DESCOPE_DEMO_MODE=true)",
    )
    .to_response()
    .into_response()
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414). The issuer is
/// the configured public URL, or for a local demo the base URL the client
/// reached the server at, so it equals the protected-resource metadata's
/// `authorization_servers` entry byte for byte.
async fn metadata(State(server): State<DemoOAuth>, headers: HeaderMap) -> Response {
    let base = server.base_url(&headers);
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "registration_endpoint": format!("{base}{REGISTER_PATH}"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "scopes_supported": server.scope_names(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// `GET /oauth/jwks`: the key the demo server signs with.
async fn jwks(State(server): State<DemoOAuth>) -> Response {
    Json(server.inner.key.jwks()).into_response()
}
