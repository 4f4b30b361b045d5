//! Resources, resource templates, prompts and completions: what plugins of
//! ABI version 3 declare besides tools, checked when they load, and read
//! through the same pool, slots and time limits as tool calls.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use plugin_api::{
    CallContext, Completion, CompletionRef, PluginDescriptor, PromptOutcome, PromptRequest,
    ResourceOutcome, ResourceRequest, UriTemplate,
};
use serde::Serialize;
use serde_json::Value;

use crate::library::{Entry, PluginFailure, PluginLibrary, read_payload};
use crate::{Busy, CallHooks, Job, LoadError, PluginHost, RunOutcome, describe_duration};

/// A resource, or a family of them, as the host knows it.
pub struct ResourceEntry {
    descriptor: Value,
    /// `uri` for a resource, `uriTemplate` for a template.
    key: String,
    template: Option<UriTemplate>,
    plugin: Arc<str>,
    library: Arc<PluginLibrary>,
}

impl ResourceEntry {
    /// The MCP `Resource` or `ResourceTemplate` object the plugin declared.
    pub fn descriptor(&self) -> &Value {
        &self.descriptor
    }

    /// The resource's URI, or the template as written.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The template, when this entry is one.
    pub fn template(&self) -> Option<&UriTemplate> {
        self.template.as_ref()
    }

    /// The plugin that provides it.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// A prompt as the host knows it.
pub struct PromptEntry {
    name: String,
    descriptor: Value,
    plugin: Arc<str>,
    library: Arc<PluginLibrary>,
}

impl PromptEntry {
    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MCP `Prompt` object the plugin declared.
    pub fn descriptor(&self) -> &Value {
        &self.descriptor
    }

    /// The plugin that provides it.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// Everything besides tools that the loaded plugins declare.
#[derive(Default)]
pub(crate) struct Items {
    resources: BTreeMap<String, Arc<ResourceEntry>>,
    templates: Vec<Arc<ResourceEntry>>,
    prompts: BTreeMap<String, Arc<PromptEntry>>,
    completions: BTreeMap<(CompletionRef, String), Vec<String>>,
    /// How long a read or a prompt may take.
    pub(crate) timeout: Duration,
}

/// The most values a completion answers with, as MCP allows.
pub const MAX_COMPLETION_VALUES: usize = 100;

fn string_field<'a>(
    file: &Path,
    item: &'a Value,
    kind: &str,
    field: &str,
) -> Result<&'a str, LoadError> {
    item.get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| LoadError::bad_descriptor(file, format!("a {kind} has no `{field}` string")))
}

