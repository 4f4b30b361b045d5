//! The direct path for stateless 2026-07-28 tool calls, against its
//! reference: every request is sent once as a client sends it and once
//! through rmcp's own service, and the two answers must be the same.

use std::cell::Cell;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use super::{Answer, TestApp, demo_scopes, post_json};
use crate::mcp::{ANSWERED_DIRECTLY, THROUGH_RMCP};

/// One request of the comparison, and whether the direct path takes it.
struct Case {
    name: &'static str,
    body: Value,
    headers: Vec<(&'static str, &'static str)>,
    /// Headers the case leaves out of the usual set.
    without: Vec<&'static str>,
    /// The request target, when not `/mcp`.
    uri: Option<&'static str>,
    direct: bool,
}

impl Case {
    fn new(name: &'static str, body: Value) -> Self {
        Self {
            name,
            body,
            headers: Vec::new(),
            without: Vec::new(),
            uri: None,
            direct: true,
        }
    }

    fn uri(mut self, uri: &'static str) -> Self {
        self.uri = Some(uri);
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.without.push(name);
        self.headers.push((name, value));
        self
    }

    fn without(mut self, name: &'static str) -> Self {
        self.without.push(name);
        self
    }

    /// The direct path leaves this one to rmcp.
    fn declined(mut self) -> Self {
        self.direct = false;
        self
    }

    fn request(&self) -> Request<Body> {
        let mut request = post_json(self.uri.unwrap_or("/mcp"), &self.body.to_string());
        let tool = self.body["params"]["name"].as_str().unwrap_or_default();
        let usual = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", tool),
        ];
        let headers = request.headers_mut();
        for (name, value) in usual {
            if !self.without.contains(&name) {
                headers.insert(name, value.parse().expect("a header value"));
            }
        }
        for name in &self.without {
            headers.remove(*name);
        }
        for (name, value) in &self.headers {
            headers.append(*name, value.parse().expect("a header value"));
        }
        request
    }
}

/// A 2026-07-28 `tools/call` of `tool` with `arguments` and `_meta` over
/// the required keys.
fn call(id: Value, tool: &str, arguments: Value, meta: Value) -> Value {
    let mut full_meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "reference-test", "version": "1" },
    });
    if let (Some(full), Value::Object(extra)) = (full_meta.as_object_mut(), meta) {
        full.extend(extra);
    }
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": tool, "arguments": arguments, "_meta": full_meta },
    })
}

fn cases() -> Vec<Case> {
    let config = || call(json!(1), "server_config", json!({}), json!({}));
    vec![
        Case::new("an allowed call", config()),
        Case::new(
            "a string id",
            call(json!("c-7"), "server_config", json!({}), json!({})),
        ),
        Case::new("a client that reads only JSON", config()).header("accept", "application/json"),
        Case::new(
            "a call the policies deny",
            call(json!(2), "audit_log", json!({}), json!({})),
        ),
        Case::new(
            "an unknown tool",
            call(json!(3), "no_such_tool", json!({}), json!({})),
        ),
        Case::new(
            "arguments the tool refuses",
            call(
                json!(4),
                "server_config",
                json!({ "verbose": true }),
                json!({}),
            ),
        ),
        Case::new(
            "a request state that was never sealed",
            json!({
                "jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {
                    "name": "server_config", "arguments": {}, "requestState": "forged",
                    "_meta": call(json!(0), "", json!({}), json!({}))["params"]["_meta"],
                },
            }),
        ),
        Case::new(
            "a trace parent",
            call(
                json!(6),
                "server_config",
                json!({}),
                json!({ "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }),
            ),
        ),
        Case::new(
            "a progress token from a client that reads only JSON",
            call(
                json!(7),
                "server_config",
                json!({}),
                json!({ "progressToken": "p" }),
            ),
        )
        .header("accept", "application/json"),
        Case::new(
            "a progress token from a client that reads streams",
            call(
                json!(8),
                "server_config",
                json!({}),
                json!({ "progressToken": "p" }),
            ),
        )
        .declined(),
        Case::new(
            "a log level from a client that reads streams",
            call(
                json!(9),
                "server_config",
                json!({}),
                json!({ "io.modelcontextprotocol/logLevel": "debug" }),
            ),
        )
        .declined(),
        Case::new(
            "_meta without the client's capabilities",
            json!({
                "jsonrpc": "2.0", "id": 10, "method": "tools/call",
                "params": {
                    "name": "server_config", "arguments": {},
                    "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28" },
                },
            }),
        )
        .declined(),
        Case::new("no Mcp-Method header", config())
            .without("mcp-method")
            .declined(),
        Case::new("no Mcp-Name header", config())
            .without("mcp-name")
            .declined(),
        Case::new("an Mcp-Name that is not the body's", config())
            .header("mcp-name", "revoke_tokens")
            .declined(),
        Case::new("Mcp-Name twice", config())
            .header("mcp-name", "server_config")
            .header("mcp-name", "server_config")
            .declined(),
        Case::new("an Mcp-Name in Base64", config())
            .header("mcp-name", "=?base64?c2VydmVyX2NvbmZpZw==?=")
            .declined(),
        Case::new("an Mcp-Method that is not the body's", config())
            .header("mcp-method", "tools/list")
            .declined(),
        Case::new("an older version header", config())
            .header("mcp-protocol-version", "2025-11-25")
            .declined(),
        Case::new("an unknown version header", config())
            .header("mcp-protocol-version", "2099-01-01")
            .declined(),
        Case::new("event streams refused by weight", config())
            .header("accept", "application/json, text/event-stream;q=0")
            .declined(),
        Case::new("a client that reads only streams", config())
            .header("accept", "text/event-stream")
            .declined(),
        Case::new("a quoted string in Accept", config())
            .header("accept", "x/\"y, application/json, text/event-stream")
            .declined(),
        Case::new("a Host header that is not an authority", config())
            .uri("http://localhost:8080/mcp")
            .header("host", "local host")
            .declined(),
        Case::new("a body that is not said to be JSON", config())
            .header("content-type", "text/plain")
            .declined(),
        Case::new(
            "a tools/list",
            json!({
                "jsonrpc": "2.0", "id": 11, "method": "tools/list",
                "params": { "_meta": call(json!(0), "", json!({}), json!({}))["params"]["_meta"] },
            }),
        )
        .header("mcp-method", "tools/list")
        .declined(),
        Case::new(
            "a notification",
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        )
        .declined(),
    ]
}

