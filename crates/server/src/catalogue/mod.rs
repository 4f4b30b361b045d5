//! The tool catalogue: listing and calling tools with a policy decision first.
//!
//! REST (`POST /tools/{name}`) and MCP (`tools/list`, `tools/call`) both go
//! through here, so a tool is authorised the same way whichever door the
//! call came in by. Plugin tools and the server's own tools sit side by side:
//! listed, decided and audited the same way.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use core_auth::Principal;
use plugin_host::{Busy, CallContext, CallError, PluginHost, ToolResult};
use policy::{PolicyEngine, RequestContext, Target};
use serde_json::Value;

mod budget;
mod client_link;
mod items;
mod nested;
mod server_card;
mod server_resources;
mod server_tools;
mod session;

use crate::audit::{AuditLog, DecisionRecord};
use crate::policies::PolicyStore;
use crate::shared::{Limit, Shared};
use crate::telemetry::metrics;
pub(crate) use budget::CallBudget;
pub(crate) use client_link::{ClientLink, Notice};
pub(crate) use items::{ItemRefusal, Prompted};
#[cfg(test)]
pub(crate) use server_card::PROTOCOL_VERSIONS;
pub(crate) use server_card::server_card;
pub(crate) use server_resources::MANIFEST_FILE;
use tracing::Instrument as _;

/// Whether `uri` names one of the server's own resources.
pub(crate) fn is_server_resource(uri: &str) -> bool {
    server_resources::ServerResource::named(uri).is_some()
}
pub(crate) use session::SessionSettings;

use nested::NestedCalls;
use server_tools::{ServerTool, ServerToolContext};

/// Who is calling, and under which policy set: taken once when the request
/// is authenticated, so a request finishes under the set it started with
/// even if the policies are reloaded meanwhile.
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) principal: Arc<Principal>,
    /// The server's id for the request (shared, as a caller is copied at
    /// each step of a call).
    pub(crate) request_id: Arc<str>,
    /// The caller's own `x-request-id`, if it sent a plain one.
    pub(crate) client_request_id: Option<Arc<str>>,
    pub(crate) client_address: Option<IpAddr>,
    pub(crate) policies: Arc<PolicyEngine>,
    /// How many tool calls deep this call is: 0 for a call the client made,
    /// 1 for a call a tool made during it, and so on.
    pub(crate) nesting: u8,
    /// What the client narrowed its session to; applies at every depth.
    pub(crate) session: Arc<SessionSettings>,
    /// The tool calls the client's request may still make, shared by every
    /// nested level (`MAX_TOOL_CALLS_PER_REQUEST`).
    pub(crate) budget: Arc<CallBudget>,
    /// What the call may send back to the client, and its cancellation;
    /// shared by every nested level.
    pub(crate) client: ClientLink,
}

/// The deepest a tool call made by a tool may be. Bounds the threads and
/// time one client call can tie up through tools that call each other.
pub(crate) const MAX_NESTING: u8 = 4;

impl Caller {
    fn context<'a>(&self, arguments: &'a Value) -> RequestContext<'a> {
        RequestContext::now()
            .with_client_address(self.client_address)
            .borrowing_arguments(arguments)
    }
}

/// What the tool or prompt being called may ask its client during this
/// call, and the answers it has so far; nothing for a door that cannot ask
/// (REST) and for the calls tools make.
#[derive(Clone, Debug, Default)]
pub(crate) struct Asking {
    /// What the client offers and the policies allow.
    pub(crate) can_ask: Vec<plugin_host::InputKind>,
    /// The answers, by the tool's keys, each checked against its request.
    pub(crate) inputs: serde_json::Map<String, Value>,
}

impl Asking {
    /// Whether the client can answer every one of `requests` (and there
    /// is something to answer).
    fn covers(&self, requests: &plugin_host::InputRequests) -> bool {
        !requests.is_empty()
            && requests.values().all(|request| {
                request
                    .kind()
                    .is_some_and(|kind| self.can_ask.contains(&kind))
            })
    }
}

/// A tool error for a tool that needs input its caller cannot give here.
fn unaskable(tool: &str, requests: &plugin_host::InputRequests) -> ToolResult {
    let asked: Vec<String> = requests
        .iter()
        .map(|(key, request)| format!("{key} ({})", request.method))
        .collect();
    ToolResult::error(format!(
        "`{tool}` needs input this caller cannot give here: {}. Call it from an MCP client that offers elicitation (and sampling or roots where asked), or pass what it asks for as arguments",
        asked.join(", ")
    ))
}

