//! MCP over streamable HTTP at `/mcp`: a real MCP client, and raw JSON-RPC
//! for the error paths a client library would hide.

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use insta::assert_json_snapshot;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::util::{canonical, jsonrpc, post_mcp};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn an_mcp_client_initializes_lists_and_calls_ping() {
    let server = Server::start(&Sandbox::new());
    let url = server.url("/mcp");
    runtime().block_on(async move {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url).auth_header(DEMO_TOKEN),
        );
        let client = ().serve(transport).await.expect("initialize");
        let info = client.peer_info().expect("server info");
        assert_eq!(
            info.server_info.as_ref().map(|s| s.name.as_str()),
            Some("orchestrator-mcp")
        );
        assert_eq!(info.protocol_version.as_str(), "2025-11-25");

        let tools = client.list_all_tools().await.expect("tools/list");
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        // The demo principal holds every scope: the plugin's tool and the
        // server's own admin tools.
        assert_eq!(names, crate::util::EVERY_TOOL);
        let ping = tools
            .iter()
            .find(|tool| tool.name == "ping")
            .expect("ping is listed");
        assert!(ping.input_schema.get("properties").is_some());

        let mut arguments = serde_json::Map::new();
        arguments.insert("message".into(), json!("over mcp"));
        let result = client
            .call_tool(CallToolRequestParams::new("ping").with_arguments(arguments))
            .await
            .expect("tools/call");
        assert_eq!(result.is_error, Some(false));
        let structured = result.structured_content.expect("structured content");
        assert_eq!(structured["message"], "over mcp");
        assert_eq!(structured["principal_id"], "demo-user");
        client.cancel().await.expect("close client");
    });
}

#[test]
fn an_mcp_client_without_a_token_is_refused() {
    let server = Server::start(&Sandbox::new());
    let url = server.url("/mcp");
    runtime().block_on(async move {
        let transport = StreamableHttpClientTransport::from_uri(url);
        let error = match ().serve(transport).await {
            Ok(_) => panic!("initialize without a token succeeded"),
            Err(error) => format!("{error:?}"),
        };
        // The client must have been refused for want of authorization, not
        // for some unrelated failure.
        assert!(
            error.contains("401") || error.contains("Auth"),
            "unexpected failure: {error}"
        );
    });
}

#[test]
fn a_2025_initialize_opens_a_session_and_requests_without_one_stay_stateless() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            1,
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "e2e", "version": "1"}
            }),
        ),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let session = reply
        .header("mcp-session-id")
        .expect("a session for a 2025-era client")
        .to_owned();
    let result = &sse_messages(&reply.body)[0]["result"];
    assert_eq!(result["protocolVersion"], "2025-11-25");
    assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(result["capabilities"]["resources"]["subscribe"], true);

    let in_session = |body: &str| {
        crate::util::client()
            .post(server.url("/mcp"))
            .bearer_auth(DEMO_TOKEN)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .header("Mcp-Session-Id", &session)
            .body(body.to_owned())
            .send()
            .expect("POST /mcp")
    };
    let listed = in_session(&jsonrpc(2, "tools/list", json!({})));
    assert_eq!(listed.status(), 200);
    assert!(listed.text().expect("body").contains("\"ping\""));

    // Without the session id the same request is served statelessly.
    let stateless = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(3, "tools/list", json!({})),
    );
    assert_eq!(stateless.header("content-type"), Some("application/json"));
    assert!(stateless.header("mcp-session-id").is_none());

    // A session id nobody opened is 404, so the client initializes again.
    let unknown = crate::util::client()
        .post(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Session-Id", "not-a-session")
        .body(jsonrpc(4, "tools/list", json!({})))
        .send()
        .expect("POST /mcp");
    assert_eq!(unknown.status(), 404);

    // Closing the session ends it.
    let closed = crate::util::client()
        .delete(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Mcp-Session-Id", &session)
        .send()
        .expect("DELETE /mcp");
    assert!(closed.status().is_success(), "{}", closed.status());
    assert_eq!(
        in_session(&jsonrpc(5, "tools/list", json!({}))).status(),
        404
    );
}

#[test]
fn tools_list_shows_ping_with_its_schemas() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(2, "tools/list", json!({})),
    );
    assert_eq!(reply.status, 200);
    assert_json_snapshot!("mcp_tools_list", canonical(&reply.body["result"]));
}

#[test]
fn tools_list_hides_tools_the_principal_may_not_call() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("nobody", &[]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(2, "tools/list", json!({})),
    );
    assert_eq!(reply.body["result"]["tools"], json!([]));
}

#[test]
fn a_missing_token_on_mcp_is_401_with_a_bearer_challenge() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(&server, None, &jsonrpc(2, "tools/list", json!({})));
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer"))
    );
}

