//! The MCP door: streamable HTTP at `/mcp`, with the guard that checks
//! every body before the MCP service sees it, routes it to a session or not,
//! and reads the session settings a client may narrow its tools with.
//!
//! Served statelessly: every POST without a session stands alone, so
//! replicas need nothing shared. A 2025-era `initialize` opens a session
//! (see `sessions.rs`), in which rmcp serves that client's later requests.
//! Listing and calling go through the same [`Catalogue`] as the REST door,
//! so the policies decide both.

mod approval;
mod asking;
mod call;
mod declared;
mod denial;
mod direct;
pub mod fuzzing;
mod guard;
mod handler;
mod refusals;
mod request_state;
mod session_settings;
mod session_store;
mod sessions;
mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

#[cfg(test)]
pub(crate) use direct::{ANSWERED_DIRECTLY, THROUGH_RMCP};
pub(crate) use handler::check_tool_descriptors;
pub(crate) use request_state::RequestStates;

use crate::catalogue::Catalogue;
use crate::web::PublicBase;
use guard::{MCP_SESSION_ID, Route};
use handler::McpServer;
use sessions::SessionRegistry;
use subscriptions::Listeners;

/// What the MCP door needs.
#[derive(Clone)]
pub(crate) struct McpState {
    pub(crate) catalogue: Catalogue,
    /// `MAX_REQUEST_SIZE_MB`, in bytes.
    pub(crate) max_request_bytes: usize,
    pub(crate) base: PublicBase,
    sessions: Arc<SessionRegistry>,
    listeners: Arc<Listeners>,
    states: Arc<RequestStates>,
    /// Every tool's MCP object.
    tools: Arc<handler::ToolObjects>,
}

impl McpState {
    pub(crate) fn new(
        catalogue: Catalogue,
        max_request_bytes: usize,
        base: PublicBase,
        states: Arc<RequestStates>,
    ) -> Self {
        let catalogue_redis = catalogue.shared().redis().cloned();
        Self {
            max_request_bytes,
            base,
            sessions: Arc::new(SessionRegistry::new().shared_in(catalogue_redis)),
            listeners: Arc::default(),
            tools: Arc::new(handler::ToolObjects::of(&catalogue)),
            states,
            catalogue,
        }
    }
}

/// The file in `DATA_DIR` that holds the approval key when `APPROVAL_KEY`
/// is not set.
pub(crate) const APPROVAL_KEY_FILE: &str = "approval.key";

/// What seals `requestState`: `APPROVAL_KEY`, or a key generated once and
/// kept in `DATA_DIR`; with Redis and no `APPROVAL_KEY`, the first
/// replica's, which every replica shares, so an approval begun on one is
/// accepted by all.
pub(crate) async fn request_states(
    settings: &crate::settings::ApprovalSettings,
    shared: &Arc<crate::shared::Shared>,
) -> anyhow::Result<Arc<RequestStates>> {
    use anyhow::Context as _;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let key = match &settings.key {
        Some(key) => key.as_bytes().to_vec(),
        None => {
            let file = settings.data_dir.join(APPROVAL_KEY_FILE);
            let own = oauth_kit::load_or_create_secret(&file).with_context(
                || "the approval key (set APPROVAL_KEY, or DATA_DIR to a writable directory)",
            )?;
            match shared.redis() {
                None => own,
                Some(redis) => {
                    let stored = redis
                        .shared_secret(APPROVAL_KEY_SECRET, &STANDARD.encode(&own))
                        .await
                        .context("sharing the approval key through Redis (or set APPROVAL_KEY)")?;
                    STANDARD.decode(stored.as_bytes()).context(
                        "the approval key in Redis is not base64; delete it and restart, or set APPROVAL_KEY",
                    )?
                }
            }
        }
    };
    Ok(Arc::new(
        RequestStates::new(&key, settings.ttl)?.shared_by(Arc::clone(shared)),
    ))
}

/// The name the approval key is shared under in Redis.
const APPROVAL_KEY_SECRET: &str = "approval-key";

/// The two MCP services: one stateless, one with sessions.
struct Services {
    stateless: StreamableHttpService<McpServer, NeverSessionManager>,
    sessions: StreamableHttpService<McpServer, LocalSessionManager>,
    registry: Arc<SessionRegistry>,
}

