//! Mapping a verified token's claims to a [`Principal`].
//!
//! Claims come from outside, so every one is checked for type: a token whose
//! `roles` is a number is refused with a message naming `roles`, never
//! half-read.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::{AuthError, Credential, Principal, PrincipalKind, TenantGrant, TokenRejection};

/// Builds the principal from a verified token's claims (also used by the
/// policy tooling, which starts from claims written by hand).
pub fn principal_from_claims(claims: &Map<String, Value>) -> Result<Principal, AuthError> {
    let id = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        Some(_) => return Err(invalid("sub", "a non-empty string")),
        None => {
            return Err(TokenRejection::MissingClaim("sub".to_owned()).into());
        }
    };

    let mut scopes = BTreeSet::new();
    match claims.get("scope") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => scopes.extend(text.split_whitespace().map(str::to_owned)),
        Some(Value::Array(_)) => scopes.extend(string_list(claims, "scope")?),
        Some(_) => return Err(invalid("scope", "a space-separated string")),
    }
    scopes.extend(string_list(claims, "permissions")?);
    let roles: BTreeSet<String> = string_list(claims, "roles")?.into_iter().collect();

    let tenants = tenant_grants(claims)?;
    let tenant = match claims.get("dct") {
        None | Some(Value::Null) => None,
        Some(Value::String(dct)) if !dct.is_empty() => Some(dct.clone()),
        Some(_) => return Err(invalid("dct", "a tenant id string")),
    };
    // Inside its current tenant a principal also holds that tenant's
    // permissions. Its tenant roles stay in `tenants`: a tenant's `admin` is
    // not the project's `admin`, and the policies see it as a role of its own
    // kind (`Principal::current_tenant_roles`).
    if let Some(grant) = tenant.as_ref().and_then(|t| tenants.get(t)) {
        scopes.extend(grant.permissions.iter().cloned());
    }

    Ok(Principal {
        id,
        kind: principal_kind(claims)?,
        scopes,
        roles,
        tenant,
        tenants,
        credential: Credential {
            id: claims
                .get("jti")
                .and_then(Value::as_str)
                .filter(|jti| !jti.is_empty())
                .map(str::to_owned),
            issued_at: claims.get("iat").and_then(Value::as_u64),
        },
    })
}

/// Access-key tokens stand for machines; everything else for people.
///
/// Descope's identifiers carry their kind as a prefix: users are `U…`,
/// access keys `K…`, and an access key's session token has the key's id as
/// `sub`. An `amr` naming an access key says the same explicitly (the demo
/// authorization server's machine tokens carry it).
fn principal_kind(claims: &Map<String, Value>) -> Result<PrincipalKind, AuthError> {
    let by_method = string_list(claims, "amr")?.iter().any(|method| {
        method.eq_ignore_ascii_case("accesskey") || method.eq_ignore_ascii_case("access_key")
    });
    let by_id = claims
        .get("sub")
        .and_then(Value::as_str)
        .is_some_and(is_access_key_id);
    Ok(if by_method || by_id {
        PrincipalKind::Machine
    } else {
        PrincipalKind::User
    })
}

/// `K` followed by Descope's id alphabet, as in `K2ZGQJ7Q…`.
fn is_access_key_id(sub: &str) -> bool {
    sub.len() >= 8 && sub.starts_with('K') && sub[1..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `tenants: { "<id>": { "roles": [...], "permissions": [...] } }`.
fn tenant_grants(claims: &Map<String, Value>) -> Result<BTreeMap<String, TenantGrant>, AuthError> {
    let Some(value) = claims.get("tenants") else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(tenants) = value else {
        if value.is_null() {
            return Ok(BTreeMap::new());
        }
        return Err(invalid("tenants", "an object keyed by tenant id"));
    };
    let mut grants = BTreeMap::new();
    for (tenant, grant) in tenants {
        let Value::Object(grant) = grant else {
            return Err(invalid(&format!("tenants.{tenant}"), "an object"));
        };
        let field = |name: &str| {
            string_list(grant, name)
                .map_err(|_| invalid(&format!("tenants.{tenant}.{name}"), "a list of strings"))
        };
        grants.insert(
            tenant.clone(),
            TenantGrant {
                roles: field("roles")?.into_iter().collect(),
                permissions: field("permissions")?.into_iter().collect(),
            },
        );
    }
    Ok(grants)
}

/// A claim that must be a list of strings when present.
fn string_list(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(invalid(name, "a list of strings")),
            })
            .collect(),
        Some(_) => Err(invalid(name, "a list of strings")),
    }
}

