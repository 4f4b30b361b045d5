//! The scope catalogue, read from the policies' annotations.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{Effect, ResourceConstraint};

use crate::PolicyError;
use crate::error::ScopeConflict;
use crate::load::LoadedPolicies;

/// One scope, as the policies describe it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScopeInfo {
    /// The scope's name (`tools:ping`).
    pub name: String,
    /// What the scope grants, from `@description`.
    pub description: String,
    /// The tools named by the policies that carry this scope.
    pub tools: Vec<String>,
    /// The `@id`s of the policies that carry this scope.
    pub policies: Vec<String>,
}

/// Collects every `@scope` on a permit policy, with its `@description` and
/// the tools the policy names.
pub(crate) fn read(loaded: &LoadedPolicies) -> Result<Vec<ScopeInfo>, PolicyError> {
    let mut scopes: BTreeMap<String, (String, String, BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    let mut policies: Vec<_> = loaded.policies.policies().collect();
    policies.sort_by_key(|policy| policy.id().to_string());
    for policy in policies {
        let Some(scope) = policy.annotation("scope").map(str::trim) else {
            continue;
        };
        if policy.effect() != Effect::Permit || scope.is_empty() {
            continue;
        }
        let id = policy.id().to_string();
        let description = policy
            .annotation("description")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let entry = scopes.entry(scope.to_owned()).or_insert_with(|| {
            (
                description.clone(),
                id.clone(),
                BTreeSet::new(),
                BTreeSet::new(),
            )
        });
        if !description.is_empty() && entry.0.is_empty() {
            entry.0 = description.clone();
            entry.1 = id.clone();
        } else if !description.is_empty() && entry.0 != description {
            return Err(PolicyError::ConflictingScope(Box::new(ScopeConflict {
                file: loaded.files.get(&id).cloned().unwrap_or_default(),
                line: loaded.lines.get(&id).copied(),
                scope: scope.to_owned(),
                description,
                other: entry.0.clone(),
                other_policy: entry.1.clone(),
            })));
        }
        match policy.resource_constraint() {
            ResourceConstraint::Eq(uid) if uid.type_name().to_string() == "Tool" => {
                entry.2.insert(uid.id().unescaped().to_owned());
            }
            _ => {}
        }
        entry.3.insert(id);
    }
    Ok(scopes
        .into_iter()
        .map(|(name, (description, _, tools, policies))| ScopeInfo {
            name,
            description,
            tools: tools.into_iter().collect(),
            policies: policies.into_iter().collect(),
        })
        .collect())
}
