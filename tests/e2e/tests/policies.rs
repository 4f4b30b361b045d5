//! Policies at run time: live reload (file watcher, SIGHUP, the
//! `reload_policies` tool), argument conditions, the admin action, and the
//! `audit_log` tool.

use std::time::{Duration, Instant};

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::{Value, json};

use crate::util::{get, jsonrpc, post_mcp, post_tool_as_demo};

/// A forbid that takes `ping` away from the demo principal.
const NO_PING: &str = r#"
@id("no-ping")
forbid (principal, action == Action::"call", resource == Tool::"ping");
"#;

fn policy_hash(server: &Server) -> String {
    get(server, "/health").body["policy"]["hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls `/health` until `done` holds, or fails after a generous while.
fn wait_for_health(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = get(server, "/health").body;
        if done(&health) {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {health:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Puts a policy file in place at once, as editors and deployment tools do
/// (write elsewhere, then rename), so the watcher never sees it half written.
fn install_policy(sandbox: &Sandbox, name: &str, text: &str) {
    let staged = sandbox.write(&format!("staged-{name}"), text);
    std::fs::rename(staged, sandbox.policy_dir().join(name)).expect("rename into place");
}

fn hangup(server: &Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn a_policy_file_change_is_picked_up_without_a_restart() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    let before = policy_hash(&server);
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);

    install_policy(&sandbox, "no-ping.cedar", NO_PING);
    let health = wait_for_health(&server, "the reload", |h| {
        h["policy"]["hash"] != before.as_str()
    });
    assert_eq!(health["status"], "ok");
    assert_eq!(health["policy"]["last_reload"]["trigger"], "watch");
    assert_eq!(health["policy"]["last_reload"]["outcome"], "loaded");

    let denied = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(denied.status, 403, "{:?}", denied.body);

    // And back: deleting the file restores the shipped set.
    std::fs::remove_file(sandbox.policy_dir().join("no-ping.cedar")).expect("remove");
    wait_for_health(&server, "the second reload", |h| {
        h["policy"]["hash"] == before.as_str()
    });
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
}

#[test]
fn an_invalid_policy_change_keeps_the_active_set_and_shows_in_health() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    let before = policy_hash(&server);

    install_policy(
        &sandbox,
        "broken.cedar",
        "@id(\"broken\")\npermit (principal, action, resource)\nwhen { principal.nope };\n",
    );
    let health = wait_for_health(&server, "the rejected reload", |h| {
        h["policy"]["last_reload"]["outcome"] == "rejected"
    });
    assert_eq!(health["status"], "degraded");
    assert_eq!(
        health["policy"]["hash"],
        before.as_str(),
        "the active set is untouched"
    );
    let error = health["policy"]["last_reload"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("broken.cedar:3:"), "{error}");
    assert!(
        server
            .wait_for_log(
                |line| line.contains("policy reload rejected") && line.contains("broken.cedar")
            )
            .is_some(),
        "the rejection is logged"
    );

    // The old set still decides.
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);

    // Fixing the file clears the degraded status.
    install_policy(
        &sandbox,
        "broken.cedar",
        &NO_PING.replace("no-ping", "fixed"),
    );
    let health = wait_for_health(&server, "the fixed reload", |h| h["status"] == "ok");
    assert_eq!(health["policy"]["last_reload"]["outcome"], "loaded");
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 403);
}

#[test]
fn sighup_reloads_when_the_watcher_is_off() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, Launch::default().env("POLICY_WATCH", "false"));
    let before = policy_hash(&server);
    sandbox.write("policies/no-ping.cedar", NO_PING);
    // Without the watcher nothing changes by itself.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(policy_hash(&server), before);
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);

    hangup(&server);
    let health = wait_for_health(&server, "the SIGHUP reload", |h| {
        h["policy"]["hash"] != before.as_str()
    });
    assert_eq!(health["policy"]["last_reload"]["trigger"], "signal");
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 403);
}

