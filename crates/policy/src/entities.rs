//! Turning a principal and a tool into Cedar entities.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};
use core_auth::{Principal, PrincipalKind};

use crate::ToolResource;

/// Builds `type::"id"` without going through Cedar's parser, so ids with
/// quotes or other syntax need no escaping.
fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = EntityTypeName::from_str(type_name)
        .map_err(|err| format!("entity type {type_name}: {err}"))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(id),
    ))
}

pub(crate) fn tool_uid(name: &str) -> Result<EntityUid, String> {
    uid("Tool", name)
}

/// The entities for one request: the principal with its roles and tenant,
/// and the tool with its plugin.
pub(crate) fn build(
    principal: &Principal,
    tool: &ToolResource,
    schema: &Schema,
) -> Result<(EntityUid, Entities), String> {
    let mut entities = Vec::new();

    let principal_uid = match principal.kind {
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
            if let Some(tenant) = &principal.tenant {
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

    let plugin_uid = uid("Plugin", &tool.plugin)?;
    entities.push(Entity::new_no_attrs(plugin_uid.clone(), HashSet::new()));
    let tool_attrs = HashMap::from([
        (
            "read_only".to_owned(),
            RestrictedExpression::new_bool(tool.read_only),
        ),
        (
            "destructive".to_owned(),
            RestrictedExpression::new_bool(tool.destructive),
        ),
    ]);
    let tool_entity = Entity::new(
        tool_uid(&tool.name)?,
        tool_attrs,
        HashSet::from([plugin_uid]),
    )
    .map_err(|err| format!("tool entity: {err}"))?;
    entities.push(tool_entity);

    let entities = Entities::from_entities(entities, Some(schema))
        .map_err(|err| format!("entities do not match the schema: {err}"))?;
    Ok((principal_uid, entities))
}
