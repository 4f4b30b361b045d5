//! The generated deployments: the Kubernetes manifests validate against
//! Kubernetes' own schemas, and the generated HAProxy configuration, run
//! in front of two real replicas, keeps a 2025-era MCP session's requests
//! on the replica that opened it while spreading the rest.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{DEMO_TOKEN, Sandbox, Server, workspace_root};
use serde_json::json;

use crate::util::{client, jsonrpc};

/// The Kubernetes release the manifests are checked against.
const KUBERNETES: &str = "1.33.0";

fn python() -> PathBuf {
    std::env::var_os("ORCHESTRATOR_TEST_PYTHON")
        .map(PathBuf::from)
        .expect("ORCHESTRATOR_TEST_PYTHON names the Python with the test packages (cargo xtask test sets it)")
}

fn haproxy() -> PathBuf {
    std::env::var_os("ORCHESTRATOR_TEST_HAPROXY")
        .map_or_else(|| PathBuf::from("haproxy"), PathBuf::from)
}

/// Every manifest under deploy/k8s but the kustomization, which is
/// kustomize's, not Kubernetes'.
fn manifests() -> Vec<PathBuf> {
    let dir = workspace_root().join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/k8s")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "yaml")
                && path
                    .file_name()
                    .is_some_and(|name| name != "kustomization.yaml")
        })
        .collect();
    files.sort();
    files
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    let output = Command::new(python())
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--no-warn",
            "-k",
            KUBERNETES,
        ])
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
#[ignore = "needs the Python test packages: cargo xtask install-tools"]
fn the_kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    let files = manifests();
    assert!(files.len() >= 7, "{files:?}");
    let (valid, report) = validate(&files);
    assert!(valid, "{report}");
    // Every object was checked against its schema, none skipped.
    for object in [
        "configmap/orchestrator-mcp ",
        "deployment/orchestrator-mcp ",
        "service/orchestrator-mcp ",
        "service/orchestrator-mcp-pods ",
        "horizontalpodautoscaler/orchestrator-mcp ",
        "poddisruptionbudget/orchestrator-mcp ",
        "deployment/orchestrator-mcp-redis ",
        "service/orchestrator-mcp-redis ",
        "configmap/orchestrator-mcp-haproxy ",
        "deployment/orchestrator-mcp-lb ",
        "service/orchestrator-mcp-lb ",
    ] {
        assert!(
            report.contains(&format!("passed for resource {object}against version 1.33")),
            "{object}: {report}"
        );
    }
    // A field Kubernetes does not know is refused: the check is strict.
    let sandbox = Sandbox::new();
    let deployment = std::fs::read_to_string(workspace_root().join("deploy/k8s/deployment.yaml"))
        .expect("deployment.yaml");
    let typo = sandbox.write(
        "typo.yaml",
        deployment.replace("  replicas: 3", "  replica: 3"),
    );
    let (valid, report) = validate(&[typo]);
    assert!(!valid, "{report}");
}

/// A running HAProxy, stopped when dropped.
struct Balancer {
    child: Child,
    port: u16,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The generated configuration, with the replicas at `backends` instead
/// of the ones Compose's DNS would find, listening on a free port.
fn balancer(dir: &Path, backends: &[&Server]) -> Balancer {
    let generated = std::fs::read_to_string(workspace_root().join("deploy/haproxy.cfg"))
        .expect("deploy/haproxy.cfg");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port");
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(index, server)| {
            let address = server.base_url().trim_start_matches("http://");
            format!("    server replica{index} {address} check\n")
        })
        .collect();
    let mut local = String::new();
    let mut in_resolvers = false;
    for line in generated.lines() {
        if line.starts_with("resolvers ") {
            in_resolvers = true;
            continue;
        }
        if in_resolvers {
            if line.starts_with("    ") {
                continue;
            }
            in_resolvers = false;
        }
        if line.trim_start().starts_with("server-template ") {
            local.push_str(&servers);
        } else if line.trim_start().starts_with("bind ") {
            local.push_str(&format!("    bind 127.0.0.1:{port}\n"));
        } else {
            local.push_str(line);
            local.push('\n');
        }
    }
    assert!(
        local.contains("stick on req.hdr(mcp-session-id)"),
        "{local}"
    );
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, local).expect("write the configuration");
    let mut child = Command::new(haproxy())
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start haproxy");
    let stderr = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Balancer { child, port }
}