/// Whether a person has approved the call being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Approval {
    /// Nobody has: `context.approved` is false.
    None,
    /// The caller's user accepted the approval form for these very
    /// arguments: `context.approved` is true.
    Given,
}

/// A step of asking a person to approve a call, as the audit log records
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ApprovalStep {
    /// The server asked the caller's user.
    Requested,
    /// They approved.
    Accepted,
    /// They said no.
    Declined,
    /// They dismissed the form without answering.
    Cancelled,
}

impl ApprovalStep {
    /// The step as the approvals metric counts it.
    fn outcome(self) -> &'static str {
        match self {
            Self::Requested => "asked",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Cancelled => "cancelled",
        }
    }

    fn decision(self) -> &'static str {
        match self {
            Self::Requested => "approval_requested",
            Self::Accepted => "approval_accepted",
            Self::Declined => "approval_declined",
            Self::Cancelled => "approval_cancelled",
        }
    }
}

/// Why a call did not reach its tool.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallRefusal {
    /// No plugin provides the tool.
    #[error("Unknown tool `{}`: no loaded plugin provides it", shorten(.0))]
    UnknownTool(String),
    /// The policies deny the call.
    #[error("{}", denial_message(tool, accepted_scopes))]
    Denied {
        tool: String,
        accepted_scopes: Vec<String>,
    },
    /// The policies allow the call only once a person approves it, and
    /// nobody has yet.
    #[error(
        "`{tool}` needs a person's approval of these exact arguments before it runs (policies: {}); \
         call it from an MCP client that supports elicitation, which shows the approval to its user",
        policies.join(", ")
    )]
    NeedsApproval { tool: String, policies: Vec<String> },
    /// The client's session does not admit the tool (`readOnly`, `tools`).
    #[error("{message}")]
    OutsideSession { tool: String, message: String },
    /// The request has made all the tool calls it may.
    #[error(
        "`{tool}` was not called: one request may make at most {limit} tool calls, nested \
         ones included (MAX_TOOL_CALLS_PER_REQUEST)"
    )]
    BudgetSpent { tool: String, limit: u32 },
    /// The caller has made all the calls to this tool it may this minute.
    #[error(
        "`{tool}` was not called: a caller may call it at most {per_minute} times per minute \
         (RATE_LIMIT_PER_TOOL); retry after {retry_after_secs} s"
    )]
    ToolRateLimited {
        tool: String,
        per_minute: u32,
        retry_after_secs: u64,
    },
    /// The tool's limit is counted in Redis, which is unreachable, and
    /// `REDIS_FAILURE=closed`.
    #[error(
        "`{tool}` was not called: its rate limit is kept in Redis, which is unreachable \
         (REDIS_FAILURE=closed); retry in a moment"
    )]
    LimitUnavailable { tool: String },
}

/// `name` as an error message quotes it: whole when short, else its first
/// [`QUOTED_CHARS`] characters, so an error never echoes a huge name back.
pub(crate) fn shorten(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(QUOTED_CHARS) {
        None => std::borrow::Cow::Borrowed(name),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", &name[..end])),
    }
}

/// The most characters of a name an error message quotes.
const QUOTED_CHARS: usize = 200;

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

/// A tool found by name: a plugin's, or the server's own.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Plugin(&'a plugin_host::Tool),
    Server(ServerTool),
}

impl Entry<'_> {
    fn descriptor(&self) -> Value {
        match self {
            Self::Plugin(tool) => tool.descriptor().clone(),
            Self::Server(tool) => tool.descriptor(),
        }
    }
}

/// What the policies see of each tool, by name, built once: the policy
/// engine keeps per-tool work keyed by these `Arc`s.
type Resources = std::collections::HashMap<String, Arc<Target>>;

/// The plugins, policies and audit log that serve tool calls.
///
/// One `Arc` around everything: every request clones the catalogue (each
/// MCP request's handler holds one), and one reference count is cheaper
/// to raise and drop than one per part.
#[derive(Clone)]
pub(crate) struct Catalogue(Arc<Parts>);

