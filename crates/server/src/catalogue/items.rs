//! Resources, resource templates and prompts: listed per caller and read or
//! rendered with a policy decision first, like tools, and completed from
//! what their plugins declare.
//!
//! A resource read through a template is decided as the template (the
//! policies name `Resource::"<template>"`), with the template's parameters
//! as the request's arguments; a prompt is decided with its arguments.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use plugin_host::{Busy, Completed, CompletionRef, PromptOutcome, ResourceOutcome};
use policy::{Kind, Target};
use serde_json::{Map, Value};

use super::server_resources::{ServerResource, ServerResourceContext};
use super::{Caller, Catalogue, call_context, evaluate};

/// The policy view of every resource, template and prompt, by kind and
/// name, built once: the policy engine keeps per-target work keyed by
/// these `Arc`s.
pub(super) type Items = std::collections::HashMap<(Kind, String), Arc<Target>>;

/// Builds [`Items`] for the plugins' resources, templates and prompts and
/// the server's own resources.
pub(super) fn items(plugins: &plugin_host::PluginHost) -> Items {
    let mut items = Items::new();
    for resource in ServerResource::ALL {
        items.insert(
            (Kind::Resource, resource.uri().to_owned()),
            Arc::new(resource.target()),
        );
    }
    // A plugin never takes a key the server holds: `check_reserved_names`
    // refuses such a plugin at start-up, and this keeps the server's
    // (admin-decided) entry even if it did not.
    for entry in plugins.resources().chain(plugins.resource_templates()) {
        items
            .entry((Kind::Resource, entry.key().to_owned()))
            .or_insert_with(|| Arc::new(Target::item(Kind::Resource, entry.key(), entry.plugin())));
    }
    for prompt in plugins.prompts() {
        items.insert(
            (Kind::Prompt, prompt.name().to_owned()),
            Arc::new(Target::item(Kind::Prompt, prompt.name(), prompt.plugin())),
        );
    }
    items
}

/// What getting a prompt came to.
pub(crate) enum Prompted {
    /// Its description and MCP `PromptMessage`s.
    Got {
        description: Option<String>,
        messages: Vec<Value>,
    },
    /// It needs these answered first.
    NeedsInput(plugin_host::InputRequests),
}

/// Why a read, a prompt or a completion did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ItemRefusal {
    /// Nothing has that URI or name.
    #[error("{}", not_found(*kind, name))]
    NotFound { kind: Kind, name: String },
    /// The policies deny it.
    #[error("{}", denial(*kind, name, accepted_scopes))]
    Denied {
        kind: Kind,
        name: String,
        accepted_scopes: Vec<String>,
    },
    /// The arguments are missing or wrong.
    #[error("{0}")]
    InvalidArguments(String),
    /// The plugin could not do it; the message says what to do.
    #[error("{0}")]
    Failed(String),
    /// No slot for a plugin call came free in time.
    #[error(transparent)]
    Busy(#[from] Busy),
}

fn noun(kind: Kind) -> &'static str {
    kind.noun()
}

fn not_found(kind: Kind, name: &str) -> String {
    let name = super::shorten(name);
    match kind {
        Kind::Resource => format!(
            "Resource not found: no resource has the URI `{name}`; resources/list and resources/templates/list show what you may read"
        ),
        Kind::Prompt => format!(
            "Prompt not found: no prompt is named `{name}`; prompts/list shows the prompts you may get"
        ),
        Kind::Tool => format!("Unknown tool `{name}`: no loaded plugin provides it"),
        Kind::Console => format!("Unknown console `{name}`: the server has one, at /admin"),
    }
}

fn denial(kind: Kind, name: &str, accepted_scopes: &[String]) -> String {
    let noun = noun(kind);
    let name = super::shorten(name);
    if accepted_scopes.is_empty() {
        format!("Access denied: the policies do not allow this caller the {noun} `{name}`")
    } else {
        format!(
            "Scope validation failed: {noun} `{name}` needs one of: {}",
            accepted_scopes.join(", ")
        )
    }
}

impl Catalogue {
    fn item(&self, kind: Kind, name: &str) -> Option<&Arc<Target>> {
        self.items.get(&(kind, name.to_owned()))
    }

