//! The `requestState` of MCP 2026-07-28's multi-round-trip requests: what a
//! call that waits for a person (an approval, an answer to a tool's
//! question) hands the client to echo back on its retry.
//!
//! The client holds it, so it is sealed (HMAC-SHA256 with the server's
//! `APPROVAL_KEY`, through rmcp's codec), and bound to everything the
//! answer applies to: the principal, the tool, a digest of the exact
//! arguments and the policy set's hash. It expires (`APPROVAL_TTL_SECS`)
//! and opens once: a replay is refused. Each refusal says which of these
//! failed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rmcp::model::{RequestStateCodec, RequestStateError, SealOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::catalogue::Caller;
use crate::shared::Shared;

/// The longest `requestState` the server opens: a state it sealed is far
/// shorter, and a longer one is refused before any work on it.
pub(crate) const MAX_STATE_BYTES: usize = 256 * 1024;

/// The most states the server remembers as used at once. Each is kept
/// until it would have expired anyway; past this many, new states are
/// refused (fail closed) rather than replays let through.
const MAX_USED: usize = 200_000;

/// The most of those one principal may hold, so that one caller opening
/// states as fast as it can does not use up everyone's room.
const MAX_USED_PER_PRINCIPAL: usize = 10_000;

/// What a call is, for binding a state to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    /// The principal, with its kind and the tenant it acts in.
    principal: String,
    tool: String,
    /// A SHA-256 digest of the arguments, keys sorted at every depth.
    arguments: String,
    /// The policy set's hash.
    policies: String,
}

impl Binding {
    /// The binding of `caller` calling `tool` with `arguments`.
    pub(crate) fn of(caller: &Caller, tool: &str, arguments: &Value) -> Self {
        let principal = &caller.principal;
        Self {
            // As JSON, so no id and tenant can run together into another's.
            principal: serde_json::json!([principal.kind.as_str(), principal.id, principal.tenant])
                .to_string(),
            tool: tool.to_owned(),
            arguments: arguments_digest(arguments),
            policies: caller.policies.hash().to_owned(),
        }
    }
}

/// A digest of `arguments` that does not depend on the order of keys.
pub(crate) fn arguments_digest(arguments: &Value) -> String {
    let mut hasher = Sha256::new();
    feed(&mut hasher, arguments);
    let digest = hasher.finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Feeds a canonical form of `value` (object keys sorted, every value
/// tagged with its kind and length) to `hasher`.
fn feed(hasher: &mut Sha256, value: &Value) {
    let mut text = |tag: u8, bytes: &[u8]| {
        hasher.update([tag]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    match value {
        Value::Null => text(b'n', b""),
        Value::Bool(flag) => text(b'b', if *flag { b"1" } else { b"0" }),
        Value::Number(number) => text(b'#', number.to_string().as_bytes()),
        Value::String(string) => text(b's', string.as_bytes()),
        Value::Array(items) => {
            text(b'[', &(items.len() as u64).to_le_bytes());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(fields) => {
            text(b'{', &(fields.len() as u64).to_le_bytes());
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort_unstable();
            for key in keys {
                feed(hasher, &Value::String(key.clone()));
                if let Some(field) = fields.get(key) {
                    feed(hasher, field);
                }
            }
        }
    }
}

/// What a sealed state records besides its binding.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Progress {
    /// A person approved the call.
    pub(crate) approved: bool,
    /// The server asked for an approval that has not been answered yet.
    pub(crate) awaiting_approval: bool,
    /// The answers to the tool's questions so far, by the tool's keys,
    /// each checked against the question when it was given.
    pub(crate) answers: Map<String, Value>,
    /// When the approval lapses (Unix seconds): a state that carries an
    /// approval forward keeps its first expiry, so re-asked questions
    /// cannot stretch it.
    pub(crate) approved_until: Option<u64>,
    /// The questions asked and not yet answered: a retry's answers to them
    /// are checked and handed to the tool's first run.
    pub(crate) pending: plugin_host::InputRequests,
}

impl Progress {
    /// Records a person's approval, good for `ttl` from now.
    pub(crate) fn approve(&mut self, ttl: Duration) {
        self.approved = true;
        self.awaiting_approval = false;
        self.approved_until = Some(unix_now().saturating_add(ttl.as_secs()));
    }
}

fn unix_now() -> u64 {
    oauth_kit::unix_time().as_secs()
}

/// The sealed payload.
#[derive(Serialize, Deserialize)]
struct Sealed {
    principal: String,
    tool: String,
    arguments: String,
    policies: String,
    /// Unique per state: what makes it single-use.
    nonce: String,
    #[serde(default)]
    approved: bool,
    #[serde(default)]
    awaiting_approval: bool,
    #[serde(default)]
    answers: Map<String, Value>,
    #[serde(default)]
    approved_until: Option<u64>,
    #[serde(default)]
    pending: plugin_host::InputRequests,
}

/// Why an echoed `requestState` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum StateRefusal {
    #[error(
        "the requestState is {0} bytes; a state this server issued is far shorter. Send back the requestState exactly as it was received"
    )]
    TooLong(usize),
    #[error(
        "the requestState failed its integrity check: it was altered, or issued by a server with another APPROVAL_KEY. Call the tool again without requestState to start over"
    )]
    Tampered,
    #[error(
        "the requestState has expired (APPROVAL_TTL_SECS): the answer came too late. Call the tool again without requestState to start over"
    )]
    Expired,
    #[error(
        "the requestState was already used: each one answers a single retry. Call the tool again without requestState to start over"
    )]
    Replayed,
    #[error(
        "the approval this requestState carries has lapsed (APPROVAL_TTL_SECS after it was given). Call the tool again without requestState to be asked anew"
    )]
    ApprovalLapsed,
    #[error(
        "the requestState was issued to another caller; only the caller it was issued to may answer with it"
    )]
    OtherPrincipal,
    #[error(
        "the requestState was issued for tool `{issued}`, not `{called}`; retry the call it was issued for"
    )]
    OtherTool { issued: String, called: String },
    #[error(
        "the arguments differ from those the requestState was issued for: an approval or answer holds only for the exact arguments shown. Call the tool again without requestState to ask anew"
    )]
    ArgumentsChanged,
    #[error(
        "the policies changed since the requestState was issued, so what was asked may no longer be what they require. Call the tool again without requestState to ask anew"
    )]
    PoliciesChanged,
    #[error(
        "the server holds as many answered requests as it may ({MAX_USED}); try again in a few minutes"
    )]
    Full,
    #[error(
        "this caller has answered {MAX_USED_PER_PRINCIPAL} requests within APPROVAL_TTL_SECS, the most it may; try again in a few minutes"
    )]
    TooManyForCaller,
    /// Replicas remember used states in Redis, which is unreachable, and
    /// `REDIS_FAILURE=closed`.
    #[error(
        "the requestState cannot be checked now: used states are remembered in Redis, which is unreachable (REDIS_FAILURE=closed); retry with the same requestState in a moment"
    )]
    Unavailable,
}

