//! Resources, resource templates, prompts and completion over MCP: listed
//! per caller, decided by the policies like tools, read from the plugins
//! and from the server itself.

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::{Value, json};

use crate::util::{Reply, jsonrpc, post_mcp};

fn ask(server: &Server, method: &str, params: Value) -> Reply {
    post_mcp(server, Some(DEMO_TOKEN), &jsonrpc(1, method, params))
}

/// Reads `uri` and parses its one text content as JSON.
fn read_json(server: &Server, uri: &str) -> Value {
    let reply = ask(server, "resources/read", json!({ "uri": uri }));
    assert_eq!(reply.status, 200, "{uri}: {:?}", reply.body);
    let text = reply.body["result"]["contents"][0]["text"]
        .as_str()
        .expect("text contents");
    serde_json::from_str(text).expect("JSON contents")
}

fn names(list: &Value, key: &str, field: &str) -> Vec<String> {
    list[key]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item[field].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn lists_show_what_the_caller_may_read_and_get_with_caching_hints() {
    let server = Server::start(&Sandbox::new());
    let resources = ask(&server, "resources/list", json!({}));
    assert_eq!(resources.status, 200, "{:?}", resources.body);
    let result = &resources.body["result"];
    assert_eq!(
        names(result, "resources", "uri"),
        [
            "orchestrator://policies",
            "orchestrator://scopes",
            "orchestrator://descope/scopes.json",
            "orchestrator://decisions",
            "code-tools://languages",
        ]
    );
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(result["ttlMs"], 30000);
    let templates = ask(&server, "resources/templates/list", json!({}));
    assert_eq!(
        names(
            &templates.body["result"],
            "resourceTemplates",
            "uriTemplate"
        ),
        ["code-tools://review-rules/{language}"]
    );
    let prompts = ask(&server, "prompts/list", json!({}));
    assert_eq!(
        names(&prompts.body["result"], "prompts", "name"),
        ["architecture_brief", "code_review"]
    );
    assert_eq!(prompts.body["result"]["cacheScope"], "private");

    // A caller with only tools:ping sees none of them.
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("pinger", &["tools:ping"]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    for (method, key) in [
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
        ("prompts/list", "prompts"),
    ] {
        let reply = ask(&server, method, json!({}));
        assert_eq!(reply.body["result"][key], json!([]), "{method}");
    }
}

#[test]
fn a_template_read_and_a_prompt_come_from_their_plugins() {
    let server = Server::start(&Sandbox::new());
    let read = ask(
        &server,
        "resources/read",
        json!({"uri": "code-tools://review-rules/rust"}),
    );
    assert_eq!(read.status, 200, "{:?}", read.body);
    let contents = &read.body["result"]["contents"][0];
    assert_eq!(contents["uri"], "code-tools://review-rules/rust");
    assert_eq!(contents["mimeType"], "application/json");
    let rules: Value =
        serde_json::from_str(contents["text"].as_str().expect("text")).expect("JSON");
    assert!(
        rules["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|rule| rule["rule"] == "rust.unwrap"),
        "{rules}"
    );

    let prompt = ask(
        &server,
        "prompts/get",
        json!({"name": "code_review", "arguments": {"code": "print('hi')", "language": "python"}}),
    );
    assert_eq!(prompt.status, 200, "{:?}", prompt.body);
    let text = prompt.body["result"]["messages"][0]["content"]["text"]
        .as_str()
        .expect("text");
    assert!(
        text.starts_with("Review the following python code."),
        "{text}"
    );

    let completion = ask(
        &server,
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "code_review"}, "argument": {"name": "language", "value": "ja"}}),
    );
    assert_eq!(
        completion.body["result"]["completion"],
        json!({"values": ["java", "javascript"], "total": 2, "hasMore": false})
    );
    let completion = ask(
        &server,
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "code-tools://review-rules/{language}"}, "argument": {"name": "language", "value": "R"}}),
    );
    assert_eq!(
        completion.body["result"]["completion"]["values"],
        json!(["ruby", "rust"])
    );
}

