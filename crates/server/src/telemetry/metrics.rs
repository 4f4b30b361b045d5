//! Prometheus metrics: the one list of what the server measures
//! ([`METRICS`]), the recorder, and the recording helpers the layers call.
//!
//! Off unless `METRICS_ADDR` or `METRICS_TOKEN` is set: then no recorder is
//! installed, and every helper returns after one relaxed atomic load, so
//! a server that is not scraped pays nothing for its metrics.
//!
//! Labels never carry a caller: tool and plugin names, policy ids, routes,
//! methods, statuses and reasons are all bounded by the server's own
//! configuration, so the number of series is too.

// The handles are looked up on every request, by labels the server itself
// chose (routes, methods, statuses) or its own tools and policies: a fast
// hash, not one hardened against chosen keys.
use foldhash::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// What kind of series a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The Prometheus type name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// One metric the server exposes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) help: &'static str,
    pub(crate) labels: &'static [&'static str],
}

/// HTTP requests answered.
pub(crate) const HTTP_REQUESTS: &str = "orchestrator_http_requests_total";
/// HTTP request latency.
pub(crate) const HTTP_DURATION: &str = "orchestrator_http_request_duration_seconds";
/// Authorization decisions.
pub(crate) const DECISIONS: &str = "orchestrator_policy_decisions_total";
/// Tool calls by outcome.
pub(crate) const TOOL_CALLS: &str = "orchestrator_tool_calls_total";
/// Tool call latency.
pub(crate) const TOOL_DURATION: &str = "orchestrator_tool_call_duration_seconds";
/// Tool calls running.
pub(crate) const TOOL_IN_FLIGHT: &str = "orchestrator_tool_calls_in_flight";
/// Token verifications by result.
pub(crate) const TOKEN_VERIFICATIONS: &str = "orchestrator_token_verifications_total";
/// The age of the signing keys.
pub(crate) const JWKS_AGE: &str = "orchestrator_jwks_age_seconds";
/// Requests refused by a rate limit.
pub(crate) const RATE_LIMITED: &str = "orchestrator_rate_limit_rejections_total";
/// Whether Redis answers.
pub(crate) const REDIS_UP: &str = "orchestrator_redis_up";
/// Approvals asked for and given, by outcome.
pub(crate) const APPROVALS: &str = "orchestrator_approvals_total";

/// Every metric the server exposes, with its help text and labels. The
/// Grafana dashboard is generated from this list (`cargo xtask gen`), and
/// the end-to-end tests check that a scrape after known traffic has each.
pub(crate) const METRICS: &[Metric] = &[
    Metric {
        name: HTTP_REQUESTS,
        kind: Kind::Counter,
        help: "HTTP requests answered, by route, method and status.",
        labels: &["route", "method", "status"],
    },
    Metric {
        name: HTTP_DURATION,
        kind: Kind::Histogram,
        help: "Time from a request's arrival to its answer's headers, by route and method.",
        labels: &["route", "method"],
    },
    Metric {
        name: DECISIONS,
        kind: Kind::Counter,
        help: "Authorization decisions, by action, effect and the deciding policy (`none` for the default deny).",
        labels: &["action", "effect", "policy"],
    },
    Metric {
        name: TOOL_CALLS,
        kind: Kind::Counter,
        help: "Tool calls that ran, by tool, plugin and outcome (`ok`, `error`, `busy`).",
        labels: &["tool", "plugin", "outcome"],
    },
    Metric {
        name: TOOL_DURATION,
        kind: Kind::Histogram,
        help: "Tool call latency, by tool and plugin.",
        labels: &["tool", "plugin"],
    },
    Metric {
        name: TOOL_IN_FLIGHT,
        kind: Kind::Gauge,
        help: "Tool calls running now, by tool and plugin.",
        labels: &["tool", "plugin"],
    },
    Metric {
        name: plugin_host::TIMEOUTS_METRIC,
        kind: Kind::Counter,
        help: "Plugin calls answered with a time-out error, by tool and plugin.",
        labels: &["tool", "plugin"],
    },
    Metric {
        name: TOKEN_VERIFICATIONS,
        kind: Kind::Counter,
        help: "Bearer tokens verified, by result (`ok`, or the rejection's code).",
        labels: &["result"],
    },
    Metric {
        name: core_auth::TOKEN_CACHE_METRIC,
        kind: Kind::Counter,
        help: "Token verifications answered from the cache (`hit`) or by checking the signature (`miss`).",
        labels: &["result"],
    },
    Metric {
        name: core_auth::JWKS_FETCHES_METRIC,
        kind: Kind::Counter,
        help: "Signing-key fetches, by result (`ok`, `error`).",
        labels: &["result"],
    },
    Metric {
        name: JWKS_AGE,
        kind: Kind::Gauge,
        help: "Seconds since the signing keys were last fetched.",
        labels: &[],
    },
    Metric {
        name: RATE_LIMITED,
        kind: Kind::Counter,
        help: "Requests refused by a rate limit, by limit (`caller`, `public`, `tool`).",
        labels: &["limit"],
    },
    Metric {
        name: redis_state::ROUND_TRIPS_METRIC,
        kind: Kind::Counter,
        help: "Round trips to Redis, by outcome (`ok`, `error`).",
        labels: &["outcome"],
    },
    Metric {
        name: redis_state::ROUND_TRIP_DURATION_METRIC,
        kind: Kind::Histogram,
        help: "Redis round-trip latency.",
        labels: &[],
    },
    Metric {
        name: REDIS_UP,
        kind: Kind::Gauge,
        help: "1 while Redis answers, 0 while it is unreachable (absent without REDIS_URL).",
        labels: &[],
    },
    Metric {
        name: APPROVALS,
        kind: Kind::Counter,
        help: "Approvals of calls, by outcome (`asked`, `accepted`, `declined`, `cancelled`).",
        labels: &["outcome"],
    },
];

