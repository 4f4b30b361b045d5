//! The environment: every variable the server reads, the setting each one
//! sets, and `.env` files.

use figment::value::{Dict, Value};
use figment::{Metadata, Profile, Provider};

use super::ConfigError;

/// How an environment variable's text becomes a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnvValue {
    /// Taken as written: `DESCOPE_PROJECT_ID=12345` is an id, not a number.
    Text,
    /// Parsed as a TOML-like value: numbers, booleans, `["a", "b"]` lists.
    Parsed,
}

/// Every environment variable the server reads, and the setting it sets.
///
/// The names are the configuration guide's; they are a user-facing contract.
pub(crate) const ENV_VARS: &[(&str, &str, EnvValue)] = &[
    ("HOST", "server.host", EnvValue::Text),
    ("PUBLIC_URL", "server.public_url", EnvValue::Text),
    ("PORT", "server.port", EnvValue::Parsed),
    (
        "MAX_REQUEST_SIZE_MB",
        "server.max_request_size_mb",
        EnvValue::Parsed,
    ),
    ("ALLOWED_HOSTS", "server.allowed_hosts", EnvValue::Parsed),
    (
        "RATE_LIMIT_PER_MINUTE",
        "server.rate_limit_per_minute",
        EnvValue::Parsed,
    ),
    (
        "RATE_LIMIT_PUBLIC_PER_MINUTE",
        "server.rate_limit_public_per_minute",
        EnvValue::Parsed,
    ),
    (
        "RATE_LIMIT_PER_TOOL",
        "server.rate_limit_per_tool",
        EnvValue::Parsed,
    ),
    (
        "CHALLENGE_SCOPES",
        "server.challenge_scopes",
        EnvValue::Parsed,
    ),
    (
        "TRUSTED_PROXIES",
        "server.trusted_proxies",
        EnvValue::Parsed,
    ),
    (
        "MAX_TOOL_CALLS_PER_REQUEST",
        "server.max_tool_calls_per_request",
        EnvValue::Parsed,
    ),
    ("CORS_ORIGINS", "server.cors_origins", EnvValue::Parsed),
    ("APPROVAL_KEY", "approvals.key", EnvValue::Text),
    ("APPROVAL_TTL_SECS", "approvals.ttl_secs", EnvValue::Parsed),
    ("DESCOPE_PROJECT_ID", "descope.project_id", EnvValue::Text),
    ("DESCOPE_DEMO_MODE", "descope.demo_mode", EnvValue::Parsed),
    ("DESCOPE_BASE_URL", "descope.base_url", EnvValue::Text),
    ("DESCOPE_JWKS_URL", "descope.jwks_url", EnvValue::Text),
    ("DESCOPE_CLIENT_ID", "descope.client_id", EnvValue::Text),
    (
        "DESCOPE_MCP_SERVER_ID",
        "descope.mcp_server_id",
        EnvValue::Text,
    ),
    (
        "JWT_ACCEPT_PROJECT_AUDIENCE",
        "jwt.accept_project_audience",
        EnvValue::Parsed,
    ),
    (
        "DESCOPE_CLIENT_SECRET",
        "descope.client_secret",
        EnvValue::Text,
    ),
    (
        "JWKS_REFETCH_INTERVAL_SECS",
        "descope.jwks_refetch_interval_secs",
        EnvValue::Parsed,
    ),
    (
        "JWKS_REFRESH_SECS",
        "descope.jwks_refresh_secs",
        EnvValue::Parsed,
    ),
    ("JWT_ALGORITHM", "jwt.algorithm", EnvValue::Text),
    (
        "JWT_VERIFY_EXPIRATION",
        "jwt.verify_expiration",
        EnvValue::Parsed,
    ),
    ("JWT_REQUIRE_CLAIMS", "jwt.require_claims", EnvValue::Parsed),
    ("JWT_LEEWAY_SECS", "jwt.leeway_secs", EnvValue::Parsed),
    (
        "MAX_TOKEN_AGE_HOURS",
        "jwt.max_token_age_hours",
        EnvValue::Parsed,
    ),
    ("JWT_EXTRA_ISSUERS", "jwt.extra_issuers", EnvValue::Parsed),
    ("TOKEN_CACHE_TTL", "token_cache.ttl_secs", EnvValue::Parsed),
    ("TOKEN_CACHE_SIZE", "token_cache.capacity", EnvValue::Parsed),
    ("DATA_DIR", "demo_auth.data_dir", EnvValue::Text),
    (
        "ENABLE_TOKEN_REFRESH",
        "demo_auth.enable_token_refresh",
        EnvValue::Parsed,
    ),
    (
        "DEMO_ALLOW_PUBLIC_BIND",
        "demo_auth.allow_public_bind",
        EnvValue::Parsed,
    ),
    ("PLUGIN_DIR", "plugins.dir", EnvValue::Text),
    ("PLUGIN_ALLOW", "plugins.allow", EnvValue::Parsed),
    ("PLUGIN_SHA256", "plugins.sha256", EnvValue::Parsed),
    (
        "PLUGIN_TIMEOUT_SECS",
        "plugins.timeout_secs",
        EnvValue::Parsed,
    ),
    (
        "PLUGIN_TOOL_TIMEOUTS",
        "plugins.tool_timeouts",
        EnvValue::Parsed,
    ),
    (
        "PLUGIN_MAX_INPUT_BYTES",
        "plugins.max_input_bytes",
        EnvValue::Parsed,
    ),
    (
        "PLUGIN_MAX_CONCURRENCY",
        "plugins.max_concurrency",
        EnvValue::Parsed,
    ),
    ("POLICY_DIR", "policies.dir", EnvValue::Text),
    ("POLICY_WATCH", "policies.watch", EnvValue::Parsed),
    ("POLICY_SOURCE", "policies.source", EnvValue::Text),
    ("REDIS_URL", "redis.url", EnvValue::Text),
    ("REDIS_KEY_PREFIX", "redis.key_prefix", EnvValue::Text),
    ("REDIS_FAILURE", "redis.failure", EnvValue::Text),
    ("METRICS_ADDR", "metrics.addr", EnvValue::Text),
    ("METRICS_TOKEN", "metrics.token", EnvValue::Text),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "tracing.endpoint",
        EnvValue::Text,
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "tracing.protocol",
        EnvValue::Text,
    ),
    ("OTEL_SERVICE_NAME", "tracing.service_name", EnvValue::Text),
    (
        "OTEL_TRACES_SAMPLER_ARG",
        "tracing.sample_ratio",
        EnvValue::Parsed,
    ),
    ("AUDIT_LOG_FILE", "audit.file", EnvValue::Text),
    ("AUDIT_RECENT", "audit.recent", EnvValue::Parsed),
    ("RUST_LOG", "log.filter", EnvValue::Text),
    ("LOG_FORMAT", "log.format", EnvValue::Text),
];