impl Items {
    /// No items yet; reads and prompts may take `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// Adds what `descriptor` declares besides tools, refusing a plugin of
    /// ABI version 2 that declares any, malformed entries, names or URIs
    /// another plugin already has, and completions of arguments that do not
    /// exist.
    pub(crate) fn add(
        &mut self,
        file: &Path,
        descriptor: &PluginDescriptor,
        plugin: &Arc<str>,
        library: &Arc<PluginLibrary>,
    ) -> Result<(), LoadError> {
        let declares_any = !(descriptor.resources.is_empty()
            && descriptor.resource_templates.is_empty()
            && descriptor.prompts.is_empty()
            && descriptor.completions.is_empty());
        if declares_any && library.abi_version() < 3 {
            return Err(LoadError::bad_descriptor(
                file,
                "it declares resources or prompts but is built against ABI version 2, which \
                 cannot serve them; rebuild it against this server's plugin-api",
            ));
        }
        let mut parameters: BTreeMap<CompletionRef, Vec<String>> = BTreeMap::new();
        for resource in &descriptor.resources {
            let uri = string_field(file, resource, "resource", "uri")?;
            string_field(file, resource, "resource", "name")?;
            if let Some(other) = self.resources.get(uri) {
                return Err(LoadError::bad_descriptor(
                    file,
                    format!(
                        "resource `{uri}` is already provided by plugin `{}`; resource URIs must be unique",
                        other.plugin
                    ),
                ));
            }
            // Another plugin's template must not be able to answer for it.
            if let Some(other) = self.templates.iter().find(|other| {
                other.plugin != *plugin
                    && (other.key == uri
                        || other
                            .template
                            .as_ref()
                            .is_some_and(|template| template.matches(uri).is_some()))
            }) {
                return Err(overlap(file, uri, other));
            }
            self.resources.insert(
                uri.to_owned(),
                Arc::new(ResourceEntry {
                    descriptor: resource.clone(),
                    key: uri.to_owned(),
                    template: None,
                    plugin: Arc::clone(plugin),
                    library: Arc::clone(library),
                }),
            );
        }
        for template in &descriptor.resource_templates {
            let text = string_field(file, template, "resource template", "uriTemplate")?;
            string_field(file, template, "resource template", "name")?;
            let parsed = UriTemplate::parse(text)
                .map_err(|err| LoadError::bad_descriptor(file, err.to_string()))?;
            if let Some(other) = self.templates.iter().find(|other| other.key == text) {
                return Err(LoadError::bad_descriptor(
                    file,
                    format!(
                        "resource template `{text}` is already provided by plugin `{}`",
                        other.plugin
                    ),
                ));
            }
            // No URI may be one another plugin answers for too.
            let own_prefix = literal_prefix(text);
            let clash = self
                .resources
                .values()
                .find(|other| {
                    other.plugin != *plugin
                        && (other.key == text || parsed.matches(&other.key).is_some())
                })
                .or_else(|| {
                    self.templates.iter().find(|other| {
                        let theirs = literal_prefix(&other.key);
                        other.plugin != *plugin
                            && (own_prefix.starts_with(theirs) || theirs.starts_with(own_prefix))
                    })
                });
            if let Some(other) = clash {
                return Err(overlap(file, text, other));
            }
            parameters.insert(
                CompletionRef::Resource {
                    uri: text.to_owned(),
                },
                parsed.parameters().map(str::to_owned).collect(),
            );
            self.templates.push(Arc::new(ResourceEntry {
                descriptor: template.clone(),
                key: text.to_owned(),
                template: Some(parsed),
                plugin: Arc::clone(plugin),
                library: Arc::clone(library),
            }));
        }
        for prompt in &descriptor.prompts {
            let name = string_field(file, prompt, "prompt", "name")?;
            if let Some(other) = self.prompts.get(name) {
                return Err(LoadError::bad_descriptor(
                    file,
                    format!(
                        "prompt `{name}` is already provided by plugin `{}`; prompt names must be unique",
                        other.plugin
                    ),
                ));
            }
            let arguments = match prompt.get("arguments") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(arguments)) => arguments
                    .iter()
                    .map(|argument| {
                        string_field(file, argument, "prompt argument", "name").map(str::to_owned)
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(LoadError::bad_descriptor(
                        file,
                        format!("prompt `{name}`: `arguments` must be a list"),
                    ));
                }
            };
            parameters.insert(
                CompletionRef::Prompt {
                    name: name.to_owned(),
                },
                arguments,
            );
            self.prompts.insert(
                name.to_owned(),
                Arc::new(PromptEntry {
                    name: name.to_owned(),
                    descriptor: prompt.clone(),
                    plugin: Arc::clone(plugin),
                    library: Arc::clone(library),
                }),
            );
        }
        for Completion {
            reference,
            argument,
            values,
        } in &descriptor.completions
        {
            let known = parameters.get(reference).ok_or_else(|| {
                LoadError::bad_descriptor(
                    file,
                    format!("a completion names {reference:?}, which this plugin does not declare"),
                )
            })?;
            if !known.contains(argument) {
                return Err(LoadError::bad_descriptor(
                    file,
                    format!(
                        "a completion names the argument `{argument}` of {reference:?}, which has: {}",
                        known.join(", ")
                    ),
                ));
            }
            self.completions
                .insert((reference.clone(), argument.clone()), values.clone());
        }
        Ok(())
    }
}

/// The text of a URI template before its first parameter.
fn literal_prefix(template: &str) -> &str {
    template.split('{').next().unwrap_or_default()
}