impl std::ops::Deref for Catalogue {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What a [`Catalogue`] holds.
#[derive(Clone)]
pub(crate) struct Parts {
    plugins: Arc<PluginHost>,
    policies: Arc<PolicyStore>,
    audit: Arc<AuditLog>,
    resources: Arc<Resources>,
    /// What the policies see of each resource, template and prompt.
    items: Arc<items::Items>,
    /// The effective configuration, secrets redacted.
    settings: Arc<Value>,
    /// `RATE_LIMIT_PER_MINUTE`, per principal, which the calls tools make
    /// are charged to like the client's own; `None` when off.
    rate_limiter: Option<Arc<Limit>>,
    /// What replicas share: where `revoke_tokens` revokes.
    shared: Arc<Shared>,
    /// `RATE_LIMIT_PER_TOOL`, per principal, by tool name.
    tool_limits: Arc<std::collections::HashMap<String, Limit>>,
    /// `CHALLENGE_SCOPES`: what a 401 asks clients to request; empty
    /// offers every scope of the policies but the `admin:` ones.
    challenge_scopes: Arc<[String]>,
}

impl Catalogue {
    pub(crate) fn new(
        plugins: Arc<PluginHost>,
        policies: Arc<PolicyStore>,
        audit: Arc<AuditLog>,
        settings: Arc<Value>,
        shared: Arc<Shared>,
    ) -> Self {
        let mut resources = Resources::new();
        for tool in ServerTool::ALL {
            resources.insert(tool.name().to_owned(), Arc::new(tool.resource()));
        }
        for (name, tool) in plugins.tools() {
            resources.insert(name.to_owned(), Arc::new(plugin_tool_resource(name, tool)));
        }
        Self(Arc::new(Parts {
            items: Arc::new(items::items(&plugins)),
            plugins,
            policies,
            audit,
            resources: Arc::new(resources),
            settings,
            rate_limiter: None,
            shared,
            tool_limits: Arc::default(),
            challenge_scopes: Arc::new([]),
        }))
    }

