//! The decision audit: one record per authorisation decision.
//!
//! Every record goes to the `orchestrator::decision` tracing target, to an
//! append-only JSON-lines file when `AUDIT_LOG_FILE` is set, and into a
//! bounded in-memory list of the latest records.

use std::collections::{BTreeSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub(crate) mod replay;

/// One decision.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DecisionRecord {
    /// When, RFC 3339 in UTC.
    pub(crate) time: String,
    /// The HTTP request that carried the call, by the server's id.
    pub(crate) request_id: String,
    /// The caller's own id for it, when it sent one: kept apart, so a
    /// caller cannot pass its calls off as another request's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_request_id: Option<String>,
    pub(crate) principal_id: String,
    pub(crate) principal_kind: &'static str,
    pub(crate) tenant: Option<String>,
    /// What was asked for: `tool`, `resource` or `prompt`.
    pub(crate) kind: &'static str,
    /// The tool's name, the resource's URI (or template) or the prompt's
    /// name.
    pub(crate) tool: String,
    pub(crate) action: &'static str,
    /// `allow` or `deny`; `cancelled` for an allowed call its client
    /// cancelled before it finished (recorded after its `allow`);
    /// `approval_required` for a call the policies allow only once a
    /// person approves it, then `approval_requested` when the server asks,
    /// and `approval_accepted`, `approval_declined` or `approval_cancelled`
    /// with the answer (an accepted approval is followed by the `allow`).
    pub(crate) decision: &'static str,
    /// The `@id`s of the deciding policies.
    pub(crate) policies: Vec<String>,
    /// Errors met while evaluating policies.
    pub(crate) errors: Vec<String>,
    /// How long the decision took.
    pub(crate) latency_us: u64,
    /// What the person who approved a call wrote with their approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
    /// What the policy set would have decided with its shadow policies
    /// (`@mode("shadow")`) promoted, when that differs from `decision`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shadow_decision: Option<&'static str>,
    /// The policies that would then have decided.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) shadow_policies: Vec<String>,
    /// The hash of the policy set that decided.
    pub(crate) policy_hash: String,
    /// The plugin that provides what was asked for (`server` for the
    /// server's own), and its hints, as the policies saw them.
    pub(crate) plugin: String,
    pub(crate) read_only: bool,
    pub(crate) destructive: bool,
    /// The principal as the policies saw it, so the decision can be
    /// replayed against other policies.
    pub(crate) subject: Subject,
    /// The call's arguments the schema lets policies see (those whose
    /// names look secret replaced by a digest); absent from records that
    /// are not decisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) arguments: Option<serde_json::Map<String, serde_json::Value>>,
    /// The caller's address, as the policies saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_address: Option<IpAddr>,
    /// A person approved the call (`context.approved`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) approved: bool,
}

/// What the policies see of a principal besides its id, kind and tenant:
/// its scopes, roles, and its roles and permissions in the tenant it acts
/// in. Written from the principal the request verified, which the record
/// shares rather than copies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subject(Option<Arc<core_auth::Principal>>);

impl Subject {
    pub(crate) fn of(principal: &Arc<core_auth::Principal>) -> Self {
        Self(Some(Arc::clone(principal)))
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let none = BTreeSet::new();
        let principal = self.0.as_deref();
        let grant = principal.and_then(|principal| {
            principal
                .tenant
                .as_ref()
                .and_then(|tenant| principal.tenants.get(tenant))
        });
        let tenant_roles = grant.map_or(&none, |grant| &grant.roles);
        let tenant_permissions = grant.map_or(&none, |grant| &grant.permissions);
        let mut subject = serializer.serialize_struct("Subject", 4)?;
        subject.serialize_field("scopes", principal.map_or(&none, |p| &p.scopes))?;
        subject.serialize_field("roles", principal.map_or(&none, |p| &p.roles))?;
        if tenant_roles.is_empty() {
            subject.skip_field("tenant_roles")?;
        } else {
            subject.serialize_field("tenant_roles", tenant_roles)?;
        }
        if tenant_permissions.is_empty() {
            subject.skip_field("tenant_permissions")?;
        } else {
            subject.serialize_field("tenant_permissions", tenant_permissions)?;
        }
        subject.end()
    }
}

