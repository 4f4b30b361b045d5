//! `RATE_LIMIT_PER_MINUTE` and `CORS_ORIGINS`.

use e2e::{Launch, Sandbox, Server};
use insta::assert_json_snapshot;

use crate::util::{client, jsonrpc, post_mcp, post_tool_as_demo};

const DEMO_TOKEN: &str = "demo_token_12345";

fn server_with(env: &[(&str, &str)]) -> Server {
    let launch = env.iter().fold(Launch::default(), |launch, (key, value)| {
        launch.env(key, value)
    });
    Server::start_with(&Sandbox::new(), launch)
}

#[test]
fn a_caller_past_the_rate_limit_gets_429_with_retry_after() {
    let server = server_with(&[("RATE_LIMIT_PER_MINUTE", "3")]);
    for _ in 0..3 {
        let reply = post_tool_as_demo(&server, "ping", "{}");
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let refused = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.body["retry_after_secs"], retry_after);
    assert_json_snapshot!("rate_limited", refused.body, {
        ".retry_after_secs" => "[seconds]",
        ".message" => insta::dynamic_redaction(|value, _| {
            let text = value.as_str().unwrap_or_default();
            let (head, _) = text.rsplit_once("retry after").unwrap_or((text, ""));
            format!("{head}retry after [seconds] s")
        }),
    });
    // MCP shares the caller's allowance.
    let mcp = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(1, "tools/list", serde_json::json!({})),
    );
    assert_eq!(mcp.status, 429);
}

#[test]
fn the_rate_limit_counts_each_caller_apart() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "machine.toml",
        "[[demo_auth.access_keys]]\nclient_id = \"m\"\nclient_secret = \"machine_secret_1\"\nprincipal_id = \"K2m\"\nscopes = [\"tools:ping\"]\n",
    );
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("RATE_LIMIT_PER_MINUTE", "2")
            .config(&config),
    );
    let token: serde_json::Value = client()
        .post(server.url("/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "m"),
            ("client_secret", "machine_secret_1"),
        ])
        .send()
        .expect("token request")
        .json()
        .expect("token JSON");
    let machine = token["access_token"].as_str().expect("access token");
    for _ in 0..2 {
        assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    }
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 429);
    let reply = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(machine)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .expect("POST /tools/ping");
    assert_eq!(reply.status(), 200);
}

