//! Cedar policies: who may call which tool.
//!
//! [`PolicyEngine::load_dir`] reads `schema.cedarschema` and every `*.cedar`
//! file in a directory, requires an `@id` on every policy, and validates the
//! whole set against the schema in strict mode. [`PolicyEngine::decide`]
//! answers one question (may this principal do this action on this tool?)
//! with Cedar's default deny: nothing is allowed unless a policy permits it.
//!
//! The scope catalogue ([`ScopeInfo`]) is read from the policies' `@scope`
//! and `@description` annotations; nothing else in the project lists scopes.
//!
//! This is the only crate that decides with Cedar, and it does no network I/O.

mod catalogue;
mod context;
mod entities;
mod error;
mod load;
mod prepare;
mod references;
mod slice;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use cedar_policy::EntityUid;
use core_auth::Principal;

pub use catalogue::ScopeInfo;
pub use context::RequestContext;
pub use error::{CedarDiagnostic, PolicyError, ScopeConflict};
pub use references::{Reference, References};

use entities::{Subject, ToolEntities};
use prepare::Prepared;

/// What a request is about, as the policies see it: a tool, a resource or
/// a prompt, and the plugin that provides it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Tool, resource or prompt.
    pub kind: Kind,
    /// The tool's name (`ping`), the resource's URI (or, for a resource
    /// read through a template, the template as written), or the prompt's
    /// name.
    pub name: String,
    /// The plugin that provides it (`core-tools`; `server` for the server's
    /// own).
    pub plugin: String,
    /// MCP `readOnlyHint`; always true for resources and prompts, which
    /// only read.
    pub read_only: bool,
    /// MCP `destructiveHint`; always false for resources and prompts.
    pub destructive: bool,
}

/// What kind of thing a [`Target`] is: the Cedar entity type it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `Tool::"<name>"`, with `read_only` and `destructive`.
    Tool,
    /// `Resource::"<uri or template>"`.
    Resource,
    /// `Prompt::"<name>"`.
    Prompt,
    /// `Console::"admin"`: the server's admin console.
    Console,
}

impl Kind {
    /// The Cedar entity type.
    pub fn entity_type(self) -> &'static str {
        match self {
            Self::Tool => "Tool",
            Self::Resource => "Resource",
            Self::Prompt => "Prompt",
            Self::Console => "Console",
        }
    }

    /// The word for it in messages and decision records (`tool`).
    pub fn noun(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
            Self::Console => "console",
        }
    }
}

/// The plugin name the server's own tools carry.
pub const SERVER_PLUGIN: &str = "server";

/// The name of the one [`Kind::Console`] entity.
pub const CONSOLE: &str = "admin";

/// The server's own tools: decided with [`Action::Admin`] and provided by
/// [`SERVER_PLUGIN`].
pub const SERVER_TOOLS: [&str; 4] = [
    "audit_log",
    "reload_policies",
    "revoke_tokens",
    "server_config",
];

impl Target {
    /// A resource (by URI, or by template for a templated read) or a
    /// prompt of `plugin`.
    pub fn item(kind: Kind, name: &str, plugin: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            plugin: plugin.to_owned(),
            read_only: true,
            destructive: false,
        }
    }

    /// The action the request asks for: [`Action::Admin`] for anything the
    /// server itself provides, else [`Action::Call`] for a tool,
    /// [`Action::Read`] for a resource and [`Action::Get`] for a prompt.
    pub fn action(&self) -> Action {
        if self.plugin == SERVER_PLUGIN {
            return Action::Admin;
        }
        match self.kind {
            Kind::Tool => Action::Call,
            Kind::Resource => Action::Read,
            Kind::Prompt => Action::Get,
            Kind::Console => Action::Admin,
        }
    }

    /// The server's admin console (`Console::"admin"`), decided with
    /// [`Action::Admin`].
    pub fn console() -> Self {
        Self::item(Kind::Console, CONSOLE, SERVER_PLUGIN)
    }

    /// How a tool known only by name is seen: a server tool when
    /// [`SERVER_TOOLS`] lists it, else a plugin tool with no hints. For
    /// tooling that decides without loading plugins.
    pub fn by_name(name: &str) -> Self {
        let server = SERVER_TOOLS.contains(&name);
        Self {
            kind: Kind::Tool,
            name: name.to_owned(),
            plugin: if server { SERVER_PLUGIN } else { "" }.to_owned(),
            read_only: false,
            destructive: !server,
        }
    }
}

