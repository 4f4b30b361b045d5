//! `orchestrator-mcp policy check | test | explain`: the policy tooling in
//! the shipped binary, run the way an operator runs it inside the image
//! (POLICY_DIR and PLUGIN_DIR from the environment, no workspace around).

use std::process::Output;

use e2e::Sandbox;

/// Runs `orchestrator-mcp policy <args>` in `sandbox` with its policies and
/// plugins configured through the environment only.
fn policy(sandbox: &Sandbox, args: &[&str]) -> Output {
    std::process::Command::new(e2e::server_binary())
        .arg("policy")
        .args(args)
        .env_clear()
        .current_dir(sandbox.path())
        .env("POLICY_DIR", sandbox.policy_dir())
        .env("PLUGIN_DIR", sandbox.plugin_dir())
        .output()
        .expect("run orchestrator-mcp policy")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn policy_check_validates_the_configured_directory() {
    let sandbox = Sandbox::new();
    let output = policy(&sandbox, &["check"]);
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report.starts_with(&format!(
            "policy check: {} policies, 12 scopes, sha256:",
            e2e::shipped_policy_count()
        )),
        "{report}"
    );
}

#[test]
fn policy_check_names_the_file_and_line_of_a_broken_policy_and_fails() {
    let sandbox = Sandbox::new();
    sandbox.write(
        "policies/broken.cedar",
        "@id(\"broken\")\npermit (principal, action, resource)\nwhen { principal. };\n",
    );
    let output = policy(&sandbox, &["check"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("broken.cedar:3:"), "{report}");
}

#[test]
fn policy_test_runs_the_shipped_cases_and_fails_on_a_wrong_expectation() {
    let sandbox = Sandbox::new();
    let output = policy(&sandbox, &["test"]);
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(report.contains(" passed, 0 failed"), "{report}");

    sandbox.write(
        "policies/tests/wrong.toml",
        "[[case]]\nname = \"ping without its scope\"\nclaims = { sub = \"U2dev\" }\ntool = \"ping\"\nexpect = \"allow\"\n",
    );
    let output = policy(&sandbox, &["test"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("ping without its scope: expected allow, got deny"),
        "{report}"
    );
    assert!(report.contains(" passed, 1 failed"), "{report}");
}

#[test]
fn policy_explain_shows_a_production_plan_as_allowed_with_approval() {
    let sandbox = Sandbox::new();
    let claims = sandbox.write(
        "claims.json",
        r#"{"sub": "U2dev", "scope": "tools:deploy"}"#,
    );
    let claims = claims.to_string_lossy().into_owned();
    let explain = |arguments: &str| {
        let output = policy(
            &sandbox,
            &[
                "explain",
                "--claims",
                &claims,
                "--tool",
                "deploy_plan",
                "--args",
                arguments,
            ],
        );
        text(&output)
    };
    let report = explain(r#"{"environment": "production"}"#);
    assert!(
        report.contains("decision: allowed with approval"),
        "{report}"
    );
    assert!(
        report.contains("approving policies: tools.deploy"),
        "{report}"
    );
    let report = explain(r#"{"environment": "staging"}"#);
    assert!(report.contains("decision: allow\n"), "{report}");
}

#[test]
fn policy_explain_sees_the_tool_as_its_plugin_describes_it() {
    let sandbox = Sandbox::new();
    let claims = sandbox.write("claims.json", r#"{"sub": "U2dev", "scope": "tools:ping"}"#);
    let claims = claims.to_string_lossy().into_owned();
    let output = policy(
        &sandbox,
        &["explain", "--claims", &claims, "--tool", "ping"],
    );
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains(
            "tool: ping (plugin core-tools, read-only: yes, destructive: no; as its plugin describes it)"
        ),
        "{report}"
    );
    assert!(report.contains("decision: allow"), "{report}");

    let output = policy(
        &sandbox,
        &["explain", "--claims", &claims, "--tool", "not_a_tool"],
    );
    let report = text(&output);
    assert!(
        report.contains("guessed from its name: no loaded plugin provides it"),
        "{report}"
    );
    assert!(report.contains("decision: deny"), "{report}");
}

#[test]
fn settings_that_cannot_be_read_stop_the_command_unless_dir_names_the_policies() {
    let sandbox = Sandbox::new();
    let run = |args: &[&str]| {
        std::process::Command::new(e2e::server_binary())
            .arg("policy")
            .args(args)
            .env_clear()
            .current_dir(sandbox.path())
            .env("PORT", "eighty")
            .output()
            .expect("run orchestrator-mcp policy")
    };
    let output = run(&["check"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(report.contains("PORT"), "{report}");
    assert!(
        report.contains("name the policy directory with --dir"),
        "{report}"
    );

    let dir = sandbox.policy_dir().to_string_lossy().into_owned();
    let output = run(&["check", "--dir", &dir]);
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("ignoring settings that cannot be read"),
        "{report}"
    );
}

#[test]
fn explain_says_why_it_could_only_guess_when_the_plugins_do_not_load() {
    let sandbox = Sandbox::new();
    let claims = sandbox.write("claims.json", r#"{"sub": "U2dev", "scope": "tools:ping"}"#);
    let output = std::process::Command::new(e2e::server_binary())
        .args(["policy", "explain", "--tool", "ping", "--claims"])
        .arg(&claims)
        .env_clear()
        .current_dir(sandbox.path())
        .env("POLICY_DIR", sandbox.policy_dir())
        .env("PLUGIN_DIR", sandbox.path().join("no-such-dir"))
        .output()
        .expect("run orchestrator-mcp policy explain");
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("guessed from its name: the plugins did not load: "),
        "{report}"
    );
}

/// Copies the sandbox's policies to `name` inside it, adding `extra` as
/// `extra.cedar` when given; the copy's path.
fn candidate(sandbox: &Sandbox, name: &str, extra: Option<&str>) -> String {
    let dir = sandbox.path().join(name);
    std::fs::create_dir_all(&dir).expect("candidate dir");
    for entry in std::fs::read_dir(sandbox.policy_dir()).expect("policies") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    if let Some(extra) = extra {
        std::fs::write(dir.join("extra.cedar"), extra).expect("extra policy");
    }
    dir.to_string_lossy().into_owned()
}

#[test]
fn policy_diff_replays_real_decisions_under_a_widening_a_narrowing_and_a_rewrite() {
    let sandbox = Sandbox::new();
    let log = sandbox.path().join("audit.jsonl");
    let server = e2e::Server::start_with(
        &sandbox,
        e2e::Launch::default().env("AUDIT_LOG_FILE", &log.to_string_lossy()),
    );
    // What happened: the demo user pinged and reviewed code; a machine
    // without tools:review tried to review and was denied.
    let pinged = server.call_tool(e2e::DEMO_TOKEN, "ping", serde_json::json!({}));
    assert_eq!(pinged["result"]["isError"], false, "{pinged}");
    let review = serde_json::json!({"code": "x = 1\n", "language": "python"});
    server.call_tool(e2e::DEMO_TOKEN, "review_code", review.clone());
    let machine = {
        let response = reqwest::blocking::Client::new()
            .post(server.url("/oauth/token"))
            .basic_auth("demo-machine", Some("demo_access_key_12345"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .expect("token");
        let body: serde_json::Value = response.json().expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    };
    let denied = server.call_tool(&machine, "review_code", review);
    assert!(denied.get("error").is_some(), "{denied}");
    drop(server);
    let log = log.to_string_lossy().into_owned();
    let diff = |candidate: &str, extra: &[&str]| {
        let mut args = vec!["diff", "--candidate", candidate, "--replay", &log];
        args.extend_from_slice(extra);
        let output = policy(&sandbox, &args);
        (output.status.code(), text(&output))
    };

    // An equivalent rewrite changes nothing.
    let same = candidate(&sandbox, "same", None);
    let (code, report) = diff(&same, &["--forbid-new-allows", "--forbid-new-denials"]);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("3 replayed: 3 unchanged, 0 newly allowed, 0 newly denied"),
        "{report}"
    );

    // A narrowing: no more pings.
    let narrower = candidate(
        &sandbox,
        "narrower",
        Some(
            "@id(\"no-ping\")\nforbid (principal, action == Action::\"call\", resource == Tool::\"ping\");\n",
        ),
    );
    let (code, report) = diff(&narrower, &[]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("demo-user (user) call `ping`"), "{report}");
    assert!(
        report.contains(": allow → deny (was decided by [tools.ping], now by [no-ping])"),
        "{report}"
    );
    assert!(
        report.contains("0 newly allowed, 1 newly denied"),
        "{report}"
    );
    let (code, _) = diff(&narrower, &["--forbid-new-denials"]);
    assert_eq!(code, Some(1));
    let (code, _) = diff(&narrower, &["--forbid-new-allows"]);
    assert_eq!(code, Some(0));

    // A widening: anyone may review code.
    let wider = candidate(
        &sandbox,
        "wider",
        Some(
            "@id(\"anyone-reviews\")\npermit (principal, action == Action::\"call\", resource == Tool::\"review_code\");\n",
        ),
    );
    let (code, report) = diff(&wider, &["--forbid-new-allows"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("K2demomachine (machine) call `review_code`"),
        "{report}"
    );
    assert!(report.contains(": deny → allow"), "{report}");
    assert!(
        report.contains("1 newly allowed, 0 newly denied"),
        "{report}"
    );
}
