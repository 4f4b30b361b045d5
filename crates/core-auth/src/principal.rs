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
    /// Project-level roles.
    pub roles: BTreeSet<String>,
    /// The tenant the caller is acting in (Descope's `dct`), if any.
    pub tenant: Option<String>,
    /// Every tenant the caller belongs to, with its tenant-level grants.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantGrant>,
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
}
