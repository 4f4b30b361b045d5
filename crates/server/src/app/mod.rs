//! The application: the only module that knows the shared state. It loads
//! plugins and policies, builds each door with what that door needs,
//! assembles their routers behind the layers every request passes through,
//! and serves them.

mod auth;
mod client_address;
mod cors;
mod health;
mod host_guard;
mod layers;
mod metrics;
mod origin_guard;
mod rate_limit;
mod request_id;
mod resource;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use core_auth::TokenVerifier;
use demo_oauth::DemoOAuth;
use plugin_host::PluginHost;
use policy::PolicyEngine;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::audit::AuditLog;
use crate::catalogue::{self, Catalogue};
use crate::console::{self, ConsoleState};
use crate::identity::{self, Authority};
use crate::mcp::{self, McpState};
use crate::oauth::{self, AuthorizationServer, OAuthState};
use crate::policies::{self, PolicyStore};
use crate::rest::{self, RestState};
use crate::settings::{AllowedHost, AuthoritySettings, CorsPolicy, PolicySource, Settings};
use crate::shared::{Limit, Shared};
use crate::web::console_session::ConsoleSessions;
use crate::web::{ApiError, PublicBase};

/// What the cross-cutting layers and `/health` reach: one `Arc`, since
/// every layer clones its state for every request.
#[derive(Clone)]
pub(crate) struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What an [`AppState`] holds.
pub(crate) struct AppParts {
    pub(crate) catalogue: Catalogue,
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    /// `ALLOWED_HOSTS`, parsed; empty allows every host.
    pub(crate) allowed_hosts: Arc<[AllowedHost]>,
    pub(crate) base: PublicBase,
    /// `RATE_LIMIT_PER_MINUTE`; `None` when it is 0 (no limit).
    pub(crate) rate_limiter: Option<Arc<Limit>>,
    /// `RATE_LIMIT_PUBLIC_PER_MINUTE`, per client address; `None` when 0.
    pub(crate) public_rate_limiter: Option<Arc<Limit<std::net::IpAddr>>>,
    /// What replicas share: revocations, and where limits are counted.
    pub(crate) shared: Arc<Shared>,
    /// `TRUSTED_PROXIES`.
    pub(crate) trusted_proxies: Arc<[crate::settings::TrustedProxy]>,
    /// `MAX_TOOL_CALLS_PER_REQUEST`.
    pub(crate) max_tool_calls_per_request: u32,
    /// `CORS_ORIGINS`: the pages, besides the server's own, that may call
    /// the protected doors.
    pub(crate) cors: Arc<CorsPolicy>,
}

/// The application: every route behind its layers, and what must live as
/// long as it serves (the policy watcher).
pub struct App {
    router: Router,
    /// `/metrics` for `METRICS_ADDR`'s listener, when metrics are on.
    metrics_router: Option<Router>,
    /// Kept alive for as long as the application serves.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl App {
    /// Loads the plugins and policies `settings` name and builds every
    /// route, for a server that clients reach on `port` (token audiences
    /// and the demo issuer name it when `PUBLIC_URL` is not set).
    pub async fn build(settings: &Settings, port: u16) -> anyhow::Result<Self> {
        let shared = Shared::connect(settings).await?;
        let (catalogue, watcher) = load_catalogue(settings, &shared).await?;
        Self::assemble(settings, catalogue, watcher, port).await
    }

    async fn assemble(
        settings: &Settings,
        catalogue: Catalogue,
        watcher: Option<notify::RecommendedWatcher>,
        port: u16,
    ) -> anyhow::Result<Self> {
        let bases = identity::public_bases(settings, port);
        let shared = Arc::clone(catalogue.shared());
        let identity = identity::build(settings, &bases, &shared).await?;
        match &settings.authority {
            AuthoritySettings::Demo(_) => tracing::warn!(
                "demo mode: the static demo token is accepted; set DESCOPE_DEMO_MODE=false in production"
            ),
            AuthoritySettings::Descope(_) => {
                tracing::info!(project_id = %settings.project_id, "verifying Descope tokens");
            }
        }
        let states = mcp::request_states(&settings.approvals, &shared).await?;
        let scrape = if settings.metrics_addr.is_some() || settings.metrics_token.is_some() {
            Some(metrics::Scrape::new(
                crate::telemetry::metrics::install()?,
                Arc::clone(&identity.verifier),
                Arc::clone(&shared),
            ))
        } else {
            None
        };
        let metrics_router = scrape
            .as_ref()
            .filter(|_| settings.metrics_addr.is_some())
            .map(|scrape| scrape.clone().router());
        let scrape_here = scrape
            .zip(settings.metrics_token.clone())
            .map(|(scrape, token)| scrape.behind(token).router());
        Ok(Self {
            router: router(settings, catalogue, identity, states, scrape_here),
            metrics_router,
            _watcher: watcher,
        })
    }

    /// The routes, to serve or to call in process (`tower::ServiceExt`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }
}

/// A server bound to its address, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    /// `METRICS_ADDR`'s listener, when set.
    metrics_listener: Option<tokio::net::TcpListener>,
    app: App,
}