    /// The same catalogue, offering `scopes` in 401 challenges (empty: every
    /// scope but the `admin:` ones). Refused, naming them, when a scope is
    /// not one the policies know.
    pub(crate) fn with_challenge_scopes(self, scopes: &[String]) -> anyhow::Result<Self> {
        let known = self.scope_names();
        let unknown: Vec<&str> = scopes
            .iter()
            .filter(|scope| !known.contains(scope))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "CHALLENGE_SCOPES names scopes no policy grants: {}; the policies' scopes are: {}",
                unknown.join(", "),
                known.join(", ")
            );
        }
        Ok(Self(Arc::new(Parts {
            challenge_scopes: scopes.into(),
            ..(*self.0).clone()
        })))
    }

    /// The scopes a client is told to request when it has no token:
    /// `CHALLENGE_SCOPES`, or every scope but the `admin:` ones, which a
    /// client gets only by asking for them by name.
    pub(crate) fn challenge_scopes(&self) -> Vec<String> {
        if !self.challenge_scopes.is_empty() {
            return self.challenge_scopes.to_vec();
        }
        self.scope_names()
            .into_iter()
            .filter(|scope| !scope.starts_with("admin:"))
            .collect()
    }

    /// Whether the active policies let `principal` into the admin console
    /// (`admin` on `Console::"admin"`), from `address`.
    pub(crate) fn console_decision(
        &self,
        principal: &Arc<Principal>,
        address: Option<IpAddr>,
    ) -> policy::Decision {
        self.policies().decide(
            principal,
            policy::Action::Admin,
            &Arc::new(Target::console()),
            &RequestContext::now().with_client_address(address),
        )
    }

    /// Whether the active policies let `principal` read the decision
    /// records ([`decisions_resource`]), from `address`.
    pub(crate) fn reads_decisions(
        &self,
        principal: &Arc<Principal>,
        address: Option<IpAddr>,
    ) -> bool {
        self.policies()
            .decide(
                principal,
                policy::Action::Admin,
                &Arc::new(decisions_resource()),
                &RequestContext::now().with_client_address(address),
            )
            .allowed
    }

    /// The scopes a console sign-in asks for: those the active policies
    /// would accept for `admin` on `Console::"admin"` (`admin:config` with
    /// the shipped policies), and on the decision records the console
    /// shows ([`decisions_resource`], `admin:logs`), from someone holding
    /// none.
    pub(crate) fn console_scopes(&self) -> Vec<String> {
        let nobody = Arc::new(Principal {
            id: String::new(),
            kind: core_auth::PrincipalKind::User,
            scopes: Default::default(),
            roles: Default::default(),
            tenant: None,
            tenants: Default::default(),
            credential: Default::default(),
        });
        let policies = self.policies();
        let mut scopes: Vec<String> = [Target::console(), decisions_resource()]
            .into_iter()
            .flat_map(|target| {
                policies
                    .decide(
                        &nobody,
                        policy::Action::Admin,
                        &Arc::new(target),
                        &RequestContext::now(),
                    )
                    .accepted_scopes
            })
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// The same catalogue, charging every call tools make to `limiter`.
    pub(crate) fn with_rate_limiter(self, limiter: Option<Arc<Limit>>) -> Self {
        Self(Arc::new(Parts {
            rate_limiter: limiter,
            ..(*self.0).clone()
        }))
    }

    /// The same catalogue, limiting the tools `limits` names to their
    /// calls per minute per caller. Refused, naming them, when a name is
    /// not a tool the catalogue has.
    pub(crate) fn with_tool_limits(
        self,
        limits: &std::collections::BTreeMap<String, u32>,
    ) -> anyhow::Result<Self> {
        let unknown: Vec<&str> = limits
            .keys()
            .filter(|tool| !self.resources.contains_key(tool.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "RATE_LIMIT_PER_TOOL names tools no loaded plugin provides: {}; the tools are: {}",
                unknown.join(", "),
                self.tool_names().join(", ")
            );
        }
        let tool_limits = limits
            .iter()
            .filter_map(|(tool, per_minute)| {
                Limit::new(&format!("tool:{tool}"), *per_minute, &self.shared)
                    .map(|limit| (tool.clone(), limit))
            })
            .collect();
        Ok(Self(Arc::new(Parts {
            tool_limits: Arc::new(tool_limits),
            ..(*self.0).clone()
        })))
    }

    /// The per-principal rate limiter, if limiting is on.
    pub(crate) fn rate_limiter(&self) -> Option<&Arc<Limit>> {
        self.rate_limiter.as_ref()
    }

    /// What replicas share.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub(crate) fn plugins(&self) -> &PluginHost {
        &self.plugins
    }

    /// The reloadable policy store.
    pub(crate) fn policy_store(&self) -> &Arc<PolicyStore> {
        &self.policies
    }

    /// The policy set new requests are decided under.
    pub(crate) fn policies(&self) -> Arc<PolicyEngine> {
        self.policies.current()
    }

    /// Every scope the active policies know, ordered by name.
    pub(crate) fn scope_names(&self) -> Vec<String> {
        self.policies()
            .scopes()
            .iter()
            .map(|scope| scope.name.clone())
            .collect()
    }

    fn entry(&self, name: &str) -> Option<Entry<'_>> {
        ServerTool::named(name)
            .map(Entry::Server)
            .or_else(|| self.plugins.tool(name).map(Entry::Plugin))
    }

    /// What the policies see of tool `name`; every tool has one.
    fn resource(&self, name: &str) -> Option<&Arc<Target>> {
        self.resources.get(name)
    }

    /// Every tool name, the server's and the plugins', ordered by name.
    pub(crate) fn tool_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = ServerTool::ALL
            .iter()
            .map(|tool| tool.name())
            .chain(self.plugins.tools().map(|(name, _)| name))
            .collect();
        names.sort_unstable();
        names
    }

    /// The names of the tools the caller may call, ordered by name.
    pub(crate) fn visible_tool_names(&self, caller: &Caller) -> Vec<&str> {
        let context = caller.context(&Value::Null);
        self.tool_names()
            .into_iter()
            .filter_map(|name| Some((name, self.resource(name)?)))
            .filter(|(_, resource)| caller.session.admits(&resource.name, resource.read_only))
            .filter(|(_, resource)| {
                // A tool allowed once a person approves it is listed: a
                // client could not call it otherwise.
                let allowed = |context: &RequestContext<'_>| {
                    caller.policies.is_allowed(
                        &caller.principal,
                        resource.action(),
                        resource,
                        context,
                    )
                };
                allowed(&context) || allowed(&context.clone().with_approval(true))
            })
            .map(|(name, _)| name)
            .collect()
    }

    /// Whether the policies let tool `name` ask the caller's model for a
    /// completion (the `sample` action). The server's own tools never do.
    pub(crate) fn may_sample(&self, caller: &Caller, name: &str) -> bool {
        let Some(resource) = self.resource(name) else {
            return false;
        };
        resource.plugin != policy::SERVER_PLUGIN
            && caller.policies.is_allowed(
                &caller.principal,
                policy::Action::Sample,
                resource,
                &caller.context(&Value::Null),
            )
    }

    /// The MCP tool object for `name`, whether or not anyone may call it.
    pub(crate) fn descriptor(&self, name: &str) -> Option<Value> {
        self.entry(name).map(|entry| entry.descriptor())
    }

    /// Whether deciding a call to `name` must wait for its arguments (some
    /// policy that can apply looks at them). An unknown tool is refused.
    pub(crate) fn reads_arguments(&self, caller: &Caller, name: &str) -> Result<bool, CallRefusal> {
        let resource = self
            .resource(name)
            .ok_or_else(|| CallRefusal::UnknownTool(name.to_owned()))?;
        Ok(caller.policies.reads_arguments(resource.action(), resource))
    }

    /// Decides whether the caller may call tool `name` with `arguments`.
    ///
    /// Separate from running the tool so that a caller who may not call it
    /// is refused before anything else about the request is looked at.
    pub(crate) fn authorize<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        arguments: &Value,
    ) -> Result<AuthorizedCall<'a>, CallRefusal> {
        self.authorize_with(caller, name, arguments, Approval::None)
    }

    /// [`Self::authorize`], deciding with `approval` as `context.approved`.
    /// Only a door that showed the caller's user these arguments and got
    /// their approval passes [`Approval::Given`].
    pub(crate) fn authorize_with<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        arguments: &Value,
        approval: Approval,
    ) -> Result<AuthorizedCall<'a>, CallRefusal> {
        self.authorize_charged(caller, name, arguments, approval, true)
    }

    /// Decides again, approved, a call that was refused only for want of
    /// an approval in this same request: its tool call was already counted
    /// against the request's budget.
    pub(crate) fn authorize_approved<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        arguments: &Value,
    ) -> Result<AuthorizedCall<'a>, CallRefusal> {
        self.authorize_charged(caller, name, arguments, Approval::Given, false)
    }

    fn authorize_charged<'a>(
        &'a self,
        caller: &'a Caller,
        name: &'a str,
        arguments: &Value,
        approval: Approval,
        charge: bool,
    ) -> Result<AuthorizedCall<'a>, CallRefusal> {
        let unknown = || CallRefusal::UnknownTool(name.to_owned());
        let entry = self.entry(name).ok_or_else(unknown)?;
        let resource = self.resource(name).ok_or_else(unknown)?;
        // The session's narrowing and the request's budget come before the
        // decision: neither is ever audited as an allow.
        if let Some(message) = caller.session.refusal(name, resource.read_only) {
            return Err(CallRefusal::OutsideSession {
                tool: name.to_owned(),
                message,
            });
        }
        if charge {
            caller
                .budget
                .take()
                .map_err(|limit| CallRefusal::BudgetSpent {
                    tool: name.to_owned(),
                    limit,
                })?;
        }
        let decision = self.decide(caller, resource, arguments, approval);
        if decision.needs_approval() {
            return Err(CallRefusal::NeedsApproval {
                tool: name.to_owned(),
                policies: decision.approval_policies,
            });
        }
        if !decision.allowed {
            return Err(CallRefusal::Denied {
                tool: name.to_owned(),
                accepted_scopes: decision.accepted_scopes,
            });
        }
        Ok(AuthorizedCall {
            catalogue: self,
            caller,
            name,
            entry,
        })
    }

    /// Authorises and runs one call; the tool may ask what `asking` allows.
    pub(crate) async fn call(
        &self,
        caller: &Caller,
        name: &str,
        arguments: Value,
        asking: &Asking,
    ) -> Result<ToolResult, CallRefusal> {
        // Over MCP, and to a plugin making the call, a busy server is a
        // tool error the caller reads and may retry.
        let call = self.authorize(caller, name, &arguments)?;
        call.admit().await?;
        Ok(call
            .invoke(arguments, asking)
            .await
            .unwrap_or_else(|busy| ToolResult::error(busy.to_string())))
    }

    fn decide(
        &self,
        caller: &Caller,
        resource: &Arc<Target>,
        arguments: &Value,
        approval: Approval,
    ) -> policy::Decision {
        let _span = tracing::debug_span!(
            "decide",
            action = resource.action().name(),
            resource = %resource.name
        )
        .entered();
        let started = Instant::now();
        let decision = evaluate(caller, resource, arguments, approval);
        metrics::decision(
            resource.action().name(),
            decision.allowed,
            decision.policies.first().map(String::as_str),
        );
        let shadow = shadow_disagreement(caller, resource, arguments, approval, &decision);
        self.audit_decision(
            caller,
            resource,
            &decision,
            Decided {
                arguments,
                approval,
                shadow,
            },
            started,
        );
        decision
    }

    /// Records a step of asking a person to approve a call to `name`, with
    /// the policies that ask for the approval.
    pub(crate) fn audit_approval(
        &self,
        caller: &Caller,
        name: &str,
        step: ApprovalStep,
        policies: &[String],
        comment: Option<String>,
    ) {
        metrics::approval(step.outcome());
        let Some(resource) = self.resource(name) else {
            return;
        };
        let record = self.record_of(
            caller,
            resource,
            step.decision(),
            policies.to_vec(),
            Vec::new(),
            Instant::now(),
        );
        self.audit.record(DecisionRecord { comment, ..record });
    }

    /// Records that a call the policies allowed was cancelled by its client
    /// before it finished: no result was sent.
    pub(crate) fn audit_cancelled(&self, caller: &Caller, name: &str) {
        let Some(resource) = self.resource(name) else {
            return;
        };
        let record = self.record_of(
            caller,
            resource,
            "cancelled",
            Vec::new(),
            Vec::new(),
            Instant::now(),
        );
        self.audit.record(record);
    }

    /// One audit record for one decision.
    fn audit_decision(
        &self,
        caller: &Caller,
        resource: &Target,
        decision: &policy::Decision,
        decided: Decided<'_>,
        started: Instant,
    ) {
        let shadow = decided.shadow;
        let outcome = if decision.allowed {
            "allow"
        } else if decision.needs_approval() {
            "approval_required"
        } else {
            "deny"
        };
        // A call waiting for approval names the policies that ask for it.
        let policies = if decision.needs_approval() {
            decision.approval_policies.clone()
        } else {
            decision.policies.clone()
        };
        let record = self.record_of(
            caller,
            resource,
            outcome,
            policies,
            decision.errors.clone(),
            started,
        );
        self.audit.record(DecisionRecord {
            shadow_decision: shadow
                .as_ref()
                .map(|shadow| if shadow.allowed { "allow" } else { "deny" }),
            shadow_policies: shadow.map(|shadow| shadow.policies).unwrap_or_default(),
            arguments: Some(crate::audit::recorded_arguments(
                caller.policies.declared_arguments(decided.arguments),
            )),
            approved: decided.approval == Approval::Given,
            ..record
        });
    }

    /// The record of `outcome` for `caller` and `resource`, decided by
    /// `policies`; the caller adds what it alone knows.
    fn record_of(
        &self,
        caller: &Caller,
        resource: &Target,
        outcome: &'static str,
        policies: Vec<String>,
        errors: Vec<String>,
        started: Instant,
    ) -> DecisionRecord {
        let principal = &caller.principal;
        DecisionRecord {
            time: crate::telemetry::log_format::now_utc_micros(),
            request_id: caller.request_id.to_string(),
            client_request_id: caller.client_request_id.as_deref().map(str::to_owned),
            principal_id: principal.id.clone(),
            principal_kind: principal.kind.as_str(),
            tenant: principal.tenant.clone(),
            kind: resource.kind.noun(),
            tool: resource.name.clone(),
            action: resource.action().name(),
            decision: outcome,
            policies,
            errors,
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            comment: None,
            shadow_decision: None,
            shadow_policies: Vec::new(),
            policy_hash: caller.policies.hash().to_owned(),
            plugin: resource.plugin.clone(),
            read_only: resource.read_only,
            destructive: resource.destructive,
            subject: crate::audit::Subject::of(principal),
            arguments: None,
            client_address: caller.client_address,
            approved: false,
        }
    }
}