/// `/mcp`. Expects the Host guard and the authentication layer in front of
/// it: the guard reads the [`crate::catalogue::Caller`] they record.
pub(crate) fn router(state: McpState) -> Router {
    // The Host guard in front of every route is the one Host check, so
    // rmcp's own list stays off.
    let mut config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(state.max_request_bytes);
    // With Redis, a session is kept where any replica can restore it.
    if let Some(redis) = state.catalogue.shared().redis() {
        config.session_store = Some(Arc::new(session_store::RedisSessions {
            redis: redis.clone(),
        }));
    }
    // A handler per session (per request when stateless): what it keeps,
    // such as a log level or subscriptions, is never another client's.
    let new_handler = {
        let catalogue = state.catalogue.clone();
        let listeners = Arc::clone(&state.listeners);
        let states = Arc::clone(&state.states);
        let tools = Arc::clone(&state.tools);
        move || {
            Ok(McpServer::new(
                catalogue.clone(),
                Arc::clone(&listeners),
                Arc::clone(&states),
                Arc::clone(&tools),
            ))
        }
    };
    let stateless = StreamableHttpService::new(
        new_handler.clone(),
        Arc::new(NeverSessionManager::default()),
        config
            .clone()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );
    let sessions = StreamableHttpService::new(
        new_handler,
        state.sessions.manager(),
        config.with_legacy_session_mode(true),
    );
    // Shared, not copied, by every request: each clone of a state is one
    // per request.
    let door = Arc::new(Door {
        services: Arc::new(Services {
            stateless,
            sessions,
            registry: Arc::clone(&state.sessions),
        }),
        state,
    });
    // Paths below /mcp reach the same service, as a nested service would.
    Router::new()
        .route("/mcp", any(serve))
        .route("/mcp/{*rest}", any(serve))
        .with_state(door)
}

/// What `/mcp` serves with: the guard's state and the services behind it.
struct Door {
    state: McpState,
    services: Arc<Services>,
}

/// `/mcp`: the guard's checks, then the service they route the request to.
/// (The guard is not a layer: a layer would copy and box the route inside
/// it for every request.)
async fn serve(State(door): State<Arc<Door>>, request: Request) -> Response {
    guard::serve(&door.state, request, |request| {
        dispatch(Arc::clone(&door.services), request)
    })
    .await
}

/// `GET /.well-known/mcp/server-card.json`: the server card, for the
/// server's public URL (or the request's, without one). Public, like the
/// other discovery documents.
pub(crate) fn card_router(catalogue: Catalogue, base: PublicBase) -> Router {
    async fn card(
        State((catalogue, base)): State<(Catalogue, PublicBase)>,
        headers: axum::http::HeaderMap,
    ) -> Response {
        let policies = catalogue.policies();
        let card = crate::catalogue::server_card(
            catalogue.plugins(),
            &policies,
            &base.for_request(&headers),
        );
        axum::Json(card).into_response()
    }
    Router::new()
        .route(
            "/.well-known/mcp/server-card.json",
            axum::routing::get(card),
        )
        .with_state((catalogue, base))
}

/// Hands the request to the service the guard routed it to.
async fn dispatch(services: Arc<Services>, request: Request) -> Response {
    let route = request
        .extensions()
        .get::<Route>()
        .cloned()
        .unwrap_or(Route::Stateless);
    let closing = request.method() == axum::http::Method::DELETE;
    let session = request
        .headers()
        .get(MCP_SESSION_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    match route {
        Route::Stateless => services.stateless.handle(request).await.into_response(),
        Route::Session => {
            let response = services.sessions.handle(request).await;
            if closing
                && response.status().is_success()
                && let Some(session) = session
            {
                services.registry.closed(&session);
            }
            response.into_response()
        }
        Route::OpenSession(principal) => {
            // In a task of its own, so that a session rmcp opens is recorded
            // (and counted) even if the client goes away meanwhile.
            let opening = tokio::spawn(async move {
                let response = services.sessions.handle(request).await;
                let opened = response
                    .headers()
                    .get(MCP_SESSION_ID)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                if let Some(opened) = opened {
                    services.registry.opened(opened, &principal);
                }
                response
            });
            match opening.await {
                Ok(response) => response.into_response(),
                Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
    }
}
