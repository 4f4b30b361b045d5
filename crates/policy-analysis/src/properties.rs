//! Standing properties of a policy set, written in `properties.toml` and
//! proven for every request they are about.
//!
//! ```toml
//! [[property]]
//! id = "admin-needs-an-admin-scope"
//! description = "The server's own tools are never allowed without an admin: scope."
//! action = "admin"                 # optional: one action or a list
//! principal = ["User", "Machine"]  # optional: entity types
//! resource = 'Tool::"audit_log"'   # optional: entity types or entities
//! only_with_scope = "admin:*"      # exactly one of the four expectations
//! ```
//!
//! The expectations: `never = true` (never allowed), `only_if = "<Cedar
//! condition>"` (allowed only when it holds), `always_if = "<Cedar
//! condition>"` (allowed whenever it holds), and `only_with_scope = "<glob>"`
//! (allowed only when the principal has a scope the glob matches, among the
//! scopes the policies test for).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use cedar_policy::{EntityUid, Policy, PolicyId, PolicySet, RequestEnv, Schema};
use serde::Deserialize;
use serde_json::Value;

use crate::compare::compile;
use crate::narrow::{self, Resources};
use crate::{AnalysisError, Prover, RequestKind, Verdict};

/// The properties of one file, checked against the schema's names.
#[derive(Debug)]
pub struct Properties {
    file: PathBuf,
    /// In the order the file gives them.
    pub properties: Vec<Property>,
}

/// One standing property.
#[derive(Debug)]
pub struct Property {
    /// Its `id`, unique in the file.
    pub id: String,
    /// What it says, in words.
    pub description: String,
    principals: Vec<String>,
    actions: Vec<String>,
    resources: Vec<ResourceFilter>,
    /// What must hold for the requests it is about.
    pub expectation: Expectation,
}

/// What a property expects of the requests it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// Never allowed.
    Never,
    /// Allowed only when this Cedar condition holds.
    OnlyIf(String),
    /// Allowed whenever this Cedar condition holds.
    AlwaysIf(String),
    /// Allowed only with a scope one of these globs matches.
    OnlyWithScope(Vec<String>),
}

#[derive(Clone, Debug)]
enum ResourceFilter {
    Kind(String),
    Entity { kind: String, id: String },
}

/// The outcome of one property.
#[derive(Debug)]
pub struct PropertyResult {
    /// The property's id.
    pub id: String,
    /// Its description.
    pub description: String,
    /// One proof for each kind of request (and resource) it is about.
    pub proofs: Vec<(RequestKind, Resources, Verdict)>,
}

