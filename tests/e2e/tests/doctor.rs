//! `orchestrator-mcp doctor` against the local fake Descope.

use std::process::Output;

use e2e::{FakeDescope, Sandbox, workspace_root};

/// Settings that pass every item against `descope`.
fn production(descope: &FakeDescope) -> Vec<(&'static str, String)> {
    vec![
        ("DESCOPE_DEMO_MODE", "false".to_owned()),
        ("DESCOPE_PROJECT_ID", e2e::descope::PROJECT.to_owned()),
        ("DESCOPE_BASE_URL", descope.base_url().to_owned()),
        ("PUBLIC_URL", "https://mcp.example.com".to_owned()),
        ("ALLOWED_HOSTS", r#"["mcp.example.com"]"#.to_owned()),
        (
            "CORS_ORIGINS",
            r#"["https://inspector.example.com"]"#.to_owned(),
        ),
        ("TRUSTED_PROXIES", r#"["10.0.0.0/8"]"#.to_owned()),
    ]
}

/// Runs `orchestrator-mcp doctor` in `sandbox` with only `env` set.
fn doctor(sandbox: &Sandbox, env: &[(&str, String)], manifest: &std::path::Path) -> Output {
    let mut command = std::process::Command::new(e2e::server_binary());
    command
        .arg("doctor")
        .arg("--manifest")
        .arg(manifest)
        .env_clear()
        .current_dir(sandbox.path())
        .env("POLICY_DIR", sandbox.policy_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run orchestrator-mcp doctor")
}

fn manifest() -> std::path::PathBuf {
    workspace_root().join("config/descope/scopes.json")
}

/// The report with the fake's address and the sandbox's paths made stable.
fn report(output: &Output, descope: &FakeDescope, sandbox: &Sandbox) -> String {
    String::from_utf8_lossy(&output.stdout)
        .replace(descope.base_url(), "http://[descope]")
        .replace(&sandbox.policy_dir().display().to_string(), "[policies]")
        .replace(&manifest().display().to_string(), "[manifest]")
}

#[test]
fn a_production_configuration_passes_every_item() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let output = doctor(&sandbox, &production(&descope), &manifest());
    let text = report(&output, &descope, &sandbox);
    assert!(output.status.success(), "{text}");
    insta::assert_snapshot!("doctor_passing", text);
}

#[test]
fn an_unreachable_descope_fails_the_jwks_and_issuer_items() {
    let descope = FakeDescope::start();
    descope.set_up(false);
    let sandbox = Sandbox::new();
    let output = doctor(&sandbox, &production(&descope), &manifest());
    let text = report(&output, &descope, &sandbox);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("\nfail  JWKS "), "{text}");
    assert!(text.contains("\nfail  issuer "), "{text}");
    assert!(text.contains("\npass  scopes "), "{text}");
    assert!(text.ends_with("14 passed, 0 warned, 2 failed\n"), "{text}");
}

#[test]
fn demo_settings_fail_with_what_to_do() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let env = [
        ("DESCOPE_BASE_URL", descope.base_url().to_owned()),
        ("RATE_LIMIT_PER_MINUTE", "0".to_owned()),
        ("PUBLIC_URL", "http://mcp.example.com".to_owned()),
        ("CORS_ORIGINS", r#"["*"]"#.to_owned()),
    ];
    let output = doctor(&sandbox, &env, &manifest());
    let text = report(&output, &descope, &sandbox);
    assert_eq!(output.status.code(), Some(1), "{text}");
    insta::assert_snapshot!("doctor_demo_settings", text);
}

#[test]
fn a_manifest_without_a_policy_scope_fails_the_scopes_item() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let stale = sandbox.write(
        "scopes.json",
        r#"{"scopes": [{"name": "tools:ping", "description": "Basic connectivity testing"}, {"name": "tools:gone", "description": "Removed"}]}"#,
    );
    let output = doctor(&sandbox, &production(&descope), &stale);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|line| line.contains(" scopes "))
        .expect("a scopes line");
    assert!(line.starts_with("fail"), "{line}");
    assert!(line.contains("tools:orchestrate"), "{line}");
    assert!(line.contains("run `cargo xtask gen`"), "{line}");
}