/// The actions a policy can permit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Calling a plugin's tool, or seeing it listed.
    Call,
    /// Using one of the server's own tools or resources, or seeing it
    /// listed.
    Admin,
    /// Reading a plugin's resource, or seeing it listed.
    Read,
    /// Getting a plugin's prompt, or seeing it listed.
    Get,
    /// Letting a plugin's tool ask the client's model for a completion
    /// (MCP sampling): spending the user's model, which an operator allows
    /// per tool.
    Sample,
}

impl Action {
    /// Every action, in the order the schema declares them.
    pub const ALL: [Self; 5] = [Self::Call, Self::Admin, Self::Read, Self::Get, Self::Sample];

    /// What the action applies to.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Self::Call => &[Kind::Tool],
            Self::Admin => &[Kind::Tool, Kind::Resource, Kind::Console],
            Self::Read => &[Kind::Resource],
            Self::Get => &[Kind::Prompt],
            Self::Sample => &[Kind::Tool],
        }
    }

    /// The action's name in the policies (`Action::"call"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::Admin => "admin",
            Self::Read => "read",
            Self::Get => "get",
            Self::Sample => "sample",
        }
    }
}

/// The outcome of one authorisation question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// True when some policy permits and none forbids.
    pub allowed: bool,
    /// The `@id`s of the policies that decided: the permits that allowed it,
    /// or the forbids that denied it (empty for a default deny).
    pub policies: Vec<String>,
    /// Errors Cedar met while evaluating policies (such policies are
    /// skipped), or why the request could not be put to Cedar at all.
    pub errors: Vec<String>,
    /// For a denial: the scopes any one of which would have allowed the call,
    /// all else equal. Empty when allowed, or when no scope would help.
    pub accepted_scopes: Vec<String>,
    /// For a denial that the caller's user could lift by approving the call
    /// (the same request with `context.approved` true is allowed): the
    /// policies that would then allow it. Empty otherwise.
    pub approval_policies: Vec<String>,
}

impl Decision {
    /// Whether the call is denied only until a person approves it.
    pub fn needs_approval(&self) -> bool {
        !self.allowed && !self.approval_policies.is_empty()
    }
}

impl Decision {
    fn refused(reason: String) -> Self {
        Self {
            allowed: false,
            policies: Vec::new(),
            errors: vec![reason],
            accepted_scopes: Vec::new(),
            approval_policies: Vec::new(),
        }
    }
}

/// The caches' maps: keyed by verified principals and tools, hashed fast.
pub(crate) type FastMap<K, V> = foldhash::HashMap<K, V>;

/// How many principals and slices the caches keep before starting over.
/// Both are rebuilt on demand, so the bound only limits memory.
const CACHE_CAPACITY: usize = 4096;

/// How many prepared (principal, action, tool) triples are kept.
const PREPARED_CAPACITY: usize = 16_384;

/// A cache key made of `Arc` addresses, holding the `Arc`s themselves so
/// that no address can be reused by another value while the entry lives.
/// Hashing and comparing only the addresses makes a lookup touch neither
/// the principal nor the tool, which on a large set are rarely in cache.
struct Pinned<K, O> {
    addresses: K,
    _owners: O,
}

/// A verified principal.
type SubjectKey = Pinned<usize, Arc<Principal>>;

/// A verified principal, an action and a tool.
type PreparedKey = Pinned<(usize, usize, Action), (Arc<Principal>, Arc<Target>)>;

fn address<T>(shared: &Arc<T>) -> usize {
    Arc::as_ptr(shared).addr()
}

impl<K: std::hash::Hash, O> std::hash::Hash for Pinned<K, O> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addresses.hash(state);
    }
}

impl<K: PartialEq, O> PartialEq for Pinned<K, O> {
    fn eq(&self, other: &Self) -> bool {
        self.addresses == other.addresses
    }
}

impl<K: Eq, O> Eq for Pinned<K, O> {}

impl<K, O> std::borrow::Borrow<K> for Pinned<K, O> {
    fn borrow(&self) -> &K {
        &self.addresses
    }
}

