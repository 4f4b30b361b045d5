//! Small HTTP helpers shared by the test modules.

use e2e::{DEMO_TOKEN, Server};
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Every tool the server offers with the bundled plugins, by name: the
/// plugins' tools and the server's own.
pub(crate) const EVERY_TOOL: &[&str] = &[
    "architect",
    "audit_log",
    "cloud_plan",
    "deploy_plan",
    "fix_code",
    "generate_application",
    "optimize_prompt",
    "orchestrate",
    "ping",
    "quality_report",
    "reload_policies",
    "review_code",
    "revoke_tokens",
    "server_config",
];

/// What a test looks at in a response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn client() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("http client")
}

fn reply(response: reqwest::blocking::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().expect("response body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// `POST /tools/{tool}` with a JSON body, as the guide's curl command does.
pub(crate) fn post_tool(server: &Server, tool: &str, token: Option<&str>, body: &str) -> Reply {
    let mut request = client()
        .post(server.url(&format!("/tools/{tool}")))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request.send().expect("POST /tools"))
}

/// `POST /tools/{tool}` with the demo token.
pub(crate) fn post_tool_as_demo(server: &Server, tool: &str, body: &str) -> Reply {
    post_tool(server, tool, Some(DEMO_TOKEN), body)
}

/// One raw JSON-RPC POST to `/mcp`, as a streamable HTTP client sends it.
pub(crate) fn post_mcp(server: &Server, token: Option<&str>, body: &str) -> Reply {
    let mut request = client()
        .post(server.url("/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request.send().expect("POST /mcp"))
}

/// A JSON-RPC request body.
pub(crate) fn jsonrpc(id: u64, method: &str, params: Value) -> String {
    serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
        .to_string()
}

pub(crate) fn get(server: &Server, path: &str) -> Reply {
    reply(client().get(server.url(path)).send().expect("GET"))
}

/// `value` with every object's keys sorted, so snapshots do not depend on
/// whether serde_json preserves insertion order in this build.
pub(crate) fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|key| (key.clone(), canonical(&map[key])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}
