//! Slicing the policy set per action and tool.
//!
//! A policy whose scope names another tool, another plugin or another action
//! can never apply to a request, so a decision only needs the policies whose
//! scope can match. The index is built once when the set is loaded; a slice
//! is cut the first time a tool is decided and reused afterwards.
//!
//! The cut is exact for the entities the server builds: a tool's only
//! ancestor is its plugin, and an action's ancestors come from the schema.

use std::collections::{HashMap, HashSet};

use cedar_policy::{ActionConstraint, EntityUid, Policy, PolicySet, ResourceConstraint, Schema};

use crate::ToolResource;
use crate::entities::uid;

/// The policies that can apply to one action on one tool.
pub(crate) struct Cut {
    pub(crate) policies: PolicySet,
    /// Whether any of them may look at the call's arguments.
    pub(crate) reads_arguments: bool,
    /// The string literals they mention: a scope can only change the
    /// decision if one of them names it.
    pub(crate) literals: HashSet<String>,
}

/// Where each policy can apply, by the tool or plugin its scope names.
pub(crate) struct SliceIndex {
    policies: Vec<Policy>,
    /// Policies whose resource scope names no particular tool or plugin.
    general: Vec<usize>,
    by_tool: HashMap<String, Vec<usize>>,
    by_plugin: HashMap<String, Vec<usize>>,
    /// Each action with its ancestors in the schema's action hierarchy.
    action_ancestry: HashMap<EntityUid, HashSet<EntityUid>>,
}

impl SliceIndex {
    pub(crate) fn new(set: &PolicySet, schema: &Schema) -> Self {
        let mut policies: Vec<Policy> = set.policies().cloned().collect();
        policies.sort_by_key(|policy| policy.id().to_string());
        let mut general = Vec::new();
        let mut by_tool: HashMap<String, Vec<usize>> = HashMap::new();
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
                (Some(uid), Some("Tool")) => by_tool
                    .entry(uid.id().unescaped().to_owned())
                    .or_default()
                    .push(index),
                (Some(uid), Some("Plugin")) => by_plugin
                    .entry(uid.id().unescaped().to_owned())
                    .or_default()
                    .push(index),
                // Other entity types never hold a tool: such a policy cannot
                // apply, but keeping it costs little and keeps the cut obviously
                // safe.
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
            by_tool,
            by_plugin,
            action_ancestry,
        }
    }

    /// The policies that can apply to `action` on `tool`.
    pub(crate) fn cut(&self, action: &EntityUid, tool: &ToolResource) -> Cut {
        let tool_uid = uid("Tool", &tool.name).ok();
        let plugin_uid = uid("Plugin", &tool.plugin).ok();
        let ancestry = self.action_ancestry.get(action);
        let candidates = self
            .general
            .iter()
            .chain(self.by_tool.get(&tool.name).into_iter().flatten())
            .chain(self.by_plugin.get(&tool.plugin).into_iter().flatten());
        let mut set = PolicySet::new();
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
                // Ids are unique in the loaded set, so adding cannot clash.
                let _ = set.add(policy.clone());
                // A textual check errs only towards "yes" (the word in a
                // string literal), which costs a caller nothing but order.
                let text = policy.to_string();
                reads_arguments |= text.contains("arguments");
                // Every other piece between quotes is a string literal.
                literals.extend(text.split('"').skip(1).step_by(2).map(str::to_owned));
            }
        }
        Cut {
            policies: set,
            reads_arguments,
            literals,
        }
    }
}
