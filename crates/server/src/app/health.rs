//! `GET /health`: what this server is running.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;

/// Version, auth mode, plugins and tools, and the active policy set with the
/// latest reload attempt. A rejected reload makes the status `degraded`
/// (still HTTP 200: the server serves, under the previous set) until a
/// reload succeeds.
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
    let tools = state.catalogue.tool_names();
    let reload = state.catalogue.policy_store().last_reload();
    let status = if reload.as_ref().is_some_and(|r| r.error.is_some()) {
        "degraded"
    } else {
        "ok"
    };
    Json(json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "auth_mode": state.verifier.mode(),
        "jwks": state.verifier.jwks_status(),
        "plugins": plugin_list,
        "tools": tools,
        "policy": {
            "hash": policies.hash(),
            "policies": policies.policy_count(),
            "scopes": policies.scopes().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "last_reload": reload,
        },
    }))
}