/// What of an answer the two paths must agree on.
fn comparable(answer: &Answer) -> (StatusCode, Vec<Option<String>>, Value) {
    let header = |name: header::HeaderName| {
        answer
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let headers = vec![
        header(header::CONTENT_TYPE),
        header(header::WWW_AUTHENTICATE),
        header(header::RETRY_AFTER),
    ];
    let body = serde_json::from_str(&answer.text).unwrap_or(Value::String(answer.text.clone()));
    (answer.status, headers, body)
}

#[tokio::test]
async fn the_direct_path_answers_every_call_as_rmcps_path_does() {
    // Allowed to read the configuration, denied the audit log.
    let app = TestApp::new(&demo_scopes(&["admin:config"])).await;
    compare(&app, cases()).await;
}

#[tokio::test]
async fn the_direct_path_answers_a_call_past_its_tools_limit_as_rmcps_path_does() {
    let app = TestApp::new("[server]\nrate_limit_per_tool = { server_config = 1 }\n").await;
    let spend = call(json!(1), "server_config", json!({}), json!({}));
    let answer = app
        .send(Case::new("the one call", spend.clone()).request())
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = compare(&app, vec![Case::new("past the limit", spend)]).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn the_direct_path_answers_as_rmcps_path_does_with_no_list_of_hosts() {
    let app =
        TestApp::new("[server]\nallowed_hosts = []\npublic_url = \"http://localhost:8080\"\n")
            .await;
    let config = || call(json!(1), "server_config", json!({}), json!({}));
    compare(
        &app,
        vec![
            Case::new("a request naming its host", config()),
            Case::new("no Host header", config())
                .without("host")
                .declined(),
            Case::new("a Host header that is not an authority", config())
                .header("host", "a b")
                .declined(),
        ],
    )
    .await;
}

/// Sends each case both ways and compares the answers; the last direct
/// answer is returned.
async fn compare(app: &TestApp, cases: Vec<Case>) -> Answer {
    let mut last = None;
    for case in cases {
        let answered = Cell::new(false);
        let (direct, answered) = ANSWERED_DIRECTLY
            .scope(answered, async {
                let answer = app.send(case.request()).await;
                (answer, ANSWERED_DIRECTLY.with(Cell::get))
            })
            .await;
        let reference = THROUGH_RMCP.scope((), app.send(case.request())).await;
        assert_eq!(
            answered, case.direct,
            "{}: answered directly: {answered}",
            case.name
        );
        assert_eq!(
            comparable(&direct),
            comparable(&reference),
            "{}: the direct answer (left) differs from rmcp's (right)",
            case.name
        );
        last = Some(direct);
    }
    last.expect("at least one case")
}
