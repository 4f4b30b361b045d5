//! The official MCP Python SDK as the client: it discovers the metadata from
//! the 401, registers, authorizes with PKCE against the demo authorization
//! server, gets a token, calls `ping`, lists and reads resources, gets a
//! prompt and sees `orchestrate` report its progress
//! (tests/python/mcp_oauth_client.py); and it approves and declines a
//! production `deploy_plan` through its elicitation callback, in a 2025-11-25
//! session and on a 2026-07-28 connection (tests/python/mcp_approval_client.py);
//! and its elicitation, sampling and roots callbacks answer what
//! `deploy_plan`, `generate_application` and `architect` ask, on both
//! generations (tests/python/mcp_asking_client.py).

use std::path::PathBuf;
use std::process::Command;

use e2e::{Sandbox, Server, workspace_root};

/// The Python that has the SDK: set by `cargo xtask test`.
fn python() -> PathBuf {
    let python = std::env::var_os("ORCHESTRATOR_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/python/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: run the tests with `cargo xtask test` (or `cargo xtask install-tools` first), which installs the MCP Python SDK",
        python.display()
    );
    python
}

#[test]
#[ignore = "needs the official MCP Python SDK: `cargo xtask test` installs it and runs this test"]
fn the_mcp_python_sdk_completes_oauth_and_uses_tools_resources_prompts_and_progress() {
    let server = Server::start(&Sandbox::new());
    let output = Command::new(python())
        .arg(workspace_root().join("tests/python/mcp_oauth_client.py"))
        .arg(server.base_url())
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("python mcp sdk: ok"),
        "the Python SDK client failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        output.status,
        server.logs()
    );
    // The SDK really went through the authorization server.
    let logs = server.logs();
    assert!(
        logs.contains("demo client registered"),
        "no dynamic registration:\n{logs}"
    );
    assert!(
        logs.contains("demo token issued"),
        "no token issued:\n{logs}"
    );
}

/// Runs `script` (in tests/python) against `server` with the demo token,
/// and checks it printed `ok_line`.
fn run_with_demo_token(server: &Server, script: &str, ok_line: &str) {
    let output = Command::new(python())
        .arg(workspace_root().join("tests/python").join(script))
        .arg(server.base_url())
        .arg(e2e::DEMO_TOKEN)
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(ok_line),
        "the Python SDK client failed ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        output.status,
        server.logs()
    );
}

#[test]
#[ignore = "needs the official MCP Python SDK: `cargo xtask test` installs it and runs this test"]
fn the_mcp_python_sdk_approves_and_declines_a_production_plan_on_both_protocol_generations() {
    let server = Server::start(&Sandbox::new());
    run_with_demo_token(
        &server,
        "mcp_approval_client.py",
        "python mcp sdk approvals: ok",
    );
}

#[test]
#[ignore = "needs the official MCP Python SDK: `cargo xtask test` installs it and runs this test"]
fn the_mcp_python_sdk_answers_the_tools_questions_with_its_user_model_and_roots() {
    let server = Server::start(&Sandbox::new());
    run_with_demo_token(&server, "mcp_asking_client.py", "python mcp sdk asking: ok");
}