/// The environment variables in [`ENV_VARS`], mapped to their settings.
pub(super) struct Environment;

pub(super) fn environment() -> Environment {
    Environment
}

/// `text` without one pair of matching outer quotes. A `.env` file's quotes
/// are removed by whoever reads it as a `.env` file, but `docker run
/// --env-file` and platform settings pages pass them on as part of the
/// value; a quoted value means the same either way.
fn unquoted(text: &str) -> String {
    for quote in ['\'', '"'] {
        if let Some(inner) = text
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner.to_owned();
        }
    }
    text.to_owned()
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable(s)")
    }

    fn data(&self) -> Result<figment::value::Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, path, kind) in ENV_VARS {
            let Some(raw) = std::env::var_os(name) else {
                continue;
            };
            let text = raw
                .into_string()
                .map_err(|_| figment::Error::from(format!("{name} is not valid UTF-8")))?;
            let text = unquoted(&text);
            let value = match kind {
                EnvValue::Text => Value::from(text),
                EnvValue::Parsed => text.parse().unwrap_or_else(|never| match never {}),
            };
            // Every path is `section.key`; the test below holds each to it.
            let Some((section, key)) = path.split_once('.') else {
                continue;
            };
            if let Value::Dict(_, inner) = dict
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()))
            {
                inner.insert(key.to_owned(), value);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Reads `.env` from the working directory into the environment, without
/// overriding variables that are already set.
pub(super) fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(ConfigError::DotEnv(err.to_string())),
    }
}
