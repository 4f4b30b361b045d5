//! `orchestrator-mcp doctor`: the configuration guide's verification
//! checklist, run against the live configuration and Descope.
//!
//! Every item is checked even when an earlier one fails, and each prints
//! pass, warn or fail with what to do. Network checks have a time limit, and
//! nothing a remote server answers can make the command panic.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use core_auth::{KeySet, KeySource};
use policy::PolicyEngine;
use serde_json::Value;

use crate::settings::{CorsPolicy, Inspection, Problem, Raw, hosts_admit};

/// How long a network check waits for Descope.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

/// Metadata documents are a few kilobytes; more is not metadata.
const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// Request bodies larger than this many MB are allowed, but worth a look.
const LARGE_REQUEST_MB: u64 = 100;

/// How an item came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pass,
    Warn,
    Fail,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        })
    }
}

/// One checklist item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) outcome: Outcome,
    pub(crate) item: &'static str,
    /// What was found, and for a warning or failure, what to do.
    pub(crate) detail: String,
}

impl Check {
    fn new(outcome: Outcome, item: &'static str, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            item,
            detail: detail.into(),
        }
    }
}

/// The settings that items of their own report on; every other problem the
/// server would refuse the settings for is a `configuration` item.
const OWNED_BY_AN_ITEM: &[&str] = &[
    "DESCOPE_PROJECT_ID",
    "PUBLIC_URL",
    "ALLOWED_HOSTS",
    "CORS_ORIGINS",
    "MAX_REQUEST_SIZE_MB",
    "DESCOPE_MCP_SERVER_ID",
    "TRUSTED_PROXIES",
];

/// Runs every item against the settings (or the reason they could not be
/// read) and the scope manifest at `manifest`.
pub(crate) async fn run(inspection: Result<Inspection, String>, manifest: &Path) -> Vec<Check> {
    let Inspection {
        raw: config,
        problems,
    } = match inspection {
        Ok(inspection) => inspection,
        Err(problem) => {
            return vec![Check::new(
                Outcome::Fail,
                "configuration",
                format!("{problem}; fix the setting named and run doctor again"),
            )];
        }
    };
    let mut checks = configuration(&problems);
    checks.extend([
        project_id(&config),
        demo_mode(&config),
        public_url(&config),
        allowed_hosts(&config),
        cors(&config),
        rate_limit(&config),
        public_limit(&config),
        proxies(&config),
        request_size(&config, &problems),
        plugin_concurrency(&config),
    ]);
    checks.push(shared_state(&config).await);
    checks.push(jwks(&config).await);
    checks.push(issuer(&config).await);
    checks.push(audience(&config));
    checks.push(scopes(&config, manifest));
    checks
}

/// The problems the start-up check finds (the same list it refuses to
/// start with), except those an item below reports.
fn configuration(problems: &[Problem]) -> Vec<Check> {
    let refused: Vec<Check> = problems
        .iter()
        .filter(|problem| !OWNED_BY_AN_ITEM.contains(&problem.setting))
        .map(|problem| Check::new(Outcome::Fail, "configuration", problem.to_string()))
        .collect();
    if !refused.is_empty() {
        return refused;
    }
    if problems.is_empty() {
        vec![Check::new(
            Outcome::Pass,
            "configuration",
            "the settings load",
        )]
    } else {
        vec![Check::new(
            Outcome::Fail,
            "configuration",
            "the server would refuse these settings; the failing items below say why",
        )]
    }
}

fn project_id(config: &Raw) -> Check {
    let id = config.descope.project_id.trim();
    if config.project_id_is_placeholder() {
        Check::new(
            Outcome::Fail,
            "project id",
            format!(
                "DESCOPE_PROJECT_ID is `{id}`, a placeholder; set your project id (Descope \
                 console, Project Settings)"
            ),
        )
    } else {
        Check::new(
            Outcome::Pass,
            "project id",
            format!("DESCOPE_PROJECT_ID={id}"),
        )
    }
}

fn demo_mode(config: &Raw) -> Check {
    if config.descope.demo_mode {
        Check::new(
            Outcome::Fail,
            "demo mode",
            "DESCOPE_DEMO_MODE=true: the public demo token is accepted; set \
             DESCOPE_DEMO_MODE=false for production",
        )
    } else {
        Check::new(
            Outcome::Pass,
            "demo mode",
            "off: only Descope tokens are accepted",
        )
    }
}

