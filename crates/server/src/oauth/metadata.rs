//! OAuth discovery: protected-resource metadata (RFC 9728).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::AppState;

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
///
/// MCP clients read it after a 401 to find the authorization server and the
/// scopes to ask for. `resource` must equal the URL the client connected to,
/// so it is built from the request (or `PUBLIC_URL`).
pub(crate) async fn protected_resource(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Json<Value> {
    let base = state.request_base(&headers);
    Json(json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [state.authorization_server.issuer(&base)],
        "scopes_supported": state.scope_names(),
        "bearer_methods_supported": ["header"],
        "resource_name": "orchestrator-mcp",
    }))
}
