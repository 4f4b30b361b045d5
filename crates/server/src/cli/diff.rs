//! `orchestrator-mcp policy diff --candidate DIR --replay FILE`: what a
//! candidate policy set would have decided about the decisions an audit log
//! recorded, and which of them it would change.
#![expect(clippy::print_stdout, reason = "a command's report is its output")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use core_auth::{Principal, PrincipalKind, TenantGrant};
use policy::{Kind, PolicyEngine, RequestContext, Target};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Which changes make the command fail.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Forbidden {
    /// A call the active set denied that the candidate would allow.
    pub(crate) new_allows: bool,
    /// A call the active set allowed that the candidate would deny.
    pub(crate) new_denials: bool,
}

/// A decision record as `AUDIT_LOG_FILE` holds it: the parts a replay needs.
#[derive(Deserialize)]
struct Recorded {
    time: String,
    principal_id: String,
    principal_kind: String,
    tenant: Option<String>,
    kind: String,
    tool: String,
    action: String,
    decision: String,
    #[serde(default)]
    policies: Vec<String>,
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
fn outcome(decision: &policy::Decision) -> &'static str {
    if decision.allowed {
        "allow"
    } else if decision.needs_approval() {
        "approval_required"
    } else {
        "deny"
    }
}

/// The counts of a replay.
#[derive(Default)]
struct Tally {
    replayed: u64,
    unchanged: u64,
    new_allows: u64,
    new_denials: u64,
    other_changes: u64,
    skipped: BTreeMap<&'static str, u64>,
}

/// Replays the decisions recorded in `log` under the candidate set in
/// `candidate`; prints every decision that would change and the counts.
/// `Ok(false)` when a change is one `forbidden` names.
pub(crate) fn replay(candidate: &Path, log: &Path, forbidden: Forbidden) -> anyhow::Result<bool> {
    let engine = PolicyEngine::load_dir(candidate)
        .with_context(|| format!("loading the candidate policies in {}", candidate.display()))?;
    let file = std::fs::File::open(log)
        .with_context(|| format!("opening the audit log {} (--replay)", log.display()))?;
    println!(
        "policy diff: replaying {} under the candidate {} ({})",
        log.display(),
        candidate.display(),
        engine.hash()
    );
    let mut tally = Tally::default();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", log.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(record) = serde_json::from_str::<Recorded>(&line) else {
            *tally.skipped.entry("not a decision record").or_default() += 1;
            continue;
        };
        if !matches!(
            record.decision.as_str(),
            "allow" | "deny" | "approval_required"
        ) {
            // Approval steps and cancellations follow a decision.
            continue;
        }
        let Some(request) = Replayable::of(&record) else {
            *tally
                .skipped
                .entry("written before records kept what was decided on")
                .or_default() += 1;
            continue;
        };
        tally.replayed += 1;
        let decision = engine.decide(
            &request.principal,
            request.target.action(),
            &request.target,
            &request.context(),
        );
        let now = outcome(&decision);
        if now == record.decision {
            tally.unchanged += 1;
            continue;
        }
        let was_allowed = record.decision == "allow";
        match (was_allowed, decision.allowed) {
            (false, true) => tally.new_allows += 1,
            (true, false) => tally.new_denials += 1,
            _ => tally.other_changes += 1,
        }
        let deciding = if decision.needs_approval() {
            &decision.approval_policies
        } else {
            &decision.policies
        };
        println!(
            "line {}: {} {} ({}) {} `{}` arguments {}: {} → {} (was decided by [{}], now by [{}])",
            index + 1,
            record.time,
            record.principal_id,
            record.principal_kind,
            record.action,
            record.tool,
            arguments_digest(request.arguments()),
            record.decision,
            now,
            record.policies.join(", "),
            deciding.join(", ")
        );
    }
    println!(
        "policy diff: {} replayed: {} unchanged, {} newly allowed, {} newly denied, {} otherwise changed",
        tally.replayed, tally.unchanged, tally.new_allows, tally.new_denials, tally.other_changes
    );
    for (why, count) in &tally.skipped {
        println!("policy diff: {count} records skipped: {why}");
    }
    let refused = (forbidden.new_allows && tally.new_allows > 0)
        || (forbidden.new_denials && tally.new_denials > 0);
    if refused {
        println!("policy diff: the candidate changes decisions in a direction forbidden here");
    }
    Ok(!refused)
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
        };
        let target = Target {
            kind: match record.kind.as_str() {
                "tool" => Kind::Tool,
                "resource" => Kind::Resource,
                "prompt" => Kind::Prompt,
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

    fn arguments(&self) -> &Value {
        &self.arguments
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
