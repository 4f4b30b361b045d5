//! The server's own resources: the active policies, the scope catalogue,
//! the generated Descope scope manifest and the recent decisions. Like the
//! server's own tools they belong to `Plugin::"server"` and are decided
//! with `Action::"admin"`, so no policy about plugins' resources grants
//! them.

use std::path::PathBuf;

use policy::{Kind, PolicyEngine, SERVER_PLUGIN, Target};
use serde_json::{Value, json};

use crate::audit::AuditLog;

/// The URI scheme of the server's own resources; no plugin may use it.
pub(crate) const SCHEME: &str = "orchestrator://";

/// Where `cargo xtask gen` writes the Descope scope manifest, relative to
/// the server's working directory (the image copies it there too).
pub(crate) const MANIFEST_FILE: &str = "config/descope/scopes.json";

/// How many decisions `orchestrator://decisions` holds, newest first.
const RECENT_DECISIONS: usize = 100;

/// One of the server's own resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerResource {
    Policies,
    Scopes,
    Manifest,
    Decisions,
}

/// What reading a server resource needs.
pub(crate) struct ServerResourceContext<'a> {
    pub(crate) policies: &'a PolicyEngine,
    pub(crate) audit: &'a AuditLog,
}

impl ServerResource {
    pub(crate) const ALL: [Self; 4] = [
        Self::Policies,
        Self::Scopes,
        Self::Manifest,
        Self::Decisions,
    ];

    pub(crate) fn uri(self) -> &'static str {
        match self {
            Self::Policies => "orchestrator://policies",
            Self::Scopes => "orchestrator://scopes",
            Self::Manifest => "orchestrator://descope/scopes.json",
            Self::Decisions => "orchestrator://decisions",
        }
    }

    /// The server resource `uri` names. Every one starts with [`SCHEME`].
    pub(crate) fn named(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|resource| resource.uri() == uri)
    }

    /// The MCP `Resource` object.
    pub(crate) fn descriptor(self) -> Value {
        let (name, title, description) = match self {
            Self::Policies => (
                "policies",
                "Active policies",
                "The schema and policy files the server decides by, as they were loaded, with the set's hash.",
            ),
            Self::Scopes => (
                "scopes",
                "Scope catalogue",
                "Every scope the policies grant, with its description and the tools, resources, prompts and policies that carry it.",
            ),
            Self::Manifest => (
                "descope-scopes",
                "Descope scope manifest",
                "The scope manifest `cargo xtask gen` generated for Descope (config/descope/scopes.json), as deployed.",
            ),
            Self::Decisions => (
                "decisions",
                "Recent decisions",
                "The most recent policy decisions, newest first, as audit_log returns them.",
            ),
        };
        json!({
            "uri": self.uri(),
            "name": name,
            "title": title,
            "description": description,
            "mimeType": "application/json",
        })
    }

    /// What the policies see of it.
    pub(crate) fn target(self) -> Target {
        Target::item(Kind::Resource, self.uri(), SERVER_PLUGIN)
    }

    /// Reads it as JSON text; `Err` says why it cannot be read.
    pub(crate) fn read(self, context: &ServerResourceContext<'_>) -> Result<String, String> {
        let document = match self {
            Self::Policies => {
                let files: Vec<Value> = context
                    .policies
                    .files()
                    .iter()
                    .map(|(name, text)| json!({"file": name, "text": text}))
                    .collect();
                json!({"hash": context.policies.hash(), "files": files})
            }
            Self::Scopes => json!({
                "hash": context.policies.hash(),
                "scopes": context.policies.scopes(),
            }),
            Self::Manifest => {
                let path = PathBuf::from(MANIFEST_FILE);
                let text = std::fs::read_to_string(&path).map_err(|err| {
                    format!(
                        "{MANIFEST_FILE} cannot be read ({err}); run `cargo xtask gen` and deploy the file beside the server"
                    )
                })?;
                return serde_json::from_str::<Value>(&text)
                    .map(|_| text)
                    .map_err(|err| {
                        format!("{MANIFEST_FILE} is not JSON ({err}); run `cargo xtask gen` again")
                    });
            }
            Self::Decisions => {
                let records: Vec<_> = context
                    .audit
                    .recent()
                    .into_iter()
                    .rev()
                    .take(RECENT_DECISIONS)
                    .collect();
                json!({"records": records})
            }
        };
        Ok(document.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_resource_is_in_the_reserved_scheme_and_decided_with_admin() {
        for resource in ServerResource::ALL {
            assert!(resource.uri().starts_with(SCHEME), "{}", resource.uri());
            assert_eq!(resource.target().action(), policy::Action::Admin);
            assert_eq!(ServerResource::named(resource.uri()), Some(resource));
        }
    }
}