    /// Whether the caller may see (and use) `target`, arguments aside.
    fn admits(&self, caller: &Caller, target: &Arc<Target>) -> bool {
        caller.policies.is_allowed(
            &caller.principal,
            target.action(),
            target,
            &caller.context(&Value::Null),
        )
    }

    /// The MCP resource objects the caller may read: the server's own, then
    /// the plugins', by URI.
    pub(crate) fn visible_resources(&self, caller: &Caller) -> Vec<Value> {
        let server = ServerResource::ALL
            .into_iter()
            .map(|resource| (resource.uri().to_owned(), resource.descriptor()));
        let plugins = self
            .plugins
            .resources()
            .map(|entry| (entry.key().to_owned(), entry.descriptor().clone()));
        server
            .chain(plugins)
            .filter(|(uri, _)| {
                self.item(Kind::Resource, uri)
                    .is_some_and(|target| self.admits(caller, target))
            })
            .map(|(_, descriptor)| descriptor)
            .collect()
    }

    /// The MCP resource template objects the caller may read through.
    pub(crate) fn visible_resource_templates(&self, caller: &Caller) -> Vec<Value> {
        self.plugins
            .resource_templates()
            .filter(|entry| {
                self.item(Kind::Resource, entry.key())
                    .is_some_and(|target| self.admits(caller, target))
            })
            .map(|entry| entry.descriptor().clone())
            .collect()
    }

    /// The MCP prompt objects the caller may get, by name.
    pub(crate) fn visible_prompts(&self, caller: &Caller) -> Vec<Value> {
        self.plugins
            .prompts()
            .filter(|prompt| {
                self.item(Kind::Prompt, prompt.name())
                    .is_some_and(|target| self.admits(caller, target))
            })
            .map(|prompt| prompt.descriptor().clone())
            .collect()
    }

    /// Decides `target` for the caller with `arguments`, audited.
    fn authorize_item(
        &self,
        caller: &Caller,
        target: &Arc<Target>,
        arguments: &Value,
    ) -> Result<(), ItemRefusal> {
        let started = Instant::now();
        let decision = evaluate(caller, target, arguments, super::Approval::None);
        let shadow =
            super::shadow_disagreement(caller, target, arguments, super::Approval::None, &decision);
        self.audit_decision(
            caller,
            target,
            &decision,
            super::Decided {
                arguments,
                approval: super::Approval::None,
                shadow,
            },
            started,
        );
        if decision.allowed {
            Ok(())
        } else {
            Err(ItemRefusal::Denied {
                kind: target.kind,
                name: target.name.clone(),
                accepted_scopes: decision.accepted_scopes,
            })
        }
    }

    /// Whether the caller may read `uri` (a resource, or one a template
    /// names), arguments aside: what a subscription needs.
    pub(crate) fn may_read(&self, caller: &Caller, uri: &str) -> Result<(), ItemRefusal> {
        let not_found = || ItemRefusal::NotFound {
            kind: Kind::Resource,
            name: uri.to_owned(),
        };
        let key = match ServerResource::named(uri) {
            Some(resource) => resource.uri(),
            None => self.plugins.resource(uri).ok_or_else(not_found)?.key(),
        };
        let target = self.item(Kind::Resource, key).ok_or_else(not_found)?;
        if self.admits(caller, target) {
            return Ok(());
        }
        let decision = evaluate(caller, target, &Value::Null, super::Approval::None);
        Err(ItemRefusal::Denied {
            kind: Kind::Resource,
            name: uri.to_owned(),
            accepted_scopes: decision.accepted_scopes,
        })
    }

