//! Real token verification through the binary: Descope tokens against a
//! local fake Descope, demo-server tokens, discovery metadata, and the
//! start-up refusals of unsafe settings.

use e2e::descope::{PROJECT, unix_now};
use e2e::{FakeDescope, Launch, Sandbox, Server};
use insta::assert_json_snapshot;
use serde_json::{Value, json};

use crate::util::{canonical, client, get, post_tool};

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// The `error_description` of a 401 challenge.
fn refusal(server: &Server, token: &str) -> String {
    let reply = post_tool(server, "ping", Some(token), "{}");
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    let challenge = reply
        .header("www-authenticate")
        .expect("challenge")
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    reply.body["message"].as_str().expect("message").to_owned()
}

#[test]
fn descope_tokens_in_every_issuer_form_call_ping() {
    let descope = FakeDescope::start();
    let server = Server::start_with(
        &Sandbox::new(),
        descope.launch().env("DESCOPE_MCP_SERVER_ID", "MS2server"),
    );
    let base = descope.base_url();
    for iss in [
        PROJECT.to_owned(),
        format!("{base}/{PROJECT}"),
        format!("{base}/v1/apps/{PROJECT}"),
        format!("{base}/v1/apps/agentic/{PROJECT}/MS2server"),
    ] {
        let token = descope.sign(&with(
            descope.claims("U2alice", "tools:ping"),
            "iss",
            json!(iss),
        ));
        let reply = post_tool(&server, "ping", Some(&token), r#"{"message": "hi"}"#);
        assert_eq!(reply.status, 200, "{iss}: {:?}", reply.body);
        assert_eq!(reply.body["structuredContent"]["principal_id"], "U2alice");
    }
    let health = get(&server, "/health");
    assert_eq!(health.body["auth_mode"], "descope");
    assert_eq!(health.body["jwks"]["stale"], false);
}

#[test]
fn descope_refusals_use_the_guides_words() {
    let descope = FakeDescope::start();
    let server = Server::start_with(&Sandbox::new(), descope.launch());
    let claims = descope.claims("U2alice", "tools:ping");

    let expired = descope.sign(&with(claims.clone(), "exp", json!(unix_now() - 3600)));
    assert_eq!(refusal(&server, &expired), "Token has expired");

    let wrong_audience = descope.sign(&with(claims.clone(), "aud", json!(["P2someoneelse"])));
    let refused = refusal(&server, &wrong_audience);
    assert!(
        refused.starts_with("Invalid token audience: this server accepts tokens issued for "),
        "{refused}"
    );
    let other_server = descope.sign(&with(
        claims.clone(),
        "iss",
        json!(format!(
            "{}/v1/apps/agentic/{PROJECT}/MS2other",
            descope.base_url()
        )),
    ));
    assert_eq!(refusal(&server, &other_server), "Invalid token issuer");

    let wrong_issuer = descope.sign(&with(claims.clone(), "iss", json!("https://evil.example")));
    assert_eq!(refusal(&server, &wrong_issuer), "Invalid token issuer");

    let token = descope.sign(&claims);
    let (_, rest) = token.split_once('.').expect("segments");
    let header = "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vLXN1Y2gta2V5In0"; // {"alg":"RS256","kid":"no-such-key"}
    assert_eq!(
        refusal(&server, &format!("{header}.{rest}")),
        "Public key not found for kid `no-such-key`"
    );

    let roles_as_number = descope.sign(&with(claims, "roles", json!(7)));
    assert!(refusal(&server, &roles_as_number).contains("`roles`"));
}

/// The fake's access key through client credentials, in HTTP Basic as
/// OAuth client libraries send it.
fn exchange_the_access_key(server: &Server) -> reqwest::blocking::Response {
    use e2e::descope::{ACCESS_KEY, ACCESS_KEY_ID};

    client()
        .post(server.url("/auth/token"))
        .basic_auth(ACCESS_KEY_ID, Some(ACCESS_KEY))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .expect("token")
}

#[test]
fn by_default_only_tokens_issued_for_this_server_are_accepted() {
    let descope = FakeDescope::start();
    let server = Server::start_with(&Sandbox::new(), descope.launch_for_this_server_only());
    let for_this_server = descope.sign(&with(
        descope.claims("U2alice", "tools:ping"),
        "aud",
        json!(server.url("/mcp")),
    ));
    let reply = post_tool(&server, "ping", Some(&for_this_server), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    // A token for the whole project may have been issued for another app.
    let for_the_project = descope.sign(&descope.claims("U2alice", "tools:ping"));
    let refused = refusal(&server, &for_the_project);
    assert!(
        refused.starts_with("Invalid token audience: this server accepts tokens issued for "),
        "{refused}"
    );
    assert!(refused.contains(&server.url("/mcp")), "{refused}");
    assert!(
        refused.contains("JWT_ACCEPT_PROJECT_AUDIENCE=true"),
        "{refused}"
    );

    // So is an access-key token, and the token endpoint says which setting
    // would accept it instead of handing out a token that would not work.
    let response = exchange_the_access_key(&server);
    assert_eq!(response.status().as_u16(), 502);
    let body: Value = response.json().expect("json");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains("JWT_ACCEPT_PROJECT_AUDIENCE=true"),
        "{body}"
    );
}

#[test]
fn a_descope_token_without_the_scope_is_403_naming_it() {
    let descope = FakeDescope::start();
    let server = Server::start_with(&Sandbox::new(), descope.launch());
    let token = descope.sign(&descope.claims("U2bob", "tools:review"));
    let reply = post_tool(&server, "ping", Some(&token), "{}");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body["required_scopes"], json!(["tools:ping"]));
}