/// Parts of argument names that mark a value as secret.
const SECRET_NAMES: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "private",
];

/// `arguments` as a record keeps them: values of arguments whose names look
/// secret replaced by `sha256:<hex>` of their JSON, so a record never holds
/// a secret but equal values still compare equal.
pub(crate) fn recorded_arguments(
    mut arguments: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    use sha2::{Digest as _, Sha256};
    for (name, value) in &mut arguments {
        if SECRET_NAMES.iter().any(|part| {
            name.as_bytes()
                .windows(part.len())
                .any(|window| window.eq_ignore_ascii_case(part.as_bytes()))
        }) {
            let digest = Sha256::digest(value.to_string().as_bytes());
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            *value = serde_json::Value::String(format!("sha256:{hex}"));
        }
    }
    arguments
}

/// Where decision records go.
pub(crate) struct AuditLog {
    /// The latest records, each with its number in the order recorded.
    recent: Mutex<VecDeque<(u64, DecisionRecord)>>,
    /// How many records were ever kept in `recent`.
    kept: std::sync::atomic::AtomicU64,
    capacity: usize,
    file: Option<Mutex<File>>,
}

impl AuditLog {
    /// An audit log keeping `capacity` recent records, appending to `file`
    /// (created if missing) when given.
    pub(crate) fn new(capacity: usize, file: Option<&Path>) -> std::io::Result<Self> {
        let file = match file {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(Self {
            recent: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            kept: std::sync::atomic::AtomicU64::new(0),
            capacity,
            file,
        })
    }

    /// Records one decision everywhere it goes. Never fails the request: a
    /// file that cannot be written is logged as a warning.
    pub(crate) fn record(&self, record: DecisionRecord) {
        tracing::info!(
            target: "orchestrator::decision",
            request_id = %record.request_id,
            client_request_id = record.client_request_id.as_deref(),
            principal = %record.principal_id,
            principal_kind = record.principal_kind,
            tenant = ?record.tenant,
            tool = %record.tool,
            action = record.action,
            decision = record.decision,
            policies = ?record.policies,
            errors = ?record.errors,
            latency_us = record.latency_us,
            "decision"
        );
        if let Some(file) = &self.file {
            match serde_json::to_vec(&record) {
                Ok(mut line) => {
                    line.push(b'\n');
                    let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                    // One write per record, so lines from concurrent
                    // requests never interleave in an append-only file.
                    if let Err(error) = file.write_all(&line) {
                        tracing::warn!(%error, "cannot append to the audit log file");
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot encode an audit record"),
            }
        }
        if self.capacity > 0 {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() >= self.capacity {
                recent.pop_front();
            }
            // Numbered under the lock, so numbers grow in the list's order.
            let number = self.kept.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            recent.push_back((number, record));
        }
    }

    /// The latest records, newest last.
    pub(crate) fn recent(&self) -> Vec<DecisionRecord> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, record)| record.clone())
            .collect()
    }

    /// The latest records numbered above `after`, newest last, each with
    /// its number: what a live view asks for again and again.
    pub(crate) fn since(&self, after: u64) -> Vec<(u64, DecisionRecord)> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let start = recent.partition_point(|(number, _)| *number <= after);
        recent.range(start..).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_keeps_a_digest_of_secret_looking_arguments_never_the_value() {
        let arguments = serde_json::json!({
            "environment": "production",
            "api_key": "sk-live-123",
            "DB_PASSWORD": "hunter2",
            "auth_token": {"nested": true},
        });
        let recorded = recorded_arguments(arguments.as_object().cloned().unwrap_or_default());
        assert_eq!(recorded["environment"], "production");
        for name in ["api_key", "DB_PASSWORD", "auth_token"] {
            let kept = recorded[name].as_str().unwrap_or_default();
            assert!(
                kept.starts_with("sha256:") && kept.len() == 71,
                "{name}: {kept}"
            );
        }
        let text = serde_json::to_string(&recorded).unwrap_or_default();
        assert!(
            !text.contains("sk-live-123") && !text.contains("hunter2"),
            "{text}"
        );
        let again = recorded_arguments(arguments.as_object().cloned().unwrap_or_default());
        assert_eq!(recorded, again, "equal values, equal digests");
    }

