//! Several replicas sharing one real Redis (`REDIS_URL`): limits counted
//! once across them, tokens minted on one accepted by all, revocations and
//! policy reloads reaching every replica, and what happens while Redis is
//! away.
//!
//! Each replica has a sandbox (and so a `DATA_DIR`) of its own: whatever
//! they share, they share through Redis.

use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::{DEMO_MACHINE, DEMO_TOKEN, Launch, Sandbox, Server};
use redis_state::test_server::TestRedis;
use serde_json::{Value, json};

use crate::util::{client, get, post_tool, post_tool_as_demo};

/// The address clients reach every replica at (a load balancer's): token
/// issuers and audiences name it, so a token is good on every replica.
const PUBLIC_URL: &str = "http://localhost:9";

/// A replica on `redis`, with `env` on top.
fn replica(redis: &TestRedis, env: &[(&str, &str)]) -> (Sandbox, Server) {
    let sandbox = Sandbox::new();
    let server = replica_in(&sandbox, redis, env);
    (sandbox, server)
}

fn replica_in(sandbox: &Sandbox, redis: &TestRedis, env: &[(&str, &str)]) -> Server {
    replica_from(sandbox, redis, Launch::default(), env)
}

/// A replica started from `launch`, on `redis`, with `env` on top.
fn replica_from(
    sandbox: &Sandbox,
    redis: &TestRedis,
    launch: Launch,
    env: &[(&str, &str)],
) -> Server {
    let launch = launch
        .env("REDIS_URL", &redis.url())
        .env("PUBLIC_URL", PUBLIC_URL);
    let launch = env
        .iter()
        .fold(launch, |launch, (key, value)| launch.env(key, value));
    Server::start_with(sandbox, launch)
}

/// A claim of a JWT, read without verifying it.
fn claim(token: &str, name: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims[name].clone()
}

fn ping(server: &Server, token: &str) -> u16 {
    post_tool(server, "ping", Some(token), "{}").status
}

/// `/health` as an operator sees it (the demo token holds `admin:` scopes).
fn health(server: &Server) -> Value {
    let response = client()
        .get(server.url("/health"))
        .bearer_auth(DEMO_TOKEN)
        .send()
        .expect("GET /health");
    response.json().expect("health JSON")
}

fn policy_hash(server: &Server) -> String {
    health(server)["policy"]["hash"]
        .as_str()
        .expect("the policy hash")
        .to_owned()
}