/// What a decision was made on, for its record.
struct Decided<'a> {
    arguments: &'a Value,
    approval: Approval,
    /// The shadow set's decision, when it disagrees.
    shadow: Option<policy::Decision>,
}

/// What the caller's policy set would decide with its shadow policies
/// promoted, when that differs from `decision`.
fn shadow_disagreement(
    caller: &Caller,
    resource: &Arc<Target>,
    arguments: &Value,
    approval: Approval,
    decision: &policy::Decision,
) -> Option<policy::Decision> {
    caller
        .policies
        .shadow_decide(
            &caller.principal,
            resource.action(),
            resource,
            &caller
                .context(arguments)
                .with_approval(approval == Approval::Given),
        )
        .filter(|shadow| shadow.allowed != decision.allowed)
}

/// The caller's policy set's decision on calling `resource` with `arguments`.
fn evaluate(
    caller: &Caller,
    resource: &Arc<Target>,
    arguments: &Value,
    approval: Approval,
) -> policy::Decision {
    caller.policies.decide(
        &caller.principal,
        resource.action(),
        resource,
        &caller
            .context(arguments)
            .with_approval(approval == Approval::Given),
    )
}

/// A call the policies allowed, ready to run.
pub(crate) struct AuthorizedCall<'a> {
    catalogue: &'a Catalogue,
    caller: &'a Caller,
    name: &'a str,
    entry: Entry<'a>,
}

