//! Helpers for the end-to-end tests: a sandbox directory per test and the
//! real `orchestrator-mcp` binary started inside it.
//!
//! Every test gets its own temporary directory holding copies of the plugin
//! libraries and the policies, and its own server on an ephemeral port, so
//! tests can change files and settings without seeing each other.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

pub mod browser;
pub mod descope;
pub mod otlp;
pub mod proxy;
pub mod secrets;

pub use browser::Browser;
pub use descope::FakeDescope;

/// The static demo token from `config/default.toml`.
pub const DEMO_TOKEN: &str = "demo_token_12345";

/// The demo machine's access key (`[[demo_auth.access_keys]]` of the
/// embedded default): client id and secret.
pub const DEMO_MACHINE: (&str, &str) = ("demo-machine", "demo_access_key_12345");

/// How long a server may take to start or to fail.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory cargo builds this profile into (`target/debug`): the test
/// binary runs from `target/debug/deps`.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_owned()
}

/// Builds the server and the plugins, once per test run, with the command
/// `cargo xtask test` builds them with, so a plain `cargo test --workspace`
/// on a fresh clone finds them too. Up to date, it takes a moment.
fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let build_dir = build_dir();
        let target_dir = build_dir.parent().expect("target/<profile> has a parent");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--workspace", "--exclude", "xtask"])
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir)
            .stdout(Stdio::null());
        if build_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(
            status.success(),
            "building the server and plugins for the end-to-end tests failed ({status})"
        );
    });
}

/// The launcher of an installed MCP client (`conformance`, `inspector`),
/// from the directory `cargo xtask test` names in
/// `ORCHESTRATOR_TEST_MCP_CLIENTS` (or `target/mcp-clients/bin`).
pub fn mcp_client(name: &str) -> PathBuf {
    let launcher = std::env::var_os("ORCHESTRATOR_TEST_MCP_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/mcp-clients/bin"))
        .join(name);
    assert!(
        launcher.is_file(),
        "{} is missing: run the tests with `cargo xtask test` (or `cargo xtask install-tools` first), which installs the MCP clients with tests/mcp-clients/install.sh",
        launcher.display()
    );
    launcher
}

/// How many policies the shipped policy files hold (each has one `@id`).
pub fn shipped_policy_count() -> usize {
    std::fs::read_dir(workspace_root().join("policies"))
        .expect("the policies directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cedar"))
        .map(|path| {
            std::fs::read_to_string(&path)
                .expect("a policy file")
                .lines()
                .filter(|line| line.trim_start().starts_with("@id("))
                .count()
        })
        .sum()
}

