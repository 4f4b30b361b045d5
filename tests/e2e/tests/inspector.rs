//! The MCP Inspector's command line (`@modelcontextprotocol/inspector
//! --cli`, pinned in tests/mcp-clients/package.json) against the real
//! server: it lists and calls tools, reads a resource and gets a prompt,
//! with the demo token in its `--header`.

use std::process::Command;

use e2e::{DEMO_TOKEN, Sandbox, Server, mcp_client};
use serde_json::Value;

/// Runs the Inspector's CLI against `server` with `args`; its JSON answer.
fn inspect(server: &Server, sandbox: &Sandbox, args: &[&str]) -> Value {
    let output = Command::new(mcp_client("inspector"))
        .arg("--cli")
        .arg(server.url("/mcp"))
        .args(["--transport", "http"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {DEMO_TOKEN}"))
        .args(args)
        // Its catalog of servers lives in the sandbox, not the home directory.
        .env(
            "MCP_CATALOG_PATH",
            sandbox.path().join("inspector-catalog.json"),
        )
        .output()
        .expect("run the Inspector");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Inspector failed ({}) with {args:?}:\n{stdout}\n{}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("not JSON ({err}): {stdout}"))
}

#[test]
#[ignore = "needs the MCP Inspector: `cargo xtask test` installs it and runs this test"]
fn the_mcp_inspector_lists_and_calls_tools_reads_a_resource_and_gets_a_prompt() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);

    let tools = inspect(&server, &sandbox, &["--method", "tools/list"]);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(names, crate::util::EVERY_TOOL);

    let pong = inspect(
        &server,
        &sandbox,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "ping",
            "--tool-arg",
            "message=inspected",
        ],
    );
    assert_eq!(pong["structuredContent"]["message"], "inspected");
    assert_eq!(pong["isError"], false);

    let languages = inspect(
        &server,
        &sandbox,
        &[
            "--method",
            "resources/read",
            "--uri",
            "code-tools://languages",
        ],
    );
    let text = languages["contents"][0]["text"].as_str().expect("text");
    assert!(text.contains("\"rust\""), "{text}");

    let prompt = inspect(
        &server,
        &sandbox,
        &[
            "--method",
            "prompts/get",
            "--prompt-name",
            "code_review",
            "--prompt-args",
            "code=fn main() {}",
            "language=rust",
        ],
    );
    let text = prompt["messages"][0]["content"]["text"]
        .as_str()
        .expect("text");
    assert!(
        text.starts_with("Review the following rust code."),
        "{text}"
    );
}