fn preflight(server: &Server, origin: &str) -> reqwest::blocking::Response {
    client()
        .request(reqwest::Method::OPTIONS, server.url("/mcp"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .expect("preflight")
}

#[test]
fn listed_origins_pass_the_preflight_and_others_do_not() {
    let server = server_with(&[("CORS_ORIGINS", r#"["https://inspector.example.com"]"#)]);
    let allowed = preflight(&server, "https://inspector.example.com");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let header = |response: &reqwest::blocking::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://inspector.example.com")
    );
    let allowed_headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
    assert!(
        allowed_headers.contains("mcp-protocol-version"),
        "{allowed_headers}"
    );
    let other = preflight(&server, "https://evil.example.net");
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    // A real request from the allowed origin can read the challenge.
    let unauthorised = client()
        .post(server.url("/mcp"))
        .header("Origin", "https://inspector.example.com")
        .header("Content-Type", "application/json")
        .body(jsonrpc(1, "tools/list", serde_json::json!({})))
        .send()
        .expect("POST /mcp");
    assert_eq!(unauthorised.status(), 401);
    let exposed = header(&unauthorised, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("www-authenticate"), "{exposed}");
}

#[test]
fn a_page_from_an_origin_not_listed_cannot_call_mcp_even_with_a_token() {
    let server = server_with(&[("CORS_ORIGINS", r#"["https://inspector.example.com"]"#)]);
    let response = client()
        .post(server.url("/mcp"))
        .header("Origin", "https://evil.example.net")
        .header("Authorization", format!("Bearer {DEMO_TOKEN}"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(jsonrpc(1, "tools/list", serde_json::json!({})))
        .send()
        .expect("POST /mcp");
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().expect("a JSON error");
    assert_eq!(body["error"], "origin_not_allowed", "{body}");
}

#[test]
fn without_cors_origins_no_cors_header_is_sent() {
    let server = server_with(&[]);
    let response = preflight(&server, "https://inspector.example.com");
    assert_eq!(response.headers().get("access-control-allow-origin"), None);
}

#[test]
fn a_malformed_cors_origin_stops_the_server_at_start() {
    let failure = Server::try_start(
        &Sandbox::new(),
        Launch::default().env("CORS_ORIGINS", r#"["https://inspector.example.com/app"]"#),
    )
    .err()
    .expect("the server refuses to start");
    assert!(
        failure.output.contains("CORS_ORIGINS") && failure.output.contains("is not an origin"),
        "{}",
        failure.output
    );
}

/// `POST /auth/token` with a guessed access key, as a brute-forcer sends it.
fn guess_access_key(server: &Server, forwarded_for: Option<&str>) -> reqwest::blocking::Response {
    let mut request = client()
        .post(server.url("/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_secret=guess");
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    request.send().expect("POST /auth/token")
}

#[test]
fn unauthenticated_routes_are_limited_per_client_address() {
    let server = server_with(&[("RATE_LIMIT_PUBLIC_PER_MINUTE", "5")]);
    for _ in 0..5 {
        assert_eq!(guess_access_key(&server, None).status(), 401);
    }
    let limited = guess_access_key(&server, None);
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    let body: serde_json::Value = limited.json().expect("a JSON error");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("per client address (RATE_LIMIT_PUBLIC_PER_MINUTE)"),
        "{body}"
    );
    // The same address is limited on every public route, and a forged
    // X-Forwarded-For from an untrusted peer changes nothing.
    let discovery = client()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .expect("discovery");
    assert_eq!(discovery.status(), 429);
    assert_eq!(
        guess_access_key(&server, Some("198.51.100.7")).status(),
        429
    );
    // Probes and callers with a token are not counted here.
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .expect("health")
            .status(),
        200
    );
    let reply = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_is_limited_apart() {
    let server = server_with(&[
        ("RATE_LIMIT_PUBLIC_PER_MINUTE", "3"),
        ("TRUSTED_PROXIES", r#"["127.0.0.1"]"#),
    ]);
    for _ in 0..3 {
        assert_eq!(
            guess_access_key(&server, Some("198.51.100.7")).status(),
            401
        );
    }
    assert_eq!(
        guess_access_key(&server, Some("198.51.100.7")).status(),
        429
    );
    // A client cannot escape by prepending an address of its choosing.
    assert_eq!(
        guess_access_key(&server, Some("192.0.2.1, 198.51.100.7")).status(),
        429
    );
    assert_eq!(
        guess_access_key(&server, Some("198.51.100.8")).status(),
        401
    );
}

#[test]
fn a_tool_past_its_own_limit_is_refused_while_other_tools_are_served() {
    let server = server_with(&[("RATE_LIMIT_PER_TOOL", "{ ping = 2 }")]);
    for _ in 0..2 {
        assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    }
    let refused = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "rate_limited");
    let message = refused.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("at most 2 times per minute (RATE_LIMIT_PER_TOOL)"),
        "{message}"
    );
    assert!(refused.header("retry-after").is_some());
    // Another tool is not limited by ping's limit.
    let other = post_tool_as_demo(
        &server,
        "review_code",
        r#"{"code":"x = 1","language":"python"}"#,
    );
    assert_eq!(other.status, 200, "{:?}", other.body);
    // Over MCP outside a session: the JSON-RPC error, with HTTP 429.
    let mcp = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            7,
            "tools/call",
            serde_json::json!({"name": "ping", "arguments": {}}),
        ),
    );
    assert_eq!(mcp.status, 429, "{:?}", mcp.body);
    assert!(mcp.header("retry-after").is_some());
    assert_eq!(mcp.body["error"]["data"]["tool"], "ping");
    assert_eq!(mcp.body["error"]["data"]["rate_limit_per_minute"], 2);
}

#[test]
fn a_limit_for_a_tool_nobody_provides_stops_start_up_naming_it() {
    let failure = Server::try_start(
        &Sandbox::new(),
        Launch::default().env("RATE_LIMIT_PER_TOOL", "{ pnig = 5 }"),
    )
    .err()
    .expect("refused");
    assert!(
        failure
            .output
            .contains("RATE_LIMIT_PER_TOOL names tools no loaded plugin provides: pnig"),
        "{}",
        failure.output
    );
}
