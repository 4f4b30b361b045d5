//! The tool catalogue, called end to end: each tool through `tools/call`
//! on the real binary, with the bundled plugins and shipped policies.

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::{Value, json};

use crate::util::{canonical, jsonrpc, post_mcp};

/// `tools/call` as the demo principal; the JSON-RPC result and the
/// request id.
pub(crate) fn call(server: &Server, tool: &str, arguments: Value) -> (Value, String) {
    let reply = post_mcp(
        server,
        Some(DEMO_TOKEN),
        &jsonrpc(
            1,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        ),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let request_id = reply.header("x-request-id").unwrap_or_default().to_owned();
    (reply.body["result"].clone(), request_id)
}

#[test]
fn orchestrate_runs_steps_for_the_caller_and_reports_denials() {
    let sandbox = Sandbox::new();
    let audit = sandbox.path().join("audit.jsonl");
    // A caller who may orchestrate and ping, but not read the audit log.
    let config = sandbox.demo_principal_config("planner", &["tools:orchestrate", "tools:ping"]);
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .config(&config)
            .env("AUDIT_LOG_FILE", &audit.to_string_lossy()),
    );
    let (result, request_id) = call(
        &server,
        "orchestrate",
        json!({"steps": [
            {"id": "hello", "tool": "ping", "arguments": {"message": "one"}},
            {"id": "logs", "tool": "audit_log", "arguments": {}},
            {"id": "after-logs", "tool": "ping", "depends_on": ["logs"]},
            {"id": "after-hello", "tool": "ping", "arguments": {"message": "two"}, "depends_on": ["hello"]},
        ]}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let report = &result["structuredContent"];
    let status = |index: usize| {
        report["steps"][index]["status"]
            .as_str()
            .unwrap_or_default()
    };
    assert_eq!(
        [status(0), status(1), status(2), status(3)],
        ["completed", "denied", "skipped", "completed"]
    );
    assert_eq!(report["steps"][0]["structured"]["message"], "one");
    assert_eq!(report["steps"][0]["structured"]["principal_id"], "planner");
    let denial = report["steps"][1]["text"].as_str().unwrap_or_default();
    assert!(denial.contains("admin:logs"), "{denial}");
    assert_eq!(
        report["waves"],
        json!([["hello", "logs"], ["after-logs", "after-hello"]])
    );
    insta::assert_json_snapshot!("orchestrate", canonical(report), {
        ".steps[].structured.server_time" => "[server time]"
    });

    // Every nested call was decided for the original caller and audited
    // under the request that carried the plan.
    let records: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let decisions: Vec<(String, String)> = records
        .iter()
        .filter(|record| record["request_id"] == request_id.as_str())
        .map(|record| {
            assert_eq!(record["principal_id"], "planner");
            (
                record["tool"].as_str().unwrap_or_default().to_owned(),
                record["decision"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("orchestrate", "allow"),
        ("ping", "allow"),
        ("audit_log", "deny"),
    ] {
        assert!(
            decisions.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {decisions:?}"
        );
    }

    // The plugin's own log line arrives in the server log with its plugin
    // and tool.
    let logged = server.wait_for_log(|line| {
        line.contains("4 steps in 2 waves")
            && line.contains("core-tools")
            && line.contains("orchestrate")
    });
    assert!(logged.is_some(), "no plugin log line:\n{}", server.logs());
}

#[test]
fn ping_echoes_with_the_server_time_and_the_caller() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(&server, "ping", json!({"message": "hello"}));
    assert_eq!(result["isError"], false, "{result}");
    let time = result["structuredContent"]["server_time"]
        .as_str()
        .unwrap_or_default();
    assert!(time.ends_with('Z') && time.len() == 24, "{time}");
    insta::assert_json_snapshot!("ping", canonical(&result), {
        ".structuredContent.server_time" => "[server time]"
    });
}

#[test]
fn orchestrate_refuses_a_cycle_before_running_anything() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "orchestrate",
        json!({"steps": [
            {"id": "a", "tool": "ping", "depends_on": ["b"]},
            {"id": "b", "tool": "ping", "depends_on": ["a"]},
        ]}),
    );
    assert_eq!(result["isError"], true);
    assert_eq!(
        result["content"][0]["text"],
        "the plan has a cycle: a -> b -> a; remove one of these dependencies"
    );
}

#[test]
fn tools_calling_tools_stop_at_the_nesting_limit() {
    let server = Server::start(&Sandbox::new());
    // Each level runs a plan whose one step runs the next plan.
    let mut plan = json!({"steps": [{"id": "ping", "tool": "ping"}]});
    for level in 0..6 {
        plan = json!({"steps": [{"id": format!("level-{level}"), "tool": "orchestrate", "arguments": plan}]});
    }
    let (result, _) = call(&server, "orchestrate", plan);
    assert_eq!(result["isError"], false, "{result}");
    // Follow the reports down to the step that was refused.
    let mut report = &result["structuredContent"];
    let mut depth = 0;
    while report["steps"][0]["status"] == "completed" {
        report = &report["steps"][0]["structured"];
        depth += 1;
    }
    assert_eq!(report["steps"][0]["status"], "refused", "{result}");
    let text = report["steps"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("at most 4 levels deep"), "{text}");
    assert_eq!(depth, 4);
}

/// A small Python file with something for every code rule to find.
const PYTHON_SAMPLE: &str = "import requests\n\nAPI_TOKEN = \"tok_4f9a8b7c6d5e\"  \n\ndef fetch(url):\n    # TODO: retry on failure\n    try:\n        return requests.get(url, headers={\"Authorization\": API_TOKEN})\n    except:\n        print(\"request failed\")\n\treturn None\n";

#[test]
fn review_code_reports_findings_with_line_rule_and_severity() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "review_code",
        json!({"code": PYTHON_SAMPLE, "language": "python"}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        !text.contains("tok_4f9a8b7c6d5e"),
        "the secret is echoed: {text}"
    );
    insta::assert_json_snapshot!("review_code", canonical(&result["structuredContent"]));
}

#[test]
fn fix_code_returns_the_fixed_text_and_a_unified_diff() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "fix_code",
        json!({"code": PYTHON_SAMPLE, "language": "python", "path": "client.py"}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let fixed = result["structuredContent"]["fixed"]
        .as_str()
        .unwrap_or_default();
    assert!(
        fixed.contains("API_TOKEN = os.environ[\"API_TOKEN\"]\n"),
        "{fixed}"
    );
    insta::assert_snapshot!(
        "fix_code_diff",
        result["structuredContent"]["diff"]
            .as_str()
            .unwrap_or_default()
    );
    insta::assert_json_snapshot!("fix_code", canonical(&result["structuredContent"]));
}

#[test]
fn quality_report_checks_metrics_against_thresholds() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "quality_report",
        json!({"code": PYTHON_SAMPLE, "thresholds": {"min_comment_ratio": 0.2}}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let report = &result["structuredContent"];
    assert_eq!(report["language"], "python", "guessed from the text");
    assert_eq!(report["passed"], false);
    insta::assert_json_snapshot!("quality_report", canonical(report));
}

#[test]
fn code_tools_refuse_bad_arguments_and_oversized_code_before_running() {
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("PLUGIN_MAX_INPUT_BYTES", "2048"),
    );
    let (wrong_type, _) = call(&server, "review_code", json!({"code": 5}));
    assert_eq!(wrong_type["isError"], true);
    let text = wrong_type["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.starts_with("invalid arguments for `review_code`: argument `code`"),
        "{text}"
    );

    let (unknown_language, _) = call(
        &server,
        "review_code",
        json!({"code": "x", "language": "cobol"}),
    );
    let text = unknown_language["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("unknown language `cobol`"), "{text}");

    let (oversized, _) = call(&server, "fix_code", json!({"code": "x = 1\n".repeat(1000)}));
    assert_eq!(oversized["isError"], true);
    let text = oversized["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(
            "the arguments for `fix_code` are 7011 bytes; the server accepts at most 2048"
        ) && text.contains("PLUGIN_MAX_INPUT_BYTES"),
        "{text}"
    );
}

