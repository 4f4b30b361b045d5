//! `orchestrator-mcp`: a policy-governed MCP tool server.

mod audit;
mod catalogue;
mod config;
mod demo_auth;
mod doctor;
mod healthcheck;
mod http;
mod identity;
mod mcp;
mod policies;
mod server_tools;
mod session;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use plugin_host::PluginHost;
use policy::PolicyEngine;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Every call allocates and frees dozens of small values (JSON in and out of
/// plugins, decisions, audit records) on several threads at once; mimalloc
/// does that in a fraction of the system allocator's time. The plugin bench
/// uses the same allocator, so its figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A policy-governed MCP tool server.
///
/// Settings come from the embedded defaults, then `--config FILE`, then the
/// environment (and a `.env` file in the working directory).
#[derive(Debug, Parser)]
#[command(name = "orchestrator-mcp", version)]
struct Cli {
    /// A TOML file overriding the defaults (same layout as config/default.toml).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve (what running without a command does).
    Serve,
    /// Ask the server running on this machine (HOST, PORT) for GET /health;
    /// exit 0 when it answers 200. For container health checks.
    Healthcheck,
    /// Check this configuration for production the way the configuration
    /// guide's checklist does: project id, demo mode, JWKS, issuer and
    /// audience, scopes against the Descope manifest, CORS, limits, HTTPS.
    /// Exits non-zero when an item fails.
    Doctor {
        /// The scope manifest `cargo xtask gen` writes.
        #[arg(long, value_name = "FILE", default_value_os_t = doctor::default_manifest())]
        manifest: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Doctor { manifest }) = &cli.command {
        return run_doctor(cli.config.as_deref(), manifest);
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            // Logging is not set up yet: its settings are part of what failed.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("orchestrator-mcp: {err}");
            }
            return ExitCode::from(2);
        }
    };
    if matches!(cli.command, Some(Command::Healthcheck)) {
        return match healthcheck::check(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(problem) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("orchestrator-mcp healthcheck: {problem}");
                }
                ExitCode::FAILURE
            }
        };
    }
    init_logging(&config);
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
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("start-up failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `orchestrator-mcp doctor`: every item, even when the settings would stop
/// the server from starting.
#[allow(clippy::print_stdout, clippy::print_stderr)] // A report is its output.
fn run_doctor(config_file: Option<&std::path::Path>, manifest: &std::path::Path) -> ExitCode {
    let config = Config::load_unchecked(config_file).map_err(|err| err.to_string());
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
    let checks = runtime.block_on(doctor::run(config, manifest));
    match doctor::report(&checks, &mut std::io::stdout().lock()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("orchestrator-mcp doctor: cannot write the report: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    // `Config::check` has already refused a filter that does not parse.
    let filter = EnvFilter::try_new(&config.log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log.format {
        LogFormat::Json => builder.json().with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let plugin_dir = config
        .plugin_dir()
        .context("finding the plugin directory")?;
    let plugins = PluginHost::load(&plugin_dir, &config.plugins.load_options())?;
    mcp::check_tool_descriptors(&plugins)?;
    catalogue::check_reserved_names(&plugins)?;
    if plugins.plugins().is_empty() {
        tracing::warn!(dir = %plugin_dir.display(), "no plugins found: no tools will be served");
    }
    let policies = PolicyEngine::load_dir(&config.policies.dir).with_context(|| {
        format!(
            "loading policies from {} (set POLICY_DIR to the directory holding schema.cedarschema)",
            config.policies.dir.display()
        )
    })?;
    tracing::info!(
        policies = policies.policy_count(),
        hash = policies.hash(),
        dir = %config.policies.dir.display(),
        "policies loaded"
    );
    let audit_file = Some(config.audit.file.as_path()).filter(|p| !p.as_os_str().is_empty());
    let audit = audit::AuditLog::new(config.audit.recent, audit_file).with_context(|| {
        format!(
            "opening the audit log {} (AUDIT_LOG_FILE)",
            config.audit.file.display()
        )
    })?;
    let policies = Arc::new(policies::PolicyStore::new(
        config.policies.dir.clone(),
        policies,
    ));
    // Kept alive for as long as the server runs.
    let _watcher = if config.policies.watch {
        let watcher = policies::watch(Arc::clone(&policies)).with_context(|| {
            format!(
                "watching {} for policy changes (set POLICY_WATCH=false to reload only on SIGHUP or reload_policies)",
                config.policies.dir.display()
            )
        })?;
        tracing::info!(dir = %config.policies.dir.display(), "watching the policies for changes");
        Some(watcher)
    } else {
        None
    };
    #[cfg(unix)]
    policies::reload_on_hangup(Arc::clone(&policies)).context("listening for SIGHUP")?;
    let catalogue = catalogue::Catalogue::new(
        Arc::new(plugins),
        policies,
        Arc::new(audit),
        config.effective.clone(),
    );
    let max_request_bytes = config.max_request_bytes();
    let mcp = mcp::service(
        catalogue.clone(),
        config.server.allowed_hosts.clone(),
        max_request_bytes,
    );

    let address = config.bind_address()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address} (set HOST and PORT)"))?;
    let local = listener.local_addr()?;

    // Token audiences and the demo issuer depend on the port actually bound.
    let bases = identity::public_bases(&config, local.port())?;
    let identity = identity::build(&config, &bases).await?;
    if config.descope.demo_mode {
        tracing::warn!(
            "demo mode: the static demo token is accepted; set DESCOPE_DEMO_MODE=false in production"
        );
    } else {
        tracing::info!(project_id = %config.descope.project_id, "verifying Descope tokens");
    }
    let state = http::AppState {
        catalogue,
        verifier: identity.verifier,
        max_request_bytes,
        allowed_hosts: config.allowed_hosts()?.into(),
        public_url: config.public_url()?.map(Into::into),
        authorization_server: identity.authorization_server,
        demo_auth: identity.demo_auth,
        access_keys: identity.access_keys,
        login: Arc::new(http::login::LoginHelper::new(identity.login_client)),
        rate_limiter: http::RateLimiter::new(config.server.rate_limit_per_minute).map(Arc::new),
    };
    let cors_origins = config.cors_origins()?;
    let app = http::router(state, mcp, cors_origins.as_deref());

    tracing::info!(address = %local, url = %format!("http://{local}"), "listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("shut down");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests can finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
