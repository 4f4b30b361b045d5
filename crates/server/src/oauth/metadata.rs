//! OAuth discovery: protected-resource metadata (RFC 9728).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{AuthorizationServer, OAuthState};

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
///
/// MCP clients read it after a 401 to find the authorization server and the
/// scopes to ask for. `resource` must equal the URL the client connected to,
/// so it is built from the request (or `PUBLIC_URL`).
pub(super) async fn protected_resource(
    State(state): State<OAuthState>,
    headers: HeaderMap,
) -> Json<Value> {
    let base = state.base.for_request(&headers);
    let issuer = match &state.authorization_server {
        AuthorizationServer::Demo(_) => base.clone(),
        AuthorizationServer::Descope { issuer, .. } => issuer.clone(),
    };
    Json(json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [issuer],
        "scopes_supported": state.catalogue.scope_names(),
        "bearer_methods_supported": ["header"],
        "resource_name": "orchestrator-mcp",
    }))
}
