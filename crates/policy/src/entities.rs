//! Turning a principal and a tool into Cedar entities.
//!
//! The two halves are built apart and joined once per principal and tool: a
//! principal's entities once per verified principal, a tool's once per tool.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
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
}

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
        let entities = Entities::from_entities(entities, Some(schema))
            .map_err(|err| format!("principal entities do not match the schema: {err}"))?;
        Ok(Self { uid, entities })
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
