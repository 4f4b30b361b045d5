//! Overload: one principal sends at ten times its rate limit while others
//! keep calling at half theirs, against the release server on loopback.
//! Prints what each side got and the server's memory; stops by itself.
//!
//! Run by `cargo xtask bench`, or `cargo bench -p e2e --bench overload`.

#![expect(clippy::print_stdout, reason = "a bench reports on stdout")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::{Launch, Sandbox, Server};
use serde_json::{Value, json};

/// `RATE_LIMIT_PER_MINUTE` for every principal.
const LIMIT_PER_MINUTE: u32 = 3000;
/// How long the load lasts.
const DURATION: Duration = Duration::from_secs(20);
/// Principals that keep to half their limit.
const WELL_BEHAVED: usize = 6;
/// Threads the abusive principal sends from.
const ABUSER_THREADS: usize = 8;
/// The plan the abusive principal sends: each call is nine tool calls.
const ABUSER_STEPS: usize = 8;

/// What one side of the load got back.
#[derive(Default)]
struct Tally {
    sent: u64,
    ok: u64,
    limited: u64,
    other: u64,
    latencies_us: Vec<u64>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.limited += other.limited;
        self.other += other.other;
        self.latencies_us.extend(other.latencies_us);
    }

    /// The latency below which `fraction` of the calls answered; the
    /// latencies must be sorted.
    fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * fraction).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }
}

fn main() {
    let sandbox = Sandbox::new();
    let mut config = String::new();
    for index in 0..=WELL_BEHAVED {
        config.push_str(&format!(
            "[[demo_auth.access_keys]]\nclient_id = \"load-{index}\"\n\
             client_secret = \"load-secret-{index}\"\nprincipal_id = \"K2load{index}\"\n\
             scopes = [\"tools:ping\", \"tools:orchestrate\"]\n\n"
        ));
    }
    let config = sandbox.write("load.toml", config);
    let server = Server::start_with(
        &sandbox,
        Launch::default()
            .config(&config)
            .env("RATE_LIMIT_PER_MINUTE", &LIMIT_PER_MINUTE.to_string())
            .env("RUST_LOG", "info"),
    );
    let client = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client");
    let tokens: Vec<String> = (0..=WELL_BEHAVED)
        .map(|index| token(&client, &server, index))
        .collect();
    let before = memory(server.pid());

    let stop = Arc::new(AtomicBool::new(false));
    // The peak in each half of the run: memory that is bounded stops
    // growing, so the second half's peak stays near the first's.
    let peak_rss = Arc::new(Mutex::new([before.rss_kib; 2]));
    let per_second = f64::from(LIMIT_PER_MINUTE) / 60.0;
    let abuser_interval = Duration::from_secs_f64(ABUSER_THREADS as f64 / (per_second * 10.0));
    let polite_interval = Duration::from_secs_f64(2.0 / per_second);
    let plan: Vec<Value> = (0..ABUSER_STEPS)
        .map(|index| json!({"id": format!("s{index}"), "tool": "ping"}))
        .collect();
    let abusive_body = json!({ "steps": plan }).to_string();

    let started = Instant::now();
    std::thread::scope(|scope| {
        let abusers: Vec<_> = (0..ABUSER_THREADS)
            .map(|_| {
                let (client, server, token, body) =
                    (&client, &server, &tokens[0], abusive_body.as_str());
                scope.spawn(move || {
                    paced(abuser_interval, started, || {
                        call(client, server, "orchestrate", token, body)
                    })
                })
            })
            .collect();
        let polite: Vec<_> = tokens[1..]
            .iter()
            .map(|token| {
                let (client, server) = (&client, &server);
                scope.spawn(move || {
                    paced(polite_interval, started, || {
                        call(client, server, "ping", token, "{}")
                    })
                })
            })
            .collect();
        let sampler = {
            let (stop, peak_rss) = (Arc::clone(&stop), Arc::clone(&peak_rss));
            let pid = server.pid();
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let now = memory(pid).rss_kib;
                    let half = usize::from(started.elapsed() >= DURATION / 2);
                    let mut peaks = peak_rss.lock().unwrap_or_else(|p| p.into_inner());
                    peaks[half] = peaks[half].max(now);
                    drop(peaks);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let mut abusive = Tally::default();
        for handle in abusers {
            abusive.add(handle.join().expect("an abuser thread"));
        }
        let mut behaved = Tally::default();
        for handle in polite {
            behaved.add(handle.join().expect("a well-behaved thread"));
        }
        stop.store(true, Ordering::SeqCst);
        sampler.join().expect("the sampler");
        let after = memory(server.pid());
        let peaks = *peak_rss.lock().unwrap_or_else(|p| p.into_inner());
        report(&mut abusive, &mut behaved, &before, peaks, &after);
    });
}

/// Calls `work` every `interval` until the load's time is up.
fn paced(interval: Duration, started: Instant, mut work: impl FnMut() -> (u16, Duration)) -> Tally {
    let mut tally = Tally::default();
    let mut next = Instant::now();
    while started.elapsed() < DURATION {
        let (status, took) = work();
        tally.sent += 1;
        match status {
            200 => tally.ok += 1,
            429 => tally.limited += 1,
            _ => tally.other += 1,
        }
        tally
            .latencies_us
            .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        next += interval;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    tally
}

/// `POST /tools/{tool}` with `token`: the status and how long it took.
fn call(
    client: &reqwest::blocking::Client,
    server: &Server,
    tool: &str,
    token: &str,
    body: &str,
) -> (u16, Duration) {
    let started = Instant::now();
    let status = client
        .post(server.url(&format!("/tools/{tool}")))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .map_or(0, |response| {
            let status = response.status().as_u16();
            // Read the body so the connection is reused.
            let _ = response.bytes();
            status
        });
    (status, started.elapsed())
}

/// A token for load principal `index`, from the demo server's client
/// credentials grant.
fn token(client: &reqwest::blocking::Client, server: &Server, index: usize) -> String {
    let response: Value = client
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &format!("load-{index}")),
            ("client_secret", &format!("load-secret-{index}")),
        ])
        .send()
        .and_then(reqwest::blocking::Response::json)
        .expect("a token response");
    response["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {response}"))
        .to_owned()
}

