//! What sharing and watching cost, on the release server over loopback:
//!
//! 1. The cost Redis adds per call: `ping` over REST with a machine token
//!    (so the revocation check applies) and `RATE_LIMIT_PER_MINUTE` on,
//!    against a server that keeps both in memory and one that keeps them
//!    in a real `redis-server`, interleaved; and the Redis round trips per
//!    call, counted by the server (`/health`'s `shared_state`).
//! 2. Throughput with metrics and tracing on or off: four keep-alive
//!    clients calling `ping` for a fixed time against a plain server, one
//!    with metrics on (`METRICS_TOKEN`), and one with metrics on and traces
//!    exported but sampled out (`OTEL_TRACES_SAMPLER_ARG=0`); the best of
//!    several alternating rounds of each. The servers log at `warn`.
//!
//! Run by `cargo xtask bench`, or `cargo bench -p e2e --bench shared`.
//! Needs `redis-server` (`cargo xtask install-tools`).

#![expect(clippy::print_stdout, reason = "a bench reports on stdout")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e::otlp::Collector;
use e2e::{DEMO_MACHINE, DEMO_TOKEN, Launch, Sandbox, Server};
use redis_state::test_server::TestRedis;

/// Timed calls of each kind, for the per-call cost.
const SAMPLES: usize = 3000;
const WARM_UP: usize = 300;
/// The most Redis round trips a call may add.
const ROUND_TRIPS_TARGET: f64 = 1.0;
/// How long one throughput round lasts, and how many of each run.
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;
/// Concurrent clients in a throughput round.
const CLIENTS: usize = 4;
/// The least share of plain throughput metrics and sampled-out tracing
/// may leave.
const THROUGHPUT_TARGET: f64 = 0.95;

/// Logs at warn, but for the line that says where the server listens,
/// which the harness reads.
const QUIET: &str = "warn,server::app=info,server::app::request_id=warn";

const METRICS_TOKEN: &str = "bench-metrics-token-0123456789abcdef0123";

fn ping(client: &reqwest::blocking::Client, url: &str, token: &str) -> Duration {
    let started = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .expect("POST /tools/ping");
    assert_eq!(response.status(), 200);
    drop(response.bytes());
    started.elapsed()
}

fn median(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

fn round_trips(server: &Server) -> u64 {
    let health: serde_json::Value = reqwest::blocking::Client::new()
        .get(server.url("/health"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .expect("GET /health")
        .json()
        .expect("JSON");
    health["shared_state"]["round_trips"].as_u64().unwrap_or(0)
}

/// Requests per second `CLIENTS` keep-alive clients get from `server`.
fn throughput(server: &Server) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let url = server.url("/tools/ping");
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (stop, done, url) = (Arc::clone(&stop), Arc::clone(&done), url.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                while !stop.load(Ordering::Relaxed) {
                    ping(&client, &url, DEMO_TOKEN);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(ROUND);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("a client");
    }
    done.load(Ordering::Relaxed) as f64 / ROUND.as_secs_f64()
}

fn main() {
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };

    // 1. What Redis adds to a call.
    let redis = TestRedis::start();
    // Logs at warn, as a busy production server would keep them: the
    // servers' debug logs would cost more than anything measured here.
    let limited = || {
        Launch::default()
            .env("RUST_LOG", QUIET)
            .env("RATE_LIMIT_PER_MINUTE", "1000000000")
    };
    let memory = Server::start_with(&Sandbox::new(), limited());
    let shared = Server::start_with(&Sandbox::new(), limited().env("REDIS_URL", &redis.url()));
    let (memory_token, shared_token) = (
        memory.machine_token(DEMO_MACHINE),
        shared.machine_token(DEMO_MACHINE),
    );
    let client = reqwest::blocking::Client::new();
    let (memory_url, shared_url) = (memory.url("/tools/ping"), shared.url("/tools/ping"));
    for _ in 0..WARM_UP {
        ping(&client, &memory_url, &memory_token);
        ping(&client, &shared_url, &shared_token);
    }
    let before = round_trips(&shared);
    let mut in_memory = Vec::with_capacity(SAMPLES);
    let mut in_redis = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        in_memory.push(ping(&client, &memory_url, &memory_token));
        in_redis.push(ping(&client, &shared_url, &shared_token));
    }
    let per_call = (round_trips(&shared) - before) as f64 / SAMPLES as f64;
    let (memory_median, redis_median) = (median(&mut in_memory), median(&mut in_redis));
    println!();
    println!(
        "rate limit + revocation check per call, ping over REST with a machine token ({SAMPLES} of each, interleaved)"
    );
    println!("  in memory                {memory_median:>10.1} µs median");
    println!("  in Redis (loopback)      {redis_median:>10.1} µs median");
    println!(
        "  Redis adds               {:>10.1} µs per call",
        redis_median - memory_median
    );
    println!(
        "  Redis round trips        {per_call:>10.2} per call   target <= {ROUND_TRIPS_TARGET}: {}",
        verdict(per_call <= ROUND_TRIPS_TARGET + 0.005)
    );
    drop((memory, shared));

    // 2. Throughput with metrics and tracing.
    let collector = Collector::start();
    let unlimited = || {
        Launch::default()
            .env("RUST_LOG", QUIET)
            .env("RATE_LIMIT_PER_MINUTE", "0")
    };
    let plain = Server::start_with(&Sandbox::new(), unlimited());
    let metered = Server::start_with(
        &Sandbox::new(),
        unlimited().env("METRICS_TOKEN", METRICS_TOKEN),
    );
    let traced = Server::start_with(
        &Sandbox::new(),
        unlimited()
            .env("METRICS_TOKEN", METRICS_TOKEN)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
            .env("OTEL_TRACES_SAMPLER_ARG", "0"),
    );
    let servers = [
        ("plain", &plain),
        ("metrics on", &metered),
        ("metrics on, traces sampled out", &traced),
    ];
    let mut best = [0.0_f64; 3];
    for _ in 0..ROUNDS {
        for (index, (_, server)) in servers.iter().enumerate() {
            best[index] = best[index].max(throughput(server));
        }
    }
    println!();
    println!(
        "throughput, ping over REST, {CLIENTS} keep-alive clients, best of {ROUNDS} rounds of {} s",
        ROUND.as_secs()
    );
    for (index, (name, _)) in servers.iter().enumerate() {
        let share = best[index] / best[0];
        if index == 0 {
            println!("  {name:<32} {:>10.0} req/s", best[index]);
        } else {
            println!(
                "  {name:<32} {:>10.0} req/s   {:>5.1}% of plain   target >= {:.0}%: {}",
                best[index],
                share * 100.0,
                THROUGHPUT_TARGET * 100.0,
                verdict(share >= THROUGHPUT_TARGET)
            );
        }
    }
    assert!(
        collector.spans().is_empty(),
        "traces sampled out export nothing"
    );
}
