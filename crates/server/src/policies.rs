//! The active policy set and its live reload.
//!
//! A reload is triggered by a change in the policy directory (when
//! `POLICY_WATCH` is on), by SIGHUP, or by the `reload_policies` tool. The
//! new set is loaded and validated completely before it replaces the active
//! one, so an invalid set never takes effect: the error is logged, kept for
//! `/health`, and the old set keeps serving. The swap is a single atomic
//! pointer store; each request takes the set once when it starts and
//! finishes under it.
//!
//! With Redis, a set loaded on one replica reaches the others
//! ([`replicate`]): the loading replica announces its hash (and, with
//! `POLICY_SOURCE=redis`, stores its files); each other replica reloads
//! its own directory, or loads the stored files. A reload an announcement
//! caused is never announced again, so replicas whose directories differ
//! cannot set each other off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use policy::PolicyEngine;
use redis_state::{PolicyBundle, RedisState, Replica};
use serde::Serialize;

use crate::settings::PolicySource;

pub(crate) mod untrusted;

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Trigger {
    /// A file in the policy directory changed.
    Watch,
    /// The process received SIGHUP.
    Signal,
    /// An administrator called `reload_policies`.
    Admin,
    /// Another replica announced a new set.
    Replica,
}

/// The result of the latest reload attempt, for `/health` and the
/// `reload_policies` tool.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ReloadStatus {
    /// When it happened, RFC 3339 in UTC.
    pub(crate) time: String,
    /// What asked for it.
    pub(crate) trigger: Trigger,
    /// `loaded`, `unchanged` or `rejected`.
    pub(crate) outcome: &'static str,
    /// The hash of the set that is active afterwards.
    pub(crate) active_hash: String,
    /// Why the new set was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// The active policy set, swappable at run time.
pub(crate) struct PolicyStore {
    dir: PathBuf,
    active: ArcSwap<PolicyEngine>,
    last_reload: Mutex<Option<ReloadStatus>>,
    /// Serialises reloads, so two triggers at once cannot swap out of order.
    reloading: Mutex<()>,
    /// How many times a new set was made active: what MCP subscribers watch
    /// to tell clients their lists may have changed.
    generation: tokio::sync::watch::Sender<u64>,
    /// How sets travel between replicas, once [`replicate`] set it up.
    replication: std::sync::OnceLock<Replication>,
}

impl PolicyStore {
    /// A store serving `engine`, loaded from `dir`.
    pub(crate) fn new(dir: PathBuf, engine: PolicyEngine) -> Self {
        Self {
            dir,
            active: ArcSwap::from_pointee(engine),
            last_reload: Mutex::new(None),
            reloading: Mutex::new(()),
            generation: tokio::sync::watch::Sender::new(0),
            replication: std::sync::OnceLock::new(),
        }
    }

    /// A receiver that sees each new policy set made active.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The set new requests are decided under.
    pub(crate) fn current(&self) -> Arc<PolicyEngine> {
        self.active.load_full()
    }