/// The server's resident memory now, in KiB.
struct Memory {
    rss_kib: u64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Memory { rss_kib }
}

fn report(
    abusive: &mut Tally,
    behaved: &mut Tally,
    before: &Memory,
    [first_half, second_half]: [u64; 2],
    after: &Memory,
) {
    abusive.latencies_us.sort_unstable();
    behaved.latencies_us.sort_unstable();
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };
    let success = if behaved.sent == 0 {
        0.0
    } else {
        behaved.ok as f64 * 100.0 / behaved.sent as f64
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let peak = first_half.max(second_half);
    let late_growth = mib(second_half.saturating_sub(first_half));
    println!();
    println!(
        "overload ({} s, loopback, RATE_LIMIT_PER_MINUTE={LIMIT_PER_MINUTE})",
        DURATION.as_secs()
    );
    println!(
        "  abusive principal at 10x its limit, orchestrate of {ABUSER_STEPS} pings from {ABUSER_THREADS} threads"
    );
    println!(
        "    sent {:>7}   ok {:>7}   429 {:>7}   other {:>5}   p50 {:>7.2} ms   p99 {:>7.2} ms",
        abusive.sent,
        abusive.ok,
        abusive.limited,
        abusive.other,
        abusive.percentile_ms(0.5),
        abusive.percentile_ms(0.99)
    );
    println!("  {WELL_BEHAVED} well-behaved principals at half their limit, ping");
    println!(
        "    sent {:>7}   ok {:>7}   429 {:>7}   other {:>5}   p50 {:>7.2} ms   p99 {:>7.2} ms",
        behaved.sent,
        behaved.ok,
        behaved.limited,
        behaved.other,
        behaved.percentile_ms(0.5),
        behaved.percentile_ms(0.99)
    );
    println!(
        "    success {success:.2}%   target >= 99%: {}",
        verdict(success >= 99.0)
    );
    println!(
        "  server memory (RSS): {:.1} MiB before, peak {:.1} MiB in the first half and {:.1} MiB \
         in the second, {:.1} MiB after",
        mib(before.rss_kib),
        mib(first_half),
        mib(second_half),
        mib(after.rss_kib),
    );
    println!(
        "    peak {:.1} MiB   growth in the second half {late_growth:.1} MiB   \
         bounded (second-half growth < 16 MiB): {}",
        mib(peak),
        verdict(late_growth < 16.0)
    );
}
