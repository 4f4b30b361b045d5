//! The commands the binary runs: serving, `doctor`, `healthcheck` and
//! `policy check | test | explain | diff | verify`. Each
//! takes what the command line said and answers with an exit code; the top
//! layer, so it may use every other.

mod diff;
mod doctor;
mod healthcheck;
mod policy;
mod revision;
mod symbolic;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugin_host::PluginHost;
use tracing_subscriber::EnvFilter;

use crate::telemetry::traces;

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
    let logging = match init_logging(&settings) {
        Ok(logging) => logging,
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "logging is what failed")]
            {
                eprintln!("orchestrator-mcp: {err:#}");
            }
            return ExitCode::FAILURE;
        }
    };
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
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("start-up failed: {err:#}");
            ExitCode::FAILURE
        }
    };
    // The last spans are exported, and the last lines written, before the
    // process ends.
    drop(logging);
    code
}

/// What logging keeps running until the server stops: the trace exporter
/// (when there is one), then the log writer, dropped in that order so
/// that the exporter's last words are written too.
struct Logging {
    _exporting: Option<traces::Exporting>,
    _flushing: crate::telemetry::log_writer::Flushing,
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
    /// Compare the active policies with a candidate: prove, for every kind
    /// of request and every tool a policy names, that the candidate allows
    /// no more and no less (needs the cvc5 solver: CVC5 or cvc5 on PATH),
    /// and with --replay, replay an audit log's decisions under it. Exits 1
    /// when a change goes a way forbidden with --forbid-new-allows or
    /// --forbid-new-denials, and 3 when there is no solver.
    Diff {
        /// The active policy directory (default: POLICY_DIR).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Take the active policies from this git revision of the policy
        /// directory instead of the files on disk.
        #[arg(long, value_name = "REV")]
        base_rev: Option<String>,
        /// The candidate policy directory.
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "candidate_rev",
            conflicts_with = "candidate_rev"
        )]
        candidate: Option<PathBuf>,
        /// Take the candidate from this git revision of the policy
        /// directory.
        #[arg(long, value_name = "REV")]
        candidate_rev: Option<String>,
        /// Also replay the decisions of this JSON-lines audit log (what
        /// AUDIT_LOG_FILE writes) under the candidate.
        #[arg(long, value_name = "FILE")]
        replay: Option<PathBuf>,
        /// Fail when the candidate would allow a call that was denied.
        #[arg(long)]
        forbid_new_allows: bool,
        /// Fail when the candidate would deny a call that was allowed.
        #[arg(long)]
        forbid_new_denials: bool,
    },
    /// Prove the standing properties in <DIR>/properties.toml for every
    /// request (needs the cvc5 solver). Exits 1 when one fails and 3 when
    /// there is no solver.
    Verify {
        /// The policy directory (default: POLICY_DIR).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The properties file (default: <DIR>/properties.toml).
        #[arg(long, value_name = "FILE")]
        properties: Option<PathBuf>,
    },
}

impl PolicyCommand {
    /// The `--dir` given, if any.
    fn dir(&self) -> Option<&Path> {
        match self {
            Self::Check { dir }
            | Self::Test { dir }
            | Self::Explain { dir, .. }
            | Self::Diff { dir, .. }
            | Self::Verify { dir, .. } => dir.as_deref(),
        }
    }
}

/// A command's answer: yes, no, or it could not ask the solver.
pub(crate) enum Answer {
    Yes,
    No,
    NoSolver,
}

impl From<bool> for Answer {
    fn from(yes: bool) -> Self {
        if yes { Self::Yes } else { Self::No }
    }
}

/// The exit code of a proof that could not be made for want of a solver.
const NO_SOLVER: u8 = 3;

