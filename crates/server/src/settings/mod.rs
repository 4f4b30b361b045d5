//! Configuration: the embedded defaults, an optional file, then the
//! environment. The bottom layer: it imports no other module of the server.

mod env;
mod hosts;
mod redact;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use core_auth::DemoPrincipalConfig;
use demo_oauth::AccessKey;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

pub(crate) use env::ENV_VARS;
pub(crate) use hosts::{AllowedHost, admits as hosts_admit};

use env::{environment, load_dotenv};
use redact::redact;

/// Project ids from examples and guides, which are never a real project.
const PLACEHOLDER_PROJECT_IDS: &[&str] = &[
    "",
    "test_project",
    "your_actual_project_id_here",
    "your_project_id",
];

/// `config/default.toml`, compiled in so the binary runs from anywhere.
pub(crate) const DEFAULT_TOML: &str = include_str!("../../../../config/default.toml");

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
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
pub enum ConfigError {
    /// A setting does not parse; each one is named as the user wrote it.
    #[error("invalid configuration: {0}")]
    Figment(String),
    /// The `.env` file in the working directory cannot be read.
    #[error("cannot read .env file: {0}")]
    DotEnv(String),
    /// A setting parses but cannot be used.
    #[error("{setting}: {message}")]
    Invalid {
        /// The environment variable (or key) at fault.
        setting: &'static str,
        /// What is wrong with it, and what to set instead.
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
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
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
    pub(crate) fn allowed_hosts(&self) -> Result<Vec<AllowedHost>, ConfigError> {
        self.server
            .allowed_hosts
            .iter()
            .map(|entry| {
                AllowedHost::parse(entry).ok_or_else(|| ConfigError::Invalid {
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
mod tests;
