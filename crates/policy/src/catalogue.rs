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
    /// The resources (URIs or templates) named by the policies that carry
    /// this scope.
    pub resources: Vec<String>,
    /// The prompts named by the policies that carry this scope.
    pub prompts: Vec<String>,
    /// The `@id`s of the policies that carry this scope.
    pub policies: Vec<String>,
}

/// Collects every `@scope` on a permit policy, with its `@description` and
/// the tools the policy names.
pub(crate) fn read(loaded: &LoadedPolicies) -> Result<Vec<ScopeInfo>, PolicyError> {
    let mut scopes: BTreeMap<String, Collected> = BTreeMap::new();
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
        let entry = scopes.entry(scope.to_owned()).or_insert_with(|| Collected {
            description: description.clone(),
            described_by: id.clone(),
            ..Collected::default()
        });
        if !description.is_empty() && entry.description.is_empty() {
            entry.description = description.clone();
            entry.described_by = id.clone();
        } else if !description.is_empty() && entry.description != description {
            return Err(PolicyError::ConflictingScope(Box::new(ScopeConflict {
                file: loaded.files.get(&id).cloned().unwrap_or_default(),
                line: loaded.lines.get(&id).copied(),
                scope: scope.to_owned(),
                description,
                other: entry.description.clone(),
                other_policy: entry.described_by.clone(),
            })));
        }
        if let ResourceConstraint::Eq(uid) = policy.resource_constraint() {
            let named = uid.id().unescaped().to_owned();
            match uid.type_name().to_string().as_str() {
                "Tool" => entry.tools.insert(named),
                "Resource" => entry.resources.insert(named),
                "Prompt" => entry.prompts.insert(named),
                _ => false,
            };
        }
        entry.policies.insert(id);
    }
    Ok(scopes
        .into_iter()
        .map(|(name, collected)| ScopeInfo {
            name,
            description: collected.description,
            tools: collected.tools.into_iter().collect(),
            resources: collected.resources.into_iter().collect(),
            prompts: collected.prompts.into_iter().collect(),
            policies: collected.policies.into_iter().collect(),
        })
        .collect())
}

/// What the policies say of one scope so far.
#[derive(Default)]
struct Collected {
    description: String,
    /// The policy the description was read from.
    described_by: String,
    tools: BTreeSet<String>,
    resources: BTreeSet<String>,
    prompts: BTreeSet<String>,
    policies: BTreeSet<String>,
}
