//! The admin console: signing in through the login helper, who gets in,
//! the headers every page carries, and the forms.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::{Answer, TestApp, demo_scopes, post_json, request};

/// Every console route a signed-in person can reach, with its method.
const ROUTES: [(&str, &str); 9] = [
    ("GET", "/admin"),
    ("GET", "/admin/policies"),
    ("GET", "/admin/decisions"),
    ("GET", "/admin/decisions.json"),
    ("GET", "/admin/what-if"),
    ("POST", "/admin/what-if"),
    ("GET", "/admin/diff"),
    ("POST", "/admin/diff"),
    ("POST", "/admin/sign-out"),
];

/// A browser signed in to the console: its session cookie and the CSRF
/// token its pages carry.
struct Signed {
    cookie: String,
    csrf: String,
}

fn location(answer: &Answer) -> String {
    let location = answer.header(header::LOCATION);
    location
        .strip_prefix("http://localhost:8080")
        .unwrap_or(location)
        .to_owned()
}

/// The `name=value` part of the `Set-Cookie` header setting `name`.
fn set_cookie(answer: &Answer, name: &str) -> String {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", answer.headers))
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

/// The value of the first `name="…" value="…"` field in a page.
fn field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        .to_owned()
}

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = request("GET", uri);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).expect("request")
}

fn form(uri: &str, cookie: &str, body: &[(&str, &str)]) -> Request<Body> {
    request("POST", uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(body)
                .finish(),
        ))
        .expect("request")
}

/// Signs in through `/auth/login?for=console` and the demo consent page,
/// as a browser does.
async fn sign_in(app: &TestApp) -> Signed {
    let login = app.send(get("/auth/login?for=console", None)).await;
    assert_eq!(login.status, StatusCode::FOUND, "{}", login.text);
    let login_cookie = set_cookie(&login, "orchestrator_console_login");
    let consent = app.send(get(&location(&login), None)).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    let approved = app
        .send(
            request("POST", "/oauth/authorize")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "consent={}&decision=approve",
                    field(&consent.text, "consent")
                )))
                .expect("request"),
        )
        .await;
    assert_eq!(approved.status, StatusCode::FOUND, "{}", approved.text);
    let callback = app
        .send(get(&location(&approved), Some(&login_cookie)))
        .await;
    assert_eq!(callback.status, StatusCode::OK, "{}", callback.text);
    assert!(callback.text.contains("Signed in"), "{}", callback.text);
    assert!(
        !callback.text.contains("eyJ"),
        "the token is shown: {}",
        callback.text
    );
    let cookie = set_cookie(&callback, "orchestrator_console");
    let overview = app.send(get("/admin", Some(&cookie))).await;
    let csrf = if overview.status == StatusCode::OK {
        field(&overview.text, "csrf")
    } else {
        String::new()
    };
    Signed { cookie, csrf }
}

