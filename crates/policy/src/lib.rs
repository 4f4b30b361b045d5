//! Cedar policies: who may call which tool.
//!
//! [`PolicyEngine::load_dir`] reads `schema.cedarschema` and every `*.cedar`
//! file in a directory, requires an `@id` on every policy, and validates the
//! whole set against the schema in strict mode. [`PolicyEngine::decide`]
//! answers one question (may this principal do this action on this tool?)
//! with Cedar's default deny: nothing is allowed unless a policy permits it.
//!
//! The scope catalogue ([`ScopeInfo`]) is read from the policies' `@scope`
//! and `@description` annotations; nothing else in the project lists scopes.
//!
//! This is the only crate that knows Cedar, and it does no network I/O.

mod catalogue;
mod entities;
mod error;
mod load;

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision as CedarDecision, EntityUid, Request};
use core_auth::Principal;

pub use catalogue::ScopeInfo;
pub use error::PolicyError;

/// What the server asks about a tool when it authorises a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolResource {
    /// The tool's name (`ping`).
    pub name: String,
    /// The plugin that provides it (`core-tools`).
    pub plugin: String,
    /// MCP `readOnlyHint`.
    pub read_only: bool,
    /// MCP `destructiveHint`.
    pub destructive: bool,
}

/// The actions a policy can permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Calling a tool, or seeing it listed.
    Call,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Call => "call",
        }
    }
}

/// The outcome of one authorisation question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// True when some policy permits and none forbids.
    pub allowed: bool,
    /// The `@id`s of the policies that decided: the permits that allowed it,
    /// or the forbids that denied it (empty for a default deny).
    pub policies: Vec<String>,
    /// Errors Cedar met while evaluating policies (such policies are skipped).
    pub errors: Vec<String>,
    /// For a denial: the scopes any one of which would have allowed the call,
    /// all else equal. Empty when allowed, or when no scope would help.
    pub accepted_scopes: Vec<String>,
}

/// A validated policy set, ready to answer questions.
pub struct PolicyEngine {
    loaded: load::LoadedPolicies,
    catalogue: Vec<ScopeInfo>,
    authorizer: Authorizer,
}

impl PolicyEngine {
    /// Loads and validates the policies in `dir`.
    ///
    /// The directory must hold `schema.cedarschema` and at least one `*.cedar`
    /// file. Every error names the file, and the line where Cedar gives one.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let loaded = load::load_dir(dir)?;
        let catalogue = catalogue::read(&loaded)?;
        Ok(Self {
            loaded,
            catalogue,
            authorizer: Authorizer::new(),
        })
    }

    /// A hash of the schema and every policy file (names and contents), so
    /// operators can tell which policy set a server runs.
    pub fn hash(&self) -> &str {
        &self.loaded.hash
    }

    /// How many policies are loaded.
    pub fn policy_count(&self) -> usize {
        self.loaded.policies.policies().count()
    }

    /// The scope catalogue, ordered by scope name.
    pub fn scopes(&self) -> &[ScopeInfo] {
        &self.catalogue
    }

    /// Decides whether `principal` may do `action` on `tool`.
    ///
    /// Never fails: anything that keeps Cedar from answering (an entity that
    /// does not fit the schema, say) is a denial with the reason in `errors`.
    pub fn decide(&self, principal: &Principal, action: Action, tool: &ToolResource) -> Decision {
        let mut decision = self.evaluate(principal, action, tool);
        if !decision.allowed {
            decision.accepted_scopes = self.accepted_scopes(principal, action, tool);
        }
        decision
    }

    /// True when `principal` may do `action` on `tool`; the cheap form of
    /// [`Self::decide`] for filtering lists, without denial details.
    pub fn is_allowed(&self, principal: &Principal, action: Action, tool: &ToolResource) -> bool {
        self.evaluate(principal, action, tool).allowed
    }

    fn evaluate(&self, principal: &Principal, action: Action, tool: &ToolResource) -> Decision {
        match self.try_evaluate(principal, action, tool) {
            Ok(decision) => decision,
            Err(reason) => Decision {
                allowed: false,
                policies: Vec::new(),
                errors: vec![reason],
                accepted_scopes: Vec::new(),
            },
        }
    }

    fn try_evaluate(
        &self,
        principal: &Principal,
        action: Action,
        tool: &ToolResource,
    ) -> Result<Decision, String> {
        let schema = &self.loaded.schema;
        let (principal_uid, entities) = entities::build(principal, tool, schema)?;
        let action_uid = EntityUid::from_str(&format!("Action::\"{}\"", action.name()))
            .map_err(|err| format!("action id: {err}"))?;
        let tool_uid = entities::tool_uid(&tool.name)?;
        let request = Request::new(
            principal_uid,
            action_uid,
            tool_uid,
            Context::empty(),
            Some(schema),
        )
        .map_err(|err| format!("request does not match the schema: {err}"))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.loaded.policies, &entities);
        let diagnostics = response.diagnostics();
        Ok(Decision {
            allowed: response.decision() == CedarDecision::Allow,
            policies: diagnostics.reason().map(ToString::to_string).collect(),
            errors: diagnostics.errors().map(ToString::to_string).collect(),
            accepted_scopes: Vec::new(),
        })
    }

    /// The catalogue scopes that, added to `principal`, would allow the call.
    ///
    /// Asking Cedar again per scope is exact whatever the policies say (roles,
    /// tenants, forbids), and only costs anything on the denial path.
    fn accepted_scopes(
        &self,
        principal: &Principal,
        action: Action,
        tool: &ToolResource,
    ) -> Vec<String> {
        let mut accepted = BTreeSet::new();
        for scope in &self.catalogue {
            if principal.has_scope(&scope.name) {
                continue;
            }
            let mut with_scope = principal.clone();
            with_scope.scopes.insert(scope.name.clone());
            if self.evaluate(&with_scope, action, tool).allowed {
                accepted.insert(scope.name.clone());
            }
        }
        accepted.into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
