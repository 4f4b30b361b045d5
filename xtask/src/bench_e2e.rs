//! `cargo xtask bench e2e`: an authorized `tools/call` of `ping`, end to end
//! over loopback, against what the libraries alone can serve.
//!
//! One command builds and runs, one after another on this machine, with the
//! same load generator (wrk, one thread, kept-alive connections) and the
//! same request:
//! - the HTTP ceiling: axum answering a fixed body (`ceiling-axum`);
//! - the protocol ceiling: rmcp's stateless JSON service answering `ping`
//!   with no authentication (`ceiling-rmcp`);
//! - orchestrator-mcp in release mode, on its defaults but for
//!   `RATE_LIMIT_PER_MINUTE=0` and with metrics recorded, called over MCP
//!   and over REST with a warm RS256 token from `/auth/token`;
//! - FastMCP with its JWTVerifier, stateless with JSON answers, accepting the
//!   same token (its own pinned Python environment under target/).
//!
//! Then a fresh orchestrator-mcp under 64 connections for the soak time,
//! its resident memory read every few seconds. It prints the table, the
//! ratios and a verdict per target. A benchmark, not a test: CI does not
//! run it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::{root, status, target_dir};

/// How long each measured run lasts, and the soak.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Seconds of each measured run (after [`WARM_UP`]).
    pub(crate) seconds: u64,
    /// Seconds of the memory soak at 64 connections; 0 skips it.
    pub(crate) soak_seconds: u64,
}

/// The connection counts every server is measured at.
const CONNECTIONS: [u32; 2] = [16, 64];
/// Load before each measured run, not counted: connections opened, caches
/// and allocators warm.
const WARM_UP: Duration = Duration::from_secs(2);
/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the soak reads the server's memory.
const SOAK_SAMPLE: Duration = Duration::from_secs(10);
/// The soak's memory reading that the 40 MB target is checked against.
const RSS_AFTER: Duration = Duration::from_secs(30);
/// The FastMCP release measured, as pinned in bench/fastmcp/requirements.txt.
const FASTMCP: &str = "FastMCP 4.1.6";

/// The protocol revision the MCP requests speak.
const REVISION: &str = "2026-07-28";
/// The demo access key the token is minted for (config/default.toml).
const ACCESS_KEY: (&str, &str) = ("demo-machine", "demo_access_key_12345");

/// The targets, as ratios and limits.
const OF_RMCP: f64 = 0.80;
const OF_FASTMCP: f64 = 50.0;
const P99_OF_CEILING: f64 = 1.5;
const RSS_LIMIT_MB: f64 = 40.0;
/// Growth over the soak still read as none: the readings swing by a few
/// megabytes as the allocator takes and returns memory; a leak moves the
/// middle of them.
const RSS_GROWTH_TOLERANCE_MB: f64 = 2.0;

