//! The OAuth door and the demo authorization server, in demo mode and out.

use axum::body::Body;
use axum::http::{StatusCode, header};

use super::{TestApp, request};

fn get(uri: &str) -> axum::http::Request<Body> {
    request("GET", uri).body(Body::empty()).expect("request")
}

fn form(uri: &str, body: &str) -> axum::http::Request<Body> {
    request("POST", uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn in_demo_mode_the_metadata_points_at_this_server_as_the_issuer() {
    let app = TestApp::new("").await;
    let resource = app
        .send(get("/.well-known/oauth-protected-resource/mcp"))
        .await
        .json();
    assert_eq!(resource["resource"], "http://localhost:8080/mcp");
    assert_eq!(
        resource["authorization_servers"],
        serde_json::json!(["http://localhost:8080"])
    );
    let issuer = app
        .send(get("/.well-known/oauth-authorization-server"))
        .await
        .json();
    assert_eq!(issuer["issuer"], "http://localhost:8080");
    assert_eq!(
        issuer["token_endpoint"],
        "http://localhost:8080/oauth/token"
    );
    assert_eq!(issuer["scopes_supported"], resource["scopes_supported"]);
}

#[tokio::test]
async fn with_a_public_url_a_forged_host_changes_neither_issuer_nor_tokens() {
    use base64::Engine as _;

    let public = "https://mcp.example.com";
    let app = TestApp::new(&format!("[server]\npublic_url = \"{public}\"\n")).await;
    // `localhost` with any port passes the Host guard: only the port is forged.
    let forged = |method: &str, uri: &str| {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "localhost:6666")
    };
    let issuer = app
        .send(
            forged("GET", "/.well-known/oauth-authorization-server")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .json();
    assert_eq!(issuer["issuer"], public);
    assert_eq!(issuer["token_endpoint"], format!("{public}/oauth/token"));
    let resource = app
        .send(
            forged("GET", "/.well-known/oauth-protected-resource/mcp")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .json();
    assert_eq!(
        resource["authorization_servers"],
        serde_json::json!([public])
    );

    let answer = app
        .send(
            forged("POST", "/oauth/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(
                    "grant_type=client_credentials&client_id=demo-machine&client_secret=demo_access_key_12345",
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let token = answer.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let payload = token.split('.').nth(1).expect("payload");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("json");
    assert_eq!(claims["iss"], public);
    assert_eq!(claims["aud"], format!("{public}/mcp"));
}

#[tokio::test]
async fn a_demo_access_key_gets_a_token_for_this_server_only() {
    let app = TestApp::new("").await;
    let answer = app
        .send(form(
            "/auth/token",
            "grant_type=client_credentials&client_id=demo-machine&client_secret=demo_access_key_12345",
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
    assert_eq!(answer.json()["scope"], "tools:ping tools:orchestrate");

    let wrong = app
        .send(form(
            "/oauth/token",
            "grant_type=client_credentials&client_id=demo-machine&client_secret=guess",
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_client");
    assert_eq!(
        wrong.header(header::WWW_AUTHENTICATE),
        "Basic realm=\"orchestrator-mcp\""
    );

    let elsewhere = app
        .send(form(
            "/oauth/token",
            "grant_type=client_credentials&client_id=demo-machine&client_secret=demo_access_key_12345&resource=https%3A%2F%2Fother.example%2Fmcp",
        ))
        .await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    assert_eq!(elsewhere.json()["error"], "invalid_target");
}

#[tokio::test]
async fn auth_token_takes_client_credentials_only() {
    let app = TestApp::new("").await;
    let answer = app.send(form("/auth/token", "grant_type=password")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "unsupported_grant_type");
    let answer = app.send(form("/auth/token", "")).await;
    assert_eq!(answer.json()["error_description"], "grant_type is required");
}

#[tokio::test]
async fn registration_takes_json_only() {
    let app = TestApp::new("").await;
    let answer = app
        .send(form(
            "/oauth/register",
            "redirect_uris=https://client.example/cb",
        ))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn outside_demo_mode_descope_is_the_issuer_and_the_demo_server_is_absent() {
    // Descope is unreachable here (port 9 refuses at once): the server
    // starts anyway and reports the keys as stale.
    let app = TestApp::new(
        "[descope]\ndemo_mode = false\nproject_id = \"P2test\"\nbase_url = \"http://127.0.0.1:9\"\n",
    )
    .await;
    let resource = app
        .send(get("/.well-known/oauth-protected-resource"))
        .await
        .json();
    assert_eq!(
        resource["authorization_servers"],
        serde_json::json!(["http://127.0.0.1:9/v1/apps/P2test"])
    );
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/oauth/jwks",
        "/oauth/authorize",
    ] {
        let answer = app.send(get(path)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            answer.json()["error_description"],
            "the demo authorization server runs only in demo mode (DESCOPE_DEMO_MODE=true)",
            "{path}"
        );
    }
    let login = app.send(get("/auth/login")).await;
    assert_eq!(login.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        login.text.contains("set DESCOPE_CLIENT_ID"),
        "{}",
        login.text
    );
}
