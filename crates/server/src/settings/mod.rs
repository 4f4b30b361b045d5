//! Settings: read once from the embedded defaults, an optional file and the
//! environment, checked once (every problem, not just the first), and held
//! parsed, so nothing parses a setting again. The bottom layer: it imports
//! no other module of the server.

mod env;
mod hosts;
mod proxies;
mod raw;
mod redact;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use core_auth::{Algorithm, DemoPrincipalConfig};
use demo_oauth::AccessKey;

pub(crate) use env::ENV_VARS;
pub(crate) use hosts::{AllowedHost, admits as hosts_admit};
pub(crate) use proxies::{TrustedProxy, trusts};
pub(crate) use raw::{LogFormat, PolicySource, Raw, RedisFailure, cors_origin};

use redact::redact;

/// `config/default.toml`, compiled in so the binary runs from anywhere.
pub(crate) const DEFAULT_TOML: &str = include_str!("../../../../config/default.toml");

/// One setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable (or key) at fault, as the user writes it.
    pub setting: &'static str,
    /// What is wrong with it, and what to set instead.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            setting,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for Problem {}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting does not parse; each one is named as the user wrote it.
    #[error("invalid configuration: {0}")]
    Figment(String),
    /// The `.env` file in the working directory cannot be read.
    #[error("cannot read .env file: {0}")]
    DotEnv(String),
    /// Settings that parse but cannot be used: every one of them.
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let lines: Vec<String> = many.iter().map(|problem| format!("  {problem}")).collect();
            format!(
                "{} settings cannot be used:\n{}",
                many.len(),
                lines.join("\n")
            )
        }
    }
}

impl ConfigError {
    /// Names each failing setting as the user wrote it: the environment
    /// variable when it came from the environment, the dotted key otherwise.
    fn from_figment(err: figment::Error) -> Self {
        let messages: Vec<String> = err
            .into_iter()
            .map(|error| {
                let key = error.path.join(".");
                let from_env = error
                    .metadata
                    .as_ref()
                    .is_some_and(|m| m.name.contains("environment"));
                let variable = ENV_VARS
                    .iter()
                    .find(|(_, path, _)| path.eq_ignore_ascii_case(&key))
                    .map(|(name, _, _)| *name);
                let setting = match (from_env, variable) {
                    (true, Some(variable)) => variable.to_owned(),
                    _ if key.is_empty() => "configuration".to_owned(),
                    _ => key,
                };
                let source = error
                    .metadata
                    .as_ref()
                    .and_then(|m| m.source.as_ref())
                    .map(|source| format!(" (in {source})"))
                    .unwrap_or_default();
                format!("{setting}: {}{source}", error.kind)
            })
            .collect();
        Self::Figment(messages.join("; "))
    }
}

