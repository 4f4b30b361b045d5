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
fn a_callers_request_id_is_kept_beside_the_server_s_never_in_its_place() {
    // Found by an attacker: a caller could choose the id its calls were
    // audited under, and pass them off as another request's.
    let server = Server::start(&Sandbox::new());
    let answered = client()
        .get(server.url("/health"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .expect("send");
    let id = answered.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(id, "trace-abc-123");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let finished = server
        .wait_for_log(|line| line.contains("request finished") && line.contains(&id))
        .unwrap_or_else(|| panic!("no log line for request {id}:\n{}", server.logs()));
    assert!(
        finished.contains(r#""client_request_id":"trace-abc-123""#),
        "{finished}"
    );
    // An id that is no plain token is not kept at all.
    let odd = client()
        .get(server.url("/health"))
        .header("x-request-id", "has spaces and {braces}")
        .send()
        .expect("send");
    assert_ne!(odd.headers()["x-request-id"], "has spaces and {braces}");
    assert!(!server.logs().contains("has spaces and {braces}"));
}
