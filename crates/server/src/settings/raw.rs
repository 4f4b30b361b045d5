//! The configuration as written: the embedded defaults, an optional file,
//! then the environment, deserialized but not yet parsed; and the one
//! parser of each setting, which [`super::Settings`] and `doctor` both use.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use core_auth::DemoPrincipalConfig;
use demo_oauth::AccessKey;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use super::env::{environment, load_dotenv};
use super::hosts::AllowedHost;
use super::{ConfigError, CorsPolicy, DEFAULT_TOML, Problem, TraceSettings, TrustedProxy};

/// Project ids from examples and guides, which are never a real project.
const PLACEHOLDER_PROJECT_IDS: &[&str] = &[
    "",
    "test_project",
    "your_actual_project_id_here",
    "your_project_id",
];

/// The whole configuration, as written.
/// The fewest bytes `APPROVAL_KEY` may have: an HMAC-SHA256 key shorter
/// than its output weakens it.
pub(crate) const MIN_APPROVAL_KEY_BYTES: usize = 32;

/// The longest `APPROVAL_TTL_SECS` may be: a day.
pub(crate) const MAX_APPROVAL_TTL_SECS: u64 = 86_400;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    pub(crate) server: ServerSection,
    pub(crate) descope: DescopeSection,
    pub(crate) jwt: JwtSection,
    pub(crate) token_cache: TokenCacheSection,
    pub(crate) demo_auth: DemoAuthSection,
    pub(crate) demo: DemoPrincipalConfig,
    pub(crate) plugins: PluginsSection,
    pub(crate) policies: PoliciesSection,
    pub(crate) audit: AuditSection,
    pub(crate) approvals: ApprovalsSection,
    pub(crate) redis: RedisSection,
    pub(crate) metrics: MetricsSection,
    pub(crate) tracing: TracingSection,
    pub(crate) log: LogSection,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TracingSection {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: empty exports nothing.
    pub(crate) endpoint: String,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub(crate) protocol: String,
    /// `OTEL_SERVICE_NAME`.
    pub(crate) service_name: String,
    /// `OTEL_TRACES_SAMPLER_ARG`.
    pub(crate) sample_ratio: f64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsSection {
    /// `METRICS_ADDR`: a listener of its own for `/metrics`; empty for none.
    pub(crate) addr: String,
    /// `METRICS_TOKEN`: `/metrics` on the main port for this bearer token;
    /// empty for none.
    pub(crate) token: String,
}

impl std::fmt::Debug for MetricsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSection")
            .field("addr", &self.addr)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// The fewest bytes `METRICS_TOKEN` may have.
pub(crate) const MIN_METRICS_TOKEN_BYTES: usize = 32;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedisSection {
    /// `REDIS_URL`: empty keeps everything in this process.
    pub(crate) url: String,
    /// `REDIS_KEY_PREFIX`.
    pub(crate) key_prefix: String,
    /// `REDIS_FAILURE`.
    pub(crate) failure: RedisFailure,
}

impl std::fmt::Debug for RedisSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RedisSection")
            .field(
                "url",
                &if self.url.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("key_prefix", &self.key_prefix)
            .field("failure", &self.failure)
            .finish()
    }
}

/// What requests meet while Redis is unreachable (`REDIS_FAILURE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RedisFailure {
    /// 503 until Redis is back: limits and revocations hold or nothing is
    /// served.
    Closed,
    /// Served, with each replica's own limits and without revocation
    /// checks, until Redis is back.
    Open,
}

/// Where replicas take the policy set from (`POLICY_SOURCE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PolicySource {
    /// Each replica's own `POLICY_DIR`.
    Directory,
    /// The bundle the last replica to load a set stored in Redis.
    Redis,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApprovalsSection {
    /// `APPROVAL_KEY`: the secret that seals `requestState`; empty keeps
    /// one in `DATA_DIR`.
    pub(crate) key: String,
    /// `APPROVAL_TTL_SECS`.
    pub(crate) ttl_secs: u64,
}