/// The policies that can apply to one action on one tool, with the tool's
/// entities.
pub(crate) struct Slice {
    pub(crate) cut: slice::Cut,
    pub(crate) tool: ToolEntities,
    /// The catalogue scopes the slice's policies mention: the only ones
    /// that could turn a denial into an allow.
    scopes: Vec<String>,
}

/// A validated policy set, ready to answer questions.
pub struct PolicyEngine {
    loaded: load::LoadedPolicies,
    catalogue: Vec<ScopeInfo>,
    references: References,
    index: slice::SliceIndex,
    /// Every action's uid, in [`Action::ALL`] order.
    action_uids: Vec<EntityUid>,
    subjects: Mutex<FastMap<SubjectKey, Arc<Subject>>>,
    prepared: RwLock<FastMap<PreparedKey, Arc<Prepared>>>,
    /// Per action (in [`Action::ALL`] order), the slice for each tool.
    slices: [RwLock<FastMap<Target, Arc<Slice>>>; 5],
    contexts: context::ContextCache,
    /// The set with its shadow policies promoted, when it has any.
    shadow: Option<Box<PolicyEngine>>,
}

impl PolicyEngine {
    /// Loads and validates the policies in `dir`.
    ///
    /// The directory must hold `schema.cedarschema` and at least one `*.cedar`
    /// file. Every error names the file, and the line where Cedar gives one.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let loaded = load::load_dir(dir)?;
        let schema_file = dir.join(load::SCHEMA_FILE);
        let action_uids = Action::ALL
            .iter()
            .map(|action| entities::uid("Action", action.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| PolicyError::schema(&schema_file, message))?;
        entities::check_schema(&loaded.schema, &schema_file)?;
        let applies: Vec<(EntityUid, &[Kind])> = action_uids
            .iter()
            .cloned()
            .zip(Action::ALL.iter().map(|action| action.kinds()))
            .collect();
        context::check_schema(&loaded.schema, &schema_file, &loaded.arguments, &applies)?;
        // The shadow set: the enforced policies with the shadow ones added,
        // as the set would be if they were promoted.
        let shadow = if loaded.shadow.is_empty() {
            None
        } else {
            let mut promoted = loaded.clone();
            for policy in loaded.shadow.policies() {
                promoted
                    .policies
                    .add(policy.clone())
                    .map_err(|err| PolicyError::schema(&schema_file, err.to_string()))?;
            }
            promoted.shadow = cedar_policy::PolicySet::new();
            Some(Box::new(Self::from_loaded(
                promoted,
                action_uids.clone(),
                None,
            )?))
        };
        Self::from_loaded(loaded, action_uids, shadow)
    }

    fn from_loaded(
        loaded: load::LoadedPolicies,
        action_uids: Vec<EntityUid>,
        shadow: Option<Box<Self>>,
    ) -> Result<Self, PolicyError> {
        let catalogue = catalogue::read(&loaded)?;
        let references = references::read(&loaded);
        let index = slice::SliceIndex::new(&loaded.policies, &loaded.schema);
        Ok(Self {
            loaded,
            catalogue,
            references,
            index,
            action_uids,
            subjects: Mutex::default(),
            prepared: RwLock::default(),
            slices: Default::default(),
            contexts: context::ContextCache::default(),
            shadow,
        })
    }

    /// The arguments in `arguments` that the schema lets policies see: the
    /// part of a call's arguments a decision can depend on.
    pub fn declared_arguments(
        &self,
        arguments: &serde_json::Value,
    ) -> serde_json::Map<String, serde_json::Value> {
        self.loaded.arguments.pick(arguments)
    }