fn invalid(claim: &str, expected: &'static str) -> AuthError {
    TokenRejection::InvalidClaim {
        claim: claim.to_owned(),
        expected,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("claims must be an object"),
        }
    }

    #[test]
    fn scopes_permissions_roles_and_tenant_are_mapped() {
        let principal = principal_from_claims(&claims(json!({
            "sub": "U123",
            "scope": "tools:ping  tools:review",
            "permissions": ["admin:logs"],
            "roles": ["reviewer"],
            "dct": "T1",
            "tenants": {
                "T1": {"roles": ["tenant-admin"], "permissions": ["admin:config"]},
                "T2": {"roles": ["other"], "permissions": ["tools:deploy"]}
            }
        })))
        .expect("valid claims");
        assert_eq!(principal.id, "U123");
        assert_eq!(principal.kind, PrincipalKind::User);
        let scopes: Vec<&str> = principal.scopes.iter().map(String::as_str).collect();
        assert_eq!(
            scopes,
            ["admin:config", "admin:logs", "tools:ping", "tools:review"]
        );
        let roles: Vec<&str> = principal.roles.iter().map(String::as_str).collect();
        assert_eq!(roles, ["reviewer"]);
        let tenant_roles: Vec<&str> = principal
            .current_tenant_roles()
            .map(String::as_str)
            .collect();
        assert_eq!(tenant_roles, ["tenant-admin"]);
        assert_eq!(principal.tenant.as_deref(), Some("T1"));
        assert_eq!(principal.tenants.len(), 2);
    }

    #[test]
    fn a_tenant_role_is_not_a_project_role() {
        let principal = principal_from_claims(&claims(json!({
            "sub": "U123",
            "dct": "T1",
            "tenants": {"T1": {"roles": ["admin"]}}
        })))
        .expect("valid claims");
        assert!(principal.roles.is_empty(), "{:?}", principal.roles);
        assert_eq!(
            principal.current_tenant_roles().collect::<Vec<_>>(),
            ["admin"]
        );
    }

    #[test]
    fn roles_in_another_tenant_are_not_held() {
        let principal = principal_from_claims(&claims(json!({
            "sub": "U123",
            "dct": "T2",
            "tenants": {"T1": {"roles": ["admin"]}, "T2": {}}
        })))
        .expect("valid claims");
        assert_eq!(principal.current_tenant_roles().count(), 0);
    }

    #[test]
    fn access_key_tokens_are_machines() {
        let principal = principal_from_claims(&claims(json!({"sub": "K1", "amr": ["accessKey"]})))
            .expect("valid");
        assert_eq!(principal.kind, PrincipalKind::Machine);
    }

    #[test]
    fn descope_access_key_ids_are_machines() {
        let key =
            principal_from_claims(&claims(json!({"sub": "K2ZGQJ7QHXLM3R9W"}))).expect("valid");
        assert_eq!(key.kind, PrincipalKind::Machine);
        for user in [
            "U2ZGQJ7QHXLM3R9W",
            "Kate",
            "K-not-an-id",
            "kate.smith@example.com",
        ] {
            let principal = principal_from_claims(&claims(json!({"sub": user}))).expect("valid");
            assert_eq!(principal.kind, PrincipalKind::User, "{user}");
        }
    }

    #[test]
    fn wrong_claim_types_are_named() {
        for (token_claims, named) in [
            (json!({"sub": "U", "roles": 5}), "`roles`"),
            (json!({"sub": "U", "roles": ["ok", 5]}), "`roles`"),
            (json!({"sub": "U", "scope": {"a": 1}}), "`scope`"),
            (
                json!({"sub": "U", "permissions": "tools:ping"}),
                "`permissions`",
            ),
            (json!({"sub": "U", "tenants": []}), "`tenants`"),
            (
                json!({"sub": "U", "tenants": {"T": {"roles": "x"}}}),
                "`tenants.T.roles`",
            ),
            (json!({"sub": "U", "dct": 7}), "`dct`"),
            (json!({"sub": 42}), "`sub`"),
        ] {
            let err = principal_from_claims(&claims(token_claims)).expect_err("refused");
            assert!(err.to_string().contains(named), "{err} should name {named}");
        }
    }
}