impl AuthorizedCall<'_> {
    /// Charges the call to the tool's `RATE_LIMIT_PER_TOOL`, if it has
    /// one: once per call, before it first runs.
    pub(crate) async fn admit(&self) -> Result<(), CallRefusal> {
        let Some(limit) = self.catalogue.tool_limits.get(self.name) else {
            return Ok(());
        };
        match limit.charge(self.caller.principal.id.as_str()).await {
            Ok(()) => Ok(()),
            Err(crate::shared::Refusal::Limited(wait)) => {
                metrics::rate_limited("tool");
                Err(CallRefusal::ToolRateLimited {
                    tool: self.name.to_owned(),
                    per_minute: limit.per_minute(),
                    retry_after_secs: crate::shared::limiter::whole_seconds(wait),
                })
            }
            Err(_) => Err(CallRefusal::LimitUnavailable {
                tool: self.name.to_owned(),
            }),
        }
    }

    /// Runs the tool. Failures of the tool are results with `is_error` set;
    /// `Err` when no slot for a plugin call came free in time.
    ///
    /// `asking` says what the tool may ask its client and the answers so
    /// far; a tool that asks for what the client cannot give gets a tool
    /// error saying so, and one that asks for what it can comes back with
    /// its requests for the door to put to the client.
    pub(crate) async fn invoke(
        &self,
        arguments: Value,
        asking: &Asking,
    ) -> Result<ToolResult, Busy> {
        let plugin = match self.entry {
            Entry::Server(_) => policy::SERVER_PLUGIN,
            Entry::Plugin(tool) => tool.plugin(),
        };
        let measured = metrics::tool_call(self.name, plugin);
        let span = tracing::debug_span!("tool_call", tool = self.name, plugin);
        let result = self.run(arguments, asking).instrument(span).await;
        if let Some(measured) = measured {
            measured.finish(match &result {
                Err(_) => "busy",
                Ok(result) if result.is_error => "error",
                Ok(_) => "ok",
            });
        }
        let result = result?;
        Ok(match &result.input_requests {
            Some(requests) if !asking.covers(requests) => unaskable(self.name, requests),
            _ => result,
        })
    }

    async fn run(&self, arguments: Value, asking: &Asking) -> Result<ToolResult, Busy> {
        match self.entry {
            Entry::Server(tool) => {
                let context = ServerToolContext {
                    audit: &self.catalogue.audit,
                    policies: &self.catalogue.policies,
                    settings: &self.catalogue.settings,
                    shared: &self.catalogue.shared,
                };
                Ok(tool.run(context, arguments).await)
            }
            Entry::Plugin(_) => self.invoke_plugin(arguments, asking).await,
        }
    }

    async fn invoke_plugin(&self, arguments: Value, asking: &Asking) -> Result<ToolResult, Busy> {
        let context = call_context(self.caller, asking);
        let nested = NestedCalls {
            // The calls the tool makes are children of this call's span.
            span: tracing::Span::current(),
            catalogue: self.catalogue.clone(),
            caller: Caller {
                nesting: self.caller.nesting.saturating_add(1),
                ..self.caller.clone()
            },
            can_ask: asking.can_ask.clone(),
            answers: Arc::new(asking.inputs.clone()),
        };
        let depth = usize::from(self.caller.nesting);
        match self
            .catalogue
            .plugins
            .call(self.name, arguments, context, Some(Arc::new(nested)), depth)
            .await
        {
            Ok(result) => Ok(result),
            Err(CallError::Busy(busy)) => Err(busy),
            // The tool was found when the call was authorised, and plugins
            // are never unloaded, so this cannot happen; answer it anyway.
            Err(unknown @ CallError::UnknownTool(_)) => Ok(ToolResult::error(unknown.to_string())),
        }
    }
}