fn mcp(port: u16, session: Option<&str>, body: String) -> reqwest::blocking::Response {
    let mut request = client()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Host", "localhost")
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25");
    if let Some(session) = session {
        request = request.header("Mcp-Session-Id", session);
    }
    request
        .body(body)
        .send()
        .expect("POST /mcp through haproxy")
}

#[test]
#[ignore = "needs HAProxy: cargo xtask install-tools"]
fn the_generated_load_balancer_keeps_a_session_on_its_replica_and_spreads_the_rest() {
    let check = Command::new(haproxy())
        .arg("-c")
        .arg("-f")
        .arg(workspace_root().join("deploy/haproxy.cfg"))
        .output()
        .expect("haproxy -c");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let first = Server::start(&Sandbox::new());
    let second = Server::start(&Sandbox::new());
    let dir = Sandbox::new();
    let lb = balancer(dir.path(), &[&first, &second]);
    // Wait until HAProxy's health checks see both replicas.
    std::thread::sleep(Duration::from_millis(2500));

    let initialize = jsonrpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "lb-test", "version": "1"},
        }),
    );
    let opened = mcp(lb.port, None, initialize);
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .expect("a session id")
        .to_owned();
    drop(opened.text());
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert!(
        mcp(lb.port, Some(&session), initialized)
            .status()
            .is_success()
    );
    // Every request of the session reaches the replica that holds it: a
    // replica that does not would answer 404.
    for id in 2..12 {
        let listed = mcp(
            lb.port,
            Some(&session),
            jsonrpc(id, "tools/list", json!({})),
        );
        assert_eq!(listed.status(), 200, "request {id} of the session");
    }
    // Requests without a session go to both replicas.
    for id in 20..30 {
        let stateless = mcp(lb.port, None, jsonrpc(id, "tools/list", json!({})));
        assert_eq!(stateless.status(), 200);
    }
    for server in [&first, &second] {
        assert!(
            server
                .wait_for_log(|line| line.contains("request finished") && line.contains("/mcp"))
                .is_some(),
            "each replica served /mcp requests"
        );
    }
}

#[test]
#[ignore = "needs HAProxy, redis-server and the MCP Python SDK: cargo xtask install-tools"]
fn the_python_sdk_approves_through_the_load_balancer_in_front_of_two_replicas() {
    use redis_state::test_server::TestRedis;

    let redis = TestRedis::start();
    let replica = || {
        Server::start_with(
            &Sandbox::new(),
            e2e::Launch::default().env("REDIS_URL", &redis.url()),
        )
    };
    let (first, second) = (replica(), replica());
    let dir = Sandbox::new();
    let lb = balancer(dir.path(), &[&first, &second]);
    std::thread::sleep(Duration::from_millis(2500));
    // A 2025-11-25 session (its stream and the person's answer stay on its
    // replica) and a 2026-07-28 connection (the question and the approved
    // retry land on whichever replica HAProxy picks), each accepted and
    // declined.
    let output = Command::new(python())
        .arg(workspace_root().join("tests/python/mcp_approval_client.py"))
        .arg(format!("http://127.0.0.1:{}", lb.port))
        .arg(DEMO_TOKEN)
        .output()
        .expect("run the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("python mcp sdk approvals: ok"),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for server in [&first, &second] {
        assert!(
            server
                .wait_for_log(|line| line.contains("deploy_plan"))
                .is_some(),
            "each replica took part"
        );
    }
}
