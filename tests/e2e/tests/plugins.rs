//! Plugins that misbehave: the server contains them and keeps serving.

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server, library_file_name, test_plugin};
use serde_json::json;

use crate::util::{get, jsonrpc, post_mcp, post_tool_as_demo};

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

/// A sandbox with the misbehaving test plugin, whose tools the demo
/// principal may call.
fn sandbox_with_misbehaving_plugin() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.add_plugin(&test_plugin("misbehaving"));
    sandbox.write(
        "policies/misbehaving.cedar",
        "@id(\"test.misbehaving\")\npermit (principal, action == Action::\"call\", resource in Plugin::\"misbehaving\");\n",
    );
    sandbox
}

/// `tools/call` as the demo principal; the JSON-RPC result.
fn call_tool(server: &Server, name: &str) -> serde_json::Value {
    let reply = post_mcp(
        server,
        Some(DEMO_TOKEN),
        &jsonrpc(1, "tools/call", json!({"name": name, "arguments": {}})),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["result"].clone()
}

fn error_text(result: &serde_json::Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    result["content"][0]["text"]
        .as_str()
        .expect("error text")
        .to_owned()
}

#[test]
fn a_tool_past_its_time_limit_is_a_tool_error_and_the_server_lives_on() {
    let sandbox = sandbox_with_misbehaving_plugin();
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("PLUGIN_TOOL_TIMEOUTS", "{ hang = 1 }"),
    );
    let started = std::time::Instant::now();
    let text = error_text(&call_tool(&server, "hang"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the answer waited for the plugin"
    );
    assert!(text.contains("tool `hang`"), "{text}");
    assert!(text.contains("time limit of 1 s"), "{text}");
    assert!(text.contains("plugins.tool_timeouts.hang"), "{text}");
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    assert!(
        server
            .wait_for_log(|line| line.contains("plugin call timed out"))
            .is_some(),
        "{}",
        server.logs()
    );
}

#[test]
fn a_quick_tool_that_takes_too_long_is_handed_to_plugin_threads_from_then_on() {
    let server = Server::start(&sandbox_with_misbehaving_plugin());
    // The quick mark is the host's: clients never see it.
    let listed = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(1, "tools/list", json!({})),
    );
    let tools = listed.body["result"]["tools"].as_array().expect("tools");
    let slow = tools
        .iter()
        .find(|tool| tool["name"] == "slow_quick")
        .expect("slow_quick is listed");
    assert!(slow.get("_meta").is_none(), "{slow}");
    for _ in 0..2 {
        let result = call_tool(&server, "slow_quick");
        assert_eq!(result["structuredContent"]["count"], 1, "{result}");
    }
    let warned = server
        .wait_for_log(|line| line.contains("a tool declared quick is slow"))
        .unwrap_or_else(|| panic!("no warning:\n{}", server.logs()));
    assert!(warned.contains("slow_quick"), "{warned}");
    // Once: the second call ran on a plugin thread.
    let warnings = server
        .logs()
        .matches("a tool declared quick is slow")
        .count();
    assert_eq!(warnings, 1, "{}", server.logs());
}

#[test]
fn a_plugin_answering_with_invalid_json_is_a_tool_error_naming_the_tool() {
    let server = Server::start(&sandbox_with_misbehaving_plugin());
    let text = error_text(&call_tool(&server, "garbage"));
    assert!(
        text.contains("tool `garbage` failed inside its plugin"),
        "{text}"
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    assert!(
        server
            .wait_for_log(|line| line.contains("invalid output"))
            .is_some(),
        "{}",
        server.logs()
    );
}

#[test]
fn output_that_breaks_the_tools_output_schema_is_a_tool_error() {
    let server = Server::start(&sandbox_with_misbehaving_plugin());
    let text = error_text(&call_tool(&server, "off_schema"));
    assert!(text.contains("tool `off_schema`"), "{text}");
    assert!(text.contains("does not match its output schema"), "{text}");
    assert!(text.contains("`count`"), "{text}");
}

#[test]
fn the_allow_list_loads_only_the_plugins_it_names() {
    let sandbox = sandbox_with_misbehaving_plugin();
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("PLUGIN_ALLOW", r#"["core-tools"]"#),
    );
    let health = get(&server, "/health");
    let plugins: Vec<&str> = health.body["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .filter_map(|plugin| plugin["name"].as_str())
        .collect();
    assert_eq!(plugins, ["core-tools"]);
    let refused = post_tool_as_demo(&server, "hang", "{}");
    assert_eq!(refused.status, 404, "{:?}", refused.body);
}

#[test]
fn an_allow_list_naming_a_missing_plugin_stops_start_up() {
    let sandbox = Sandbox::new();
    let Err(failure) = Server::try_start(
        &sandbox,
        Launch::default().env("PLUGIN_ALLOW", r#"["core-tools", "no-such-tools"]"#),
    ) else {
        panic!("the server started");
    };
    assert!(
        failure
            .output
            .contains("plugin `no-such-tools` is named in plugins.allow"),
        "{}",
        failure.output
    );
    assert!(
        failure.output.contains(&library_file_name("no_such_tools")),
        "{}",
        failure.output
    );
}

#[test]
fn a_library_that_differs_from_its_pin_is_refused_and_a_matching_one_loads() {
    use sha2::Digest as _;
    let sandbox = Sandbox::new();
    let library = sandbox.plugin_dir().join(library_file_name("core_tools"));
    let digest: String = sha2::Sha256::digest(std::fs::read(&library).expect("library"))
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let wrong = "0".repeat(64);
    let Err(failure) = Server::try_start(
        &sandbox,
        Launch::default().env("PLUGIN_SHA256", &format!("{{ core-tools = \"{wrong}\" }}")),
    ) else {
        panic!("a library that differs from its pin was loaded");
    };
    assert!(
        failure.output.contains(&library_file_name("core_tools")),
        "{}",
        failure.output
    );
    assert!(failure.output.contains(&digest), "{}", failure.output);
    assert!(failure.output.contains("pins"), "{}", failure.output);

    let server = Server::start_with(
        &sandbox,
        Launch::default().env("PLUGIN_SHA256", &format!("{{ core-tools = \"{digest}\" }}")),
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
}

#[test]
fn a_tool_past_its_time_limit_makes_no_more_tool_calls() {
    // orchestrate may run 1 s; its first wave waits 2 s for `hang`, so its
    // second wave would start after the caller was told it timed out.
    let sandbox = sandbox_with_misbehaving_plugin();
    let audit = sandbox.path().join("audit.jsonl");
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("PLUGIN_TOOL_TIMEOUTS", "{ orchestrate = 1, hang = 2 }")
            .env("AUDIT_LOG_FILE", &audit.to_string_lossy()),
    );
    let reply = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            1,
            "tools/call",
            json!({"name": "orchestrate", "arguments": {"steps": [
                {"id": "slow", "tool": "hang"},
                {"id": "first", "tool": "ping"},
                {"id": "late", "tool": "ping", "depends_on": ["first"]},
            ]}}),
        ),
    );
    let text = reply.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("did not finish within its time limit of 1 s"),
        "{text}"
    );
    let request_id = reply.header("x-request-id").unwrap_or_default().to_owned();
    // Past the moment the second wave would have started.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let pings = std::fs::read_to_string(&audit)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(&request_id) && line.contains(r#""tool":"ping""#))
        .count();
    assert_eq!(
        pings, 1,
        "only the first wave's ping may be decided; the second wave's call came after the time-out"
    );
}

