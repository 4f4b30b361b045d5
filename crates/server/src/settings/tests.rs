//! The settings: defaults, environment, refusals and redaction.

use std::collections::BTreeSet;

use figment::Figment;
use figment::providers::{Format, Toml};

use super::env::environment;
use super::raw::cors_origin;
use super::redact::REDACTED;
use super::*;

/// The variables `config/default.toml` names at the start of its
/// comments (`# HOST, PORT: ...`), which `cargo xtask gen` turns into
/// `.env.example`.
fn documented_variables() -> BTreeSet<String> {
    DEFAULT_TOML
        .lines()
        .filter_map(|line| line.trim().strip_prefix('#')?.split_once(':'))
        .map(|(names, _)| names.split(',').map(str::trim).collect::<Vec<_>>())
        .filter(|names| {
            names.iter().all(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
        })
        .flatten()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_variable_read_is_documented_in_the_defaults_and_no_other() {
    let read: BTreeSet<String> = ENV_VARS
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    assert_eq!(read, documented_variables());
}

fn from_toml(extra: &str) -> Result<Raw, Box<figment::Error>> {
    Figment::from(Toml::string(DEFAULT_TOML))
        .merge(Toml::string(extra))
        .extract()
        .map_err(Box::new)
}

#[test]
fn the_embedded_defaults_are_complete_and_valid() {
    let raw = from_toml("").expect("defaults parse");
    assert_eq!(raw.problems(), []);
    let settings = Settings::from_raw(&raw, serde_json::Value::Null).expect("defaults are valid");
    assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
    assert!(matches!(settings.authority, AuthoritySettings::Demo(_)));
    assert_eq!(settings.demo_user.token, "demo_token_12345");
    assert_eq!(settings.max_request_bytes, 10 * 1024 * 1024);
}

#[test]
fn every_env_var_maps_to_a_known_setting() {
    for (name, path, _) in ENV_VARS {
        let (section, key) = path.split_once('.').expect("dotted path");
        let table: toml::Table = toml::from_str(DEFAULT_TOML).expect("toml");
        let found = table
            .get(section)
            .and_then(|s| s.as_table())
            .is_some_and(|s| s.contains_key(key));
        assert!(found, "{name} maps to {path}, which default.toml lacks");
    }
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail API returns its own error"
)]
fn environment_values_override_defaults() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("PORT", "9090");
        jail.set_env("DESCOPE_PROJECT_ID", "007");
        jail.set_env("MAX_REQUEST_SIZE_MB", "2");
        jail.set_env("UNRELATED", "x");
        // As `docker run --env-file` passes a value quoted in the file.
        jail.set_env("ALLOWED_HOSTS", r#"'["mcp.example.com"]'"#);
        jail.set_env("LOG_FORMAT", "\"json\"");
        let config: Raw = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(environment())
            .extract()?;
        assert_eq!(config.server.port, 9090);
        assert_eq!(config.server.allowed_hosts, ["mcp.example.com"]);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(
            config.descope.project_id, "007",
            "a numeric-looking id is kept as written"
        );
        assert_eq!(config.max_request_bytes(), 2 * 1024 * 1024);
        Ok(())
    });
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail API returns its own error"
)]
fn plugin_settings_come_from_the_environment() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("PLUGIN_ALLOW", r#"["core-tools", "code-tools"]"#);
        jail.set_env("PLUGIN_SHA256", r#"{ core-tools = "ab12" }"#);
        jail.set_env("PLUGIN_TIMEOUT_SECS", "5");
        jail.set_env("PLUGIN_TOOL_TIMEOUTS", "{ orchestrate = 120 }");
        jail.set_env("PLUGIN_MAX_INPUT_BYTES", "65536");
        let config: Raw = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(environment())
            .extract()?;
        let options = config.plugins.load_options();
        assert_eq!(options.allow, ["core-tools", "code-tools"]);
        assert_eq!(options.sha256["core-tools"], "ab12");
        assert_eq!(options.timeout, std::time::Duration::from_secs(5));
        assert_eq!(
            options.tool_timeouts["orchestrate"],
            std::time::Duration::from_secs(120)
        );
        assert_eq!(options.max_input_bytes, 65536);
        Ok(())
    });
}

