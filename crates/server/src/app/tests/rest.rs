//! The REST door behind the app's layers.

use axum::body::Body;
use axum::http::{StatusCode, header};

use super::{DEMO_TOKEN, TestApp, demo_scopes, post_json, request};

#[tokio::test]
async fn an_allowed_call_answers_the_tool_s_result_with_secrets_redacted() {
    let app = TestApp::new("").await;
    let answer = app.send(post_json("/tools/server_config", "{}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["isError"], false);
    assert_eq!(
        body["structuredContent"]["settings"]["demo"]["token"],
        "<redacted>"
    );
    assert!(!answer.text.contains(DEMO_TOKEN), "{}", answer.text);
}

#[tokio::test]
async fn an_unknown_tool_is_404_whatever_the_body() {
    let app = TestApp::new("").await;
    let answer = app.send(post_json("/tools/no_such_tool", "not json")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["error"], "unknown_tool");
    assert_eq!(answer.json()["tool"], "no_such_tool");
}

#[tokio::test]
async fn a_denied_call_is_403_naming_the_scope_that_would_allow_it() {
    let app = TestApp::new(&demo_scopes(&["tools:ping"])).await;
    let answer = app.send(post_json("/tools/audit_log", "{}")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
    assert_eq!(answer.json()["error"], "insufficient_scope");
    assert_eq!(
        answer.json()["required_scopes"],
        serde_json::json!(["admin:logs"])
    );
    let challenge = answer.header(header::WWW_AUTHENTICATE);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"admin:logs\""), "{challenge}");
    assert!(
        challenge.contains(
            "resource_metadata=\"http://localhost:8080/.well-known/oauth-protected-resource/mcp\""
        ),
        "{challenge}"
    );
}

#[tokio::test]
async fn arguments_must_be_json_of_the_right_type() {
    let app = TestApp::new("").await;
    let form = request("POST", "/tools/server_config")
        .header(header::AUTHORIZATION, format!("Bearer {DEMO_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("a=b"))
        .expect("request");
    let answer = app.send(form).await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.json()["error"], "unsupported_media_type");

    let answer = app
        .send(post_json("/tools/server_config", "{not json"))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_json");

    let answer = app
        .send(post_json("/tools/audit_log", r#"{"limit": 0}"#))
        .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.text
    );
    assert!(
        answer.json()["message"]
            .as_str()
            .is_some_and(|message| message.contains("limit must be between 1 and 1000")),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn a_body_over_max_request_size_is_413() {
    let app = TestApp::new("[server]\nmax_request_size_mb = 1\n").await;
    let big = format!("{{\"padding\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let answer = app.send(post_json("/tools/server_config", &big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer.json()["message"],
        "Request body exceeds the 1 MB limit (MAX_REQUEST_SIZE_MB)"
    );
}
