//! The official MCP conformance suite (`@modelcontextprotocol/conformance`,
//! pinned in tests/mcp-clients/package.json) against the real server, for
//! both requirement sets it scores: 2025-11-25 and 2026-07-28.
//!
//! The server runs with the bundled plugins and, for this run only, the
//! fixture plugin under tests/plugins/conformance-fixtures with the policy
//! beside it. The suite cannot send headers, so it talks to a local proxy
//! that adds the demo token: every request still goes through the server's
//! authentication. tests/conformance/expected-failures-<set>.yaml lists
//! what may fail, each with its reason; anything else failing, or anything
//! listed passing, fails the test.

use std::path::PathBuf;
use std::process::Command;

use e2e::proxy::TokenProxy;
use e2e::{DEMO_TOKEN, Launch, Sandbox, Server, test_plugin, workspace_root};

/// The suite's launcher, which `cargo xtask conformance` and `cargo xtask
/// test` install.
fn suite() -> PathBuf {
    e2e::mcp_client("conformance")
}

#[expect(
    clippy::print_stdout,
    reason = "the suite's summary is what `cargo xtask conformance` shows"
)]
fn run(requirements: &str) {
    let sandbox = Sandbox::new();
    sandbox.add_plugin(&test_plugin("conformance-fixtures"));
    let policy = workspace_root().join("tests/plugins/conformance-fixtures/conformance.cedar");
    sandbox.write(
        "policies/conformance.cedar",
        std::fs::read(&policy).expect("the fixtures' policy"),
    );
    // The suite makes a few hundred requests in seconds.
    let policies = sandbox.policy_dir();
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("RATE_LIMIT_PER_MINUTE", "100000")
            .env(
                "CONFORMANCE_FIXTURES_POLICY_DIR",
                &policies.to_string_lossy(),
            ),
    );
    let proxy = TokenProxy::start(server.base_url(), DEMO_TOKEN);
    let results = sandbox.path().join("results");
    let output = Command::new(suite())
        .args([
            "server",
            "--url",
            &proxy.url("/mcp"),
            "--requirements",
            requirements,
        ])
        .arg("--expected-failures")
        .arg(workspace_root().join(format!(
            "tests/conformance/expected-failures-{requirements}.yaml"
        )))
        .arg("--output-dir")
        .arg(&results)
        .output()
        .expect("run the conformance suite");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .find("=== SUMMARY ===")
        .map_or(stdout.as_ref(), |start| &stdout[start..]);
    println!("conformance {requirements}:\n{summary}");
    assert!(
        output.status.success(),
        "the conformance suite failed for {requirements} ({}):\n{summary}\n{stderr}\nserver log:\n{}",
        output.status,
        server.logs()
    );
}

#[test]
#[ignore = "needs the MCP conformance suite: `cargo xtask test` and `cargo xtask conformance` install it and run this test"]
fn the_official_conformance_suite_passes_the_2025_11_25_requirements() {
    run("2025-11-25");
}

#[test]
#[ignore = "needs the MCP conformance suite: `cargo xtask test` and `cargo xtask conformance` install it and run this test"]
fn the_official_conformance_suite_passes_the_2026_07_28_requirements() {
    run("2026-07-28");
}
