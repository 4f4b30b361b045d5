//! Finds, loads, checks and calls tool plugins.
//!
//! [`PluginHost::load`] opens the dynamic libraries in a directory (only
//! those an allow-list names, when there is one; a pinned one is read once,
//! checked against its SHA-256 pin and opened from the bytes that were
//! checked, never from its path again), checks each one's ABI
//! version before touching anything else, reads its tool descriptors and
//! compiles their input and output schemas. [`PluginHost::call`] validates
//! arguments, runs the plugin on the host's own pool of blocking threads
//! (see `pool`) under the tool's time limit so a slow tool never stalls the
//! async runtime, then checks the structured output against the tool's
//! output schema. During a call the plugin may log into the server's log and
//! call other tools, report progress, log to the client and learn of a
//! cancellation through the [`CallHooks`] the server supplies.
//!
//! Libraries are never unloaded: a plugin's code may still be referenced by
//! its own threads or thread-locals, and unloading buys nothing for a server
//! that loads its plugins once.
//!
//! This crate knows nothing of HTTP, tokens or policies: a call carries a
//! plain [`CallContext`], and the caller has already decided it is allowed.

mod callbacks;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod items;
mod library;
mod metrics;
mod pinned;
mod pool;
mod slots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use callbacks::{CallHooks, MAX_PROGRESS_REPORTS};
pub use error::{Busy, CallError, LoadError, UnknownTool};
pub use items::{Completed, MAX_COMPLETION_VALUES, PromptEntry, ResourceEntry};
pub use library::release_code_pages;
pub use metrics::{TIMEOUTS_METRIC, enable_metrics};
pub use plugin_api::host::{NestedOutcome, RefusalReason};
pub use plugin_api::{
    CallContext, InputKind, InputRequest, InputRequests, LogLevel, PrincipalKind, Progress,
    ToolResult,
};
pub use plugin_api::{CompletionRef, PromptOutcome, ResourceOutcome};
use serde_json::{Map, Value};
pub use slots::CallLoad;

use callbacks::{CallScope, SharedHooks};
use library::{Entry, PluginLibrary};
use pinned::Pinned;
use pool::Pool;
use slots::Slots;

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

/// Which plugins to load and how long their tools may run.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Only the plugins with these names are loaded; empty loads every
    /// plugin in the directory.
    pub allow: Vec<String>,
    /// SHA-256 digests (hex) of plugin libraries, by plugin name. A pinned
    /// library is read once and refused if the bytes read differ; otherwise
    /// those same bytes are loaded, so swapping the file after the check
    /// changes nothing.
    pub sha256: BTreeMap<String, String>,
    /// How long a call may run, for tools without their own limit.
    pub timeout: Duration,
    /// Time limits for particular tools, by tool name.
    pub tool_timeouts: BTreeMap<String, Duration>,
    /// The largest arguments a call may carry, as compact JSON.
    pub max_input_bytes: usize,
    /// How many calls may run at once, at each depth of nesting (a
    /// client's calls, the calls their tools make, and so on).
    pub max_concurrency: usize,
    /// How long a call waits for a slot before it is refused as busy.
    pub slot_wait: Duration,
}

/// The default bound on calls running at once: four per core, so that
/// calls that wait (on I/O, on nested calls) leave room for others, while
/// a burst cannot start threads without end.
pub fn default_max_concurrency() -> usize {
    std::thread::available_parallelism().map_or(4, |cores| cores.get() * 4)
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            sha256: BTreeMap::new(),
            timeout: Duration::from_secs(30),
            tool_timeouts: BTreeMap::new(),
            max_input_bytes: 1024 * 1024,
            max_concurrency: default_max_concurrency(),
            slot_wait: Duration::from_secs(1),
        }
    }
}