#[test]
fn a_malformed_configuration_is_one_failing_item_not_a_panic() {
    let sandbox = Sandbox::new();
    let output = doctor(&sandbox, &[("PORT", "eighty".to_owned())], &manifest());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.starts_with("fail  configuration  "), "{text}");
    assert!(text.contains("PORT"), "{text}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_manifest_that_is_not_json_fails_the_scopes_item() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let broken = sandbox.write("scopes.json", "{ not json");
    let output = doctor(&sandbox, &production(&descope), &broken);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("not JSON"), "{text}");
}

#[test]
fn every_setting_the_server_would_refuse_is_reported_each_on_its_own_line() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let mut env = production(&descope);
    env.push(("JWT_ALGORITHM", "HS256".to_owned()));
    env.push(("RUST_LOG", "info,[[".to_owned()));
    env.push(("PUBLIC_URL", "ftp://mcp.example.com".to_owned()));
    let output = doctor(&sandbox, &env, &manifest());
    let text = report(&output, &descope, &sandbox);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("fail  configuration  JWT_ALGORITHM: `HS256` is an HMAC algorithm"),
        "{text}"
    );
    assert!(
        text.contains("\nfail  configuration  RUST_LOG: `info,[[` is not a valid log filter"),
        "{text}"
    );
    // PUBLIC_URL has an item of its own, which reports it once.
    assert_eq!(
        text.matches("PUBLIC_URL: `ftp://mcp.example.com`").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("\nfail  public URL     PUBLIC_URL: "),
        "{text}"
    );
}

#[test]
fn accepting_the_project_audience_is_a_warning_naming_the_setting() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let mut env = production(&descope);
    env.push(("JWT_ACCEPT_PROJECT_AUDIENCE", "true".to_owned()));
    env.push(("DESCOPE_MCP_SERVER_ID", "MS2server".to_owned()));
    let output = doctor(&sandbox, &env, &manifest());
    let text = report(&output, &descope, &sandbox);
    assert!(output.status.success(), "{text}");
    let line = text
        .lines()
        .find(|line| line.starts_with("warn  audience "))
        .unwrap_or_else(|| panic!("no audience warning: {text}"));
    assert!(line.contains("JWT_ACCEPT_PROJECT_AUDIENCE=true"), "{line}");
    assert!(line.contains("MCP server MS2server"), "{line}");
}

#[test]
fn a_challenge_scope_no_policy_grants_fails_the_scopes_item() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let mut env = production(&descope);
    env.push((
        "CHALLENGE_SCOPES",
        r#"["tools:ping", "tools:nothing"]"#.to_owned(),
    ));
    let output = doctor(&sandbox, &env, &manifest());
    let text = report(&output, &descope, &sandbox);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "\nfail  scopes         CHALLENGE_SCOPES names scopes no policy grants: tools:nothing"
        ),
        "{text}"
    );
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn the_shared_state_item_says_whether_redis_answers() {
    let descope = FakeDescope::start();
    let sandbox = Sandbox::new();
    let mut redis = redis_state::test_server::TestRedis::start();
    let mut env = production(&descope);
    env.push(("REDIS_URL", redis.url()));
    env.push(("APPROVAL_KEY", "k".repeat(48)));
    let text = report(&doctor(&sandbox, &env, &manifest()), &descope, &sandbox);
    let address = format!("127.0.0.1:{}", redis.port());
    assert!(
        text.contains(&format!(
            "pass  shared state   Redis at {address} answers (REDIS_FAILURE=closed)"
        )),
        "{text}"
    );
    redis.stop();
    let text = report(&doctor(&sandbox, &env, &manifest()), &descope, &sandbox);
    assert!(
        text.contains(&format!(
            "fail  shared state   Redis at {address} did not answer"
        )),
        "{text}"
    );
    assert!(text.contains("start Redis, fix REDIS_URL"), "{text}");
}