    /// The latest reload attempt, if there was one.
    pub(crate) fn last_reload(&self) -> Option<ReloadStatus> {
        self.last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the directory again and, if it validates, makes it active.
    ///
    /// Blocking (reads files, validates); call it off the async workers.
    pub(crate) fn reload(&self, trigger: Trigger) -> ReloadStatus {
        self.reload_from(trigger, &self.dir)
    }

    /// [`Self::reload`], reading the set from `dir` instead of the policy
    /// directory (a bundle another replica stored, written out).
    fn reload_from(&self, trigger: Trigger, dir: &Path) -> ReloadStatus {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = self.current();
        let status = match PolicyEngine::load_dir(dir) {
            Ok(engine) if engine.hash() == before.hash() => {
                tracing::info!(trigger = ?trigger, hash = before.hash(), "policies unchanged");
                self.status(trigger, "unchanged", before.hash(), None)
            }
            Ok(engine) => {
                let hash = engine.hash().to_owned();
                let count = engine.policy_count();
                self.active.store(Arc::new(engine));
                self.generation.send_modify(|generation| *generation += 1);
                tracing::info!(
                    trigger = ?trigger,
                    policies = count,
                    hash = %hash,
                    previous = before.hash(),
                    "policies reloaded"
                );
                self.status(trigger, "loaded", &hash, None)
            }
            Err(err) => {
                tracing::error!(
                    trigger = ?trigger,
                    error = %err,
                    active = before.hash(),
                    "policy reload rejected; the active policies stay in force"
                );
                self.status(trigger, "rejected", before.hash(), Some(err.to_string()))
            }
        };
        self.remember(status)
    }

    /// Keeps `status` as the latest reload attempt and returns it.
    fn remember(&self, status: ReloadStatus) -> ReloadStatus {
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(status.clone());
        status
    }

    fn status(
        &self,
        trigger: Trigger,
        outcome: &'static str,
        hash: &str,
        error: Option<String>,
    ) -> ReloadStatus {
        ReloadStatus {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            trigger,
            outcome,
            active_hash: hash.to_owned(),
            error,
        }
    }

    /// The watched directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Reloads off the async workers.
pub(crate) async fn reload(store: &Arc<PolicyStore>, trigger: Trigger) -> ReloadStatus {
    let worker = Arc::clone(store);
    let status = reload_blocking(store, trigger, move || worker.reload(trigger)).await;
    if status.outcome == "loaded"
        && trigger != Trigger::Replica
        && let Some(replication) = store.replication.get()
    {
        replication.announce(&store.current()).await;
    }
    status
}

async fn reload_blocking(
    store: &Arc<PolicyStore>,
    trigger: Trigger,
    work: impl FnOnce() -> ReloadStatus + Send + 'static,
) -> ReloadStatus {
    match untrusted::on_big_stack("policy-reload", work).await {
        Ok(status) => status,
        // A panic inside Cedar while loading: nothing was swapped.
        Err(err) => store.remember(store.status(
            trigger,
            "rejected",
            store.current().hash(),
            Some(format!("the reload failed unexpectedly: {err}")),
        )),
    }
}

/// How long the directory must be quiet before a change is reloaded, so an
/// editor's write-rename-chmod sequence is one reload, not three.
const SETTLE: Duration = Duration::from_millis(300);

/// Watches the policy directory and reloads after each burst of changes.
///
/// The watcher is returned and must be kept alive.
pub(crate) fn watch(store: Arc<PolicyStore>) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher as _;

    let (changed, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            Ok(event) => !event.kind.is_access(),
            Err(_) => true,
        };
        if relevant {
            let _ = changed.send(());
        }
    })?;
    watcher.watch(store.dir(), notify::RecursiveMode::NonRecursive)?;
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // Wait for the burst to end.
            loop {
                match tokio::time::timeout(SETTLE, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_quiet) => break,
                }
            }
            reload(&store, Trigger::Watch).await;
        }
    });
    Ok(watcher)
}

/// Reloads on every SIGHUP.
#[cfg(unix)]
pub(crate) fn reload_on_hangup(store: Arc<PolicyStore>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading policies");
            reload(&store, Trigger::Signal).await;
        }
    });
    Ok(())
}

/// How sets travel between replicas.
struct Replication {
    redis: RedisState,
    source: PolicySource,
}

impl Replication {
    /// Tells the other replicas that `engine` is the set to run.
    async fn announce(&self, engine: &PolicyEngine) {
        let bundle = (self.source == PolicySource::Redis).then(|| bundle_of(engine));
        match self
            .redis
            .publish_policy(engine.hash(), bundle.as_ref())
            .await
        {
            Ok(()) => tracing::info!(
                hash = engine.hash(),
                "policy set announced to the other replicas"
            ),
            Err(err) => tracing::warn!(
                hash = engine.hash(),
                error = %err,
                "the other replicas could not be told of the new policy set; they load it on their next reload"
            ),
        }
    }
}

/// Every file of `engine`'s set, for the other replicas.
fn bundle_of(engine: &PolicyEngine) -> PolicyBundle {
    PolicyBundle {
        hash: engine.hash().to_owned(),
        files: engine.files().iter().cloned().collect(),
    }
}

/// The first set, with `POLICY_SOURCE=redis`: the stored bundle, or, when
/// none is stored, `dir`'s set, which is stored for the replicas after.
pub(crate) async fn load_first(redis: &RedisState, dir: &Path) -> anyhow::Result<PolicyEngine> {
    use anyhow::Context as _;
    let stored = redis
        .policy_bundle()
        .await
        .context("reading the policy bundle from Redis (POLICY_SOURCE=redis)")?;
    if let Some(bundle) = stored {
        let engine = untrusted::on_big_stack("policy-load", move || load_bundle(&bundle))
            .await
            .map_err(anyhow::Error::msg)
            .context("loading the policy bundle")??;
        tracing::info!(
            hash = engine.hash(),
            "policies loaded from the bundle in Redis"
        );
        return Ok(engine);
    }
    let owned = dir.to_owned();
    let engine = untrusted::on_big_stack("policy-load", move || PolicyEngine::load_dir(&owned))
        .await
        .map_err(anyhow::Error::msg)
        .context("loading the policies")?
        .with_context(|| {
            format!(
                "loading policies from {} (set POLICY_DIR to the directory holding schema.cedarschema)",
                dir.display()
            )
        })?;
    let bundle = bundle_of(&engine);
    if redis
        .store_policy_bundle_if_absent(&bundle)
        .await
        .context("storing the policy bundle in Redis (POLICY_SOURCE=redis)")?
    {
        tracing::info!(hash = engine.hash(), dir = %dir.display(), "no policy bundle in Redis: stored this replica's POLICY_DIR");
        return Ok(engine);
    }
    // Another replica stored one first: run that one.
    Box::pin(load_first(redis, dir)).await
}

