//! Slicing the policy set per action and tool.
//!
//! A policy whose scope names another tool, another plugin or another action
//! can never apply to a request, so a decision only needs the policies whose
//! scope can match. The index is built once when the set is loaded; a slice
//! is cut the first time a tool is decided and reused afterwards.
//!
//! The cut may keep a policy that cannot apply (it errs towards keeping);
//! each policy is also split into its scope and its conditions, so that
//! once a principal is known the scope is settled once and only the
//! conditions are evaluated per decision (see `prepare.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, Effect, EntityUid, Policy, PolicyId, PolicySet, ResourceConstraint, Schema,
};
use serde_json::{Value, json};

use crate::Target;
use crate::entities::uid;

/// The policies that can apply to one action on one tool.
pub(crate) struct Cut {
    /// Each policy's scope alone, as an unconditional `permit` with the
    /// policy's id: Cedar's answer over this set names the policies whose
    /// scope matches a request.
    pub(crate) scopes: PolicySet,
    /// Each policy, by id.
    pub(crate) policies: HashMap<PolicyId, SlicedPolicy>,
    /// Whether any of them may look at the call's arguments.
    pub(crate) reads_arguments: bool,
    /// The string literals they mention: a scope can only change the
    /// decision if one of them names it.
    pub(crate) literals: HashSet<String>,
}

/// Where each policy can apply, by the tool, resource, prompt or plugin its
/// scope names.
pub(crate) struct SliceIndex {
    policies: Vec<Policy>,
    /// Policies whose resource scope names no particular entity.
    general: Vec<usize>,
    /// By entity type (`Tool`, `Resource`, `Prompt`) and id.
    by_target: HashMap<(String, String), Vec<usize>>,
    by_plugin: HashMap<String, Vec<usize>>,
    /// Each action with its ancestors in the schema's action hierarchy.
    action_ancestry: HashMap<EntityUid, HashSet<EntityUid>>,
}

impl SliceIndex {
    pub(crate) fn new(set: &PolicySet, schema: &Schema) -> Self {
        let mut policies: Vec<Policy> = set.policies().cloned().collect();
        policies.sort_by_key(|policy| policy.id().to_string());
        let mut general = Vec::new();
        let mut by_target: HashMap<(String, String), Vec<usize>> = HashMap::new();
        let mut by_plugin: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, policy) in policies.iter().enumerate() {
            let named = match policy.resource_constraint() {
                ResourceConstraint::Eq(uid)
                | ResourceConstraint::In(uid)
                | ResourceConstraint::IsIn(_, uid) => Some(uid),
                ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
            };
            let type_name = named.as_ref().map(|uid| uid.type_name().to_string());
            match (named.as_ref(), type_name.as_deref()) {
                (Some(uid), Some(kind @ ("Tool" | "Resource" | "Prompt"))) => by_target
                    .entry((kind.to_owned(), uid.id().unescaped().to_owned()))
                    .or_default()
                    .push(index),
                (Some(uid), Some("Plugin")) => by_plugin
                    .entry(uid.id().unescaped().to_owned())
                    .or_default()
                    .push(index),
                // Other entity types never hold a target: such a policy
                // cannot apply, but keeping it costs little and keeps the cut
                // obviously safe.
                _ => general.push(index),
            }
        }
        let mut action_ancestry = HashMap::new();
        if let Ok(actions) = schema.action_entities() {
            for action in actions.iter() {
                let uid = action.uid();
                let mut ancestry: HashSet<EntityUid> = actions
                    .ancestors(&uid)
                    .map(|ancestors| ancestors.cloned().collect())
                    .unwrap_or_default();
                ancestry.insert(uid.clone());
                action_ancestry.insert(uid, ancestry);
            }
        }
        Self {
            policies,
            general,
            by_target,
            by_plugin,
            action_ancestry,
        }
    }

    /// The policies that can apply to `action` on `tool`.
    pub(crate) fn cut(&self, action: &EntityUid, tool: &Target) -> Cut {
        let tool_uid = uid(tool.kind.entity_type(), &tool.name).ok();
        let plugin_uid = uid("Plugin", &tool.plugin).ok();
        let ancestry = self.action_ancestry.get(action);
        let candidates = self
            .general
            .iter()
            .chain(
                self.by_target
                    .get(&(tool.kind.entity_type().to_owned(), tool.name.clone()))
                    .into_iter()
                    .flatten(),
            )
            .chain(self.by_plugin.get(&tool.plugin).into_iter().flatten());
        let mut scopes = PolicySet::new();
        let mut policies = HashMap::new();
        let mut reads_arguments = false;
        let mut literals = HashSet::new();
        for &index in candidates {
            let policy = &self.policies[index];
            let action_matches = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(uid) => &uid == action,
                // Without the schema's hierarchy, keep it: never drop what
                // might apply.
                ActionConstraint::In(uids) => {
                    ancestry.is_none_or(|ancestry| uids.iter().any(|uid| ancestry.contains(uid)))
                }
            };
            let resource_matches = match policy.resource_constraint() {
                ResourceConstraint::Eq(uid) => Some(&uid) == tool_uid.as_ref(),
                ResourceConstraint::In(uid) | ResourceConstraint::IsIn(_, uid) => {
                    Some(&uid) == tool_uid.as_ref() || Some(&uid) == plugin_uid.as_ref()
                }
                ResourceConstraint::Any | ResourceConstraint::Is(_) => true,
            };
            if action_matches && resource_matches {
                let sliced = SlicedPolicy::split(policy);
                if let Some(scope) = &sliced.scope {
                    // Ids are unique in the loaded set, so adding cannot clash.
                    let _ = scopes.add(scope.clone());
                }
                policies.insert(policy.id().clone(), sliced);
                // A textual check errs only towards "yes" (the word in a
                // string literal), which costs a caller nothing but order.
                let text = policy.to_string();
                reads_arguments |= text.contains("arguments");
                // Every other piece between quotes is a string literal.
                literals.extend(text.split('"').skip(1).step_by(2).map(str::to_owned));
            }
        }
        Cut {
            scopes,
            policies,
            reads_arguments,
            literals,
        }
    }
}

