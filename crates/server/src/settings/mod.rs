//! Configuration: the embedded defaults, an optional file, then the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use core_auth::DemoPrincipalConfig;
use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::{Metadata, Profile, Provider};
use serde::Deserialize;

/// Project ids from examples and guides, which are never a real project.
const PLACEHOLDER_PROJECT_IDS: &[&str] = &[
    "",
    "test_project",
    "your_actual_project_id_here",
    "your_project_id",
];

/// `config/default.toml`, compiled in so the binary runs from anywhere.
pub(crate) const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// The settings that hold credentials: shown only as set or not set.
/// `[]` stands for every element of a list.
const SECRET_KEYS: &[&str] = &[
    "descope.client_secret",
    "demo.token",
    "demo_auth.access_keys[].client_secret",
];

/// What a secret setting shows instead of its value.
pub(crate) const REDACTED: &str = "<redacted>";

/// Replaces every secret in the merged settings with [`REDACTED`] (an empty
/// one stays empty, so "not set" is still visible).
fn redact(settings: &mut serde_json::Value) {
    fn walk(value: &mut serde_json::Value, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            if value.as_str().is_some_and(|text| !text.is_empty()) {
                *value = serde_json::Value::String(REDACTED.to_owned());
            }
            return;
        };
        let (key, every) = match first.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*first, false),
        };
        let Some(child) = value.get_mut(key) else {
            return;
        };
        match (every, child) {
            (true, serde_json::Value::Array(items)) => {
                for item in items {
                    walk(item, rest);
                }
            }
            (false, child) => walk(child, rest),
            (true, _) => {}
        }
    }
    for key in SECRET_KEYS {
        let path: Vec<&str> = key.split('.').collect();
        walk(settings, &path);
    }
}

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
    ("CORS_ORIGINS", "server.cors_origins", EnvValue::Parsed),
    ("DESCOPE_PROJECT_ID", "descope.project_id", EnvValue::Text),
    ("DESCOPE_DEMO_MODE", "descope.demo_mode", EnvValue::Parsed),
    ("DESCOPE_BASE_URL", "descope.base_url", EnvValue::Text),
    ("DESCOPE_JWKS_URL", "descope.jwks_url", EnvValue::Text),
    ("DESCOPE_CLIENT_ID", "descope.client_id", EnvValue::Text),
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
    ("POLICY_DIR", "policies.dir", EnvValue::Text),
    ("POLICY_WATCH", "policies.watch", EnvValue::Parsed),
    ("AUDIT_LOG_FILE", "audit.file", EnvValue::Text),
    ("AUDIT_RECENT", "audit.recent", EnvValue::Parsed),
    ("RUST_LOG", "log.filter", EnvValue::Text),
    ("LOG_FORMAT", "log.format", EnvValue::Text),
];

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) server: ServerSection,
    pub(crate) descope: DescopeSection,
    pub(crate) jwt: JwtSection,
    pub(crate) token_cache: TokenCacheSection,
    pub(crate) demo_auth: DemoAuthSection,
    pub(crate) demo: DemoPrincipalConfig,
    pub(crate) plugins: PluginsSection,
    pub(crate) policies: PoliciesSection,
    pub(crate) audit: AuditSection,
    pub(crate) log: LogSection,
    /// The merged settings as JSON, secrets redacted, for `server_config`.
    #[serde(skip)]
    pub(crate) effective: serde_json::Value,
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
    pub(crate) access_keys: Vec<DemoAccessKey>,
}

/// A machine credential the demo authorization server accepts.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DemoAccessKey {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) principal_id: String,
    pub(crate) scopes: Vec<String>,
}

impl std::fmt::Debug for DemoAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoAccessKey")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("principal_id", &self.principal_id)
            .field("scopes", &self.scopes)
            .finish()
    }
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
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoliciesSection {
    pub(crate) dir: PathBuf,
    pub(crate) watch: bool,
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

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("invalid configuration: {0}")]
    Figment(String),
    #[error("cannot read .env file: {0}")]
    DotEnv(String),
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
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