/// `orchestrator-mcp policy check | test | explain | diff | verify`.
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
            dir,
            base_rev,
            candidate,
            candidate_rev,
            replay,
            forbid_new_allows,
            forbid_new_denials,
        } => diff(
            &policy::policy_dir(dir, config.as_ref()),
            base_rev.as_deref(),
            candidate.as_deref(),
            candidate_rev.as_deref(),
            replay.as_deref(),
            diff::Forbidden {
                new_allows: forbid_new_allows,
                new_denials: forbid_new_denials,
            },
        ),
        PolicyCommand::Verify { dir, properties } => symbolic::verify(
            &policy::policy_dir(dir, config.as_ref()),
            properties.as_deref(),
        ),
        PolicyCommand::Check { dir } => {
            policy::check(&policy::policy_dir(dir, config.as_ref())).map(|_| Answer::Yes)
        }
        PolicyCommand::Test { dir } => policy::test(&policy::policy_dir(dir, config.as_ref()))
            .map(|run| Answer::from(run.failed == 0)),
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
            .map(|()| Answer::Yes)
        }
    };
    match outcome {
        Ok(Answer::Yes) => ExitCode::SUCCESS,
        Ok(Answer::No) => ExitCode::FAILURE,
        Ok(Answer::NoSolver) => ExitCode::from(NO_SOLVER),
        Err(err) => {
            #[expect(clippy::print_stderr, reason = "the failure is the command's answer")]
            {
                eprintln!("orchestrator-mcp policy: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `policy diff`: the replay when asked for, then the symbolic comparison.
fn diff(
    dir: &Path,
    base_rev: Option<&str>,
    candidate: Option<&Path>,
    candidate_rev: Option<&str>,
    replay: Option<&Path>,
    forbidden: diff::Forbidden,
) -> anyhow::Result<Answer> {
    // The checked-out revisions live as long as the comparison.
    let base = base_rev
        .map(|rev| revision::checkout(dir, rev))
        .transpose()?;
    let checked_out = candidate_rev
        .map(|rev| revision::checkout(dir, rev))
        .transpose()?;
    let active = base.as_ref().map_or(dir, |base| base.path());
    let candidate = match (&checked_out, candidate) {
        (Some(checked_out), _) => checked_out.path(),
        (None, Some(candidate)) => candidate,
        (None, None) => {
            anyhow::bail!("name the candidate with --candidate DIR or --candidate-rev REV")
        }
    };
    let replayed = replay
        .map(|log| diff::replay(candidate, log, forbidden))
        .transpose()?;
    let compared = symbolic::compare(active, candidate, forbidden)?;
    #[expect(clippy::print_stdout, reason = "a command's report is its output")]
    {
        println!(
            "policy diff: ran {}",
            match (&replayed, &compared) {
                (Some(_), Answer::NoSolver) =>
                    "the replay only (no solver for the symbolic comparison)",
                (Some(_), _) => "the replay and the symbolic comparison",
                (None, Answer::NoSolver) => "nothing (no solver for the symbolic comparison)",
                (None, _) => "the symbolic comparison",
            }
        );
    }
    Ok(match (replayed, compared) {
        (Some(false), _) | (_, Answer::No) => Answer::No,
        (_, answer) => answer,
    })
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

/// Logs to stderr as `RUST_LOG` and `LOG_FORMAT` say, and, with
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, the server's spans to the collector
/// (from debug up, whatever `RUST_LOG` keeps in the logs). The exporter is
/// returned to be kept, and dropped, flushing it, when the server stops.
fn init_logging(settings: &Settings) -> anyhow::Result<Logging> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    // Loading the settings has already refused a filter that does not parse.
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, flushing) = crate::telemetry::log_writer::batched_stderr()
        .map_err(|err| anyhow::anyhow!("starting the log writer thread: {err}"))?;
    let logs = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .event_format(crate::telemetry::log_format::TextLine::default())
            .fmt_fields(crate::telemetry::log_format::Fields)
            .with_writer(writer)
            .boxed(),
    }
    .with_filter(filter);
    let (spans, exporting) = match &settings.traces {
        Some(trace_settings) => {
            let (layer, exporting) = traces::layer(trace_settings)?;
            // The server's own spans; the libraries' stay out of traces,
            // and so do log events (the logs have them, by request id).
            let ours = Targets::new()
                .with_target("server", LevelFilter::DEBUG)
                .with_target("orchestrator", LevelFilter::DEBUG)
                .with_target("redis_state", LevelFilter::DEBUG)
                .with_target("plugin_host", LevelFilter::DEBUG)
                .with_target("core_auth", LevelFilter::DEBUG)
                .and(tracing_subscriber::filter::dynamic_filter_fn(
                    traces::skips_unsampled,
                ));
            (Some(layer.with_filter(ours)), Some(exporting))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init()
        .map_err(|err| anyhow::anyhow!("setting up logging: {err}"))?;
    Ok(Logging {
        _exporting: exporting,
        _flushing: flushing,
    })
}

/// `orchestrator-mcp metrics`: prints the metrics the server exposes at
/// `/metrics`, as JSON: name, type, help and labels of each.
pub fn metrics() -> ExitCode {
    let catalogue: Vec<serde_json::Value> = crate::telemetry::metrics::METRICS
        .iter()
        .map(|metric| {
            serde_json::json!({
                "name": metric.name,
                "type": metric.kind.name(),
                "help": metric.help,
                "labels": metric.labels,
            })
        })
        .collect();
    match serde_json::to_string_pretty(&catalogue) {
        Ok(text) => {
            #[expect(clippy::print_stdout, reason = "the list is the command's output")]
            {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::FAILURE,
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
