//! Turning a principal and a tool into Cedar entities.
//!
//! The two halves are built apart and joined per decision: a principal's
//! entities once per distinct verified principal, a tool's once per tool, so
//! a decision only links them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, PrincipalConstraint,
    RestrictedExpression, Schema,
};
use core_auth::{Principal, PrincipalKind};

use crate::ToolResource;

/// Builds `type::"id"` without going through Cedar's parser, so ids with
/// quotes or other syntax need no escaping.
pub(crate) fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = EntityTypeName::from_str(type_name)
        .map_err(|err| format!("entity type {type_name}: {err}"))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

/// A principal as Cedar sees it, checked against the schema.
pub(crate) struct Subject {
    pub(crate) uid: EntityUid,
    pub(crate) entities: Entities,
    /// The principal's ancestors: its roles and tenants.
    ancestors: HashSet<EntityUid>,
    /// Per action (in `Action::ALL` order), what each tool decided so far
    /// needs for this principal.
    with_tools: [Mutex<crate::FastMap<ToolResource, Arc<Prepared>>>; 2],
}

/// Everything a decision about one principal and one tool needs besides the
/// context: the joined entities, and the tool's slice cut down to the
/// policies whose principal scope this principal can match.
pub(crate) struct Prepared {
    pub(crate) tool_uid: EntityUid,
    pub(crate) entities: Entities,
    pub(crate) policies: PolicySet,
}

/// How many tools a subject keeps joined entities for.
const JOINED_CAPACITY: usize = 256;

impl Subject {
    /// The principal entity with its roles and tenants as parents.
    pub(crate) fn build(principal: &Principal, schema: &Schema) -> Result<Self, String> {
        let mut entities = Vec::new();
        let uid = match principal.kind {
            PrincipalKind::Anonymous => {
                let uid = uid("Anonymous", &principal.id)?;
                entities.push(Entity::new_no_attrs(uid.clone(), HashSet::new()));
                uid
            }
            kind => {
                let type_name = if kind == PrincipalKind::Machine {
                    "Machine"
                } else {
                    "User"
                };
                let principal_uid = uid(type_name, &principal.id)?;
                let mut parents = HashSet::new();
                for role in &principal.roles {
                    let role_uid = uid("Role", role)?;
                    entities.push(Entity::new_no_attrs(role_uid.clone(), HashSet::new()));
                    parents.insert(role_uid);
                }
                let tenants: BTreeSet<&String> = principal
                    .tenants
                    .keys()
                    .chain(principal.tenant.as_ref())
                    .collect();
                for tenant in tenants {
                    let tenant_uid = uid("Tenant", tenant)?;
                    entities.push(Entity::new_no_attrs(tenant_uid.clone(), HashSet::new()));
                    parents.insert(tenant_uid);
                }
                let scopes = RestrictedExpression::new_set(
                    principal
                        .scopes
                        .iter()
                        .cloned()
                        .map(RestrictedExpression::new_string),
                );
                let attrs = HashMap::from([("scopes".to_owned(), scopes)]);
                let entity = Entity::new(principal_uid.clone(), attrs, parents)
                    .map_err(|err| format!("principal entity: {err}"))?;
                entities.push(entity);
                principal_uid
            }
        };
        let ancestors = entities
            .iter()
            .map(Entity::uid)
            .filter(|ancestor| ancestor != &uid)
            .collect();
        let entities = Entities::from_entities(entities, Some(schema))
            .map_err(|err| format!("principal entities do not match the schema: {err}"))?;
        Ok(Self {
            uid,
            entities,
            ancestors,
            with_tools: Default::default(),
        })
    }

    /// What deciding `action` on `tool` needs, prepared from the tool's
    /// slice the first time.
    pub(crate) fn with_tool(
        &self,
        action: crate::Action,
        resource: &ToolResource,
        slice: impl FnOnce() -> Result<Arc<crate::Slice>, String>,
    ) -> Result<Arc<Prepared>, String> {
        let mut prepared = self.with_tools[action as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(ready) = prepared.get(resource) {
            return Ok(Arc::clone(ready));
        }
        let slice = slice()?;
        let mut policies = PolicySet::new();
        for policy in slice.policies.policies() {
            if self.can_match(&policy.principal_constraint()) {
                // Ids are unique in the slice, so adding cannot clash.
                let _ = policies.add(policy.clone());
            }
        }
        let ready = Arc::new(Prepared {
            tool_uid: slice.tool.uid.clone(),
            entities: join(self, &slice.tool)?,
            policies,
        });
        if prepared.len() >= JOINED_CAPACITY {
            prepared.clear();
        }
        prepared.insert(resource.clone(), Arc::clone(&ready));
        Ok(ready)
    }

    /// Whether a policy's principal scope can hold for this principal. Exact
    /// for the entities built here: the principal's only ancestors are its
    /// roles and tenants, which have none of their own.
    fn can_match(&self, constraint: &PrincipalConstraint) -> bool {
        let is_or_in = |uid: &EntityUid| uid == &self.uid || self.ancestors.contains(uid);
        match constraint {
            PrincipalConstraint::Any => true,
            PrincipalConstraint::Eq(uid) => uid == &self.uid,
            PrincipalConstraint::In(uid) => is_or_in(uid),
            PrincipalConstraint::Is(type_name) => type_name == self.uid.type_name(),
            PrincipalConstraint::IsIn(type_name, uid) => {
                type_name == self.uid.type_name() && is_or_in(uid)
            }
        }
    }
}

/// A tool as Cedar sees it: the tool entity and its plugin, checked against
/// the schema.
pub(crate) struct ToolEntities {
    pub(crate) uid: EntityUid,
    pub(crate) entities: Vec<Entity>,
}

impl ToolEntities {
    pub(crate) fn build(tool: &ToolResource, schema: &Schema) -> Result<Self, String> {
        let plugin_uid = uid("Plugin", &tool.plugin)?;
        let tool_uid = uid("Tool", &tool.name)?;
        let attrs = HashMap::from([
            (
                "read_only".to_owned(),
                RestrictedExpression::new_bool(tool.read_only),
            ),
            (
                "destructive".to_owned(),
                RestrictedExpression::new_bool(tool.destructive),
            ),
        ]);
        let entities = vec![
            Entity::new_no_attrs(plugin_uid.clone(), HashSet::new()),
            Entity::new(tool_uid.clone(), attrs, HashSet::from([plugin_uid]))
                .map_err(|err| format!("tool entity: {err}"))?,
        ];
        // Checked once here so that joining with a subject needs no schema.
        Entities::from_entities(entities.clone(), Some(schema))
            .map_err(|err| format!("tool entities do not match the schema: {err}"))?;
        Ok(Self {
            uid: tool_uid,
            entities,
        })
    }
}

/// The entities for one decision.
pub(crate) fn join(subject: &Subject, tool: &ToolEntities) -> Result<Entities, String> {
    subject
        .entities
        .clone()
        .add_entities(tool.entities.iter().cloned(), None)
        .map_err(|err| format!("entities: {err}"))
}
