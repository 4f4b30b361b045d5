//! The server card (`/.well-known/mcp/server-card.json`, MCP SEP-2127): what
//! a directory or client reads before it connects: who the server is,
//! where its MCP endpoint is, which protocol revisions it speaks, how to
//! get a token, and what the scopes a token may carry grant.
//!
//! Built from the loaded plugins and the policies, so it cannot drift from
//! what is served; `cargo xtask gen` writes the same card (for the default
//! address) to config/mcp/server-card.json. Only what some non-`admin:`
//! scope grants is listed: the server's own tools and resources are not
//! advertised.

use plugin_host::PluginHost;
use policy::PolicyEngine;
use serde_json::{Value, json};

/// The protocol revisions the server speaks, newest first.
pub(crate) const PROTOCOL_VERSIONS: [&str; 4] =
    ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

/// The card for a server reached at `base` (`https://mcp.example.com`).
pub(crate) fn server_card(plugins: &PluginHost, policies: &PolicyEngine, base: &str) -> Value {
    let base = base.trim_end_matches('/');
    let public: Vec<_> = policies
        .scopes()
        .iter()
        .filter(|scope| !scope.name.starts_with("admin:"))
        .collect();
    let granting = |pick: fn(&policy::ScopeInfo) -> &[String], item: &str| -> Vec<String> {
        public
            .iter()
            .filter(|scope| pick(scope).iter().any(|named| named == item))
            .map(|scope| scope.name.clone())
            .collect()
    };
    // An item is listed, with the keys of its descriptor in `keep`, when some
    // public scope grants it.
    let listed = |descriptor: &Value,
                  name: &str,
                  pick: fn(&policy::ScopeInfo) -> &[String],
                  keep: &[&str]|
     -> Option<Value> {
        let scopes = granting(pick, name);
        if scopes.is_empty() {
            return None;
        }
        let mut entry: serde_json::Map<String, Value> = keep
            .iter()
            .filter_map(|key| Some(((*key).to_owned(), descriptor.get(*key)?.clone())))
            .collect();
        entry.insert("scopes".to_owned(), json!(scopes));
        Some(Value::Object(entry))
    };
    const NAMED: [&str; 3] = ["name", "title", "description"];
    // Plugins list their tools by name and their prompts by name.
    let tools: Vec<Value> = plugins
        .tools()
        .filter_map(|(name, tool)| listed(tool.descriptor(), name, |scope| &scope.tools, &NAMED))
        .collect();
    let prompts: Vec<Value> = plugins
        .prompts()
        .filter_map(|prompt| {
            listed(
                prompt.descriptor(),
                prompt.name(),
                |scope| &scope.prompts,
                &NAMED,
            )
        })
        .collect();
    let resource = |entry: &plugin_host::ResourceEntry, key: &'static str| {
        listed(
            entry.descriptor(),
            entry.key(),
            |scope| &scope.resources,
            &[key, "name", "title", "description", "mimeType"],
        )
    };
    let resources: Vec<Value> = plugins
        .resources()
        .filter_map(|entry| resource(entry, "uri"))
        .collect();
    let templates: Vec<Value> = plugins
        .resource_templates()
        .filter_map(|entry| resource(entry, "uriTemplate"))
        .collect();
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    json!({
        "$schema": "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json",
        "name": "io.github.orchestrator-mcp/orchestrator-mcp",
        "title": "orchestrator-mcp",
        "description": "Policy-governed MCP tools: every tool call, resource read and prompt is decided by Cedar policies for the caller's token.",
        "version": env!("CARGO_PKG_VERSION"),
        "repository": {"url": "https://github.com/orchestrator-mcp/orchestrator-mcp", "source": "github"},
        "remotes": [{
            "type": "streamable-http",
            "url": format!("{base}/mcp"),
            "headers": [{
                "name": "Authorization",
                "description": format!("Bearer <token>, from the authorization server {metadata} names (OAuth 2.1 with PKCE, or an access key)"),
                "isRequired": true,
                "isSecret": true,
            }],
        }],
        "supportedProtocolVersions": PROTOCOL_VERSIONS,
        "_meta": {
            "orchestrator-mcp/authorization": {
                "protectedResourceMetadata": metadata,
                "scopes": public.iter().map(|scope| json!({"name": scope.name, "description": scope.description})).collect::<Vec<_>>(),
            },
            "orchestrator-mcp/catalogue": {
                "tools": tools,
                "prompts": prompts,
                "resources": resources,
                "resourceTemplates": templates,
            },
        },
    })
}
