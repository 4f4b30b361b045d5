//! The server's own tools: `audit_log`, `server_config`,
//! `reload_policies` and `revoke_tokens`.
//!
//! They need the server's internals (the decision log, the policy store), so
//! they run inside the server; they go through the same catalogue as plugin
//! tools, so they are listed, decided (with the `admin` action) and audited
//! exactly like them.

use std::sync::Arc;

use plugin_host::ToolResult;
use policy::Target;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::AuditLog;
use crate::policies::{self, PolicyStore, Trigger};
use crate::settings::ENV_VARS;
use crate::shared::{Revocation, Shared};

/// What the server's own tools work on, and nothing more.
#[derive(Clone, Copy)]
pub(crate) struct ServerToolContext<'a> {
    /// The decision log `audit_log` reads.
    pub(crate) audit: &'a AuditLog,
    /// The policy store `reload_policies` reloads.
    pub(crate) policies: &'a Arc<PolicyStore>,
    /// The effective configuration `server_config` shows, secrets redacted.
    pub(crate) settings: &'a Value,
    /// Where `revoke_tokens` records revocations.
    pub(crate) shared: &'a Shared,
}

/// One of the server's own tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerTool {
    AuditLog,
    ServerConfig,
    ReloadPolicies,
    RevokeTokens,
}

/// Largest `limit` `audit_log` accepts.
const MAX_AUDIT_LIMIT: u64 = 1000;

impl ServerTool {
    pub(crate) const ALL: [Self; 4] = [
        Self::AuditLog,
        Self::ServerConfig,
        Self::ReloadPolicies,
        Self::RevokeTokens,
    ];

    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tool| tool.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AuditLog => "audit_log",
            Self::ServerConfig => "server_config",
            Self::ReloadPolicies => "reload_policies",
            Self::RevokeTokens => "revoke_tokens",
        }
    }

    pub(crate) fn resource(self) -> Target {
        let read_only = !matches!(self, Self::ReloadPolicies | Self::RevokeTokens);
        Target {
            kind: policy::Kind::Tool,
            name: self.name().to_owned(),
            plugin: policy::SERVER_PLUGIN.to_owned(),
            read_only,
            destructive: false,
        }
    }

    /// The MCP tool object.
    pub(crate) fn descriptor(self) -> Value {
        match self {
            Self::AuditLog => json!({
                "name": "audit_log",
                "title": "Decision audit log",
                "description": "The latest authorization decisions, newest first, filterable by principal, tool, decision and disagreement with the shadow policies.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "principal": { "type": "string", "description": "Only decisions about this principal id." },
                        "tool": { "type": "string", "description": "Only decisions about this tool." },
                        "decision": { "type": "string", "enum": ["allow", "deny"], "description": "Only allows or only denials." },
                        "shadow_disagreements": { "type": "boolean", "description": "Only the decisions the shadow policies (@mode(\"shadow\")) would have made otherwise." },
                        "limit": { "type": "integer", "minimum": 1, "maximum": MAX_AUDIT_LIMIT, "description": "At most this many records (default 100)." }
                    },
                    "additionalProperties": false
                },
                "outputSchema": {
                    "type": "object",
                    "properties": {
                        "records": { "type": "array", "items": { "type": "object" } },
                        "matched": { "type": "integer" }
                    },
                    "required": ["records", "matched"]
                },
                "annotations": { "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false }
            }),
            Self::ServerConfig => json!({
                "name": "server_config",
                "title": "Effective configuration",
                "description": "The configuration the server runs with (defaults, file and environment merged), secrets redacted, with the environment variable behind each setting.",
                "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
                "outputSchema": {
                    "type": "object",
                    "properties": {
                        "settings": { "type": "object" },
                        "environment": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "variable": { "type": "string" },
                                    "key": { "type": "string" },
                                    "value": {}
                                },
                                "required": ["variable", "key", "value"]
                            }
                        }
                    },
                    "required": ["settings", "environment"]
                },
                "annotations": { "readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false }
            }),
            Self::ReloadPolicies => json!({
                "name": "reload_policies",
                "title": "Reload policies",
                "description": "Loads the policy directory again; the new set replaces the active one only if it validates.",
                "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false },
                "outputSchema": {
                    "type": "object",
                    "properties": {
                        "outcome": { "type": "string", "enum": ["loaded", "unchanged", "rejected"] },
                        "active_hash": { "type": "string" },
                        "policies": { "type": "integer" },
                        "error": { "type": "string" }
                    },
                    "required": ["outcome", "active_hash", "policies"]
                },
                "annotations": { "readOnlyHint": false, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false }
            }),
            Self::RevokeTokens => json!({
                "name": "revoke_tokens",
                "title": "Revoke tokens",
                "description": "Refuses tokens from now on, on every replica: the one with a `jti`, a subject's tokens issued until now (or before `issued_before`), or every token issued before `issued_before`. A revoked token's holder gets 401 and must sign in again.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "jti": { "type": "string", "minLength": 1, "maxLength": 512, "description": "Revoke the token with this `jti` claim." },
                        "subject": { "type": "string", "minLength": 1, "maxLength": 512, "description": "Revoke this subject's (`sub`) tokens issued until now, or before `issued_before`." },
                        "issued_before": {
                            "type": ["integer", "string"],
                            "description": "A time, as seconds since the epoch or RFC 3339 (`2026-12-03T09:00:00Z`), no later than now: tokens issued before it are revoked (only the subject's, with `subject`)."
                        }
                    },
                    "additionalProperties": false
                },
                "outputSchema": {
                    "type": "object",
                    "properties": {
                        "revoked": { "type": "string", "enum": ["token", "subject", "all"] },
                        "issued_before": { "type": "integer" },
                        "replicas": { "type": "string", "enum": ["all", "this"] },
                        "kept_for_secs": { "type": "integer" }
                    },
                    "required": ["revoked", "replicas", "kept_for_secs"]
                },
                "annotations": { "readOnlyHint": false, "destructiveHint": true, "idempotentHint": true, "openWorldHint": false }
            }),
        }
    }

    /// Runs the tool. Bad arguments are a tool error naming the problem.
    pub(crate) async fn run(self, context: ServerToolContext<'_>, arguments: Value) -> ToolResult {
        match self {
            Self::AuditLog => audit_log(context.audit, arguments),
            Self::ServerConfig => server_config(context.settings, arguments),
            Self::ReloadPolicies => reload_policies(context.policies, arguments).await,
            Self::RevokeTokens => revoke_tokens(context.shared, arguments).await,
        }
    }
}