impl std::fmt::Debug for ApprovalsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalsSection")
            .field(
                "key",
                &if self.key.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditSection {
    pub(crate) file: PathBuf,
    pub(crate) recent: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) max_request_size_mb: u64,
    pub(crate) rate_limit_per_minute: u32,
    pub(crate) rate_limit_public_per_minute: u32,
    pub(crate) rate_limit_per_tool: std::collections::BTreeMap<String, u32>,
    pub(crate) trusted_proxies: Vec<String>,
    pub(crate) challenge_scopes: Vec<String>,
    pub(crate) max_tool_calls_per_request: u32,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) public_url: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DescopeSection {
    pub(crate) project_id: String,
    pub(crate) demo_mode: bool,
    pub(crate) base_url: String,
    pub(crate) jwks_url: String,
    pub(crate) jwks_refetch_interval_secs: u64,
    pub(crate) jwks_refresh_secs: u64,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) mcp_server_id: String,
}

impl std::fmt::Debug for DescopeSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescopeSection")
            .field("project_id", &self.project_id)
            .field("demo_mode", &self.demo_mode)
            .field("base_url", &self.base_url)
            .field("jwks_url", &self.jwks_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("mcp_server_id", &self.mcp_server_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JwtSection {
    pub(crate) algorithm: String,
    pub(crate) verify_expiration: bool,
    pub(crate) require_claims: Vec<String>,
    pub(crate) leeway_secs: u64,
    pub(crate) max_token_age_hours: u64,
    pub(crate) extra_issuers: Vec<String>,
    pub(crate) max_token_bytes: usize,
    pub(crate) accept_project_audience: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenCacheSection {
    pub(crate) ttl_secs: u64,
    pub(crate) capacity: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DemoAuthSection {
    pub(crate) data_dir: PathBuf,
    pub(crate) allow_public_bind: bool,
    pub(crate) access_token_ttl_secs: u64,
    pub(crate) enable_token_refresh: bool,
    pub(crate) refresh_token_ttl_secs: u64,
    pub(crate) access_keys: Vec<AccessKey>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginsSection {
    pub(crate) dir: PathBuf,
    pub(crate) allow: Vec<String>,
    pub(crate) sha256: std::collections::BTreeMap<String, String>,
    pub(crate) timeout_secs: u64,
    pub(crate) tool_timeouts: std::collections::BTreeMap<String, u64>,
    pub(crate) max_input_bytes: usize,
    pub(crate) max_concurrency: usize,
}

impl PluginsSection {
    /// What the plugin host needs to know to load and call plugins.
    pub(crate) fn load_options(&self) -> plugin_host::LoadOptions {
        plugin_host::LoadOptions {
            allow: self.allow.clone(),
            sha256: self.sha256.clone(),
            timeout: std::time::Duration::from_secs(self.timeout_secs),
            tool_timeouts: self
                .tool_timeouts
                .iter()
                .map(|(tool, secs)| (tool.clone(), std::time::Duration::from_secs(*secs)))
                .collect(),
            max_input_bytes: self.max_input_bytes,
            // 0 stands for the default, which depends on the machine.
            max_concurrency: match self.max_concurrency {
                0 => plugin_host::default_max_concurrency(),
                given => given,
            },
            ..plugin_host::LoadOptions::default()
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoliciesSection {
    pub(crate) dir: PathBuf,
    pub(crate) watch: bool,
    pub(crate) source: PolicySource,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    pub(crate) filter: String,
    pub(crate) format: LogFormat,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Raw {
    /// How traces are exported; `None` without `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub(crate) fn traces(&self) -> Result<Option<TraceSettings>, Problem> {
        let tracing = &self.tracing;
        let endpoint = tracing.endpoint.trim();
        if endpoint.is_empty() {
            return Ok(None);
        }
        let url = url::Url::parse(endpoint)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        if url.is_none() {
            return Err(Problem::new(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "is not an http(s) URL; give the collector's OTLP/HTTP base URL, such as http://otel-collector:4318 (traces go to /v1/traces under it)",
            ));
        }
        let json = match tracing.protocol.trim() {
            "http/protobuf" => false,
            "http/json" => true,
            other => {
                return Err(Problem::new(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    format!(
                        "`{}` is not supported; use http/protobuf (the default) or http/json",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
            }
        };
        if !(0.0..=1.0).contains(&tracing.sample_ratio) {
            return Err(Problem::new(
                "OTEL_TRACES_SAMPLER_ARG",
                format!(
                    "is {}; it is the share of traces recorded, from 0 to 1",
                    tracing.sample_ratio
                ),
            ));
        }
        Ok(Some(TraceSettings {
            endpoint: endpoint.to_owned(),
            json,
            service_name: tracing.service_name.trim().to_owned(),
            sample_ratio: tracing.sample_ratio,
        }))
    }

    /// `METRICS_ADDR`, parsed; `None` when empty.
    pub(crate) fn metrics_addr(&self) -> Result<Option<SocketAddr>, Problem> {
        let addr = self.metrics.addr.trim();
        if addr.is_empty() {
            return Ok(None);
        }
        addr.parse().map(Some).map_err(|_| {
            Problem::new(
                "METRICS_ADDR",
                format!(
                    "`{}` is not an address and port to listen on; write one such as 127.0.0.1:9090, or leave it empty",
                    addr.chars().take(100).collect::<String>()
                ),
            )
        })
    }

    /// `REDIS_URL`, trimmed; `None` when empty.
    pub(crate) fn redis_url(&self) -> Result<Option<String>, Problem> {
        let url = self.redis.url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        match scheme {
            Some("redis" | "rediss") if url.len() > scheme.map_or(0, str::len) + 3 => {
                Ok(Some(url.to_owned()))
            }
            // Never echo the value: it may hold a password.
            _ => Err(Problem::new(
                "REDIS_URL",
                "is not a Redis URL; write redis://[user:password@]host:port[/db], or rediss:// for TLS",
            )),
        }
    }

    /// Reads the configuration: defaults, then `file` if given, then `.env`
    /// (from the working directory, if present) and the environment.
    pub(crate) fn read(file: Option<&Path>) -> Result<(Self, Figment), ConfigError> {
        load_dotenv()?;
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Invalid(vec![Problem::new(
                    "--config",
                    format!("{} is not a readable file", file.display()),
                )]));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(environment());
        let config: Raw = figment.extract().map_err(ConfigError::from_figment)?;
        Ok((config, figment))
    }

    /// Where Descope's signing keys are fetched: `DESCOPE_JWKS_URL`, or the
    /// project's JWKS under `DESCOPE_BASE_URL`; refused, naming the setting
    /// it came from, unless it is https or on a loopback host.
    pub(crate) fn jwks_url(&self) -> Result<String, Problem> {
        let configured = self.descope.jwks_url.trim();
        if configured.is_empty() {
            let url = format!(
                "{}/{}/.well-known/jwks.json",
                self.descope.base_url.trim_end_matches('/'),
                self.descope.project_id.trim()
            );
            core_auth::check_jwks_url(&url).map_err(|err| {
                Problem::new(
                    "DESCOPE_BASE_URL",
                    format!(
                        "the signing keys are fetched from under it, and {err}; or set \
                         DESCOPE_JWKS_URL"
                    ),
                )
            })?;
            Ok(url)
        } else {
            core_auth::check_jwks_url(configured)
                .map_err(|err| Problem::new("DESCOPE_JWKS_URL", err.to_string()))?;
            Ok(configured.to_owned())
        }
    }

    /// `DESCOPE_BASE_URL` without a trailing slash.
    pub(crate) fn descope_base_url(&self) -> String {
        self.descope.base_url.trim_end_matches('/').to_owned()
    }

    /// Whether `DESCOPE_PROJECT_ID` is empty or an example value.
    pub(crate) fn project_id_is_placeholder(&self) -> bool {
        PLACEHOLDER_PROJECT_IDS.contains(&self.descope.project_id.trim())
    }

    /// Every reason the server would refuse these settings, not just the
    /// first: the start-up check and `doctor` both read this list.
    pub(crate) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |outcome: Result<(), Problem>| {
            if let Err(problem) = outcome {
                problems.push(problem);
            }
        };
        check(self.algorithms().map(drop));
        if !self.jwt.verify_expiration {
            check(Err(Problem::new(
                "JWT_VERIFY_EXPIRATION",
                "false would accept expired tokens forever; it is refused",
            )));
        }
        check(self.demo_bind());
        if !self.descope.demo_mode && self.project_id_is_placeholder() {
            check(Err(Problem::new(
                "DESCOPE_PROJECT_ID",
                format!(
                    "`{}` is a placeholder; set your Descope project id \
                     (Descope console, Project Settings), or DESCOPE_DEMO_MODE=true for local use",
                    self.descope.project_id.trim()
                ),
            )));
        }
        if !self.descope.demo_mode {
            // Demo mode verifies with its own key and fetches none.
            check(self.jwks_url().map(drop));
        }
        check(self.public_url().map(drop));
        check(self.mcp_server_id().map(drop));
        if self.server.max_request_size_mb == 0 {
            check(Err(Problem::new(
                "MAX_REQUEST_SIZE_MB",
                "must be at least 1",
            )));
        }
        if !self.approvals.key.is_empty() && self.approvals.key.len() < MIN_APPROVAL_KEY_BYTES {
            check(Err(Problem::new(
                "APPROVAL_KEY",
                format!(
                    "is {} bytes; it must be at least {MIN_APPROVAL_KEY_BYTES} random bytes (for example the output of `openssl rand -base64 48`), or empty to keep a generated key in DATA_DIR",
                    self.approvals.key.len()
                ),
            )));
        }
        if !(1..=MAX_APPROVAL_TTL_SECS).contains(&self.approvals.ttl_secs) {
            check(Err(Problem::new(
                "APPROVAL_TTL_SECS",
                format!(
                    "is {}; it must be between 1 and {MAX_APPROVAL_TTL_SECS} (a day): it is how long a person has to answer an approval or input request",
                    self.approvals.ttl_secs
                ),
            )));
        }
        check(self.redis_url().map(drop));
        check(self.metrics_addr().map(drop));
        check(self.traces().map(drop));
        if !self.metrics.token.is_empty() && self.metrics.token.len() < MIN_METRICS_TOKEN_BYTES {
            check(Err(Problem::new(
                "METRICS_TOKEN",
                format!(
                    "is {} bytes; it must be at least {MIN_METRICS_TOKEN_BYTES} random bytes (for example the output of `openssl rand -hex 32`), or empty",
                    self.metrics.token.len()
                ),
            )));
        }
        if self.policies.source == PolicySource::Redis && self.redis.url.trim().is_empty() {
            check(Err(Problem::new(
                "POLICY_SOURCE",
                "is `redis`, which needs REDIS_URL: set REDIS_URL, or POLICY_SOURCE=directory",
            )));
        }
        if self.redis.key_prefix.trim().is_empty() {
            check(Err(Problem::new(
                "REDIS_KEY_PREFIX",
                "must not be empty: every key the server keeps in Redis starts with it",
            )));
        }
        for (tool, per_minute) in &self.server.rate_limit_per_tool {
            if *per_minute == 0 {
                check(Err(Problem::new(
                    "RATE_LIMIT_PER_TOOL",
                    format!(
                        "gives `{}` 0 calls per minute; give it at least 1, or leave it out to limit it only by RATE_LIMIT_PER_MINUTE",
                        tool.chars().take(100).collect::<String>()
                    ),
                )));
            }
        }
        if self.server.max_tool_calls_per_request == 0 {
            check(Err(Problem::new(
                "MAX_TOOL_CALLS_PER_REQUEST",
                "must be at least 1: every request makes at least the call it asks for",
            )));
        }
        if self.demo.token.trim().is_empty() {
            check(Err(Problem::new(
                "demo.token",
                "the demo token must not be empty",
            )));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            check(Err(Problem::new(
                "RUST_LOG",
                format!(
                    "`{}` is not a valid log filter; use for example `info` or `orchestrator_mcp=debug,info`",
                    self.log.filter
                ),
            )));
        }
        check(self.allowed_hosts().map(drop));
        check(self.cors_origins().map(drop));
        check(self.trusted_proxies().map(drop));
        check(self.own_url_known());
        check(self.bind_address().map(drop));
        problems
    }

    /// Demo mode accepts a public token, so it binds loopback only unless
    /// told otherwise. (A `HOST` that does not parse is its own problem.)
    fn demo_bind(&self) -> Result<(), Problem> {
        let Ok(address) = self.bind_address() else {
            return Ok(());
        };
        if self.descope.demo_mode
            && !address.ip().is_loopback()
            && !self.demo_auth.allow_public_bind
        {
            return Err(Problem::new(
                "DESCOPE_DEMO_MODE",
                format!(
                    "demo mode accepts a public demo token, so it listens only on loopback; \
                     HOST={} is not. Set DESCOPE_DEMO_MODE=false with your Descope project, \
                     or DEMO_ALLOW_PUBLIC_BIND=true if you really mean it",
                    self.server.host
                ),
            ));
        }
        Ok(())
    }

    /// `DESCOPE_MCP_SERVER_ID`: this server's id among the project's MCP
    /// servers, if set. It ends the agentic issuer URL, so it is one path
    /// segment.
    pub(crate) fn mcp_server_id(&self) -> Result<Option<String>, Problem> {
        let id = self.descope.mcp_server_id.trim();
        if id.is_empty() {
            return Ok(None);
        }
        if id.contains(['/', '?', '#']) || id.chars().any(char::is_whitespace) {
            return Err(Problem::new(
                "DESCOPE_MCP_SERVER_ID",
                format!(
                    "`{id}` is not a server id; copy the id of this MCP server from the Descope \
                     console (the last segment of its issuer URL)"
                ),
            ));
        }
        Ok(Some(id.to_owned()))
    }

    /// `CORS_ORIGINS`, parsed: which browser origins may call the server.
    pub(crate) fn cors_origins(&self) -> Result<CorsPolicy, Problem> {
        let origins = &self.server.cors_origins;
        if origins.iter().any(|origin| origin == "*") {
            if origins.len() > 1 {
                return Err(Problem::new(
                    "CORS_ORIGINS",
                    "`*` allows every origin; list it alone or list origins instead",
                ));
            }
            if self.descope.demo_mode {
                return Err(Problem::new(
                    "CORS_ORIGINS",
                    "`*` lets every web page call the server, and demo mode accepts a public \
                     demo token, so any page could call your tools; list the origins you use \
                     (such as http://localhost:6274) or set DESCOPE_DEMO_MODE=false",
                ));
            }
            return Ok(CorsPolicy::AnyOrigin);
        }
        if origins.is_empty() {
            return Ok(CorsPolicy::NoOrigin);
        }
        origins
            .iter()
            .map(|origin| {
                cors_origin(origin)
                    .and_then(|normalized| http::HeaderValue::from_str(&normalized).ok())
                    .ok_or_else(|| {
                    Problem::new(
                        "CORS_ORIGINS",
                        format!(
                            "`{origin}` is not an origin; write scheme, host and port only, such as \
                             https://inspector.example.com or http://localhost:6274"
                        ),
                    )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(CorsPolicy::Origins)
    }

    /// The server must know the URLs it is reached at: tokens are accepted
    /// only when issued for one of them, and the Origin check compares
    /// against them. With neither `PUBLIC_URL` nor `ALLOWED_HOSTS` it knows
    /// none (and every Host would be believed).
    pub(crate) fn own_url_known(&self) -> Result<(), Problem> {
        let no_public_url = matches!(self.public_url(), Ok(None));
        if no_public_url && self.server.allowed_hosts.is_empty() {
            return Err(Problem::new(
                "ALLOWED_HOSTS",
                "with ALLOWED_HOSTS empty and PUBLIC_URL unset the server cannot tell its own \
                 URL, so no token could name it as its audience and any Host would be believed; \
                 set PUBLIC_URL, or list the host names clients use",
            ));
        }
        Ok(())
    }

    /// `TRUSTED_PROXIES`, parsed.
    pub(crate) fn trusted_proxies(&self) -> Result<Vec<TrustedProxy>, Problem> {
        self.server
            .trusted_proxies
            .iter()
            .map(|entry| {
                TrustedProxy::parse(entry).ok_or_else(|| {
                    Problem::new(
                        "TRUSTED_PROXIES",
                        format!(
                            "`{entry}` is not an IP address or a network; write addresses or \
                             CIDR networks, such as 10.0.0.7 or 10.0.0.0/8"
                        ),
                    )
                })
            })
            .collect()
    }

    /// `ALLOWED_HOSTS`, parsed.
    pub(crate) fn allowed_hosts(&self) -> Result<Vec<AllowedHost>, Problem> {
        self.server
            .allowed_hosts
            .iter()
            .map(|entry| {
                AllowedHost::parse(entry).ok_or_else(|| {
                    Problem::new(
                        "ALLOWED_HOSTS",
                        format!("`{entry}` is not a host name, address or host:port"),
                    )
                })
            })
            .collect()
    }

    /// `JWT_ALGORITHM`, parsed: RSA algorithms only.
    pub(crate) fn algorithms(&self) -> Result<Vec<core_auth::Algorithm>, Problem> {
        let invalid = |message: String| Problem::new("JWT_ALGORITHM", message);
        let mut algorithms = Vec::new();
        for name in self
            .jwt
            .algorithm
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let upper = name.to_ascii_uppercase();
            if upper.starts_with("HS") {
                return Err(invalid(format!(
                    "`{name}` is an HMAC algorithm: it would let anyone holding the public key \
                     sign tokens; use RS256"
                )));
            }
            let algorithm: core_auth::Algorithm = upper
                .parse()
                .map_err(|_| invalid(format!("`{name}` is not a JWT algorithm; use RS256")))?;
            if !upper.starts_with("RS") && !upper.starts_with("PS") {
                return Err(invalid(format!(
                    "`{name}` is not supported; Descope signs with RSA: use RS256"
                )));
            }
            algorithms.push(algorithm);
        }
        if algorithms.is_empty() {
            return Err(invalid("no algorithm given; use RS256".to_owned()));
        }
        Ok(algorithms)
    }

    /// `PUBLIC_URL` without a trailing slash, if set.
    pub(crate) fn public_url(&self) -> Result<Option<String>, Problem> {
        let url = self.server.public_url.trim().trim_end_matches('/');
        if url.is_empty() {
            return Ok(None);
        }
        let invalid = || {
            Problem::new(
                "PUBLIC_URL",
                format!(
                    "`{url}` is not an http(s) URL without path, query or fragment, \
                     like https://mcp.example.com"
                ),
            )
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid())?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let bare = uri.path() == "/" || uri.path().is_empty();
        if !scheme_ok
            || uri.authority().is_none()
            || !bare
            || uri.query().is_some()
            || url.contains('#')
        {
            return Err(invalid());
        }
        Ok(Some(url.to_owned()))
    }

    /// The socket address to listen on.
    pub(crate) fn bind_address(&self) -> Result<SocketAddr, Problem> {
        let host = self.server.host.trim_matches(['[', ']']);
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse().map_err(|_| {
                Problem::new(
                    "HOST",
                    format!(
                        "`{}` is not an IP address; use for example 127.0.0.1 or 0.0.0.0",
                        self.server.host
                    ),
                )
            })?
        };
        Ok(SocketAddr::new(ip, self.server.port))
    }

    /// The request body limit in bytes.
    pub(crate) fn max_request_bytes(&self) -> usize {
        let bytes = self.server.max_request_size_mb.saturating_mul(1024 * 1024);
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// The plugin directory: as configured, or the executable's directory.
    pub(crate) fn plugin_dir(&self) -> Result<PathBuf, Problem> {
        plugin_dir(&self.plugins.dir)
    }
}

/// `PLUGIN_DIR` as configured, or the executable's directory when it is
/// empty; resolved when plugins are loaded, so commands that load none
/// (`healthcheck`, `doctor`) never need it.
pub(crate) fn plugin_dir(configured: &Path) -> Result<PathBuf, Problem> {
    if !configured.as_os_str().is_empty() {
        return Ok(configured.to_owned());
    }
    let unknown = |why: String| {
        Problem::new(
            "PLUGIN_DIR",
            format!("is not set, and the executable's directory is unknown ({why}); set it"),
        )
    };
    let exe = std::env::current_exe().map_err(|err| unknown(err.to_string()))?;
    exe.parent()
        .map(Path::to_owned)
        .ok_or_else(|| unknown("the executable has no parent directory".to_owned()))
}

/// `origin` as a browser sends it in `Origin` (`https://host[:port]`,
/// lower-case, default port left out), if it is one.
pub(crate) fn cors_origin(origin: &str) -> Option<String> {
    let uri: axum::http::Uri = origin.parse().ok()?;
    let scheme = uri.scheme_str().filter(|s| *s == "https" || *s == "http")?;
    let authority = uri.authority()?;
    let bare = uri
        .path_and_query()
        .is_none_or(|path| path.as_str() == "/" || path.as_str().is_empty());
    if !bare || origin.ends_with('/') || authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    Some(match authority.port_u16() {
        Some(port) if !matches!((scheme, port), ("https", 443) | ("http", 80)) => {
            format!("{scheme}://{host}:{port}")
        }
        _ => format!("{scheme}://{host}"),
    })
}
