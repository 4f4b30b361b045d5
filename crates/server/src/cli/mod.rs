//! The commands the binary runs: serving, `doctor`, `healthcheck` and
//! `policy check | test | explain`. Each
//! takes what the command line said and answers with an exit code; the top
//! layer, so it may use every other.

mod diff;
mod doctor;
mod healthcheck;
mod policy;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugin_host::PluginHost;
use tracing_subscriber::EnvFilter;

use crate::app::Server;
use crate::settings::{LogFormat, Settings};

/// The scope manifest `doctor` reads unless told otherwise.
pub fn default_manifest() -> PathBuf {
    doctor::default_manifest()
}

/// Serves on the settings from the defaults, `config_file` and the
/// environment, until asked to stop.
pub fn serve(config_file: Option<&Path>) -> ExitCode {
    let Some(settings) = load(config_file) else {
        return ExitCode::from(2);
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let server = Server::bind(settings).await?;
        server.run().await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("start-up failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `orchestrator-mcp healthcheck`: exit 0 when the server on this machine
/// answers `GET /health` with 200.
pub fn healthcheck(config_file: Option<&Path>) -> ExitCode {
    let Some(settings) = load(config_file) else {
        return ExitCode::from(2);
    };
    match healthcheck::check(&settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            #[expect(clippy::print_stderr, reason = "the check's verdict is its output")]
            {
                eprintln!("orchestrator-mcp healthcheck: {problem}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `orchestrator-mcp doctor`: every item, even when the settings would stop
/// the server from starting; exits non-zero when an item fails.
#[expect(
    clippy::print_stderr,
    reason = "a report and its failures are its output"
)]
pub fn doctor(config_file: Option<&Path>, manifest: &Path) -> ExitCode {
    let inspection = Settings::inspect(config_file).map_err(|err| err.to_string());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("orchestrator-mcp doctor: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let checks = runtime.block_on(doctor::run(inspection, manifest));
    match doctor::report(&checks, &mut std::io::stdout().lock()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("orchestrator-mcp doctor: cannot write the report: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `orchestrator-mcp policy …`.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate the policies against the schema.
    Check {
        /// The policy directory (default: POLICY_DIR).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the cases in <DIR>/tests/*.toml; exits non-zero when one fails.
    Test {
        /// The policy directory (default: POLICY_DIR).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Show the decision for a principal's claims and a tool, with reasons.
    /// The tool is seen as the plugins in PLUGIN_DIR describe it.
    Explain {
        /// A JSON file with the token's claims (`sub`, `scope`, `roles`, …).
        #[arg(long, value_name = "FILE")]
        claims: PathBuf,
        /// The tool being called.
        #[arg(long)]
        tool: String,
        /// The call's arguments, as a JSON object.
        #[arg(long, value_name = "JSON")]
        args: Option<String>,
        /// The policy directory (default: POLICY_DIR).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Replay the decisions an audit log recorded under a candidate policy
    /// directory and show every one it would change; exits non-zero when a
    /// change goes a way forbidden with --forbid-new-allows or
    /// --forbid-new-denials.
    Diff {
        /// The candidate policy directory.
        #[arg(long, value_name = "DIR")]
        candidate: PathBuf,
        /// The JSON-lines audit log to replay (what AUDIT_LOG_FILE writes).
        #[arg(long, value_name = "FILE")]
        replay: PathBuf,
        /// Fail when the candidate would allow a call that was denied.
        #[arg(long)]
        forbid_new_allows: bool,
        /// Fail when the candidate would deny a call that was allowed.
        #[arg(long)]
        forbid_new_denials: bool,
    },
}

impl PolicyCommand {
    /// The `--dir` given, if any.
    fn dir(&self) -> Option<&Path> {
        match self {
            Self::Check { dir } | Self::Test { dir } | Self::Explain { dir, .. } => dir.as_deref(),
            Self::Diff { candidate, .. } => Some(candidate),
        }
    }
}

/// `orchestrator-mcp policy check | test | explain | diff`.
pub fn policy(config_file: Option<&Path>, command: PolicyCommand) -> ExitCode {
    // The policy tools need only the policy and plugin settings, so a
    // deployment whose other settings would stop the server can still be
    // checked; but settings that cannot be read at all name no directory.
    let config = match Settings::inspect(config_file) {
        Ok(inspection) => Some(inspection.raw),
        Err(err) if command.dir().is_some() => {
            #[expect(clippy::print_stderr, reason = "a warning beside the command's answer")]
            {
                eprintln!("orchestrator-mcp policy: ignoring settings that cannot be read ({err})");
            }
            None
        }
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the failure is the command's answer")]
            {
                eprintln!(
                    "orchestrator-mcp policy: {err}; fix it, or name the policy directory with --dir"
                );
            }
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        PolicyCommand::Diff {
            candidate,
            replay,
            forbid_new_allows,
            forbid_new_denials,
        } => diff::replay(
            &candidate,
            &replay,
            diff::Forbidden {
                new_allows: forbid_new_allows,
                new_denials: forbid_new_denials,
            },
        ),
        PolicyCommand::Check { dir } => {
            policy::check(&policy::policy_dir(dir, config.as_ref())).map(|_| true)
        }
        PolicyCommand::Test { dir } => {
            policy::test(&policy::policy_dir(dir, config.as_ref())).map(|run| run.failed == 0)
        }
        PolicyCommand::Explain {
            claims,
            tool,
            args,
            dir,
        } => {
            let plugins = match &config {
                None => Err("the settings cannot be read".to_owned()),
                Some(config) => config
                    .plugin_dir()
                    .map_err(|problem| problem.to_string())
                    .and_then(|dir| {
                        PluginHost::load(&dir, &config.plugins.load_options())
                            .map_err(|err| err.to_string())
                    }),
            };
            policy::explain(
                &policy::policy_dir(dir, config.as_ref()),
                plugins.as_ref().map_err(String::as_str),
                &claims,
                &tool,
                args.as_deref(),
            )
            .map(|()| true)
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the failure is the command's answer")]
            {
                eprintln!("orchestrator-mcp policy: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The settings, or `None` after saying on stderr why they cannot be used.
fn load(config_file: Option<&Path>) -> Option<Settings> {
    match Settings::load(config_file) {
        Ok(config) => Some(config),
        Err(err) => {
            // Logging is not set up yet: its settings are part of what failed.
            #[expect(clippy::print_stderr, reason = "logging is not set up yet")]
            {
                eprintln!("orchestrator-mcp: {err}");
            }
            None
        }
    }
}

fn init_logging(settings: &Settings) {
    // Loading the settings has already refused a filter that does not parse.
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// `orchestrator-mcp server-card`: prints the server card the server serves
/// at /.well-known/mcp/server-card.json, for `base` (or PUBLIC_URL, or
/// http://HOST:PORT), from the plugins in PLUGIN_DIR and the policies in
/// POLICY_DIR. `cargo xtask gen` writes it to config/mcp/server-card.json.
pub fn server_card(config_file: Option<&Path>, base: Option<&str>) -> ExitCode {
    let card = (|| -> anyhow::Result<serde_json::Value> {
        let raw = Settings::inspect(config_file)?.raw;
        let plugins = PluginHost::load(
            &raw.plugin_dir()
                .map_err(|problem| anyhow::anyhow!("{problem}"))?,
            &raw.plugins.load_options(),
        )?;
        let policies = ::policy::PolicyEngine::load_dir(&raw.policies.dir)?;
        let base = match base {
            Some(base) => base.to_owned(),
            None => raw
                .public_url()
                .map_err(|problem| anyhow::anyhow!("{problem}"))?
                .unwrap_or_else(|| format!("http://{}:{}", raw.server.host, raw.server.port)),
        };
        Ok(crate::catalogue::server_card(&plugins, &policies, &base))
    })();
    match card.and_then(|card| Ok(serde_json::to_string_pretty(&card)?)) {
        Ok(text) => {
            #[expect(clippy::print_stdout, reason = "the card is the command's output")]
            {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the failure is the command's answer")]
            {
                eprintln!("orchestrator-mcp server-card: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}
