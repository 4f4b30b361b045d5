//! Approval gates: a production `deploy_plan`, which the shipped policies
//! allow only once a person approves it, asked over MCP 2026-07-28's
//! input-required results and refused at the REST door; every way of
//! tampering with the echoed `requestState` is refused, and nothing runs.

use e2e::{DEMO_MACHINE, DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::{Value, json};

use crate::util::{client, jsonrpc, post_tool_as_demo};

const APPROVAL: &str = "orchestrator-mcp/approval";

/// A 2026-07-28 request's `_meta`, declaring `capabilities`.
pub(crate) fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    })
}

/// A 2026-07-28 `tools/call` of `tool` as `token`, with extra `params`
/// (`inputResponses`, `requestState`); the HTTP status and the body.
pub(crate) fn call(server: &Server, token: &str, tool: &str, params: Value) -> (u16, Value) {
    let mut params = params;
    params["name"] = json!(tool);
    if params.get("_meta").is_none() {
        params["_meta"] = meta(json!({"elicitation": {}}));
    }
    let response = client()
        .post(server.url("/mcp"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", tool)
        .body(jsonrpc(1, "tools/call", params).to_string())
        .send()
        .expect("POST /mcp");
    let status = response.status().as_u16();
    let text = response.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

pub(crate) fn production() -> Value {
    json!({"name": "shop", "port": 8080, "image": "registry.example/shop:1.4.2", "replicas": 3, "environment": "production"})
}

/// Asks for a production plan: the input-required result, checked to ask
/// for the approval.
pub(crate) fn ask(server: &Server) -> Value {
    let (status, body) = call(
        server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production()}),
    );
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["resultType"], "input_required", "{body}");
    assert!(result["requestState"].is_string(), "{body}");
    result.clone()
}

pub(crate) fn accept() -> Value {
    json!({ APPROVAL: {"action": "accept", "content": {"comment": "release 1.4.2"}} })
}

fn audit_decisions(server: &Server) -> Vec<String> {
    let log = server.call_tool(DEMO_TOKEN, "audit_log", json!({"limit": 50}));
    let mut records: Vec<Value> = log["result"]["structuredContent"]["records"]
        .as_array()
        .unwrap_or_else(|| panic!("records: {log}"))
        .clone();
    // The log lists the newest first.
    records.reverse();
    records
        .iter()
        .filter(|record| record["tool"] == "deploy_plan")
        .map(|record| record["decision"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_production_plan_runs_only_after_a_person_accepts_the_form_showing_its_arguments() {
    let server = Server::start(&Sandbox::new());
    let asked = ask(&server);
    let request = &asked["inputRequests"][APPROVAL];
    assert_eq!(request["method"], "elicitation/create", "{asked}");
    let message = request["params"]["message"].as_str().expect("message");
    for shown in [
        "deploy_plan",
        "\"environment\": \"production\"",
        "\"image\": \"registry.example/shop:1.4.2\"",
        "\"replicas\": 3",
        "tools.deploy",
        "Caller: ",
    ] {
        assert!(message.contains(shown), "the form shows {shown}: {message}");
    }
    assert_eq!(request["params"]["requestedSchema"]["required"], json!([]));

    let (status, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "inputResponses": accept(), "requestState": asked["requestState"]}),
    );
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["resultType"], "complete", "{body}");
    assert_eq!(result["isError"], false, "{body}");
    assert_eq!(
        result["structuredContent"]["environment"], "production",
        "{body}"
    );

    let decisions = audit_decisions(&server);
    assert_eq!(
        decisions,
        [
            // The first request: decided, and the approval asked for.
            "approval_required",
            "approval_requested",
            // The retry: decided again, the answer read, decided approved.
            "approval_required",
            "approval_accepted",
            "allow"
        ],
        "oldest first"
    );
}

#[test]
fn a_declined_or_cancelled_approval_ends_the_call_and_nothing_runs() {
    let server = Server::start(&Sandbox::new());
    for (action, word) in [("decline", "declined"), ("cancel", "cancelled")] {
        let asked = ask(&server);
        let (status, body) = call(
            &server,
            DEMO_TOKEN,
            "deploy_plan",
            json!({
                "arguments": production(),
                "inputResponses": { APPROVAL: {"action": action} },
                "requestState": asked["requestState"],
            }),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["isError"], true, "{body}");
        let text = body["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.contains(word) && text.contains("Nothing ran"),
            "{text}"
        );
        assert!(body["result"].get("structuredContent").is_none(), "{body}");
    }
    let decisions = audit_decisions(&server);
    assert!(
        decisions.contains(&"approval_declined".to_owned()),
        "{decisions:?}"
    );
    assert!(
        decisions.contains(&"approval_cancelled".to_owned()),
        "{decisions:?}"
    );
    assert!(!decisions.contains(&"allow".to_owned()), "{decisions:?}");
}