#[test]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail API returns its own error"
)]
fn the_generated_env_example_sets_every_variable_to_its_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example");
    let text = std::fs::read_to_string(path).expect("run `cargo xtask gen`");
    let pairs: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<_, _>>()
        .expect(".env.example parses as a .env file");
    let names: BTreeSet<String> = pairs.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, documented_variables());
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let defaults: serde_json::Value = Figment::from(Toml::string(DEFAULT_TOML)).extract()?;
        for (name, value) in &pairs {
            jail.set_env(name, value);
        }
        let from_env: serde_json::Value = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(environment())
            .extract()?;
        assert_eq!(from_env, defaults);
        Ok(())
    });
}

#[test]
fn cors_origins_are_origins_or_a_lone_star() {
    assert_eq!(
        cors_origin("https://Inspector.Example.com:443"),
        Some("https://inspector.example.com".to_owned())
    );
    assert_eq!(
        cors_origin("http://localhost:6274"),
        Some("http://localhost:6274".to_owned())
    );
    for bad in [
        "inspector.example.com",
        "https://example.com/app",
        "https://example.com/",
        "ftp://example.com",
        "https://user@example.com",
        "",
    ] {
        assert_eq!(cors_origin(bad), None, "{bad}");
    }
    let mut config: Raw = Figment::from(Toml::string(DEFAULT_TOML))
        .extract()
        .expect("defaults");
    assert_eq!(config.cors_origins().expect("empty"), CorsPolicy::NoOrigin);
    config.server.cors_origins = vec!["*".to_owned()];
    config.descope.demo_mode = false;
    assert_eq!(config.cors_origins().expect("any"), CorsPolicy::AnyOrigin);
    config.server.cors_origins = vec!["*".to_owned(), "https://a.example".to_owned()];
    let err = config
        .cors_origins()
        .expect_err("star with others")
        .to_string();
    assert!(err.starts_with("CORS_ORIGINS"), "{err}");
    config.server.cors_origins = vec!["https://a.example/path".to_owned()];
    let err = config.cors_origins().expect_err("a path").to_string();
    assert!(
        err.contains("`https://a.example/path` is not an origin"),
        "{err}"
    );
    config.server.cors_origins = vec!["https://A.example:443".to_owned()];
    assert_eq!(
        config.cors_origins().expect("an origin"),
        CorsPolicy::Origins(vec![http::HeaderValue::from_static("https://a.example")]),
        "held as browsers send it"
    );
}