/// Waits up to `within` for `done`, checking every 20 ms.
fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_rate_limit_is_counted_once_across_replicas() {
    let redis = TestRedis::start();
    let limit = [("RATE_LIMIT_PER_MINUTE", "6")];
    let (_a, first) = replica(&redis, &limit);
    let (_b, second) = replica(&redis, &limit);
    let mut allowed = 0;
    let mut refused = Vec::new();
    for round in 0..12 {
        let server = if round % 2 == 0 { &first } else { &second };
        let reply = post_tool_as_demo(server, "ping", "{}");
        match reply.status {
            200 => allowed += 1,
            429 => refused.push(reply),
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
    }
    assert_eq!(allowed, 6, "six in all, not six per replica");
    let last = refused.last().expect("refusals");
    assert_eq!(last.body["error"], "rate_limited");
    assert!(last.header("retry-after").is_some());
    // The public routes' limit is shared too.
    let public = [("RATE_LIMIT_PUBLIC_PER_MINUTE", "2")];
    let (_c, third) = replica(&redis, &public);
    let (_d, fourth) = replica(&redis, &public);
    let statuses: Vec<u16> = [&third, &fourth, &third, &fourth]
        .iter()
        .map(|server| get(server, "/.well-known/oauth-protected-resource/mcp").status)
        .collect();
    assert_eq!(statuses, [200, 200, 429, 429]);
    // And a tool's own limit.
    let per_tool = [("RATE_LIMIT_PER_TOOL", "{ ping = 3 }")];
    let (_e, fifth) = replica(&redis, &per_tool);
    let (_f, sixth) = replica(&redis, &per_tool);
    let statuses: Vec<u16> = [&fifth, &sixth, &fifth, &sixth]
        .iter()
        .map(|server| post_tool_as_demo(server, "ping", "{}").status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_token_minted_on_one_replica_is_accepted_by_the_other() {
    let redis = TestRedis::start();
    let (_a, first) = replica(&redis, &[]);
    let (_b, second) = replica(&redis, &[]);
    let token = first.machine_token(DEMO_MACHINE);
    assert_eq!(ping(&second, &token), 200);
    let other_way = second.machine_token(DEMO_MACHINE);
    assert_eq!(ping(&first, &other_way), 200);
    // Without Redis, each replica's demo server signs with a key of its
    // own, and the other refuses the token.
    let alone = Server::start_with(
        &Sandbox::new(),
        Launch::default().env("PUBLIC_URL", PUBLIC_URL),
    );
    assert_eq!(ping(&alone, &token), 401);
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_revocation_on_one_replica_is_enforced_by_every_replica() {
    let redis = TestRedis::start();
    let (_a, first) = replica(&redis, &[]);
    let (_b, second) = replica(&redis, &[]);
    let revoked = first.machine_token(DEMO_MACHINE);
    let kept = first.machine_token(DEMO_MACHINE);
    assert_eq!(ping(&second, &revoked), 200);
    let jti = claim(&revoked, "jti");
    let result = first.call_tool(DEMO_TOKEN, "revoke_tokens", json!({ "jti": jti }));
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert_eq!(result["result"]["structuredContent"]["replicas"], "all");
    for server in [&first, &second] {
        let reply = post_tool(server, "ping", Some(&revoked), "{}");
        assert_eq!(reply.status, 401, "{:?}", reply.body);
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|message| message.contains("revoked")),
            "{:?}",
            reply.body
        );
        let challenge = reply.header("www-authenticate").expect("a challenge");
        assert!(challenge.contains("invalid_token"), "{challenge}");
        assert_eq!(ping(server, &kept), 200, "another token of the subject");
    }
    // By subject: every token the machine holds so far.
    let subject = claim(&kept, "sub");
    let result = second.call_tool(DEMO_TOKEN, "revoke_tokens", json!({ "subject": subject }));
    assert_eq!(result["result"]["isError"], false, "{result}");
    assert_eq!(ping(&first, &kept), 401);
    // A bad request is a tool error naming what to give.
    let result = first.call_tool(DEMO_TOKEN, "revoke_tokens", json!({}));
    assert_eq!(result["result"]["isError"], true);
    let text = result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("exactly one of `jti`, `subject`"), "{text}");
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_policy_reload_on_one_replica_reaches_the_other_within_a_second() {
    let redis = TestRedis::start();
    // The replicas read one policy directory (a shared volume, a
    // ConfigMap); neither watches it.
    let shared = Sandbox::new();
    let dir = shared.policy_dir();
    let env = [
        ("POLICY_DIR", dir.to_str().expect("UTF-8 path")),
        ("POLICY_WATCH", "false"),
    ];
    let (_a, first) = replica(&redis, &env);
    let (_b, second) = replica(&redis, &env);
    let before = policy_hash(&second);
    assert_eq!(post_tool_as_demo(&second, "ping", "{}").status, 200);
    shared.write(
        "policies/zz_forbid_ping.cedar",
        "@id(\"forbid.ping\")\nforbid (principal, action, resource == Tool::\"ping\");\n",
    );
    let reload = first.call_tool(DEMO_TOKEN, "reload_policies", json!({}));
    assert_eq!(
        reload["result"]["structuredContent"]["outcome"], "loaded",
        "{reload}"
    );
    let after = reload["result"]["structuredContent"]["active_hash"]
        .as_str()
        .expect("the new hash")
        .to_owned();
    assert_ne!(before, after);
    assert!(
        wait_until(Duration::from_secs(1), || policy_hash(&second) == after),
        "the other replica still runs {}",
        policy_hash(&second)
    );
    assert_eq!(post_tool_as_demo(&second, "ping", "{}").status, 403);
    // Each replica's heartbeat names the set it runs.
    let replicas = health(&first)["replicas"].clone();
    let hashes: Vec<&str> = replicas
        .as_array()
        .expect("the replicas")
        .iter()
        .filter_map(|replica| replica["policy_hash"].as_str())
        .collect();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let listed = health(&first)["replicas"].clone();
            listed.as_array().is_some_and(|all| {
                all.len() == 2 && all.iter().all(|replica| replica["policy_hash"] == after)
            })
        }),
        "{hashes:?}"
    );
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn with_policies_from_redis_a_replica_runs_the_set_another_stored() {
    let redis = TestRedis::start();
    let env = [("POLICY_SOURCE", "redis"), ("POLICY_WATCH", "false")];
    let (first_sandbox, first) = replica(&redis, &env);
    // The second replica's own directory forbids ping; the stored set,
    // the first replica's, does not, and is the one it runs.
    let second_sandbox = Sandbox::new();
    second_sandbox.write(
        "policies/zz_forbid_ping.cedar",
        "@id(\"forbid.ping\")\nforbid (principal, action, resource == Tool::\"ping\");\n",
    );
    let second = replica_in(&second_sandbox, &redis, &env);
    assert_eq!(policy_hash(&second), policy_hash(&first));
    assert_eq!(post_tool_as_demo(&second, "ping", "{}").status, 200);
    // A reload on the first stores its new set; the second loads it.
    first_sandbox.write(
        "policies/zz_forbid_review.cedar",
        "@id(\"forbid.review\")\nforbid (principal, action, resource == Tool::\"review_code\");\n",
    );
    let reload = first.call_tool(DEMO_TOKEN, "reload_policies", json!({}));
    let after = reload["result"]["structuredContent"]["active_hash"]
        .as_str()
        .expect("the new hash")
        .to_owned();
    assert!(wait_until(Duration::from_secs(1), || policy_hash(&second) == after));
    let review = post_tool_as_demo(
        &second,
        "review_code",
        r#"{"code":"x = 1","language":"python"}"#,
    );
    assert_eq!(review.status, 403, "{:?}", review.body);
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn with_redis_away_closed_refuses_with_503_and_service_returns_with_it() {
    let mut redis = TestRedis::start();
    let (_a, server) = replica(&redis, &[]);
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    redis.stop();
    let refused = post_tool_as_demo(&server, "ping", "{}");
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "shared_state_unavailable");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let summary = get(&server, "/health").body;
    assert_eq!(summary["status"], "degraded");
    let reasons = summary["reasons"].to_string();
    assert!(reasons.contains("REDIS_FAILURE=closed"), "{reasons}");
    assert!(
        !reasons.contains("127.0.0.1"),
        "no address for anyone: {reasons}"
    );
    redis.restart();
    assert!(
        wait_until(Duration::from_secs(10), || post_tool_as_demo(
            &server, "ping", "{}"
        )
        .status
            == 200),
        "served again once Redis is back"
    );
    assert_eq!(get(&server, "/health").body["status"], "ok");
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn with_redis_away_open_serves_with_the_replicas_own_limits() {
    let mut redis = TestRedis::start();
    let (_a, server) = replica(
        &redis,
        &[("REDIS_FAILURE", "open"), ("RATE_LIMIT_PER_MINUTE", "3")],
    );
    assert_eq!(post_tool_as_demo(&server, "ping", "{}").status, 200);
    redis.stop();
    let statuses: Vec<u16> = (0..4)
        .map(|_| post_tool_as_demo(&server, "ping", "{}").status)
        .collect();
    // Served, and still limited, by this replica's own count.
    assert_eq!(statuses, [200, 200, 200, 429]);
    let summary = get(&server, "/health").body;
    assert_eq!(summary["status"], "degraded");
    assert!(
        summary["reasons"]
            .to_string()
            .contains("REDIS_FAILURE=open")
    );
    redis.restart();
    assert!(wait_until(Duration::from_secs(10), || {
        get(&server, "/health").body["status"] == "ok"
    }));
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_replica_killed_under_load_fails_no_request_on_the_survivor() {
    let redis = TestRedis::start();
    let unlimited = [("RATE_LIMIT_PER_MINUTE", "0")];
    let (_a, mut doomed) = replica(&redis, &unlimited);
    let (_b, survivor) = replica(&redis, &unlimited);
    let token = doomed.machine_token(DEMO_MACHINE);
    let url = survivor.url("/tools/ping");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (url, token, stop) = (url.clone(), token.clone(), stop.clone());
            std::thread::spawn(move || {
                let http = client();
                let mut statuses = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let status = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Content-Type", "application/json")
                        .body("{}")
                        .send()
                        .map(|response| response.status().as_u16())
                        .unwrap_or(0);
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    drop(doomed.call_tool(DEMO_TOKEN, "ping", json!({})));
    let killed = std::process::Command::new("kill")
        .args(["-9", &doomed.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert!(wait_until(Duration::from_secs(5), || !doomed.is_running()));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses: Vec<u16> = workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("worker"))
        .collect();
    assert!(statuses.len() > 20, "{} requests", statuses.len());
    assert!(
        statuses.iter().all(|status| *status == 200),
        "{:?}",
        statuses.iter().filter(|s| **s != 200).collect::<Vec<_>>()
    );
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn an_approval_asked_on_one_replica_is_given_on_the_other_once() {
    use crate::approvals::{accept, ask, call, production};

    let redis = TestRedis::start();
    let (_a, first) = replica(&redis, &[]);
    let (_b, second) = replica(&redis, &[]);
    let asked = ask(&first);
    let approved = json!({
        "arguments": production(),
        "inputResponses": accept(),
        "requestState": asked["requestState"],
    });
    let (status, body) = call(&second, DEMO_TOKEN, "deploy_plan", approved.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["resultType"], "complete", "{body}");
    assert_eq!(body["result"]["isError"], false, "{body}");
    // The state answered one retry, on any replica.
    let (_, replayed) = call(&first, DEMO_TOKEN, "deploy_plan", approved);
    let message = replayed["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already used"), "{replayed}");
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_login_begun_on_one_replica_is_finished_on_the_other() {
    use e2e::descope::{CLIENT_ID, FakeDescope, USER};

    let redis = TestRedis::start();
    let descope = FakeDescope::start();
    let launch = descope.launch().env("DESCOPE_CLIENT_ID", CLIENT_ID);
    let (first_sandbox, second_sandbox) = (Sandbox::new(), Sandbox::new());
    let first = replica_from(&first_sandbox, &redis, launch.clone(), &[]);
    let second = replica_from(&second_sandbox, &redis, launch, &[]);
    let browser = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let location = |response: reqwest::blocking::Response| -> String {
        assert!(response.status().is_redirection(), "{}", response.status());
        response.headers()["location"]
            .to_str()
            .expect("a location")
            .to_owned()
    };
    let to_descope = location(browser.get(first.url("/auth/login")).send().expect("login"));
    assert!(to_descope.starts_with(descope.base_url()), "{to_descope}");
    let back = location(browser.get(&to_descope).send().expect("authorize"));
    let callback = back
        .strip_prefix(PUBLIC_URL)
        .expect("back to the public URL");
    assert!(callback.starts_with("/auth/callback?"), "{callback}");
    // The load balancer sends the callback to the other replica.
    let page = browser.get(second.url(callback)).send().expect("callback");
    assert_eq!(page.status(), 200);
    let text = page.text().expect("the page");
    assert!(text.contains("Signed in"), "{text}");
    let token = text
        .split("<pre id=\"access-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the token on the page");
    assert_eq!(claim(token, "sub"), USER);
    // The login is spent: the first replica does not know it any more.
    let again = browser.get(first.url(callback)).send().expect("callback");
    assert_eq!(again.status(), 400);
}

/// A 2025-era `POST /mcp` to `server`, in `session` if given.
fn mcp_2025(
    server: &Server,
    token: &str,
    session: Option<&str>,
    body: String,
) -> reqwest::blocking::Response {
    let mut request = client()
        .post(server.url("/mcp"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25");
    if let Some(session) = session {
        request = request.header("Mcp-Session-Id", session);
    }
    request.body(body).send().expect("POST /mcp")
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_session_opened_on_one_replica_is_restored_on_another_for_its_owner_only() {
    let redis = TestRedis::start();
    let (_a, first) = replica(&redis, &[]);
    let (_b, second) = replica(&redis, &[]);
    let initialize = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "replica-test", "version": "1"},
        },
    })
    .to_string();
    let opened = mcp_2025(&first, DEMO_TOKEN, None, initialize);
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .expect("a session id")
        .to_owned();
    drop(opened.text());
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert!(
        mcp_2025(&first, DEMO_TOKEN, Some(&session), initialized)
            .status()
            .is_success()
    );
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    // Another principal is told it does not exist, on either replica.
    let machine = first.machine_token(DEMO_MACHINE);
    assert_eq!(
        mcp_2025(&second, &machine, Some(&session), list.clone()).status(),
        404
    );
    // Its owner is served by the replica that never saw it opened.
    let restored = mcp_2025(&second, DEMO_TOKEN, Some(&session), list);
    assert_eq!(restored.status(), 200);
    let text = restored.text().expect("the answer");
    assert!(text.contains("\"tools\""), "{text}");
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Where a redirect sends the browser, as a path on any replica (the
/// public URL stripped), and its query parameters.
fn redirected(response: reqwest::blocking::Response) -> (String, Vec<(String, String)>) {
    assert!(
        response.status().is_redirection(),
        "{}: {:?}",
        response.status(),
        response.text()
    );
    let location = response.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned();
    let url = reqwest::Url::parse(&location).expect("a URL");
    let params = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let path = location
        .strip_prefix(PUBLIC_URL)
        .unwrap_or(&location)
        .to_owned();
    (path, params)
}

fn param(params: &[(String, String)], name: &str) -> String {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("no `{name}` in {params:?}"))
}

/// The consent id in a consent page's form.
fn consent_of(html: &str) -> String {
    html.split("name=\"consent\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no consent form in {html}"))
        .to_owned()
}

/// `POST /oauth/token` on `server`: the status and the body.
fn oauth_token(server: &Server, form: &[(&str, &str)]) -> (u16, Value) {
    let response = no_redirects()
        .post(server.url("/oauth/token"))
        .form(form)
        .send()
        .expect("POST /oauth/token");
    (
        response.status().as_u16(),
        response.json().expect("token JSON"),
    )
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn the_demo_oauth_flow_runs_across_replicas() {
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "http://127.0.0.1:9/callback";
    let redis = TestRedis::start();
    let (_one, first) = replica(&redis, &[]);
    let (_two, second) = replica(&redis, &[]);
    let browser = no_redirects();

    // Registered on the first, shown the consent page by the second,
    // approved on the first, exchanged on the second.
    let registered: Value = browser
        .post(first.url("/oauth/register"))
        .json(&json!({"client_name": "replicated", "redirect_uris": [REDIRECT]}))
        .send()
        .expect("register")
        .json()
        .expect("registration JSON");
    let client_id = registered["client_id"].as_str().expect("client_id");
    let page = browser
        .get(second.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "tools:ping"),
            ("state", "s1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .expect("authorize");
    assert_eq!(page.status(), 200);
    let consent = consent_of(&page.text().expect("the consent page"));
    let (_, params) = redirected(
        browser
            .post(first.url("/oauth/authorize"))
            .form(&[("consent", consent.as_str()), ("decision", "approve")])
            .send()
            .expect("approve"),
    );
    let code = param(&params, "code");
    assert_eq!(param(&params, "state"), "s1");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", client_id),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
    ];
    let (status, tokens) = oauth_token(&second, &exchange);
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().expect("an access token");
    assert_eq!((ping(&first, access), ping(&second, access)), (200, 200));

    // The refresh token rotates on the first; the rotated one, presented
    // again on the second, revokes the sign-in everywhere.
    let first_refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let refresh = |server: &Server, token: &str| {
        oauth_token(
            server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", client_id),
            ],
        )
    };
    let (status, rotated) = refresh(&first, first_refresh);
    assert_eq!(status, 200, "{rotated}");
    let newest = rotated["refresh_token"].as_str().expect("a refresh token");
    let (status, reused) = refresh(&second, first_refresh);
    assert_eq!(status, 400);
    assert_eq!(reused["error"], "invalid_grant");
    assert!(
        reused["error_description"]
            .as_str()
            .is_some_and(|said| said.contains("reused")),
        "{reused}"
    );
    let (status, revoked) = refresh(&first, newest);
    assert_eq!(status, 400);
    assert!(
        revoked["error_description"]
            .as_str()
            .is_some_and(|said| said.contains("revoked")),
        "{revoked}"
    );

    // The code was spent on the second: replayed on the first, it is refused.
    let (status, replayed) = oauth_token(&first, &exchange);
    assert_eq!(status, 400);
    assert_eq!(replayed["error"], "invalid_grant");
}

#[test]
#[ignore = "needs redis-server: cargo xtask install-tools"]
fn a_demo_login_begun_on_one_replica_is_finished_on_the_other() {
    let redis = TestRedis::start();
    let (_one, first) = replica(&redis, &[]);
    let (_two, second) = replica(&redis, &[]);
    let browser = no_redirects();
    let (authorize, _) = redirected(browser.get(first.url("/auth/login")).send().expect("login"));
    assert!(authorize.starts_with("/oauth/authorize?"), "{authorize}");
    let page = browser
        .get(second.url(&authorize))
        .send()
        .expect("the consent page");
    assert_eq!(page.status(), 200);
    let html = page.text().expect("the consent page");
    assert!(!html.contains("unverified"), "{html}");
    let (callback, _) = redirected(
        browser
            .post(first.url("/oauth/authorize"))
            .form(&[
                ("consent", consent_of(&html).as_str()),
                ("decision", "approve"),
            ])
            .send()
            .expect("approve"),
    );
    assert!(callback.starts_with("/auth/callback?"), "{callback}");
    let landing = browser.get(second.url(&callback)).send().expect("callback");
    assert_eq!(landing.status(), 200);
    let text = landing.text().expect("the page");
    let token = text
        .split("<pre id=\"access-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no token on {text}"));
    assert_eq!((ping(&first, token), ping(&second, token)), (200, 200));
}