fn public_url(config: &Raw) -> Check {
    match config.public_url() {
        Err(err) => Check::new(Outcome::Fail, "public URL", err.to_string()),
        Ok(None) => Check::new(
            Outcome::Fail,
            "public URL",
            "PUBLIC_URL is not set; set the https URL clients reach the server at \
             (https://mcp.example.com), which names the resource in OAuth metadata",
        ),
        Ok(Some(url)) if !url.to_ascii_lowercase().starts_with("https://") => Check::new(
            Outcome::Fail,
            "public URL",
            format!("PUBLIC_URL={url} is not https; serve the server over HTTPS in production"),
        ),
        Ok(Some(url)) => Check::new(Outcome::Pass, "public URL", format!("PUBLIC_URL={url}")),
    }
}

fn allowed_hosts(config: &Raw) -> Check {
    let hosts = match config.allowed_hosts() {
        Ok(hosts) => hosts,
        Err(err) => return Check::new(Outcome::Fail, "allowed hosts", err.to_string()),
    };
    // The authority clients put in `Host` when they use the public URL.
    let authority = config
        .public_url()
        .ok()
        .flatten()
        .and_then(|url| url.parse::<http::Uri>().ok())
        .and_then(|uri| uri.authority().cloned());
    let Some(authority) = authority else {
        if let Err(problem) = config.own_url_known() {
            return Check::new(Outcome::Fail, "allowed hosts", problem.to_string());
        }
        return Check::new(
            Outcome::Warn,
            "allowed hosts",
            "cannot check ALLOWED_HOSTS without a valid PUBLIC_URL",
        );
    };
    let host = authority.host().to_owned();
    if hosts.is_empty() {
        return Check::new(
            Outcome::Warn,
            "allowed hosts",
            "ALLOWED_HOSTS is empty, which accepts any Host header; list the public host name \
             to guard against DNS rebinding",
        );
    }
    if hosts_admit(&hosts, &authority) {
        Check::new(
            Outcome::Pass,
            "allowed hosts",
            format!("ALLOWED_HOSTS includes {host}"),
        )
    } else {
        Check::new(
            Outcome::Fail,
            "allowed hosts",
            format!(
                "ALLOWED_HOSTS does not include {host}, the host of PUBLIC_URL: requests to the \
                 public URL would be refused with 403; add it"
            ),
        )
    }
}

fn cors(config: &Raw) -> Check {
    match config.cors_origins() {
        Err(err) => Check::new(Outcome::Fail, "CORS", err.to_string()),
        Ok(CorsPolicy::AnyOrigin) => Check::new(
            Outcome::Warn,
            "CORS",
            "CORS_ORIGINS=[\"*\"] lets every web page call the server with a token it holds; \
             list the origins of the browser clients you use",
        ),
        Ok(CorsPolicy::NoOrigin) => Check::new(
            Outcome::Warn,
            "CORS",
            "CORS_ORIGINS is empty: browser-based clients (the MCP Inspector, web agents) \
             cannot call the server; list their origins if you use any",
        ),
        Ok(CorsPolicy::Origins(origins)) => {
            let origins: Vec<&str> = origins
                .iter()
                .filter_map(|origin| origin.to_str().ok())
                .collect();
            Check::new(
                Outcome::Pass,
                "CORS",
                format!("CORS_ORIGINS allows {}", origins.join(", ")),
            )
        }
    }
}

fn rate_limit(config: &Raw) -> Check {
    match config.server.rate_limit_per_minute {
        0 => Check::new(
            Outcome::Fail,
            "rate limit",
            "RATE_LIMIT_PER_MINUTE=0 turns rate limiting off; set a limit per caller, such as \
             100",
        ),
        limit => Check::new(
            Outcome::Pass,
            "rate limit",
            format!("RATE_LIMIT_PER_MINUTE={limit} per caller"),
        ),
    }
}

fn public_limit(config: &Raw) -> Check {
    match config.server.rate_limit_public_per_minute {
        0 => Check::new(
            Outcome::Fail,
            "public limit",
            "RATE_LIMIT_PUBLIC_PER_MINUTE=0 lets anyone call the routes that need no token \
             (token exchange, registration, login) without limit; set a limit per client \
             address, such as 60",
        ),
        limit => Check::new(
            Outcome::Pass,
            "public limit",
            format!("RATE_LIMIT_PUBLIC_PER_MINUTE={limit} per client address"),
        ),
    }
}

