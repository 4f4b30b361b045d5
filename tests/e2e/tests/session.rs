//! Session settings: what `smithery.yaml`'s `configSchema` offers, as the
//! server honours it on `/mcp`.

use e2e::{Sandbox, Server, workspace_root};
use serde_json::{Value, json};

use crate::util::{Reply, client, jsonrpc};

const DEMO_TOKEN: &str = "demo_token_12345";

/// `POST /mcp?{query}` with the demo token.
fn post_mcp_with(server: &Server, query: &str, body: &str) -> Reply {
    let response = client()
        .post(server.url(&format!("/mcp?{query}")))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(body.to_owned())
        .send()
        .expect("POST /mcp");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// The names `tools/list` answers for a session with `query`.
fn listed(server: &Server, query: &str) -> Vec<String> {
    let reply = post_mcp_with(server, query, &jsonrpc(1, "tools/list", json!({})));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mut names: Vec<String> = reply.body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn the_session_settings_smithery_offers_are_the_ones_the_server_reads() {
    let text = std::fs::read_to_string(workspace_root().join("smithery.yaml")).expect("read");
    let yaml: Value = serde_norway::from_str(&text).expect("smithery.yaml parses");
    let properties = yaml["startCommand"]["configSchema"]["properties"]
        .as_object()
        .expect("properties");
    let names: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(names, ["readOnly", "tools"]);
    // Smithery sends each setting's default when the user sets nothing.
    let defaults: Vec<String> = properties
        .iter()
        .map(|(name, property)| {
            let value = match &property["default"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("{name}={value}")
        })
        .collect();
    let server = Server::start(&Sandbox::new());
    assert_eq!(listed(&server, &defaults.join("&")), listed(&server, ""));
}

#[test]
fn read_only_sessions_list_and_call_only_read_only_tools() {
    let server = Server::start(&Sandbox::new());
    let everything = listed(&server, "");
    let read_only = listed(&server, "readOnly=true");
    assert!(read_only.contains(&"ping".to_owned()), "{read_only:?}");
    assert!(
        !read_only.contains(&"orchestrate".to_owned()),
        "{read_only:?}"
    );
    assert!(read_only.len() < everything.len());
    let call = post_mcp_with(
        &server,
        "readOnly=true",
        &jsonrpc(
            2,
            "tools/call",
            json!({"name": "orchestrate", "arguments": {}}),
        ),
    );
    assert_eq!(call.body["error"]["code"], -32602, "{:?}", call.body);
    let message = call.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("readOnly=true"), "{message}");
}

#[test]
fn a_tools_setting_narrows_the_session_to_those_tools() {
    let server = Server::start(&Sandbox::new());
    assert_eq!(
        listed(&server, "tools=ping,review_code"),
        ["ping", "review_code"]
    );
    let call = post_mcp_with(
        &server,
        "tools=ping",
        &jsonrpc(
            3,
            "tools/call",
            json!({"name": "orchestrate", "arguments": {"steps": []}}),
        ),
    );
    assert_eq!(call.body["error"]["code"], -32602, "{:?}", call.body);
    let allowed = post_mcp_with(
        &server,
        "tools=ping",
        &jsonrpc(4, "tools/call", json!({"name": "ping", "arguments": {}})),
    );
    assert_eq!(
        allowed.body["result"]["isError"], false,
        "{:?}",
        allowed.body
    );
}

#[test]
fn a_malformed_session_setting_is_a_json_rpc_error_with_400() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp_with(
        &server,
        "readOnly=maybe",
        &jsonrpc(5, "tools/list", json!({})),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], -32602);
    assert_eq!(
        reply.body["error"]["message"],
        "session setting `readOnly` is `maybe`; use true or false"
    );
}

/// `orchestrate`'s report for a plan run in a session with `query`.
fn orchestrated(server: &Server, query: &str, steps: Value) -> Value {
    let reply = post_mcp_with(
        server,
        query,
        &jsonrpc(
            1,
            "tools/call",
            json!({"name": "orchestrate", "arguments": {"steps": steps}}),
        ),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["result"]["isError"], false, "{:?}", reply.body);
    reply.body["result"]["structuredContent"].clone()
}

#[test]
fn session_narrowing_holds_for_the_calls_a_tool_makes() {
    // Found by an attacker: on /mcp?tools=orchestrate, orchestrate's steps
    // ran server_config and reload_policies, which the session refuses.
    let server = Server::start(&Sandbox::new());
    let report = orchestrated(
        &server,
        "tools=orchestrate",
        json!([
            {"id": "config", "tool": "server_config"},
            {"id": "reload", "tool": "reload_policies"},
        ]),
    );
    for step in 0..2 {
        assert_eq!(report["steps"][step]["status"], "denied", "{report}");
        let text = report["steps"][step]["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("is not among this session's tools (orchestrate)"),
            "{text}"
        );
    }

    // What the session admits still runs.
    let report = orchestrated(
        &server,
        "tools=orchestrate,ping",
        json!([{"id": "reload", "tool": "reload_policies"}, {"id": "ping", "tool": "ping"}]),
    );
    assert_eq!(report["steps"][0]["status"], "denied", "{report}");
    assert_eq!(report["steps"][1]["status"], "completed", "{report}");
}