    use super::*;

    fn record(tool: &str) -> DecisionRecord {
        DecisionRecord {
            time: "2026-01-01T00:00:00Z".into(),
            request_id: "r".into(),
            client_request_id: None,
            principal_id: "p".into(),
            principal_kind: "user",
            tenant: None,
            kind: "tool",
            tool: tool.into(),
            action: "call",
            decision: "allow",
            policies: vec![],
            errors: vec![],
            latency_us: 1,
            comment: None,
            shadow_decision: None,
            shadow_policies: Vec::new(),
            policy_hash: "sha256:test".to_owned(),
            plugin: "core-tools".to_owned(),
            read_only: true,
            destructive: false,
            subject: Subject::default(),
            arguments: None,
            client_address: None,
            approved: false,
        }
    }

    #[test]
    fn the_secret_looking_parts_are_lower_case_and_not_empty() {
        // They are matched ignoring the case of the name, not their own.
        for part in SECRET_NAMES {
            assert!(
                !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()),
                "{part}"
            );
        }
    }

    #[test]
    fn a_subject_is_written_with_the_tenant_grants_of_the_tenant_acted_in() {
        let grant = |roles: &[&str], permissions: &[&str]| core_auth::TenantGrant {
            roles: roles.iter().map(|&role| role.to_owned()).collect(),
            permissions: permissions.iter().map(|&p| p.to_owned()).collect(),
        };
        let principal = core_auth::Principal {
            id: "u1".to_owned(),
            kind: core_auth::PrincipalKind::User,
            scopes: ["tools:read", "tools:ping"].map(str::to_owned).into(),
            roles: ["viewer"].map(str::to_owned).into(),
            tenant: Some("acme".to_owned()),
            tenants: [
                ("acme".to_owned(), grant(&["ops"], &["deploy", "audit"])),
                ("other".to_owned(), grant(&["owner"], &[])),
            ]
            .into(),
            credential: core_auth::Credential::default(),
        };
        let written = |principal: &core_auth::Principal| {
            serde_json::to_value(Subject::of(&Arc::new(principal.clone()))).unwrap_or_default()
        };
        assert_eq!(
            written(&principal),
            serde_json::json!({
                "scopes": ["tools:ping", "tools:read"],
                "roles": ["viewer"],
                "tenant_roles": ["ops"],
                "tenant_permissions": ["audit", "deploy"],
            })
        );
        let elsewhere = core_auth::Principal {
            tenant: Some("other".to_owned()),
            ..principal.clone()
        };
        assert_eq!(
            written(&elsewhere),
            serde_json::json!({"scopes": ["tools:ping", "tools:read"], "roles": ["viewer"], "tenant_roles": ["owner"]})
        );
        let untenanted = core_auth::Principal {
            tenant: None,
            ..principal
        };
        assert_eq!(
            written(&untenanted),
            serde_json::json!({"scopes": ["tools:ping", "tools:read"], "roles": ["viewer"]})
        );
        assert_eq!(
            serde_json::to_value(Subject::default()).unwrap_or_default(),
            serde_json::json!({"scopes": [], "roles": []})
        );
    }

    #[test]
    fn the_recent_list_is_bounded_and_keeps_the_newest() {
        let log = AuditLog::new(2, None).expect("log");
        for tool in ["a", "b", "c"] {
            log.record(record(tool));
        }
        let tools: Vec<String> = log.recent().into_iter().map(|r| r.tool).collect();
        assert_eq!(tools, ["b", "c"]);
    }

    #[test]
    fn records_are_appended_as_json_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").expect("seed");
        let log = AuditLog::new(0, Some(&path)).expect("log");
        log.record(record("a"));
        log.record(record("b"));
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "appended, not truncated");
        let last: serde_json::Value = serde_json::from_str(lines[2]).expect("json line");
        assert_eq!(last["tool"], "b");
        assert_eq!(last["decision"], "allow");
    }
}