/// Whether a recorder is installed.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The process's one recorder: a process has one global recorder, and
/// several applications may be built in one (the in-process tests).
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Latency buckets, in seconds: from 100 µs (a decision, a ping) to 30 s
/// (the default tool time limit).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How often recorded samples are folded into the histograms, scraped or
/// not.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the recorder (once per process, on the running Tokio runtime,
/// where its upkeep runs) and describes every metric; the handle renders
/// the scrape.
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let installed = HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .map_err(|err| err.to_string())?;
        let handle = builder.install_recorder().map_err(|err| err.to_string())?;
        for metric in METRICS {
            match metric.kind {
                Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
                Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
                Kind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
            }
        }
        // Samples wait in the recorder until upkeep folds them into the
        // histograms' buckets: without a scrape for a while they would pile
        // up, so upkeep runs on its own too.
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(UPKEEP_EVERY);
            loop {
                ticker.tick().await;
                upkeep.run_upkeep();
            }
        });
        ENABLED.store(true, Ordering::Release);
        plugin_host::enable_metrics();
        core_auth::enable_metrics();
        redis_state::enable_metrics();
        Ok(handle)
    });
    installed
        .clone()
        .map_err(|err| anyhow::anyhow!("installing the metrics recorder: {err}"))
}

/// Whether metrics are recorded.
#[inline]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Handles already registered, so that recording needs no allocation and
/// no lookup in the recorder: series are found by the `'static` labels
/// (routes, methods, statuses, actions) or by name (tools, policies).
#[derive(Default)]
struct Handles {
    http: RwLock<HashMap<(&'static str, &'static str, &'static str), Counter>>,
    http_durations: RwLock<HashMap<(&'static str, &'static str), Histogram>>,
    /// By action and effect, then by deciding policy.
    decisions: RwLock<HashMap<(&'static str, bool), ByPolicy>>,
    tools: RwLock<HashMap<String, Arc<ToolHandles>>>,
    /// By result.
    verifications: RwLock<HashMap<&'static str, Counter>>,
}

/// Decision counters by deciding policy.
type ByPolicy = HashMap<String, Counter>;

/// One tool's series.
struct ToolHandles {
    ok: Counter,
    error: Counter,
    busy: Counter,
    abandoned: Counter,
    duration: Histogram,
    in_flight: Gauge,
}

static HANDLES: LazyLock<Handles> = LazyLock::new(Handles::default);

/// The handle `key` finds in `map`, registered by `make` the first time.
fn cached<K, V>(map: &RwLock<HashMap<K, V>>, key: K, make: impl FnOnce() -> V) -> V
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    if let Some(found) = map.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return found.clone();
    }
    map.write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(make)
        .clone()
}

/// An HTTP request answered.
pub(crate) fn http_request(route: &'static str, method: &str, status: u16, took: Duration) {
    if !enabled() {
        return;
    }
    let method = method_label(method);
    let status = status_label(status);
    cached(&HANDLES.http, (route, method, status), || {
        metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status)
    })
    .increment(1);
    cached(
        &HANDLES.http_durations,
        (route, method),
        || metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method),
    )
    .record(took.as_secs_f64());
}

/// A decision made.
pub(crate) fn decision(action: &'static str, allowed: bool, policy: Option<&str>) {
    if !enabled() {
        return;
    }
    let policy = policy.unwrap_or("none");
    let found = HANDLES
        .decisions
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(action, allowed))
        .and_then(|by_policy| by_policy.get(policy))
        .cloned();
    let counter = found.unwrap_or_else(|| {
        let effect = if allowed { "allow" } else { "deny" };
        HANDLES
            .decisions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((action, allowed))
            .or_default()
            .entry(policy.to_owned())
            .or_insert_with(|| {
                metrics::counter!(DECISIONS, "action" => action, "effect" => effect, "policy" => policy.to_owned())
            })
            .clone()
    });
    counter.increment(1);
}