/// Refuses `uri` (a URI or template) that `other`, another plugin's, could
/// also answer for.
fn overlap(file: &Path, uri: &str, other: &ResourceEntry) -> LoadError {
    LoadError::bad_descriptor(
        file,
        format!(
            "resource `{uri}` overlaps `{}` of plugin `{}`: a URI could belong to both; give each \
             plugin's resources a scheme or authority of its own (`{}://…`)",
            other.key,
            other.plugin,
            file.file_stem()
                .map(|stem| stem
                    .to_string_lossy()
                    .trim_start_matches("lib")
                    .replace('_', "-"))
                .unwrap_or_default()
        ),
    )
}

/// The values offered for an argument that starts with what was typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Completed {
    /// At most [`MAX_COMPLETION_VALUES`] values, in the plugin's order.
    pub values: Vec<String>,
    /// How many values match in all.
    pub total: usize,
    /// True when more match than were sent.
    pub has_more: bool,
}

impl PluginHost {
    /// Every resource with a fixed URI, ordered by URI.
    pub fn resources(&self) -> impl Iterator<Item = &ResourceEntry> {
        self.items.resources.values().map(Arc::as_ref)
    }

    /// Every resource template, in load order.
    pub fn resource_templates(&self) -> impl Iterator<Item = &ResourceEntry> {
        self.items.templates.iter().map(Arc::as_ref)
    }

    /// The resource `uri` names: one with that URI, else the first template
    /// (in load order) that matches it.
    pub fn resource(&self, uri: &str) -> Option<&ResourceEntry> {
        self.items.resources.get(uri).map(Arc::as_ref).or_else(|| {
            self.items
                .templates
                .iter()
                .find(|entry| {
                    entry
                        .template
                        .as_ref()
                        .is_some_and(|template| template.matches(uri).is_some())
                })
                .map(Arc::as_ref)
        })
    }

    /// Every prompt, ordered by name.
    pub fn prompts(&self) -> impl Iterator<Item = &PromptEntry> {
        self.items.prompts.values().map(Arc::as_ref)
    }

    /// The prompt named `name`.
    pub fn prompt(&self, name: &str) -> Option<&PromptEntry> {
        self.items.prompts.get(name).map(Arc::as_ref)
    }

    /// The declared values of `argument` of `reference` that start with
    /// `typed` (ignoring case); `None` when nothing declares completions for
    /// it.
    pub fn complete(
        &self,
        reference: &CompletionRef,
        argument: &str,
        typed: &str,
    ) -> Option<Completed> {
        let values = self
            .items
            .completions
            .get(&(reference.clone(), argument.to_owned()))?;
        let typed = typed.to_lowercase();
        let matching: Vec<&String> = values
            .iter()
            .filter(|value| value.to_lowercase().starts_with(&typed))
            .collect();
        Some(Completed {
            total: matching.len(),
            has_more: matching.len() > MAX_COMPLETION_VALUES,
            values: matching
                .into_iter()
                .take(MAX_COMPLETION_VALUES)
                .cloned()
                .collect(),
        })
    }

    /// Reads `uri` from the plugin that declares it, for the caller in
    /// `context`. A URI no plugin declares is [`ResourceOutcome::NotFound`];
    /// a plugin that fails, panics or runs past its time limit answers
    /// [`ResourceOutcome::Failed`] with a message for the caller, and the
    /// details go to the log.
    pub async fn read_resource(
        &self,
        uri: &str,
        context: CallContext,
        hooks: Option<Arc<dyn CallHooks>>,
        depth: usize,
    ) -> Result<ResourceOutcome, Busy> {
        let Some(entry) = self.resource(uri) else {
            return Ok(ResourceOutcome::NotFound {
                message: format!("no resource has the URI `{uri}`"),
            });
        };
        let request_id = context.request_id.clone();
        let request = ResourceRequest {
            uri: uri.to_owned(),
            context: Some(context.clone()),
        };
        let failed = |why: &str| ResourceOutcome::Failed {
            message: format!(
                "resource `{uri}` could not be read: {why}; the server log has the details under request id {request_id}"
            ),
        };
        let answer = self
            .run_item(
                &entry.library,
                Entry::ReadResource,
                &entry.plugin,
                uri,
                &request,
                context,
                hooks,
                depth,
            )
            .await?;
        Ok(match answer {
            ItemAnswer::Bytes(bytes) => match serde_json::from_slice::<ResourceOutcome>(&bytes) {
                Ok(ResourceOutcome::Read { contents }) if contents.is_empty() => {
                    tracing::error!(plugin = %entry.plugin, %uri, "plugin read a resource with no contents");
                    failed("its plugin answered with no contents")
                }
                Ok(outcome) => outcome,
                Err(err) => {
                    tracing::error!(plugin = %entry.plugin, %uri, %err, "plugin answered a read with invalid JSON");
                    failed("its plugin answered with something that is not a resource")
                }
            },
            ItemAnswer::TimedOut => ResourceOutcome::Failed {
                message: format!(
                    "resource `{uri}` was not read within {}; try again later",
                    describe_duration(self.items.timeout)
                ),
            },
            ItemAnswer::Failed => failed("its plugin failed"),
        })
    }

