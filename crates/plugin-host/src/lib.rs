//! Finds, loads, checks and calls tool plugins.
//!
//! [`PluginHost::load_dir`] opens every dynamic library in a directory, checks
//! its ABI version before touching anything else, reads its tool descriptors
//! and compiles their input schemas. [`PluginHost::call`] validates arguments,
//! then runs the plugin on tokio's blocking pool so a slow tool never stalls
//! the async runtime.
//!
//! Libraries are never unloaded: a plugin's code may still be referenced by
//! its own threads or thread-locals, and unloading buys nothing for a server
//! that loads its plugins once.
//!
//! This crate knows nothing of HTTP, tokens or policies: a call carries a
//! plain [`CallContext`], and the caller has already decided it is allowed.

#![allow(unsafe_code)] // Loading and calling plugins is the host side of the FFI boundary.

mod error;
mod library;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{LoadError, UnknownTool};
pub use plugin_api::{CallContext, PrincipalKind, ToolResult};
use serde_json::{Map, Value};

use library::PluginLibrary;

/// What `/health` and logs say about one loaded plugin.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PluginInfo {
    /// The plugin's own name.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The library file it was loaded from.
    pub file: PathBuf,
    /// The tools it provides, in declaration order.
    pub tools: Vec<String>,
}

/// One tool as the host knows it.
pub struct Tool {
    descriptor: Value,
    plugin: String,
    input_validator: jsonschema::Validator,
    library: Arc<PluginLibrary>,
}

impl Tool {
    /// The MCP `Tool` object the plugin declared (name, title, description,
    /// schemas, annotations).
    pub fn descriptor(&self) -> &Value {
        &self.descriptor
    }

    /// The name of the plugin that provides this tool.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }
}

/// Every loaded plugin and the tools they provide.
pub struct PluginHost {
    plugins: Vec<PluginInfo>,
    tools: BTreeMap<String, Tool>,
}

impl PluginHost {
    /// Loads every plugin library in `dir` (not recursive).
    ///
    /// A library is a file named with the platform's dynamic-library prefix
    /// and extension (`lib*.so` on Linux). Any such file that is not a valid
    /// plugin stops the load with an error naming the file: a server that
    /// silently skipped a broken plugin would serve less than its operator
    /// configured.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        let entries = std::fs::read_dir(dir).map_err(|source| LoadError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| is_plugin_file(path))
            .collect();
        files.sort();
        Self::load_files(&files)
    }

    /// Loads the given plugin libraries, in order.
    pub fn load_files(files: &[PathBuf]) -> Result<Self, LoadError> {
        let mut host = Self {
            plugins: Vec::new(),
            tools: BTreeMap::new(),
        };
        for file in files {
            host.load_one(file)?;
        }
        Ok(host)
    }

    fn load_one(&mut self, file: &Path) -> Result<(), LoadError> {
        let library = Arc::new(PluginLibrary::open(file)?);
        let descriptor = library.describe()?;
        if self.plugins.iter().any(|p| p.name == descriptor.name) {
            return Err(LoadError::bad_descriptor(
                file,
                format!("another plugin is already named `{}`", descriptor.name),
            ));
        }
        let mut tool_names = Vec::with_capacity(descriptor.tools.len());
        for tool in descriptor.tools {
            let (name, input_validator) = check_tool_descriptor(file, &tool)?;
            if let Some(existing) = self.tools.get(&name) {
                return Err(LoadError::DuplicateTool {
                    tool: name,
                    file: file.to_owned(),
                    other_plugin: existing.plugin.clone(),
                });
            }
            tool_names.push(name.clone());
            self.tools.insert(
                name,
                Tool {
                    descriptor: tool,
                    plugin: descriptor.name.clone(),
                    input_validator,
                    library: Arc::clone(&library),
                },
            );
        }
        tracing::info!(
            plugin = %descriptor.name,
            version = %descriptor.version,
            file = %file.display(),
            tools = ?tool_names,
            "plugin loaded"
        );
        self.plugins.push(PluginInfo {
            name: descriptor.name,
            version: descriptor.version,
            file: file.to_owned(),
            tools: tool_names,
        });
        Ok(())
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> &[PluginInfo] {
        &self.plugins
    }

    /// Every tool, ordered by name.
    pub fn tools(&self) -> impl Iterator<Item = (&str, &Tool)> {
        self.tools.iter().map(|(name, tool)| (name.as_str(), tool))
    }

    /// The tool named `name`, if a plugin provides it.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.get(name)
    }

    /// Runs tool `name` with `arguments` for the caller in `context`.
    ///
    /// Only an unknown tool is an `Err`. Everything that goes wrong with a
    /// known tool (arguments that do not match its schema, a plugin error or
    /// panic) is an `Ok` [`ToolResult`] with `is_error` set and a message
    /// that names the problem, because that is how MCP reports tool failures.
    pub async fn call(
        &self,
        name: &str,
        arguments: Value,
        context: CallContext,
    ) -> Result<ToolResult, UnknownTool> {
        let tool = self.tools.get(name).ok_or_else(|| UnknownTool {
            name: name.to_owned(),
        })?;
        let arguments = match arguments {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Ok(ToolResult::error(format!(
                    "arguments for `{name}` must be a JSON object, not {}",
                    json_kind(&other)
                )));
            }
        };
        if let Some(message) = argument_errors(name, &tool.input_validator, &arguments) {
            return Ok(ToolResult::error(message));
        }
        let request_id = context.request_id.clone();
        let request = plugin_api::CallRequest {
            tool: name.to_owned(),
            arguments,
            context: Some(context),
        };
        let library = Arc::clone(&tool.library);
        let plugin = tool.plugin.clone();
        let tool_name = name.to_owned();
        let outcome = tokio::task::spawn_blocking(move || library.invoke(&request)).await;
        // The details of a plugin failure (panic messages, internal errors)
        // go to the log, not to the caller.
        let failed = || {
            ToolResult::error(format!(
                "tool `{tool_name}` failed inside its plugin; the server log has the details \
                 under request id {request_id}"
            ))
        };
        Ok(match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(failure)) => {
                tracing::error!(%plugin, tool = %tool_name, %failure, "plugin call failed");
                failed()
            }
            Err(join_error) => {
                tracing::error!(%plugin, tool = %tool_name, %join_error, "plugin call aborted");
                failed()
            }
        })
    }
}