/// Where replicas share state: this process alone, or a Redis that must
/// answer now.
async fn shared_state(config: &Raw) -> Check {
    const ITEM: &str = "shared state";
    let url = match config.redis_url() {
        Ok(Some(url)) => url,
        Ok(None) => {
            return Check::new(
                Outcome::Pass,
                ITEM,
                "kept in this process (REDIS_URL is empty): run one replica, or set REDIS_URL to run several",
            );
        }
        // The configuration item names the problem.
        Err(_) => return Check::new(Outcome::Fail, ITEM, "REDIS_URL is not a Redis URL"),
    };
    let redis = match redis_state::RedisState::connect(&url, &config.redis.key_prefix).await {
        Ok(redis) => redis,
        Err(err) => {
            return Check::new(
                Outcome::Fail,
                ITEM,
                format!("{err}; start Redis, fix REDIS_URL, or empty it to run one replica"),
            );
        }
    };
    let address = redis.address().to_owned();
    match config.redis.failure {
        crate::settings::RedisFailure::Open => Check::new(
            Outcome::Warn,
            ITEM,
            format!(
                "Redis at {address} answers; REDIS_FAILURE=open serves requests without revocation checks and with each replica's own limits while Redis is away; set closed unless availability matters more"
            ),
        ),
        crate::settings::RedisFailure::Closed if config.approvals.key.is_empty() => Check::new(
            Outcome::Warn,
            ITEM,
            format!(
                "Redis at {address} answers; the approval key is shared through it because APPROVAL_KEY is empty: set APPROVAL_KEY from a secret so it never sits in Redis"
            ),
        ),
        crate::settings::RedisFailure::Closed => Check::new(
            Outcome::Pass,
            ITEM,
            format!("Redis at {address} answers (REDIS_FAILURE=closed)"),
        ),
    }
}

/// Behind a proxy every client has the proxy's address unless the proxy
/// is trusted to name them, and then they share one public allowance.
fn proxies(config: &Raw) -> Check {
    match config.trusted_proxies() {
        Err(problem) => Check::new(Outcome::Fail, "proxies", problem.to_string()),
        Ok(proxies) if proxies.is_empty() => {
            let behind_tls =
                matches!(config.public_url(), Ok(Some(url)) if url.starts_with("https://"));
            if behind_tls {
                Check::new(
                    Outcome::Warn,
                    "proxies",
                    "TRUSTED_PROXIES is empty: behind an HTTPS terminator every client has the \
                     terminator's address and they share one RATE_LIMIT_PUBLIC_PER_MINUTE \
                     allowance; list its addresses (such as [\"10.0.0.0/8\"]) if it sets \
                     X-Forwarded-For",
                )
            } else {
                Check::new(
                    Outcome::Pass,
                    "proxies",
                    "TRUSTED_PROXIES is empty: each client is the address it connects from",
                )
            }
        }
        Ok(proxies) => Check::new(
            Outcome::Pass,
            "proxies",
            format!(
                "X-Forwarded-For is believed from {} trusted proxy entries",
                proxies.len()
            ),
        ),
    }
}

fn plugin_concurrency(config: &Raw) -> Check {
    // The default depends on the machine, so it is named, not counted.
    let at_once = match config.plugins.max_concurrency {
        0 => "0 (four per core)".to_owned(),
        given => given.to_string(),
    };
    Check::new(
        Outcome::Pass,
        "plugin calls",
        format!(
            "PLUGIN_MAX_CONCURRENCY={at_once} at once per depth of nesting; \
             MAX_TOOL_CALLS_PER_REQUEST={} per request",
            config.server.max_tool_calls_per_request
        ),
    )
}

fn request_size(config: &Raw, problems: &[Problem]) -> Check {
    if let Some(problem) = problems
        .iter()
        .find(|problem| problem.setting == "MAX_REQUEST_SIZE_MB")
    {
        return Check::new(Outcome::Fail, "request size", problem.to_string());
    }
    match config.server.max_request_size_mb {
        mb if mb > LARGE_REQUEST_MB => Check::new(
            Outcome::Warn,
            "request size",
            format!(
                "MAX_REQUEST_SIZE_MB={mb} lets one request hold {mb} MB in memory; the guide \
                 recommends 10"
            ),
        ),
        mb => Check::new(
            Outcome::Pass,
            "request size",
            format!("MAX_REQUEST_SIZE_MB={mb}"),
        ),
    }
}