/// The settings the server runs with, parsed and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `HOST` and `PORT`.
    pub(crate) bind: SocketAddr,
    /// `PUBLIC_URL`, without a trailing slash.
    pub(crate) public_url: Option<String>,
    /// `ALLOWED_HOSTS`; empty allows every host.
    pub(crate) allowed_hosts: Vec<AllowedHost>,
    /// `CORS_ORIGINS`.
    pub(crate) cors: CorsPolicy,
    /// `MAX_REQUEST_SIZE_MB`, in bytes.
    pub(crate) max_request_bytes: usize,
    /// `RATE_LIMIT_PER_MINUTE`; 0 turns limiting off.
    pub(crate) rate_limit_per_minute: u32,
    /// `RATE_LIMIT_PUBLIC_PER_MINUTE`: requests per minute per client
    /// address to the routes that need no token; 0 turns it off.
    pub(crate) rate_limit_public_per_minute: u32,
    /// `RATE_LIMIT_PER_TOOL`: calls per minute per caller, by tool name.
    pub(crate) rate_limit_per_tool: std::collections::BTreeMap<String, u32>,
    /// `CHALLENGE_SCOPES`: the scopes a 401 offers; empty for the default.
    pub(crate) challenge_scopes: Vec<String>,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<TrustedProxy>,
    /// `MAX_TOOL_CALLS_PER_REQUEST`: the tool calls one client request may
    /// make, nested ones included.
    pub(crate) max_tool_calls_per_request: u32,
    /// `DESCOPE_PROJECT_ID`, trimmed: the project whose issuers, id and
    /// access keys are accepted.
    pub(crate) project_id: String,
    /// `DESCOPE_BASE_URL`, without a trailing slash.
    pub(crate) descope_base_url: String,
    /// Who issues the tokens the server accepts.
    pub(crate) authority: AuthoritySettings,
    /// How tokens are verified.
    pub(crate) tokens: TokenSettings,
    /// The demo principal the static demo token stands for.
    pub(crate) demo_user: DemoPrincipalConfig,
    /// `PLUGIN_DIR` as written (empty: the executable's directory; see
    /// [`Settings::plugin_dir`]), and how plugins are called.
    pub(crate) plugin_dir_setting: PathBuf,
    pub(crate) plugin_options: plugin_host::LoadOptions,
    /// `POLICY_DIR` and `POLICY_WATCH`.
    pub(crate) policy_dir: PathBuf,
    pub(crate) policy_watch: bool,
    /// `POLICY_SOURCE`.
    pub(crate) policy_source: PolicySource,
    /// `REDIS_URL`, `REDIS_KEY_PREFIX` and `REDIS_FAILURE`; `None` without
    /// a Redis.
    pub(crate) redis: Option<RedisSettings>,
    /// `METRICS_ADDR`: where a listener of its own serves `/metrics`.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` and the rest: how traces are exported,
    /// if they are.
    pub(crate) traces: Option<TraceSettings>,
    /// `METRICS_TOKEN`: the bearer token `/metrics` on the main port takes.
    pub(crate) metrics_token: Option<SecretText>,
    /// `APPROVAL_KEY` (if set), `DATA_DIR` (where a generated one is kept
    /// otherwise) and `APPROVAL_TTL_SECS`.
    pub(crate) approvals: ApprovalSettings,
    /// `AUDIT_LOG_FILE` (if set) and `AUDIT_RECENT`.
    pub(crate) audit_file: Option<PathBuf>,
    pub(crate) audit_recent: usize,
    /// `RUST_LOG` (checked to parse) and `LOG_FORMAT`.
    pub(crate) log_filter: String,
    pub(crate) log_format: LogFormat,
    /// The merged settings as JSON, secrets redacted, for `server_config`.
    pub(crate) effective: Arc<serde_json::Value>,
}

/// Which browser pages may call the server (`CORS_ORIGINS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CorsPolicy {
    /// None: no CORS header is ever sent (`[]`).
    NoOrigin,
    /// Every origin (`["*"]`).
    AnyOrigin,
    /// These origins, as browsers send them (`https://host[:port]`).
    Origins(Vec<http::HeaderValue>),
}

impl CorsPolicy {
    /// Whether a page at `origin` (as [`cors_origin`] normalises it) is
    /// one of the allowed origins.
    pub(crate) fn admits(&self, origin: &str) -> bool {
        match self {
            Self::NoOrigin => false,
            Self::AnyOrigin => true,
            Self::Origins(origins) => origins
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes()),
        }
    }
}

