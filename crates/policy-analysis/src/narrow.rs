//! Narrowing a policy set to one resource, so that a proof about a kind of
//! request becomes a proof about one tool.
//!
//! symcc proves things about every request of a kind (a `User` calling a
//! `Tool`); the tool a request names is one more unknown. Adding
//! `resource == Tool::"ping"` to every policy of both sets makes a proof
//! about the pair a proof about `ping` alone: a request for another tool is
//! denied by both. The resources worth a proof of their own are the ones a
//! policy names; the rest are covered together by the negation of all of
//! them.

use std::collections::BTreeSet;
use std::fmt;

use cedar_policy::{Policy, PolicySet};
use serde_json::{Value, json};

use crate::AnalysisError;

/// Which resources of one type a proof is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resources {
    /// The resource with this id.
    Named {
        /// The resource's entity type (`Tool`).
        kind: String,
        /// Its id (`ping`).
        id: String,
    },
    /// Every resource of the type but the named ones: the ones no policy
    /// of either set names.
    Others {
        /// The entity type.
        kind: String,
        /// The ids left out.
        named: Vec<String>,
    },
}

impl Resources {
    /// The condition a policy must meet to be about these resources, as a
    /// Cedar JSON expression.
    fn condition(&self) -> Option<Value> {
        match self {
            Self::Named { kind, id } => Some(is_resource(kind, id)),
            Self::Others { kind, named } => {
                let any = named
                    .iter()
                    .map(|id| is_resource(kind, id))
                    .reduce(|left, right| json!({ "||": { "left": left, "right": right } }))?;
                Some(json!({ "!": { "arg": any } }))
            }
        }
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named { kind, id } => write!(f, "{kind}::{id:?}"),
            Self::Others { kind, named } if named.is_empty() => write!(f, "every {kind}"),
            Self::Others { kind, .. } => write!(f, "every other {kind}"),
        }
    }
}

/// `resource == <kind>::"<id>"`.
fn is_resource(kind: &str, id: &str) -> Value {
    json!({ "==": {
        "left": { "Var": "resource" },
        "right": { "Value": { "__entity": { "type": kind, "id": id } } },
    } })
}

/// The ids of the entities of type `kind` that a policy of `sets` names, in
/// its scope or its conditions.
pub(crate) fn named(sets: &[&PolicySet], kind: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for policy in sets.iter().flat_map(|set| set.policies()) {
        if let Ok(json) = policy.to_json() {
            collect(&json, kind, &mut ids);
        }
    }
    ids
}

/// Every `{"type": kind, "id": …}` in a policy's JSON: how Cedar writes an
/// entity both in a policy's scope and, under `__entity`, in its
/// conditions.
fn collect(value: &Value, kind: &str, ids: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let (Some(Value::String(found)), Some(Value::String(id))) =
                (object.get("type"), object.get("id"))
                && found == kind
            {
                ids.insert(id.clone());
            }
            for inner in object.values() {
                collect(inner, kind, ids);
            }
        }
        Value::Array(items) => {
            for inner in items {
                collect(inner, kind, ids);
            }
        }
        _ => {}
    }
}

/// `set` with every policy limited to `resources`.
pub(crate) fn narrow(set: &PolicySet, resources: &Resources) -> Result<PolicySet, AnalysisError> {
    let Some(condition) = resources.condition() else {
        return Ok(set.clone());
    };
    let failed = |policy: &Policy, reason: String| AnalysisError::Narrow {
        policy: policy.id().to_string(),
        resource: resources.to_string(),
        reason,
    };
    let mut narrowed = PolicySet::new();
    for policy in set.policies() {
        let mut json = policy
            .to_json()
            .map_err(|err| failed(policy, err.to_string()))?;
        let Some(conditions) = json.get_mut("conditions").and_then(Value::as_array_mut) else {
            return Err(failed(policy, "its JSON has no conditions".to_owned()));
        };
        conditions.push(json!({ "kind": "when", "body": condition.clone() }));
        let narrowed_policy = Policy::from_json(Some(policy.id().clone()), json)
            .map_err(|err| failed(policy, err.to_string()))?;
        narrowed
            .add(narrowed_policy)
            .map_err(|err| failed(policy, err.to_string()))?;
    }
    Ok(narrowed)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    fn set(text: &str) -> PolicySet {
        PolicySet::from_str(text).expect("the test's policies parse")
    }

    #[test]
    fn named_resources_come_from_scopes_and_conditions() {
        let policies = set(r#"
            permit(principal, action, resource == Tool::"ping");
            permit(principal, action in [Action::"call"], resource) when { [Tool::"a", Tool::"b"].contains(resource) };
            permit(principal, action, resource) when { resource == Tool::"c" || resource == Prompt::"p" };
        "#);
        let ids: Vec<String> = named(&[&policies], "Tool").into_iter().collect();
        assert_eq!(ids, ["a", "b", "c", "ping"]);
        let prompts: Vec<String> = named(&[&policies], "Prompt").into_iter().collect();
        assert_eq!(prompts, ["p"]);
    }

    #[test]
    fn narrowing_adds_the_resource_to_every_policy() {
        let policies = set(r#"permit(principal, action, resource);"#);
        let only_ping = narrow(
            &policies,
            &Resources::Named {
                kind: "Tool".to_owned(),
                id: "ping".to_owned(),
            },
        )
        .expect("narrows");
        let text = only_ping.to_string();
        assert!(text.contains(r#"resource == Tool::"ping""#), "{text}");
        let others = narrow(
            &policies,
            &Resources::Others {
                kind: "Tool".to_owned(),
                named: vec!["a".to_owned(), "b".to_owned()],
            },
        )
        .expect("narrows");
        let text = others.to_string();
        assert!(
            text.contains(r#"!((resource == Tool::"a") || (resource == Tool::"b"))"#),
            "{text}"
        );
    }
}