#[test]
fn malformed_json_on_mcp_is_a_parse_error() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        r#"{"jsonrpc": "2.0", "id": 1, "method": "#,
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], -32700);
    assert_json_snapshot!("mcp_parse_error", canonical(&reply.body));
}

#[test]
fn json_that_is_not_jsonrpc_is_an_invalid_request() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(&server, Some(DEMO_TOKEN), r#"{"id": 7, "hello": "world"}"#);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], -32600);
    assert_eq!(reply.body["id"], 7);
}

#[test]
fn an_unknown_tool_on_mcp_is_invalid_params() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            3,
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        ),
    );
    assert_eq!(reply.body["error"]["code"], -32602);
    assert_json_snapshot!("mcp_unknown_tool", canonical(&reply.body));
}

#[test]
fn wrong_argument_types_on_mcp_are_a_tool_error_naming_the_field() {
    let server = Server::start(&Sandbox::new());
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            4,
            "tools/call",
            json!({"name": "ping", "arguments": {"message": ["a"]}}),
        ),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["result"]["isError"], true);
    assert_json_snapshot!("mcp_wrong_argument_type", canonical(&reply.body));
}

#[test]
fn a_denied_call_on_mcp_names_the_scope() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("reviewer", &["tools:review"]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(5, "tools/call", json!({"name": "ping", "arguments": {}})),
    );
    // HTTP 403 with an insufficient_scope challenge, so clients can step up.
    assert_eq!(reply.status, 403);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="tools:ping""#), "{challenge}");
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    assert_eq!(reply.body["error"]["code"], -32003);
    assert_eq!(reply.body["id"], 5);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tools:ping")),
        "{:?}",
        reply.body
    );
    assert_json_snapshot!("mcp_denied", canonical(&reply.body));
}

#[test]
fn a_body_over_the_limit_on_mcp_is_413() {
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("MAX_REQUEST_SIZE_MB", "1"),
    );
    let big = jsonrpc(
        6,
        "tools/call",
        json!({"name": "ping", "arguments": {"message": "x".repeat(2 * 1024 * 1024)}}),
    );
    let reply = post_mcp(&server, Some(DEMO_TOKEN), &big);
    assert_eq!(reply.status, 413);
    assert_eq!(reply.body["error"]["code"], -32600);
}

#[test]
fn a_foreign_host_header_is_refused_on_mcp() {
    let server = Server::start(&Sandbox::new());
    let response = crate::util::client()
        .post(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Host", "evil.example")
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(jsonrpc(1, "tools/list", json!({})))
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 403);
}

/// The events of an SSE body, as the JSON messages they carry.
fn sse_messages(body: &serde_json::Value) -> Vec<serde_json::Value> {
    let text = body.as_str().expect("an SSE body is text");
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

#[test]
fn orchestrate_reports_progress_per_step_before_its_answer() {
    let server = Server::start(&Sandbox::new());
    let steps = json!([
        {"id": "a", "tool": "ping"},
        {"id": "b", "tool": "ping", "depends_on": ["a"]},
    ]);
    let body = json!({
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "orchestrate",
            "arguments": {"steps": steps},
            "_meta": {"progressToken": "plan-1"},
        },
    })
    .to_string();
    let reply = post_mcp(&server, Some(DEMO_TOKEN), &body);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/event-stream"),
        "a call that reports progress answers as a stream"
    );
    let messages = sse_messages(&reply.body);
    let progress: Vec<(f64, f64)> = messages
        .iter()
        .filter(|message| message["method"] == "notifications/progress")
        .map(|message| {
            assert_eq!(message["params"]["progressToken"], "plan-1");
            (
                message["params"]["progress"].as_f64().expect("progress"),
                message["params"]["total"].as_f64().expect("total"),
            )
        })
        .collect();
    assert_eq!(progress, [(0.0, 2.0), (1.0, 2.0), (2.0, 2.0)]);
    let last = messages.last().expect("an answer");
    assert_eq!(last["id"], 7, "the answer comes after every report");
    assert_eq!(
        last["result"]["structuredContent"]["counts"]["completed"],
        2
    );

    // A client that accepts only JSON gets its answer as JSON, with no
    // reports before it.
    let json_only = crate::util::client()
        .post(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body.clone())
        .send()
        .expect("POST /mcp");
    assert_eq!(json_only.status(), 200);
    assert_eq!(
        json_only
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/json")
    );
    let answer: serde_json::Value = json_only.json().expect("JSON");
    assert_eq!(
        answer["result"]["structuredContent"]["counts"]["completed"],
        2
    );

    // Without a progress token the same call answers with plain JSON.
    let body = jsonrpc(
        8,
        "tools/call",
        json!({"name": "orchestrate", "arguments": {"steps": steps}}),
    );
    let reply = post_mcp(&server, Some(DEMO_TOKEN), &body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.body["result"]["structuredContent"]["counts"]["completed"],
        2
    );
}