    /// The `@id`s of the shadow policies (`@mode("shadow")`), ordered:
    /// evaluated beside the enforced ones, never deciding.
    pub fn shadow_policies(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .loaded
            .shadow
            .policies()
            .filter_map(|policy| policy.annotation("id"))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// What the set would decide with its shadow policies promoted; `None`
    /// when it has none. Never changes a decision: it is for the audit log
    /// to show where they would.
    pub fn shadow_decide(
        &self,
        principal: &Arc<Principal>,
        action: Action,
        tool: &Arc<Target>,
        context: &RequestContext<'_>,
    ) -> Option<Decision> {
        let shadow = self.shadow.as_ref()?;
        Some(shadow.evaluate(principal, action, tool, context))
    }

    /// A hash of the schema and every policy file (names and contents), so
    /// operators can tell which policy set a server runs.
    pub fn hash(&self) -> &str {
        &self.loaded.hash
    }

    /// The schema and every policy file as they were loaded, by file name:
    /// the policies this engine decides by, whatever the files hold now.
    pub fn files(&self) -> &[(String, String)] {
        &self.loaded.texts
    }

    /// The enforced policies as Cedar holds them (shadow ones left out): for
    /// tools that reason about the set as a whole, such as a symbolic
    /// comparison of two sets.
    pub fn cedar_policies(&self) -> &cedar_policy::PolicySet {
        &self.loaded.policies
    }

    /// The schema the policies were validated against.
    pub fn cedar_schema(&self) -> &cedar_policy::Schema {
        &self.loaded.schema
    }

    /// How many policies are loaded and enforced (shadow ones not counted).
    pub fn policy_count(&self) -> usize {
        self.loaded.policies.policies().count()
    }

    /// The scope catalogue, ordered by scope name.
    pub fn scopes(&self) -> &[ScopeInfo] {
        &self.catalogue
    }

    /// The scopes the policies' conditions test for and the roles they
    /// name, with where: what a deployment must provide for the policies
    /// to mean what they say.
    pub fn references(&self) -> &References {
        &self.references
    }

    /// Where policy `id` is: its file, and the line of its `@id` when known.
    pub fn location(&self, id: &str) -> Option<(&Path, Option<usize>)> {
        let file = self.loaded.files.get(id)?;
        Some((file.as_path(), self.loaded.lines.get(id).copied()))
    }

    /// Decides whether `principal` may do `action` on `tool` in `context`.
    ///
    /// Never fails: anything that keeps Cedar from answering (an argument of
    /// the wrong type, say) is a denial with the reason in `errors`.
    ///
    /// The work that does not depend on the context is done once per
    /// principal and tool and kept, keyed by the `Arc`s themselves: pass the
    /// `Arc` the verifier returned for a token, and one `Arc` per tool, to
    /// reuse it. An equal principal in another `Arc` is decided the same,
    /// with that work done again.
    pub fn decide(
        &self,
        principal: &Arc<Principal>,
        action: Action,
        tool: &Arc<Target>,
        context: &RequestContext<'_>,
    ) -> Decision {
        let mut decision = self.evaluate(principal, action, tool, context);
        if !decision.allowed {
            decision.accepted_scopes = self.accepted_scopes(principal, action, tool, context);
            if !context.approved {
                // Asking Cedar again, as for scopes: exact whatever the
                // policies say, and only paid on the denial path.
                let approved = context.clone().with_approval(true);
                let with_approval = self.evaluate(principal, action, tool, &approved);
                if with_approval.allowed {
                    decision.approval_policies = with_approval.policies;
                }
            }
        }
        decision
    }

    /// True when `principal` may do `action` on `tool`; the cheap form of
    /// [`Self::decide`] for filtering lists, without denial details.
    pub fn is_allowed(
        &self,
        principal: &Arc<Principal>,
        action: Action,
        tool: &Arc<Target>,
        context: &RequestContext<'_>,
    ) -> bool {
        self.evaluate(principal, action, tool, context).allowed
    }

    /// True when a policy that can apply to `action` on `tool` may look at
    /// the call's arguments, so the decision must wait for them. When false,
    /// a decision made without arguments is final.
    pub fn reads_arguments(&self, action: Action, tool: &Target) -> bool {
        self.slice(action, tool)
            .map_or(true, |slice| slice.cut.reads_arguments)
    }

    fn evaluate(
        &self,
        principal: &Arc<Principal>,
        action: Action,
        tool: &Arc<Target>,
        context: &RequestContext<'_>,
    ) -> Decision {
        match self.prepared(principal, action, tool) {
            Ok(prepared) => self.decide_prepared(&prepared, principal, context),
            Err(reason) => Decision::refused(reason),
        }
    }

    fn decide_prepared(
        &self,
        prepared: &Prepared,
        principal: &Principal,
        context: &RequestContext<'_>,
    ) -> Decision {
        // Built even when no condition reads it: an argument of the wrong
        // type is refused whatever the policies say.
        match self
            .contexts
            .build(context, principal.tenant.as_deref(), &self.loaded.arguments)
        {
            Ok(context) => prepared.decide(&context),
            Err(reason) => Decision::refused(reason),
        }
    }

    fn action_uid(&self, action: Action) -> &EntityUid {
        &self.action_uids[action as usize]
    }

    /// What deciding `action` on `tool` for `principal` needs besides the
    /// context, prepared once per principal, action and tool.
    fn prepared(
        &self,
        principal: &Arc<Principal>,
        action: Action,
        tool: &Arc<Target>,
    ) -> Result<Arc<Prepared>, String> {
        let addresses = (address(principal), address(tool), action);
        if let Some(prepared) = self
            .prepared
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addresses)
        {
            return Ok(Arc::clone(prepared));
        }
        let subject = self.subject(principal)?;
        let prepared = Arc::new(self.prepare(&subject, action, tool)?);
        let mut cache = self
            .prepared
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= PREPARED_CAPACITY {
            cache.clear();
        }
        cache.insert(
            PreparedKey {
                addresses,
                _owners: (Arc::clone(principal), Arc::clone(tool)),
            },
            Arc::clone(&prepared),
        );
        Ok(prepared)
    }

