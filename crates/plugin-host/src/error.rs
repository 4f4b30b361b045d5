//! Errors a plugin host reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the plugins could not be loaded. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The plugin directory could not be read.
    #[error("cannot read plugin directory {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file could not be opened as a dynamic library.
    #[error("plugin {}: not a loadable library: {reason}", file.display())]
    NotALibrary {
        /// The file.
        file: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// The library does not export the plugin entry point.
    #[error(
        "plugin {}: missing the `{symbol}` symbol; is it built with `plugin_api::export_plugin!`?",
        file.display()
    )]
    MissingSymbol {
        /// The file.
        file: PathBuf,
        /// The symbol that was looked for.
        symbol: String,
    },
    /// The library was built against an ABI version this host does not
    /// load.
    #[error(
        "plugin {}: ABI version {found}, but this server loads ABI versions {oldest} to {expected}; rebuild the plugin against this server's plugin-api (`cargo build --release` in the plugin's crate, with plugin-api at the server's version)",
        file.display()
    )]
    AbiMismatch {
        /// The file.
        file: PathBuf,
        /// The version the plugin declared.
        found: u32,
        /// The oldest version this host loads.
        oldest: u32,
        /// The version this host speaks.
        expected: u32,
    },
    /// The plugin's descriptor is unusable.
    #[error("plugin {}: invalid descriptor: {reason}", file.display())]
    BadDescriptor {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Two plugins declare a tool with the same name.
    #[error(
        "plugin {}: tool `{tool}` is already provided by plugin `{other_plugin}`; tool names must be unique",
        file.display()
    )]
    DuplicateTool {
        /// The tool name.
        tool: String,
        /// The file of the second plugin.
        file: PathBuf,
        /// The plugin that claimed the name first.
        other_plugin: String,
    },
    /// A plugin named in the allow-list or the pins has no library in the
    /// directory.
    #[error(
        "plugin `{name}` is named in {setting}, but {} has no {file_name}; build it into the plugin directory or remove it from {setting}",
        dir.display()
    )]
    NotFound {
        /// The plugin name.
        name: String,
        /// The setting that names it (`plugins.allow` or `plugins.sha256`).
        setting: &'static str,
        /// The plugin directory.
        dir: PathBuf,
        /// The library file that was looked for.
        file_name: String,
    },
    /// A library's SHA-256 differs from its pin.
    #[error(
        "plugin {}: SHA-256 is {actual}, but plugins.sha256 pins {expected}; the library changed since it was pinned, so it was not loaded",
        file.display()
    )]
    PinMismatch {
        /// The file.
        file: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// A pinned library's checked bytes could not be set aside for the
    /// loader (see `plugins.sha256`).
    #[error(
        "plugin {}: its pin matched, but its bytes could not be set aside for loading: {reason}; set TMPDIR to a directory this user may write and load libraries from",
        file.display()
    )]
    Staging {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A setting about plugins is unusable.
    #[error("{setting}: {reason}")]
    BadSetting {
        /// The setting (`plugins.sha256`, `plugins.tool_timeouts`).
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl LoadError {
    pub(crate) fn bad_descriptor(file: &Path, reason: impl Into<String>) -> Self {
        Self::BadDescriptor {
            file: file.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Why a call did not run.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No loaded plugin provides the tool.
    #[error(transparent)]
    UnknownTool(#[from] UnknownTool),
    /// Every slot for calls at its depth stayed taken.
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// Every slot for plugin calls at the call's depth stayed taken for as
/// long as the call could wait.
#[derive(Debug, thiserror::Error)]
#[error(
    "the server is busy: {limit} plugin calls are already running (PLUGIN_MAX_CONCURRENCY); \
     retry in {} s",
    retry_after.as_secs().max(1)
)]
pub struct Busy {
    /// How many calls may run at once at each depth.
    pub limit: usize,
    /// How long a caller should wait before it tries again.
    pub retry_after: Duration,
}

/// A call named a tool that no loaded plugin provides.
#[derive(Debug, thiserror::Error)]
#[error("unknown tool `{name}`")]
pub struct UnknownTool {
    /// The name that was asked for.
    pub name: String,
}