#[test]
fn the_server_reads_its_own_resources_for_admins_only() {
    let server = Server::start(&Sandbox::new());
    let document = read_json(&server, "orchestrator://policies");
    assert!(
        document["hash"]
            .as_str()
            .is_some_and(|hash| hash.starts_with("sha256:"))
    );
    assert_eq!(document["files"][0]["file"], "schema.cedarschema");
    let document = read_json(&server, "orchestrator://scopes");
    let review = document["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .find(|scope| scope["name"] == "tools:review")
        .expect("tools:review")
        .clone();
    assert_eq!(review["prompts"], json!(["code_review"]));
    assert_eq!(
        review["resources"],
        json!([
            "code-tools://languages",
            "code-tools://review-rules/{language}"
        ])
    );
    let document = read_json(&server, "orchestrator://decisions");
    // Every read was decided and audited, newest first: this one, then
    // the scopes.
    assert_eq!(document["records"][0]["tool"], "orchestrator://decisions");
    assert_eq!(document["records"][1]["kind"], "resource");
    assert_eq!(document["records"][1]["tool"], "orchestrator://scopes");
    assert_eq!(document["records"][1]["action"], "admin");
    assert_eq!(document["records"][1]["decision"], "allow");
}

#[test]
fn a_denied_read_or_prompt_is_403_with_the_scopes_that_would_allow_it() {
    let sandbox = Sandbox::new();
    let config = sandbox.demo_principal_config("pinger", &["tools:ping"]);
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    for (method, params, scope) in [
        (
            "resources/read",
            json!({"uri": "orchestrator://policies"}),
            "admin:config",
        ),
        (
            "resources/read",
            json!({"uri": "code-tools://review-rules/go"}),
            "tools:review",
        ),
        (
            "prompts/get",
            json!({"name": "code_review", "arguments": {"code": "x"}}),
            "tools:review",
        ),
        (
            "prompts/get",
            json!({"name": "architecture_brief", "arguments": {"project": "an online shop"}}),
            "legendary:architect",
        ),
    ] {
        let reply = ask(&server, method, params);
        assert_eq!(reply.status, 403, "{method}: {:?}", reply.body);
        let challenge = reply.header("www-authenticate").expect("a challenge");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{challenge}"
        );
        assert_eq!(reply.body["error"]["code"], -32003);
        assert_eq!(
            reply.body["error"]["data"]["required_scopes"],
            json!([scope])
        );
    }
}

#[test]
fn a_missing_resource_or_prompt_is_invalid_params_naming_it() {
    let server = Server::start(&Sandbox::new());
    for uri in ["test://nonexistent", "code-tools://review-rules/cobol"] {
        let reply = ask(&server, "resources/read", json!({"uri": uri}));
        assert_eq!(
            reply.body["error"]["code"], -32602,
            "{uri}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["data"]["uri"], uri);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("Resource not found")),
            "{:?}",
            reply.body
        );
    }
    let reply = ask(&server, "prompts/get", json!({"name": "nope"}));
    assert_eq!(reply.body["error"]["code"], -32602);
    let reply = ask(
        &server,
        "prompts/get",
        json!({"name": "code_review", "arguments": {}}),
    );
    assert_eq!(reply.body["error"]["code"], -32602);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("needs the argument `code`")),
        "{:?}",
        reply.body
    );
    let reply = ask(
        &server,
        "prompts/get",
        json!({"name": "code_review", "arguments": {"code": 7}}),
    );
    assert_eq!(reply.body["error"]["code"], -32602);
}

#[test]
fn a_huge_uri_or_name_is_refused_without_being_echoed_back() {
    let server = Server::start(&Sandbox::new());
    let huge = format!("code-tools://review-rules/{}", "x".repeat(100_000));
    for (method, params) in [
        ("resources/read", json!({"uri": huge})),
        ("resources/subscribe", json!({"uri": huge})),
        ("prompts/get", json!({"name": huge})),
        ("tools/call", json!({"name": huge})),
    ] {
        let reply = ask(&server, method, params);
        let text = reply.body.to_string();
        assert!(text.len() < 2_000, "{method} echoed {} bytes", text.len());
        assert_eq!(reply.body["error"]["code"], -32602, "{method}: {text}");
        assert!(
            text.contains("the server reads at most 2048"),
            "{method}: {text}"
        );
    }
    // Nor is it logged past the debug line of the request itself.
    let logs = server.logs();
    let logged: Vec<&str> = logs
        .lines()
        .filter(|line| !line.contains("DEBUG") && line.contains(&huge[..2_000]))
        .collect();
    let shown: Vec<&str> = logged
        .iter()
        .map(|line| &line[..line.len().min(300)])
        .collect();
    assert!(
        logged.is_empty(),
        "{} lines echo the URI: {shown:#?}",
        logged.len()
    );
}