#[test]
fn a_2026_07_28_request_carries_its_own_log_level_and_set_level_is_gone() {
    let server = Server::start(&Sandbox::new());
    let meta = |log_level: Option<&str>| {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        if let Some(level) = log_level {
            meta["io.modelcontextprotocol/logLevel"] = json!(level);
        }
        meta
    };
    let post = |method: &str, name: Option<&str>, params: serde_json::Value| {
        let mut request = crate::util::client()
            .post(server.url("/mcp"))
            .bearer_auth(DEMO_TOKEN)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", method);
        if let Some(name) = name {
            request = request.header("Mcp-Name", name);
        }
        let response = request
            .body(jsonrpc(1, method, params).to_string())
            .send()
            .expect("POST /mcp");
        (response.status().as_u16(), response.text().expect("body"))
    };
    let steps = json!([{"id": "only", "tool": "ping"}]);
    let (status, body) = post(
        "tools/call",
        Some("orchestrate"),
        json!({"name": "orchestrate", "arguments": {"steps": steps}, "_meta": meta(Some("info"))}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("notifications/message") && body.contains("step only (ping): completed"),
        "{body}"
    );
    // No level, no messages.
    let (_, body) = post(
        "tools/call",
        Some("orchestrate"),
        json!({"name": "orchestrate", "arguments": {"steps": steps}, "_meta": meta(None)}),
    );
    assert!(!body.contains("notifications/message"), "{body}");
    // logging/setLevel was removed in 2026-07-28.
    let (status, body) = post(
        "logging/setLevel",
        None,
        json!({"level": "debug", "_meta": meta(None)}),
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("-32601"), "{body}");
}

#[test]
fn a_listening_client_hears_that_its_lists_changed_when_the_policies_do() {
    use std::io::{BufRead, BufReader};

    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, Launch::default().env("POLICY_WATCH", "false"));
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let listen = crate::util::client()
        .post(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "subscriptions/listen")
        .body(
            jsonrpc(
                1,
                "subscriptions/listen",
                json!({"_meta": meta, "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["orchestrator://policies"]}}),
            )
            .to_string(),
        )
        .send()
        .expect("subscriptions/listen");
    assert_eq!(listen.status(), 200);
    let (heard, hear) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(listen).lines() {
            let Ok(line) = line else { return };
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(message) = serde_json::from_str(data.trim())
                && heard.send(message).is_err()
            {
                return;
            }
        }
    });
    let wait = |method: &str| loop {
        let message = hear
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {method} within 10 s"));
        if message["method"] == method {
            return message;
        }
    };
    let acknowledged = wait("notifications/subscriptions/acknowledged");
    assert_eq!(
        acknowledged["params"]["notifications"]["toolsListChanged"],
        true
    );

    sandbox.write(
        "policies/no-ping.cedar",
        "@id(\"no-ping\") forbid (principal, action, resource == Tool::\"ping\");",
    );
    let reloaded = crate::util::post_tool_as_demo(&server, "reload_policies", "{}");
    assert_eq!(reloaded.body["structuredContent"]["outcome"], "loaded");
    let changed = wait("notifications/tools/list_changed");
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        1
    );
    let updated = wait("notifications/resources/updated");
    assert_eq!(updated["params"]["uri"], "orchestrator://policies");
}

#[test]
fn the_server_card_is_public_names_this_server_and_is_the_generated_one() {
    let server = Server::start(&Sandbox::new());
    let card = crate::util::get(&server, "/.well-known/mcp/server-card.json");
    assert_eq!(card.status, 200, "{:?}", card.body);
    let base = server.base_url().trim_end_matches('/');
    assert_eq!(card.body["remotes"][0]["url"], format!("{base}/mcp"));
    assert_eq!(card.body["supportedProtocolVersions"][0], "2026-07-28");
    let catalogue = &card.body["_meta"]["orchestrator-mcp/catalogue"];
    let tools: Vec<&str> = catalogue["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(tools.contains(&"ping"), "{tools:?}");
    // The server's own tools are not advertised.
    assert!(!tools.contains(&"audit_log"), "{tools:?}");
    let review = catalogue["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .find(|prompt| prompt["name"] == "code_review")
        .expect("code_review");
    assert_eq!(review["scopes"], json!(["tools:review"]));

    // What the server serves is what `cargo xtask gen` committed, for the
    // default address.
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(e2e::workspace_root().join("config/mcp/server-card.json"))
            .expect("the generated card"),
    )
    .expect("JSON");
    let mut committed = committed.as_object().expect("an object").clone();
    committed.remove("$comment");
    let served = card.body.to_string().replace(base, "http://127.0.0.1:8080");
    let served: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(served, serde_json::Value::Object(committed));
}
