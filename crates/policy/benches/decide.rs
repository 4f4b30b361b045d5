//! Decision latency: this engine (sliced per action and tool, principal
//! entities cached) against a plain `Authorizer::is_authorized` over the
//! whole policy set, at 10, 100, 1,000 and 10,000 generated policies spread
//! over many tools, in one run.
//!
//! The engine is timed twice: round robin over every tool with a caller per
//! tool (every decision meets cold data; the figure the target applies to),
//! and over a few tools in turn (a burst from one agent). Criterion times
//! each series; every individual decision is also recorded, and the p50 and
//! p99 of those are printed and, when `POLICY_BENCH_REPORT` names a file,
//! written there as JSON for `cargo xtask bench`.

#![expect(clippy::print_stdout, reason = "a bench reports on stdout")]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityUid, PolicySet, Request, RestrictedExpression,
    Schema,
};
use core_auth::{Principal, PrincipalKind};
use criterion::{Criterion, criterion_group, criterion_main};
use policy::{Action, PolicyEngine, RequestContext, Target};
use serde_json::json;

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// Policies per tool: a scope permit, a role permit, a tenant forbid and an
/// argument condition, like a real set.
const PER_TOOL: usize = 4;

const PLUGINS: usize = 16;

fn policies(count: usize) -> String {
    let mut text = String::new();
    for index in 0..count {
        let tool = index / PER_TOOL;
        let policy = match index % PER_TOOL {
            0 => format!(
                "@id(\"t{tool}.scope\") @scope(\"scope:{tool}\") @description(\"Tool {tool}\")\n\
                 permit (principal, action == Action::\"call\", resource == Tool::\"tool{tool}\")\n\
                 when {{ principal has scopes && principal.scopes.contains(\"scope:{tool}\") }};\n"
            ),
            1 => format!(
                "@id(\"t{tool}.role\")\n\
                 permit (principal in Role::\"role{tool}\", action == Action::\"call\", resource == Tool::\"tool{tool}\");\n"
            ),
            2 => format!(
                "@id(\"t{tool}.tenant\")\n\
                 forbid (principal in Tenant::\"blocked{tool}\", action, resource == Tool::\"tool{tool}\");\n"
            ),
            _ => format!(
                "@id(\"t{tool}.args\")\n\
                 forbid (principal, action == Action::\"call\", resource == Tool::\"tool{tool}\")\n\
                 when {{ context.arguments has environment && context.arguments.environment == \"production\" }}\n\
                 unless {{ principal in Role::\"admin\" }};\n"
            ),
        };
        text.push_str(&policy);
    }
    text
}

fn tool_count(policies: usize) -> usize {
    policies.div_ceil(PER_TOOL)
}

fn tool(index: usize) -> Target {
    Target {
        kind: policy::Kind::Tool,
        name: format!("tool{index}"),
        plugin: format!("plugin{}", index % PLUGINS),
        read_only: false,
        destructive: false,
    }
}

/// A caller allowed to call `tool(index)` by its scope, in a tenant.
fn principal(index: usize) -> Principal {
    Principal {
        id: format!("user{index}"),
        kind: PrincipalKind::User,
        scopes: BTreeSet::from([format!("scope:{index}"), "tools:ping".to_owned()]),
        roles: BTreeSet::from(["member".to_owned()]),
        tenant: Some("acme".to_owned()),
        tenants: Default::default(),
        credential: Default::default(),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: PolicyEngine,
    /// The same set for plain Cedar (ids as Cedar assigns them).
    whole: PolicySet,
    schema: Schema,
    tools: usize,
}

fn fixture(count: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/schema.cedarschema"),
    )
    .expect("schema");
    std::fs::write(dir.path().join("schema.cedarschema"), &schema_text).expect("write schema");
    let text = policies(count);
    std::fs::write(dir.path().join("generated.cedar"), &text).expect("write policies");
    let engine = PolicyEngine::load_dir(dir.path()).expect("generated policies load");
    assert_eq!(engine.policy_count(), count);
    let (schema, _) = Schema::from_cedarschema_str(&schema_text).expect("schema parses");
    Fixture {
        _dir: dir,
        engine,
        whole: PolicySet::from_str(&text).expect("policies parse"),
        schema,
        tools: tool_count(count),
    }
}

/// A plain Cedar request, entities and context for `tool(index)`, built
/// outside the timing so the baseline is Cedar's evaluation alone.
struct PlainRequest {
    request: Request,
    entities: Entities,
}

fn plain_request(schema: &Schema, index: usize) -> PlainRequest {
    let uid = |text: &str| EntityUid::from_str(text).expect("uid");
    let user = uid(&format!("User::\"user{index}\""));
    let role = uid("Role::\"member\"");
    let tenant = uid("Tenant::\"acme\"");
    let plugin = uid(&format!("Plugin::\"plugin{}\"", index % PLUGINS));
    let tool_uid = uid(&format!("Tool::\"tool{index}\""));
    let scopes = RestrictedExpression::new_set([
        RestrictedExpression::new_string(format!("scope:{index}")),
        RestrictedExpression::new_string("tools:ping".to_owned()),
    ]);
    let entities = Entities::from_entities(
        [
            Entity::new_no_attrs(role.clone(), Default::default()),
            Entity::new_no_attrs(tenant.clone(), Default::default()),
            Entity::new(
                user.clone(),
                [("scopes".to_owned(), scopes)].into(),
                [role, tenant].into(),
            )
            .expect("user"),
            Entity::new_no_attrs(plugin.clone(), Default::default()),
            Entity::new(
                tool_uid.clone(),
                [
                    (
                        "read_only".to_owned(),
                        RestrictedExpression::new_bool(false),
                    ),
                    (
                        "destructive".to_owned(),
                        RestrictedExpression::new_bool(false),
                    ),
                ]
                .into(),
                [plugin].into(),
            )
            .expect("tool"),
        ],
        Some(schema),
    )
    .expect("entities");
    let action = uid("Action::\"call\"");
    let context = Context::from_json_value(
        json!({
            "arguments": { "environment": "staging" },
            "time": "2026-11-27T12:00:00.000Z",
            "client_address": "10.1.2.3",
            "tenant": "acme",
        }),
        Some((schema, &action)),
    )
    .expect("context");
    let request = Request::new(user, action, tool_uid, context, Some(schema)).expect("request");
    PlainRequest { request, entities }
}