    /// Narrows the slice for `action` on `tool` to `subject`.
    fn prepare(
        &self,
        subject: &Subject,
        action: Action,
        tool: &Target,
    ) -> Result<Prepared, String> {
        let slice = self.slice(action, tool)?;
        Prepared::new(
            &subject.uid,
            self.action_uid(action),
            &slice.tool.uid,
            entities::join(subject, &slice.tool)?,
            &slice.cut,
        )
    }

    /// The principal's entities, built once per verified principal.
    fn subject(&self, principal: &Arc<Principal>) -> Result<Arc<Subject>, String> {
        let mut subjects = self.subjects.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(subject) = subjects.get(&address(principal)) {
            return Ok(Arc::clone(subject));
        }
        let subject = Arc::new(Subject::build(principal, &self.loaded.schema)?);
        if subjects.len() >= CACHE_CAPACITY {
            subjects.clear();
        }
        subjects.insert(
            SubjectKey {
                addresses: address(principal),
                _owners: Arc::clone(principal),
            },
            Arc::clone(&subject),
        );
        Ok(subject)
    }

    /// The policies that can apply to `action` on `tool`, cut once per tool.
    fn slice(&self, action: Action, tool: &Target) -> Result<Arc<Slice>, String> {
        let slices = &self.slices[action as usize];
        if let Some(slice) = slices
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tool)
        {
            return Ok(Arc::clone(slice));
        }
        let cut = self.index.cut(self.action_uid(action), tool);
        let scopes = self
            .catalogue
            .iter()
            .filter(|scope| cut.literals.contains(&scope.name))
            .map(|scope| scope.name.clone())
            .collect();
        let slice = Arc::new(Slice {
            tool: ToolEntities::build(tool, &self.loaded.schema)?,
            cut,
            scopes,
        });
        let mut slices = slices.write().unwrap_or_else(PoisonError::into_inner);
        if slices.len() >= CACHE_CAPACITY {
            slices.clear();
        }
        slices.insert(tool.clone(), Arc::clone(&slice));
        Ok(slice)
    }

    /// The catalogue scopes that, added to `principal`, would allow the call.
    ///
    /// Asking Cedar again per scope is exact whatever the policies say (roles,
    /// tenants, forbids), and only costs anything on the denial path; only
    /// the scopes the slice's policies mention can make a difference.
    fn accepted_scopes(
        &self,
        principal: &Principal,
        action: Action,
        tool: &Target,
        context: &RequestContext<'_>,
    ) -> Vec<String> {
        let Ok(slice) = self.slice(action, tool) else {
            return Vec::new();
        };
        let mut accepted = BTreeSet::new();
        for scope in &slice.scopes {
            if principal.has_scope(scope) {
                continue;
            }
            let mut with_scope = principal.clone();
            with_scope.scopes.insert(scope.clone());
            // Not through the caches: these principals are hypothetical.
            let Ok(prepared) = Subject::build(&with_scope, &self.loaded.schema)
                .and_then(|subject| self.prepare(&subject, action, tool))
            else {
                continue;
            };
            if self
                .decide_prepared(&prepared, &with_scope, context)
                .allowed
            {
                accepted.insert(scope.clone());
            }
        }
        accepted.into_iter().collect()
    }
}

#[cfg(test)]
mod tests;