#[test]
fn deploy_plan_renders_manifests_and_keeps_secrets_out_of_them() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "deploy_plan",
        json!({
            "name": "orders-api",
            "port": 8080,
            "runtime": "node",
            "image": "ghcr.io/acme/orders-api:1.4.2",
            "env": {"DATABASE_URL": "postgres://db:5432/orders", "STRIPE_API_KEY": "sk_live_do_not_ship"},
            "health_path": "/healthz"
        }),
    );
    assert_eq!(result["isError"], false, "{result}");
    let plan = &result["structuredContent"];
    assert!(
        !plan.to_string().contains("sk_live_do_not_ship"),
        "a secret reached the plan"
    );
    assert_eq!(plan["ready"], true);
    insta::assert_snapshot!(
        "deploy_plan_dockerfile",
        plan["dockerfile"].as_str().unwrap_or_default()
    );
    insta::assert_snapshot!(
        "deploy_plan_deployment",
        plan["deployment"].as_str().unwrap_or_default()
    );
    insta::assert_json_snapshot!("deploy_plan", canonical(plan));
}

#[test]
fn cloud_plan_prices_one_deployment_on_three_clouds() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "cloud_plan",
        json!({"name": "orders-api", "region": "eu", "instances": 3, "vcpu": 1, "memory_gb": 2,
               "database": true, "storage_gb": 50, "egress_gb": 100}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let plans = &result["structuredContent"];
    let providers: Vec<&str> = plans["plans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|plan| plan["provider"].as_str())
        .collect();
    assert_eq!(providers, ["AWS", "Google Cloud", "Azure"]);
    insta::assert_json_snapshot!("cloud_plan", canonical(plans));
    let (unknown, _) = call(
        &server,
        "cloud_plan",
        json!({"name": "orders-api", "region": "mars"}),
    );
    assert_eq!(
        unknown["content"][0]["text"],
        "unknown region `mars`; use one of: asia, eu, us"
    );
}

#[test]
fn architect_derives_components_and_a_mermaid_diagram() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "architect",
        json!({
            "description": "An online shop with user accounts, card payments, product search and order emails",
            "constraints": {"concurrent_users": 50000, "compliance": ["pci"]}
        }),
    );
    assert_eq!(result["isError"], false, "{result}");
    let design = &result["structuredContent"];
    assert!(
        design["mermaid"]
            .as_str()
            .unwrap_or_default()
            .starts_with("flowchart LR\n")
    );
    insta::assert_snapshot!(
        "architect_mermaid",
        design["mermaid"].as_str().unwrap_or_default()
    );
    insta::assert_json_snapshot!("architect", canonical(design));
}

