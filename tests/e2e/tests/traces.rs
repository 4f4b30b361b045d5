//! OpenTelemetry traces (`OTEL_EXPORTER_OTLP_ENDPOINT`): the spans a
//! request makes reach a collector, continuing the trace the caller named
//! in its `traceparent` header or its MCP `_meta.traceparent`, with the
//! verification, decision and tool call (and a tool's own calls) as
//! children.

use e2e::otlp::{Collector, Span};
use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::json;

use crate::util::{client, jsonrpc, post_mcp, post_tool_as_demo};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const MCP_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const MCP_CALLER_SPAN: &str = "b7ad6b7169203331";

fn traced_server(collector: &Collector) -> Server {
    Server::start_with(
        &Sandbox::new(),
        Launch::default()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_SERVICE_NAME", "orchestrator-under-test")
            // Export every 100 ms rather than every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100"),
    )
}

fn named<'a>(spans: &'a [Span], trace: &str, name: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|span| span.trace_id == trace && span.name == name)
        .collect()
}

fn one<'a>(spans: &'a [Span], trace: &str, name: &str) -> &'a Span {
    match named(spans, trace, name).as_slice() {
        [span] => span,
        other => panic!("one `{name}` span in the trace, found {other:?} among {spans:#?}"),
    }
}

#[test]
fn a_rest_call_continues_the_callers_trace_with_its_steps_as_children() {
    let collector = Collector::start();
    let server = traced_server(&collector);
    let response = client()
        .post(server.url("/tools/ping"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .body("{}")
        .send()
        .expect("POST /tools/ping");
    assert_eq!(response.status(), 200);
    let spans = collector.wait_for(|spans| {
        ["POST /tools/{name}", "verify_token", "decide", "tool_call"]
            .iter()
            .all(|name| !named(spans, TRACE, name).is_empty())
    });
    let request = one(&spans, TRACE, "POST /tools/{name}");
    assert_eq!(request.parent_span_id, CALLER_SPAN);
    assert_eq!(request.service, "orchestrator-under-test");
    for child in ["verify_token", "admit", "decide", "tool_call"] {
        assert_eq!(
            one(&spans, TRACE, child).parent_span_id,
            request.span_id,
            "{child} is a child of the request"
        );
    }
}

#[test]
fn an_mcp_call_continues_the_meta_traceparent_and_nested_calls_stay_in_it() {
    let collector = Collector::start();
    let server = traced_server(&collector);
    let body = jsonrpc(
        1,
        "tools/call",
        json!({
            "name": "orchestrate",
            "arguments": {"steps": [
                {"id": "first", "tool": "ping", "arguments": {"message": "one"}},
                {"id": "second", "tool": "ping", "depends_on": ["first"]},
            ]},
            "_meta": {"traceparent": format!("00-{MCP_TRACE}-{MCP_CALLER_SPAN}-01")},
        }),
    );
    let response = post_mcp(&server, Some(DEMO_TOKEN), &body);
    assert_eq!(response.status, 200, "{:?}", response.body);
    let spans = collector.wait_for(|spans| named(spans, MCP_TRACE, "tool_call").len() >= 3);
    let call = one(&spans, MCP_TRACE, "mcp.tools/call");
    assert_eq!(call.parent_span_id, MCP_CALLER_SPAN);
    let tool_calls = named(&spans, MCP_TRACE, "tool_call");
    assert_eq!(
        tool_calls.len(),
        3,
        "orchestrate and its two pings: {spans:#?}"
    );
    let orchestrate = tool_calls
        .iter()
        .find(|span| span.parent_span_id == call.span_id)
        .expect("orchestrate's call is a child of the MCP call");
    let nested: Vec<_> = tool_calls
        .iter()
        .filter(|span| span.parent_span_id == orchestrate.span_id)
        .collect();
    assert_eq!(
        nested.len(),
        2,
        "both pings are children of orchestrate's call"
    );
    let decisions = named(&spans, MCP_TRACE, "decide");
    assert_eq!(decisions.len(), 3);
    assert_eq!(
        decisions
            .iter()
            .filter(|span| span.parent_span_id == orchestrate.span_id)
            .count(),
        2,
        "the nested calls' decisions are made under orchestrate's call"
    );
}

#[test]
fn without_an_endpoint_nothing_is_exported_and_a_bad_one_stops_start_up() {
    let failure = Server::try_start(
        &Sandbox::new(),
        Launch::default().env("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    )
    .err()
    .expect("refused");
    assert!(
        failure
            .output
            .contains("OTEL_EXPORTER_OTLP_ENDPOINT: is not an http(s) URL"),
        "{}",
        failure.output
    );
    let failure = Server::try_start(
        &Sandbox::new(),
        Launch::default()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    )
    .err()
    .expect("refused");
    assert!(
        failure
            .output
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL: `grpc` is not supported"),
        "{}",
        failure.output
    );
}

#[test]
fn with_new_traces_sampled_out_only_a_callers_sampled_trace_is_exported() {
    let collector = Collector::start();
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_TRACES_SAMPLER_ARG", "0")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100"),
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    let body = jsonrpc(
        1,
        "tools/call",
        json!({
            "name": "ping",
            "arguments": {},
            "_meta": {"traceparent": format!("00-{MCP_TRACE}-{MCP_CALLER_SPAN}-01")},
        }),
    );
    let response = post_mcp(&server, Some(DEMO_TOKEN), &body);
    assert_eq!(response.status, 200, "{:?}", response.body);
    let spans = collector.wait_for(|spans| !named(spans, MCP_TRACE, "tool_call").is_empty());
    let call = one(&spans, MCP_TRACE, "mcp.tools/call");
    assert_eq!(call.parent_span_id, MCP_CALLER_SPAN);
    assert_eq!(
        one(&spans, MCP_TRACE, "tool_call").parent_span_id,
        call.span_id
    );
    // Nothing of the traces the server started itself.
    assert!(
        spans.iter().all(|span| span.trace_id == MCP_TRACE),
        "{spans:#?}"
    );
}
