//! Demo mode: one static token that stands for one configured principal.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;

use oauth_kit::constant_time_eq;

use crate::{AuthError, BoxFuture, Principal, PrincipalKind, TokenRejection, TokenVerifier};

/// The demo principal, as configured (`[demo]` in `config/default.toml`).
#[derive(Clone, Deserialize)]
pub struct DemoPrincipalConfig {
    /// The static bearer token that stands for the demo principal.
    pub token: String,
    /// The principal's id.
    pub principal_id: String,
    /// The scopes the principal holds.
    pub scopes: BTreeSet<String>,
    /// The roles the principal holds.
    #[serde(default)]
    pub roles: BTreeSet<String>,
    /// The principal's tenant, if any.
    #[serde(default)]
    pub tenant: Option<String>,
}

impl std::fmt::Debug for DemoPrincipalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoPrincipalConfig")
            .field("token", &"<redacted>")
            .field("principal_id", &self.principal_id)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// Accepts the configured demo token as the demo principal, and hands every
/// other token to the demo authorization server's JWT verifier, if any.
pub struct DemoVerifier {
    token: String,
    principal: Arc<Principal>,
    tokens: Option<Arc<dyn TokenVerifier>>,
}

impl DemoVerifier {
    /// A verifier for the configured demo principal; `tokens` verifies the
    /// JWTs the demo authorization server issues.
    pub fn new(config: &DemoPrincipalConfig, tokens: Option<Arc<dyn TokenVerifier>>) -> Self {
        Self {
            tokens,
            token: config.token.clone(),
            principal: Arc::new(Principal {
                id: config.principal_id.clone(),
                kind: PrincipalKind::User,
                scopes: config.scopes.clone(),
                roles: config.roles.clone(),
                tenant: config.tenant.clone(),
                tenants: Default::default(),
                credential: Default::default(),
            }),
        }
    }
}

impl TokenVerifier for DemoVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<Principal>, AuthError>> {
        if constant_time_eq(token.as_bytes(), self.token.as_bytes()) {
            return Box::pin(std::future::ready(Ok(Arc::clone(&self.principal))));
        }
        match &self.tokens {
            Some(tokens) => tokens.verify(token),
            None => Box::pin(std::future::ready(Err(
                TokenRejection::NotTheDemoToken.into()
            ))),
        }
    }

    fn jwks_status(&self) -> Option<crate::JwksStatus> {
        self.tokens.as_ref().and_then(|tokens| tokens.jwks_status())
    }

    fn mode(&self) -> &'static str {
        "demo"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> DemoVerifier {
        DemoVerifier::new(
            &DemoPrincipalConfig {
                token: "demo_token_12345".into(),
                principal_id: "demo-user".into(),
                scopes: ["tools:ping".to_owned()].into(),
                roles: BTreeSet::new(),
                tenant: None,
            },
            None,
        )
    }

    #[tokio::test]
    async fn the_demo_token_becomes_the_demo_principal() {
        let principal = verifier()
            .verify("demo_token_12345")
            .await
            .expect("demo token accepted");
        assert_eq!(principal.id, "demo-user");
        assert_eq!(principal.kind, PrincipalKind::User);
        assert!(principal.has_scope("tools:ping"));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = DemoPrincipalConfig {
            token: "demo_token_12345".into(),
            principal_id: "demo-user".into(),
            scopes: BTreeSet::new(),
            roles: BTreeSet::new(),
            tenant: None,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("demo_token_12345"), "{shown}");
        assert!(shown.contains("demo-user"), "{shown}");
    }

    #[tokio::test]
    async fn any_other_token_is_invalid() {
        for token in ["demo_token_1234", "demo_token_123456", "x", ""] {
            let err = verifier().verify(token).await.expect_err("rejected");
            assert_eq!(err.oauth_error_code(), Some("invalid_token"));
        }
    }
}
