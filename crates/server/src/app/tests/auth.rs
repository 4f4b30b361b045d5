//! The layers in front of the doors: authentication, the Host guard, the
//! rate limit, request ids, and the fallback.

use axum::body::Body;
use axum::http::{StatusCode, header};

use serde_json::Value;

use super::{Answer, DEMO_TOKEN, TestApp, post_json, request};

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge_pointing_at_the_metadata() {
    let app = TestApp::new("").await;
    let answer = app
        .send(
            request("POST", "/tools/server_config")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let challenge = answer.header(header::WWW_AUTHENTICATE);
    assert!(challenge.starts_with("Bearer realm=\"orchestrator-mcp\", resource_metadata=\"http://localhost:8080/.well-known/oauth-protected-resource/mcp\""), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    assert_eq!(answer.json()["error"], "unauthorized");
}

#[tokio::test]
async fn a_malformed_token_is_401_invalid_token_in_the_guide_s_words() {
    let app = TestApp::new("").await;
    let answer = app
        .send(
            request("POST", "/mcp")
                .header(header::AUTHORIZATION, "Bearer YOUR_REAL_JWT_TOKEN")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_token");
    assert_eq!(
        answer.json()["message"],
        "Malformed token: a JWT has three dot-separated segments"
    );
    assert!(
        answer.header(header::WWW_AUTHENTICATE).contains(
            "error_description=\"Malformed token: a JWT has three dot-separated segments\""
        )
    );
}

#[tokio::test]
async fn a_host_outside_allowed_hosts_is_refused_before_authentication() {
    let app = TestApp::new("").await;
    let answer = app
        .send(
            axum::http::Request::builder()
                .method("POST")
                .uri("/tools/server_config")
                .header(header::HOST, "evil.example:8080")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json()["error"], "host_not_allowed");
    assert!(
        answer.json()["message"]
            .as_str()
            .is_some_and(|m| m.contains("`evil.example:8080` is not in ALLOWED_HOSTS")),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn past_the_rate_limit_a_caller_gets_429_with_retry_after() {
    let app = TestApp::new("[server]\nrate_limit_per_minute = 1\n").await;
    let first = app.send(post_json("/tools/server_config", "{}")).await;
    assert_eq!(first.status, StatusCode::OK);
    let second = app.send(post_json("/tools/server_config", "{}")).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.header(header::RETRY_AFTER), "60");
    assert_eq!(second.json()["error"], "rate_limited");
    assert_eq!(second.json()["retry_after_secs"], 60);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_unknown_routes_are_404() {
    let app = TestApp::new("").await;
    let answer = app
        .send(
            request("GET", "/nowhere")
                .header("x-request-id", "trace-me-1")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["message"], "No route for GET /nowhere");
    let id = answer.header(header::HeaderName::from_static("x-request-id"));
    assert_ne!(id, "trace-me-1", "the server makes the id");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn every_route_but_health_answers_only_allowed_hosts() {
    let app = TestApp::new("").await;
    let demo_server = demo_oauth::METADATA_PATHS
        .map(|path| ("GET", path))
        .into_iter()
        .chain([
            ("GET", demo_oauth::JWKS_PATH),
            ("POST", demo_oauth::REGISTER_PATH),
            ("GET", demo_oauth::AUTHORIZE_PATH),
            ("POST", demo_oauth::AUTHORIZE_PATH),
            ("POST", demo_oauth::TOKEN_PATH),
        ]);
    let doors = [
        ("POST", "/tools/server_config"),
        ("POST", "/mcp"),
        ("GET", "/mcp"),
        ("POST", "/mcp/anything"),
        ("GET", "/.well-known/oauth-protected-resource"),
        ("GET", "/.well-known/oauth-protected-resource/mcp"),
        ("POST", "/auth/token"),
        ("GET", "/auth/login"),
        ("GET", "/auth/callback"),
    ];
    for (method, path) in demo_server.chain(doors) {
        let answer = app
            .send(
                axum::http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::HOST, "evil.example")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            answer.json()["error"],
            "host_not_allowed",
            "{method} {path}"
        );
    }
    let health = app
        .send(
            axum::http::Request::builder()
                .uri("/health")
                .header(header::HOST, "evil.example")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        health.status,
        StatusCode::OK,
        "load balancers probe by address"
    );
}

/// `GET /health` with the demo token when `with_token`, its body.
async fn health(app: &TestApp, with_token: bool) -> serde_json::Value {
    let mut builder = request("GET", "/health");
    if with_token {
        builder = builder.header(
            header::AUTHORIZATION,
            format!("Bearer {}", super::DEMO_TOKEN),
        );
    }
    let answer = app
        .send(builder.body(Body::empty()).expect("request"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

#[tokio::test]
async fn health_tells_a_stranger_only_the_status_and_version() {
    let app = TestApp::new("").await;
    let body = health(&app, false).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    // A token without an admin scope is no operator's.
    let app = TestApp::new(&super::demo_scopes(&["tools:ping"])).await;
    assert_eq!(
        health(&app, true).await.as_object().map(|b| b.len()),
        Some(2)
    );
}

#[tokio::test]
async fn health_shows_the_details_to_an_admin_scoped_token() {
    let app = TestApp::new(&super::demo_scopes(&["admin:logs"])).await;
    let body = health(&app, true).await;
    assert_eq!(body["auth_mode"], "demo");
    assert!(body["policy"]["hash"].is_string(), "{body}");
    assert_eq!(body["plugin_calls"]["abandoned"], 0, "{body}");
}

#[tokio::test]
async fn health_shows_a_revoked_admin_token_no_more_than_no_token() {
    let app = TestApp::new("").await;
    assert!(health(&app, true).await["policy"].is_object());
    let body = r#"{"subject":"demo-user"}"#;
    let answer = app.send(post_json("/tools/revoke_tokens", body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        health(&app, true).await,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

/// The `scope` a 401 challenge offers, under `extra` settings.
async fn offered_scopes(extra: &str) -> String {
    let app = TestApp::new(extra).await;
    let answer = app
        .send(
            request("POST", "/mcp")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let challenge = answer.header(header::WWW_AUTHENTICATE).to_owned();
    let start = challenge.find("scope=\"").expect("a scope") + "scope=\"".len();
    let end = challenge[start..].find('"').expect("a closing quote") + start;
    challenge[start..end].to_owned()
}

#[tokio::test]
async fn the_401_challenge_offers_no_admin_scope_unless_configured_to() {
    let offered = offered_scopes("").await;
    assert!(offered.contains("tools:ping"), "{offered}");
    assert!(!offered.contains("admin:"), "{offered}");
    let configured =
        offered_scopes("[server]\nchallenge_scopes = [\"tools:ping\", \"admin:logs\"]\n").await;
    assert_eq!(configured, "tools:ping admin:logs");
}

/// A token for the embedded demo access key, from `/auth/token`.
async fn machine_token(app: &TestApp) -> String {
    let answer = app
        .send(
            request("POST", "/auth/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    "grant_type=client_credentials&client_id=demo-machine&client_secret=demo_access_key_12345",
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// `tools/list` over MCP with `token`.
async fn list_tools(app: &TestApp, token: &str) -> Answer {
    app.send(
        request("POST", "/mcp")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .body(Body::from(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            ))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn a_revoked_token_is_401_invalid_token_and_other_tokens_are_not() {
    let app = TestApp::new("").await;
    let revoked = machine_token(&app).await;
    let kept = machine_token(&app).await;
    assert_ne!(revoked, kept, "every token has its own jti");
    let payload = revoked.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
    )
    .expect("claims");
    let body = serde_json::json!({ "jti": claims["jti"] }).to_string();
    let answer = app.send(post_json("/tools/revoke_tokens", &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["structuredContent"]["replicas"], "this");

    let refused = list_tools(&app, &revoked).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert!(
        refused
            .header(header::WWW_AUTHENTICATE)
            .contains("error=\"invalid_token\""),
        "{:?}",
        refused.headers
    );
    assert!(
        refused.text.contains("Token has been revoked"),
        "{}",
        refused.text
    );
    assert_eq!(list_tools(&app, &kept).await.status, StatusCode::OK);

    // A subject's tokens, the static demo token (which has no `iat`)
    // included.
    let body = r#"{"subject":"demo-user"}"#;
    let answer = app.send(post_json("/tools/revoke_tokens", body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        list_tools(&app, DEMO_TOKEN).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(list_tools(&app, &kept).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revoke_tokens_refuses_a_future_cutoff_and_a_muddled_request_by_name() {
    let app = TestApp::new("").await;
    for (body, expected) in [
        (r#"{}"#, "give exactly one of `jti`, `subject`"),
        (
            r#"{"jti":"a","subject":"b"}"#,
            "give exactly one of `jti`, `subject`",
        ),
        (
            r#"{"issued_before":"tomorrow"}"#,
            "neither seconds since the epoch nor an RFC 3339 time",
        ),
        (
            r#"{"issued_before":"2999-01-01T00:00:00Z"}"#,
            "is in the future",
        ),
    ] {
        let answer = app.send(post_json("/tools/revoke_tokens", body)).await;
        assert!(answer.text.contains(expected), "{body}: {}", answer.text);
        assert_ne!(answer.status, StatusCode::OK, "{body}");
    }
    // Nothing was revoked: the caller is still served.
    assert_eq!(list_tools(&app, DEMO_TOKEN).await.status, StatusCode::OK);
}