/// How traces are exported.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TraceSettings {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL (traces go to
    /// `<endpoint>/v1/traces`).
    pub(crate) endpoint: String,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` or `http/json`.
    pub(crate) json: bool,
    /// `OTEL_SERVICE_NAME`.
    pub(crate) service_name: String,
    /// `OTEL_TRACES_SAMPLER_ARG`: the share of new traces recorded.
    pub(crate) sample_ratio: f64,
}

/// A secret setting's text: never shown by `Debug`.
#[derive(Clone)]
pub(crate) struct SecretText(pub(crate) String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The Redis replicas share.
#[derive(Clone)]
pub(crate) struct RedisSettings {
    /// `REDIS_URL`; may hold a password, so never shown.
    pub(crate) url: String,
    /// `REDIS_KEY_PREFIX`.
    pub(crate) key_prefix: String,
    /// `REDIS_FAILURE`.
    pub(crate) failure: RedisFailure,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("key_prefix", &self.key_prefix)
            .field("failure", &self.failure)
            .finish()
    }
}

/// How `requestState` (approvals and answers to a tool's questions) is
/// sealed.
#[derive(Clone)]
pub(crate) struct ApprovalSettings {
    /// `APPROVAL_KEY`; `None` keeps a generated key in `data_dir`.
    pub(crate) key: Option<String>,
    /// `DATA_DIR`.
    pub(crate) data_dir: PathBuf,
    /// `APPROVAL_TTL_SECS`: how long a person has to answer.
    pub(crate) ttl: Duration,
}

impl std::fmt::Debug for ApprovalSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalSettings")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Who issues the tokens the server accepts.
#[derive(Clone, Debug)]
pub(crate) enum AuthoritySettings {
    /// The embedded demo authorization server (`DESCOPE_DEMO_MODE=true`).
    Demo(DemoSettings),
    /// Descope.
    Descope(DescopeSettings),
}

/// The demo authorization server's settings.
#[derive(Clone, Debug)]
pub(crate) struct DemoSettings {
    /// `DATA_DIR`, where its signing key is kept.
    pub(crate) data_dir: PathBuf,
    /// The machine credentials it accepts.
    pub(crate) access_keys: Vec<AccessKey>,
    pub(crate) access_ttl: Duration,
    /// `None` when `ENABLE_TOKEN_REFRESH=false`.
    pub(crate) refresh_ttl: Option<Duration>,
}

/// Descope's settings (the project and base URL are [`Settings`]' own).
#[derive(Clone, Debug)]
pub(crate) struct DescopeSettings {
    /// Where the signing keys are fetched.
    pub(crate) jwks_url: String,
    pub(crate) jwks_refetch_interval: Duration,
    pub(crate) jwks_refresh: Duration,
    /// The inbound app the login helper signs in through, if configured.
    pub(crate) login_client: Option<DescopeClient>,
}

/// The OAuth client settings for Descope's inbound app, which the login
/// helper signs people in through.
#[derive(Clone)]
pub(crate) struct DescopeClient {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) authorize_url: String,
    pub(crate) token_url: String,
}

impl std::fmt::Debug for DescopeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescopeClient")
            .field("client_id", &self.client_id)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// How bearer tokens are verified.
#[derive(Clone, Debug)]
pub(crate) struct TokenSettings {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) verify_expiration: bool,
    pub(crate) require_claims: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) max_token_age: Duration,
    pub(crate) extra_issuers: Vec<String>,
    /// `JWT_ACCEPT_PROJECT_AUDIENCE`.
    pub(crate) accept_project_audience: bool,
    /// `DESCOPE_MCP_SERVER_ID`, if set.
    pub(crate) mcp_server_id: Option<String>,
    pub(crate) max_token_bytes: usize,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_capacity: usize,
}

/// The settings as written and every problem with them, for `doctor` and
/// the policy tooling, which report or work around problems instead of
/// refusing to run.
pub(crate) struct Inspection {
    pub(crate) raw: Raw,
    pub(crate) problems: Vec<Problem>,
}

impl Settings {
    /// Reads the settings (defaults, then `file` if given, then `.env` and
    /// the environment) and refuses them, naming every problem, when the
    /// server cannot run with them.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let (raw, figment) = Raw::read(file)?;
        let mut effective: serde_json::Value =
            figment.extract().map_err(ConfigError::from_figment)?;
        redact(&mut effective);
        Self::from_raw(&raw, effective)
    }

    /// The settings as written, with every problem the start-up check
    /// would refuse them for.
    pub(crate) fn inspect(file: Option<&Path>) -> Result<Inspection, ConfigError> {
        let (raw, _) = Raw::read(file)?;
        let problems = raw.problems();
        Ok(Inspection { raw, problems })
    }

    /// Where plugins are loaded from: `PLUGIN_DIR`, or the executable's
    /// directory.
    pub(crate) fn plugin_dir(&self) -> Result<PathBuf, Problem> {
        raw::plugin_dir(&self.plugin_dir_setting)
    }

    fn from_raw(raw: &Raw, effective: serde_json::Value) -> Result<Self, ConfigError> {
        let problems = raw.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        // `problems` ran every parser below and found nothing: these cannot
        // fail now, but are answered as errors rather than unwrapped.
        let invalid = |problem: Problem| ConfigError::Invalid(vec![problem]);
        let secs = Duration::from_secs;
        let authority = if raw.descope.demo_mode {
            let demo = &raw.demo_auth;
            AuthoritySettings::Demo(DemoSettings {
                data_dir: demo.data_dir.clone(),
                access_keys: demo.access_keys.clone(),
                access_ttl: secs(demo.access_token_ttl_secs.max(1)),
                refresh_ttl: demo
                    .enable_token_refresh
                    .then(|| secs(demo.refresh_token_ttl_secs.max(1))),
            })
        } else {
            let descope = &raw.descope;
            let base_url = raw.descope_base_url();
            AuthoritySettings::Descope(DescopeSettings {
                jwks_url: raw.jwks_url().map_err(invalid)?,
                jwks_refetch_interval: secs(descope.jwks_refetch_interval_secs),
                jwks_refresh: secs(descope.jwks_refresh_secs.max(1)),
                login_client: Some(descope.client_id.trim())
                    .filter(|id| !id.is_empty())
                    .map(|client_id| DescopeClient {
                        client_id: client_id.to_owned(),
                        client_secret: Some(descope.client_secret.trim().to_owned())
                            .filter(|secret| !secret.is_empty()),
                        authorize_url: format!("{base_url}/oauth2/v1/apps/authorize"),
                        token_url: format!("{base_url}/oauth2/v1/apps/token"),
                    }),
            })
        };
        let jwt = &raw.jwt;
        Ok(Self {
            bind: raw.bind_address().map_err(invalid)?,
            public_url: raw.public_url().map_err(invalid)?,
            allowed_hosts: raw.allowed_hosts().map_err(invalid)?,
            cors: raw.cors_origins().map_err(invalid)?,
            max_request_bytes: raw.max_request_bytes(),
            rate_limit_per_minute: raw.server.rate_limit_per_minute,
            rate_limit_public_per_minute: raw.server.rate_limit_public_per_minute,
            rate_limit_per_tool: raw.server.rate_limit_per_tool.clone(),
            trusted_proxies: raw.trusted_proxies().map_err(invalid)?,
            challenge_scopes: raw.server.challenge_scopes.clone(),
            max_tool_calls_per_request: raw.server.max_tool_calls_per_request,
            project_id: raw.descope.project_id.trim().to_owned(),
            descope_base_url: raw.descope_base_url(),
            authority,
            tokens: TokenSettings {
                algorithms: raw.algorithms().map_err(invalid)?,
                verify_expiration: jwt.verify_expiration,
                require_claims: jwt.require_claims.clone(),
                leeway: secs(jwt.leeway_secs),
                max_token_age: secs(jwt.max_token_age_hours.saturating_mul(3600)),
                extra_issuers: jwt.extra_issuers.clone(),
                accept_project_audience: jwt.accept_project_audience,
                mcp_server_id: raw.mcp_server_id().map_err(invalid)?,
                max_token_bytes: jwt.max_token_bytes,
                cache_ttl: secs(raw.token_cache.ttl_secs),
                cache_capacity: raw.token_cache.capacity,
            },
            demo_user: raw.demo.clone(),
            plugin_dir_setting: raw.plugins.dir.clone(),
            plugin_options: raw.plugins.load_options(),
            policy_dir: raw.policies.dir.clone(),
            policy_watch: raw.policies.watch,
            policy_source: raw.policies.source,
            metrics_addr: raw.metrics_addr().map_err(invalid)?,
            traces: raw.traces().map_err(invalid)?,
            metrics_token: Some(raw.metrics.token.clone())
                .filter(|token| !token.is_empty())
                .map(SecretText),
            redis: raw.redis_url().map_err(invalid)?.map(|url| RedisSettings {
                url,
                key_prefix: raw.redis.key_prefix.trim().to_owned(),
                failure: raw.redis.failure,
            }),
            approvals: ApprovalSettings {
                key: Some(raw.approvals.key.clone()).filter(|key| !key.is_empty()),
                data_dir: raw.demo_auth.data_dir.clone(),
                ttl: secs(raw.approvals.ttl_secs.max(1)),
            },
            audit_file: Some(raw.audit.file.clone()).filter(|path| !path.as_os_str().is_empty()),
            audit_recent: raw.audit.recent,
            log_filter: raw.log.filter.clone(),
            log_format: raw.log.format,
            effective: Arc::new(effective),
        })
    }
}

#[cfg(test)]
mod tests;

/// Settings for other modules' tests: the defaults with `extra` TOML over
/// them.
#[cfg(test)]
pub(crate) mod tests_support {
    use figment::Figment;
    use figment::providers::{Format, Toml};

    use super::{DEFAULT_TOML, Raw, Settings, redact};

    pub(crate) fn settings(extra: &str) -> Settings {
        let figment = Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(extra));
        let raw: Raw = figment.extract().expect("the settings parse");
        let mut effective: serde_json::Value = figment.extract().expect("the settings parse");
        redact(&mut effective);
        Settings::from_raw(&raw, effective).expect("the settings are valid")
    }
}