/// Seals and opens states, and remembers the ones used.
pub(crate) struct RequestStates {
    codec: RequestStateCodec,
    ttl: Duration,
    /// The states opened on this replica and not yet expired.
    used: Mutex<Used>,
    /// Where every replica remembers the states opened, with Redis.
    shared: Option<Arc<Shared>>,
}

/// The nonces of the states opened, oldest first, with how many each
/// principal holds. States expire in the order they are opened (one TTL
/// for all), so forgetting the expired ones is popping from the front.
#[derive(Default)]
struct Used {
    order: VecDeque<(Instant, String, String)>,
    nonces: HashSet<String>,
    per_principal: HashMap<String, usize>,
}

impl Used {
    fn forget_expired(&mut self, now: Instant) {
        while let Some((forget_at, _, _)) = self.order.front() {
            if *forget_at > now {
                break;
            }
            let Some((_, nonce, principal)) = self.order.pop_front() else {
                break;
            };
            self.nonces.remove(&nonce);
            if let Some(count) = self.per_principal.get_mut(&principal) {
                *count -= 1;
                if *count == 0 {
                    self.per_principal.remove(&principal);
                }
            }
        }
    }
}

impl RequestStates {
    /// States sealed with `key` that expire after `ttl`.
    pub(crate) fn new(key: &[u8], ttl: Duration) -> anyhow::Result<Self> {
        let codec = RequestStateCodec::try_new(key.to_vec())
            .map_err(|err| anyhow::anyhow!("APPROVAL_KEY: {err}; use at least 32 random bytes"))?;
        Ok(Self {
            codec,
            ttl,
            used: Mutex::default(),
            shared: None,
        })
    }

    /// The same states, each opened once across every replica that shares
    /// `shared`'s Redis (a state used on one replica is refused on all).
    pub(crate) fn shared_by(self, shared: Arc<Shared>) -> Self {
        Self {
            shared: Some(shared),
            ..self
        }
    }