#[test]
fn a_call_past_its_time_limit_keeps_its_slot_and_further_calls_are_told_the_server_is_busy() {
    let sandbox = sandbox_with_misbehaving_plugin();
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("PLUGIN_TOOL_TIMEOUTS", "{ hang = 1 }")
            .env("PLUGIN_MAX_CONCURRENCY", "1"),
    );
    // The plugin goes on sleeping after its caller was answered.
    let text = error_text(&call_tool(&server, "hang"));
    assert!(text.contains("time limit of 1 s"), "{text}");

    let health = get(&server, "/health");
    assert_eq!(health.body["status"], "degraded", "{:?}", health.body);
    assert_eq!(
        health.body["plugin_calls"]["abandoned"], 1,
        "{:?}",
        health.body
    );
    assert_eq!(health.body["plugin_calls"]["limit"], 1, "{:?}", health.body);
    let reasons = health.body["reasons"].to_string();
    assert!(reasons.contains("PLUGIN_MAX_CONCURRENCY"), "{reasons}");

    // Its slot is still taken: the next plugin call is refused as busy.
    let rest = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(rest.status, 503, "{:?}", rest.body);
    assert_eq!(rest.header("retry-after"), Some("1"));
    assert_eq!(rest.body["error"], "server_busy");
    let message = rest.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("PLUGIN_MAX_CONCURRENCY"), "{message}");
    let over_mcp = error_text(&call_tool(&server, "ping"));
    assert!(over_mcp.starts_with("the server is busy"), "{over_mcp}");
    // The server's own tools need no plugin slot.
    let config = call_tool(&server, "server_config");
    assert_ne!(config["isError"], true, "{config}");
}

#[test]
fn a_call_its_client_cancels_is_answered_at_once_and_audited_as_cancelled() {
    use std::io::{BufRead, BufReader};

    let server = Server::start(&sandbox_with_misbehaving_plugin());
    let post = |session: Option<&str>, body: String| {
        let mut request = crate::util::client()
            .post(server.url("/mcp"))
            .bearer_auth(DEMO_TOKEN)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25");
        if let Some(session) = session {
            request = request.header("Mcp-Session-Id", session);
        }
        request.body(body).send().expect("POST /mcp")
    };
    let opened = post(
        None,
        jsonrpc(
            1,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}),
        ),
    );
    let session = opened
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .expect("a session")
        .to_owned();
    drop(opened);
    post(
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    );
    let started = std::time::Instant::now();
    let call = post(
        Some(&session),
        jsonrpc(7, "tools/call", json!({"name": "hang", "arguments": {}})),
    );
    let (answered, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let text: Vec<String> = BufReader::new(call).lines().map_while(Result::ok).collect();
        let _ = answered.send(text.join("\n"));
    });
    // The call is running; the client gives up on it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cancel = post(
        Some(&session),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7, "reason": "the user stopped it"}}).to_string(),
    );
    assert_eq!(cancel.status(), 202);
    let _ = answer.recv_timeout(std::time::Duration::from_secs(10));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the cancelled call was waited for"
    );
    let logs = post_tool_as_demo(&server, "audit_log", r#"{"principal": "demo-user"}"#);
    let records = logs.body["structuredContent"]["records"]
        .as_array()
        .expect("records")
        .clone();
    let hang: Vec<&str> = records
        .iter()
        .filter(|record| record["tool"] == "hang")
        .map(|record| record["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(hang, ["cancelled", "allow"], "newest first");
}
