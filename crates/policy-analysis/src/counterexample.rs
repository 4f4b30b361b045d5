//! A request a proof failed on, as a person reads it: the principal with
//! its attributes and what it is in, the action, the resource, the context.

use std::collections::BTreeMap;
use std::fmt;

use cedar_policy::{Authorizer, Decision, Entities, EntityUid, PolicySet};
use cedar_policy_symcc::Env;

/// A request and the entities it was decided with, found by the solver.
#[derive(Clone, Debug)]
pub struct Counterexample {
    /// Who asks.
    pub principal: EntityView,
    /// What they ask to do (`Action::"call"`).
    pub action: String,
    /// What they ask it of.
    pub resource: EntityView,
    /// The request's context, as Cedar writes it.
    pub context: String,
    env: Env,
}

/// One entity of a counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityView {
    /// Its uid, as Cedar writes it (`User::"alice"`).
    pub uid: String,
    /// Its attributes, by name, with values as Cedar writes them.
    pub attributes: BTreeMap<String, String>,
    /// Every entity it is in, directly or not.
    pub ancestors: Vec<String>,
}

impl Counterexample {
    pub(crate) fn new(env: Env) -> Self {
        let request = &env.request;
        let view = |uid: Option<&EntityUid>| {
            uid.map_or_else(
                || EntityView {
                    uid: "unknown".to_owned(),
                    attributes: BTreeMap::new(),
                    ancestors: Vec::new(),
                },
                |uid| EntityView::of(uid, &env.entities),
            )
        };
        Self {
            principal: view(request.principal()),
            action: request
                .action()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string),
            resource: view(request.resource()),
            context: request
                .context()
                .map_or_else(|| "{}".to_owned(), ToString::to_string),
            env,
        }
    }

    /// What Cedar itself decides for this request under `policies`: how a
    /// counterexample is checked before it is shown.
    pub(crate) fn decide(&self, policies: &PolicySet) -> Decision {
        Authorizer::new()
            .is_authorized(&self.env.request, policies, &self.env.entities)
            .decision()
    }
}

impl EntityView {
    fn of(uid: &EntityUid, entities: &Entities) -> Self {
        let mut attributes = BTreeMap::new();
        if let Some(entity) = entities.get(uid) {
            let (_, attrs, _) = entity.clone().into_inner();
            for name in attrs.into_keys() {
                if let Some(Ok(value)) = entity.attr(&name) {
                    attributes.insert(name, value.to_string());
                }
            }
        }
        let mut ancestors: Vec<String> = entities
            .ancestors(uid)
            .map(|found| found.map(ToString::to_string).collect())
            .unwrap_or_default();
        ancestors.sort();
        Self {
            uid: uid.to_string(),
            attributes,
            ancestors,
        }
    }
}

impl fmt::Display for EntityView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uid)?;
        if !self.attributes.is_empty() {
            let attributes: Vec<String> = self
                .attributes
                .iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            write!(f, " {{ {} }}", attributes.join(", "))?;
        }
        if !self.ancestors.is_empty() {
            write!(f, " in [{}]", self.ancestors.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for Counterexample {
    /// Four indented lines, one per part of the request.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "principal: {}", self.principal)?;
        writeln!(f, "action:    {}", self.action)?;
        writeln!(f, "resource:  {}", self.resource)?;
        write!(f, "context:   {}", self.context)
    }
}