    /// How long a state holds.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new state for the call `binding` names, recording `progress`.
    pub(crate) fn seal(&self, binding: &Binding, progress: &Progress) -> Result<String, String> {
        let nonce = oauth_kit::random_token().map_err(|err| err.to_string())?;
        let sealed = Sealed {
            principal: binding.principal.clone(),
            tool: binding.tool.clone(),
            arguments: binding.arguments.clone(),
            policies: binding.policies.clone(),
            nonce,
            approved: progress.approved,
            awaiting_approval: progress.awaiting_approval,
            answers: progress.answers.clone(),
            approved_until: progress.approved_until,
            pending: progress.pending.clone(),
        };
        let state = self
            .codec
            .seal_json_with(&sealed, &SealOptions::new().ttl(self.ttl))
            .map_err(|err| err.to_string())?;
        if state.len() > MAX_STATE_BYTES {
            return Err(format!(
                "the answers so far make a requestState of {} bytes, more than the {MAX_STATE_BYTES} the server accepts back",
                state.len()
            ));
        }
        Ok(state)
    }

    /// Opens `state` for the call `binding` names, once (on every replica,
    /// with Redis).
    pub(crate) async fn open(
        &self,
        state: &str,
        binding: &Binding,
    ) -> Result<Progress, StateRefusal> {
        if state.len() > MAX_STATE_BYTES {
            return Err(StateRefusal::TooLong(state.len()));
        }
        let sealed: Sealed = self.codec.open_json(state).map_err(|err| match err {
            RequestStateError::Expired => StateRefusal::Expired,
            _ => StateRefusal::Tampered,
        })?;
        if sealed.principal != binding.principal {
            return Err(StateRefusal::OtherPrincipal);
        }
        if sealed.tool != binding.tool {
            return Err(StateRefusal::OtherTool {
                issued: sealed.tool,
                called: binding.tool.clone(),
            });
        }
        if sealed.arguments != binding.arguments {
            return Err(StateRefusal::ArgumentsChanged);
        }
        if sealed.policies != binding.policies {
            return Err(StateRefusal::PoliciesChanged);
        }
        if sealed.approved && sealed.approved_until.is_none_or(|until| until < unix_now()) {
            return Err(StateRefusal::ApprovalLapsed);
        }
        if let Some(shared) = &self.shared {
            // Kept until the state has expired for sure, as below.
            let keep = self.ttl + Duration::from_secs(1);
            match shared.use_once("request-state", &sealed.nonce, keep).await {
                Ok(true) => {}
                Ok(false) => return Err(StateRefusal::Replayed),
                Err(_) => return Err(StateRefusal::Unavailable),
            }
        }
        self.use_once(sealed.nonce, sealed.principal)?;
        Ok(Progress {
            approved: sealed.approved,
            awaiting_approval: sealed.awaiting_approval,
            answers: sealed.answers,
            approved_until: sealed.approved_until,
            pending: sealed.pending,
        })
    }

