//! Who may call: the token verifier built from the settings, and the
//! authorization server that issues the tokens it accepts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use core_auth::{
    AccessKeyExchange, DemoVerifier, JwtConfig, JwtVerifier, KeySet, KeySource, TokenVerifier,
};
use oauth_kit::SigningKey;

use crate::settings::{AuthoritySettings, DemoSettings, DescopeClient, Settings};
use crate::shared::Shared;

/// The file, inside `DATA_DIR`, that holds the demo server's signing key.
const DEMO_KEY_FILE: &str = "demo-signing-key.der";

/// The authorization server that issues the tokens this server accepts.
pub(crate) enum Authority {
    /// The embedded demo server, signing with this key.
    Demo {
        key: Arc<SigningKey>,
        settings: DemoSettings,
    },
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
pub(crate) fn public_bases(settings: &Settings, port: u16) -> Vec<String> {
    if let Some(url) = &settings.public_url {
        return vec![url.clone()];
    }
    settings
        .allowed_hosts
        .iter()
        .map(|host| host.base_url(port))
        .collect()
}

/// Builds the verifier: Descope's JWKS in production; in demo mode the demo
/// token plus the demo authorization server's own key.
pub(crate) async fn build(
    settings: &Settings,
    bases: &[String],
    shared: &Shared,
) -> anyhow::Result<Identity> {
    let mut audiences = Vec::new();
    for base in bases {
        audiences.push(format!("{base}/mcp"));
        audiences.push(base.clone());
    }
    let tokens = &settings.tokens;
    let mut jwt = JwtConfig {
        project_id: settings.project_id.clone(),
        accept_project_audience: tokens.accept_project_audience,
        mcp_server_id: tokens.mcp_server_id.clone(),
        base_url: settings.descope_base_url.clone(),
        extra_issuers: tokens.extra_issuers.clone(),
        audiences,
        algorithms: tokens.algorithms.clone(),
        verify_expiration: tokens.verify_expiration,
        required_claims: tokens.require_claims.clone(),
        leeway: tokens.leeway,
        max_token_age: tokens.max_token_age,
        max_token_bytes: tokens.max_token_bytes,
        cache_ttl: tokens.cache_ttl,
        cache_capacity: tokens.cache_capacity,
    };

    let descope = match &settings.authority {
        AuthoritySettings::Demo(demo) => {
            let key = load_demo_key(&demo.data_dir.join(DEMO_KEY_FILE), shared).await?;
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
            let verifier = Arc::new(DemoVerifier::new(&settings.demo_user, Some(tokens)));
            return Ok(Identity {
                verifier,
                authority: Authority::Demo {
                    key: Arc::new(key),
                    settings: demo.clone(),
                },
            });
        }
        AuthoritySettings::Descope(descope) => descope,
    };

    let url = &descope.jwks_url;
    let keys = Arc::new(
        KeySet::new(KeySource::Remote {
            url: url.clone(),
            refetch_interval: descope.jwks_refetch_interval,
        })
        .context("Descope's signing keys")?,
    );
    // A Descope outage must not keep the server down: it starts, reports the
    // keys as stale in /health, and refuses tokens until keys arrive.
    if let Err(error) = keys.refresh().await {
        tracing::warn!(%url, %error, "cannot fetch Descope's signing keys yet; tokens are refused until they arrive");
    }
    spawn_refresh(Arc::clone(&keys), descope.jwks_refresh);
    let verifier = Arc::new(JwtVerifier::new(jwt, Arc::clone(&keys), "descope"));
    let (base, project) = (&settings.descope_base_url, &settings.project_id);
    Ok(Identity {
        verifier,
        authority: Authority::Descope {
            issuer: format!("{base}/v1/apps/{project}"),
            access_keys: Arc::new(
                AccessKeyExchange::new(base, project).context("Descope's access-key exchange")?,
            ),
            login_client: descope.login_client.clone(),
        },
    })
}

/// The demo server's signing key: the one in `path` (made there the first
/// time), or, with Redis, the one every replica shares (the first
/// replica's), so a token minted on one replica verifies on all.
async fn load_demo_key(path: &Path, shared: &Shared) -> anyhow::Result<SigningKey> {
    let key = SigningKey::load_or_create(path)
        .with_context(|| "the demo authorization server's signing key (set DATA_DIR)")?;
    let Some(redis) = shared.redis() else {
        tracing::info!(file = %path.display(), kid = key.kid(), "demo signing key ready");
        return Ok(key);
    };
    let own = STANDARD.encode(key.to_pkcs8().context("encoding the demo signing key")?);
    let stored = redis
        .shared_secret(DEMO_KEY_SECRET, &own)
        .await
        .context("sharing the demo signing key through Redis")?;
    let der = STANDARD
        .decode(stored.as_bytes())
        .context("the demo signing key in Redis is not base64; delete it and restart")?;
    let key = SigningKey::from_pkcs8(&der, Path::new("Redis"))
        .context("the demo signing key in Redis; delete it and restart")?;
    tracing::info!(kid = key.kid(), "demo signing key shared by every replica");
    Ok(key)
}

/// The name the demo signing key is shared under in Redis.
const DEMO_KEY_SECRET: &str = "demo-signing-key";

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

    fn settings(extra: &str) -> Settings {
        crate::settings::tests_support::settings(extra)
    }

    #[test]
    fn bases_cover_every_allowed_loopback_name() {
        assert_eq!(
            public_bases(&settings(""), 8080),
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
            &settings("[server]\npublic_url = \"https://mcp.example.com/\"\n"),
            8080,
        );
        assert_eq!(bases, ["https://mcp.example.com"]);
    }

    #[test]
    fn hosts_with_ports_keep_them() {
        let bases = public_bases(
            &settings("[server]\nallowed_hosts = [\"example.com:9000\", \"[::1]:7000\"]\n"),
            8080,
        );
        assert_eq!(bases, ["http://example.com:9000", "http://[::1]:7000"]);
    }
}