/// Every timed decision, per series, in nanoseconds.
type Samples = Arc<Mutex<Vec<u64>>>;

fn nanos(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[rank] as f64
}

/// How many tools the hot series cycles through.
const HOT_TOOLS: usize = 4;

/// Times `decide(index)` for index 0, 1, … `cycle - 1`, 0, … under criterion,
/// recording every decision.
fn time_engine(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    cycle: usize,
    decide: impl Fn(usize) -> policy::Decision,
) -> Samples {
    let samples: Samples = Arc::default();
    let recorded = Arc::clone(&samples);
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            let mut recorded = recorded.lock().expect("samples");
            for _ in 0..iterations {
                let index = next % cycle;
                next += 1;
                let started = Instant::now();
                let decision = decide(index);
                let elapsed = started.elapsed();
                assert!(decision.allowed, "{decision:?}");
                total += elapsed;
                recorded.push(nanos(elapsed));
            }
            total
        });
    });
    samples
}

fn decisions(c: &mut Criterion) {
    let mut report = Vec::new();
    let mut group = c.benchmark_group("policy_decision");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for count in SIZES {
        let fixture = fixture(count);
        let tools = fixture.tools;
        // As a server holds them: one `Arc` per verified token and per tool.
        let principals: Vec<Arc<Principal>> = (0..tools).map(|i| Arc::new(principal(i))).collect();
        let resources: Vec<Arc<Target>> = (0..tools).map(|i| Arc::new(tool(i))).collect();
        let context = RequestContext::now()
            .with_arguments(json!({ "environment": "staging", "name": "api" }))
            .with_client_address(Some([10, 1, 2, 3].into()));
        // Every slice and principal is cut once before timing, as in a
        // server that has been up for a moment.
        for index in 0..tools {
            let decision = fixture.engine.decide(
                &principals[index],
                Action::Call,
                &resources[index],
                &context,
            );
            assert!(decision.allowed, "{decision:?}");
        }

        let decide = |index: usize| {
            fixture.engine.decide(
                black_box(&principals[index]),
                Action::Call,
                black_box(&resources[index]),
                &context,
            )
        };
        // Round robin over every tool, each with its own caller: every
        // decision meets a principal and a tool that have gone cold.
        let engine_samples = time_engine(&mut group, &format!("engine/{count}"), tools, decide);
        // A few callers and tools in turn, as in a burst from one agent.
        let hot = tools.min(HOT_TOOLS);
        let hot_samples = time_engine(&mut group, &format!("engine_hot/{count}"), hot, decide);

        let requests: Vec<PlainRequest> = (0..tools.min(64))
            .map(|index| plain_request(&fixture.schema, index))
            .collect();
        let authorizer = Authorizer::new();
        let plain_samples: Samples = Arc::default();
        let samples = Arc::clone(&plain_samples);
        let mut next = 0;
        group.bench_function(format!("cedar/{count}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                let mut recorded = samples.lock().expect("samples");
                for _ in 0..iterations {
                    let plain = &requests[next % requests.len()];
                    next += 1;
                    let started = Instant::now();
                    let response = authorizer.is_authorized(
                        black_box(&plain.request),
                        &fixture.whole,
                        &plain.entities,
                    );
                    let elapsed = started.elapsed();
                    black_box(response);
                    total += elapsed;
                    recorded.push(nanos(elapsed));
                }
                total
            });
        });

        for (series, samples) in [
            ("engine", engine_samples),
            ("engine_hot", hot_samples),
            ("cedar", plain_samples),
        ] {
            let mut sorted = samples.lock().expect("samples").clone();
            sorted.sort_unstable();
            report.push(json!({
                "series": series,
                "policies": count,
                "samples": sorted.len(),
                "p50_ns": percentile(&sorted, 0.50),
                "p99_ns": percentile(&sorted, 0.99),
            }));
        }
    }
    group.finish();

    println!("\npolicy decision latency (every timed decision)");
    println!(
        "{:>8}  {:>8}  {:>12}  {:>12}  {:>10}",
        "series", "policies", "p50 µs", "p99 µs", "samples"
    );
    for row in &report {
        println!(
            "{:>8}  {:>8}  {:>12.2}  {:>12.2}  {:>10}",
            row["series"].as_str().unwrap_or_default(),
            row["policies"],
            row["p50_ns"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            row["p99_ns"].as_f64().unwrap_or(f64::NAN) / 1000.0,
            row["samples"],
        );
    }
    if let Ok(path) = std::env::var("POLICY_BENCH_REPORT") {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&report).expect("report"),
        )
        .expect("write the report");
    }
}

criterion_group!(benches, decisions);
criterion_main!(benches);