/// Who is calling, as a plugin sees it.
fn call_context(caller: &Caller, asking: &Asking) -> CallContext {
    let principal = &caller.principal;
    CallContext {
        principal_id: principal.id.clone(),
        principal_kind: match principal.kind {
            core_auth::PrincipalKind::User => plugin_host::PrincipalKind::User,
            core_auth::PrincipalKind::Machine => plugin_host::PrincipalKind::Machine,
            core_auth::PrincipalKind::Anonymous => plugin_host::PrincipalKind::Anonymous,
        },
        scopes: principal.scopes.iter().cloned().collect(),
        tenant: principal.tenant.clone(),
        request_id: caller.request_id.to_string(),
        can_ask: asking.can_ask.clone(),
        inputs: asking.inputs.clone(),
    }
}

/// What the policies see of the recent decision records
/// (`orchestrator://decisions`): the console shows them only to those the
/// policies allow to read them.
pub(crate) fn decisions_resource() -> Target {
    server_resources::ServerResource::Decisions.target()
}

/// What the policies see of tool `name`, as the server or the loaded
/// plugin describes it; `None` for a tool nobody provides.
pub(crate) fn tool_resource(plugins: &PluginHost, name: &str) -> Option<Target> {
    match ServerTool::named(name) {
        Some(tool) => Some(tool.resource()),
        None => plugins
            .tool(name)
            .map(|tool| plugin_tool_resource(name, tool)),
    }
}