async fn jwks(config: &Raw) -> Check {
    let url = match config.jwks_url() {
        Ok(url) => url,
        Err(problem) => return Check::new(Outcome::Fail, "JWKS", problem.to_string()),
    };
    let keys = match KeySet::new(KeySource::Remote {
        url: url.clone(),
        refetch_interval: Duration::ZERO,
    }) {
        Ok(keys) => keys,
        Err(err) => return Check::new(Outcome::Fail, "JWKS", format!("{url}: {err}")),
    };
    match tokio::time::timeout(NETWORK_TIMEOUT, keys.refresh()).await {
        Err(_) => Check::new(
            Outcome::Fail,
            "JWKS",
            format!(
                "{url} did not answer within {} s; check DESCOPE_BASE_URL and that this \
                 machine can reach Descope",
                NETWORK_TIMEOUT.as_secs()
            ),
        ),
        Ok(Err(err)) => Check::new(
            Outcome::Fail,
            "JWKS",
            format!("{err}; check DESCOPE_PROJECT_ID, DESCOPE_BASE_URL and DESCOPE_JWKS_URL"),
        ),
        Ok(Ok(count)) => Check::new(
            Outcome::Pass,
            "JWKS",
            format!("{url} holds {count} usable RSA signing key(s)"),
        ),
    }
}

/// The authorization server the server names in its protected-resource
/// metadata must publish metadata under the same issuer, and publish the
/// keys the server fetches.
async fn issuer(config: &Raw) -> Check {
    let base = config.descope_base_url();
    let expected = format!("{base}/v1/apps/{}", config.descope.project_id.trim());
    let url = format!("{expected}/.well-known/openid-configuration");
    let metadata = match fetch_json(&url).await {
        Ok(metadata) => metadata,
        Err(problem) => {
            return Check::new(
                Outcome::Fail,
                "issuer",
                format!(
                    "{problem}; clients discover the authorization server there, so \
                     check DESCOPE_BASE_URL and DESCOPE_PROJECT_ID"
                ),
            );
        }
    };
    let issuer = metadata["issuer"].as_str().unwrap_or_default();
    if issuer != expected {
        return Check::new(
            Outcome::Fail,
            "issuer",
            format!(
                "{url} names issuer `{issuer}`, not `{expected}`; clients would refuse its \
                 tokens: check DESCOPE_BASE_URL"
            ),
        );
    }
    // A JWKS URL that is refused is the JWKS check's failure, not this one's.
    match (metadata["jwks_uri"].as_str(), config.jwks_url()) {
        (Some(published), Ok(jwks_url))
            if published.trim_end_matches('/') != jwks_url.trim_end_matches('/') =>
        {
            Check::new(
                Outcome::Warn,
                "issuer",
                format!(
                    "issuer {issuer} publishes its keys at {published}, but the server fetches \
                     {jwks_url}; unset DESCOPE_JWKS_URL or point it there"
                ),
            )
        }
        _ => Check::new(
            Outcome::Pass,
            "issuer",
            format!("{issuer}, with the keys the server fetches"),
        ),
    }
}

fn audience(config: &Raw) -> Check {
    let resource = match config.public_url() {
        Ok(Some(url)) => format!("{url}/mcp or {url}"),
        _ => "the URL each client used, plus /mcp (set PUBLIC_URL)".to_owned(),
    };
    let issuer = match config.mcp_server_id() {
        Ok(Some(id)) => format!("; the agentic issuer of MCP server {id} is accepted"),
        Ok(None) => String::new(),
        Err(problem) => return Check::new(Outcome::Fail, "audience", problem.to_string()),
    };
    if config.jwt.accept_project_audience {
        Check::new(
            Outcome::Warn,
            "audience",
            format!(
                "JWT_ACCEPT_PROJECT_AUDIENCE=true accepts tokens for project {}, which may have \
                 been issued for any of its apps, besides tokens for {resource}; keep it only if \
                 machines call with access keys{issuer}",
                config.descope.project_id.trim()
            ),
        )
    } else {
        Check::new(
            Outcome::Pass,
            "audience",
            format!("tokens must be issued for {resource}{issuer}"),
        )
    }
}

