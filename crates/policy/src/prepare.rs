//! Narrowing a tool's slice to one principal, and deciding with it.
//!
//! A policy's scope (`principal in Role::"ops"`, `resource == Tool::"ping"`)
//! depends only on the principal, the action and the tool, so for a given
//! principal and tool it has one answer. Cedar is asked that once, when the
//! principal first meets the tool; afterwards a decision evaluates only the
//! conditions of the policies whose scope matched, and policies without
//! conditions are settled without evaluation.
//!
//! Decisions use Cedar's own evaluator on conditions built once, instead of
//! `Authorizer::is_authorized`, which rebuilds every condition per call and
//! runs the partial-evaluation machinery even for concrete requests. Cedar's
//! rule is kept exactly: a satisfied `forbid` denies, else a satisfied
//! `permit` allows, else the default is deny; a policy whose evaluation errs
//! is skipped and its error reported in Cedar's words.

use std::sync::Arc;

use cedar_policy::{AuthorizationError, Authorizer, Context, Effect, Entities, EntityUid, Request};
use cedar_policy_core::ast::{self, EntityUIDEntry, Literal, ValueKind};
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;

use crate::Decision;
use crate::slice::{Conditions, Cut, Rest};

/// Everything a decision about one principal, action and tool needs
/// besides the context.
pub(crate) struct Prepared {
    principal: EntityUIDEntry,
    action: EntityUIDEntry,
    resource: EntityUIDEntry,
    entities: Entities,
    /// The policies whose scope matched and that have conditions.
    conditions: Vec<Arc<Conditions>>,
    /// Matching `forbid`s without conditions, by id.
    always_forbidden_by: Vec<String>,
    /// Matching `permit`s without conditions, by id.
    always_permitted_by: Vec<String>,
}

impl Prepared {
    /// Settles every policy's scope in `cut` for this principal, action and
    /// tool, with the joined `entities`.
    pub(crate) fn new(
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        entities: Entities,
        cut: &Cut,
    ) -> Result<Self, String> {
        // A scope reads no context, so any context will do.
        let probe = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            Context::empty(),
            None,
        )
        .map_err(|err| format!("request: {err}"))?;
        let response = Authorizer::new().is_authorized(&probe, &cut.scopes, &entities);
        let known = |uid: &EntityUid| EntityUIDEntry::known(uid.as_ref().clone(), None);
        let mut prepared = Self {
            principal: known(principal),
            action: known(action),
            resource: known(resource),
            entities,
            conditions: Vec::new(),
            always_forbidden_by: Vec::new(),
            always_permitted_by: Vec::new(),
        };
        for id in response.diagnostics().reason() {
            let Some(sliced) = cut.policies.get(id) else {
                continue;
            };
            match &sliced.rest {
                Rest::Always(Effect::Forbid) => prepared.always_forbidden_by.push(id.to_string()),
                Rest::Always(Effect::Permit) => prepared.always_permitted_by.push(id.to_string()),
                Rest::Conditions(conditions) => prepared.conditions.push(Arc::clone(conditions)),
            }
        }
        // A scope never errs in practice; if one did, the whole policy is
        // evaluated so that the error is reported as Cedar would. So is a
        // policy whose scope could not be split off.
        for error in response.diagnostics().errors() {
            let AuthorizationError::PolicyEvaluationError(error) = error;
            if let Some(sliced) = cut.policies.get(error.policy_id()) {
                prepared.conditions.push(Arc::clone(&sliced.whole));
            }
        }
        for sliced in cut
            .policies
            .values()
            .filter(|sliced| sliced.scope.is_none())
        {
            prepared.conditions.push(Arc::clone(&sliced.whole));
        }
        prepared.always_forbidden_by.sort();
        prepared.always_permitted_by.sort();
        Ok(prepared)
    }

    /// The decision in `context`.
    pub(crate) fn decide(&self, context: &Context) -> Decision {
        let mut forbidden_by = self.always_forbidden_by.clone();
        let mut permitted_by = self.always_permitted_by.clone();
        let mut errors = Vec::new();
        if !self.conditions.is_empty() {
            let core_context: &ast::Context = context.as_ref();
            let request = ast::Request::new_unchecked(
                self.principal.clone(),
                self.action.clone(),
                self.resource.clone(),
                Some(core_context.clone()),
            );
            let evaluator =
                Evaluator::new(request, self.entities.as_ref(), Extensions::all_available());
            for conditions in &self.conditions {
                let outcome =
                    evaluator.interpret(&conditions.condition, conditions.policy.as_ref().env());
                match outcome.as_ref().map(|value| value.value_kind()) {
                    Ok(ValueKind::Lit(Literal::Bool(true))) => match conditions.effect {
                        Effect::Forbid => forbidden_by.push(conditions.id.clone()),
                        Effect::Permit => permitted_by.push(conditions.id.clone()),
                    },
                    Ok(ValueKind::Lit(Literal::Bool(false))) => {}
                    // Strict validation guarantees a boolean; say so if it
                    // ever is not.
                    Ok(_) => errors.push(format!(
                        "error while evaluating policy `{}`: the condition is not a boolean",
                        conditions.id
                    )),
                    Err(err) => errors.push(format!(
                        "error while evaluating policy `{}`: {err}",
                        conditions.id
                    )),
                }
            }
        }
        let allowed = forbidden_by.is_empty() && !permitted_by.is_empty();
        let mut policies = if allowed { permitted_by } else { forbidden_by };
        policies.sort();
        errors.sort();
        Decision {
            allowed,
            policies,
            errors,
            accepted_scopes: Vec::new(),
            approval_policies: Vec::new(),
        }
    }
}