/// Loads the set in `bundle`, written out to a private temporary directory.
fn load_bundle(bundle: &PolicyBundle) -> anyhow::Result<PolicyEngine> {
    let dir = write_bundle(bundle)?;
    let engine = PolicyEngine::load_dir(dir.path()).map_err(|err| {
        let prefix = format!("{}/", dir.path().display());
        anyhow::anyhow!(
            "the policy bundle in Redis does not load: {}",
            err.to_string().replace(&prefix, "")
        )
    })?;
    Ok(engine)
}

/// `bundle`'s files in a new private temporary directory.
fn write_bundle(bundle: &PolicyBundle) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context as _;
    let dir = tempfile::Builder::new()
        .prefix("orchestrator-mcp-bundle-")
        .tempdir()
        .context("making a temporary directory for the policy bundle")?;
    for (name, text) in &bundle.files {
        // Names come from Redis: only plain file names of a policy set.
        let plain = !name.is_empty()
            && !name.contains(['/', '\\'])
            && !name.starts_with('.')
            && (name.ends_with(".cedar")
                || name == "schema.cedarschema"
                || name.ends_with(".json"));
        anyhow::ensure!(
            plain,
            "the policy bundle in Redis names a file `{}` no policy set has; store a good one by reloading a replica whose POLICY_DIR is right",
            name.escape_debug()
        );
        // Anyone who can write to Redis can write a bundle: its policies
        // are bounded as a console candidate is.
        if let Some(line) = untrusted::overlong_statement(text)
            && !name.ends_with(".json")
        {
            anyhow::bail!(
                "the policy bundle in Redis has a statement of more than {} tokens, starting on line {line} of `{}`; store a good one by reloading a replica whose POLICY_DIR is right",
                untrusted::MAX_STATEMENT_TOKENS,
                name.escape_debug()
            );
        }
        std::fs::write(dir.path().join(name), text)
            .context("writing the policy bundle to a temporary directory")?;
    }
    Ok(dir)
}

/// How often a replica renews its heartbeat, and how long one lasts.
const HEARTBEAT: Duration = Duration::from_secs(2);
const HEARTBEAT_TTL: Duration = Duration::from_secs(6);

/// Makes `store` follow the sets other replicas announce, announce its own,
/// and beat its heartbeat (with the hash it runs) as `replica`.
pub(crate) fn replicate(
    store: &Arc<PolicyStore>,
    redis: RedisState,
    source: PolicySource,
    replica: String,
) {
    let mut announced = redis.watch_policy();
    let _ = store.replication.set(Replication {
        redis: redis.clone(),
        source,
    });
    let follower = Arc::clone(store);
    tokio::spawn(async move {
        while announced.changed().await.is_ok() {
            let Some(hash) = announced.borrow_and_update().clone() else {
                continue;
            };
            follow(&follower, &hash).await;
        }
    });
    let beating = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(HEARTBEAT);
        loop {
            ticker.tick().await;
            let Some(store) = beating.upgrade() else {
                return;
            };
            let beat = Replica {
                id: replica.clone(),
                policy_hash: store.current().hash().to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            let _ = redis.heartbeat(&beat, HEARTBEAT_TTL).await;
        }
    });
}