/// True for files named like a dynamic library on this platform.
fn is_plugin_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    path.is_file()
        && name.starts_with(std::env::consts::DLL_PREFIX)
        && path.extension().and_then(|e| e.to_str()) == Some(std::env::consts::DLL_EXTENSION)
}

/// Checks one MCP tool object from a descriptor and compiles its input schema.
fn check_tool_descriptor(
    file: &Path,
    tool: &Value,
) -> Result<(String, jsonschema::Validator), LoadError> {
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| LoadError::bad_descriptor(file, "a tool has no `name` string"))?;
    let schema = tool.get("inputSchema").ok_or_else(|| {
        LoadError::bad_descriptor(file, format!("tool `{name}` has no `inputSchema`"))
    })?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(LoadError::bad_descriptor(
            file,
            format!("tool `{name}`: `inputSchema` must be a schema with \"type\": \"object\""),
        ));
    }
    let validator = jsonschema::validator_for(schema).map_err(|err| {
        LoadError::bad_descriptor(file, format!("tool `{name}`: invalid `inputSchema`: {err}"))
    })?;
    Ok((name.to_owned(), validator))
}

/// Describes every way `arguments` break the tool's input schema, or `None`.
fn argument_errors(
    tool: &str,
    validator: &jsonschema::Validator,
    arguments: &Map<String, Value>,
) -> Option<String> {
    let instance = Value::Object(arguments.clone());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                format!("arguments: {error}")
            } else {
                format!("argument `{}`: {error}", path.trim_start_matches('/'))
            }
        })
        .collect();
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "invalid arguments for `{tool}`: {}",
            problems.join("; ")
        ))
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_names_the_directory() {
        let Err(err) = PluginHost::load_dir(Path::new("/nonexistent/plugins")) else {
            panic!("loading a missing directory succeeded");
        };
        assert!(err.to_string().contains("/nonexistent/plugins"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(format!(
            "{}garbage.{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_EXTENSION
        ));
        std::fs::write(&file, b"this is not a shared library").expect("write");
        let Err(err) = PluginHost::load_dir(dir.path()) else {
            panic!("a garbage file loaded as a plugin");
        };
        let message = err.to_string();
        assert!(message.contains("garbage"), "{message}");
        assert!(message.contains("not a loadable library"), "{message}");
    }

    #[test]
    fn unrelated_files_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("README.md"), b"notes").expect("write");
        let host = PluginHost::load_dir(dir.path()).expect("empty directory loads");
        assert!(host.plugins().is_empty());
    }

    #[test]
    fn argument_errors_name_the_field() {
        let validator = jsonschema::validator_for(&serde_json::json!({
            "type": "object",
            "properties": {"message": {"type": "string"}}
        }))
        .expect("schema");
        let mut args = Map::new();
        args.insert("message".into(), Value::from(5));
        let message = argument_errors("ping", &validator, &args).expect("an error");
        assert!(message.contains("argument `message`"), "{message}");
        assert!(message.contains("string"), "{message}");
    }
}