impl Server {
    /// Loads the plugins and policies `settings` name, binds its address and
    /// builds every route. Fails, naming the setting, when any of that
    /// cannot be done.
    pub async fn bind(settings: Settings) -> anyhow::Result<Self> {
        // Redis, plugins and policies first: their errors are the likelier
        // ones.
        let shared = Shared::connect(&settings).await?;
        let (catalogue, watcher) = load_catalogue(&settings, &shared).await?;
        let address = settings.bind;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address} (set HOST and PORT)"))?;
        // Token audiences and the demo issuer depend on the port actually bound.
        let port = listener.local_addr()?.port();
        let metrics_listener = match settings.metrics_addr {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding {address} (set METRICS_ADDR)"))?,
            ),
            None => None,
        };
        let app = App::assemble(&settings, catalogue, watcher, port).await?;
        Ok(Self {
            listener,
            metrics_listener,
            app,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until Ctrl-C or SIGTERM, letting in-flight requests finish.
    pub async fn run(self) -> anyhow::Result<()> {
        let local = self.listener.local_addr()?;
        if let (Some(listener), Some(router)) =
            (self.metrics_listener, self.app.metrics_router.clone())
        {
            let address = listener.local_addr()?;
            tracing::info!(%address, "serving metrics at /metrics");
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, router).await {
                    tracing::error!(%err, "the metrics listener stopped");
                }
            });
        }
        // Start-up is over: the code only it ran (loading plugins, compiling
        // policies, reading settings) need not stay mapped.
        let released = plugin_host::release_code_pages();
        tracing::debug!(
            mapped_bytes = released,
            "code mappings emptied; what requests run maps again on use"
        );
        tracing::info!(address = %local, url = %format!("http://{local}"), "listening");
        axum::serve(
            self.listener,
            self.app
                .router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
        tracing::info!("shut down");
        Ok(())
    }
}

/// The plugins, the policies (watched for changes when configured, and
/// following the other replicas' with Redis) and the audit log, joined in
/// the catalogue.
async fn load_catalogue(
    settings: &Settings,
    shared: &Arc<Shared>,
) -> anyhow::Result<(Catalogue, Option<notify::RecommendedWatcher>)> {
    let plugin_dir = settings
        .plugin_dir()
        .context("finding the plugin directory")?;
    let plugins = PluginHost::load(&plugin_dir, &settings.plugin_options)?;
    mcp::check_tool_descriptors(&plugins)?;
    catalogue::check_reserved_names(&plugins)?;
    if plugins.plugins().is_empty() {
        tracing::warn!(dir = %plugin_dir.display(), "no plugins found: no tools will be served");
    }
    let policies = match (settings.policy_source, shared.redis()) {
        (PolicySource::Redis, Some(redis)) => {
            policies::load_first(redis, &settings.policy_dir).await?
        }
        _ => PolicyEngine::load_dir(&settings.policy_dir).with_context(|| {
            format!(
                "loading policies from {} (set POLICY_DIR to the directory holding schema.cedarschema)",
                settings.policy_dir.display()
            )
        })?,
    };
    tracing::info!(
        policies = policies.policy_count(),
        hash = policies.hash(),
        dir = %settings.policy_dir.display(),
        "policies loaded"
    );
    let audit_file = settings.audit_file.as_deref();
    let audit = AuditLog::new(settings.audit_recent, audit_file).with_context(|| {
        format!(
            "opening the audit log {} (AUDIT_LOG_FILE)",
            audit_file
                .unwrap_or_else(|| std::path::Path::new(""))
                .display()
        )
    })?;
    let policies = Arc::new(PolicyStore::new(settings.policy_dir.clone(), policies));
    let watcher = if settings.policy_watch {
        let watcher = policies::watch(Arc::clone(&policies)).with_context(|| {
            format!(
                "watching {} for policy changes (set POLICY_WATCH=false to reload only on SIGHUP or reload_policies)",
                settings.policy_dir.display()
            )
        })?;
        tracing::info!(dir = %settings.policy_dir.display(), "watching the policies for changes");
        Some(watcher)
    } else {
        None
    };
    #[cfg(unix)]
    policies::reload_on_hangup(Arc::clone(&policies)).context("listening for SIGHUP")?;
    if let Some(redis) = shared.redis() {
        policies::replicate(
            &policies,
            redis.clone(),
            settings.policy_source,
            replica_id(),
        );
    }
    let catalogue = Catalogue::new(
        Arc::new(plugins),
        policies,
        Arc::new(audit),
        Arc::clone(&settings.effective),
        Arc::clone(shared),
    )
    .with_rate_limiter(Limit::new("caller", settings.rate_limit_per_minute, shared).map(Arc::new))
    .with_challenge_scopes(&settings.challenge_scopes)?
    .with_tool_limits(&settings.rate_limit_per_tool)?;
    Ok((catalogue, watcher))
}

