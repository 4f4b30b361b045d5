//! Turning a principal and a tool into Cedar entities.
//!
//! The two halves are built apart and joined once per principal and tool: a
//! principal's entities once per verified principal, a tool's once per tool.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};
use core_auth::{Principal, PrincipalKind, TenantGrant};

use crate::{PolicyError, Target};

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

/// The id of the `TenantRole` for `role` held in `tenant`: `<tenant>/<role>`.
///
/// Qualified by the tenant so that a tenant's `admin` is neither the
/// project's `Role::"admin"` nor another tenant's `admin`. A tenant id with a
/// `/` would make the id ambiguous (`a/b` + `c` and `a` + `b/c` meet), so it
/// is refused, and the decision with it.
fn tenant_role_id(tenant: &str, role: &str) -> Result<String, String> {
    if tenant.contains('/') {
        return Err(format!(
            "tenant id `{tenant}` contains `/`, so its roles cannot be named as \
             TenantRole::\"<tenant>/<role>\"; use tenant ids without `/`"
        ));
    }
    Ok(format!("{tenant}/{role}"))
}

/// A principal as Cedar sees it, checked against the schema.
pub(crate) struct Subject {
    pub(crate) uid: EntityUid,
    pub(crate) entities: Entities,
}

impl Subject {
    /// The principal entity with its parents: its project roles (`Role`),
    /// the roles it holds in its current tenant (`TenantRole`, itself in that
    /// `Tenant`) and its tenants.
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
                if let Some(tenant) = &principal.tenant {
                    for role in principal.current_tenant_roles() {
                        let role_uid = uid("TenantRole", &tenant_role_id(tenant, role)?)?;
                        let tenant_uid = uid("Tenant", tenant)?;
                        entities.push(Entity::new_no_attrs(
                            role_uid.clone(),
                            HashSet::from([tenant_uid]),
                        ));
                        parents.insert(role_uid);
                    }
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
        let entities = Entities::from_entities(entities, Some(schema)).map_err(|err| {
            format!(
                "principal entities do not match the schema: {}",
                with_causes(&err)
            )
        })?;
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
    pub(crate) fn build(tool: &Target, schema: &Schema) -> Result<Self, String> {
        let plugin_uid = uid("Plugin", &tool.plugin)?;
        let tool_uid = uid(tool.kind.entity_type(), &tool.name)?;
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
                .map_err(|err| format!("{} entity: {err}", tool.kind.entity_type()))?,
        ];
        // Checked once here so that joining with a subject needs no schema.
        Entities::from_entities(entities.clone(), Some(schema)).map_err(|err| {
            format!(
                "tool entities do not match the schema: {}",
                with_causes(&err)
            )
        })?;
        Ok(Self {
            uid: tool_uid,
            entities,
        })
    }
}

/// Refuses a schema that cannot hold the entities the server builds: a user
/// and a machine with a scope, a project role, a tenant and a role in that
/// tenant, and a tool in its plugin. Without this, a schema written before
/// `TenantRole` existed would load and then deny every caller holding a
/// tenant role, with the reason only in the decision log.
pub(crate) fn check_schema(schema: &Schema, schema_file: &Path) -> Result<(), PolicyError> {
    let refuse = |message: String| PolicyError::schema(schema_file, message);
    let sample = String::from("sample");
    for kind in [PrincipalKind::User, PrincipalKind::Machine] {
        let principal = Principal {
            id: sample.clone(),
            kind,
            scopes: BTreeSet::from([sample.clone()]),
            roles: BTreeSet::from([sample.clone()]),
            tenant: Some(sample.clone()),
            tenants: BTreeMap::from([(
                sample.clone(),
                TenantGrant {
                    roles: BTreeSet::from([sample.clone()]),
                    permissions: BTreeSet::new(),
                },
            )]),
            credential: Default::default(),
        };
        Subject::build(&principal, schema).map_err(|err| {
            refuse(format!(
                "the server puts every caller in its roles and tenants: declare \
                 `entity Role;`, `entity Tenant;`, `entity TenantRole in [Tenant];` and \
                 `entity User in [Role, TenantRole, Tenant] {{ scopes: Set<String> }};` \
                 (Machine alike), as the shipped schema does; {err}"
            ))
        })?;
    }
    ToolEntities::build(&Target::by_name("sample"), schema).map_err(|err| {
        refuse(format!(
            "declare `entity Plugin;` and `entity Tool in [Plugin] {{ read_only: Bool, \
             destructive: Bool }};`, as the shipped schema does; {err}"
        ))
    })?;
    ToolEntities::build(&Target::console(), schema).map_err(|err| {
        refuse(format!(
            "the server decides who may use its admin console: declare `entity Console in \
             [Plugin] {{ read_only: Bool, destructive: Bool }};` and add `Console` to the \
             resources of the `admin` action, as the shipped schema does; {err}"
        ))
    })?;
    for kind in [crate::Kind::Resource, crate::Kind::Prompt] {
        let name = kind.entity_type();
        ToolEntities::build(&Target::item(kind, "sample", "sample"), schema).map_err(|err| {
            refuse(format!(
                "the server decides resources and prompts too: declare `entity {name} in \
                 [Plugin] {{ read_only: Bool, destructive: Bool }};`, as the shipped schema \
                 does; {err}"
            ))
        })?;
    }
    Ok(())
}

/// The error and every cause under it: Cedar says only "entity does not
/// conform to the schema" at the top and which entity and why beneath.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// The entities for one decision.
pub(crate) fn join(subject: &Subject, tool: &ToolEntities) -> Result<Entities, String> {
    subject
        .entities
        .clone()
        .add_entities(tool.entities.iter().cloned(), None)
        .map_err(|err| format!("entities: {err}"))
}