#[test]
fn the_reload_policies_tool_reloads_and_reports_rejections_as_tool_errors() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, Launch::default().env("POLICY_WATCH", "false"));

    let unchanged = post_tool_as_demo(&server, "reload_policies", "{}");
    assert_eq!(unchanged.status, 200, "{:?}", unchanged.body);
    assert_eq!(unchanged.body["structuredContent"]["outcome"], "unchanged");

    sandbox.write("policies/no-ping.cedar", NO_PING);
    let loaded = post_tool_as_demo(&server, "reload_policies", "{}");
    assert_eq!(loaded.body["structuredContent"]["outcome"], "loaded");
    assert_eq!(
        loaded.body["structuredContent"]["policies"],
        e2e::shipped_policy_count() + 1
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 403);

    sandbox.write(
        "policies/no-ping.cedar",
        "permit (principal, action, resource);",
    );
    let rejected = post_tool_as_demo(&server, "reload_policies", "{}");
    assert_eq!(
        rejected.status, 422,
        "a tool error over REST: {:?}",
        rejected.body
    );
    let message = rejected.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("no-ping.cedar"), "{message}");
    assert!(message.contains("@id"), "{message}");
    assert_eq!(
        post_tool_as_demo(&server, "ping", "{}").status,
        403,
        "still the last good set"
    );
    let health = get(&server, "/health").body;
    assert_eq!(health["policy"]["last_reload"]["trigger"], "admin");
}

#[test]
fn admin_tools_need_the_admin_scopes_and_are_hidden_without_them() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("everyday", &["tools:ping", "tools:review"]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let denied = post_tool_as_demo(&server, "reload_policies", "{}");
    assert_eq!(denied.status, 403);
    assert!(
        denied
            .header("www-authenticate")
            .is_some_and(|h| h.contains("scope=\"admin:config\"")),
        "{:?}",
        denied.headers
    );
    let listed = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(1, "tools/list", json!({})),
    );
    let names: Vec<&str> = listed.body["result"]["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(names, ["ping", "review_code"]);
}

#[test]
fn a_role_granting_every_call_does_not_reach_the_admin_tools() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "policies/trusted.cedar",
        "@id(\"trusted\")\npermit (principal in Role::\"trusted\", action == Action::\"call\", resource);\n",
    );
    let config = sandbox.write(
        "trusted.toml",
        format!("[demo]\ntoken = {DEMO_TOKEN:?}\nprincipal_id = \"root\"\nscopes = []\nroles = [\"trusted\"]\n"),
    );
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    assert_eq!(post_tool_as_demo(&server, "audit_log", "{}").status, 403);
    assert_eq!(
        post_tool_as_demo(&server, "reload_policies", "{}").status,
        403
    );
}

/// A schema that lets policies see `ping`'s `message`, and a rule on it.
fn with_message_rule(sandbox: &Sandbox) {
    let schema_path = sandbox.policy_dir().join("schema.cedarschema");
    let schema = std::fs::read_to_string(&schema_path).expect("schema");
    std::fs::write(
        &schema_path,
        schema.replace(
            "language?: String,",
            "language?: String,\n  message?: String,",
        ),
    )
    .expect("write schema");
    sandbox.write(
        "policies/quiet.cedar",
        r#"
@id("no-shouting")
forbid (principal, action == Action::"call", resource == Tool::"ping")
when { context.arguments has message && context.arguments.message == "SHOUT" };
"#,
    );
}

