//! Start-up: configuration sources, and refusals that name what is wrong.

use e2e::{Launch, Sandbox, Server, library_file_name, test_plugin};

use crate::util::get;

/// Starts a server that must refuse to start, and returns how it failed.
fn refused(sandbox: &Sandbox, launch: Launch) -> e2e::StartFailure {
    match Server::try_start(sandbox, launch) {
        Ok(server) => panic!("the server started at {}", server.base_url()),
        Err(failure) => {
            assert!(!failure.status.success(), "exited with success");
            failure
        }
    }
}

#[test]
fn a_file_that_is_not_a_plugin_stops_start_up_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.write(
        &format!("plugins/{}", library_file_name("broken")),
        b"\x7fELF not really",
    );
    let failure = refused(&sandbox, Launch::default());
    assert!(
        failure.output.contains(&library_file_name("broken")),
        "{}",
        failure.output
    );
    assert!(
        failure.output.contains("not a loadable library"),
        "{}",
        failure.output
    );
}

#[test]
fn a_plugin_with_another_abi_version_stops_start_up_naming_it() {
    let sandbox = Sandbox::new();
    sandbox.add_plugin(&test_plugin("abi-mismatch"));
    let failure = refused(&sandbox, Launch::default());
    assert!(
        failure.output.contains(&library_file_name("abi_mismatch")),
        "{}",
        failure.output
    );
    assert!(
        failure.output.contains("ABI version 9999"),
        "{}",
        failure.output
    );
}

#[test]
fn an_invalid_policy_stops_start_up_naming_file_and_line() {
    let sandbox = Sandbox::new();
    sandbox.write("policies/broken.cedar", "@id(\"broken\")\npermit (principal, action, resource)\nwhen { resource.no_such_attribute };\n");
    let failure = refused(&sandbox, Launch::default());
    assert!(
        failure.output.contains("broken.cedar:3:"),
        "{}",
        failure.output
    );
}

#[test]
fn a_missing_policy_directory_says_what_to_set() {
    let sandbox = Sandbox::new();
    let failure = refused(&sandbox, Launch::default().env("POLICY_DIR", "nowhere"));
    assert!(failure.output.contains("POLICY_DIR"), "{}", failure.output);
}

#[test]
fn demo_mode_off_is_refused_naming_the_setting() {
    let sandbox = Sandbox::new();
    let failure = refused(
        &sandbox,
        Launch::default().env("DESCOPE_DEMO_MODE", "false"),
    );
    assert!(
        failure.output.contains("DESCOPE_DEMO_MODE"),
        "{}",
        failure.output
    );
}

#[test]
fn a_jwks_url_without_tls_is_refused_at_start_naming_the_setting() {
    let sandbox = Sandbox::new();
    let failure = refused(
        &sandbox,
        Launch::default()
            .env("DESCOPE_DEMO_MODE", "false")
            .env("DESCOPE_PROJECT_ID", "P2e2etest")
            .env("DESCOPE_JWKS_URL", "http://keys.example.com/jwks.json"),
    );
    assert!(
        failure
            .output
            .contains("DESCOPE_JWKS_URL: `http://keys.example.com/jwks.json` is not https"),
        "{}",
        failure.output
    );
}

#[test]
fn a_bad_port_is_refused_with_the_setting_named() {
    let sandbox = Sandbox::new();
    let failure = refused(&sandbox, Launch::default().env("PORT", "eighty"));
    assert!(
        failure.output.contains("PORT: invalid type"),
        "{}",
        failure.output
    );
}

#[test]
fn a_dotenv_file_is_read_and_the_environment_wins() {
    let sandbox = Sandbox::new();
    // The .env sets MAX_REQUEST_SIZE_MB, which must apply, and PORT, which
    // the real environment's PORT=0 must override.
    sandbox.write(".env", "PORT=1\nMAX_REQUEST_SIZE_MB=1\n");
    let server = Server::start(&sandbox);
    assert!(!server.base_url().ends_with(":1"), "{}", server.base_url());
    let big = format!(r#"{{"message": "{}"}}"#, "x".repeat(1024 * 1024 + 1));
    let reply = crate::util::post_tool_as_demo(&server, "ping", &big);
    assert_eq!(
        reply.status, 413,
        "MAX_REQUEST_SIZE_MB from .env was not applied"
    );
}

#[test]
fn a_config_file_overrides_the_defaults() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("custom.toml", "[demo]\ntoken = \"another-demo-token\"\nprincipal_id = \"custom\"\nscopes = [\"tools:ping\"]\n");
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let reply = crate::util::post_tool(&server, "ping", Some("another-demo-token"), "{}");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["structuredContent"]["principal_id"], "custom");
    assert_eq!(
        crate::util::post_tool_as_demo(&server, "ping", "{}").status,
        401
    );
}

#[test]
fn an_unknown_setting_in_a_config_file_is_refused() {
    let sandbox = Sandbox::new();
    let config = sandbox.write("typo.toml", "[server]\nprot = 9000\n");
    let failure = refused(
        &sandbox,
        Launch::default()
            .arg("--config")
            .arg(config.to_string_lossy()),
    );
    assert!(failure.output.contains("prot"), "{}", failure.output);
}

#[test]
fn the_default_plugin_directory_is_the_executables() {
    // Without PLUGIN_DIR the server loads the plugins built beside it.
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, Launch::default().env("PLUGIN_DIR", ""));
    let health = get(&server, "/health");
    assert_eq!(
        health.body["tools"],
        serde_json::json!(crate::util::EVERY_TOOL)
    );
}

#[test]
fn a_challenge_scope_no_policy_grants_is_refused_naming_it() {
    let sandbox = Sandbox::new();
    let failure = refused(
        &sandbox,
        Launch::default().env("CHALLENGE_SCOPES", r#"["tools:ping", "tools:nothing"]"#),
    );
    assert!(
        failure
            .output
            .contains("CHALLENGE_SCOPES names scopes no policy grants: tools:nothing"),
        "{}",
        failure.output
    );
}

#[test]
fn a_plugin_claiming_the_servers_resources_or_another_plugins_stops_start_up() {
    for (claim, wanted) in [
        (
            "server",
            "uses the scheme `orchestrator://`, which the server keeps",
        ),
        ("template", "overlaps `code-tools://"),
        (
            "uri",
            "overlaps `code-tools://review-rules/{language}` of plugin `code-tools`",
        ),
    ] {
        let sandbox = Sandbox::new();
        sandbox.add_plugin(&test_plugin("squatting"));
        let failure = refused(&sandbox, Launch::default().env("SQUATTING_CLAIM", claim));
        assert!(
            failure.output.contains(wanted),
            "{claim}: {}",
            failure.output
        );
    }
}