#[test]
fn cached_keys_keep_serving_while_descope_is_down() {
    let descope = FakeDescope::start();
    let server = Server::start_with(
        &Sandbox::new(),
        descope.launch().env("JWKS_REFETCH_INTERVAL_SECS", "0"),
    );
    let good = descope.sign(&descope.claims("U2alice", "tools:ping"));
    assert_eq!(post_tool(&server, "ping", Some(&good), "{}").status, 200);

    descope.set_up(false);
    // An unknown kid makes the server try Descope, which is down.
    let token = descope.sign(&descope.claims("U2alice", "tools:ping"));
    let (_, rest) = token.split_once('.').expect("segments");
    let header = "eyJhbGciOiJSUzI1NiIsImtpZCI6InJvdGF0ZWQifQ"; // {"alg":"RS256","kid":"rotated"}
    assert_eq!(
        post_tool(&server, "ping", Some(&format!("{header}.{rest}")), "{}").status,
        401
    );

    let health = get(&server, "/health");
    assert_eq!(health.body["jwks"]["stale"], true, "{:?}", health.body);
    assert!(
        health.body["jwks"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503"))
    );

    // A token never seen before still verifies with the cached key.
    let fresh = descope.sign(&descope.claims("U2carol", "tools:ping"));
    let reply = post_tool(&server, "ping", Some(&fresh), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    descope.set_up(true);
}

#[test]
fn demo_server_tokens_are_verified_like_descope_tokens() {
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox);
    // The demo authorization server's key, created at start-up in DATA_DIR.
    let key =
        oauth_kit::SigningKey::load_or_create(&sandbox.path().join(".data/demo-signing-key.der"))
            .expect("demo key");
    let now = unix_now();
    let token = key
        .sign(&json!({
            "iss": server.base_url(),
            "sub": "demo-jwt-user",
            "aud": format!("{}/mcp", server.base_url()),
            "iat": now,
            "exp": now + 300,
            "scope": "tools:ping",
        }))
        .expect("sign");
    let reply = post_tool(&server, "ping", Some(&token), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["structuredContent"]["principal_id"],
        "demo-jwt-user"
    );

    // The same claims for another server's audience are refused.
    let foreign = key
        .sign(&json!({
            "iss": server.base_url(), "sub": "x", "aud": "https://elsewhere.example/mcp",
            "iat": now, "exp": now + 300, "scope": "tools:ping",
        }))
        .expect("sign");
    let reply = post_tool(&server, "ping", Some(&foreign), "{}");
    assert_eq!(reply.status, 401);
}

#[test]
fn protected_resource_metadata_matches_the_url_the_client_used() {
    let server = Server::start(&Sandbox::new());
    let port = server
        .base_url()
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        for path in [
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-protected-resource/mcp",
        ] {
            let response = client()
                .get(server.url(path))
                .header("Host", &host)
                .send()
                .expect("send");
            assert_eq!(response.status().as_u16(), 200);
            let body: Value = response.json().expect("json");
            assert_eq!(body["resource"], format!("http://{host}/mcp"));
            assert_eq!(
                body["authorization_servers"],
                json!([format!("http://{host}")])
            );
        }
    }
    let reply = get(&server, "/.well-known/oauth-protected-resource/mcp");
    assert_json_snapshot!("protected_resource_metadata", canonical(&reply.body), {
        ".resource" => "[base]/mcp",
        ".authorization_servers[0]" => "[base]",
    });
}