/// One tool as the host knows it.
pub struct Tool {
    name: String,
    descriptor: Value,
    /// The plugin's name, shared by its tools.
    plugin: Arc<str>,
    input_validator: jsonschema::Validator,
    /// Present when the tool declares an `outputSchema`.
    output_validator: Option<jsonschema::Validator>,
    timeout: Duration,
    library: Arc<PluginLibrary>,
    /// Whether its calls run on the caller's thread.
    quick: Quick,
}

/// Whether a tool's calls run on the caller's thread: declared quick
/// (`plugin_api::Tool::QUICK`) and not yet caught being slow.
struct Quick {
    on: AtomicBool,
    /// How many calls in a row took longer than [`QUICK_LIMIT`].
    slow_calls: AtomicU32,
}

/// How long a quick tool's call should take at most: far past what such a
/// tool takes.
const QUICK_LIMIT: Duration = Duration::from_millis(1);
/// How many calls in a row past [`QUICK_LIMIT`] show a quick tool is not:
/// one such call may only have had its thread taken away by the scheduler
/// on a busy machine, several in a row do not.
const SLOW_CALLS: u32 = 5;
/// A quick call this long shows the tool is not quick at once: the
/// scheduler does not keep a thread off a core this long without cause.
const QUICK_STRIKE: Duration = Duration::from_millis(100);

/// Takes the quick mark out of a tool's descriptor (clients never see it):
/// whether it was there.
fn take_quick_mark(descriptor: &mut Value) -> bool {
    let Some(Value::Object(meta)) = descriptor.get_mut("_meta") else {
        return false;
    };
    let quick = meta.remove(plugin_api::QUICK_META_KEY) == Some(Value::Bool(true));
    if meta.is_empty()
        && let Value::Object(descriptor) = descriptor
    {
        descriptor.remove("_meta");
    }
    quick
}

impl Quick {
    fn new(on: bool) -> Self {
        Self {
            on: AtomicBool::new(on),
            slow_calls: AtomicU32::new(0),
        }
    }

    fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Counts a call run on the caller's thread that took `took`; after
    /// [`SLOW_CALLS`] in a row past [`QUICK_LIMIT`], or one past
    /// [`QUICK_STRIKE`], the tool's later calls go to plugin threads.
    /// Whether this call did that.
    fn after_call(&self, took: Duration) -> bool {
        let demote = if took > QUICK_STRIKE {
            true
        } else if took > QUICK_LIMIT {
            self.slow_calls.fetch_add(1, Ordering::Relaxed) + 1 >= SLOW_CALLS
        } else {
            self.slow_calls.store(0, Ordering::Relaxed);
            false
        };
        demote && self.on.swap(false, Ordering::Relaxed)
    }
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
    tools: BTreeMap<String, Arc<Tool>>,
    pool: Pool,
    slots: Slots,
    slot_wait: Duration,
    max_input_bytes: usize,
    items: items::Items,
}

