//! The decision audit: one record per authorisation decision.
//!
//! Every record goes to the `orchestrator::decision` tracing target, to an
//! append-only JSON-lines file when `AUDIT_LOG_FILE` is set, and into a
//! bounded in-memory list of the latest records.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

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
}

/// Where decision records go.
pub(crate) struct AuditLog {
    recent: Mutex<VecDeque<DecisionRecord>>,
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
            recent.push_back(record);
        }
    }

    /// The latest records, newest last.
    pub(crate) fn recent(&self) -> Vec<DecisionRecord> {
        self.recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
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
        }
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
