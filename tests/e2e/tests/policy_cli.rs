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
    // No solver here: the replay runs, the symbolic comparison cannot, and
    // the exit code says so.
    let (code, report) = diff(&same, &["--forbid-new-allows", "--forbid-new-denials"]);
    assert_eq!(code, Some(3), "{report}");
    assert!(
        report.contains("policy diff: ran the replay only (no solver for the symbolic comparison)"),
        "{report}"
    );
    assert!(
        report.contains(
            "no solver, so nothing was proven: CVC5 is not set and there is no cvc5 on PATH"
        ),
        "{report}"
    );
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
    assert_eq!(code, Some(3), "{report}");
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
    assert_eq!(code, Some(3));

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

/// The cvc5 solver the symbolic commands drive: set by `cargo xtask test`,
/// which installs it.
fn solver() -> std::path::PathBuf {
    let solver = std::env::var_os("ORCHESTRATOR_TEST_CVC5")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| e2e::workspace_root().join("target/cvc5/bin/cvc5"));
    assert!(
        solver.is_file(),
        "{} is missing: run the tests with `cargo xtask test` (or `cargo xtask install-tools` first), which installs cvc5",
        solver.display()
    );
    solver
}

/// `orchestrator-mcp policy <args>` with the solver and git at hand.
fn proving(sandbox: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(e2e::server_binary())
        .arg("policy")
        .args(args)
        .env_clear()
        .current_dir(sandbox.path())
        .env("POLICY_DIR", sandbox.policy_dir())
        .env("PLUGIN_DIR", sandbox.plugin_dir())
        .env("CVC5", solver())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run orchestrator-mcp policy");
    (output.status.code(), text(&output))
}

/// Copies the sandbox's policies to `name` inside it with `from` replaced
/// by `to` in `file`; the copy's path.
fn edited(sandbox: &Sandbox, name: &str, file: &str, from: &str, to: &str) -> String {
    let dir = candidate(sandbox, name, None);
    let path = std::path::Path::new(&dir).join(file);
    let text = std::fs::read_to_string(&path).expect("the policy file");
    assert!(text.contains(from), "{file} no longer holds {from}");
    std::fs::write(&path, text.replace(from, to)).expect("edit the policy file");
    dir
}

/// The lines of `report` after the first one containing `heading`, up to
/// the next line at its indentation or less.
fn section<'a>(report: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = report.lines().skip_while(|line| !line.contains(heading));
    let Some(first) = lines.next() else {
        panic!("no {heading:?} in {report}");
    };
    let indent = first.len() - first.trim_start().len();
    lines
        .take_while(|line| line.len() - line.trim_start().len() > indent)
        .collect()
}

const DEPLOY_CONDITION: &str = r#"  (context.approved ||
   !(context.arguments has environment &&
     context.arguments.environment == "production"))"#;

