//! Deciding recorded decisions again under other policies: what
//! `policy diff --replay` and the admin console's diff page do with the
//! records this module's parent writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use core_auth::{Principal, PrincipalKind, TenantGrant};
use policy::{Kind, PolicyEngine, RequestContext, Target};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A decision record as `AUDIT_LOG_FILE` holds it: the parts a replay needs.
#[derive(Deserialize)]
pub(crate) struct Recorded {
    pub(crate) time: String,
    pub(crate) principal_id: String,
    pub(crate) principal_kind: String,
    tenant: Option<String>,
    kind: String,
    pub(crate) tool: String,
    pub(crate) action: String,
    pub(crate) decision: String,
    #[serde(default)]
    pub(crate) policies: Vec<String>,
    plugin: Option<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    destructive: bool,
    subject: Option<Subject>,
    arguments: Option<Map<String, Value>>,
    client_address: Option<String>,
    #[serde(default)]
    approved: bool,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    scopes: BTreeSet<String>,
    #[serde(default)]
    roles: BTreeSet<String>,
    #[serde(default)]
    tenant_roles: BTreeSet<String>,
    #[serde(default)]
    tenant_permissions: BTreeSet<String>,
}

/// What a decision came to, in the words of the log.
pub(crate) fn outcome(decision: &policy::Decision) -> &'static str {
    if decision.allowed {
        "allow"
    } else if decision.needs_approval() {
        "approval_required"
    } else {
        "deny"
    }
}

/// What deciding a record again came to.
pub(crate) enum Replay {
    /// The record is not a decision (an approval step, a cancellation).
    NotADecision,
    /// It cannot be replayed, and why.
    Skipped(&'static str),
    /// The candidate decides it as it was decided.
    Unchanged,
    /// The candidate decides it otherwise.
    Changed(Change),
}

/// A decision the candidate would change.
pub(crate) struct Change {
    /// What it now comes to, in the words of the log.
    pub(crate) now: &'static str,
    /// Whether it was allowed, and is now.
    pub(crate) was_allowed: bool,
    pub(crate) now_allowed: bool,
    /// The policies that decide it now.
    pub(crate) deciding: Vec<String>,
    /// A short digest of its recorded arguments.
    pub(crate) arguments_digest: String,
}

/// A recorded decision decided again under some policy set.
pub(crate) struct Again {
    /// `allow`, `deny` or `approval_required`.
    pub(crate) outcome: &'static str,
    /// Whether it is allowed (without an approval).
    pub(crate) allowed: bool,
    /// The policies that decided it (for an approval, those asking for it).
    pub(crate) deciding: Vec<String>,
    /// A short digest of the recorded arguments.
    pub(crate) arguments_digest: String,
}

/// What deciding a record again gives.
pub(crate) enum Redecided {
    /// The record is not a decision (an approval's answer, a cancellation).
    NotADecision,
    /// The record cannot be replayed, and why.
    Skipped(&'static str),
    /// The decision `engine` makes for the recorded request.
    Decided(Again),
}

/// Decides the request `record` was made for again under `engine`.
pub(crate) fn decide_again(engine: &PolicyEngine, record: &Recorded) -> Redecided {
    if !matches!(
        record.decision.as_str(),
        "allow" | "deny" | "approval_required"
    ) {
        return Redecided::NotADecision;
    }
    let Some(request) = Replayable::of(record) else {
        return Redecided::Skipped("written before records kept what was decided on");
    };
    let decision = engine.decide(
        &request.principal,
        request.target.action(),
        &request.target,
        &request.context(),
    );
    let deciding = if decision.needs_approval() {
        decision.approval_policies.clone()
    } else {
        decision.policies.clone()
    };
    Redecided::Decided(Again {
        outcome: outcome(&decision),
        allowed: decision.allowed,
        deciding,
        arguments_digest: arguments_digest(&request.arguments),
    })
}

/// Replays `record` under `engine` against what was recorded.
pub(crate) fn replay(engine: &PolicyEngine, record: &Recorded) -> Replay {
    match decide_again(engine, record) {
        Redecided::NotADecision => Replay::NotADecision,
        Redecided::Skipped(why) => Replay::Skipped(why),
        Redecided::Decided(again) if again.outcome == record.decision => Replay::Unchanged,
        Redecided::Decided(again) => Replay::Changed(Change {
            now: again.outcome,
            was_allowed: record.decision == "allow",
            now_allowed: again.allowed,
            deciding: again.deciding,
            arguments_digest: again.arguments_digest,
        }),
    }
}

/// A recorded decision, rebuilt as a request.
struct Replayable {
    principal: Arc<Principal>,
    target: Arc<Target>,
    arguments: Value,
    client_address: Option<std::net::IpAddr>,
    time: chrono::DateTime<chrono::Utc>,
    approved: bool,
}

impl Replayable {
    fn of(record: &Recorded) -> Option<Self> {
        let subject = record.subject.as_ref()?;
        let arguments = record.arguments.clone()?;
        let kind = match record.principal_kind.as_str() {
            "user" => PrincipalKind::User,
            "machine" => PrincipalKind::Machine,
            "anonymous" => PrincipalKind::Anonymous,
            _ => return None,
        };
        let mut tenants = BTreeMap::new();
        if let Some(tenant) = &record.tenant {
            tenants.insert(
                tenant.clone(),
                TenantGrant {
                    roles: subject.tenant_roles.clone(),
                    permissions: subject.tenant_permissions.clone(),
                },
            );
        }
        let principal = Principal {
            id: record.principal_id.clone(),
            kind,
            scopes: subject.scopes.clone(),
            roles: subject.roles.clone(),
            tenant: record.tenant.clone(),
            tenants,
            credential: Default::default(),
        };
        let target = Target {
            kind: match record.kind.as_str() {
                "tool" => Kind::Tool,
                "resource" => Kind::Resource,
                "prompt" => Kind::Prompt,
                "console" => Kind::Console,
                _ => return None,
            },
            name: record.tool.clone(),
            plugin: record.plugin.clone()?,
            read_only: record.read_only,
            destructive: record.destructive,
        };
        // A record whose action the target would not be asked with is not
        // one this replay understands.
        if target.action().name() != record.action {
            return None;
        }
        Some(Self {
            principal: Arc::new(principal),
            target: Arc::new(target),
            arguments: Value::Object(arguments),
            client_address: record
                .client_address
                .as_deref()
                .and_then(|address| address.parse().ok()),
            time: chrono::DateTime::parse_from_rfc3339(&record.time)
                .ok()?
                .with_timezone(&chrono::Utc),
            approved: record.approved,
        })
    }

    fn context(&self) -> RequestContext<'_> {
        RequestContext {
            time: self.time,
            ..RequestContext::now()
        }
        .with_client_address(self.client_address)
        .with_approval(self.approved)
        .borrowing_arguments(&self.arguments)
    }
}

/// A short digest of the recorded arguments, to tell calls apart without
/// printing them.
fn arguments_digest(arguments: &Value) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(arguments.to_string().as_bytes());
    let hex: String = digest[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{hex}…")
}