/// `audit_log`'s arguments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    principal: Option<String>,
    tool: Option<String>,
    decision: Option<DecisionFilter>,
    #[serde(default)]
    shadow_disagreements: bool,
    limit: Option<u64>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum DecisionFilter {
    Allow,
    Deny,
}

fn parse<T: serde::de::DeserializeOwned + Default>(
    tool: &str,
    arguments: Value,
) -> Result<T, ToolResult> {
    if arguments.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(arguments).map_err(|err| {
        ToolResult::error(format!(
            "Invalid arguments for tool `{tool}`: {err}. See the tool's inputSchema in tools/list."
        ))
    })
}

fn audit_log(audit: &AuditLog, arguments: Value) -> ToolResult {
    let query: AuditQuery = match parse("audit_log", arguments) {
        Ok(query) => query,
        Err(error) => return error,
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return ToolResult::error(format!(
            "Invalid arguments for tool `audit_log`: limit must be between 1 and {MAX_AUDIT_LIMIT}, got {limit}"
        ));
    }
    let matching: Vec<_> = audit
        .recent()
        .into_iter()
        .rev()
        .filter(|record| {
            query
                .principal
                .as_ref()
                .is_none_or(|p| &record.principal_id == p)
                && query.tool.as_ref().is_none_or(|t| &record.tool == t)
                && (!query.shadow_disagreements || record.shadow_decision.is_some())
                && query.decision.is_none_or(|d| {
                    record.decision
                        == match d {
                            DecisionFilter::Allow => "allow",
                            DecisionFilter::Deny => "deny",
                        }
                })
        })
        .collect();
    let matched = matching.len();
    let records: Vec<_> = matching
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    let summary = format!(
        "{} of {matched} matching decision(s), newest first",
        records.len()
    );
    ToolResult::structured(json!({ "records": records, "matched": matched }), summary)
}

/// `server_config` and `reload_policies` take no arguments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