/// A file built by the workspace, with a clear message when it is missing.
fn built(name: &str) -> PathBuf {
    ensure_built();
    let path = build_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo xtask test`, which builds the server and plugins first",
        path.display()
    );
    path
}

/// The `orchestrator-mcp` binary under test.
pub fn server_binary() -> PathBuf {
    built(&format!("orchestrator-mcp{}", std::env::consts::EXE_SUFFIX))
}

/// The file name cargo gives a cdylib called `crate_name` on this platform.
pub fn library_file_name(crate_name: &str) -> String {
    format!(
        "{}{crate_name}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    )
}

/// The shipped plugin libraries: one per crate under `plugins/`.
pub fn bundled_plugins() -> Vec<PathBuf> {
    let mut crates: Vec<String> = std::fs::read_dir(workspace_root().join("plugins"))
        .expect("the plugins directory")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().replace('-', "_"))
        .collect();
    crates.sort();
    crates
        .iter()
        .map(|name| built(&library_file_name(name)))
        .collect()
}

/// Builds a test-only plugin from `tests/plugins/NAME` into its own target
/// directory (so it never lands beside the real plugins) and returns it.
pub fn test_plugin(name: &str) -> PathBuf {
    static BUILD_LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = BUILD_LOCK
        .get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let manifest = workspace_root()
        .join("tests/plugins")
        .join(name)
        .join("Cargo.toml");
    let target = build_dir().join("test-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo to build a test plugin");
    assert!(status.success(), "building test plugin {name} failed");
    let library = target
        .join("debug")
        .join(library_file_name(&name.replace('-', "_")));
    assert!(library.is_file(), "{} was not built", library.display());
    library
}

/// A temporary directory laid out like a deployment: `plugins/` with the
/// bundled plugins, `policies/` with the repository's policies.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A sandbox with the bundled plugins and the shipped policies.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("orchestrator-e2e-")
            .tempdir()
            .expect("create sandbox");
        let sandbox = Self { dir };
        std::fs::create_dir_all(sandbox.plugin_dir()).expect("plugins dir");
        for plugin in bundled_plugins() {
            sandbox.add_plugin(&plugin);
        }
        copy_dir(&workspace_root().join("policies"), &sandbox.policy_dir());
        sandbox
    }

    /// The sandbox root; the server's working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where the server loads plugins from.
    pub fn plugin_dir(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// Where the server loads policies from.
    pub fn policy_dir(&self) -> PathBuf {
        self.path().join("policies")
    }

    /// Copies a plugin library into the plugin directory.
    pub fn add_plugin(&self, library: &Path) {
        let name = library.file_name().expect("library file name");
        std::fs::copy(library, self.plugin_dir().join(name)).expect("copy plugin");
    }

    /// Writes a configuration file in which the demo token stands for a
    /// principal with the given id and scopes, and returns its path.
    pub fn demo_principal_config(&self, principal_id: &str, scopes: &[&str]) -> PathBuf {
        let scopes: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
        self.write(
            &format!("{principal_id}.toml"),
            format!(
                "[demo]\ntoken = {DEMO_TOKEN:?}\nprincipal_id = {principal_id:?}\nscopes = [{}]\n",
                scopes.join(", ")
            ),
        )
    }

    /// Writes `contents` to `relative` inside the sandbox.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, contents).expect("write sandbox file");
        path
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// How to start a server: environment and arguments on top of the sandbox's.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Launch {
    /// Sets an environment variable for the server.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Passes `--config FILE`.
    pub fn config(self, file: &Path) -> Self {
        self.arg("--config").arg(file.to_string_lossy())
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }
}

/// A running server. Killed when dropped.
pub struct Server {
    child: Child,
    base_url: String,
    logs: Arc<Mutex<String>>,
    /// Reads the server's log until the process ends.
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A server that exited instead of starting.
#[derive(Debug)]
pub struct StartFailure {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stderr.
    pub output: String,
}

impl Server {
    /// Calls tool `name` over MCP (`tools/call`) with `token` and returns
    /// the JSON-RPC response body: `result` for a call that reached the
    /// tool (`result.isError` says whether it failed), `error` otherwise.
    pub fn call_tool(&self, token: &str, name: &str, arguments: Value) -> Value {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        });
        let response = reqwest::blocking::Client::new()
            .post(self.url("/mcp"))
            .bearer_auth(token)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&body)
            .send()
            .unwrap_or_else(|err| panic!("POST /mcp failed: {err}"));
        let status = response.status();
        let text = response.text().unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|err| {
            panic!("POST /mcp answered {status} with a body that is not JSON ({err}): {text}")
        })
    }

    /// A token for the machine of the demo access key `id` with `secret`,
    /// from `POST /auth/token` (client credentials); see [`DEMO_MACHINE`].
    pub fn machine_token(&self, (id, secret): (&str, &str)) -> String {
        let response = reqwest::blocking::Client::new()
            .post(self.url("/auth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .unwrap_or_else(|err| panic!("POST /auth/token failed: {err}"));
        let status = response.status();
        let body: Value = response.json().unwrap_or_default();
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "POST /auth/token answered {status}: {body}\n{}",
                    self.logs()
                )
            })
            .to_owned()
    }

    /// Starts the server in `sandbox` with the default settings.
    pub fn start(sandbox: &Sandbox) -> Self {
        Self::start_with(sandbox, Launch::default())
    }

    /// Starts the server, panicking with its output if it does not come up.
    pub fn start_with(sandbox: &Sandbox, launch: Launch) -> Self {
        match Self::try_start(sandbox, launch) {
            Ok(server) => server,
            Err(failure) => panic!(
                "server did not start ({}):\n{}",
                failure.status, failure.output
            ),
        }
    }

    /// Starts the server; `Err` when it exits before listening.
    pub fn try_start(sandbox: &Sandbox, launch: Launch) -> Result<Self, StartFailure> {
        let mut command = Command::new(server_binary());
        // A clean environment, so a developer's settings cannot leak in.
        command
            .env_clear()
            .current_dir(sandbox.path())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("PLUGIN_DIR", sandbox.plugin_dir())
            .env("POLICY_DIR", sandbox.policy_dir())
            .env("LOG_FORMAT", "json")
            // Everything the server can log, so that the check for secrets
            // in the logs (when the server is dropped) sees all of it.
            .env("RUST_LOG", "debug")
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("spawn orchestrator-mcp");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let reader = {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                let mut address_tx = Some(address_tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(address) = listening_address(&line)
                        && let Some(tx) = address_tx.take()
                    {
                        let _ = tx.send(address);
                    }
                    let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            })
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(address) = address_rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Self {
                    child,
                    base_url: format!("http://{address}"),
                    logs,
                    reader: Some(reader),
                });
            }
            if let Some(status) = child.try_wait().expect("poll server") {
                // The reader ends at end of file, once it has read everything.
                let _ = reader.join();
                let output = logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(StartFailure { status, output });
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("server neither listened nor exited within {START_TIMEOUT:?}");
            }
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's process id, for sending it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server has logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits up to ten seconds for a log line matching `matches`: the server
    /// writes its logs as it goes, and the reader thread may lag behind.
    pub fn wait_for_log(&self, matches: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.logs().lines().find(|line| matches(line)) {
                return Some(line.to_owned());
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the server process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    /// Stops the server and fails the test if its logs hold a secret.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            return;
        }
        let leaks = secrets::leaked_secrets(&self.logs());
        assert!(
            leaks.is_empty(),
            "the server logged secrets:\n{}",
            leaks.join("\n")
        );
    }
}

/// The address in a JSON log line `{"fields":{"message":"listening","address":…}}`.
fn listening_address(line: &str) -> Option<String> {
    let value: Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "listening" {
        return None;
    }
    fields.get("address")?.as_str().map(str::to_owned)
}