/// Every route behind its layers.
fn router(
    settings: &Settings,
    catalogue: Catalogue,
    identity: identity::Identity,
    states: Arc<mcp::RequestStates>,
    scrape: Option<Router>,
) -> Router {
    let base = PublicBase::new(settings.public_url.clone());
    let max_request_bytes = settings.max_request_bytes;
    let public_rate_limiter = Limit::new(
        "public",
        settings.rate_limit_public_per_minute,
        catalogue.shared(),
    )
    .map(Arc::new);
    let state = AppState(Arc::new(AppParts {
        catalogue: catalogue.clone(),
        verifier: Arc::clone(&identity.verifier),
        allowed_hosts: settings.allowed_hosts.clone().into(),
        base: base.clone(),
        rate_limiter: catalogue.rate_limiter().cloned(),
        public_rate_limiter: public_rate_limiter.clone(),
        shared: Arc::clone(catalogue.shared()),
        trusted_proxies: settings.trusted_proxies.clone().into(),
        max_tool_calls_per_request: settings.max_tool_calls_per_request,
        cors: Arc::new(settings.cors.clone()),
    }));
    let (authorization_server, demo_routes) = match identity.authority {
        Authority::Demo {
            key,
            settings: demo,
        } => {
            let demo = DemoOAuth::new(
                key,
                demo_oauth::Settings {
                    user: settings.demo_user.clone(),
                    access_keys: demo.access_keys,
                    access_ttl: demo.access_ttl,
                    refresh_ttl: demo.refresh_ttl,
                    // The configured URL is the issuer; the request's Host
                    // is consulted only without one.
                    public_url: settings.public_url.clone(),
                },
                Arc::new(resource::ServedResource {
                    catalogue: catalogue.clone(),
                    base: base.clone(),
                }),
                catalogue.shared().redis().cloned(),
            );
            let router = demo.router();
            (AuthorizationServer::Demo(demo), router)
        }
        Authority::Descope {
            issuer,
            access_keys,
            login_client,
        } => (
            AuthorizationServer::Descope {
                issuer,
                access_keys,
                login_client,
            },
            demo_oauth::absent_router(),
        ),
    };
    let rest = rest::router(RestState {
        catalogue: catalogue.clone(),
        max_request_bytes,
        base: base.clone(),
    });
    let mcp = mcp::router(McpState::new(
        catalogue.clone(),
        max_request_bytes,
        base.clone(),
        states,
    ));
    let card = mcp::card_router(catalogue.clone(), base.clone());
    // One table: the login helper opens the sessions the console finds.
    let console_sessions = Arc::new(ConsoleSessions::default());
    let console = console::router(ConsoleState {
        catalogue: catalogue.clone(),
        sessions: Arc::clone(&console_sessions),
        base: base.clone(),
        public_rate_limiter,
        rate_limiter: catalogue.rate_limiter().cloned(),
        replays: Arc::new(tokio::sync::Semaphore::new(1)),
    });
    let logins = Arc::new(oauth::Logins::shared_by(Arc::clone(catalogue.shared())));
    let oauth = oauth::router(OAuthState {
        authorization_server,
        verifier: identity.verifier,
        catalogue,
        base,
        logins,
        console_sessions,
    });
    let assembled = assemble(
        state,
        rest.merge(mcp),
        oauth.merge(demo_routes).merge(card),
        console,
    );
    match scrape {
        // Beside /health: a scraper comes by address, not by an allowed
        // host name, and bears the metrics token, not a user's.
        Some(scrape) => scrape.merge(assembled),
        None => assembled,
    }
}

/// The doors behind the layers.
///
/// `protected` routes need a caller; `discovery` routes are public; the
/// `console` signs its own people in and limits them itself (a signed-in
/// page polling for decisions is not an anonymous caller).
fn assemble(state: AppState, protected: Router, discovery: Router, console: Router) -> Router {
    let cors = cors::layer(&state.cors);
    // Every group is served only to allowed hosts: discovery documents too,
    // as they name URLs built from the Host header.
    let protected = protected.layer(middleware::from_fn_with_state(
        state.clone(),
        layers::protected,
    ));
    let discovery = discovery.layer(middleware::from_fn_with_state(
        state.clone(),
        layers::discovery,
    ));
    let console = console.layer(middleware::from_fn_with_state(
        state.clone(),
        layers::console,
    ));
    let every_request = middleware::from_fn_with_state(state.clone(), layers::every_request);
    let routes = Router::new()
        .route("/health", get(health::health))
        .with_state(state)
        .merge(protected.merge(discovery).merge(console))
        .fallback(no_route);
    // The layers every request meets wrap the router as one service rather
    // than each route (`Router::layer`): a layer copies the service inside
    // it for every request, and a copied router is one reference count,
    // where a copied route is an allocation for each layer below it.
    let served = tower::ServiceBuilder::new()
        // Outermost: whatever logs a request from here on sees the header
        // as sensitive and prints it redacted.
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        // Outside authentication and the host guard: a browser's preflight
        // carries neither credentials nor, always, an allowed host.
        .layer(tower::util::option_layer(cors))
        .layer(every_request)
        .service(routes);
    Router::new().fallback_service(served)
}

async fn no_route(request: Request) -> Response {
    ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
    .into_response()
}

/// What this replica is called in heartbeats: its host name and process
/// id (a pod's name, in Kubernetes).
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "replica".to_owned());
    format!("{host}:{}", std::process::id())
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
