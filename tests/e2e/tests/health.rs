//! `GET /health`.

use e2e::{Sandbox, Server};
use insta::assert_json_snapshot;

use crate::util::{canonical, get};

#[test]
fn health_reports_version_mode_plugins_tools_and_policy_hash() {
    let server = Server::start(&Sandbox::new());
    let reply = get(&server, "/health");
    assert_eq!(reply.status, 200);
    let hash = reply.body["policy"]["hash"].as_str().expect("hash");
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "{hash}"
    );
    assert_json_snapshot!("health", canonical(&reply.body), {
        ".policy.hash" => "[hash]",
        ".jwks.fetched_at" => "[time]",
        ".version" => "[version]",
    });
}

#[test]
fn the_policy_hash_follows_the_policy_files() {
    let first = Sandbox::new();
    let second = Sandbox::new();
    second.write(
        "policies/extra.cedar",
        "@id(\"extra\")\nforbid (principal, action, resource == Tool::\"nothing\");\n",
    );
    let a = Server::start(&first);
    let b = Server::start(&second);
    let hash_a = get(&a, "/health").body["policy"]["hash"].clone();
    let hash_b = get(&b, "/health").body["policy"]["hash"].clone();
    assert_ne!(hash_a, hash_b);
}

/// Runs `orchestrator-mcp healthcheck` in `sandbox` against `port`.
fn healthcheck(sandbox: &Sandbox, port: &str) -> std::process::Output {
    std::process::Command::new(e2e::server_binary())
        .arg("healthcheck")
        .env_clear()
        .current_dir(sandbox.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port)
        .output()
        .expect("run orchestrator-mcp healthcheck")
}

#[test]
fn the_healthcheck_command_passes_while_the_server_answers() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    let port = server.base_url().rsplit(':').next().expect("port");
    let output = healthcheck(&sandbox, port);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_healthcheck_command_fails_and_says_why_when_nothing_listens() {
    let sandbox = Sandbox::new();
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
        .to_string();
    let output = healthcheck(&sandbox, &port);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "orchestrator-mcp healthcheck: cannot connect to 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}

/// `GET /health` with `headers`, as JSON.
fn health_with(server: &Server, headers: &[(&str, &str)]) -> serde_json::Value {
    let mut request = crate::util::client().get(server.url("/health"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("GET /health");
    assert_eq!(response.status(), 200);
    response.json().expect("JSON")
}

#[test]
fn any_host_gets_the_status_and_only_operators_get_the_details() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        e2e::Launch::default().env("TRUSTED_PROXIES", r#"["127.0.0.1"]"#),
    );
    // A foreign Host from this machine is what DNS rebinding looks like.
    let rebound = health_with(&server, &[("Host", "attacker.example:8080")]);
    assert_eq!(
        rebound,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    // A client relayed by a proxy is not this machine, whatever its Host.
    let relayed = health_with(&server, &[("X-Forwarded-For", "203.0.113.9")]);
    assert_eq!(
        relayed.as_object().map(|body| body.len()),
        Some(2),
        "{relayed}"
    );
    // An admin-scoped token sees the details from anywhere.
    let operator = health_with(
        &server,
        &[
            ("X-Forwarded-For", "203.0.113.9"),
            ("Authorization", &format!("Bearer {}", e2e::DEMO_TOKEN)),
        ],
    );
    assert!(operator["policy"]["hash"].is_string(), "{operator}");
    // Loopback is a trusted proxy here, so even an unmarked request from it
    // may be relayed: it gets the summary.
    assert_eq!(
        health_with(&server, &[]).as_object().map(|body| body.len()),
        Some(2)
    );
    // Without a proxy on this machine, a request from it, addressing an
    // allowed host, sees the details without a token.
    let local = Server::start(&sandbox);
    assert!(health_with(&local, &[])["plugins"].is_array());
}