fn server_config(settings: &Value, arguments: Value) -> ToolResult {
    if let Err(error) = parse::<NoArguments>("server_config", arguments) {
        return error;
    }
    let environment: Vec<Value> = ENV_VARS
        .iter()
        .map(|(variable, key, _)| {
            let pointer = format!("/{}", key.replace('.', "/"));
            json!({
                "variable": variable,
                "key": key,
                "value": settings.pointer(&pointer).cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let summary: Vec<String> = environment
        .iter()
        .map(|entry| {
            format!(
                "{} = {}",
                entry["variable"].as_str().unwrap_or_default(),
                entry["value"]
            )
        })
        .collect();
    ToolResult::structured(
        json!({ "settings": settings, "environment": environment }),
        summary.join("\n"),
    )
}

async fn reload_policies(store: &Arc<PolicyStore>, arguments: Value) -> ToolResult {
    if let Err(error) = parse::<NoArguments>("reload_policies", arguments) {
        return error;
    }
    let status = policies::reload(store, Trigger::Admin).await;
    let active = store.current();
    let mut structured = json!({
        "outcome": status.outcome,
        "active_hash": status.active_hash,
        "policies": active.policy_count(),
    });
    match status.error {
        Some(error) => {
            structured["error"] = Value::String(error.clone());
            let mut result = ToolResult::structured(
                structured,
                format!("Policy reload rejected; the active policies stay in force: {error}"),
            );
            result.is_error = true;
            result
        }
        None => ToolResult::structured(
            structured,
            format!(
                "Policies {}: {} policies, {}",
                status.outcome,
                active.policy_count(),
                status.active_hash
            ),
        ),
    }
}

/// `revoke_tokens`' arguments.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeArguments {
    jti: Option<String>,
    subject: Option<String>,
    issued_before: Option<TimeArgument>,
}

/// A time given as seconds since the epoch or as RFC 3339.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TimeArgument {
    Seconds(u64),
    Text(String),
}

/// How far ahead of the clock `issued_before` may be: a cutoff in the
/// future would refuse tokens not yet issued.
const CUTOFF_SLACK_SECS: u64 = 60;

async fn revoke_tokens(shared: &Shared, arguments: Value) -> ToolResult {
    let invalid =
        |why: &str| ToolResult::error(format!("Invalid arguments for tool `revoke_tokens`: {why}"));
    let arguments: RevokeArguments = match parse("revoke_tokens", arguments) {
        Ok(arguments) => arguments,
        Err(error) => return error,
    };
    let now = oauth_kit::unix_time().as_secs();
    let cutoff = match &arguments.issued_before {
        None => None,
        Some(TimeArgument::Seconds(seconds)) => Some(*seconds),
        Some(TimeArgument::Text(text)) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(time) => match u64::try_from(time.timestamp()) {
                Ok(seconds) => Some(seconds),
                Err(_) => return invalid("issued_before is before 1970"),
            },
            Err(err) => {
                return invalid(&format!(
                    "issued_before is neither seconds since the epoch nor an RFC 3339 time                      such as 2026-12-03T09:00:00Z ({err})"
                ));
            }
        },
    };
    if cutoff.is_some_and(|cutoff| cutoff > now + CUTOFF_SLACK_SECS) {
        return invalid(
            "issued_before is in the future, which would refuse tokens not yet issued; give a time no later than now",
        );
    }
    let (revocation, kind) = match (arguments.jti, arguments.subject, cutoff) {
        (Some(jti), None, None) if !jti.is_empty() => (Revocation::Token(jti), "token"),
        (None, Some(subject), cutoff) if !subject.is_empty() => (
            Revocation::Subject {
                subject,
                // Until now: tokens issued in this very second too.
                issued_before: cutoff.unwrap_or(now + 1),
            },
            "subject",
        ),
        (None, None, Some(cutoff)) => (Revocation::IssuedBefore(cutoff), "all"),
        _ => {
            return invalid(
                "give exactly one of `jti`, `subject` (optionally with `issued_before`) or `issued_before`, none of them empty",
            );
        }
    };
    if let Err(error) = shared.revoke(&revocation).await {
        return ToolResult::error(format!("No token was revoked: {error}"));
    }
    let replicas = if shared.redis().is_some() {
        "all"
    } else {
        "this"
    };
    let kept_for_secs = shared.revocations_kept_for().as_secs();
    let mut structured = json!({
        "revoked": kind,
        "replicas": replicas,
        "kept_for_secs": kept_for_secs,
    });
    let summary = match &revocation {
        Revocation::Token(_) => "Revoked the token with that jti".to_owned(),
        Revocation::Subject {
            subject,
            issued_before,
        } => {
            structured["issued_before"] = json!(issued_before);
            format!(
                "Revoked the tokens of `{subject}` issued before {issued_before} (seconds since the epoch)"
            )
        }
        Revocation::IssuedBefore(cutoff) => {
            structured["issued_before"] = json!(cutoff);
            format!("Revoked every token issued before {cutoff} (seconds since the epoch)")
        }
    };
    tracing::warn!(target: "orchestrator::revocation", revoked = kind, replicas, "tokens revoked");
    ToolResult::structured(
        structured,
        format!(
            "{summary}, on {} replica(s); kept for {kept_for_secs} s, past which no such token is accepted anyway",
            if replicas == "all" { "every" } else { "this" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy crate decides these names with the `admin` action and the
    /// server refuses plugins that claim them: the two lists must agree.
    #[test]
    fn the_server_tools_are_the_ones_the_policies_treat_as_admin() {
        let mut here: Vec<&str> = ServerTool::ALL.iter().map(|tool| tool.name()).collect();
        here.sort_unstable();
        assert_eq!(here, policy::SERVER_TOOLS);
        for tool in ServerTool::ALL {
            assert_eq!(tool.resource().action(), policy::Action::Admin);
            assert_eq!(tool.descriptor()["name"], tool.name());
        }
    }
}