#[test]
fn every_way_of_tampering_with_the_request_state_is_refused_and_nothing_runs() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    let retry = |token: &str, tool: &str, arguments: Value, state: &Value| {
        call(
            &server,
            token,
            tool,
            json!({"arguments": arguments, "inputResponses": accept(), "requestState": state}),
        )
    };
    let refused = |(status, body): (u16, Value), says: &str| {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["error"]["code"], -32602, "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message} should say {says}");
    };

    // Altered.
    let state = ask(&server)["requestState"].clone();
    let altered = json!(format!("{}-TAMPERED", state.as_str().unwrap_or_default()));
    refused(
        retry(DEMO_TOKEN, "deploy_plan", production(), &altered),
        "integrity check",
    );
    // Replayed: the first use runs the plan, the second is refused.
    let state = ask(&server)["requestState"].clone();
    let (_, first) = retry(DEMO_TOKEN, "deploy_plan", production(), &state);
    assert_eq!(first["result"]["isError"], false, "{first}");
    refused(
        retry(DEMO_TOKEN, "deploy_plan", production(), &state),
        "already used",
    );
    // Re-targeted at another tool.
    let state = ask(&server)["requestState"].clone();
    refused(
        retry(DEMO_TOKEN, "ping", json!({}), &state),
        "issued for tool `deploy_plan`, not `ping`",
    );
    // The arguments changed: another image than the one approved.
    let state = ask(&server)["requestState"].clone();
    let mut changed = production();
    changed["image"] = json!("registry.example/shop:6.6.6");
    refused(
        retry(DEMO_TOKEN, "deploy_plan", changed, &state),
        "arguments differ",
    );
    // Another caller: a machine with its own token.
    let state = ask(&server)["requestState"].clone();
    let machine = server.machine_token(DEMO_MACHINE);
    refused(
        retry(&machine, "deploy_plan", production(), &state),
        "another caller",
    );
    // An answer without the state it answers asks again.
    let (_, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "inputResponses": accept()}),
    );
    assert_eq!(body["result"]["resultType"], "input_required", "{body}");
    // A malformed answer names what is wrong.
    let state = ask(&server)["requestState"].clone();
    let (_, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "inputResponses": { APPROVAL: {"content": {}} }, "requestState": state}),
    );
    assert_eq!(body["error"]["code"], -32602, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no `action`"),
        "{body}"
    );
    // Exactly one plan ran: the first use of the replayed state.
    let allowed = audit_decisions(&server)
        .iter()
        .filter(|decision| *decision == "allow")
        .count();
    assert_eq!(allowed, 1);
}

#[test]
fn an_expired_request_state_is_refused() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, Launch::default().env("APPROVAL_TTL_SECS", "1"));
    let state = ask(&server)["requestState"].clone();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (_, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "inputResponses": accept(), "requestState": state}),
    );
    assert_eq!(body["error"]["code"], -32602, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{body}"
    );
}

#[test]
fn a_client_that_cannot_show_a_form_gets_the_denial_saying_why() {
    let server = Server::start(&Sandbox::new());
    let (status, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "_meta": meta(json!({}))}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], -32003, "{body}");
    assert_eq!(body["error"]["data"]["approval_required"], true, "{body}");
    assert_eq!(body["error"]["data"]["policies"], json!(["tools.deploy"]));
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("needs a person's approval") && message.contains("no elicitation"),
        "{message}"
    );
    // Development needs nobody's approval, whatever the client offers.
    let mut development = production();
    development["environment"] = json!("development");
    let (status, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": development, "_meta": meta(json!({}))}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["environment"],
        "development"
    );
}

#[test]
fn the_rest_door_answers_approval_required_naming_the_policy() {
    let server = Server::start(&Sandbox::new());
    let reply = post_tool_as_demo(&server, "deploy_plan", &production().to_string());
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "approval_required");
    assert_eq!(reply.body["tool"], "deploy_plan");
    assert_eq!(reply.body["policies"], json!(["tools.deploy"]));
    let message = reply.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tools.deploy") && message.contains("MCP client"),
        "{message}"
    );
    assert!(reply.header("www-authenticate").is_none());
}

#[test]
fn a_machine_cannot_approve_a_call_even_through_a_client_that_offers_forms() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "deployer.toml",
        "[[demo_auth.access_keys]]\nclient_id = \"deployer\"\nclient_secret = \"deployer-secret\"\n\
         principal_id = \"K2deployer\"\nscopes = [\"tools:deploy\"]\n",
    );
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let machine = server.machine_token(("deployer", "deployer-secret"));
    let (status, body) = call(
        &server,
        &machine,
        "deploy_plan",
        json!({"arguments": production()}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["data"]["approval_required"], true, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("not a person"), "{message}");
}

#[test]
fn an_approved_call_counts_once_against_the_request_budget() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("MAX_TOOL_CALLS_PER_REQUEST", "1"),
    );
    let asked = ask(&server);
    let (_, body) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({"arguments": production(), "inputResponses": accept(), "requestState": asked["requestState"]}),
    );
    assert_eq!(body["result"]["isError"], false, "{body}");
}

#[test]
fn any_tool_a_policy_gates_on_approval_is_listed_and_asks_for_one() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "policies/approve-fixes.cedar",
        "@id(\"fixes.approved\")\nforbid (principal, action == Action::\"call\", resource == Tool::\"fix_code\")\nunless { context.approved };\n",
    );
    let server = Server::start(&sandbox);
    let listed = server.call_tool(DEMO_TOKEN, "ping", json!({}));
    assert_eq!(listed["result"]["isError"], false, "{listed}");
    let tools = crate::util::post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(2, "tools/list", json!({})).to_string(),
    );
    let names: Vec<&str> = tools.body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(names.contains(&"fix_code"), "{names:?}");
    let arguments = json!({"code": "x = 1   \n", "language": "python"});
    let (_, asked) = call(
        &server,
        DEMO_TOKEN,
        "fix_code",
        json!({"arguments": arguments}),
    );
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let message = asked["result"]["inputRequests"][APPROVAL]["params"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("fixes.approved") || message.contains("tools.fix"),
        "{message}"
    );
    let (_, fixed) = call(
        &server,
        DEMO_TOKEN,
        "fix_code",
        json!({"arguments": arguments, "inputResponses": accept(), "requestState": asked["result"]["requestState"]}),
    );
    assert_eq!(fixed["result"]["isError"], false, "{fixed}");
}
