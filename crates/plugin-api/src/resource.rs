//! Typed resources: a resource with a fixed URI, or a template whose
//! parameters name a family of them, with a function that reads it.
//!
//! List them in [`export_tools!`](crate::export_tools) beside the tools;
//! descriptors, completions and the matching of URIs to templates are
//! generated from the implementations.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::content::{blob_contents, text_contents};
use crate::{Completion, CompletionRef, ResourceOutcome, ToolContext, ToolError, UriTemplate};

/// What a resource holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contents {
    /// Text, in the resource's media type.
    Text(String),
    /// Bytes, sent base64-encoded.
    Blob(Vec<u8>),
}

impl Contents {
    /// The MCP `ResourceContents` object for `uri`.
    pub fn to_json(&self, uri: &str, mime_type: &str) -> Value {
        match self {
            Self::Text(text) => text_contents(uri, mime_type, text.as_str()),
            Self::Blob(bytes) => blob_contents(uri, mime_type, bytes),
        }
    }
}

/// A resource with a fixed URI.
pub trait Resource {
    /// Its URI (`code-tools://languages`).
    const URI: &'static str;
    /// A short name.
    const NAME: &'static str;
    /// A human title.
    const TITLE: &'static str;
    /// What it holds.
    const DESCRIPTION: &'static str;
    /// Its media type.
    const MIME_TYPE: &'static str;

    /// Reads it.
    fn read(context: &ToolContext) -> Result<Contents, ToolError>;
}

/// A family of resources named by a URI template.
pub trait ResourceTemplate {
    /// The template (`code-tools://languages/{language}`).
    const URI_TEMPLATE: &'static str;
    /// A short name.
    const NAME: &'static str;
    /// A human title.
    const TITLE: &'static str;
    /// What its resources hold.
    const DESCRIPTION: &'static str;
    /// Their media type.
    const MIME_TYPE: &'static str;
    /// Values a client may offer for each parameter while it is typed.
    const COMPLETIONS: &'static [(&'static str, &'static [&'static str])] = &[];

    /// Reads the resource `uri`, whose parameters are `parameters`; `None`
    /// when those parameters name nothing.
    fn read(
        uri: &str,
        parameters: &BTreeMap<String, String>,
        context: &ToolContext,
    ) -> Result<Option<Contents>, ToolError>;
}

/// The MCP `Resource` object for `R`.
pub fn descriptor<R: Resource>() -> Value {
    json!({
        "uri": R::URI,
        "name": R::NAME,
        "title": R::TITLE,
        "description": R::DESCRIPTION,
        "mimeType": R::MIME_TYPE,
    })
}

/// The MCP `ResourceTemplate` object for `T`.
pub fn template_descriptor<T: ResourceTemplate>() -> Value {
    json!({
        "uriTemplate": T::URI_TEMPLATE,
        "name": T::NAME,
        "title": T::TITLE,
        "description": T::DESCRIPTION,
        "mimeType": T::MIME_TYPE,
    })
}

/// The completions `T`'s parameters declare.
pub fn template_completions<T: ResourceTemplate>() -> impl Iterator<Item = Completion> {
    T::COMPLETIONS.iter().map(|(parameter, values)| Completion {
        reference: CompletionRef::Resource {
            uri: T::URI_TEMPLATE.to_owned(),
        },
        argument: (*parameter).to_owned(),
        values: values.iter().map(|value| (*value).to_owned()).collect(),
    })
}

/// Reads `R`.
pub fn read<R: Resource>(context: &ToolContext) -> ResourceOutcome {
    match R::read(context) {
        Ok(contents) => ResourceOutcome::Read {
            contents: vec![contents.to_json(R::URI, R::MIME_TYPE)],
        },
        Err(error) => ResourceOutcome::Failed {
            message: error.message().to_owned(),
        },
    }
}

/// Reads `uri` through `T` if its template matches; `None` when it does not.
pub fn read_template<T: ResourceTemplate>(
    uri: &str,
    context: &ToolContext,
) -> Option<ResourceOutcome> {
    let template = UriTemplate::parse(T::URI_TEMPLATE).ok()?;
    let parameters = template.matches(uri)?;
    Some(match T::read(uri, &parameters, context) {
        Ok(Some(contents)) => ResourceOutcome::Read {
            contents: vec![contents.to_json(uri, T::MIME_TYPE)],
        },
        Ok(None) => ResourceOutcome::NotFound {
            message: format!("no {} has the URI `{uri}`", T::NAME),
        },
        Err(error) => ResourceOutcome::Failed {
            message: error.message().to_owned(),
        },
    })
}
