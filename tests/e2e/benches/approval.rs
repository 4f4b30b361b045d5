//! What an approved retry costs: a production `deploy_plan` retried with a
//! person's acceptance and its sealed `requestState`, against the same plan
//! for staging, which needs no approval, over MCP 2026-07-28 on loopback to
//! the release server. The two run the same tool with arguments of the same
//! size, so the difference of their medians is what the approval adds: the
//! state opened and checked, the answer read, and the extra decisions and
//! audit records.
//!
//! Run by `cargo xtask bench`, or `cargo bench -p e2e --bench approval`.

#![expect(clippy::print_stdout, reason = "a bench reports on stdout")]

use std::time::{Duration, Instant};

use e2e::{DEMO_TOKEN, Launch, Sandbox, Server};
use serde_json::{Value, json};

/// Timed calls of each kind.
const SAMPLES: usize = 2000;
/// Untimed calls of each kind first.
const WARM_UP: usize = 200;
/// The target for what an approved retry adds.
const TARGET_US: f64 = 50.0;

const APPROVAL: &str = "orchestrator-mcp/approval";

fn arguments(environment: &str) -> Value {
    json!({
        "name": "shop",
        "port": 8080,
        "image": "registry.example/shop:1.4.2",
        "replicas": 3,
        "environment": environment,
    })
}

/// One 2026-07-28 `tools/call` of `deploy_plan`; the result and how long
/// the round trip took.
fn call(client: &reqwest::blocking::Client, server: &Server, params: Value) -> (Value, Duration) {
    let mut params = params;
    params["name"] = json!("deploy_plan");
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    });
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).to_string();
    let started = Instant::now();
    let response = client
        .post(server.url("/mcp"))
        .bearer_auth(DEMO_TOKEN)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "deploy_plan")
        .body(body)
        .send()
        .expect("POST /mcp");
    let text = response.text().expect("body");
    let took = started.elapsed();
    let reply: Value = serde_json::from_str(&text).expect("JSON");
    assert!(reply.get("error").is_none(), "{reply}");
    (reply["result"].clone(), took)
}

fn plain(client: &reqwest::blocking::Client, server: &Server) -> Duration {
    let (result, took) = call(client, server, json!({"arguments": arguments("staging")}));
    assert_eq!(result["isError"], false, "{result}");
    took
}

fn approved_retry(client: &reqwest::blocking::Client, server: &Server) -> Duration {
    let (asked, _) = call(
        client,
        server,
        json!({"arguments": arguments("production")}),
    );
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let (result, took) = call(
        client,
        server,
        json!({
            "arguments": arguments("production"),
            "inputResponses": { APPROVAL: {"action": "accept"} },
            "requestState": asked["requestState"],
        }),
    );
    assert_eq!(result["isError"], false, "{result}");
    took
}

fn median_and_p90(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |fraction: f64| {
        let index = ((samples.len() - 1) as f64 * fraction).round() as usize;
        samples[index].as_secs_f64() * 1e6
    };
    (at(0.5), at(0.9))
}

fn main() {
    let sandbox = Sandbox::new();
    // Thousands of calls a minute from one caller: no rate limit, and
    // used states forgotten after seconds, not minutes, so the caller's
    // room for them never fills.
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("APPROVAL_TTL_SECS", "5"),
    );
    let client = reqwest::blocking::Client::new();
    for _ in 0..WARM_UP {
        plain(&client, &server);
        approved_retry(&client, &server);
    }
    let mut plains = Vec::with_capacity(SAMPLES);
    let mut retries = Vec::with_capacity(SAMPLES);
    // Interleaved, so that drift in the machine's speed falls on both.
    for _ in 0..SAMPLES {
        plains.push(plain(&client, &server));
        retries.push(approved_retry(&client, &server));
    }
    let (plain_median, plain_p90) = median_and_p90(&mut plains);
    let (retry_median, retry_p90) = median_and_p90(&mut retries);
    let added = retry_median - plain_median;
    println!();
    println!(
        "approved retry, deploy_plan over MCP 2026-07-28 on loopback ({SAMPLES} of each, interleaved)"
    );
    println!("  {:<34} {:>10} {:>10}", "", "median µs", "p90 µs");
    println!(
        "  {:<34} {plain_median:>10.1} {plain_p90:>10.1}",
        "staging (no approval needed)"
    );
    println!(
        "  {:<34} {retry_median:>10.1} {retry_p90:>10.1}",
        "production, approved retry"
    );
    println!(
        "  added by the approval {added:>21.1} µs   target < {TARGET_US} µs: {}",
        if added < TARGET_US {
            "meets target"
        } else {
            "MISSES target"
        }
    );
}
