//! `POST /tools/{name}`: the configuration guide's curl commands and every
//! way they can go wrong.

use e2e::{Launch, Sandbox, Server};
use insta::assert_json_snapshot;

use crate::util::{canonical, client, post_tool, post_tool_as_demo};

#[test]
fn the_guides_demo_curl_command_answers_pong() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "ping", r#"{"message": "test"}"#);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let structured = &reply.body["structuredContent"];
    assert_eq!(structured["pong"], true);
    assert_eq!(structured["message"], "test");
    assert_eq!(structured["principal_id"], "demo-user");
    assert!(
        structured["server_time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(reply.body["content"][0]["text"], "pong: test");
    assert_eq!(reply.body["isError"], false);
    assert!(reply.header("x-request-id").is_some());
}

#[test]
fn an_empty_body_means_no_arguments() {
    let server = Server::start(&Sandbox::new());
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().expect("json");
    assert_eq!(body["content"][0]["text"], "pong");
}

#[test]
fn a_missing_token_is_401_with_a_bearer_challenge() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool(&server, "ping", None, r#"{"message": "test"}"#);
    assert_eq!(reply.status, 401);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let metadata = format!(
        r#"resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
        server.base_url()
    );
    assert!(challenge.contains(&metadata), "{challenge}");
    // The scopes to ask for: every scope the policies know but the two
    // admin ones, which a client gets only by asking for them by name.
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("scope parameter");
    assert!(scope.split(' ').any(|s| s == "tools:ping"), "{challenge}");
    assert_eq!(scope.split(' ').count(), 10, "{challenge}");
    assert!(!scope.contains("admin:"), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without a token: {challenge}"
    );
    assert_json_snapshot!("rest_missing_token", canonical(&reply.body));
}

#[test]
fn any_other_token_is_401_invalid_token() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool(&server, "ping", Some("not-the-demo-token"), "{}");
    assert_eq!(reply.status, 401);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("error_description=\""), "{challenge}");
    assert_json_snapshot!("rest_invalid_token", canonical(&reply.body));
}

#[test]
fn a_non_bearer_scheme_is_401_invalid_request() {
    let server = Server::start(&Sandbox::new());
    let response = client()
        .post(server.url("/tools/ping"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii");
    assert!(
        challenge.contains(r#"error="invalid_request""#),
        "{challenge}"
    );
}

#[test]
fn malformed_json_is_400_naming_the_problem() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "ping", r#"{"message": "test""#);
    assert_eq!(reply.status, 400);
    assert_json_snapshot!("rest_malformed_json", canonical(&reply.body));
}

#[test]
fn a_non_json_content_type_is_415() {
    let server = Server::start(&Sandbox::new());
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(r#"{"message": "test"}"#)
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 415);
    let body: serde_json::Value = response.json().expect("json");
    assert_eq!(body["error"], "unsupported_media_type");
}

#[test]
fn an_unknown_tool_is_404() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "no_such_tool", "{}");
    assert_eq!(reply.status, 404);
    assert_json_snapshot!("rest_unknown_tool", canonical(&reply.body));
}

#[test]
fn wrong_argument_types_are_a_tool_error_naming_the_field() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "ping", r#"{"message": 42}"#);
    assert_eq!(reply.status, 422);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`message`")),
        "{:?}",
        reply.body
    );
    assert_json_snapshot!("rest_wrong_argument_type", canonical(&reply.body));
}

#[test]
fn unknown_arguments_are_a_tool_error() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "ping", r#"{"mesage": "typo"}"#);
    assert_eq!(reply.status, 422);
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("mesage")),
        "{:?}",
        reply.body
    );
}

#[test]
fn a_body_over_the_limit_is_413() {
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("MAX_REQUEST_SIZE_MB", "1"),
    );
    let big = format!(r#"{{"message": "{}"}}"#, "x".repeat(1024 * 1024 + 1));
    let reply = post_tool_as_demo(&server, "ping", &big);
    assert_eq!(reply.status, 413);
    assert_json_snapshot!("rest_payload_too_large", canonical(&reply.body));
    // The server is still serving.
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
}

#[test]
fn a_chunked_body_over_the_limit_is_413() {
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("MAX_REQUEST_SIZE_MB", "1"),
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let body = reqwest::blocking::Body::new(ChunkReader::new(chunks));
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 413);
}

#[test]
fn a_principal_without_the_scope_is_403_naming_it() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("reviewer", &["tools:review"]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let reply = post_tool_as_demo(&server, "ping", r#"{"message": "test"}"#);
    assert_eq!(reply.status, 403);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="tools:ping""#), "{challenge}");
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    assert_json_snapshot!("rest_denied", canonical(&reply.body));
}

#[test]
fn an_unknown_route_is_a_json_404() {
    let server = Server::start(&Sandbox::new());
    let reply = crate::util::get(&server, "/nope");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error"], "not_found");
}

/// A reader that yields its chunks one by one, so reqwest sends the body
/// chunked, without a Content-Length.
struct ChunkReader {
    chunks: std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>,
    current: std::io::Cursor<Vec<u8>>,
}

impl ChunkReader {
    fn new(chunks: Vec<Result<Vec<u8>, std::io::Error>>) -> Self {
        Self {
            chunks: chunks.into_iter(),
            current: std::io::Cursor::new(Vec::new()),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.chunks.next() {
                Some(chunk) => self.current = std::io::Cursor::new(chunk?),
                None => return Ok(0),
            }
        }
    }
}

#[test]
fn an_unknown_tool_is_404_whatever_the_body() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "no_such_tool", "{not json");
    assert_eq!(reply.status, 404);
}

#[test]
fn a_denied_call_is_403_before_the_body_is_read() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("reviewer", &["tools:review"]);
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .config(&config)
            .env("MAX_REQUEST_SIZE_MB", "1"),
    );
    let big = format!(r#"{{"message": "{}"}}"#, "x".repeat(1024 * 1024 + 1));
    assert_eq!(post_tool_as_demo(&server, "ping", &big).status, 403);
    assert_eq!(post_tool_as_demo(&server, "ping", "{not json").status, 403);
}

#[test]
fn a_foreign_host_header_is_refused_on_rest() {
    let server = Server::start(&Sandbox::new());
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .header("Host", "evil.example")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 403);
    let body: serde_json::Value = response.json().expect("json");
    assert_eq!(body["error"], "host_not_allowed");
}

#[test]
fn allowed_hosts_admits_a_configured_name() {
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("ALLOWED_HOSTS", r#"["mcp.example.com"]"#),
    );
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .header("Host", "mcp.example.com")
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let refused = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(refused.status, 403, "127.0.0.1 is no longer listed");
}
