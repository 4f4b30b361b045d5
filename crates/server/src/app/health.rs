//! `GET /health`: whether the server serves, for anyone; what it runs, for
//! its operators.
//!
//! Probes (load balancers, Kubernetes) call it without a token and often
//! by an address rather than a configured host name, so every request gets
//! `status` and `version`, and the reasons when degraded. The details (the
//! JWKS URL, the plugins, the policy hash) help an attacker plan, so they
//! go only to a token with an `admin:` scope, or to a request made on this
//! machine: a loopback peer, not relaying anyone (no `X-Forwarded-For`),
//! addressed to an allowed host. A loopback peer with a foreign `Host` is
//! what DNS rebinding looks like from a browser, and gets the summary. A
//! reverse proxy on the same machine must be listed in `TRUSTED_PROXIES`,
//! or the requests it relays without marking them would pass for local.

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::uri::Authority;
use core_auth::bearer_token;
use serde_json::{Value, json};

use super::AppState;
use crate::settings::{RedisFailure, hosts_admit, trusts};

/// The summary for everyone, the details for operators.
///
/// A rejected policy reload, keys that could not be refreshed, or plugin
/// calls stuck past their time limit in half the slots make the status
/// `degraded` (still HTTP 200: the server serves) with the reasons.
pub(crate) async fn health(State(state): State<AppState>, request: Request) -> Json<Value> {
    let reasons = degraded_reasons(&state);
    let status = if reasons.is_empty() { "ok" } else { "degraded" };
    let mut body = json!({ "status": status, "version": env!("CARGO_PKG_VERSION") });
    if !reasons.is_empty() {
        body["reasons"] = json!(reasons);
    }
    // Whether this machine asks is settled before the token is looked at,
    // so that the request is not held across the verification.
    let local = is_local(&state, &request);
    if local || holds_admin_scope(&state, request.headers()).await {
        add_details(&state, &mut body);
        add_replicas(&state, &mut body).await;
    }
    Json(body)
}

/// Why the server is degraded, if it is.
fn degraded_reasons(state: &AppState) -> Vec<String> {
    let mut reasons = Vec::new();
    // The reasons go to anyone, so they say what is wrong, not where: the
    // error itself (which names files) is in the details.
    if state
        .catalogue
        .policy_store()
        .last_reload()
        .is_some_and(|reload| reload.error.is_some())
    {
        reasons.push("the last policy reload was rejected; the previous policies serve".to_owned());
    }
    if let Some(jwks) = state.verifier.jwks_status()
        && jwks.stale
    {
        reasons.push("the signing keys could not be refreshed; cached keys serve".to_owned());
    }
    let shared = state.shared.health();
    if let Some(redis) = &shared.redis
        && !redis.up
    {
        reasons.push(match shared.failure {
            RedisFailure::Closed => "Redis is unreachable; requests that need it (every authenticated one) are refused with 503 until it is back (REDIS_FAILURE=closed)".to_owned(),
            RedisFailure::Open => "Redis is unreachable; requests are served with this replica's own rate limits and no revocation check until it is back (REDIS_FAILURE=open)".to_owned(),
        });
    }
    let load = state.catalogue.plugins().load_now();
    if load.abandoned * 2 >= load.limit && load.abandoned > 0 {
        reasons.push(format!(
            "{} plugin calls still run past their time limit, holding slots of the {} per depth \
             (PLUGIN_MAX_CONCURRENCY)",
            load.abandoned, load.limit
        ));
    }
    reasons
}

/// Whether `request` comes from this machine, addressed to an allowed host.
fn is_local(state: &AppState, request: &Request) -> bool {
    // A reverse proxy on this machine is a loopback peer too: a peer listed
    // in TRUSTED_PROXIES, or a request bearing any mark of being relayed or
    // sent by a page, is not taken for a local one.
    let loopback_peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical())
        .is_some_and(|peer| peer.is_loopback() && !trusts(&state.trusted_proxies, peer));
    let relayed = ["x-forwarded-for", "forwarded", "x-real-ip", "via", "origin"]
        .iter()
        .any(|name| request.headers().contains_key(*name));
    let authority = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<Authority>().ok());
    let addressed_here = authority.is_some_and(|authority| {
        if state.allowed_hosts.is_empty() {
            // Every host is allowed, so only this machine's own names say
            // the request was meant for it.
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        } else {
            hosts_admit(&state.allowed_hosts, &authority)
        }
    });
    loopback_peer && !relayed && addressed_here
}

async fn holds_admin_scope(state: &AppState, headers: &HeaderMap) -> bool {
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Ok(token) = bearer_token(header) else {
        return false;
    };
    let Ok(principal) = state.verifier.verify(token).await else {
        return false;
    };
    // A revoked token shows no more than no token: checked, never charged.
    principal
        .scopes
        .iter()
        .any(|scope| scope.starts_with("admin:"))
        && state.shared.admit(&principal, None).await.is_ok()
}

/// Every replica sharing this one's Redis, with the policy set each runs,
/// as their heartbeats say.
async fn add_replicas(state: &AppState, body: &mut Value) {
    let Some(redis) = state.shared.redis() else {
        return;
    };
    body["replicas"] = match redis.replicas().await {
        Ok(replicas) => json!(replicas),
        Err(unavailable) => json!({ "error": unavailable.to_string() }),
    };
}

/// Version, auth mode, keys, plugins and tools, plugin call load, and the
/// active policy set with the latest reload attempt. File names, no paths.
fn add_details(state: &AppState, body: &mut Value) {
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
    body["auth_mode"] = json!(state.verifier.mode());
    body["jwks"] = json!(state.verifier.jwks_status());
    body["plugins"] = json!(plugin_list);
    body["tools"] = json!(state.catalogue.tool_names());
    body["plugin_calls"] = json!(plugins.load_now());
    let shared = state.shared.health();
    body["shared_state"] = match &shared.redis {
        None => json!({ "backend": shared.backend }),
        Some(redis) => json!({
            "backend": shared.backend,
            "status": if redis.up { "up" } else { "down" },
            "reason": redis.reason,
            "failure_mode": match shared.failure {
                RedisFailure::Closed => "closed",
                RedisFailure::Open => "open",
            },
            "round_trips": redis.round_trips,
            "errors": redis.errors,
        }),
    };
    body["policy"] = json!({
        "hash": policies.hash(),
        "policies": policies.policy_count(),
        "scopes": policies.scopes().iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        "last_reload": state.catalogue.policy_store().last_reload(),
    });
}
