//! The decision audit: one JSON line per decision in AUDIT_LOG_FILE.

use e2e::{Launch, Sandbox, Server};
use serde_json::Value;

use crate::util::post_tool_as_demo;

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON record"))
        .collect()
}

#[test]
fn every_decision_is_appended_to_the_audit_file() {
    let sandbox = Sandbox::new();
    let audit = sandbox.path().join("audit.jsonl");
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("AUDIT_LOG_FILE", &audit.to_string_lossy()),
    );
    let allowed = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(allowed.status, 200);

    let records = records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record["decision"], "allow");
    assert_eq!(record["tool"], "ping");
    assert_eq!(record["action"], "call");
    assert_eq!(record["principal_id"], "demo-user");
    assert_eq!(record["principal_kind"], "user");
    assert_eq!(record["policies"], serde_json::json!(["tools.ping"]));
    assert_eq!(
        record["request_id"].as_str(),
        allowed.header("x-request-id"),
        "the record names the request"
    );
    assert!(record["latency_us"].as_u64().is_some());
    assert!(record["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(record.get("client_request_id").is_none(), "{record}");
}

#[test]
fn a_callers_request_id_is_audited_beside_the_server_s() {
    let sandbox = Sandbox::new();
    let audit = sandbox.path().join("audit.jsonl");
    let server = Server::start_with(
        &sandbox,
        Launch::default().env("AUDIT_LOG_FILE", &audit.to_string_lossy()),
    );
    let reply = crate::util::client()
        .post(server.url("/tools/ping"))
        .bearer_auth(e2e::DEMO_TOKEN)
        .header("x-request-id", "someone-elses-request")
        .send()
        .expect("send");
    assert_eq!(reply.status().as_u16(), 200);
    let server_id = reply.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let records = records(&audit);
    assert_eq!(records[0]["request_id"], server_id.as_str());
    assert_eq!(records[0]["client_request_id"], "someone-elses-request");
}

#[test]
fn denials_are_audited_too() {
    let sandbox = Sandbox::new();
    let audit = sandbox.path().join("audit.jsonl");
    let config = sandbox.demo_principal_config("reviewer", &["tools:review"]);
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .config(&config)
            .env("AUDIT_LOG_FILE", &audit.to_string_lossy()),
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 403);
    let records = records(&audit);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "deny");
    assert_eq!(records[0]["principal_id"], "reviewer");
    assert_eq!(records[0]["policies"], serde_json::json!([]));
}
