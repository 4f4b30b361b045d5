//! Configuration: the embedded defaults, an optional file, then the environment.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use core_auth::DemoPrincipalConfig;
use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::{Metadata, Profile, Provider};
use serde::Deserialize;

/// `config/default.toml`, compiled in so the binary runs from anywhere.
pub(crate) const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

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
    ("PORT", "server.port", EnvValue::Parsed),
    (
        "MAX_REQUEST_SIZE_MB",
        "server.max_request_size_mb",
        EnvValue::Parsed,
    ),
    ("ALLOWED_HOSTS", "server.allowed_hosts", EnvValue::Parsed),
    ("DESCOPE_PROJECT_ID", "descope.project_id", EnvValue::Text),
    ("DESCOPE_DEMO_MODE", "descope.demo_mode", EnvValue::Parsed),
    ("PLUGIN_DIR", "plugins.dir", EnvValue::Text),
    ("POLICY_DIR", "policies.dir", EnvValue::Text),
    ("RUST_LOG", "log.filter", EnvValue::Text),
    ("LOG_FORMAT", "log.format", EnvValue::Text),
];

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    pub(crate) server: ServerSection,
    pub(crate) descope: DescopeSection,
    pub(crate) demo: DemoPrincipalConfig,
    pub(crate) plugins: PluginsSection,
    pub(crate) policies: PoliciesSection,
    pub(crate) log: LogSection,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) max_request_size_mb: u64,
    pub(crate) allowed_hosts: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DescopeSection {
    pub(crate) project_id: String,
    pub(crate) demo_mode: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginsSection {
    pub(crate) dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PoliciesSection {
    pub(crate) dir: PathBuf,
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
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the server cannot run with.
    fn check(&self) -> Result<(), ConfigError> {
        if !self.descope.demo_mode {
            return Err(ConfigError::Invalid {
                setting: "DESCOPE_DEMO_MODE",
                message: "false asks for Descope JWT verification, which this build does not \
                          provide; set DESCOPE_DEMO_MODE=true for local use"
                    .to_owned(),
            });
        }
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
        self.bind_address()?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let config: Config = Figment::from(Toml::string(DEFAULT_TOML))
                .merge(environment())
                .extract()?;
            assert_eq!(config.server.port, 9090);
            assert_eq!(
                config.descope.project_id, "007",
                "a numeric-looking id is kept as written"
            );
            assert_eq!(config.max_request_bytes(), 2 * 1024 * 1024);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_a_file_are_refused() {
        let err = from_toml("[server]\nprot = 1\n").expect_err("typo refused");
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn demo_mode_off_is_refused_with_the_setting_named() {
        let config = from_toml("[descope]\ndemo_mode = false\n").expect("parses");
        let err = config.check().expect_err("refused");
        assert!(err.to_string().starts_with("DESCOPE_DEMO_MODE"), "{err}");
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