    /// Records `nonce` as used by `principal`, refusing it if it already
    /// was.
    fn use_once(&self, nonce: String, principal: String) -> Result<(), StateRefusal> {
        let now = Instant::now();
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.forget_expired(now);
        if used.nonces.contains(&nonce) {
            return Err(StateRefusal::Replayed);
        }
        if used.nonces.len() >= MAX_USED {
            return Err(StateRefusal::Full);
        }
        let held = used.per_principal.entry(principal.clone()).or_default();
        if *held >= MAX_USED_PER_PRINCIPAL {
            return Err(StateRefusal::TooManyForCaller);
        }
        *held += 1;
        // Kept until the state has expired for sure: the codec's expiry
        // is in whole seconds.
        let forget_at = now
            .checked_add(self.ttl + Duration::from_secs(1))
            .unwrap_or(now);
        used.nonces.insert(nonce.clone());
        used.order.push_back((forget_at, nonce, principal));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn states(ttl: Duration) -> RequestStates {
        RequestStates::new(&[7u8; 32], ttl).expect("key")
    }

    fn binding(tool: &str, arguments: &Value) -> Binding {
        Binding {
            principal: "[\"user\",\"U1\",null]".to_owned(),
            tool: tool.to_owned(),
            arguments: arguments_digest(arguments),
            policies: "sha256:aa".to_owned(),
        }
    }

    fn approved() -> Progress {
        let mut progress = Progress::default();
        progress.approve(Duration::from_secs(60));
        progress
    }

    #[tokio::test]
    async fn a_state_opens_once_for_the_call_it_was_sealed_for() {
        let states = states(Duration::from_secs(60));
        let call = binding("deploy_plan", &json!({"environment": "production"}));
        let state = states.seal(&call, &approved()).expect("seal");
        assert_eq!(states.open(&state, &call).await, Ok(approved()));
        assert_eq!(
            states.open(&state, &call).await,
            Err(StateRefusal::Replayed)
        );
    }

    #[tokio::test]
    async fn every_way_of_retargeting_a_state_is_refused_by_name() {
        let states = states(Duration::from_secs(60));
        let arguments = json!({"environment": "production", "replicas": 3});
        let call = binding("deploy_plan", &arguments);
        let seal = || states.seal(&call, &approved()).expect("seal");
        let other_principal = Binding {
            principal: "[\"user\",\"U2\",null]".to_owned(),
            ..call.clone()
        };
        assert_eq!(
            states.open(&seal(), &other_principal).await,
            Err(StateRefusal::OtherPrincipal)
        );
        assert_eq!(
            states.open(&seal(), &binding("ping", &arguments)).await,
            Err(StateRefusal::OtherTool {
                issued: "deploy_plan".to_owned(),
                called: "ping".to_owned()
            })
        );
        let changed = binding(
            "deploy_plan",
            &json!({"environment": "production", "replicas": 4}),
        );
        assert_eq!(
            states.open(&seal(), &changed).await,
            Err(StateRefusal::ArgumentsChanged)
        );
        let reloaded = Binding {
            policies: "sha256:bb".to_owned(),
            ..call.clone()
        };
        assert_eq!(
            states.open(&seal(), &reloaded).await,
            Err(StateRefusal::PoliciesChanged)
        );
        let mut tampered = seal();
        tampered.push('x');
        assert_eq!(
            states.open(&tampered, &call).await,
            Err(StateRefusal::Tampered)
        );
        let other_key = RequestStates::new(&[8u8; 32], Duration::from_secs(60)).expect("key");
        assert_eq!(
            other_key.open(&seal(), &call).await,
            Err(StateRefusal::Tampered)
        );
        assert_eq!(
            states.open(&"a".repeat(MAX_STATE_BYTES + 1), &call).await,
            Err(StateRefusal::TooLong(MAX_STATE_BYTES + 1))
        );
    }

    #[tokio::test]
    async fn one_caller_cannot_use_up_the_room_for_everyone_else() {
        let states = states(Duration::from_secs(60));
        let call = binding("deploy_plan", &json!({}));
        for _ in 0..MAX_USED_PER_PRINCIPAL {
            let state = states.seal(&call, &approved()).expect("seal");
            assert!(states.open(&state, &call).await.is_ok());
        }
        let state = states.seal(&call, &approved()).expect("seal");
        assert_eq!(
            states.open(&state, &call).await,
            Err(StateRefusal::TooManyForCaller)
        );
        let other = Binding {
            principal: "[\"user\",\"U3\",null]".to_owned(),
            ..call
        };
        let state = states.seal(&other, &approved()).expect("seal");
        assert!(states.open(&state, &other).await.is_ok());
    }

    #[tokio::test]
    async fn an_approval_carried_forward_keeps_its_first_expiry() {
        let states = states(Duration::from_secs(60));
        let call = binding("deploy_plan", &json!({}));
        let lapsed = Progress {
            approved: true,
            approved_until: Some(unix_now() - 1),
            ..Progress::default()
        };
        let state = states.seal(&call, &lapsed).expect("seal");
        assert_eq!(
            states.open(&state, &call).await,
            Err(StateRefusal::ApprovalLapsed)
        );
        let unbounded = Progress {
            approved: true,
            ..Progress::default()
        };
        let state = states.seal(&call, &unbounded).expect("seal");
        assert_eq!(
            states.open(&state, &call).await,
            Err(StateRefusal::ApprovalLapsed)
        );
    }

    #[tokio::test]
    async fn an_expired_state_is_refused() {
        let states = states(Duration::from_secs(1));
        let call = binding("deploy_plan", &json!({}));
        let state = states.seal(&call, &approved()).expect("seal");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(states.open(&state, &call).await, Err(StateRefusal::Expired));
    }

    #[tokio::test]
    async fn the_arguments_digest_ignores_key_order_but_not_values() {
        let one: Value =
            serde_json::from_str(r#"{"a": 1, "b": {"c": [1, "2"], "d": null}}"#).expect("json");
        let other: Value =
            serde_json::from_str(r#"{"b": {"d": null, "c": [1, "2"]}, "a": 1}"#).expect("json");
        assert_eq!(arguments_digest(&one), arguments_digest(&other));
        for changed in [
            json!({"a": 2, "b": {"c": [1, "2"], "d": null}}),
            json!({"a": 1, "b": {"c": [1, 2], "d": null}}),
            json!({"a": 1, "b": {"c": ["2", 1], "d": null}}),
            json!({"a": 1, "b": {"c": [1, "2"]}}),
            json!({"a": "1", "b": {"c": [1, "2"], "d": null}}),
        ] {
            assert_ne!(
                arguments_digest(&one),
                arguments_digest(&changed),
                "{changed}"
            );
        }
    }
}