#[tokio::test]
async fn without_a_session_every_console_route_asks_to_sign_in() {
    let app = TestApp::new("").await;
    for (method, path) in ROUTES {
        let answer = app
            .send(request(method, path).body(Body::empty()).expect("request"))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        if path.ends_with(".json") {
            assert_eq!(answer.json()["error"], "not_signed_in");
        } else {
            assert!(
                answer.text.contains("/auth/login?for=console"),
                "{method} {path}: {}",
                answer.text
            );
        }
    }
    // A cookie that names no session is no session.
    let forged = app
        .send(get("/admin", Some("orchestrator_console=guessed")))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    // The stylesheet and script are public, and the script is a file.
    for (path, kind) in [
        ("/admin/console.css", "text/css"),
        ("/admin/console.js", "text/javascript"),
    ] {
        let answer = app.send(get(path, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.header(header::CONTENT_TYPE).starts_with(kind));
    }
}

#[tokio::test]
async fn a_principal_without_admin_scopes_gets_403_on_every_console_route() {
    let app = TestApp::new(&demo_scopes(&["tools:ping", "tools:review"])).await;
    let signed = sign_in(&app).await;
    for (method, path) in ROUTES {
        let answer = app
            .send(match method {
                "GET" => get(path, Some(&signed.cookie)),
                _ => form(path, &signed.cookie, &[("csrf", "anything")]),
            })
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {path}");
        // Signing out is open to them, with the session's token.
        let needs = if path == "/admin/sign-out" {
            "CSRF token"
        } else {
            "admin:config"
        };
        assert!(
            answer.text.contains(needs),
            "{method} {path} says what it needs: {}",
            answer.text
        );
    }
    // The refusal page carries the session's sign-out form.
    let refused = app.send(get("/admin", Some(&signed.cookie))).await;
    let out = app
        .send(form(
            "/admin/sign-out",
            &signed.cookie,
            &[("csrf", &field(&refused.text, "csrf"))],
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.text);
    let after = app.send(get("/admin", Some(&signed.cookie))).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_decision_records_need_the_right_to_read_them_too() {
    let app = TestApp::new(&demo_scopes(&["admin:config"])).await;
    let signed = sign_in(&app).await;
    assert!(!signed.csrf.is_empty(), "admin:config opens the console");
    for path in ["/admin/decisions", "/admin/decisions.json"] {
        let answer = app.send(get(path, Some(&signed.cookie))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            answer.text.contains("admin:logs"),
            "{path}: {}",
            answer.text
        );
    }
    let answer = app
        .send(form(
            "/admin/diff",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("file", "extra.cedar"),
                ("policy", "// nothing new"),
            ],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.text.contains("id=\"counts\""), "{}", answer.text);
    assert!(answer.text.contains("id=\"no-records\""), "{}", answer.text);
}

#[tokio::test]
async fn a_candidate_nested_past_the_bound_is_refused_and_one_inside_it_loads() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    let nested = |depth: usize| {
        format!(
            "@id(\"deep\")\npermit (principal, action, resource)\nwhen {{ {}true{} }};\n",
            "(".repeat(depth),
            ")".repeat(depth)
        )
    };
    let send = |policy: String| {
        app.send(form(
            "/admin/diff",
            &signed.cookie,
            &[
                ("csrf", signed.csrf.as_str()),
                ("file", "deep.cedar"),
                ("policy", policy.as_str()),
            ],
        ))
    };
    // Deep enough to overflow a worker thread's stack in Cedar's parser.
    let refused = send(nested(20_000)).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(
        refused
            .text
            .contains("starting on line 1 of the candidate has more than 1000 tokens"),
        "{}",
        refused.text
    );
    // Just inside the bound, on the replay's own stack.
    let loaded = send(nested(480)).await;
    assert!(loaded.text.contains("id=\"counts\""), "{}", loaded.text);
}

#[tokio::test]
async fn every_console_page_carries_a_strict_content_security_policy() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    for path in [
        "/admin",
        "/admin/policies",
        "/admin/decisions",
        "/admin/what-if",
        "/admin/diff",
    ] {
        let answer = app.send(get(path, Some(&signed.cookie))).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        let csp = answer.header(header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(answer.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
        // No inline script: the one script element names its file.
        assert_eq!(
            answer.text.matches("<script").count(),
            answer
                .text
                .matches("<script src=\"/admin/console.js?v=")
                .count(),
            "{path}"
        );
    }
    // The files may be kept: their URLs carry the version.
    let script = app.send(get("/admin/console.js", None)).await;
    assert!(
        script
            .header(header::CONTENT_SECURITY_POLICY)
            .contains("script-src 'self'")
    );
    assert_eq!(
        script.header(header::CACHE_CONTROL),
        "private, max-age=3600"
    );
    let overview = app.send(get("/admin", Some(&signed.cookie))).await;
    assert!(overview.text.contains("id=\"policy-hash\""));
    assert!(
        overview.text.contains("demo-user (user)"),
        "{}",
        overview.text
    );
}

/// A what-if form asking about `server_config` for an `admin:config`
/// holder.
fn fields(csrf: &str) -> [(&str, &str); 4] {
    [
        ("csrf", csrf),
        ("claims", r#"{"sub": "U2x", "scope": "admin:config"}"#),
        ("tool", "server_config"),
        ("arguments", "{}"),
    ]
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    let stale = app
        .send(form("/admin/what-if", &signed.cookie, &fields("stale")))
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert!(stale.text.contains("CSRF token"), "{}", stale.text);

    let csrf = signed.csrf.as_str();
    let mut cross_site = form("/admin/what-if", &signed.cookie, &fields(csrf));
    cross_site
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().expect("value"));
    assert_eq!(app.send(cross_site).await.status, StatusCode::FORBIDDEN);

    let sent = app
        .send(form("/admin/what-if", &signed.cookie, &fields(csrf)))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert!(
        sent.text.contains("id=\"verdict\" class=\"allowed\""),
        "{}",
        sent.text
    );
}

#[tokio::test]
async fn what_if_gives_the_decision_its_policies_and_the_scopes_that_would_allow_it() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    let denied = app
        .send(form(
            "/admin/what-if",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("claims", r#"{"sub": "U2x", "scope": "tools:ping"}"#),
                ("tool", "server_config"),
                ("arguments", ""),
            ],
        ))
        .await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.text);
    assert!(denied.text.contains(">denied<"), "{}", denied.text);
    assert!(
        denied.text.contains("id=\"step-up\">admin:config"),
        "{}",
        denied.text
    );

    let wrong = app
        .send(form(
            "/admin/what-if",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("claims", "not json"),
                ("tool", "ping"),
                ("arguments", ""),
            ],
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(
        wrong.text.contains("The claims are not a JSON object"),
        "{}",
        wrong.text
    );
}

#[tokio::test]
async fn diff_replays_the_recent_decisions_under_a_candidate_file() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    // One decision to replay: the demo user reads the server's settings.
    let called = app.send(post_json("/tools/server_config", "{}")).await;
    assert_eq!(called.status, StatusCode::OK, "{}", called.text);

    let admin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/admin.cedar"),
    )
    .expect("admin.cedar");
    let narrowed = format!(
        "{admin}\n@id(\"candidate.no-config\")\nforbid (principal, action, resource == Tool::\"server_config\");\n"
    );
    let answer = app
        .send(form(
            "/admin/diff",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("file", "admin.cedar"),
                ("policy", &narrowed),
            ],
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(answer.text.contains("1 newly denied"), "{}", answer.text);
    assert!(
        answer.text.contains("candidate.no-config"),
        "{}",
        answer.text
    );

    let broken = app
        .send(form(
            "/admin/diff",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("file", "admin.cedar"),
                ("policy", "permit (principal, action, resource"),
            ],
        ))
        .await;
    assert!(
        broken.text.contains("The candidate does not load")
            && broken.text.contains("admin.cedar")
            && !broken.text.contains("orchestrator-mcp-candidate-"),
        "{}",
        broken.text
    );

    let escaping = app
        .send(form(
            "/admin/diff",
            &signed.cookie,
            &[
                ("csrf", &signed.csrf),
                ("file", "../../etc/passwd.cedar"),
                ("policy", "// nothing"),
            ],
        ))
        .await;
    assert!(
        escaping.text.contains("is not a policy file name"),
        "{}",
        escaping.text
    );
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    let out = app
        .send(form(
            "/admin/sign-out",
            &signed.cookie,
            &[("csrf", &signed.csrf)],
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        set_cookie(&out, "orchestrator_console"),
        "orchestrator_console="
    );
    let after = app.send(get("/admin", Some(&signed.cookie))).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_the_sessions_token_ends_the_console_session() {
    let app = TestApp::new("").await;
    let signed = sign_in(&app).await;
    assert_eq!(
        app.send(get("/admin", Some(&signed.cookie))).await.status,
        StatusCode::OK
    );
    let answer = app
        .send(post_json(
            "/tools/revoke_tokens",
            r#"{"subject":"demo-user"}"#,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let page = app.send(get("/admin", Some(&signed.cookie))).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.text);
    let json = app
        .send(get("/admin/decisions.json", Some(&signed.cookie)))
        .await;
    assert_eq!(json.status, StatusCode::UNAUTHORIZED, "{}", json.text);
}

#[tokio::test]
async fn a_console_sign_in_finished_in_another_browser_opens_no_session() {
    let app = TestApp::new("").await;
    let login = app.send(get("/auth/login?for=console", None)).await;
    let consent = app.send(get(&location(&login), None)).await;
    let approved = app
        .send(
            request("POST", "/oauth/authorize")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "consent={}&decision=approve",
                    field(&consent.text, "consent")
                )))
                .expect("request"),
        )
        .await;
    // The victim's browser, sent the attacker's callback, has no login cookie.
    let callback = app.send(get(&location(&approved), None)).await;
    assert_eq!(callback.status, StatusCode::BAD_REQUEST);
    assert!(
        callback.text.contains("started in another browser"),
        "{}",
        callback.text
    );
    assert!(
        callback
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|value| !value
                .to_str()
                .unwrap_or_default()
                .starts_with("orchestrator_console="))
    );

    let other = app.send(get("/auth/login?for=tea", None)).await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert!(other.text.contains("for=console"), "{}", other.text);
}

/// `request` as if it came over a socket from `address`.
fn from(address: &str, mut request: Request<Body>) -> Request<Body> {
    let address: std::net::SocketAddr = address.parse().expect("socket address");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(address));
    request
}

#[tokio::test]
async fn anonymous_console_requests_spend_the_public_limit_and_signed_in_reads_do_not() {
    let app = TestApp::new("[server]\nrate_limit_public_per_minute = 2\n").await;
    let signed = sign_in(&app).await;
    for _ in 0..10 {
        let read = app
            .send(from(
                "192.0.2.7:5000",
                get("/admin/decisions.json", Some(&signed.cookie)),
            ))
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    }
    let statuses: Vec<StatusCode> = anonymous_statuses(&app, "198.51.100.9:6000").await;
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

async fn anonymous_statuses(app: &TestApp, address: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.send(from(address, get("/admin", None))).await.status);
    }
    statuses
}

#[tokio::test]
async fn a_signed_in_persons_forms_spend_their_caller_limit() {
    let app = TestApp::new("[server]\nrate_limit_per_minute = 2\n").await;
    let signed = sign_in(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            app.send(form(
                "/admin/what-if",
                &signed.cookie,
                &fields(&signed.csrf),
            ))
            .await
            .status,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}