/// Loads the set announced as `hash`, unless it is the one running.
async fn follow(store: &Arc<PolicyStore>, hash: &str) {
    if store.current().hash() == hash {
        return;
    }
    let Some(replication) = store.replication.get() else {
        return;
    };
    let status = match replication.source {
        PolicySource::Directory => {
            let worker = Arc::clone(store);
            reload_blocking(store, Trigger::Replica, move || {
                worker.reload(Trigger::Replica)
            })
            .await
        }
        PolicySource::Redis => match replication.redis.policy_bundle().await {
            Ok(Some(bundle)) if bundle.hash == hash => {
                let worker = Arc::clone(store);
                reload_blocking(store, Trigger::Replica, move || {
                    match write_bundle(&bundle) {
                        Ok(dir) => worker.reload_from(Trigger::Replica, dir.path()),
                        Err(err) => worker.remember(worker.status(
                            Trigger::Replica,
                            "rejected",
                            worker.current().hash(),
                            Some(err.to_string()),
                        )),
                    }
                })
                .await
            }
            // A newer announcement is on its way, or Redis is away: the
            // next announcement, or the next subscription, brings it.
            _ => return,
        },
    };
    if status.outcome != "rejected" && store.current().hash() != hash {
        tracing::warn!(
            announced = hash,
            running = store.current().hash(),
            dir = %store.dir().display(),
            "another replica runs a policy set this replica's POLICY_DIR does not hold; deploy the same files to every replica, or set POLICY_SOURCE=redis"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERMIT: &str = "@id(\"open\")\npermit (principal, action, resource);\n";
    const FORBID: &str = "@id(\"closed\")\nforbid (principal, action, resource);\n";

    fn policy_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let schema = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../policies/schema.cedarschema"
        );
        std::fs::copy(schema, dir.path().join("schema.cedarschema")).expect("schema");
        std::fs::write(dir.path().join("rules.cedar"), PERMIT).expect("rules");
        dir
    }

    fn allows(engine: &PolicyEngine) -> bool {
        let principal = Arc::new(core_auth::Principal {
            id: "someone".into(),
            kind: core_auth::PrincipalKind::User,
            scopes: Default::default(),
            roles: Default::default(),
            tenant: None,
            tenants: Default::default(),
            credential: Default::default(),
        });
        let tool = Arc::new(policy::Target::by_name("ping"));
        engine.is_allowed(
            &principal,
            tool.action(),
            &tool,
            &policy::RequestContext::now(),
        )
    }

    fn store(dir: &Path) -> PolicyStore {
        PolicyStore::new(
            dir.to_owned(),
            PolicyEngine::load_dir(dir).expect("initial set"),
        )
    }

    #[test]
    fn a_bundle_nested_past_the_bound_is_refused_and_one_within_it_loads() {
        let dir = policy_dir();
        let engine = PolicyEngine::load_dir(dir.path()).expect("the set loads");
        let mut bundle = bundle_of(&engine);
        let nested = |depth: usize| {
            format!(
                "@id(\"deep\")\npermit (principal, action, resource)\nwhen {{ {}true{} }};\n",
                "(".repeat(depth),
                ")".repeat(depth)
            )
        };
        // Deep enough to overflow a runtime thread's stack in Cedar's parser.
        bundle.files.insert("deep.cedar".into(), nested(20_000));
        let refused = load_bundle(&bundle).err().expect("refused");
        assert!(
            refused
                .to_string()
                .contains("more than 1000 tokens, starting on line 1 of `deep.cedar`"),
            "{refused}"
        );
        // Within the bound, the load's own thread has the stack for it.
        bundle.files.insert("deep.cedar".into(), nested(450));
        let loaded = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime")
                    .block_on(untrusted::on_big_stack("test-load", move || {
                        load_bundle(&bundle).map(|engine| engine.hash().to_owned())
                    }))
            })
            .expect("thread")
            .join()
            .expect("no overflow");
        assert!(matches!(loaded, Ok(Ok(_))), "{loaded:?}");
    }

    #[test]
    fn a_set_in_use_keeps_deciding_after_a_reload() {
        let dir = policy_dir();
        let store = store(dir.path());
        let in_flight = store.current();
        std::fs::write(dir.path().join("rules.cedar"), FORBID).expect("rewrite");
        let status = store.reload(Trigger::Admin);
        assert_eq!(status.outcome, "loaded");
        assert!(allows(&in_flight), "the request that started keeps its set");
        assert!(!allows(&store.current()), "new requests get the new set");
    }

    #[test]
    fn an_invalid_set_is_rejected_and_the_active_one_stays() {
        let dir = policy_dir();
        let store = store(dir.path());
        let before = store.current().hash().to_owned();
        std::fs::write(
            dir.path().join("rules.cedar"),
            "permit (principal, action, resource)",
        )
        .expect("rewrite");
        let status = store.reload(Trigger::Watch);
        assert_eq!(status.outcome, "rejected");
        assert_eq!(status.active_hash, before);
        assert!(
            status
                .error
                .as_deref()
                .is_some_and(|e| e.contains("rules.cedar"))
        );
        assert_eq!(store.current().hash(), before);
        assert!(allows(&store.current()));
        assert_eq!(store.last_reload().map(|s| s.outcome), Some("rejected"));
    }

    #[test]
    fn reloading_the_same_files_changes_nothing() {
        let dir = policy_dir();
        let store = store(dir.path());
        let before = store.current();
        let status = store.reload(Trigger::Signal);
        assert_eq!(status.outcome, "unchanged");
        assert!(Arc::ptr_eq(&before, &store.current()));
    }
}