#[test]
#[ignore = "needs the cvc5 solver: `cargo xtask test` installs it and runs this test"]
fn policy_diff_proves_a_rewrite_the_same_and_refutes_a_widening_and_a_narrowing_with_counterexamples()
 {
    let sandbox = Sandbox::new();

    // An equivalent rewrite of the production gate, proven the same for
    // every request, not just the ones a test thought of.
    let rewritten = edited(
        &sandbox,
        "rewritten",
        "tools.cedar",
        DEPLOY_CONDITION,
        r#"  (if context.arguments has environment
   then context.approved || context.arguments.environment != "production"
   else true)"#,
    );
    let (code, report) = proving(
        &sandbox,
        &[
            "diff",
            "--candidate",
            &rewritten,
            "--forbid-new-allows",
            "--forbid-new-denials",
        ],
    );
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("policy diff: symbolic comparison of the candidate"),
        "{report}"
    );
    assert!(
        report.contains("21 kinds of request, 21 proven the same"),
        "{report}"
    );
    assert!(
        report.contains("the candidate decides every request as the active set does"),
        "{report}"
    );
    assert!(
        report.contains("policy diff: ran the symbolic comparison\n"),
        "{report}"
    );

    // Dropping the approval gate is a widening the rewrite was not.
    let ungated = edited(
        &sandbox,
        "ungated",
        "tools.cedar",
        DEPLOY_CONDITION,
        "  true",
    );
    let (code, report) = proving(
        &sandbox,
        &["diff", "--candidate", &ungated, "--forbid-new-allows"],
    );
    assert_eq!(code, Some(1), "{report}");
    let user = section(&report, "call on Tool by User: differs");
    let user = user.join("\n");
    assert!(
        user.contains(r#"Tool::"deploy_plan": allows more; allows no less (proven)"#),
        "{report}"
    );
    // The counterexample is a production plan nobody approved.
    assert!(user.contains("approved: false"), "{report}");
    assert!(user.contains(r#"environment: "production""#), "{report}");
    assert!(user.contains(r#""tools:deploy""#), "{report}");
    assert!(
        report.contains("the candidate may change decisions in a direction forbidden here"),
        "{report}"
    );

    // A widening: anyone may review code, even without credentials.
    let wider = candidate(
        &sandbox,
        "wider",
        Some(
            "@id(\"anyone-reviews\")\npermit (principal, action == Action::\"call\", resource == Tool::\"review_code\");\n",
        ),
    );
    let (code, report) = proving(
        &sandbox,
        &["diff", "--candidate", &wider, "--forbid-new-allows"],
    );
    assert_eq!(code, Some(1), "{report}");
    for principal in ["Anonymous", "Machine", "User"] {
        let lines = section(&report, &format!("call on Tool by {principal}: differs")).join("\n");
        assert!(
            lines.contains(r#"Tool::"review_code": allows more; allows no less (proven)"#),
            "{report}"
        );
        assert!(
            lines.contains(
                "newly allowed: the candidate allows it, the active set denies it, for example:"
            ),
            "{report}"
        );
        assert!(
            lines.contains(&format!("principal: {principal}::")),
            "{report}"
        );
        assert!(
            lines.contains(r#"resource:  Tool::"review_code""#),
            "{report}"
        );
        assert!(!lines.contains("tools:review"), "{report}");
        assert!(lines.contains("(and 14 more proven the same)"), "{report}");
    }
    assert!(report.contains("call on Tool by User: differs"), "{report}");
    assert!(
        report.contains("3 with requests newly allowed, 0 with requests newly denied, 0 unknown"),
        "{report}"
    );
    let (code, report) = proving(
        &sandbox,
        &["diff", "--candidate", &wider, "--forbid-new-denials"],
    );
    assert_eq!(code, Some(0), "{report}");

    // A narrowing: no more pings.
    let narrower = candidate(
        &sandbox,
        "narrower",
        Some(
            "@id(\"no-ping\")\nforbid (principal, action == Action::\"call\", resource == Tool::\"ping\");\n",
        ),
    );
    let (code, report) = proving(
        &sandbox,
        &["diff", "--candidate", &narrower, "--forbid-new-denials"],
    );
    assert_eq!(code, Some(1), "{report}");
    let lines = section(&report, "call on Tool by Machine: differs").join("\n");
    assert!(
        lines.contains(r#"Tool::"ping": allows no more (proven); allows less"#),
        "{report}"
    );
    assert!(
        lines.contains(
            "newly denied: the active set allows it, the candidate denies it, for example:"
        ),
        "{report}"
    );
    assert!(lines.contains(r#""tools:ping""#), "{report}");
    // Anonymous callers could never ping: nothing changes for them.
    assert!(
        report.contains("call on Tool by Anonymous: the same (proven)"),
        "{report}"
    );
    let (code, report) = proving(
        &sandbox,
        &["diff", "--candidate", &narrower, "--forbid-new-allows"],
    );
    assert_eq!(code, Some(0), "{report}");
}

#[test]
#[ignore = "needs the cvc5 solver: `cargo xtask test` installs it and runs this test"]
fn policy_diff_compares_two_git_revisions_of_the_policy_directory() {
    let sandbox = Sandbox::new();
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=Policy Author",
                "-c",
                "user.email=author@example.com",
            ])
            .args(args)
            .current_dir(sandbox.path())
            .output()
            .expect("run git");
        assert!(output.status.success(), "git {args:?}: {}", text(&output));
    };
    git(&["init", "--quiet"]);
    git(&["add", "policies"]);
    git(&["commit", "--quiet", "-m", "policies as shipped"]);
    sandbox.write(
        "policies/extra.cedar",
        "@id(\"anyone-reviews\")\npermit (principal, action == Action::\"call\", resource == Tool::\"review_code\");\n",
    );
    git(&["add", "policies"]);
    git(&["commit", "--quiet", "-m", "anyone reviews"]);

    let (code, report) = proving(
        &sandbox,
        &[
            "diff",
            "--base-rev",
            "HEAD~1",
            "--candidate-rev",
            "HEAD",
            "--forbid-new-allows",
        ],
    );
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains(r#"Tool::"review_code": allows more; allows no less (proven)"#),
        "{report}"
    );
    // The other way round, the change is a narrowing.
    let (code, report) = proving(
        &sandbox,
        &[
            "diff",
            "--base-rev",
            "HEAD",
            "--candidate-rev",
            "HEAD~1",
            "--forbid-new-allows",
        ],
    );
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains(r#"Tool::"review_code": allows no more (proven); allows less"#),
        "{report}"
    );
    // The working files against the first revision.
    let (code, report) = proving(
        &sandbox,
        &["diff", "--base-rev", "HEAD~1", "--candidate", "policies"],
    );
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("3 with requests newly allowed"), "{report}");

    let (code, report) = proving(&sandbox, &["diff", "--candidate-rev", "no-such-revision"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains(r#"reading revision "no-such-revision" of policies"#),
        "{report}"
    );
}

#[test]
#[ignore = "needs the cvc5 solver: `cargo xtask test` installs it and runs this test"]
fn policy_verify_proves_the_shipped_properties_and_refutes_one_that_does_not_hold() {
    let sandbox = Sandbox::new();
    let (code, report) = proving(&sandbox, &["verify"]);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("policy verify: 6 properties of "),
        "{report}"
    );
    for id in [
        "anonymous-gets-nothing",
        "admin-needs-an-admin-scope",
        "plugin-tools-need-a-tool-scope",
        "production-deploys-need-approval",
        "ping-answers-its-scope",
        "console-needs-admin-config",
    ] {
        assert!(report.contains(&format!("  holds  {id}: ")), "{report}");
    }
    assert!(report.contains("policy verify: 6 hold, 0 fail"), "{report}");

    // Machines may administer when they hold an admin scope: a property
    // saying they never do is refuted, with such a machine.
    let properties = sandbox.write(
        "machines.toml",
        r#"
[[property]]
id = "machines-never-administer"
description = "No machine ever calls the server's own tools."
principal = "Machine"
action = "admin"
resource = "Tool"
never = true
"#,
    );
    let (code, report) = proving(
        &sandbox,
        &["verify", "--properties", &properties.to_string_lossy()],
    );
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("  FAILS  machines-never-administer: "),
        "{report}"
    );
    assert!(
        report.contains("admin on Tool by Machine, every Tool: refuted, for example:"),
        "{report}"
    );
    let principal = report
        .lines()
        .find(|line| line.trim_start().starts_with("principal: Machine::"))
        .unwrap_or_else(|| panic!("no counterexample principal in {report}"));
    assert!(principal.contains("\"admin:"), "{report}");
    assert!(report.contains("policy verify: 0 hold, 1 fail"), "{report}");

    // Breaking a property's promise in the policies is caught too.
    let ungated = edited(
        &sandbox,
        "ungated",
        "tools.cedar",
        DEPLOY_CONDITION,
        "  true",
    );
    let (code, report) = proving(
        &sandbox,
        &[
            "verify",
            "--dir",
            &ungated,
            "--properties",
            &sandbox
                .policy_dir()
                .join("properties.toml")
                .to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("  FAILS  production-deploys-need-approval: "),
        "{report}"
    );
    assert!(report.contains("policy verify: 5 hold, 1 fail"), "{report}");
}

#[test]
fn policy_verify_without_a_solver_says_so_and_exits_3() {
    let sandbox = Sandbox::new();
    let output = policy(&sandbox, &["verify"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(3), "{report}");
    assert!(
        report.contains("policy verify: no solver, so nothing was proven: CVC5 is not set and there is no cvc5 on PATH; install cvc5 1.3.1"),
        "{report}"
    );
    let output = std::process::Command::new(e2e::server_binary())
        .args(["policy", "verify"])
        .env_clear()
        .current_dir(sandbox.path())
        .env("POLICY_DIR", sandbox.policy_dir())
        .env("CVC5", sandbox.path().join("no-such-cvc5"))
        .output()
        .expect("run orchestrator-mcp policy verify");
    let report = text(&output);
    assert_eq!(output.status.code(), Some(3), "{report}");
    assert!(
        report.contains("no-such-cvc5, which is not a file"),
        "{report}"
    );
}

#[test]
fn policy_verify_names_the_property_and_the_setting_a_properties_file_gets_wrong() {
    let sandbox = Sandbox::new();
    let cases = [
        (
            "[[property]]\nid = \"p\"\naction = \"delete\"\nnever = true\n",
            "property \"p\": the schema has no action \"delete\"; it has admin, call, get, read, sample",
        ),
        (
            "[[property]]\nid = \"p\"\nnever = true\nonly_if = \"true\"\n",
            "property \"p\" needs exactly one of `never = true`, `only_if`, `always_if` and `only_with_scope`",
        ),
        (
            "[[property]]\nid = \"p\"\nonly_if = \"principal.scopes.contains(\"\n",
            "property \"p\": the condition \"principal.scopes.contains(\" is not a Cedar expression",
        ),
        (
            "[[property]]\nid = \"p\"\nprincipal = \"Anonymous\"\nresource = \"Prompt\"\naction = \"call\"\nnever = true\n",
            "property \"p\" is about no request the schema allows",
        ),
        ("", "holds no [[property]]; write at least one"),
    ];
    for (properties, expected) in cases {
        let file = sandbox.write("properties.toml", properties);
        let output = policy(
            &sandbox,
            &["verify", "--properties", &file.to_string_lossy()],
        );
        let report = text(&output);
        assert_eq!(output.status.code(), Some(1), "{report}");
        assert!(report.contains(expected), "{properties}: {report}");
    }
}