pub(crate) fn run(options: Options) -> anyhow::Result<()> {
    crate::build_release()?;
    let wrk = wrk()?;
    let python = crate::python_venv("fastmcp", &root().join("bench/fastmcp/requirements.txt"))
        .context("installing FastMCP for the peer server")?;
    let work = target_dir().join("bench-e2e");
    // A fresh data directory each time: a new demo key, no stale state.
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let load = Load {
        wrk,
        script: root().join("bench/wrk/post.lua"),
        seconds: options.seconds,
    };

    let mut rows = Vec::new();
    {
        let axum = Running::start(ceiling("ceiling-axum"), "ceiling-axum", &work)?;
        let request = mcp_request(None);
        request.probe(axum.address)?;
        rows.push(load.measure("axum, fixed body (HTTP ceiling)", &axum, &request)?);
    }
    {
        let rmcp = Running::start(ceiling("ceiling-rmcp"), "ceiling-rmcp", &work)?;
        let request = mcp_request(None);
        request.probe(rmcp.address)?;
        rows.push(load.measure(
            "rmcp stateless ping, no auth (protocol ceiling)",
            &rmcp,
            &request,
        )?);
    }
    let (token, jwks) = {
        let server = Running::start(orchestrator(&work)?, "orchestrator-mcp", &work)?;
        let token = machine_token(server.address)?;
        let jwks = http(server.address, "GET", "/oauth/jwks", &[], "")?.expect_ok("/oauth/jwks")?;
        let mcp = mcp_request(Some(&token));
        mcp.probe(server.address)?;
        rows.push(load.measure("orchestrator-mcp, MCP tools/call", &server, &mcp)?);
        let rest = rest_request(&token);
        rest.probe(server.address)?;
        rows.push(load.measure("orchestrator-mcp, REST POST /tools/ping", &server, &rest)?);
        (token, jwks)
    };
    {
        let jwks_file = work.join("jwks.json");
        std::fs::write(&jwks_file, &jwks)?;
        let claims = claims(&token)?;
        let mut command = Command::new(&python);
        command
            .arg(root().join("bench/fastmcp/server.py"))
            .env("JWKS_FILE", &jwks_file)
            .env("ISSUER", claims["iss"].as_str().unwrap_or_default())
            .env("AUDIENCE", audience(&claims))
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let fastmcp = Running::start(command, "fastmcp", &work)?;
        let request = mcp_request(Some(&token));
        request.probe(fastmcp.address)?;
        rows.push(load.measure(&format!("{FASTMCP} + JWTVerifier"), &fastmcp, &request)?);
    }
    let soak = if options.soak_seconds > 0 {
        Some(soak(&load, &work, options.soak_seconds)?)
    } else {
        None
    };
    print_report(&load, &rows, soak.as_ref());
    Ok(())
}

/// A ceiling server's binary, built by [`crate::build_release`].
fn ceiling(name: &str) -> Command {
    Command::new(target_dir().join("release").join(name))
}

/// orchestrator-mcp on its embedded defaults but for the settings the
/// targets name: no per-caller rate limit, metrics recorded.
fn orchestrator(work: &Path) -> anyhow::Result<Command> {
    let data = work.join("orchestrator-mcp");
    std::fs::create_dir_all(&data)?;
    let mut command = Command::new(crate::release_server_binary());
    // Its defaults, whatever the shell running the bench has set.
    command.env_clear();
    for kept in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(kept) {
            command.env(kept, value);
        }
    }
    command
        .current_dir(&data)
        .env("POLICY_DIR", root().join("policies"))
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .env("METRICS_ADDR", format!("127.0.0.1:{}", free_port()?));
    Ok(command)
}

