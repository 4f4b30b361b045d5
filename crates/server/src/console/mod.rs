//! The admin console at `/admin`: the server's state, its policies, its
//! decisions as they happen, what-if questions and candidate replays, in a
//! browser.
//!
//! A person signs in through the login helper (`/auth/login?for=console`),
//! which opens a session ([`ConsoleSessions`]); every console route but the
//! two static files and signing out then decides `admin` on
//! `Console::"admin"` with the policies active at that moment, so a policy
//! change closes the console at the next request (a scope taken away at
//! the identity provider, when the session ends: it lasts as long as the
//! token did, at most an hour). A browser without a session gets the
//! sign-in page (401), a principal the policies refuse gets 403. The
//! decision records are shown only to those the policies also allow to
//! read `orchestrator://decisions`. Every form carries the session's CSRF
//! token, every answer a strict Content-Security-Policy with no inline
//! script, and nothing the console shows holds a token or a secret
//! (recorded arguments whose names look secret are digests, and the
//! console does not show arguments).

mod html;
mod pages;
mod tryout;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use core_auth::Principal;
use oauth_kit::ClientAddress;
use tokio::sync::Semaphore;

use crate::catalogue::Catalogue;
use crate::shared::{Limit, Refusal};
use crate::web::PublicBase;
use crate::web::console_session::ConsoleSessions;

/// What the console reaches.
#[derive(Clone)]
pub(crate) struct ConsoleState {
    pub(crate) catalogue: Catalogue,
    pub(crate) sessions: Arc<ConsoleSessions>,
    pub(crate) base: PublicBase,
    /// `RATE_LIMIT_PUBLIC_PER_MINUTE`, charged per client address for
    /// every request without a session.
    pub(crate) public_rate_limiter: Option<Arc<Limit<IpAddr>>>,
    /// `RATE_LIMIT_PER_MINUTE`, charged per principal for every form a
    /// signed-in person posts (the pages and the live view are reads).
    pub(crate) rate_limiter: Option<Arc<Limit>>,
    /// One candidate replay at a time: each loads a policy set and decides
    /// every recent record again.
    pub(crate) replays: Arc<Semaphore>,
}

/// The signed-in person a console request is from, once the policies let
/// them in.
#[derive(Clone)]
pub(crate) struct Admin {
    pub(crate) principal: Arc<Principal>,
    /// The token the session's forms carry back.
    pub(crate) csrf: String,
    /// Whether the policies let them read the decision records.
    pub(crate) reads_decisions: bool,
}

/// The strictest policy the pages work under: their own stylesheet and
/// script, their own origin for the live view, forms posted only here, and
/// never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form the console reads: a candidate policy file (at most
/// [`tryout::MAX_CANDIDATE_BYTES`]) percent-encoded, with room to spare.
const MAX_FORM_BYTES: usize = 4 * tryout::MAX_CANDIDATE_BYTES;

/// The console's routes.
pub(crate) fn router(state: ConsoleState) -> Router {
    let guarded = Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/policies", get(pages::policies))
        .route("/admin/decisions", get(pages::decisions))
        .route("/admin/decisions.json", get(pages::decisions_json))
        .route(
            "/admin/what-if",
            get(tryout::what_if_form).post(tryout::what_if),
        )
        .route("/admin/diff", get(tryout::diff_form).post(tryout::diff))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .merge(guarded)
        // Anyone signed in may sign out, let in or not.
        .route("/admin/sign-out", post(tryout::sign_out))
        .route("/admin/console.css", get(stylesheet))
        .route("/admin/console.js", get(script))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn(secure_headers))
        .with_state(state)
}

/// Lets in a session whose principal the active policies allow `admin` on
/// the console; the sign-in page (401) without a session, 403 otherwise.
async fn require_admin(
    State(state): State<ConsoleState>,
    mut request: Request,
    next: Next,
) -> Response {
    let json = request.uri().path().ends_with(".json");
    let address = request
        .extensions()
        .get::<ClientAddress>()
        .map(|ClientAddress(address)| *address);
    let secure = state
        .base
        .for_request(request.headers())
        .starts_with("https://");
    let Some(session) = state.sessions.find(request.headers(), secure) else {
        if let (Some(limiter), Some(address)) = (&state.public_rate_limiter, address)
            && let Err(refusal) = crate::web::charge_address(limiter, address).await
        {
            return refusal.into_response();
        }
        return sign_in_first(
            json,
            "not_signed_in",
            "Sign in to the console at /admin first.",
        );
    };
    // The session's token may have been revoked since it was opened (on
    // any replica): checked on every request, and a form posted is charged
    // in the same step.
    let charged = match request.method() {
        &Method::POST => state.rate_limiter.as_deref(),
        _ => None,
    };
    match state
        .catalogue
        .shared()
        .admit(&session.principal, charged)
        .await
    {
        Ok(()) => {}
        Err(Refusal::Revoked) => {
            tracing::info!(
                target: "orchestrator::console",
                principal = %session.principal.id,
                "a console session's token was revoked: the session is closed"
            );
            state.sessions.close(request.headers(), secure);
            return sign_in_first(
                json,
                "invalid_token",
                "Token has been revoked: sign in to the console at /admin again.",
            );
        }
        Err(refusal) => {
            let per_minute = charged.map_or(0, Limit::per_minute);
            return crate::web::refused(refusal, per_minute, "caller", "RATE_LIMIT_PER_MINUTE")
                .into_response();
        }
    }
    let decision = state
        .catalogue
        .console_decision(&session.principal, address);
    if !decision.allowed {
        tracing::info!(
            target: "orchestrator::console",
            principal = %session.principal.id,
            path = request.uri().path(),
            "the policies refuse this principal the admin console"
        );
        return html::forbidden_page(
            &session.principal,
            &session.csrf,
            &decision.accepted_scopes,
            json,
        );
    }
    let reads_decisions = state.catalogue.reads_decisions(&session.principal, address);
    request.extensions_mut().insert(Admin {
        principal: session.principal,
        csrf: session.csrf,
        reads_decisions,
    });
    next.run(request).await
}

/// 401: the sign-in page, or for the JSON routes the error and what to do.
fn sign_in_first(json: bool, error: &str, description: &str) -> Response {
    if !json {
        return html::sign_in_page();
    }
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({
            "error": error,
            "error_description": description,
        })),
    )
        .into_response()
}

/// The headers every console answer carries.
async fn secure_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Pages show live state; only the two files may be kept (their URLs
    // carry the version).
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// How long a browser keeps the stylesheet and the script.
const ASSET_CACHE: HeaderValue = HeaderValue::from_static("private, max-age=3600");

async fn stylesheet() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        include_str!("assets/console.css"),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        include_str!("assets/console.js"),
    )
        .into_response()
}