/// The policy view of a plugin's tool: its name, plugin and MCP annotations.
fn plugin_tool_resource(name: &str, tool: &plugin_host::Tool) -> Target {
    let hint = |key: &str| {
        tool.descriptor()
            .get("annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_bool)
    };
    let read_only = hint("readOnlyHint").unwrap_or(false);
    Target {
        kind: policy::Kind::Tool,
        name: name.to_owned(),
        plugin: tool.plugin().to_owned(),
        read_only,
        // MCP's default: a tool that is not read-only may be destructive.
        destructive: hint("destructiveHint").unwrap_or(!read_only),
    }
}

/// Refuses a plugin that claims a tool name, a resource URI or template, or
/// the plugin name the server keeps for its own, so no plugin can stand in
/// for an admin tool or resource (and its decision).
pub(crate) fn check_reserved_names(plugins: &PluginHost) -> anyhow::Result<()> {
    for plugin in plugins.plugins() {
        if plugin.name == policy::SERVER_PLUGIN {
            anyhow::bail!(
                "plugin {}: the plugin name `{}` is reserved for the server's own tools; rename the plugin",
                plugin.file.display(),
                policy::SERVER_PLUGIN
            );
        }
        for name in &plugin.tools {
            if policy::SERVER_TOOLS.contains(&name.as_str()) {
                anyhow::bail!(
                    "plugin {}: the tool name `{name}` is reserved for the server's own tool; rename the tool",
                    plugin.file.display()
                );
            }
        }
    }
    let claimed = plugins
        .resources()
        .chain(plugins.resource_templates())
        .find(|entry| entry.key().starts_with(server_resources::SCHEME));
    if let Some(entry) = claimed {
        anyhow::bail!(
            "plugin `{}`: the resource `{}` uses the scheme `{}`, which the server keeps for its own resources; give the plugin's resources a scheme of their own",
            entry.plugin(),
            entry.key(),
            server_resources::SCHEME
        );
    }
    Ok(())
}