impl Config {
    /// Loads the configuration: defaults, then `file` if given, then `.env`
    /// (from the working directory, if present) and the environment.
    pub(crate) fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let (mut config, figment) = Self::read(file)?;
        config.check()?;
        let mut effective: serde_json::Value =
            figment.extract().map_err(ConfigError::from_figment)?;
        redact(&mut effective);
        config.effective = effective;
        Ok(config)
    }

    /// The settings as written, without refusing unsafe ones: for
    /// `orchestrator-mcp doctor`, which reports each problem instead of
    /// stopping at the first.
    pub(crate) fn load_unchecked(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::read(file).map(|(config, _)| config)
    }

    fn read(file: Option<&Path>) -> Result<(Self, Figment), ConfigError> {
        load_dotenv()?;
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Invalid {
                    setting: "--config",
                    message: format!("{} is not a readable file", file.display()),
                });
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(environment());
        let config: Config = figment.extract().map_err(ConfigError::from_figment)?;
        Ok((config, figment))
    }

    /// Where Descope's signing keys are fetched: `DESCOPE_JWKS_URL`, or the
    /// project's JWKS under `DESCOPE_BASE_URL`.
    pub(crate) fn jwks_url(&self) -> String {
        let configured = self.descope.jwks_url.trim();
        if configured.is_empty() {
            format!(
                "{}/{}/.well-known/jwks.json",
                self.descope.base_url.trim_end_matches('/'),
                self.descope.project_id.trim()
            )
        } else {
            configured.to_owned()
        }
    }

    /// Whether `DESCOPE_PROJECT_ID` is empty or an example value.
    pub(crate) fn project_id_is_placeholder(&self) -> bool {
        PLACEHOLDER_PROJECT_IDS.contains(&self.descope.project_id.trim())
    }

    /// Refuses settings the server cannot run with.
    fn check(&self) -> Result<(), ConfigError> {
        self.check_security()?;
        if self.server.max_request_size_mb == 0 {
            return Err(ConfigError::Invalid {
                setting: "MAX_REQUEST_SIZE_MB",
                message: "must be at least 1".to_owned(),
            });
        }
        if self.demo.token.trim().is_empty() {
            return Err(ConfigError::Invalid {
                setting: "demo.token",
                message: "the demo token must not be empty".to_owned(),
            });
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            return Err(ConfigError::Invalid {
                setting: "RUST_LOG",
                message: format!(
                    "`{}` is not a valid log filter; use for example `info` or `orchestrator_mcp=debug,info`",
                    self.log.filter
                ),
            });
        }
        self.allowed_hosts()?;
        self.cors_origins()?;
        self.bind_address()?;
        Ok(())
    }

    /// `CORS_ORIGINS`, parsed: `None` for any origin (`["*"]`), otherwise
    /// each origin as browsers send it (`https://host[:port]`).
    pub(crate) fn cors_origins(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let origins = &self.server.cors_origins;
        if origins.iter().any(|origin| origin == "*") {
            if origins.len() > 1 {
                return Err(ConfigError::Invalid {
                    setting: "CORS_ORIGINS",
                    message: "`*` allows every origin; list it alone or list origins instead"
                        .to_owned(),
                });
            }
            return Ok(None);
        }
        origins
            .iter()
            .map(|origin| {
                cors_origin(origin).ok_or_else(|| ConfigError::Invalid {
                    setting: "CORS_ORIGINS",
                    message: format!(
                        "`{origin}` is not an origin; write scheme, host and port only, such as \
                         https://inspector.example.com or http://localhost:6274"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `ALLOWED_HOSTS`, parsed.
    pub(crate) fn allowed_hosts(&self) -> Result<Vec<crate::http::AllowedHost>, ConfigError> {
        self.server
            .allowed_hosts
            .iter()
            .map(|entry| {
                crate::http::AllowedHost::parse(entry).ok_or_else(|| ConfigError::Invalid {
                    setting: "ALLOWED_HOSTS",
                    message: format!("`{entry}` is not a host name, address or host:port"),
                })
            })
            .collect()
    }

    /// Refuses settings that would make a deployment unsafe.
    fn check_security(&self) -> Result<(), ConfigError> {
        let invalid = |setting, message: String| Err(ConfigError::Invalid { setting, message });
        self.algorithms()?;
        if !self.jwt.verify_expiration {
            return invalid(
                "JWT_VERIFY_EXPIRATION",
                "false would accept expired tokens forever; it is refused".to_owned(),
            );
        }
        if self.descope.demo_mode {
            let ip = self.bind_address()?.ip();
            if !ip.is_loopback() && !self.demo_auth.allow_public_bind {
                return invalid(
                    "DESCOPE_DEMO_MODE",
                    format!(
                        "demo mode accepts a public demo token, so it listens only on loopback; \
                         HOST={} is not. Set DESCOPE_DEMO_MODE=false with your Descope project, \
                         or DEMO_ALLOW_PUBLIC_BIND=true if you really mean it",
                        self.server.host
                    ),
                );
            }
        } else {
            let project = self.descope.project_id.trim();
            if self.project_id_is_placeholder() {
                return invalid(
                    "DESCOPE_PROJECT_ID",
                    format!(
                        "`{project}` is a placeholder; set your Descope project id \
                         (Descope console, Project Settings), or DESCOPE_DEMO_MODE=true for local use"
                    ),
                );
            }
        }
        if !self.server.public_url.is_empty() {
            self.public_url()?;
        }
        Ok(())
    }

    /// `JWT_ALGORITHM`, parsed: RSA algorithms only.
    pub(crate) fn algorithms(&self) -> Result<Vec<core_auth::Algorithm>, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            setting: "JWT_ALGORITHM",
            message,
        };
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
    pub(crate) fn public_url(&self) -> Result<Option<String>, ConfigError> {
        let url = self.server.public_url.trim().trim_end_matches('/');
        if url.is_empty() {
            return Ok(None);
        }
        let invalid = || ConfigError::Invalid {
            setting: "PUBLIC_URL",
            message: format!(
                "`{url}` is not an http(s) URL without path, query or fragment, \
                 like https://mcp.example.com"
            ),
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
    pub(crate) fn bind_address(&self) -> Result<SocketAddr, ConfigError> {
        let host = self.server.host.trim_matches(['[', ']']);
        let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse().map_err(|_| ConfigError::Invalid {
                setting: "HOST",
                message: format!(
                    "`{}` is not an IP address; use for example 127.0.0.1 or 0.0.0.0",
                    self.server.host
                ),
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
    pub(crate) fn plugin_dir(&self) -> std::io::Result<PathBuf> {
        if !self.plugins.dir.as_os_str().is_empty() {
            return Ok(self.plugins.dir.clone());
        }
        let exe = std::env::current_exe()?;
        exe.parent().map(Path::to_owned).ok_or_else(|| {
            std::io::Error::other("the executable has no parent directory; set PLUGIN_DIR")
        })
    }
}

/// The environment variables in [`ENV_VARS`], mapped to their settings.
struct Environment;

fn environment() -> Environment {
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
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(err)) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(ConfigError::DotEnv(err.to_string())),
    }
}

/// `origin` as a browser sends it in `Origin` (`https://host[:port]`,
/// lower-case, default port left out), if it is one.
fn cors_origin(origin: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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

    fn from_toml(extra: &str) -> Result<Config, Box<figment::Error>> {
        Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(extra))
            .extract()
            .map_err(Box::new)
    }

    #[test]
    fn the_embedded_defaults_are_complete_and_valid() {
        let config = from_toml("").expect("defaults parse");
        config.check().expect("defaults pass the checks");
        assert_eq!(
            config.bind_address().expect("address").to_string(),
            "127.0.0.1:8080"
        );
        assert!(config.descope.demo_mode);
        assert_eq!(config.demo.token, "demo_token_12345");
        assert_eq!(config.max_request_bytes(), 10 * 1024 * 1024);
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
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error.
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
            let config: Config = Figment::from(Toml::string(DEFAULT_TOML))
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
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error.
    fn plugin_settings_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PLUGIN_ALLOW", r#"["core-tools", "code-tools"]"#);
            jail.set_env("PLUGIN_SHA256", r#"{ core-tools = "ab12" }"#);
            jail.set_env("PLUGIN_TIMEOUT_SECS", "5");
            jail.set_env("PLUGIN_TOOL_TIMEOUTS", "{ orchestrate = 120 }");
            jail.set_env("PLUGIN_MAX_INPUT_BYTES", "65536");
            let config: Config = Figment::from(Toml::string(DEFAULT_TOML))
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
    #[allow(clippy::result_large_err)] // figment's Jail API returns its own error.
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
            let defaults: serde_json::Value =
                Figment::from(Toml::string(DEFAULT_TOML)).extract()?;
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
        let mut config: Config = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("defaults");
        assert_eq!(config.cors_origins().expect("empty"), Some(Vec::new()));
        config.server.cors_origins = vec!["*".to_owned()];
        assert_eq!(config.cors_origins().expect("any"), None);
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
    }

    #[test]
    fn secrets_are_redacted_in_the_effective_settings() {
        let mut settings: serde_json::Value = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(
                "[descope]\nclient_secret = \"s3cr3t\"\n[[demo_auth.access_keys]]\nclient_id = \"c\"\nclient_secret = \"k3y\"\nprincipal_id = \"m\"\nscopes = []\n",
            ))
            .extract()
            .expect("settings");
        redact(&mut settings);
        let text = settings.to_string();
        for secret in ["s3cr3t", "k3y", "demo_token_12345"] {
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

    fn refusal(extra: &str) -> String {
        let config = from_toml(extra).expect("parses");
        config.check().expect_err("refused").to_string()
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
        let config =
            from_toml("[descope]\ndemo_mode = false\nproject_id = \"P2abc\"\n").expect("parses");
        config.check().expect("a real project id is enough");
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
    fn demo_mode_on_a_public_address_needs_explicit_consent() {
        let err = refusal("[server]\nhost = \"0.0.0.0\"\n");
        assert!(err.starts_with("DESCOPE_DEMO_MODE"), "{err}");
        assert!(err.contains("DEMO_ALLOW_PUBLIC_BIND"), "{err}");
        let config =
            from_toml("[server]\nhost = \"0.0.0.0\"\n[demo_auth]\nallow_public_bind = true\n")
                .expect("parses");
        config.check().expect("allowed explicitly");
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
        let config =
            from_toml("[server]\npublic_url = \"https://mcp.example.com/\"\n").expect("parses");
        assert_eq!(
            config.public_url().expect("valid").as_deref(),
            Some("https://mcp.example.com")
        );
    }

    #[test]
    fn an_invalid_log_filter_is_refused() {
        let config = from_toml("[log]\nfilter = \"info,[[\"\n").expect("parses");
        let err = config.check().expect_err("refused");
        assert!(err.to_string().starts_with("RUST_LOG"), "{err}");
    }

    #[test]
    fn an_invalid_allowed_host_is_refused() {
        let config = from_toml("[server]\nallowed_hosts = [\"not a host\"]\n").expect("parses");
        let err = config.check().expect_err("refused");
        assert!(err.to_string().starts_with("ALLOWED_HOSTS"), "{err}");
    }

    #[test]
    fn a_hostname_bind_address_is_explained() {
        let config = from_toml("[server]\nhost = \"example.com\"\n").expect("parses");
        let err = config.check().expect_err("refused");
        assert!(err.to_string().contains("HOST"), "{err}");
    }
}