/// A tool call starting: the in-flight gauge goes up until the returned
/// guard is finished or dropped.
pub(crate) fn tool_call(tool: &str, plugin: &str) -> Option<ToolCall> {
    if !enabled() {
        return None;
    }
    let found = HANDLES
        .tools
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(tool)
        .cloned();
    let handles = found.unwrap_or_else(|| {
        let labels = [("tool", tool.to_owned()), ("plugin", plugin.to_owned())];
        let outcome = |outcome: &'static str| {
            metrics::counter!(TOOL_CALLS, "tool" => tool.to_owned(), "plugin" => plugin.to_owned(), "outcome" => outcome)
        };
        let made = Arc::new(ToolHandles {
            ok: outcome("ok"),
            error: outcome("error"),
            busy: outcome("busy"),
            abandoned: outcome("abandoned"),
            duration: metrics::histogram!(TOOL_DURATION, &labels),
            in_flight: metrics::gauge!(TOOL_IN_FLIGHT, &labels),
        });
        Arc::clone(
            HANDLES
                .tools
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(tool.to_owned())
                .or_insert(made),
        )
    });
    handles.in_flight.increment(1.0);
    Some(ToolCall {
        handles,
        started: std::time::Instant::now(),
        finished: false,
    })
}

/// A tool call running, for the metrics.
pub(crate) struct ToolCall {
    handles: Arc<ToolHandles>,
    started: std::time::Instant,
    finished: bool,
}

impl ToolCall {
    /// The call ended with `outcome` (`ok`, `error`, `busy`).
    pub(crate) fn finish(mut self, outcome: &'static str) {
        self.finished = true;
        let counter = match outcome {
            "ok" => &self.handles.ok,
            "busy" => &self.handles.busy,
            _ => &self.handles.error,
        };
        counter.increment(1);
        self.handles
            .duration
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for ToolCall {
    fn drop(&mut self) {
        self.handles.in_flight.decrement(1.0);
        if !self.finished {
            // The request went away while the tool ran.
            self.handles.abandoned.increment(1);
        }
    }
}

/// A token verified (`result`: `ok` or the rejection's code).
pub(crate) fn token_verification(result: &'static str) {
    if enabled() {
        cached(
            &HANDLES.verifications,
            result,
            || metrics::counter!(TOKEN_VERIFICATIONS, "result" => result),
        )
        .increment(1);
    }
}

/// A request refused by the `limit` rate limit.
pub(crate) fn rate_limited(limit: &'static str) {
    if enabled() {
        metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
    }
}

/// An approval step.
pub(crate) fn approval(outcome: &'static str) {
    if enabled() {
        metrics::counter!(APPROVALS, "outcome" => outcome).increment(1);
    }
}

/// The values read at scrape time: the keys' age and whether Redis answers.
pub(crate) fn set_gauges(jwks_age: Option<Duration>, redis_up: Option<bool>) {
    if !enabled() {
        return;
    }
    if let Some(age) = jwks_age {
        metrics::gauge!(JWKS_AGE).set(age.as_secs_f64());
    }
    if let Some(up) = redis_up {
        metrics::gauge!(REDIS_UP).set(if up { 1.0 } else { 0.0 });
    }
}

/// The method as a label: the standard ones, else `other`, so a client
/// cannot make a series per made-up method.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// The status as a label, without allocating for the common ones.
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        202 => "202",
        204 => "204",
        302 => "302",
        303 => "303",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        _ => match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

/// The route a path belongs to: one label per route the server serves, so
/// the paths clients make up share one (`other`).
pub(crate) fn route_label(path: &str) -> &'static str {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = segments.next().unwrap_or("");
    let second = segments.next();
    match (first, second) {
        ("mcp", None) => "/mcp",
        ("tools", Some(_)) => "/tools/{name}",
        ("health", None) => "/health",
        ("metrics", None) => "/metrics",
        ("admin", _) => "/admin",
        ("auth", Some("token")) => "/auth/token",
        ("auth", Some("login")) => "/auth/login",
        ("auth", Some("callback")) => "/auth/callback",
        ("oauth", Some("authorize")) => "/oauth/authorize",
        ("oauth", Some("token")) => "/oauth/token",
        ("oauth", Some("register")) => "/oauth/register",
        ("oauth", Some("jwks")) => "/oauth/jwks",
        (".well-known", Some("oauth-protected-resource")) => {
            "/.well-known/oauth-protected-resource"
        }
        (".well-known", Some("oauth-authorization-server" | "openid-configuration")) => {
            "/.well-known/oauth-authorization-server"
        }
        (".well-known", Some("mcp")) => "/.well-known/mcp",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_paths_and_methods_share_one_label() {
        assert_eq!(route_label("/tools/ping"), "/tools/{name}");
        assert_eq!(route_label("/tools/x/y/z"), "/tools/{name}");
        assert_eq!(route_label("/mcp"), "/mcp");
        assert_eq!(route_label("/mcp/extra"), "other");
        assert_eq!(route_label("/a/b/c"), "other");
        assert_eq!(route_label("/admin/decisions"), "/admin");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(status_label(418), "4xx");
    }

    #[test]
    fn every_metric_is_named_once_and_documented() {
        let mut names: Vec<&str> = METRICS.iter().map(|metric| metric.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for metric in METRICS {
            assert!(metric.name.starts_with("orchestrator_"), "{}", metric.name);
            assert!(metric.help.ends_with('.'), "{}", metric.name);
            if metric.kind == Kind::Counter {
                assert!(metric.name.ends_with("_total"), "{}", metric.name);
            }
        }
    }
}