/// One policy of a slice, split so that its scope can be settled apart
/// from its conditions.
pub(crate) struct SlicedPolicy {
    /// The scope alone: a `permit` with the policy's id and no conditions.
    /// `None` for a policy whose JSON form does not round-trip: it is then
    /// evaluated whole for every principal, slower but never wrong.
    pub(crate) scope: Option<Policy>,
    /// The whole policy, scope included.
    pub(crate) whole: Arc<Conditions>,
    /// What is left to evaluate once the scope is known to match.
    pub(crate) rest: Rest,
}

/// A policy with its scope already known to match.
pub(crate) enum Rest {
    /// No conditions: the policy is satisfied whenever its scope matches.
    Always(Effect),
    /// The policy's `when` and `unless` clauses alone.
    Conditions(Arc<Conditions>),
}

/// An expression to evaluate per decision for one policy, built once
/// (Cedar's authorizer builds a policy's condition again on every call).
pub(crate) struct Conditions {
    /// The policy's id, as Cedar reports it.
    pub(crate) id: String,
    pub(crate) effect: Effect,
    /// The policy, for its slot values (none for a static policy).
    pub(crate) policy: Policy,
    pub(crate) condition: cedar_policy_core::ast::Expr,
}

impl Conditions {
    fn new(policy: &Policy, condition: cedar_policy_core::ast::Expr) -> Arc<Self> {
        Arc::new(Self {
            id: policy.id().to_string(),
            effect: policy.effect(),
            policy: policy.clone(),
            condition,
        })
    }
}

impl SlicedPolicy {
    fn split(policy: &Policy) -> Self {
        let core: &cedar_policy_core::ast::Policy = policy.as_ref();
        let whole = Conditions::new(policy, core.condition());
        // For a request the scope matches, Cedar's condition is
        // `true && true && true && clauses`, which is the clauses' value.
        let rest = match core.non_scope_constraints() {
            None => Rest::Always(policy.effect()),
            Some(clauses) => Rest::Conditions(Conditions::new(policy, clauses.clone())),
        };
        Self {
            scope: scope_of(policy),
            whole,
            rest,
        }
    }
}

/// The policy's scope as an unconditional `permit` with the policy's id,
/// built through its JSON form, Cedar's lossless representation.
fn scope_of(policy: &Policy) -> Option<Policy> {
    let Ok(Value::Object(mut fields)) = policy.to_json() else {
        return None;
    };
    fields.remove("annotations");
    fields.insert("effect".to_owned(), json!("permit"));
    fields.insert("conditions".to_owned(), json!([]));
    Policy::from_json(Some(policy.id().clone()), Value::Object(fields)).ok()
}