#[test]
fn optimize_prompt_lints_and_restructures_a_template() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "optimize_prompt",
        json!({
            "prompt": "Summarise {{document}} for {{audience}}. Be concise. Give a detailed account of every decision. Never invent facts. Never invent facts.",
            "variables": ["document", "tone"]
        }),
    );
    assert_eq!(result["isError"], false, "{result}");
    insta::assert_json_snapshot!("optimize_prompt", canonical(&result["structuredContent"]));
}

#[test]
fn generate_application_scaffolds_a_project_that_builds_and_passes_its_tests() {
    let server = Server::start(&Sandbox::new());
    let (result, _) = call(
        &server,
        "generate_application",
        json!({"template": "rust-cli", "name": "hello-cli", "description": "Greets people."}),
    );
    assert_eq!(result["isError"], false, "{result}");
    let project = &result["structuredContent"];
    insta::assert_snapshot!(
        "generate_application_tree",
        project["tree"].as_str().unwrap_or_default()
    );

    // Write the files out and run the project's own tests.
    let dir = tempfile::tempdir().expect("tempdir");
    for file in project["files"].as_array().into_iter().flatten() {
        let path = dir.path().join(file["path"].as_str().expect("path"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, file["contents"].as_str().expect("contents")).expect("write");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["test", "--quiet", "--offline"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "the generated project's tests failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn one_request_makes_at_most_max_tool_calls_per_request_calls() {
    // Found by an attacker: one request fanned out to about 1,550 tool
    // calls through nested orchestrate plans.
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("MAX_TOOL_CALLS_PER_REQUEST", "5"),
    );
    let steps: Vec<Value> = (0..10)
        .map(|index| json!({"id": format!("ping-{index}"), "tool": "ping"}))
        .collect();
    let (result, _) = call(&server, "orchestrate", json!({ "steps": steps }));
    assert_eq!(result["isError"], false, "{result}");
    let report = &result["structuredContent"];
    let statuses: Vec<&str> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["status"].as_str().unwrap_or_default())
        .collect();
    // The orchestrate call itself is the first of the five.
    assert_eq!(
        statuses.iter().filter(|s| **s == "completed").count(),
        4,
        "{result}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "refused").count(),
        6,
        "{result}"
    );
    let refused = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["status"] == "refused")
        .and_then(|step| step["text"].as_str())
        .unwrap_or_default();
    assert!(
        refused.contains("at most 5 tool calls, nested ones included (MAX_TOOL_CALLS_PER_REQUEST)"),
        "{refused}"
    );

    // The next request has a budget of its own.
    let (again, _) = call(&server, "ping", json!({}));
    assert_eq!(again["isError"], false, "{again}");
}

#[test]
fn the_calls_tools_make_count_against_the_callers_rate_limit() {
    // Found by an attacker: nested calls were free, so one request a minute
    // could make as many calls as its plan named.
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("RATE_LIMIT_PER_MINUTE", "4"),
    );
    let steps: Vec<_> = (0..6)
        .map(|index| json!({"id": format!("ping-{index}"), "tool": "ping"}))
        .collect();
    let (result, _) = call(&server, "orchestrate", json!({ "steps": steps }));
    assert_eq!(result["isError"], false, "{result}");
    let steps = result["structuredContent"]["steps"]
        .as_array()
        .expect("steps");
    // The request itself is the first of the four.
    let completed = steps
        .iter()
        .filter(|step| step["status"] == "completed")
        .count();
    assert_eq!(completed, 3, "{result}");
    let refused = steps
        .iter()
        .find(|step| step["status"] == "refused")
        .and_then(|step| step["text"].as_str())
        .unwrap_or_default();
    assert!(refused.contains("(RATE_LIMIT_PER_MINUTE)"), "{refused}");
    // And the caller's own next request is over the limit too.
    let reply = crate::util::post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(reply.status, 429, "{:?}", reply.body);
}
