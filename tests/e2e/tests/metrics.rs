//! `GET /metrics`: scraped after known traffic, parsed as Prometheus's
//! text format, and held to the counts that traffic must have left.

use std::collections::BTreeMap;

use e2e::{DEMO_MACHINE, DEMO_TOKEN, Launch, Sandbox, Server, test_plugin};
use redis_state::test_server::TestRedis;
use serde_json::json;

use crate::util::{client, get, post_tool, post_tool_as_demo};

const METRICS_TOKEN: &str = "0123456789abcdef0123456789abcdef-metrics";

/// One sample: the metric's name and its labels, sorted.
type Series = (String, BTreeMap<String, String>);

/// A parsed scrape: every sample, and every `# TYPE` line.
struct Scrape {
    samples: BTreeMap<Series, f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses Prometheus's text exposition format, failing on any line
    /// that is not a comment, a `# HELP`/`# TYPE` line or a sample.
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("labels end with }");
                    (name.to_owned(), parse_labels(inner))
                }
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "a metric name: {line}"
            );
            samples.insert((name, labels), value);
        }
        Self { samples, types }
    }

    /// The value of `name` with exactly `labels`; 0 when absent.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.samples
            .get(&(name.to_owned(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    /// The sum of `name` over every series whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((series, have), _)| {
                series == name
                    && labels
                        .iter()
                        .all(|(key, value)| have.get(*key).map(String::as_str) == Some(*value))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

/// `key="value",…`, with `\"`, `\\` and `\n` escapes in values.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "a quoted label value in {text}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => panic!("a dangling escape in {text}"),
                },
                '"' => break,
                other => value.push(other),
            }
        }
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