impl PluginHost {
    /// Loads every plugin library in `dir` (not recursive), with the
    /// default options.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        Self::load(dir, &LoadOptions::default())
    }

    /// Loads the plugin libraries in `dir` (not recursive) as `options` say.
    ///
    /// A library is a file named with the platform's dynamic-library prefix
    /// and extension (`lib*.so` on Linux); plugin `code-tools` lives in
    /// `libcode_tools.so`. Any such file that is not a valid plugin stops the
    /// load with an error naming the file: a server that silently skipped a
    /// broken plugin would serve less than its operator configured.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Self, LoadError> {
        check_options(options)?;
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
        let named = |name: &str| dir.join(library_file_name(name));
        if !options.allow.is_empty() {
            for name in &options.allow {
                if !files.contains(&named(name)) {
                    return Err(not_found(name, "plugins.allow", dir));
                }
            }
            files.retain(|file| options.allow.iter().any(|name| &named(name) == file));
        }
        for name in options.sha256.keys() {
            if !files.contains(&named(name)) {
                return Err(not_found(name, "plugins.sha256", dir));
            }
        }
        let mut host = Self {
            plugins: Vec::new(),
            tools: BTreeMap::new(),
            pool: Pool::default(),
            slots: Slots::new(options.max_concurrency),
            slot_wait: options.slot_wait,
            max_input_bytes: options.max_input_bytes,
            items: items::Items::new(options.timeout),
        };
        for file in &files {
            // A pinned or allowed library is known by the plugin name its file
            // is named for, and must describe itself by that name.
            let expected = options
                .allow
                .iter()
                .chain(options.sha256.keys())
                .find(|name| &named(name) == file);
            // A pinned library is loaded from the bytes its pin was checked
            // on, never from its path again (see `pinned.rs`).
            let pinned = expected
                .and_then(|name| options.sha256.get(name))
                .map(|pin| Pinned::read(file, pin))
                .transpose()?;
            let from = pinned.as_ref().map_or(file.as_path(), Pinned::path);
            host.load_one(file, from, expected.map(String::as_str), options)?;
        }
        for tool in options.tool_timeouts.keys() {
            if !host.tools.contains_key(tool) {
                return Err(LoadError::BadSetting {
                    setting: "plugins.tool_timeouts",
                    reason: format!(
                        "`{tool}` is not a tool any loaded plugin provides; the tools are: {}",
                        host.tools.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        Ok(host)
    }

    fn load_one(
        &mut self,
        file: &Path,
        from: &Path,
        expected_name: Option<&str>,
        options: &LoadOptions,
    ) -> Result<(), LoadError> {
        let library = Arc::new(PluginLibrary::open(file, from)?);
        let descriptor = library.describe()?;
        if let Some(expected) = expected_name
            && descriptor.name != expected
        {
            return Err(LoadError::bad_descriptor(
                file,
                format!(
                    "the file is named for plugin `{expected}`, but the plugin calls itself `{}`",
                    descriptor.name
                ),
            ));
        }
        if self.plugins.iter().any(|p| p.name == descriptor.name) {
            return Err(LoadError::bad_descriptor(
                file,
                format!("another plugin is already named `{}`", descriptor.name),
            ));
        }
        let mut tool_names = Vec::with_capacity(descriptor.tools.len());
        let plugin_name: Arc<str> = Arc::from(descriptor.name.as_str());
        self.items.add(file, &descriptor, &plugin_name, &library)?;
        for mut tool in descriptor.tools {
            let quick = take_quick_mark(&mut tool);
            let (name, input_validator, output_validator) = check_tool_descriptor(file, &tool)?;
            if let Some(existing) = self.tools.get(&name) {
                return Err(LoadError::DuplicateTool {
                    tool: name,
                    file: file.to_owned(),
                    other_plugin: existing.plugin.to_string(),
                });
            }
            tool_names.push(name.clone());
            let timeout = options
                .tool_timeouts
                .get(&name)
                .copied()
                .unwrap_or(options.timeout);
            self.tools.insert(
                name.clone(),
                Arc::new(Tool {
                    name,
                    timeout,
                    descriptor: tool,
                    plugin: Arc::clone(&plugin_name),
                    input_validator,
                    output_validator,
                    library: Arc::clone(&library),
                    quick: Quick::new(quick),
                }),
            );
        }
        tracing::info!(
            plugin = %descriptor.name,
            version = %descriptor.version,
            file = %file.display(),
            tools = ?tool_names,
            abi = library.abi_version(),
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

    /// The calls running now, and how many of them were abandoned by their
    /// callers (past their time limit) and still hold a slot.
    pub fn load_now(&self) -> CallLoad {
        self.slots.load()
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> &[PluginInfo] {
        &self.plugins
    }

    /// Every tool, ordered by name.
    pub fn tools(&self) -> impl Iterator<Item = (&str, &Tool)> {
        self.tools
            .iter()
            .map(|(name, tool)| (name.as_str(), tool.as_ref()))
    }

    /// The tool named `name`, if a plugin provides it.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.get(name).map(Arc::as_ref)
    }

    /// Runs tool `name` with `arguments` for the caller in `context`.
    ///
    /// `hooks` make the tool calls the plugin asks for during the call (on
    /// behalf of the same caller) and take its progress, its messages for
    /// the client and the client's cancellation; without them, such calls
    /// are refused and the rest goes nowhere.
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
        hooks: Option<Arc<dyn CallHooks>>,
        depth: usize,
    ) -> Result<ToolResult, CallError> {
        let tool = self.tools.get(name).ok_or_else(|| UnknownTool {
            name: name.to_owned(),
        })?;
        let size = json_size(&arguments);
        if size > self.max_input_bytes {
            return Ok(ToolResult::error(format!(
                "the arguments for `{name}` are {size} bytes; the server accepts at most {} \
                 (plugins.max_input_bytes): send less at a time, or ask the operator to raise \
                 PLUGIN_MAX_INPUT_BYTES",
                self.max_input_bytes
            )));
        }
        if let Some(message) = argument_errors(name, &tool.input_validator, &arguments) {
            return Ok(ToolResult::error(message));
        }
        let empty = Value::Object(Map::new());
        let arguments = if arguments.is_object() {
            &arguments
        } else {
            &empty
        };
        // Everything the plugin thread touches is made here and comes back
        // here to be read and freed: memory written on one core and freed on
        // another costs more than the encoding itself.
        let mut request = Vec::with_capacity(REQUEST_CAPACITY + size);
        if let Err(err) =
            plugin_api::write_call_request(&mut request, name, arguments, Some(&context))
        {
            tracing::error!(plugin = %tool.plugin, tool = %name, %err, "could not encode a plugin call");
            return Ok(ToolResult::error(format!(
                "tool `{name}` could not be called: its arguments could not be encoded"
            )));
        }
        let plugin = &tool.plugin;
        let request_id = context.request_id.clone();
        let outcome = self
            .run(
                Job {
                    library: Arc::clone(&tool.library),
                    entry: Entry::Invoke,
                    plugin: Arc::clone(&tool.plugin),
                    item: tool.name.clone(),
                    request,
                    context,
                    hooks,
                },
                tool.timeout,
                depth,
                Some(tool),
            )
            .await?;
        let answered = match outcome {
            RunOutcome::Answered(answered) => answered,
            RunOutcome::TimedOut => {
                metrics::timed_out(name, plugin);
                return Ok(ToolResult::error(format!(
                    "tool `{name}` did not finish within its time limit of {}; try again with \
                     smaller input, or ask the operator to raise plugins.tool_timeouts.{name}",
                    describe_duration(tool.timeout)
                )));
            }
            RunOutcome::Aborted => {
                return Ok(failed_call(name, &request_id));
            }
        };
        // The details of a plugin failure (panic messages, internal errors)
        // go to the log, not to the caller.
        let failed = || failed_call(name, &request_id);
        let answer = answered
            .status
            .and_then(|status| library::read_result(status, &answered.job.answer));
        let result = match answer {
            Ok(result) => result,
            Err(failure) => {
                tracing::error!(%plugin, tool = %name, %failure, "plugin call failed");
                return Ok(failed());
            }
        };
        // A tool that asks for input has no output yet to check.
        if result.input_requests.is_none()
            && let Some(problem) = output_problem(tool, &result)
        {
            tracing::error!(%plugin, tool = %name, %problem, "plugin output breaks its schema");
            return Ok(ToolResult::error(format!(
                "tool `{name}` returned output that does not match its output schema \
                 ({problem}); this is a fault in the plugin, not in the call"
            )));
        }
        Ok(result)
    }
}

/// Room for the request beside its arguments: the tool's name and the
/// caller's context.
const REQUEST_CAPACITY: usize = 512;

/// Room for most answers, so the buffer rarely grows while a plugin writes.
const ANSWER_CAPACITY: usize = 1024;

/// What a tool call that failed inside its plugin answers; the details are
/// in the log.
fn failed_call(name: &str, request_id: &str) -> ToolResult {
    ToolResult::error(format!(
        "tool `{name}` failed inside its plugin; the server log has the details \
         under request id {request_id}"
    ))
}

/// One call into a plugin: which of its functions, with what request, for
/// whom.
struct Job {
    library: Arc<PluginLibrary>,
    entry: Entry,
    plugin: Arc<str>,
    /// The tool, resource or prompt, for the log.
    item: String,
    /// The encoded request.
    request: Vec<u8>,
    context: CallContext,
    hooks: Option<Arc<dyn CallHooks>>,
}

/// How a [`Job`] ended.
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per call; boxing the answer would allocate on every call"
)]
enum RunOutcome {
    /// The plugin answered.
    Answered(Answered),
    /// It ran past its time limit; its slot stays taken until it returns.
    TimedOut,
    /// The thread running it was lost.
    Aborted,
}

impl PluginHost {
    /// Runs `job` once a slot at `depth` is free: on the plugin pool under
    /// `timeout` or, when it calls a `tool` still quick, on this thread.
    async fn run(
        &self,
        job: Job,
        timeout: Duration,
        depth: usize,
        tool: Option<&Tool>,
    ) -> Result<RunOutcome, Busy> {
        let Some(slot) = self.slots.take(depth, self.slot_wait).await else {
            tracing::warn!(plugin = %job.plugin, item = %job.item, depth, limit = self.slots.load().limit, "no plugin call slot came free");
            return Err(Busy {
                limit: self.slots.load().limit,
                retry_after: self.slot_wait,
            });
        };
        let abandon = slot.watch();
        let (plugin, item) = (Arc::clone(&job.plugin), job.item.clone());
        let job = PluginJob {
            answer: Vec::with_capacity(ANSWER_CAPACITY),
            // The runtime is needed only to make nested calls, and taking a
            // handle to it touches memory every runtime thread shares.
            hooks: job.hooks.clone().map(|hooks| Hooks {
                hooks,
                runtime: tokio::runtime::Handle::current(),
            }),
            job,
            _slot: slot,
        };
        if let Some(tool) = tool.filter(|tool| tool.quick.is_on()) {
            let started = Instant::now();
            let answered = job.run_here();
            let took = started.elapsed();
            if tool.quick.after_call(took) {
                tracing::warn!(
                    %plugin,
                    tool = %item,
                    took_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
                    "a tool declared quick is slow (5 calls in a row over 1 ms, or one over 100 ms); its calls go to plugin threads from now on"
                );
            }
            abandon.answered();
            return Ok(RunOutcome::Answered(answered));
        }
        let Ok(outcome) = self
            .pool
            .run(timeout, move |abandoned| job.run(abandoned))
            .await
        else {
            abandon.abandon();
            tracing::error!(
                %plugin,
                %item,
                limit_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                "plugin call timed out"
            );
            return Ok(RunOutcome::TimedOut);
        };
        abandon.answered();
        Ok(match outcome {
            Ok(answered) => RunOutcome::Answered(answered),
            Err(_) => {
                tracing::error!(%plugin, %item, "plugin call aborted");
                RunOutcome::Aborted
            }
        })
    }
}

/// Everything one plugin call needs on its thread. The job travels there
/// and back whole, so that what the caller allocated is freed by the caller.
struct PluginJob {
    job: Job,
    /// Where the plugin writes its answer.
    answer: Vec<u8>,
    hooks: Option<Hooks>,
    /// Held for as long as the plugin runs: dropped with the job, on the
    /// caller's side once answered, on the plugin's thread when abandoned.
    _slot: slots::Slot,
}

/// The call's hooks, and the runtime nested calls run on.
struct Hooks {
    hooks: SharedHooks,
    runtime: tokio::runtime::Handle,
}

/// A job back from its thread, with how the plugin call went.
struct Answered {
    job: PluginJob,
    status: Result<plugin_api::Status, library::PluginFailure>,
}

impl PluginJob {
    /// Makes the call unless `abandoned` says its caller has stopped
    /// waiting (timed out, or dropped with its request); the plugin's nested
    /// tool calls ask it again.
    fn run(self, abandoned: &dyn Fn() -> bool) -> Answered {
        self.call(abandoned, true)
    }

    /// Makes a quick tool's call on this thread, which may be one of the
    /// async runtime's: the caller is waiting right here, and the tool may
    /// not call other tools (that would block the runtime on itself).
    fn run_here(self) -> Answered {
        self.call(&|| false, false)
    }

    fn call(mut self, abandoned: &dyn Fn() -> bool, may_call_tools: bool) -> Answered {
        if abandoned() {
            return Answered {
                job: self,
                status: Err(library::PluginFailure::Reported(
                    "the caller stopped waiting before the call started".to_owned(),
                )),
            };
        }
        let scope = CallScope {
            plugin: &self.job.plugin,
            tool: &self.job.item,
            request_id: &self.job.context.request_id,
            hooks: self
                .hooks
                .as_ref()
                .map(|hooks| (&*hooks.hooks, &hooks.runtime)),
            may_call_tools,
            abandoned,
            progress: std::sync::Mutex::default(),
        };
        let status = self.job.library.call(
            self.job.entry,
            &self.job.request,
            &mut self.answer,
            &scope.api(),
        );
        Answered { job: self, status }
    }
}

/// What is wrong with a successful result's structured content, if the
/// tool declares an output schema.
fn output_problem(tool: &Tool, result: &ToolResult) -> Option<String> {
    let validator = tool.output_validator.as_ref()?;
    if result.is_error {
        return None;
    }
    let Some(structured) = &result.structured_content else {
        return Some("it declares an outputSchema but returned no structuredContent".to_owned());
    };
    // Checking is much cheaper than collecting what is wrong.
    if validator.is_valid(structured) {
        return None;
    }
    let problems: Vec<String> = schema_problems(validator, structured)
        .take(3)
        .map(|(field, message)| match field {
            Some(field) => format!("`{field}`: {message}"),
            None => message,
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Each way `instance` breaks the schema: the field at fault (`None` for
/// the whole value) and what is wrong.
fn schema_problems<'a>(
    validator: &'a jsonschema::Validator,
    instance: &'a Value,
) -> impl Iterator<Item = (Option<String>, String)> + 'a {
    validator.iter_errors(instance).map(|error| {
        let path = error.instance_path().to_string();
        let field = (!path.is_empty()).then(|| path.trim_start_matches('/').to_owned());
        (field, error.to_string())
    })
}

/// The length of `value` as compact JSON, counted without building it.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serialises.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn describe_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// The library file of plugin `name`: `libcode_tools.so` for `code-tools`.
pub fn library_file_name(name: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

fn not_found(name: &str, setting: &'static str, dir: &Path) -> LoadError {
    LoadError::NotFound {
        name: name.to_owned(),
        setting,
        dir: dir.to_owned(),
        file_name: library_file_name(name),
    }
}

/// Refuses pins that are not SHA-256 digests and time limits of zero.
fn check_options(options: &LoadOptions) -> Result<(), LoadError> {
    for (name, pin) in &options.sha256 {
        if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(LoadError::BadSetting {
                setting: "plugins.sha256",
                reason: format!(
                    "the pin for `{name}` is not a SHA-256 digest (64 hexadecimal characters); \
                     compute one with `sha256sum {}`",
                    library_file_name(name)
                ),
            });
        }
    }
    let zero = std::iter::once(("plugins.timeout_secs", &options.timeout))
        .chain(
            options
                .tool_timeouts
                .values()
                .map(|limit| ("plugins.tool_timeouts", limit)),
        )
        .find(|(_, limit)| limit.is_zero());
    if let Some((setting, _)) = zero {
        return Err(LoadError::BadSetting {
            setting,
            reason:
                "a time limit of zero would fail every call; give a number of seconds above zero"
                    .to_owned(),
        });
    }
    if options.max_concurrency == 0 {
        return Err(LoadError::BadSetting {
            setting: "plugins.max_concurrency",
            reason: "no plugin call could ever run; give at least 1".to_owned(),
        });
    }
    if options.max_input_bytes < 1024 {
        return Err(LoadError::BadSetting {
            setting: "plugins.max_input_bytes",
            reason: format!(
                "{} bytes is too small for any tool's arguments; give at least 1024",
                options.max_input_bytes
            ),
        });
    }
    Ok(())
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
) -> Result<(String, jsonschema::Validator, Option<jsonschema::Validator>), LoadError> {
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
    let output = match tool.get("outputSchema") {
        None => None,
        Some(schema) if schema.get("type").and_then(Value::as_str) == Some("object") => {
            Some(jsonschema::validator_for(schema).map_err(|err| {
                LoadError::bad_descriptor(
                    file,
                    format!("tool `{name}`: invalid `outputSchema`: {err}"),
                )
            })?)
        }
        Some(_) => {
            return Err(LoadError::bad_descriptor(
                file,
                format!("tool `{name}`: `outputSchema` must be a schema with \"type\": \"object\""),
            ));
        }
    };
    Ok((name.to_owned(), validator, output))
}

/// Describes every way `arguments` break the tool's input schema, or `None`.
fn argument_errors(
    tool: &str,
    validator: &jsonschema::Validator,
    arguments: &Value,
) -> Option<String> {
    let empty = Value::Object(Map::new());
    let instance = match arguments {
        Value::Object(_) => arguments,
        Value::Null => &empty,
        other => {
            return Some(format!(
                "arguments for `{tool}` must be a JSON object, not {}",
                json_kind(other)
            ));
        }
    };
    if validator.is_valid(instance) {
        return None;
    }
    let problems: Vec<String> = schema_problems(validator, instance)
        .map(|(field, message)| match field {
            Some(field) => format!("argument `{field}`: {message}"),
            None => format!("arguments: {message}"),
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
    fn a_quick_tool_goes_to_plugin_threads_after_five_slow_calls_in_a_row_or_one_very_slow() {
        let ms = Duration::from_millis;
        let quick = Quick::new(true);
        // A slow call now and then is the scheduler's doing.
        for took in [ms(2), ms(2), ms(2), ms(2), Duration::from_micros(5)] {
            assert!(!quick.after_call(took));
        }
        for took in [ms(3), ms(2), ms(40), ms(2)] {
            assert!(!quick.after_call(took));
        }
        assert!(quick.is_on());
        assert!(quick.after_call(ms(2)), "the fifth slow call in a row");
        assert!(!quick.is_on());
        assert!(!quick.after_call(ms(200)), "told once");
        let quick = Quick::new(true);
        assert!(quick.after_call(ms(101)));
        assert!(!quick.is_on());
    }

    #[test]
    fn the_quick_mark_is_taken_out_of_the_descriptor() {
        let mut marked = serde_json::json!({
            "name": "ping",
            "_meta": {plugin_api::QUICK_META_KEY: true},
        });
        assert!(take_quick_mark(&mut marked));
        assert_eq!(marked, serde_json::json!({"name": "ping"}));
        let mut other = serde_json::json!({
            "name": "ping",
            "_meta": {plugin_api::QUICK_META_KEY: "yes", "vendor/x": 1},
        });
        assert!(!take_quick_mark(&mut other));
        assert_eq!(
            other,
            serde_json::json!({"name": "ping", "_meta": {"vendor/x": 1}})
        );
        assert!(!take_quick_mark(&mut serde_json::json!({"name": "ping"})));
    }

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

    fn load_error(options: &LoadOptions) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        match PluginHost::load(dir.path(), options) {
            Ok(_) => panic!("loaded"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn a_pin_that_is_not_a_digest_is_refused_naming_the_plugin() {
        let options = LoadOptions {
            sha256: BTreeMap::from([("core-tools".to_owned(), "abc".to_owned())]),
            ..LoadOptions::default()
        };
        let message = load_error(&options);
        assert!(message.starts_with("plugins.sha256"), "{message}");
        assert!(message.contains("`core-tools`"), "{message}");
    }

    #[test]
    fn a_time_limit_of_zero_is_refused() {
        let options = LoadOptions {
            timeout: Duration::ZERO,
            ..LoadOptions::default()
        };
        assert!(load_error(&options).starts_with("plugins.timeout_secs"));
    }

    #[test]
    fn an_allowed_plugin_without_a_library_is_refused() {
        let options = LoadOptions {
            allow: vec!["code-tools".to_owned()],
            ..LoadOptions::default()
        };
        let message = load_error(&options);
        assert!(message.contains("plugin `code-tools`"), "{message}");
        assert!(
            message.contains(&library_file_name("code-tools")),
            "{message}"
        );
    }

    #[test]
    fn a_library_that_differs_from_its_pin_is_refused_before_it_is_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Not a library at all: opening it would fail with another error.
        std::fs::write(dir.path().join(library_file_name("core-tools")), b"bytes").expect("write");
        let options = LoadOptions {
            sha256: BTreeMap::from([("core-tools".to_owned(), "0".repeat(64))]),
            ..LoadOptions::default()
        };
        let Err(err) = PluginHost::load(dir.path(), &options) else {
            panic!("loaded");
        };
        assert!(matches!(err, LoadError::PinMismatch { .. }), "{err}");
    }

    /// The `core-tools` library built beside this test binary: it is a
    /// dev-dependency, so cargo builds its cdylib into the same `deps`.
    fn core_tools_library() -> PathBuf {
        let exe = std::env::current_exe().expect("the test knows where it is");
        exe.parent()
            .expect("the test runs from <target>/<profile>/deps")
            .join(library_file_name("core-tools"))
    }

    #[test]
    fn a_library_that_matches_its_pin_loads_from_the_bytes_that_were_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(library_file_name("core-tools"));
        std::fs::copy(core_tools_library(), &file).expect("copy core-tools");
        let digest = pinned::sha256_hex(&std::fs::read(&file).expect("read"));
        let options = LoadOptions {
            sha256: BTreeMap::from([("core-tools".to_owned(), digest.to_ascii_uppercase())]),
            ..LoadOptions::default()
        };
        let host = PluginHost::load(dir.path(), &options).expect("the pinned library loads");
        let [plugin] = host.plugins() else {
            panic!("one plugin expected: {:?}", host.plugins());
        };
        assert_eq!(plugin.name, "core-tools");
        assert_eq!(plugin.file, file, "reported by the file it was read from");
        assert!(host.tool("ping").is_some());
        // On Linux the loader mapped the sealed memfd, not the file.
        #[cfg(target_os = "linux")]
        {
            let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
            let memfd = format!("/memfd:{}", library_file_name("core-tools"));
            assert!(maps.contains(&memfd), "no {memfd} mapped");
            let path = file.to_string_lossy();
            assert!(
                !maps.lines().any(|line| line.ends_with(path.as_ref())),
                "the plugin file itself was mapped"
            );
        }
    }

    #[test]
    fn the_input_limit_is_refused_when_too_small_to_use() {
        let options = LoadOptions {
            max_input_bytes: 10,
            ..LoadOptions::default()
        };
        assert!(load_error(&options).starts_with("plugins.max_input_bytes"));
    }

    #[test]
    fn json_size_is_the_compact_length() {
        let value = serde_json::json!({"code": "fn main() {}\n", "n": [1, 2]});
        assert_eq!(json_size(&value), value.to_string().len());
    }

    #[test]
    fn argument_errors_name_the_field() {
        let validator = jsonschema::validator_for(&serde_json::json!({
            "type": "object",
            "properties": {"message": {"type": "string"}}
        }))
        .expect("schema");
        let args = serde_json::json!({"message": 5});
        let message = argument_errors("ping", &validator, &args).expect("an error");
        assert!(message.contains("argument `message`"), "{message}");
        assert!(message.contains("string"), "{message}");
    }
}