/// wrk, installed by the project's script when it is missing.
fn wrk() -> anyhow::Result<PathBuf> {
    let installed = PathBuf::from("/usr/bin/wrk");
    if !installed.is_file() {
        let mut install = Command::new("bash");
        install.arg(root().join("tools/wrk/install.sh"));
        status(install).context("installing wrk, the load generator")?;
    }
    Ok(installed)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A server started for the bench, killed when dropped.
struct Running {
    child: Child,
    address: SocketAddr,
}

impl Running {
    /// Starts `command` on a free loopback port (`HOST` and `PORT`), its
    /// output in `work/<name>.log`, and waits until it accepts connections.
    fn start(mut command: Command, name: &str, work: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log_path = work.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(address).is_ok() {
                return Ok(Self { child, address });
            }
            if let Some(exit) = child.try_wait()? {
                bail!(
                    "{name} exited ({exit}) before listening; its output is in {}",
                    log_path.display()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "{name} did not listen on {address} within {START_TIMEOUT:?}; its output is in {}",
                    log_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident memory, in MB (10^6 bytes), from /proc.
    fn rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kilobytes: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|figure| figure.parse().ok())
            .context("no VmRSS in /proc/PID/status")?;
        Ok(kilobytes * 1024.0 / 1e6)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request, sent over and over.
struct Request {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

/// A 2026-07-28 `tools/call` of `ping`, with a bearer token when given.
fn mcp_request(token: Option<&str>) -> Request {
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("Accept", "application/json, text/event-stream".to_owned()),
        ("MCP-Protocol-Version", REVISION.to_owned()),
        ("Mcp-Method", "tools/call".to_owned()),
        ("Mcp-Name", "ping".to_owned()),
    ];
    if let Some(token) = token {
        headers.push(("Authorization", format!("Bearer {token}")));
    }
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "ping",
            "arguments": {"message": "bench"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": REVISION,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    Request {
        path: "/mcp",
        headers,
        body: body.to_string(),
    }
}

/// `POST /tools/ping` with the same arguments.
fn rest_request(token: &str) -> Request {
    Request {
        path: "/tools/ping",
        headers: vec![
            ("Content-Type", "application/json".to_owned()),
            ("Authorization", format!("Bearer {token}")),
        ],
        body: r#"{"message":"bench"}"#.to_owned(),
    }
}

impl Request {
    /// Sends the request once and checks the answer is a `ping` that ran:
    /// a load of refusals would measure nothing.
    fn probe(&self, address: SocketAddr) -> anyhow::Result<()> {
        let answer = http(address, "POST", self.path, &self.headers, &self.body)?;
        let text = answer.expect_ok(self.path)?;
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} answered a body that is not JSON: {text}", self.path))?;
        if !holds_pong(&body) {
            bail!("{} answered without a pong: {text}", self.path);
        }
        Ok(())
    }
}

/// Whether `"pong": true` is anywhere in the answer.
fn holds_pong(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, value)| {
            (key == "pong" && value == &Value::Bool(true)) || holds_pong(value)
        }),
        Value::Array(items) => items.iter().any(holds_pong),
        _ => false,
    }
}

/// The load generator and how long it runs.
struct Load {
    wrk: PathBuf,
    script: PathBuf,
    seconds: u64,
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    per_second: f64,
    p99_ms: f64,
}

/// One server's figures at each of [`CONNECTIONS`].
struct Row {
    label: String,
    figures: Vec<Figures>,
}

impl Load {
    /// A warm-up run, then a measured run, at each connection count.
    fn measure(&self, label: &str, server: &Running, request: &Request) -> anyhow::Result<Row> {
        let mut figures = Vec::new();
        for connections in CONNECTIONS {
            self.wrk(server.address, request, connections, WARM_UP)?;
            let run = self.wrk(
                server.address,
                request,
                connections,
                Duration::from_secs(self.seconds),
            )?;
            println!(
                "bench e2e: {label}, {connections} connections: {:.0} req/s, p99 {:.2} ms",
                run.per_second, run.p99_ms
            );
            figures.push(run);
        }
        Ok(Row {
            label: label.to_owned(),
            figures,
        })
    }

    fn command(
        &self,
        address: SocketAddr,
        request: &Request,
        connections: u32,
        duration: Duration,
    ) -> Command {
        let mut command = Command::new(&self.wrk);
        command
            .args(["-t1", "--timeout", "5s"])
            .arg(format!("-c{connections}"))
            .arg(format!("-d{}s", duration.as_secs()))
            .arg("-s")
            .arg(&self.script)
            .arg(format!("http://{address}"))
            .env("BENCH_PATH", request.path)
            .env("BENCH_BODY", &request.body)
            .env(
                "BENCH_HEADERS",
                request
                    .headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\n"))
                    .collect::<String>(),
            )
            .stdin(Stdio::null());
        command
    }

    fn wrk(
        &self,
        address: SocketAddr,
        request: &Request,
        connections: u32,
        duration: Duration,
    ) -> anyhow::Result<Figures> {
        let output = self
            .command(address, request, connections, duration)
            .output()
            .context("running wrk")?;
        read_figures(&output)
    }
}

