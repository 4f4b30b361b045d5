//! The OAuth door: the protected-resource metadata clients discover the
//! authorization server from (RFC 9728), `POST /auth/token` for machines,
//! and the browser login helper.
//!
//! Which authorization server issues tokens is one [`AuthorizationServer`]:
//! the embedded demo server or Descope. Handlers match on it; none asks
//! whether the server runs in demo mode.

mod login;
mod metadata;
mod token;

pub(crate) use login::Logins;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use core_auth::{AccessKeyExchange, TokenVerifier};
use demo_oauth::DemoOAuth;

use crate::catalogue::Catalogue;
use crate::settings::DescopeClient;
use crate::web::PublicBase;

/// The authorization server that issues the tokens this server accepts.
#[derive(Clone)]
pub(crate) enum AuthorizationServer {
    /// The embedded demo server, whose issuer is this server's base URL.
    Demo(DemoOAuth),
    /// Descope.
    Descope {
        /// The issuer named in the protected-resource metadata.
        issuer: String,
        /// Exchanges access keys for session tokens (`/auth/token`).
        access_keys: Arc<AccessKeyExchange>,
        /// The inbound app the login helper signs in through, if set.
        login_client: Option<DescopeClient>,
    },
}

/// What the OAuth door needs.
#[derive(Clone)]
pub(crate) struct OAuthState {
    pub(crate) authorization_server: AuthorizationServer,
    /// Checks a token before `/auth/token` hands it out.
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    /// Scopes, from the active policies.
    pub(crate) catalogue: Catalogue,
    pub(crate) base: PublicBase,
    /// The login helper's logins in flight.
    pub(crate) logins: Arc<login::Logins>,
    /// Where a console sign-in opens its session.
    pub(crate) console_sessions: Arc<crate::web::console_session::ConsoleSessions>,
}

/// The door's routes, answered to allowed hosts only (the app's Host guard).
pub(crate) fn router(state: OAuthState) -> Router {
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(metadata::protected_resource),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(metadata::protected_resource),
        )
        .route("/auth/token", post(token::token))
        .route("/auth/login", get(login::login))
        .route("/auth/callback", get(login::callback))
        .with_state(state)
}
