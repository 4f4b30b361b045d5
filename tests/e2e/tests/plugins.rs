//! Plugins that misbehave: the server contains them and keeps serving.

use e2e::{DEMO_TOKEN, Sandbox, Server, test_plugin};
use serde_json::json;

use crate::util::{jsonrpc, post_mcp, post_tool_as_demo};

/// A sandbox with the panicking test plugin and a policy that lets the demo
/// principal call its tool.
fn sandbox_with_panicking_plugin() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.add_plugin(&test_plugin("panicking"));
    sandbox.write(
        "policies/explode.cedar",
        "@id(\"test.explode\")\npermit (principal, action == Action::\"call\", resource == Tool::\"explode\");\n",
    );
    sandbox
}

#[test]
fn a_panicking_tool_is_a_tool_error_and_the_server_lives_on() {
    let server = Server::start(&sandbox_with_panicking_plugin());

    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(1, "tools/call", json!({"name": "explode", "arguments": {}})),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let result = &reply.body["result"];
    assert_eq!(result["isError"], true);
    let text = result["content"][0]["text"].as_str().expect("error text");
    assert!(text.contains("failed inside its plugin"), "{text}");
    let request_id = reply.header("x-request-id").expect("request id");
    assert!(
        text.contains(request_id),
        "the message points at the log entry: {text}"
    );
    assert!(
        !text.contains("secret-panic-message"),
        "panic details leaked: {text}"
    );

    let rest = post_tool_as_demo(&server, "explode", "{}");
    assert_eq!(rest.status, 422);

    // Still serving, and the operator can read what happened.
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    let logged = server.wait_for_log(|line| line.contains("secret-panic-message"));
    assert!(
        logged.is_some(),
        "the panic was not logged:\n{}",
        server.logs()
    );
}