/// The figures from wrk's output: the JSON line bench/wrk/post.lua prints.
/// A run with refused requests or broken connections is an error, not a
/// figure.
fn read_figures(output: &std::process::Output) -> anyhow::Result<Figures> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .with_context(|| {
            format!(
                "wrk printed no figures ({}):\n{stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let run: Value = serde_json::from_str(line)?;
    let number = |key: &str| run[key].as_f64().unwrap_or(f64::NAN);
    let requests = number("requests");
    if number("non_2xx") > 0.0 || number("socket_errors") > 0.0 {
        bail!(
            "wrk saw {} answers other than 2xx and {} socket errors in {} requests: the load was refused, not served\n{stdout}",
            number("non_2xx"),
            number("socket_errors"),
            requests
        );
    }
    Ok(Figures {
        per_second: requests / (number("duration_us") / 1e6),
        p99_ms: number("p99_us") / 1000.0,
    })
}

/// What the soak saw: resident memory every [`SOAK_SAMPLE`].
struct Soak {
    seconds: u64,
    samples: Vec<(Duration, f64)>,
    per_second: f64,
}

impl Soak {
    /// The reading at [`RSS_AFTER`] (or the first one after it).
    fn after_warm(&self) -> f64 {
        self.samples
            .iter()
            .find(|(at, _)| *at >= RSS_AFTER)
            .or(self.samples.last())
            .map_or(f64::NAN, |(_, mb)| *mb)
    }

    /// How much the median reading of the soak's second half exceeds the
    /// first half's, leaving out the first [`RSS_AFTER`] (warming up):
    /// what grew while the load stayed the same.
    fn growth(&self) -> f64 {
        let warm: Vec<&(Duration, f64)> = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= RSS_AFTER)
            .collect();
        let (first, second) = warm.split_at(warm.len() / 2);
        let median_of =
            |half: &[&(Duration, f64)]| crate::median(half.iter().map(|(_, mb)| *mb).collect());
        median_of(second) - median_of(first)
    }
}

/// A fresh orchestrator-mcp under 64 connections for `seconds`.
fn soak(load: &Load, work: &Path, seconds: u64) -> anyhow::Result<Soak> {
    let server = Running::start(orchestrator(work)?, "orchestrator-mcp-soak", work)?;
    let token = machine_token(server.address)?;
    let request = mcp_request(Some(&token));
    request.probe(server.address)?;
    println!(
        "bench e2e: soak, 64 connections for {seconds} s, reading resident memory every {} s",
        SOAK_SAMPLE.as_secs()
    );
    let started = Instant::now();
    let wrk = load
        .command(server.address, &request, 64, Duration::from_secs(seconds))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running wrk")?;
    let mut samples = Vec::new();
    let mut next = SOAK_SAMPLE;
    while next <= Duration::from_secs(seconds) {
        std::thread::sleep(next.saturating_sub(started.elapsed()));
        let mb = server.rss_mb()?;
        println!("bench e2e: soak at {:>3} s: {mb:.1} MB", next.as_secs());
        samples.push((next, mb));
        next += SOAK_SAMPLE;
    }
    let output = wrk.wait_with_output()?;
    let figures = read_figures(&output)?;
    Ok(Soak {
        seconds,
        samples,
        per_second: figures.per_second,
    })
}

fn print_report(load: &Load, rows: &[Row], soak: Option<&Soak>) {
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };
    println!();
    println!(
        "end to end: tools/call of ping (wrk, 1 thread, kept-alive connections, {} s a run after {} s of warm-up)",
        load.seconds,
        WARM_UP.as_secs()
    );
    print!("  {:<50}", "server");
    for connections in CONNECTIONS {
        print!(
            "  {:>14} {:>7} {:>7}",
            format!("{connections} conn req/s"),
            "p99 ms",
            "of rmcp"
        );
    }
    println!();
    let find = |prefix: &str| rows.iter().find(|row| row.label.starts_with(prefix));
    let rmcp = find("rmcp");
    for row in rows {
        print!("  {:<50}", row.label);
        for (index, figures) in row.figures.iter().enumerate() {
            let share = rmcp.map_or(String::new(), |rmcp| {
                format!(
                    "{:.0}%",
                    100.0 * figures.per_second / rmcp.figures[index].per_second
                )
            });
            print!(
                "  {:>14.0} {:>7.2} {share:>7}",
                figures.per_second, figures.p99_ms
            );
        }
        println!();
    }
    println!();
    println!("targets");
    let (Some(rmcp), Some(mcp), Some(rest), Some(fastmcp)) = (
        rmcp,
        find("orchestrator-mcp, MCP"),
        find("orchestrator-mcp, REST"),
        find("FastMCP"),
    ) else {
        return;
    };
    for (index, connections) in CONNECTIONS.iter().enumerate() {
        let ours = mcp.figures[index].per_second;
        let of_rmcp = ours / rmcp.figures[index].per_second;
        println!(
            "  MCP at {connections} connections: {:.0}% of rmcp (target >= {:.0}%): {}",
            100.0 * of_rmcp,
            100.0 * OF_RMCP,
            verdict(of_rmcp >= OF_RMCP)
        );
        let of_fastmcp = ours / fastmcp.figures[index].per_second;
        println!(
            "  MCP at {connections} connections: {of_fastmcp:.1}x {FASTMCP} (target >= {OF_FASTMCP:.0}x): {}",
            verdict(of_fastmcp >= OF_FASTMCP)
        );
        let rest_ratio = rest.figures[index].per_second / ours;
        println!(
            "  REST at {connections} connections: {:.0}% of MCP (target >= 100%): {}",
            100.0 * rest_ratio,
            verdict(rest_ratio >= 1.0)
        );
    }
    let last = CONNECTIONS.len() - 1;
    let p99 = mcp.figures[last].p99_ms / rmcp.figures[last].p99_ms;
    println!(
        "  MCP p99 at {} connections: {:.2} ms, {p99:.2}x rmcp's {:.2} ms (target <= {P99_OF_CEILING}x): {}",
        CONNECTIONS[last],
        mcp.figures[last].p99_ms,
        rmcp.figures[last].p99_ms,
        verdict(p99 <= P99_OF_CEILING)
    );
    match soak {
        None => println!("  memory: not measured (--soak-seconds 0)"),
        Some(soak) => {
            let after = soak.after_warm();
            println!(
                "  resident memory after {} s at 64 connections: {after:.1} MB (target <= {RSS_LIMIT_MB} MB): {}",
                RSS_AFTER.as_secs(),
                verdict(after <= RSS_LIMIT_MB)
            );
            let growth = soak.growth();
            let readings: Vec<String> = soak
                .samples
                .iter()
                .map(|(_, mb)| format!("{mb:.1}"))
                .collect();
            println!(
                "  growth over {} s at 64 connections ({:.0} req/s): {growth:+.1} MB, the median reading of the second half against the first's after {} s (target: none, within {RSS_GROWTH_TOLERANCE_MB} MB): {}",
                soak.seconds,
                soak.per_second,
                RSS_AFTER.as_secs(),
                verdict(growth <= RSS_GROWTH_TOLERANCE_MB)
            );
            println!("    readings, MB: {}", readings.join(" "));
        }
    }
}