/// Every scope the policies know must be in the Descope manifest that
/// `cargo xtask gen` wrote and Terraform applied, described alike.
fn scopes(config: &Raw, manifest: &Path) -> Check {
    let engine = match PolicyEngine::load_dir(&config.policies.dir) {
        Ok(engine) => engine,
        Err(err) => {
            return Check::new(
                Outcome::Fail,
                "scopes",
                format!("the policies do not load: {err}"),
            );
        }
    };
    let listed = match read_manifest(manifest) {
        Ok(listed) => listed,
        Err(problem) => {
            return Check::new(
                Outcome::Fail,
                "scopes",
                format!(
                    "{}: {problem}; generate it with `cargo xtask gen`, or pass --manifest FILE",
                    manifest.display()
                ),
            );
        }
    };
    // The server refuses to start over these; say so before it does.
    let unknown_offered: Vec<&str> = config
        .server
        .challenge_scopes
        .iter()
        .filter(|offered| !engine.scopes().iter().any(|scope| &scope.name == *offered))
        .map(String::as_str)
        .collect();
    if !unknown_offered.is_empty() {
        return Check::new(
            Outcome::Fail,
            "scopes",
            format!(
                "CHALLENGE_SCOPES names scopes no policy grants: {}; list scopes the policies \
                 use, or leave it empty",
                unknown_offered.join(", ")
            ),
        );
    }
    let mut missing = Vec::new();
    for scope in engine.scopes() {
        match listed.get(&scope.name) {
            Some(description) if *description == scope.description => {}
            Some(_) => missing.push(format!("{} (described differently)", scope.name)),
            None => missing.push(scope.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Check::new(
            Outcome::Fail,
            "scopes",
            format!(
                "{} lacks scopes the policies in {} use: {}; run `cargo xtask gen` and \
                 `terraform apply` in config/descope",
                manifest.display(),
                config.policies.dir.display(),
                missing.join(", ")
            ),
        );
    }
    let extra: Vec<&String> = listed
        .keys()
        .filter(|name| !engine.scopes().iter().any(|scope| scope.name == **name))
        .collect();
    if extra.is_empty() {
        Check::new(
            Outcome::Pass,
            "scopes",
            format!(
                "all {} policy scopes are in {}",
                engine.scopes().len(),
                manifest.display()
            ),
        )
    } else {
        Check::new(
            Outcome::Warn,
            "scopes",
            format!(
                "{} lists scopes no policy uses: {}; it is older than the policies, so run \
                 `cargo xtask gen`",
                manifest.display(),
                extra
                    .iter()
                    .map(|name| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// Scope names to descriptions, from a `scopes.json` manifest.
fn read_manifest(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read it ({err})"))?;
    let manifest: Value = serde_json::from_str(&text).map_err(|err| format!("not JSON ({err})"))?;
    let scopes = manifest["scopes"]
        .as_array()
        .ok_or("it has no `scopes` list")?;
    scopes
        .iter()
        .map(|scope| {
            let name = scope["name"].as_str().ok_or("a scope has no `name`")?;
            let description = scope["description"].as_str().unwrap_or_default();
            Ok((name.to_owned(), description.to_owned()))
        })
        .collect()
}

/// GETs `url` as JSON, within [`NETWORK_TIMEOUT`] and
/// [`MAX_METADATA_BYTES`]; `Err` says what went wrong in words.
async fn fetch_json(url: &str) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .timeout(NETWORK_TIMEOUT)
        .build()
        .map_err(|err| format!("cannot make an HTTP client ({err})"))?;
    let body = oauth_kit::get_capped(&client, url, MAX_METADATA_BYTES)
        .await
        .map_err(|err| err.to_string())?;
    serde_json::from_slice(&body)
        .map_err(|err| format!("{url} answered something that is not JSON ({err})"))
}

/// Prints the checklist and a summary; returns whether nothing failed.
pub(crate) fn report(checks: &[Check], out: &mut impl std::io::Write) -> std::io::Result<bool> {
    let width = checks
        .iter()
        .map(|check| check.item.len())
        .max()
        .unwrap_or(0);
    for check in checks {
        writeln!(
            out,
            "{}  {:width$}  {}",
            check.outcome, check.item, check.detail
        )?;
    }
    let count = |outcome| {
        checks
            .iter()
            .filter(|check| check.outcome == outcome)
            .count()
    };
    let failed = count(Outcome::Fail);
    writeln!(
        out,
        "\n{} passed, {} warned, {failed} failed",
        count(Outcome::Pass),
        count(Outcome::Warn)
    )?;
    Ok(failed == 0)
}

/// The manifest doctor reads unless told otherwise.
pub(crate) fn default_manifest() -> PathBuf {
    PathBuf::from(crate::catalogue::MANIFEST_FILE)
}
