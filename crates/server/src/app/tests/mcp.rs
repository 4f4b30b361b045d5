//! The MCP door: the `/mcp` guard and the handler behind it.

use axum::http::{StatusCode, header};
use serde_json::json;

use super::{TestApp, demo_scopes, post_json};

#[tokio::test]
async fn a_body_that_is_not_json_is_a_json_rpc_parse_error() {
    let app = TestApp::new("").await;
    let answer = app.send(post_json("/mcp", "{\"jsonrpc\":")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["code"], -32700);
    assert_eq!(answer.json()["id"], serde_json::Value::Null);
}

#[tokio::test]
async fn json_that_is_not_json_rpc_is_an_invalid_request_with_its_id() {
    let app = TestApp::new("").await;
    let answer = app
        .send(post_json("/mcp", r#"{"id": 7, "hello": true}"#))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["code"], -32600);
    assert_eq!(answer.json()["id"], 7);
}

/// Read as a JSON value, the body passed the guard (the last `id` won) and
/// the MCP transport, which reads it typed, refused it with plain text.
#[tokio::test]
async fn a_body_with_a_repeated_key_is_an_invalid_request_not_a_transport_error() {
    let app = TestApp::new("").await;
    let answer = app
        .send(post_json(
            "/mcp",
            r#"{"jsonrpc":"2.0","id":"2.0","id":2,"method":"tools/list","params":{}}"#,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.json()["error"]["code"], -32600);
    assert_eq!(answer.json()["id"], 2);
}

#[tokio::test]
async fn a_denied_call_is_refused_with_403_and_a_step_up_challenge() {
    let app = TestApp::new(&demo_scopes(&["tools:ping"])).await;
    let call = json!({
        "jsonrpc": "2.0", "id": "c1", "method": "tools/call",
        "params": { "name": "reload_policies", "arguments": {} }
    });
    let answer = app.send(post_json("/mcp", &call.to_string())).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["id"], "c1");
    assert_eq!(body["error"]["code"], -32003);
    assert_eq!(
        body["error"]["data"]["required_scopes"],
        json!(["admin:config"])
    );
    let challenge = answer.header(header::WWW_AUTHENTICATE);
    assert!(challenge.contains("scope=\"admin:config\""), "{challenge}");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn tools_list_shows_only_what_the_policies_let_the_caller_use() {
    let list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }).to_string();
    let names = |answer: super::Answer| -> Vec<String> {
        answer.json()["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|tool| tool["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let admin = TestApp::new("").await;
    let answer = admin.send(post_json("/mcp", &list)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        names(answer),
        [
            "audit_log",
            "reload_policies",
            "revoke_tokens",
            "server_config"
        ]
    );

    let logs_only = TestApp::new(&demo_scopes(&["admin:logs"])).await;
    let answer = logs_only.send(post_json("/mcp", &list)).await;
    assert_eq!(names(answer), ["audit_log"]);
}

#[tokio::test]
async fn a_read_only_session_refuses_a_tool_that_is_not() {
    let app = TestApp::new("").await;
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "reload_policies" }
    });
    let answer = app
        .send(post_json("/mcp?readOnly=true", &call.to_string()))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["error"]["code"], -32602);
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("this session is (readOnly=true)")),
        "{}",
        answer.text
    );

    let answer = app
        .send(post_json("/mcp?readOnly=maybe", &call.to_string()))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["code"], -32602);
}

/// A `tools/list` from a page at `origin`, with the demo token.
fn list_from_origin(origin: &str) -> axum::http::Request<axum::body::Body> {
    let mut request = post_json("/mcp", r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    request.headers_mut().insert(
        header::ORIGIN,
        origin.parse().expect("an origin header value"),
    );
    request
}

#[tokio::test]
async fn a_page_from_a_foreign_origin_is_refused_with_403_before_authentication() {
    let app = TestApp::new("").await;
    let mut request = list_from_origin("https://attacker.example");
    request.headers_mut().remove(header::AUTHORIZATION);
    let answer = app.send(request).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert_eq!(answer.json()["error"], "origin_not_allowed");
    assert!(
        answer.json()["message"]
            .as_str()
            .is_some_and(|message| message.contains("`https://attacker.example`")
                && message.contains("CORS_ORIGINS")),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn pages_from_allowed_origins_and_the_servers_own_pass_the_origin_check() {
    let app = TestApp::new("[server]\ncors_origins = [\"http://localhost:6274\"]\n").await;
    for origin in [
        "http://localhost:6274",
        "http://localhost:8080",
        "HTTP://LOCALHOST:6274",
    ] {
        let answer = app.send(list_from_origin(origin)).await;
        assert_eq!(answer.status, StatusCode::OK, "{origin}: {}", answer.text);
    }
    for origin in ["http://localhost:6275", "null", "http://127.0.0.1:8080"] {
        let answer = app.send(list_from_origin(origin)).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{origin}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn a_request_without_origin_passes_the_origin_check() {
    let app = TestApp::new("").await;
    let answer = app
        .send(post_json(
            "/mcp",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}