/// A token for the demo access key, from `POST /auth/token`.
fn machine_token(address: SocketAddr) -> anyhow::Result<String> {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        ACCESS_KEY.0, ACCESS_KEY.1
    );
    let answer = http(
        address,
        "POST",
        "/auth/token",
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        )],
        &form,
    )?
    .expect_ok("/auth/token")?;
    let body: Value = serde_json::from_str(&answer)?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("/auth/token answered no access_token: {answer}"))
}

/// A token's claims, read without checking it (the server that minted it
/// checks it; the peer is told its issuer and audience).
fn claims(token: &str) -> anyhow::Result<Value> {
    let payload = token.split('.').nth(1).context("the token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .context("the token's payload is not base64url")?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The token's audience: its `aud`, or the first of several.
fn audience(claims: &Value) -> String {
    match &claims["aud"] {
        Value::String(one) => one.clone(),
        Value::Array(many) => many
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// An HTTP answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn expect_ok(self, what: &str) -> anyhow::Result<String> {
        if self.status != 200 {
            bail!("{what} answered {}: {}", self.status, self.body);
        }
        Ok(self.body)
    }
}

/// One HTTP/1.1 request on its own connection, read to the end.
fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("{path}: not an HTTP answer: {text}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("{path}: no status in {head}"))?;
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Answer { status, body })
}

/// A chunked body's content.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_told_the_tokens_issuer_and_audience() {
        // {"iss":"http://127.0.0.1:1","aud":["http://127.0.0.1:1/mcp","x"]}
        let token = "e30.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjEiLCJhdWQiOlsiaHR0cDovLzEyNy4wLjAuMToxL21jcCIsIngiXX0.sig";
        let read = claims(token).expect("claims");
        assert_eq!(read["iss"], "http://127.0.0.1:1");
        assert_eq!(audience(&read), "http://127.0.0.1:1/mcp");
        assert!(claims("no-dots").is_err());
        assert!(claims("a.not*base64.c").is_err());
    }

    #[test]
    fn growth_is_the_move_of_the_middle_reading_after_warming_up() {
        let soak = |readings: &[f64]| Soak {
            seconds: 10 * readings.len() as u64,
            samples: readings
                .iter()
                .enumerate()
                .map(|(index, mb)| (SOAK_SAMPLE * (index as u32 + 1), *mb))
                .collect(),
            per_second: 0.0,
        };
        // Warm-up and swings are not growth.
        let steady = soak(&[50.0, 60.0, 66.0, 70.0, 64.0, 70.0, 64.0, 66.0]);
        assert!(steady.growth().abs() < 1.0, "{}", steady.growth());
        let leaking = soak(&[50.0, 60.0, 60.0, 62.0, 64.0, 66.0, 68.0, 70.0]);
        assert!(leaking.growth() > 4.0, "{}", leaking.growth());
        assert!((steady.after_warm() - 66.0).abs() < 1e-9);
    }

    #[test]
    fn a_chunked_body_is_put_back_together() {
        assert_eq!(dechunk("4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"), "{\"a\":1}");
    }

    #[test]
    fn the_pong_is_found_wherever_the_answer_holds_it() {
        assert!(holds_pong(
            &serde_json::json!({"result": {"structuredContent": {"pong": true}}})
        ));
        assert!(!holds_pong(
            &serde_json::json!({"error": {"message": "pong"}})
        ));
    }

    #[test]
    fn refused_load_is_an_error_not_a_figure() {
        let output = |line: &str| std::process::Output {
            status: std::process::ExitStatus::default(),
            stdout: line.as_bytes().to_vec(),
            stderr: Vec::new(),
        };
        let refused = output(
            r#"{"requests":100,"duration_us":1000000,"non_2xx":3,"socket_errors":0,"p50_us":1,"p99_us":2,"mean_us":1.0}"#,
        );
        assert!(read_figures(&refused).is_err());
        let served = output(
            r#"{"requests":100,"duration_us":2000000,"non_2xx":0,"socket_errors":0,"p50_us":1,"p99_us":2500,"mean_us":1.0}"#,
        );
        let figures = read_figures(&served).expect("figures");
        assert!((figures.per_second - 50.0).abs() < 1e-9);
        assert!((figures.p99_ms - 2.5).abs() < 1e-9);
    }
}