#[test]
fn an_argument_condition_decides_rest_calls_with_their_body() {
    let sandbox = Sandbox::new();
    with_message_rule(&sandbox);
    let server = Server::start(&sandbox);
    assert_eq!(
        post_tool_as_demo(&server, "ping", r#"{"message":"hello"}"#).status,
        200
    );
    let denied = post_tool_as_demo(&server, "ping", r#"{"message":"SHOUT"}"#);
    assert_eq!(denied.status, 403, "{:?}", denied.body);
    // Malformed JSON is now a 400: the decision needs the arguments.
    assert_eq!(post_tool_as_demo(&server, "ping", "{not json").status, 400);
    // A declared argument of the wrong type is a denial, never a panic.
    assert_eq!(
        post_tool_as_demo(&server, "ping", r#"{"message":7}"#).status,
        403
    );
}

#[test]
fn an_argument_condition_decides_mcp_calls() {
    let sandbox = Sandbox::new();
    with_message_rule(&sandbox);
    let server = Server::start(&sandbox);
    let call = |message: &str| {
        post_mcp(
            &server,
            Some(DEMO_TOKEN),
            &jsonrpc(
                7,
                "tools/call",
                json!({"name": "ping", "arguments": {"message": message}}),
            ),
        )
    };
    let allowed = call("hello");
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.body["result"]["isError"], false,
        "{:?}",
        allowed.body
    );
    let denied = call("SHOUT");
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["error"]["code"], -32003);
    // tools/list has no arguments, so ping stays listed.
    let listed = post_mcp(
        &server,
        Some(DEMO_TOKEN),
        &jsonrpc(8, "tools/list", json!({})),
    );
    assert!(
        listed.body["result"]["tools"]
            .as_array()
            .is_some_and(|tools| tools.iter().any(|t| t["name"] == "ping"))
    );
}

#[test]
fn the_audit_log_tool_returns_the_latest_decisions_filtered() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    for _ in 0..3 {
        assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    }
    let reply = post_tool_as_demo(&server, "audit_log", r#"{"tool":"ping","limit":2}"#);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let structured = &reply.body["structuredContent"];
    assert_eq!(structured["matched"], 3);
    let records = structured["records"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    for record in records {
        assert_eq!(record["tool"], "ping");
        assert_eq!(record["decision"], "allow");
        assert_eq!(record["principal_id"], "demo-user");
    }
    // The call to audit_log itself was decided and recorded, as admin.
    let own = post_tool_as_demo(&server, "audit_log", r#"{"tool":"audit_log"}"#);
    let own_records = own.body["structuredContent"]["records"]
        .as_array()
        .expect("records");
    assert_eq!(own_records[0]["action"], "admin");
    assert_eq!(own_records[0]["policies"], json!(["admin.logs"]));

    let denials = post_tool_as_demo(&server, "audit_log", r#"{"decision":"deny"}"#);
    assert_eq!(denials.body["structuredContent"]["matched"], 0);

    let bad = post_tool_as_demo(&server, "audit_log", r#"{"limit":0}"#);
    assert_eq!(bad.status, 422);
    let message = bad.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("limit"), "{message}");
}

#[test]
fn server_config_shows_the_effective_settings_with_secrets_redacted() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("DESCOPE_CLIENT_SECRET", "client-secret-value")
            .env("MAX_REQUEST_SIZE_MB", "3"),
    );
    let reply = post_tool_as_demo(&server, "server_config", "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let text = reply.body.to_string();
    for secret in ["client-secret-value", DEMO_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    let structured = &reply.body["structuredContent"];
    assert_eq!(
        structured["settings"]["descope"]["client_secret"],
        "<redacted>"
    );
    assert_eq!(structured["settings"]["server"]["max_request_size_mb"], 3);
    let environment = structured["environment"].as_array().expect("environment");
    let setting = |variable: &str| {
        environment
            .iter()
            .find(|entry| entry["variable"] == variable)
            .map(|entry| entry["value"].clone())
    };
    assert_eq!(setting("MAX_REQUEST_SIZE_MB"), Some(json!(3)));
    assert_eq!(setting("DESCOPE_CLIENT_SECRET"), Some(json!("<redacted>")));
    assert_eq!(setting("POLICY_WATCH"), Some(json!(true)));
}
