//! `GET /health`: what this server is running.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;

/// Version, auth mode, plugins and tools, and the active policy set.
///
/// Unauthenticated, for load balancers, so it shows file names but no paths.
pub(crate) async fn health(State(state): State<AppState>) -> Json<Value> {
    let plugins = state.catalogue.plugins();
    let policies = state.catalogue.policies();
    let plugin_list: Vec<Value> = plugins
        .plugins()
        .iter()
        .map(|plugin| {
            json!({
                "name": plugin.name,
                "version": plugin.version,
                "file": plugin.file.file_name().map(|n| n.to_string_lossy().into_owned()),
                "tools": plugin.tools,
            })
        })
        .collect();
    let tools: Vec<&str> = plugins.tools().map(|(name, _)| name).collect();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "auth_mode": state.verifier.mode(),
        "jwks": state.verifier.jwks_status(),
        "plugins": plugin_list,
        "tools": tools,
        "policy": {
            "hash": policies.hash(),
            "policies": policies.policy_count(),
            "scopes": policies.scopes().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        },
    }))
}
