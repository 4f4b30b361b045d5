//! The scopes and roles the policies' conditions and scopes refer to, with
//! where each reference is: what generated configuration must provide for
//! the policies to mean what they say.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::load::LoadedPolicies;

/// One policy's reference to a scope or a role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The scope (`tools:ping`) or role (`operator`) referred to.
    pub name: String,
    /// The `@id` of the policy that refers to it.
    pub policy: String,
    /// The file that holds the policy.
    pub file: PathBuf,
    /// The 1-based line of the policy's `@id`, when known.
    pub line: Option<usize>,
}

/// What the policies refer to, each reference once per policy, ordered by
/// name and then by policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Scopes a condition tests for in `principal.scopes`
    /// (`contains`, `containsAll`, `containsAny`).
    pub scopes: Vec<Reference>,
    /// Roles named anywhere in a policy (`principal in Role::"operator"`).
    pub roles: Vec<Reference>,
}

pub(crate) fn read(loaded: &LoadedPolicies) -> References {
    let mut scopes = BTreeSet::new();
    let mut roles = BTreeSet::new();
    for policy in loaded.policies.policies() {
        let id = policy.id().to_string();
        // The JSON form spells out every expression, so walking it finds
        // references wherever the policy's author put them.
        let Ok(json) = policy.to_json() else {
            continue;
        };
        let mut found_scopes = BTreeSet::new();
        let mut found_roles = BTreeSet::new();
        walk(&json, &mut found_scopes, &mut found_roles);
        let reference = |name: String| Reference {
            name,
            policy: id.clone(),
            file: loaded.files.get(&id).cloned().unwrap_or_default(),
            line: loaded.lines.get(&id).copied(),
        };
        scopes.extend(found_scopes.into_iter().map(reference));
        roles.extend(found_roles.into_iter().map(reference));
    }
    References {
        scopes: scopes.into_iter().collect(),
        roles: roles.into_iter().collect(),
    }
}

fn walk(value: &Value, scopes: &mut BTreeSet<String>, roles: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if object.len() == 2
                && object.get("type").and_then(Value::as_str) == Some("Role")
                && let Some(id) = object.get("id").and_then(Value::as_str)
            {
                roles.insert(id.to_owned());
            }
            for operator in ["contains", "containsAll", "containsAny"] {
                if let Some(operands) = object.get(operator)
                    && is_principal_scopes(&operands["left"])
                {
                    string_values(&operands["right"], scopes);
                }
            }
            for child in object.values() {
                walk(child, scopes, roles);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, scopes, roles);
            }
        }
        _ => {}
    }
}

/// Whether `expression` is `principal.scopes`.
fn is_principal_scopes(expression: &Value) -> bool {
    let access = &expression["."];
    access["attr"] == "scopes" && access["left"]["Var"] == "principal"
}

/// Every string literal in `expression` (`"a"`, or `["a", "b"]`).
fn string_values(expression: &Value, into: &mut BTreeSet<String>) {
    match expression {
        Value::Object(object) => {
            if let Some(Value::String(text)) = object.get("Value") {
                into.insert(text.clone());
            }
            for child in object.values() {
                string_values(child, into);
            }
        }
        Value::Array(items) => {
            for item in items {
                string_values(item, into);
            }
        }
        _ => {}
    }
}