    /// Renders the prompt `name` with `arguments`, for the caller in
    /// `context`; failures as for [`Self::read_resource`].
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: BTreeMap<String, String>,
        context: CallContext,
        hooks: Option<Arc<dyn CallHooks>>,
        depth: usize,
    ) -> Result<PromptOutcome, Busy> {
        let Some(entry) = self.prompt(name) else {
            return Ok(PromptOutcome::NotFound {
                message: format!("no prompt is named `{name}`"),
            });
        };
        let request_id = context.request_id.clone();
        let request = PromptRequest {
            name: name.to_owned(),
            arguments,
            context: Some(context.clone()),
        };
        let failed = |why: &str| PromptOutcome::Failed {
            message: format!(
                "prompt `{name}` could not be rendered: {why}; the server log has the details under request id {request_id}"
            ),
        };
        let answer = self
            .run_item(
                &entry.library,
                Entry::GetPrompt,
                &entry.plugin,
                name,
                &request,
                context,
                hooks,
                depth,
            )
            .await?;
        Ok(match answer {
            ItemAnswer::Bytes(bytes) => match serde_json::from_slice::<PromptOutcome>(&bytes) {
                Ok(outcome) => outcome,
                Err(err) => {
                    tracing::error!(plugin = %entry.plugin, prompt = %name, %err, "plugin answered a prompt with invalid JSON");
                    failed("its plugin answered with something that is not a prompt")
                }
            },
            ItemAnswer::TimedOut => PromptOutcome::Failed {
                message: format!(
                    "prompt `{name}` was not rendered within {}; try again later",
                    describe_duration(self.items.timeout)
                ),
            },
            ItemAnswer::Failed => failed("its plugin failed"),
        })
    }

    #[expect(clippy::too_many_arguments, reason = "one job's parts, each used once")]
    async fn run_item<R: Serialize>(
        &self,
        library: &Arc<PluginLibrary>,
        entry: Entry,
        plugin: &Arc<str>,
        item: &str,
        request: &R,
        context: CallContext,
        hooks: Option<Arc<dyn CallHooks>>,
        depth: usize,
    ) -> Result<ItemAnswer, Busy> {
        let Ok(bytes) = serde_json::to_vec(request) else {
            return Ok(ItemAnswer::Failed);
        };
        let job = Job {
            library: Arc::clone(library),
            entry,
            plugin: Arc::clone(plugin),
            item: item.to_owned(),
            request: bytes,
            context,
            hooks,
        };
        Ok(
            match self.run(job, self.items.timeout, depth, None).await? {
                RunOutcome::Answered(answered) => {
                    match answered.status.and_then(|status| {
                        read_payload(status, &answered.job.answer).map(<[u8]>::to_vec)
                    }) {
                        Ok(bytes) => ItemAnswer::Bytes(bytes),
                        Err(failure) => {
                            log_failure(plugin, item, &failure);
                            ItemAnswer::Failed
                        }
                    }
                }
                RunOutcome::TimedOut => ItemAnswer::TimedOut,
                RunOutcome::Aborted => ItemAnswer::Failed,
            },
        )
    }
}

fn log_failure(plugin: &str, item: &str, failure: &PluginFailure) {
    tracing::error!(%plugin, %item, %failure, "plugin call failed");
}

enum ItemAnswer {
    Bytes(Vec<u8>),
    TimedOut,
    Failed,
}