#[test]
fn protected_resource_metadata_names_descope_in_production() {
    let descope = FakeDescope::start();
    let server = Server::start_with(
        &Sandbox::new(),
        descope
            .launch()
            .env("PUBLIC_URL", "https://mcp.example.com"),
    );
    let reply = get(&server, "/.well-known/oauth-protected-resource");
    assert_eq!(reply.body["resource"], "https://mcp.example.com/mcp");
    assert_eq!(
        reply.body["authorization_servers"],
        json!([format!("{}/v1/apps/{PROJECT}", descope.base_url())])
    );
}

#[test]
fn discovery_is_refused_to_foreign_hosts() {
    let server = Server::start(&Sandbox::new());
    let response = client()
        .get(server.url("/.well-known/oauth-protected-resource"))
        .header("Host", "evil.example")
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 403);
}

fn refused_at_start(launch: Launch) -> String {
    match Server::try_start(&Sandbox::new(), launch) {
        Ok(server) => panic!("the server started at {}", server.base_url()),
        Err(failure) => failure.output,
    }
}

#[test]
fn unsafe_production_settings_are_refused_naming_the_setting() {
    let output = refused_at_start(Launch::default().env("DESCOPE_DEMO_MODE", "false"));
    assert!(output.contains("DESCOPE_PROJECT_ID"), "{output}");
    let output = refused_at_start(
        Launch::default()
            .env("DESCOPE_DEMO_MODE", "false")
            .env("DESCOPE_PROJECT_ID", "your_actual_project_id_here"),
    );
    assert!(output.contains("DESCOPE_PROJECT_ID"), "{output}");
    let output = refused_at_start(Launch::default().env("JWT_ALGORITHM", "HS256"));
    assert!(output.contains("JWT_ALGORITHM"), "{output}");
    let output = refused_at_start(Launch::default().env("JWT_VERIFY_EXPIRATION", "false"));
    assert!(output.contains("JWT_VERIFY_EXPIRATION"), "{output}");
    let output = refused_at_start(Launch::default().env("HOST", "0.0.0.0"));
    assert!(output.contains("DEMO_ALLOW_PUBLIC_BIND"), "{output}");
}

#[test]
fn an_access_key_becomes_a_token_through_client_credentials() {
    use e2e::descope::ACCESS_KEY_ID;

    let descope = FakeDescope::start();
    let server = Server::start_with(&Sandbox::new(), descope.launch());
    let response = exchange_the_access_key(&server);
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().expect("json");
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_u64().expect("expires_in");
    assert!((800..=900).contains(&expires_in), "{expires_in}");
    let token = body["access_token"].as_str().expect("access_token");

    let reply = post_tool(&server, "ping", Some(token), "{}");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["structuredContent"]["principal_id"],
        ACCESS_KEY_ID
    );

    // The access key as a form field works too; a wrong one is refused.
    let wrong = client()
        .post(server.url("/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_secret=K2E2EMACHINEKEY%3Awrong")
        .send()
        .expect("token");
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().expect("json");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("Invalid access key"))
    );

    let other_grant = client()
        .post(server.url("/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=password")
        .send()
        .expect("token");
    assert_eq!(other_grant.status().as_u16(), 400);
}

#[test]
fn an_unreachable_descope_makes_the_exchange_a_502() {
    let descope = FakeDescope::start();
    let server = Server::start_with(
        &Sandbox::new(),
        descope
            .launch()
            .env("DESCOPE_BASE_URL", "http://127.0.0.1:9"),
    );
    let response = client()
        .post(server.url("/auth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_secret=anything")
        .send()
        .expect("token");
    let status = response.status().as_u16();
    assert_eq!(status, 502, "{}", response.text().unwrap_or_default());
}

#[test]
fn a_64_kib_token_is_refused_as_too_large() {
    let server = Server::start(&Sandbox::new());
    let token = "a".repeat(64 * 1024);
    assert!(refusal(&server, &token).contains("too large"));
}

#[test]
fn discovery_urls_use_the_normalised_host() {
    let server = Server::start(&Sandbox::new());
    let port = server
        .base_url()
        .rsplit(':')
        .next()
        .expect("port")
        .to_owned();
    let response = client()
        .get(server.url("/.well-known/oauth-protected-resource"))
        .header("Host", format!("LOCALHOST:{port}"))
        .send()
        .expect("send");
    let body: Value = response.json().expect("json");
    assert_eq!(body["resource"], format!("http://localhost:{port}/mcp"));
}
