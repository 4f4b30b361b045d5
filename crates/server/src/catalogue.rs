//! The tool catalogue: listing and calling tools with a policy decision first.
//!
//! REST (`POST /tools/{name}`) and MCP (`tools/list`, `tools/call`) both go
//! through here, so a tool is authorised the same way whichever door the
//! call came in by.

use std::sync::Arc;
use std::time::Instant;

use core_auth::Principal;
use plugin_host::{CallContext, PluginHost, ToolResult};
use policy::{Action, PolicyEngine, ToolResource};
use serde_json::Value;

use crate::audit::{AuditLog, DecisionRecord};

/// Why a call did not reach its tool.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallRefusal {
    /// No plugin provides the tool.
    #[error("Unknown tool `{0}`: no loaded plugin provides it")]
    UnknownTool(String),
    /// The policies deny the call.
    #[error("{}", denial_message(tool, accepted_scopes))]
    Denied {
        tool: String,
        accepted_scopes: Vec<String>,
    },
}

fn denial_message(tool: &str, accepted_scopes: &[String]) -> String {
    if accepted_scopes.is_empty() {
        format!("Access denied: the policies do not allow calling tool `{tool}`")
    } else {
        format!(
            "Scope validation failed: tool `{tool}` needs one of: {}",
            accepted_scopes.join(", ")
        )
    }
}

/// The plugins and policies that serve tool calls.
#[derive(Clone)]
pub(crate) struct Catalogue {
    plugins: Arc<PluginHost>,
    policies: Arc<PolicyEngine>,
    audit: Arc<AuditLog>,
}

impl Catalogue {
    pub(crate) fn new(
        plugins: Arc<PluginHost>,
        policies: Arc<PolicyEngine>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            plugins,
            policies,
            audit,
        }
    }

    pub(crate) fn plugins(&self) -> &PluginHost {
        &self.plugins
    }

    pub(crate) fn policies(&self) -> &PolicyEngine {
        &self.policies
    }

    /// The MCP tool objects `principal` may call, ordered by name.
    pub(crate) fn visible_tools(&self, principal: &Principal) -> Vec<Value> {
        self.plugins
            .tools()
            .filter(|(name, tool)| {
                self.policies
                    .is_allowed(principal, Action::Call, &tool_resource(name, tool))
            })
            .map(|(_, tool)| tool.descriptor().clone())
            .collect()
    }

    /// Decides whether `principal` may call tool `name`.
    ///
    /// Separate from running the tool so that a caller who may not call it
    /// is refused before anything else about the request is looked at.
    pub(crate) fn authorize<'a>(
        &'a self,
        principal: &'a Principal,
        name: &'a str,
        request_id: &str,
    ) -> Result<AuthorizedCall<'a>, CallRefusal> {
        let tool = self
            .plugins
            .tool(name)
            .ok_or_else(|| CallRefusal::UnknownTool(name.to_owned()))?;
        let started = Instant::now();
        let decision = self
            .policies
            .decide(principal, Action::Call, &tool_resource(name, tool));
        self.audit_decision(principal, name, request_id, &decision, started);
        if !decision.allowed {
            return Err(CallRefusal::Denied {
                tool: name.to_owned(),
                accepted_scopes: decision.accepted_scopes,
            });
        }
        Ok(AuthorizedCall {
            plugins: &self.plugins,
            principal,
            name,
        })
    }

    /// The refusal for a call to a known tool that the policies deny, or
    /// `None`. For the MCP layer, which must answer a denied `tools/call`
    /// with HTTP 403 before the MCP service runs; an allowed call is decided
    /// (and logged) again where it runs.
    pub(crate) fn denial(
        &self,
        principal: &Principal,
        name: &str,
        request_id: &str,
    ) -> Option<CallRefusal> {
        let tool = self.plugins.tool(name)?;
        let started = Instant::now();
        let decision = self
            .policies
            .decide(principal, Action::Call, &tool_resource(name, tool));
        if decision.allowed {
            return None;
        }
        self.audit_decision(principal, name, request_id, &decision, started);
        Some(CallRefusal::Denied {
            tool: name.to_owned(),
            accepted_scopes: decision.accepted_scopes,
        })
    }

    /// Authorises and runs one call.
    pub(crate) async fn call(
        &self,
        principal: &Principal,
        name: &str,
        arguments: Value,
        request_id: &str,
    ) -> Result<ToolResult, CallRefusal> {
        Ok(self
            .authorize(principal, name, request_id)?
            .invoke(arguments, request_id)
            .await)
    }

    /// One audit record for one decision.
    fn audit_decision(
        &self,
        principal: &Principal,
        tool: &str,
        request_id: &str,
        decision: &policy::Decision,
        started: Instant,
    ) {
        self.audit.record(DecisionRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            request_id: request_id.to_owned(),
            principal_id: principal.id.clone(),
            principal_kind: principal.kind.as_str(),
            tenant: principal.tenant.clone(),
            tool: tool.to_owned(),
            action: "call",
            decision: if decision.allowed { "allow" } else { "deny" },
            policies: decision.policies.clone(),
            errors: decision.errors.clone(),
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
    }
}

/// A call the policies allowed, ready to run.
pub(crate) struct AuthorizedCall<'a> {
    plugins: &'a PluginHost,
    principal: &'a Principal,
    name: &'a str,
}

impl AuthorizedCall<'_> {
    /// Runs the tool. Failures of the tool are results with `is_error` set.
    pub(crate) async fn invoke(self, arguments: Value, request_id: &str) -> ToolResult {
        let principal = self.principal;
        let context = CallContext {
            principal_id: principal.id.clone(),
            principal_kind: match principal.kind {
                core_auth::PrincipalKind::User => plugin_host::PrincipalKind::User,
                core_auth::PrincipalKind::Machine => plugin_host::PrincipalKind::Machine,
                core_auth::PrincipalKind::Anonymous => plugin_host::PrincipalKind::Anonymous,
            },
            scopes: principal.scopes.iter().cloned().collect(),
            tenant: principal.tenant.clone(),
            request_id: request_id.to_owned(),
        };
        match self.plugins.call(self.name, arguments, context).await {
            Ok(result) => result,
            // The tool was found when the call was authorised, and plugins
            // are never unloaded, so this cannot happen; answer it anyway.
            Err(unknown) => ToolResult::error(unknown.to_string()),
        }
    }
}

/// The policy view of a tool: its name, plugin and MCP annotations.
fn tool_resource(name: &str, tool: &plugin_host::Tool) -> ToolResource {
    let hint = |key: &str| {
        tool.descriptor()
            .get("annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_bool)
    };
    let read_only = hint("readOnlyHint").unwrap_or(false);
    ToolResource {
        name: name.to_owned(),
        plugin: tool.plugin().to_owned(),
        read_only,
        // MCP's default: a tool that is not read-only may be destructive.
        destructive: hint("destructiveHint").unwrap_or(!read_only),
    }
}
