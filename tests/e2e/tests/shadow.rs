//! Shadow policies (`@mode("shadow")`): evaluated beside the enforced set,
//! never deciding, with every disagreement in the audit log.

use e2e::{DEMO_TOKEN, Sandbox, Server};
use serde_json::json;

const SHADOW_FORBID: &str = "// Trying out: no pings.\n@id(\"shadow.no-ping\")\n@mode(\"shadow\")\nforbid (principal, action == Action::\"call\", resource == Tool::\"ping\");\n";

#[test]
fn a_shadow_policy_changes_no_decision_and_its_disagreements_are_audited() {
    let sandbox = Sandbox::new();
    sandbox.write("policies/shadow.cedar", SHADOW_FORBID);
    let server = Server::start(&sandbox);
    let pinged = server.call_tool(DEMO_TOKEN, "ping", json!({}));
    assert_eq!(pinged["result"]["isError"], false, "{pinged}");
    let reviewed = server.call_tool(
        DEMO_TOKEN,
        "review_code",
        json!({"code": "x = 1\n", "language": "python"}),
    );
    assert_eq!(reviewed["result"]["isError"], false, "{reviewed}");

    let log = server.call_tool(
        DEMO_TOKEN,
        "audit_log",
        json!({"shadow_disagreements": true}),
    );
    let records = log["result"]["structuredContent"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("records: {log}"));
    assert_eq!(records.len(), 1, "only the ping disagrees: {records:?}");
    let record = &records[0];
    assert_eq!(record["tool"], "ping");
    assert_eq!(record["decision"], "allow");
    assert_eq!(record["shadow_decision"], "deny");
    assert_eq!(record["shadow_policies"], json!(["shadow.no-ping"]));
    // What was decided on is kept, for replaying against other policies.
    assert!(
        record["policy_hash"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{record}"
    );
    assert!(
        record["subject"]["scopes"]
            .as_array()
            .is_some_and(|scopes| scopes.contains(&json!("tools:ping"))),
        "{record}"
    );
    assert_eq!(
        record["arguments"],
        json!({}),
        "ping has no declared arguments"
    );

    // Agreeing decisions carry no shadow fields.
    let all = server.call_tool(DEMO_TOKEN, "audit_log", json!({"tool": "review_code"}));
    let review = &all["result"]["structuredContent"]["records"][0];
    assert_eq!(review["decision"], "allow", "{all}");
    assert!(review.get("shadow_decision").is_none(), "{review}");
    // Of the arguments, only those the policies may see are kept.
    assert_eq!(
        review["arguments"],
        json!({"language": "python"}),
        "{review}"
    );
}

#[test]
fn policy_check_lists_the_shadow_policies_apart() {
    let sandbox = Sandbox::new();
    sandbox.write("policies/shadow.cedar", SHADOW_FORBID);
    let output = std::process::Command::new(e2e::server_binary())
        .args(["policy", "check", "--dir"])
        .arg(sandbox.policy_dir())
        .output()
        .expect("run policy check");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains(
            "shadow policies (1), evaluated beside the enforced ones and never deciding:"
        ),
        "{report}"
    );
    assert!(report.contains("  shadow.no-ping ("), "{report}");
    assert!(report.contains("shadow.cedar:2)"), "{report}");
}
