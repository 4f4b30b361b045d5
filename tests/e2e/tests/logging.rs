//! Logs: every request has an id; credentials never appear.

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};

use crate::util::{client, post_mcp, post_tool, post_tool_as_demo};

#[test]
fn tokens_never_reach_the_logs_even_at_trace_level() {
    let server = Server::start_with(&Sandbox::new(), Launch::default().env("RUST_LOG", "trace"));
    post_tool_as_demo(&server, "ping", r#"{"message": "hello"}"#);
    post_tool(&server, "ping", Some("a-wrong-secret-token"), "{}");
    post_mcp(
        &server,
        Some(DEMO_TOKEN),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    // The MCP request is the last one; once it is logged, all three are.
    let last = server.wait_for_log(|line| {
        line.contains("request finished") && line.contains(r#""path":"/mcp""#)
    });
    let logs = server.logs();
    assert!(last.is_some(), "the requests were not logged:\n{logs}");
    assert!(!logs.contains(DEMO_TOKEN), "the demo token was logged");
    assert!(
        !logs.contains("a-wrong-secret-token"),
        "a rejected token was logged"
    );
}

#[test]
fn every_request_gets_an_id_in_its_logs_and_response() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "ping", "{}");
    let id = reply
        .header("x-request-id")
        .expect("request id header")
        .to_owned();
    let finished = server
        .wait_for_log(|line| line.contains("request finished") && line.contains(&id))
        .unwrap_or_else(|| panic!("no log line for request {id}:\n{}", server.logs()));
    assert!(finished.contains("\"status\":200"), "{finished}");
}

#[test]
fn a_callers_request_id_is_kept_when_plain_and_replaced_when_not() {
    let server = Server::start(&Sandbox::new());
    let kept = client()
        .get(server.url("/health"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .expect("send");
    assert_eq!(kept.headers()["x-request-id"], "trace-abc-123");
    let replaced = client()
        .get(server.url("/health"))
        .header("x-request-id", "has spaces and {braces}")
        .send()
        .expect("send");
    assert_ne!(
        replaced.headers()["x-request-id"],
        "has spaces and {braces}"
    );
}
