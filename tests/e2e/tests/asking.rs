//! Tools that ask for what they lack, over MCP 2026-07-28's input-required
//! results, through the real binary and bundled plugins: a missing port or
//! template asked of a person, the client's roots, a second opinion from
//! the client's model where the policies allow it, and `orchestrate`
//! passing its steps' questions on.

use e2e::{DEMO_TOKEN, Sandbox, Server};
use serde_json::{Value, json};

use crate::approvals::{call, meta};

/// The result of a 2026-07-28 call whose client offers `capabilities`.
fn ask(server: &Server, tool: &str, arguments: Value, capabilities: Value) -> Value {
    let (status, body) = call(
        server,
        DEMO_TOKEN,
        tool,
        json!({"arguments": arguments, "_meta": meta(capabilities)}),
    );
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// The retry of `asked` with `responses`.
fn answer(
    server: &Server,
    tool: &str,
    arguments: Value,
    capabilities: Value,
    asked: &Value,
    responses: Value,
) -> Value {
    let (status, body) = call(
        server,
        DEMO_TOKEN,
        tool,
        json!({
            "arguments": arguments,
            "_meta": meta(capabilities),
            "inputResponses": responses,
            "requestState": asked["requestState"],
        }),
    );
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

#[test]
fn deploy_plan_asks_for_a_missing_port_and_plans_with_the_answer() {
    let server = Server::start(&Sandbox::new());
    let forms = json!({"elicitation": {}});
    let service = json!({"name": "orders-api"});
    let asked = ask(&server, "deploy_plan", service.clone(), forms.clone());
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let form = &asked["inputRequests"]["port"]["params"]["requestedSchema"];
    assert_eq!(form["properties"]["port"]["type"], "integer", "{asked}");
    assert_eq!(form["required"], json!(["port"]));

    // A malformed answer names the field, and nothing runs.
    let (_, refused) = call(
        &server,
        DEMO_TOKEN,
        "deploy_plan",
        json!({
            "arguments": service,
            "_meta": meta(forms.clone()),
            "inputResponses": {"port": {"action": "accept", "content": {"port": "eighty"}}},
            "requestState": asked["requestState"],
        }),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("field `port`"), "{message}");

    let asked = ask(&server, "deploy_plan", service.clone(), forms.clone());
    let planned = answer(
        &server,
        "deploy_plan",
        service.clone(),
        forms,
        &asked,
        json!({"port": {"action": "accept", "content": {"port": 3000}}}),
    );
    assert_eq!(planned["isError"], false, "{planned}");
    let manifest = planned["structuredContent"]["service"]
        .as_str()
        .unwrap_or_default();
    assert!(manifest.contains("targetPort: 3000"), "{manifest}");

    // A client that cannot show a form hears what is missing, and so does
    // the REST door, which cannot ask anyone.
    let missing = ask(&server, "deploy_plan", service.clone(), json!({}));
    assert_eq!(missing["isError"], true, "{missing}");
    let text = missing["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("`port` is missing"), "{text}");
    let reply = crate::util::post_tool_as_demo(&server, "deploy_plan", &service.to_string());
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let message = reply.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("`port` is missing"), "{message}");
}

#[test]
fn an_approved_production_plan_can_still_ask_for_its_port() {
    let server = Server::start(&Sandbox::new());
    let forms = json!({"elicitation": {}});
    let service = json!({"name": "shop", "image": "registry.example/shop:1.4.2", "replicas": 3, "environment": "production"});
    let asked = ask(&server, "deploy_plan", service.clone(), forms.clone());
    assert!(
        asked["inputRequests"]["orchestrator-mcp/approval"].is_object(),
        "{asked}"
    );
    let approved = answer(
        &server,
        "deploy_plan",
        service.clone(),
        forms.clone(),
        &asked,
        json!({"orchestrator-mcp/approval": {"action": "accept"}}),
    );
    assert_eq!(approved["resultType"], "input_required", "{approved}");
    assert!(approved["inputRequests"]["port"].is_object(), "{approved}");
    // The approval is carried in the new state: no second approval.
    let planned = answer(
        &server,
        "deploy_plan",
        service,
        forms,
        &approved,
        json!({"port": {"action": "accept", "content": {"port": 8443}}}),
    );
    assert_eq!(planned["isError"], false, "{planned}");
    assert_eq!(planned["structuredContent"]["environment"], "production");
}

#[test]
fn generate_application_asks_for_a_template_and_the_roots_at_once() {
    let server = Server::start(&Sandbox::new());
    let offers = json!({"elicitation": {}, "roots": {}});
    let request = json!({"name": "orders-api"});
    let asked = ask(
        &server,
        "generate_application",
        request.clone(),
        offers.clone(),
    );
    let requests = &asked["inputRequests"];
    assert_eq!(
        requests["template"]["method"], "elicitation/create",
        "{asked}"
    );
    assert_eq!(requests["roots"]["method"], "roots/list", "{asked}");
    let project = answer(
        &server,
        "generate_application",
        request,
        offers,
        &asked,
        json!({
            "template": {"action": "accept", "content": {"template": "python-fastapi"}},
            "roots": {"roots": [{"uri": "file:///home/dev/src", "name": "src"}]},
        }),
    );
    assert_eq!(project["isError"], false, "{project}");
    assert_eq!(project["structuredContent"]["template"], "python-fastapi");
    assert_eq!(
        project["structuredContent"]["directory"],
        "/home/dev/src/orders-api"
    );
}

#[test]
fn architect_asks_the_clients_model_only_where_offered_and_labels_its_answer() {
    let server = Server::start(&Sandbox::new());
    let brief =
        json!({"description": "an online shop with user accounts, card payments and order emails"});
    // Without sampling, the rule-based design alone.
    let plain = ask(&server, "architect", brief.clone(), json!({}));
    assert_eq!(plain["isError"], false, "{plain}");
    assert_eq!(plain["structuredContent"]["refinement"], Value::Null);

    let sampling = json!({"sampling": {}});
    let asked = ask(&server, "architect", brief.clone(), sampling.clone());
    let request = &asked["inputRequests"]["refinement"];
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
    let prompt = request["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(prompt.contains("card payments"), "{prompt}");
    let refined = answer(
        &server,
        "architect",
        brief.clone(),
        sampling.clone(),
        &asked,
        json!({"refinement": {"role": "assistant", "content": {"type": "text", "text": "Put the payment service behind a queue."}, "model": "test-model"}}),
    );
    assert_eq!(refined["isError"], false, "{refined}");
    let refinement = &refined["structuredContent"]["refinement"];
    assert_eq!(
        refinement["text"],
        "Put the payment service behind a queue."
    );
    assert!(
        refinement["source"]
            .as_str()
            .unwrap_or_default()
            .contains("client's model"),
        "{refinement}"
    );
    let summary = refined["content"][0]["text"].as_str().unwrap_or_default();
    assert!(
        summary.contains("Refined by the client's model"),
        "{summary}"
    );
    assert_eq!(
        refined["structuredContent"]["components"], plain["structuredContent"]["components"],
        "the rule-based design stays the answer"
    );

    // A client that declines gets the rule-based design.
    let asked = ask(&server, "architect", brief.clone(), sampling.clone());
    let declined = answer(
        &server,
        "architect",
        brief,
        sampling,
        &asked,
        json!({"refinement": {"code": -1, "message": "the user declined"}}),
    );
    assert_eq!(declined["isError"], false, "{declined}");
    assert_eq!(declined["structuredContent"]["refinement"], Value::Null);
}

#[test]
fn a_tool_the_policies_do_not_let_sample_is_never_offered_sampling() {
    let server = Server::start(&Sandbox::new());
    // `deploy_plan` has no `sample` permit: a missing port is asked with a
    // form, and sampling never enters into it.
    let offers = json!({"sampling": {}});
    let result = ask(
        &server,
        "deploy_plan",
        json!({"name": "orders-api"}),
        offers,
    );
    assert_eq!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("`port` is missing"), "{text}");
}

#[test]
fn orchestrate_passes_its_steps_questions_on_and_runs_them_with_the_answers() {
    let server = Server::start(&Sandbox::new());
    let forms = json!({"elicitation": {}});
    let plan = json!({"steps": [
        {"id": "greet", "tool": "ping"},
        {"id": "plan", "tool": "deploy_plan", "arguments": {"name": "orders-api"}, "depends_on": ["greet"]},
    ]});
    let asked = ask(&server, "orchestrate", plan.clone(), forms.clone());
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    assert!(asked["inputRequests"]["plan/port"].is_object(), "{asked}");
    let report = answer(
        &server,
        "orchestrate",
        plan,
        forms,
        &asked,
        json!({"plan/port": {"action": "accept", "content": {"port": 9000}}}),
    );
    assert_eq!(report["isError"], false, "{report}");
    assert_eq!(
        report["structuredContent"]["counts"]["completed"], 2,
        "{report}"
    );
}

#[test]
fn orchestrate_passes_on_a_steps_question_for_the_clients_model() {
    let server = Server::start(&Sandbox::new());
    let sampling = json!({"sampling": {}});
    let plan = json!({"steps": [{
        "id": "design",
        "tool": "architect",
        "arguments": {"description": "an online shop with user accounts and card payments"},
    }]});
    let asked = ask(&server, "orchestrate", plan.clone(), sampling.clone());
    let request = &asked["inputRequests"]["design/refinement"];
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
    let report = answer(
        &server,
        "orchestrate",
        plan,
        sampling,
        &asked,
        json!({"design/refinement": {"role": "assistant", "content": {"type": "text", "text": "Add a queue."}, "model": "m"}}),
    );
    assert_eq!(report["isError"], false, "{report}");
    let step = &report["structuredContent"]["steps"][0];
    assert_eq!(step["status"], "completed", "{report}");
    assert_eq!(step["structured"]["refinement"]["text"], "Add a queue.");
}

#[test]
fn re_asked_questions_cannot_stretch_an_approval_past_its_time() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        e2e::Launch::default().env("APPROVAL_TTL_SECS", "3"),
    );
    let forms = json!({"elicitation": {}});
    let service = json!({"name": "shop", "image": "registry.example/shop:1.4.2", "replicas": 3, "environment": "production"});
    let asked = ask(&server, "deploy_plan", service.clone(), forms.clone());
    let mut state = answer(
        &server,
        "deploy_plan",
        service.clone(),
        forms.clone(),
        &asked,
        json!({"orchestrator-mcp/approval": {"action": "accept"}}),
    );
    let approved_at = std::time::Instant::now();
    // Leave the port unanswered, again and again: each retry is asked for
    // it anew with a fresh state, but the approval keeps its first expiry.
    let lapsed = loop {
        assert!(
            approved_at.elapsed() < std::time::Duration::from_secs(10),
            "the approval never lapsed"
        );
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let (_, body) = call(
            &server,
            DEMO_TOKEN,
            "deploy_plan",
            json!({"arguments": service, "_meta": meta(forms.clone()), "inputResponses": {}, "requestState": state["requestState"]}),
        );
        if body.get("error").is_some() {
            break body;
        }
        assert_eq!(body["result"]["resultType"], "input_required", "{body}");
        state = body["result"].clone();
    };
    let message = lapsed["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("approval this requestState carries has lapsed"),
        "{message}"
    );
    assert!(approved_at.elapsed() >= std::time::Duration::from_secs(3));
}