#[test]
fn secrets_are_redacted_in_the_effective_settings() {
    let mut settings: serde_json::Value = Figment::from(Toml::string(DEFAULT_TOML))
        .merge(Toml::string(
            "[redis]\nurl = \"redis://:r3d1s@cache\"\n[descope]\nclient_secret = \"s3cr3t\"\n[[demo_auth.access_keys]]\nclient_id = \"c\"\nclient_secret = \"k3y\"\nprincipal_id = \"m\"\nscopes = []\n",
        ))
        .extract()
        .expect("settings");
    redact(&mut settings);
    let text = settings.to_string();
    for secret in ["s3cr3t", "k3y", "demo_token_12345", "r3d1s"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(settings["descope"]["client_secret"], REDACTED);
    assert_eq!(settings["demo"]["token"], REDACTED);
    assert_eq!(
        settings["demo_auth"]["access_keys"][0]["client_secret"],
        REDACTED
    );
    assert_eq!(settings["demo_auth"]["access_keys"][0]["client_id"], "c");
    assert_eq!(settings["server"]["port"], 8080, "the rest is shown as set");
}

#[test]
fn unknown_keys_in_a_file_are_refused() {
    let err = from_toml("[server]\nprot = 1\n").expect_err("typo refused");
    assert!(err.to_string().contains("prot"), "{err}");
}

/// The first problem with the defaults and `extra` over them.
fn refusal(extra: &str) -> String {
    let raw = from_toml(extra).expect("parses");
    raw.problems().first().expect("refused").to_string()
}

fn accepted(extra: &str) -> Settings {
    let raw = from_toml(extra).expect("parses");
    Settings::from_raw(&raw, serde_json::Value::Null).expect("accepted")
}

#[test]
fn demo_mode_off_with_a_placeholder_project_is_refused() {
    for project in ["test_project", "your_actual_project_id_here", ""] {
        let err = refusal(&format!(
            "[descope]\ndemo_mode = false\nproject_id = \"{project}\"\n"
        ));
        assert!(err.starts_with("DESCOPE_PROJECT_ID"), "{err}");
    }
}

#[test]
fn demo_mode_off_with_a_real_project_is_accepted() {
    let settings = accepted("[descope]\ndemo_mode = false\nproject_id = \"P2abc\"\n");
    let AuthoritySettings::Descope(descope) = settings.authority else {
        panic!("Descope settings expected");
    };
    assert_eq!(
        descope.jwks_url,
        "https://api.descope.com/P2abc/.well-known/jwks.json"
    );
}

#[test]
fn a_jwks_url_without_tls_is_refused_naming_the_setting_it_came_from() {
    let descope = "[descope]\ndemo_mode = false\nproject_id = \"P2abc\"\n";
    let err = refusal(&format!(
        "{descope}jwks_url = \"http://keys.example.com/jwks.json\"\n"
    ));
    assert!(
        err.starts_with("DESCOPE_JWKS_URL: `http://keys.example.com/jwks.json` is not https"),
        "{err}"
    );
    let err = refusal(&format!(
        "{descope}base_url = \"http://descope.internal\"\n"
    ));
    assert!(err.starts_with("DESCOPE_BASE_URL: "), "{err}");
    assert!(
        err.contains("`http://descope.internal/P2abc/.well-known/jwks.json` is not https"),
        "{err}"
    );
    assert!(err.contains("DESCOPE_JWKS_URL"), "{err}");

    // Loopback may speak plain http; demo mode fetches no keys at all.
    for loopback in [
        "jwks_url = \"http://localhost:9/jwks.json\"",
        "base_url = \"http://127.0.0.1:9\"",
        "base_url = \"http://[::1]:9\"",
    ] {
        accepted(&format!("{descope}{loopback}\n"));
    }
    accepted("[descope]\nbase_url = \"http://descope.internal\"\n");
}

#[test]
fn hmac_and_non_rsa_algorithms_are_refused() {
    for algorithm in ["HS256", "RS256,HS512", "ES256", "none", ""] {
        let err = refusal(&format!("[jwt]\nalgorithm = \"{algorithm}\"\n"));
        assert!(err.starts_with("JWT_ALGORITHM"), "{algorithm}: {err}");
    }
}

#[test]
fn turning_off_expiry_checks_is_refused() {
    let err = refusal("[jwt]\nverify_expiration = false\n");
    assert!(err.starts_with("JWT_VERIFY_EXPIRATION"), "{err}");
}

#[test]
fn every_origin_is_refused_while_the_public_demo_token_is_accepted() {
    let err = refusal("[server]\ncors_origins = [\"*\"]\n");
    assert!(err.starts_with("CORS_ORIGINS"), "{err}");
    assert!(err.contains("demo token"), "{err}");
    accepted(
        "[server]\ncors_origins = [\"*\"]\n\
         [descope]\ndemo_mode = false\nproject_id = \"P2abc\"\n",
    );
}

#[test]
fn no_allowed_hosts_without_a_public_url_is_refused() {
    let err = refusal("[server]\nallowed_hosts = []\n");
    assert!(err.starts_with("ALLOWED_HOSTS"), "{err}");
    assert!(err.contains("set PUBLIC_URL"), "{err}");
    accepted("[server]\nallowed_hosts = []\npublic_url = \"http://127.0.0.1:8080\"\n");
}

#[test]
fn demo_mode_on_a_public_address_needs_explicit_consent() {
    let err = refusal("[server]\nhost = \"0.0.0.0\"\n");
    assert!(err.starts_with("DESCOPE_DEMO_MODE"), "{err}");
    assert!(err.contains("DEMO_ALLOW_PUBLIC_BIND"), "{err}");
    accepted("[server]\nhost = \"0.0.0.0\"\n[demo_auth]\nallow_public_bind = true\n");
}

#[test]
fn a_public_url_must_be_a_bare_http_url() {
    for url in [
        "mcp.example.com",
        "ftp://x",
        "https://x/path",
        "https://x?q=1",
    ] {
        let err = refusal(&format!("[server]\npublic_url = \"{url}\"\n"));
        assert!(err.starts_with("PUBLIC_URL"), "{url}: {err}");
    }
    let settings = accepted("[server]\npublic_url = \"https://mcp.example.com/\"\n");
    assert_eq!(
        settings.public_url.as_deref(),
        Some("https://mcp.example.com")
    );
}

#[test]
fn an_invalid_log_filter_is_refused() {
    let err = refusal("[log]\nfilter = \"info,[[\"\n");
    assert!(err.starts_with("RUST_LOG"), "{err}");
}

#[test]
fn an_invalid_allowed_host_is_refused() {
    let err = refusal("[server]\nallowed_hosts = [\"not a host\"]\n");
    assert!(err.starts_with("ALLOWED_HOSTS"), "{err}");
}

#[test]
fn a_hostname_bind_address_is_explained() {
    let err = refusal("[server]\nhost = \"example.com\"\n");
    assert!(err.contains("HOST"), "{err}");
}

#[test]
fn every_problem_is_named_not_just_the_first() {
    let raw = from_toml(
        "[jwt]\nalgorithm = \"HS256\"\nverify_expiration = false\n\
         [server]\nmax_request_size_mb = 0\npublic_url = \"ftp://x\"\ncors_origins = [\"nope\"]\n",
    )
    .expect("parses");
    let settings: Vec<&str> = raw
        .problems()
        .iter()
        .map(|problem| problem.setting)
        .collect();
    assert_eq!(
        settings,
        [
            "JWT_ALGORITHM",
            "JWT_VERIFY_EXPIRATION",
            "PUBLIC_URL",
            "MAX_REQUEST_SIZE_MB",
            "CORS_ORIGINS"
        ]
    );
    let err = Settings::from_raw(&raw, serde_json::Value::Null)
        .expect_err("refused")
        .to_string();
    assert!(
        err.starts_with("5 settings cannot be used:\n  JWT_ALGORITHM: "),
        "{err}"
    );
    assert!(
        err.contains("\n  CORS_ORIGINS: `nope` is not an origin"),
        "{err}"
    );
}

#[test]
fn a_redis_url_must_be_one_and_is_never_echoed() {
    let message = refusal("[redis]\nurl = \"http://user:hunter2@cache:6379\"\n");
    assert!(
        message.starts_with("REDIS_URL: is not a Redis URL"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    let settings = accepted("[redis]\nurl = \"rediss://:hunter2@cache:6380/1\"\n");
    let redis = settings.redis.as_ref().expect("a Redis");
    assert_eq!(redis.url, "rediss://:hunter2@cache:6380/1");
    assert!(!format!("{settings:?}").contains("hunter2"));
    assert!(accepted("").redis.is_none());
}

#[test]
fn policies_from_redis_need_a_redis() {
    assert_eq!(
        refusal("[policies]\nsource = \"redis\"\n"),
        "POLICY_SOURCE: is `redis`, which needs REDIS_URL: set REDIS_URL, or POLICY_SOURCE=directory"
    );
    let settings =
        accepted("[policies]\nsource = \"redis\"\n[redis]\nurl = \"redis://localhost\"\n");
    assert_eq!(settings.policy_source, super::PolicySource::Redis);
}

#[test]
fn a_redis_failure_mode_is_closed_or_open() {
    let settings = accepted("[redis]\nurl = \"redis://localhost\"\nfailure = \"open\"\n");
    assert_eq!(
        settings.redis.expect("a Redis").failure,
        super::RedisFailure::Open
    );
    assert!(from_toml("[redis]\nfailure = \"sometimes\"\n").is_err());
}

#[test]
fn metrics_settings_are_checked_and_the_token_never_shown() {
    assert_eq!(
        refusal("[metrics]\naddr = \"metrics.local\"\n"),
        "METRICS_ADDR: `metrics.local` is not an address and port to listen on; write one such as 127.0.0.1:9090, or leave it empty"
    );
    let short = refusal("[metrics]\ntoken = \"short\"\n");
    assert!(short.starts_with("METRICS_TOKEN: is 5 bytes"), "{short}");
    assert!(!short.contains("short\""), "{short}");
    let token = "m".repeat(40);
    let settings = accepted(&format!(
        "[metrics]\naddr = \"127.0.0.1:9090\"\ntoken = \"{token}\"\n"
    ));
    assert_eq!(
        settings.metrics_addr,
        Some("127.0.0.1:9090".parse().expect("an address"))
    );
    assert!(!format!("{settings:?}").contains(&token));
}
