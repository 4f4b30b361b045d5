//! Who may call: the token verifier built from the configuration, and the
//! authorization server that issues the tokens it accepts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use core_auth::{
    AccessKeyExchange, DemoVerifier, JwtConfig, JwtVerifier, KeySet, KeySource, TokenVerifier,
};
use oauth_kit::SigningKey;

use crate::settings::Config;

/// The file, inside `DATA_DIR`, that holds the demo server's signing key.
const DEMO_KEY_FILE: &str = "demo-signing-key.der";

/// The OAuth client settings for Descope's inbound app, which the login
/// helper signs people in through.
#[derive(Clone)]
pub(crate) struct DescopeClient {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    pub(crate) authorize_url: String,
    pub(crate) token_url: String,
}

/// The authorization server that issues the tokens this server accepts.
pub(crate) enum Authority {
    /// The embedded demo server, signing with this key.
    Demo { key: Arc<SigningKey> },
    /// Descope.
    Descope {
        /// The issuer named in the protected-resource metadata.
        issuer: String,
        /// Descope's access-key exchange.
        access_keys: Arc<AccessKeyExchange>,
        /// The inbound app the login helper signs in through, if configured.
        login_client: Option<DescopeClient>,
    },
}

/// The verifier and the authority whose tokens it accepts.
pub(crate) struct Identity {
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) authority: Authority,
}

/// The base URLs clients may use to reach this server: `PUBLIC_URL`, or
/// `http://<host>:<port>` for every allowed host name.
pub(crate) fn public_bases(config: &Config, port: u16) -> anyhow::Result<Vec<String>> {
    if let Some(url) = config.public_url()? {
        return Ok(vec![url]);
    }
    Ok(config
        .allowed_hosts()?
        .iter()
        .map(|host| host.base_url(port))
        .collect())
}

/// Builds the verifier: Descope's JWKS in production; in demo mode the demo
/// token plus the demo authorization server's own key.
pub(crate) async fn build(config: &Config, bases: &[String]) -> anyhow::Result<Identity> {
    let mut audiences = Vec::new();
    for base in bases {
        audiences.push(format!("{base}/mcp"));
        audiences.push(base.clone());
    }
    let mut jwt = JwtConfig {
        project_id: config.descope.project_id.clone(),
        base_url: config.descope.base_url.trim_end_matches('/').to_owned(),
        extra_issuers: config.jwt.extra_issuers.clone(),
        audiences,
        algorithms: config.algorithms()?,
        verify_expiration: config.jwt.verify_expiration,
        required_claims: config.jwt.require_claims.clone(),
        leeway: Duration::from_secs(config.jwt.leeway_secs),
        max_token_age: Duration::from_secs(config.jwt.max_token_age_hours.saturating_mul(3600)),
        max_token_bytes: config.jwt.max_token_bytes,
        cache_ttl: Duration::from_secs(config.token_cache.ttl_secs),
        cache_capacity: config.token_cache.capacity,
    };

    if config.descope.demo_mode {
        let key_path = config.demo_auth.data_dir.join(DEMO_KEY_FILE);
        let key = load_demo_key(&key_path)?;
        // The demo server's issuer is this server's base URL.
        jwt.extra_issuers.extend(bases.iter().cloned());
        let keys = Arc::new(
            KeySet::new(KeySource::Static {
                jwks: key.jwks().to_string(),
            })
            .context("the demo authorization server's key")?,
        );
        let tokens: Arc<dyn TokenVerifier> =
            Arc::new(JwtVerifier::new(jwt, Arc::clone(&keys), "demo"));
        let verifier = Arc::new(DemoVerifier::new(&config.demo, Some(tokens)));
        return Ok(Identity {
            verifier,
            authority: Authority::Demo { key: Arc::new(key) },
        });
    }

    let base = config.descope.base_url.trim_end_matches('/');
    let project = &config.descope.project_id;
    let url = config.jwks_url();
    let keys = Arc::new(
        KeySet::new(KeySource::Remote {
            url: url.clone(),
            refetch_interval: Duration::from_secs(config.descope.jwks_refetch_interval_secs),
        })
        .context("Descope's signing keys")?,
    );
    // A Descope outage must not keep the server down: it starts, reports the
    // keys as stale in /health, and refuses tokens until keys arrive.
    if let Err(error) = keys.refresh().await {
        tracing::warn!(%url, %error, "cannot fetch Descope's signing keys yet; tokens are refused until they arrive");
    }
    spawn_refresh(
        Arc::clone(&keys),
        Duration::from_secs(config.descope.jwks_refresh_secs.max(1)),
    );
    let verifier = Arc::new(JwtVerifier::new(jwt, Arc::clone(&keys), "descope"));
    Ok(Identity {
        verifier,
        authority: Authority::Descope {
            issuer: format!("{base}/v1/apps/{project}"),
            access_keys: Arc::new(
                AccessKeyExchange::new(base, project).context("Descope's access-key exchange")?,
            ),
            login_client: Some(config.descope.client_id.trim())
                .filter(|id| !id.is_empty())
                .map(|client_id| DescopeClient {
                    client_id: client_id.to_owned(),
                    client_secret: Some(config.descope.client_secret.trim().to_owned())
                        .filter(|secret| !secret.is_empty()),
                    authorize_url: format!("{base}/oauth2/v1/apps/authorize"),
                    token_url: format!("{base}/oauth2/v1/apps/token"),
                }),
        },
    })
}

fn load_demo_key(path: &Path) -> anyhow::Result<SigningKey> {
    let key = SigningKey::load_or_create(path)
        .with_context(|| "the demo authorization server's signing key (set DATA_DIR)")?;
    tracing::info!(file = %path.display(), kid = key.kid(), "demo signing key ready");
    Ok(key)
}

/// Fetches the keys every `interval`, so rotations are picked up and an
/// outage shows in `/health` even when no unknown key is presented.
fn spawn_refresh(keys: Arc<KeySet>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await; // The first tick is immediate; start-up fetched.
        loop {
            ticker.tick().await;
            let _ = keys.refresh().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        use figment::Figment;
        use figment::providers::{Format, Toml};
        Figment::from(Toml::string(crate::settings::DEFAULT_TOML))
            .merge(Toml::string(extra))
            .extract()
            .expect("config")
    }

    #[test]
    fn bases_cover_every_allowed_loopback_name() {
        let bases = public_bases(&config(""), 8080).expect("bases");
        assert_eq!(
            bases,
            [
                "http://localhost:8080",
                "http://127.0.0.1:8080",
                "http://[::1]:8080"
            ]
        );
    }

    #[test]
    fn a_public_url_is_the_only_base() {
        let bases = public_bases(
            &config("[server]\npublic_url = \"https://mcp.example.com/\"\n"),
            8080,
        )
        .expect("bases");
        assert_eq!(bases, ["https://mcp.example.com"]);
    }

    #[test]
    fn hosts_with_ports_keep_them() {
        let bases = public_bases(
            &config("[server]\nallowed_hosts = [\"example.com:9000\", \"[::1]:7000\"]\n"),
            8080,
        )
        .expect("bases");
        assert_eq!(bases, ["http://example.com:9000", "http://[::1]:7000"]);
    }
}