fn scrape(server: &Server, token: Option<&str>) -> reqwest::blocking::Response {
    let mut request = client().get(server.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().expect("GET /metrics")
}

#[test]
fn a_scrape_counts_the_traffic_it_followed() {
    let sandbox = Sandbox::new();
    sandbox.add_plugin(&test_plugin("misbehaving"));
    sandbox.write(
        "policies/misbehaving.cedar",
        "@id(\"test.misbehaving\")\npermit (principal, action == Action::\"call\", resource in Plugin::\"misbehaving\");\n",
    );
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .env("METRICS_TOKEN", METRICS_TOKEN)
            .env("PLUGIN_TOOL_TIMEOUTS", "{ hang = 1 }")
            .env("RATE_LIMIT_PUBLIC_PER_MINUTE", "2"),
    );
    for _ in 0..3 {
        assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    }
    assert_eq!(post_tool(&server, "ping", None, "{}").status, 401);
    let hang = server.call_tool(DEMO_TOKEN, "hang", json!({}));
    assert_eq!(hang["result"]["isError"], true, "{hang}");
    let machine = server.machine_token(DEMO_MACHINE);
    // The machine may ping; it may not review code.
    assert_eq!(post_tool(&server, "ping", Some(&machine), "{}").status, 200);
    assert_eq!(
        post_tool(
            &server,
            "review_code",
            Some(&machine),
            r#"{"code":"x","language":"python"}"#
        )
        .status,
        403
    );
    crate::approvals::ask(&server);
    let statuses: Vec<u16> = (0..3)
        .map(|_| get(&server, "/.well-known/oauth-protected-resource/mcp").status)
        .collect();
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // `/auth/token` spent one of the address's two.
    let refused = statuses.iter().filter(|status| **status == 429).count();

    // Only with the token.
    assert_eq!(scrape(&server, None).status(), 401);
    assert_eq!(scrape(&server, Some("not-the-token")).status(), 401);
    let response = scrape(&server, Some(METRICS_TOKEN));
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let metrics = Scrape::parse(&response.text().expect("the scrape"));

    let tools = [("route", "/tools/{name}"), ("method", "POST")];
    assert_eq!(
        metrics.value(
            "orchestrator_http_requests_total",
            &[tools[0], tools[1], ("status", "200")]
        ),
        4.0
    );
    assert_eq!(
        metrics.value(
            "orchestrator_http_requests_total",
            &[tools[0], tools[1], ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        metrics.value("orchestrator_http_request_duration_seconds_count", &tools),
        6.0
    );
    let ping = [("tool", "ping"), ("plugin", "core-tools")];
    assert_eq!(
        metrics.value(
            "orchestrator_tool_calls_total",
            &[ping[0], ping[1], ("outcome", "ok")]
        ),
        4.0
    );
    assert_eq!(
        metrics.value("orchestrator_tool_call_duration_seconds_count", &ping),
        4.0
    );
    assert_eq!(
        metrics.value("orchestrator_tool_calls_in_flight", &ping),
        0.0
    );
    assert_eq!(
        metrics.value(
            "orchestrator_tool_timeouts_total",
            &[("tool", "hang"), ("plugin", "misbehaving")]
        ),
        1.0
    );
    assert_eq!(
        metrics.value(
            "orchestrator_policy_decisions_total",
            &[
                ("action", "call"),
                ("effect", "allow"),
                ("policy", "tools.ping")
            ]
        ),
        4.0
    );
    assert_eq!(
        metrics.sum(
            "orchestrator_policy_decisions_total",
            &[("action", "call"), ("effect", "deny")]
        ),
        2.0,
        "the machine's review, and the production plan before its approval"
    );
    assert!(
        metrics.value(
            "orchestrator_token_verifications_total",
            &[("result", "ok")]
        ) >= 7.0
    );
    assert_eq!(
        metrics.value(
            "orchestrator_token_verifications_total",
            &[("result", "missing_token")]
        ),
        1.0
    );
    assert_eq!(
        metrics.value("orchestrator_token_cache_total", &[("result", "miss")]),
        1.0
    );
    assert_eq!(
        metrics.value("orchestrator_token_cache_total", &[("result", "hit")]),
        1.0
    );
    assert_eq!(
        metrics.value(
            "orchestrator_rate_limit_rejections_total",
            &[("limit", "public")]
        ),
        refused as f64
    );
    assert_eq!(
        metrics.value("orchestrator_approvals_total", &[("outcome", "asked")]),
        1.0
    );
    for (name, kind) in [
        ("orchestrator_http_requests_total", "counter"),
        ("orchestrator_http_request_duration_seconds", "histogram"),
        ("orchestrator_tool_calls_in_flight", "gauge"),
    ] {
        assert_eq!(
            metrics.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    // No caller is ever a label.
    for (_, labels) in metrics.samples.keys() {
        for value in labels.values() {
            assert!(
                !value.contains("demo-user") && !value.contains("K2demo"),
                "{value}"
            );
        }
    }
}

#[test]
fn without_metrics_settings_there_is_no_metrics_route() {
    let server = Server::start(&Sandbox::new());
    let response = scrape(&server, Some(METRICS_TOKEN));
    assert_eq!(response.status(), 404);
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn the_metrics_listener_serves_redis_round_trips_without_a_token() {
    let redis = TestRedis::start();
    let server = Server::start_with(
        &Sandbox::new(),
        Launch::default()
            .env("REDIS_URL", &redis.url())
            .env("METRICS_ADDR", "127.0.0.1:0"),
    );
    let line = server
        .wait_for_log(|line| line.contains("serving metrics at /metrics"))
        .expect("the metrics listener's address");
    let log: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    let address = log["fields"]["address"]
        .as_str()
        .expect("an address")
        .to_owned();
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    let text = client()
        .get(format!("http://{address}/metrics"))
        .send()
        .expect("GET /metrics")
        .text()
        .expect("the scrape");
    let metrics = Scrape::parse(&text);
    assert_eq!(metrics.value("orchestrator_redis_up", &[]), 1.0);
    assert!(metrics.value("orchestrator_redis_round_trips_total", &[("outcome", "ok")]) >= 1.0);
    assert!(metrics.value("orchestrator_redis_round_trip_duration_seconds_count", &[]) >= 1.0);
    // Not on the main port: no METRICS_TOKEN was given.
    assert_eq!(scrape(&server, None).status(), 404);
}
