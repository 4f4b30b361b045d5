//! Who is calling, once a token has been verified.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The kind of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person who signed in (authorization code + PKCE).
    User,
    /// A machine holding an access key.
    Machine,
    /// A caller that presented no credentials.
    Anonymous,
}

impl PrincipalKind {
    /// The lower-case name used in logs and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Machine => "machine",
            Self::Anonymous => "anonymous",
        }
    }
}

/// A verified caller: what the policies decide about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Principal {
    /// Stable id: the token's `sub`.
    pub id: String,
    /// Person, machine or anonymous.
    pub kind: PrincipalKind,
    /// The scopes (and permissions) the token grants.
    pub scopes: BTreeSet<String>,
    /// Project-level roles (the token's `roles`). Roles held in a tenant are
    /// never here: they are in `tenants`, and
    /// [`current_tenant_roles`](Self::current_tenant_roles) gives those of
    /// the current tenant.
    pub roles: BTreeSet<String>,
    /// The tenant the caller is acting in (Descope's `dct`), if any.
    pub tenant: Option<String>,
    /// Every tenant the caller belongs to, with its tenant-level grants.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantGrant>,
    /// The token this principal was verified from, for revocation: never
    /// decided on, never recorded.
    #[serde(skip)]
    pub credential: Credential,
}

/// What identifies the token a principal came from: enough to tell
/// whether it was revoked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Credential {
    /// The token's `jti`, if it has one.
    pub id: Option<String>,
    /// The token's `iat`, in seconds since the epoch, if it has one.
    pub issued_at: Option<u64>,
}

/// Roles and permissions a principal holds inside one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantGrant {
    /// Tenant-level roles.
    pub roles: BTreeSet<String>,
    /// Tenant-level permissions.
    pub permissions: BTreeSet<String>,
}

impl Principal {
    /// True when the principal holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The roles the principal holds in the tenant it acts in (its
    /// `tenants.<dct>.roles`); none when it acts in no tenant. Roles held in
    /// other tenants do not apply, as their permissions do not.
    pub fn current_tenant_roles(&self) -> impl Iterator<Item = &String> {
        self.tenant
            .as_ref()
            .and_then(|tenant| self.tenants.get(tenant))
            .into_iter()
            .flat_map(|grant| grant.roles.iter())
    }
}