impl PropertyResult {
    /// Whether every proof went through.
    pub fn holds(&self) -> bool {
        self.proofs
            .iter()
            .all(|(_, _, verdict)| matches!(verdict, Verdict::Proven))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    property: Vec<RawProperty>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProperty {
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    principal: OneOrMany,
    #[serde(default)]
    action: OneOrMany,
    #[serde(default)]
    resource: OneOrMany,
    never: Option<bool>,
    only_if: Option<String>,
    always_if: Option<String>,
    only_with_scope: Option<OneOrMany>,
}

#[derive(Default, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

impl Properties {
    /// Reads and checks `file` against `schema`: every name must be one the
    /// schema declares, every condition must parse, and every property must
    /// be about some request.
    pub fn load(file: &Path, schema: &Schema) -> Result<Self, AnalysisError> {
        let fail = |message: String| AnalysisError::Properties {
            file: file.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|err| {
            fail(format!(
                "cannot be read ({err}); write the properties the policies must keep there, one [[property]] table each (see docs/policies.md)"
            ))
        })?;
        let raw: RawFile = toml::from_str(&text).map_err(|err| fail(err.to_string()))?;
        if raw.property.is_empty() {
            return Err(fail(
                "holds no [[property]]; write at least one, or remove the file".to_owned(),
            ));
        }
        let principals: BTreeSet<String> = schema.principals().map(ToString::to_string).collect();
        let actions: BTreeSet<String> = schema
            .actions()
            .map(|action| action.id().unescaped().to_owned())
            .collect();
        let resource_types: BTreeSet<String> =
            schema.resources().map(ToString::to_string).collect();
        let envs: Vec<RequestEnv> = schema.request_envs().collect();
        let mut seen = BTreeSet::new();
        let mut properties = Vec::with_capacity(raw.property.len());
        for raw in raw.property {
            let id = raw.id.clone();
            if id.trim().is_empty() {
                return Err(fail("a property has an empty `id`; name it".to_owned()));
            }
            if !seen.insert(id.clone()) {
                return Err(fail(format!(
                    "property {id:?} is defined twice; give each its own id"
                )));
            }
            let named = |what: &str, value: &str, known: &BTreeSet<String>| {
                if known.contains(value) {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "property {id:?}: the schema has no {what} {value:?}; it has {}",
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    )))
                }
            };
            let property_principals = raw.principal.into_vec();
            for principal in &property_principals {
                named("principal type", principal, &principals)?;
            }
            let property_actions = raw.action.into_vec();
            for action in &property_actions {
                named("action", action, &actions)?;
            }
            let mut resources = Vec::new();
            for resource in raw.resource.into_vec() {
                let filter = if resource.contains("::") {
                    let uid = EntityUid::from_str(&resource).map_err(|err| {
                        fail(format!(
                            "property {id:?}: resource {resource:?} is not an entity such as Tool::\"ping\" ({err})"
                        ))
                    })?;
                    ResourceFilter::Entity {
                        kind: uid.type_name().to_string(),
                        id: uid.id().unescaped().to_owned(),
                    }
                } else {
                    ResourceFilter::Kind(resource)
                };
                let kind = match &filter {
                    ResourceFilter::Kind(kind) | ResourceFilter::Entity { kind, .. } => kind,
                };
                named("resource type", kind, &resource_types)?;
                resources.push(filter);
            }
            let expectations = [
                raw.never.map(|never| {
                    if never {
                        Ok(Expectation::Never)
                    } else {
                        Err(fail(format!(
                            "property {id:?}: `never = false` says nothing; remove it or write `never = true`"
                        )))
                    }
                }),
                raw.only_if.map(|condition| Ok(Expectation::OnlyIf(condition))),
                raw.always_if.map(|condition| Ok(Expectation::AlwaysIf(condition))),
                raw.only_with_scope
                    .map(|globs| Ok(Expectation::OnlyWithScope(globs.into_vec()))),
            ];
            let mut given = expectations.into_iter().flatten();
            let (Some(expectation), None) = (given.next(), given.next()) else {
                return Err(fail(format!(
                    "property {id:?} needs exactly one of `never = true`, `only_if`, `always_if` and `only_with_scope`"
                )));
            };
            let expectation = expectation?;
            match &expectation {
                Expectation::OnlyIf(condition) | Expectation::AlwaysIf(condition) => {
                    condition_policy(condition).map_err(|err| {
                        fail(format!(
                            "property {id:?}: the condition {condition:?} is not a Cedar expression: {err}"
                        ))
                    })?;
                }
                Expectation::OnlyWithScope(globs) if globs.is_empty() => {
                    return Err(fail(format!(
                        "property {id:?}: `only_with_scope` names no scope; give a glob such as \"admin:*\""
                    )));
                }
                _ => {}
            }
            let property = Property {
                id,
                description: raw.description,
                principals: property_principals,
                actions: property_actions,
                resources,
                expectation,
            };
            if !envs.iter().any(|env| !property.targets(env).is_empty()) {
                return Err(fail(format!(
                    "property {:?} is about no request the schema allows (no action applies to those principals and resources)",
                    property.id
                )));
            }
            properties.push(property);
        }
        Ok(Self {
            file: file.to_owned(),
            properties,
        })
    }

    /// The file the properties came from.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl Property {
    /// Which resources of requests of kind `env` the property is about;
    /// empty when it is not about that kind.
    fn targets(&self, env: &RequestEnv) -> Vec<Resources> {
        let principal = env.principal().to_string();
        let action = env.action().id().unescaped().to_owned();
        let resource = env.resource().to_string();
        if !self.principals.is_empty() && !self.principals.contains(&principal) {
            return Vec::new();
        }
        if !self.actions.is_empty() && !self.actions.contains(&action) {
            return Vec::new();
        }
        let every = || Resources::Others {
            kind: resource.clone(),
            named: Vec::new(),
        };
        if self.resources.is_empty() {
            return vec![every()];
        }
        self.resources
            .iter()
            .filter_map(|filter| match filter {
                ResourceFilter::Kind(kind) if *kind == resource => Some(every()),
                ResourceFilter::Entity { kind, id } if *kind == resource => {
                    Some(Resources::Named {
                        kind: kind.clone(),
                        id: id.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// `permit(principal, action, resource) when { <condition> };`: the set of
/// requests a condition holds for.
fn condition_policy(condition: &str) -> Result<PolicySet, String> {
    let text = format!("permit (principal, action, resource) when {{ {condition} }};");
    let policy = Policy::parse(Some(PolicyId::new("property")), &text).map_err(|err| {
        // Cedar's message, without the source it would quote back.
        err.to_string()
    })?;
    PolicySet::from_policies([policy]).map_err(|err| err.to_string())
}

/// The Cedar condition "the principal has one of the scopes in `policies`
/// that `globs` match".
fn scope_condition(policies: &PolicySet, globs: &[String]) -> String {
    let mut strings = BTreeSet::new();
    for policy in policies.policies() {
        if let Some(scope) = policy.annotation("scope") {
            strings.insert(scope.to_owned());
        }
        if let Ok(json) = policy.to_json()
            && let Some(conditions) = json.get("conditions")
        {
            string_literals(conditions, &mut strings);
        }
    }
    let scopes: Vec<String> = strings
        .into_iter()
        .filter(|scope| globs.iter().any(|glob| glob_matches(glob, scope)))
        .map(|scope| format!("\"{}\"", scope.escape_default()))
        .collect();
    if scopes.is_empty() {
        return "false".to_owned();
    }
    format!(
        "principal has scopes && principal.scopes.containsAny([{}])",
        scopes.join(", ")
    )
}

fn string_literals(value: &Value, strings: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => {
            strings.insert(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| string_literals(item, strings)),
        Value::Object(object) => object
            .values()
            .for_each(|item| string_literals(item, strings)),
        _ => {}
    }
}

/// Whether `text` matches `glob`, where `*` stands for any run of
/// characters.
fn glob_matches(glob: &str, text: &str) -> bool {
    let mut parts = glob.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Prover {
    /// Proves each of `properties` for `policies` (validated against
    /// `schema`), every request each is about.
    pub async fn verify(
        &mut self,
        policies: &PolicySet,
        schema: &Schema,
        properties: &Properties,
    ) -> Result<Vec<PropertyResult>, AnalysisError> {
        let mut envs: Vec<RequestEnv> = schema.request_envs().collect();
        envs.sort_by_key(|env| {
            (
                env.action().to_string(),
                env.resource().to_string(),
                env.principal().to_string(),
            )
        });
        let mut results = Vec::with_capacity(properties.properties.len());
        for property in &properties.properties {
            let what = format!("property {:?}", property.id);
            let condition = match &property.expectation {
                Expectation::Never => "false".to_owned(),
                Expectation::OnlyIf(condition) | Expectation::AlwaysIf(condition) => {
                    condition.clone()
                }
                Expectation::OnlyWithScope(globs) => scope_condition(policies, globs),
            };
            let expected =
                condition_policy(&condition).map_err(|message| AnalysisError::Properties {
                    file: properties.file.clone(),
                    message: format!("{what}: {message}"),
                })?;
            let mut proofs = Vec::new();
            for env in &envs {
                let kind = RequestKind::of(env);
                for target in property.targets(env) {
                    let narrowed_policies = narrow::narrow(policies, &target)?;
                    let narrowed_expected = narrow::narrow(&expected, &target)?;
                    let actual = compile(&narrowed_policies, "the policies", env, schema)?;
                    let expected_compiled = compile(&narrowed_expected, &what, env, schema)?;
                    let verdict = match property.expectation {
                        Expectation::AlwaysIf(_) => {
                            self.implies(
                                &expected_compiled,
                                &actual,
                                (&expected, policies),
                                &kind,
                                &what,
                            )
                            .await?
                        }
                        _ => {
                            self.implies(
                                &actual,
                                &expected_compiled,
                                (policies, &expected),
                                &kind,
                                &what,
                            )
                            .await?
                        }
                    };
                    proofs.push((kind.clone(), target, verdict));
                }
            }
            results.push(PropertyResult {
                id: property.id.clone(),
                description: property.description.clone(),
                proofs,
            });
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_shells_do() {
        assert!(glob_matches("admin:*", "admin:logs"));
        assert!(glob_matches("admin:*", "admin:"));
        assert!(!glob_matches("admin:*", "tools:admin"));
        assert!(glob_matches("*:config", "admin:config"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("a*b*c", "axxc"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn a_scope_glob_becomes_the_scopes_the_policies_name() {
        let policies = PolicySet::from_str(
            r#"
            @scope("admin:logs")
            permit(principal, action, resource) when { principal has scopes && principal.scopes.contains("admin:logs") };
            permit(principal, action, resource) when { principal has scopes && principal.scopes.contains("admin:other") };
            permit(principal, action, resource) when { principal has scopes && principal.scopes.contains("tools:ping") };
            "#,
        )
        .expect("parses");
        assert_eq!(
            scope_condition(&policies, &["admin:*".to_owned()]),
            r#"principal has scopes && principal.scopes.containsAny(["admin:logs", "admin:other"])"#
        );
        assert_eq!(
            scope_condition(&policies, &["nothing:*".to_owned()]),
            "false"
        );
    }
}