    /// Reads `uri` for the caller: the policies decide first, then the
    /// server or the plugin reads it. Returns MCP `ResourceContents`.
    pub(crate) async fn read_resource(
        &self,
        caller: &Caller,
        uri: &str,
    ) -> Result<Vec<Value>, ItemRefusal> {
        let not_found = || ItemRefusal::NotFound {
            kind: Kind::Resource,
            name: uri.to_owned(),
        };
        if let Some(resource) = ServerResource::named(uri) {
            let target = self.item(Kind::Resource, uri).ok_or_else(not_found)?;
            self.authorize_item(caller, target, &Value::Null)?;
            let policies = self.policies();
            let text = resource
                .read(&ServerResourceContext {
                    policies: &policies,
                    audit: &self.audit,
                })
                .map_err(ItemRefusal::Failed)?;
            return Ok(vec![json_contents(uri, &text)]);
        }
        let entry = self.plugins.resource(uri).ok_or_else(not_found)?;
        let arguments = match entry.template() {
            Some(template) => Value::Object(
                template
                    .matches(uri)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name, Value::String(value)))
                    .collect::<Map<String, Value>>(),
            ),
            None => Value::Null,
        };
        let target = self
            .item(Kind::Resource, entry.key())
            .ok_or_else(not_found)?;
        self.authorize_item(caller, target, &arguments)?;
        let outcome = self
            .plugins
            .read_resource(
                uri,
                call_context(caller, &super::Asking::default()),
                None,
                usize::from(caller.nesting),
            )
            .await?;
        match outcome {
            ResourceOutcome::Read { contents } => Ok(contents),
            ResourceOutcome::NotFound { .. } => Err(not_found()),
            ResourceOutcome::Failed { message } => Err(ItemRefusal::Failed(message)),
        }
    }

    /// Renders prompt `name` with `arguments` for the caller, the policies
    /// deciding first with the arguments: the description and the MCP
    /// `PromptMessage`s, or what the prompt needs asked first (which only
    /// a caller `asking` can ask is answered that way).
    pub(crate) async fn get_prompt(
        &self,
        caller: &Caller,
        name: &str,
        arguments: BTreeMap<String, String>,
        asking: &super::Asking,
    ) -> Result<Prompted, ItemRefusal> {
        let not_found = || ItemRefusal::NotFound {
            kind: Kind::Prompt,
            name: name.to_owned(),
        };
        let target = self.item(Kind::Prompt, name).ok_or_else(not_found)?;
        let decided = Value::Object(
            arguments
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                .collect(),
        );
        self.authorize_item(caller, target, &decided)?;
        let outcome = self
            .plugins
            .get_prompt(
                name,
                arguments,
                call_context(caller, asking),
                None,
                usize::from(caller.nesting),
            )
            .await?;
        match outcome {
            PromptOutcome::Got {
                description,
                messages,
            } => Ok(Prompted::Got {
                description,
                messages,
            }),
            PromptOutcome::InputRequired { requests } if asking.covers(&requests) => {
                Ok(Prompted::NeedsInput(requests))
            }
            PromptOutcome::InputRequired { requests } => Err(ItemRefusal::Failed(
                super::unaskable(name, &requests)
                    .first_text()
                    .unwrap_or_default()
                    .to_owned(),
            )),
            PromptOutcome::InvalidArguments { message } => {
                Err(ItemRefusal::InvalidArguments(message))
            }
            PromptOutcome::NotFound { .. } => Err(not_found()),
            PromptOutcome::Failed { message } => Err(ItemRefusal::Failed(message)),
        }
    }

    /// The values that complete `argument` of the prompt or template
    /// `reference` starting with `typed`, for a caller who may use it:
    /// none when the plugin declares no values for it.
    pub(crate) fn complete(
        &self,
        caller: &Caller,
        reference: &CompletionRef,
        argument: &str,
        typed: &str,
    ) -> Result<Completed, ItemRefusal> {
        let (kind, name) = match reference {
            CompletionRef::Prompt { name } => (Kind::Prompt, name),
            CompletionRef::Resource { uri } => (Kind::Resource, uri),
        };
        let target = self.item(kind, name).ok_or_else(|| ItemRefusal::NotFound {
            kind,
            name: name.clone(),
        })?;
        // Completing reveals what the item accepts: only for those who may
        // use it, and not audited (a client completes as its user types).
        if !self.admits(caller, target) {
            let decision = evaluate(caller, target, &Value::Null, super::Approval::None);
            return Err(ItemRefusal::Denied {
                kind,
                name: name.clone(),
                accepted_scopes: decision.accepted_scopes,
            });
        }
        Ok(self
            .plugins
            .complete(reference, argument, typed)
            .unwrap_or_default())
    }
}

/// MCP `TextResourceContents` of JSON text.
fn json_contents(uri: &str, text: &str) -> Value {
    serde_json::json!({"uri": uri, "mimeType": "application/json", "text": text})
}
