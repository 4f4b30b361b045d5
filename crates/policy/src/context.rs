//! The request context a policy sees: arguments, client address, time and
//! tenant.
//!
//! Built without going through Cedar's schema-directed JSON parser (the
//! costliest step of a decision): the argument types are read from the
//! schema once, when the set is loaded, and checked here; the whole shape is
//! checked against the schema at load time by [`check_schema`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use cedar_policy::{Context, EntityUid, Request, RestrictedExpression, Schema, SchemaFragment};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde_json::{Map, Value};

use crate::PolicyError;

/// The facts about one request besides its principal and tool.
///
/// The arguments may be borrowed, so deciding a call does not copy a large
/// argument (a whole source file, say) that the policies never look at.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestContext<'a> {
    /// The tool call's arguments (a JSON object; anything else counts as no
    /// arguments). Only the fields the schema's `Arguments` type declares
    /// reach the policies.
    pub arguments: Cow<'a, Value>,
    /// The caller's network address, when the transport has one.
    pub client_address: Option<IpAddr>,
    /// When the request arrived. Policies see it to the second.
    pub time: DateTime<Utc>,
    /// Whether a person approved this very call (`context.approved`): the
    /// caller's user accepted an approval form bound to its arguments.
    pub approved: bool,
}

impl RequestContext<'static> {
    /// A context for a request arriving now, with no arguments.
    pub fn now() -> Self {
        Self {
            arguments: Cow::Owned(Value::Object(Map::new())),
            client_address: None,
            time: Utc::now(),
            approved: false,
        }
    }
}

impl<'a> RequestContext<'a> {
    /// The same context with these arguments.
    #[must_use]
    pub fn with_arguments(self, arguments: Value) -> RequestContext<'a> {
        RequestContext {
            arguments: Cow::Owned(arguments),
            ..self
        }
    }

    /// The same context with these arguments, borrowed.
    #[must_use]
    pub fn borrowing_arguments<'b>(self, arguments: &'b Value) -> RequestContext<'b> {
        RequestContext {
            arguments: Cow::Borrowed(arguments),
            client_address: self.client_address,
            time: self.time,
            approved: self.approved,
        }
    }

    /// The same context, approved (or not) by the caller's user.
    #[must_use]
    pub fn with_approval(mut self, approved: bool) -> Self {
        self.approved = approved;
        self
    }

    /// The same context with this client address.
    #[must_use]
    pub fn with_client_address(mut self, address: Option<IpAddr>) -> Self {
        self.client_address = address;
        self
    }
}

/// The Cedar type of a declared argument.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ArgumentType {
    String,
    Long,
    Bool,
    Set(Box<ArgumentType>),
}

impl ArgumentType {
    /// Reads a type from the schema's JSON form.
    fn read(json: &Value) -> Option<Self> {
        let kind = json.get("type").and_then(Value::as_str)?;
        let name = match kind {
            "EntityOrCommon" => json.get("name").and_then(Value::as_str)?,
            other => other,
        };
        match name.trim_start_matches("__cedar::") {
            "String" => Some(Self::String),
            "Long" => Some(Self::Long),
            "Bool" | "Boolean" => Some(Self::Bool),
            "Set" => Some(Self::Set(Box::new(Self::read(json.get("element")?)?))),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::String => "String".to_owned(),
            Self::Long => "Long".to_owned(),
            Self::Bool => "Bool".to_owned(),
            Self::Set(element) => format!("Set<{}>", element.describe()),
        }
    }

    /// The argument as a Cedar value, or why it does not fit.
    fn convert(&self, value: &Value) -> Result<RestrictedExpression, String> {
        match (self, value) {
            (Self::String, Value::String(text)) => {
                Ok(RestrictedExpression::new_string(text.clone()))
            }
            (Self::Long, Value::Number(number)) if number.as_i64().is_some() => Ok(
                RestrictedExpression::new_long(number.as_i64().unwrap_or_default()),
            ),
            (Self::Bool, Value::Bool(flag)) => Ok(RestrictedExpression::new_bool(*flag)),
            (Self::Set(element), Value::Array(items)) => Ok(RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|item| element.convert(item))
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            _ => Err(format!(
                "is {}, but the policy schema declares {}",
                json_kind(value),
                self.describe()
            )),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_i64() => "an integer",
        Value::Number(_) => "a number that is not a 64-bit integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array (or an array with an element of another type)",
        Value::Object(_) => "an object",
    }
}

/// The argument fields the schema's `Arguments` type declares.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeclaredArguments {
    /// Name, type, and whether the schema requires it.
    fields: Vec<(String, ArgumentType, bool)>,
}

impl DeclaredArguments {
    /// Reads the `Arguments` common type from the schema text. Types other
    /// than String, Long, Bool and sets of them are refused: a tool's
    /// arguments are JSON, and only these map onto Cedar without guessing.
    pub(crate) fn read(schema_text: &str) -> Result<Self, String> {
        let json = SchemaFragment::from_cedarschema_str(schema_text)
            .map_err(|err| err.to_string())
            .and_then(|(fragment, _)| fragment.to_json_value().map_err(|err| err.to_string()))?;
        let mut fields = Vec::new();
        if let Value::Object(namespaces) = json {
            for namespace in namespaces.values() {
                let Some(Value::Object(attributes)) =
                    namespace.pointer("/commonTypes/Arguments/attributes")
                else {
                    continue;
                };
                for (name, declared) in attributes {
                    let kind = ArgumentType::read(declared).ok_or_else(|| {
                        format!(
                            "argument `{name}` in type Arguments: only String, Long, Bool and \
                             Set<…> of them can be declared for tool arguments"
                        )
                    })?;
                    let required = declared
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    fields.push((name.clone(), kind, required));
                }
            }
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { fields })
    }

    /// The declared arguments present in `arguments`, as given (whatever
    /// their type): what a decision could have looked at.
    pub(crate) fn pick(&self, arguments: &Value) -> Map<String, Value> {
        let Some(given) = arguments.as_object() else {
            return Map::new();
        };
        self.fields
            .iter()
            .filter_map(|(name, _, _)| Some((name.clone(), given.get(name)?.clone())))
            .collect()
    }

    /// The declared arguments present in `arguments`, in declaration
    /// order, with their types; an error for a required one that is missing.
    fn present<'a>(
        &'a self,
        arguments: &'a Value,
    ) -> Result<Vec<(&'a str, &'a ArgumentType, &'a Value)>, String> {
        let Some(given) = arguments.as_object() else {
            return self.require_none_missing(&Map::new()).map(|()| Vec::new());
        };
        self.require_none_missing(given)?;
        Ok(self
            .fields
            .iter()
            .filter_map(|(name, kind, _)| Some((name.as_str(), kind, given.get(name)?)))
            .collect())
    }

    fn require_none_missing(&self, given: &Map<String, Value>) -> Result<(), String> {
        match self
            .fields
            .iter()
            .find(|(name, _, required)| *required && !given.contains_key(name))
        {
            Some((name, _, _)) => Err(format!(
                "argument `{name}` is missing, but the policy schema requires it"
            )),
            None => Ok(()),
        }
    }
}

/// The declared arguments of one call as Cedar values.
fn convert(present: &[(&str, &ArgumentType, &Value)]) -> Result<RestrictedExpression, String> {
    let record = present
        .iter()
        .map(|(name, kind, value)| {
            kind.convert(value)
                .map(|converted| ((*name).to_owned(), converted))
                .map_err(|why| format!("argument `{name}` {why}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    RestrictedExpression::new_record(record).map_err(|err| format!("arguments: {err}"))
}

/// What makes two contexts the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ContextKey {
    second: i64,
    client_address: Option<IpAddr>,
    tenant: Option<String>,
    approved: bool,
    /// The declared arguments present, by name.
    arguments: Vec<(String, Value)>,
}

impl ContextKey {
    fn matches(
        &self,
        second: i64,
        address: Option<IpAddr>,
        tenant: Option<&str>,
        approved: bool,
        arguments: &[(&str, &ArgumentType, &Value)],
    ) -> bool {
        self.second == second
            && self.approved == approved
            && self.client_address == address
            && self.tenant.as_deref() == tenant
            && self.arguments.len() == arguments.len()
            && self.arguments.iter().zip(arguments).all(
                |((name, value), (given_name, _, given))| name == given_name && value == *given,
            )
    }
}

/// Contexts built in the current second, reused by identical requests.
///
/// Cedar evaluates the `datetime` and `ipaddr` constructors each time a
/// context is built, which costs more than the rest of a decision; requests
/// from one client in one second share them. The cache holds one second's
/// worth and is bounded. It is keyed by a hash of the parts so that a hit
/// allocates nothing; the stored key settles collisions.
#[derive(Default)]
pub(crate) struct ContextCache {
    hasher: foldhash::fast::RandomState,
    entries: Mutex<SecondOfContexts>,
}

/// The second the entries belong to, and the entries by fingerprint.
type SecondOfContexts = (i64, HashMap<u64, (ContextKey, Context)>);

const CONTEXT_CACHE_CAPACITY: usize = 1024;

impl ContextCache {
    /// The Cedar context for a request, typed as the schema declares.
    ///
    /// Errors (an argument of the wrong type) say which argument is wrong.
    pub(crate) fn build(
        &self,
        request: &RequestContext<'_>,
        tenant: Option<&str>,
        declared: &DeclaredArguments,
    ) -> Result<Context, String> {
        let present = declared.present(&request.arguments)?;
        let second = request.time.timestamp();
        let fingerprint = {
            use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
            let mut state = self.hasher.build_hasher();
            (second, request.client_address, tenant, request.approved).hash(&mut state);
            for (name, _, value) in &present {
                name.hash(&mut state);
                hash_json(value, &mut state);
            }
            state.finish()
        };
        {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((key, context)) = entries.1.get(&fingerprint)
                && entries.0 == second
                && key.matches(
                    second,
                    request.client_address,
                    tenant,
                    request.approved,
                    &present,
                )
            {
                return Ok(context.clone());
            }
        }
        let mut pairs = vec![
            ("arguments".to_owned(), convert(&present)?),
            (
                "time".to_owned(),
                RestrictedExpression::new_datetime(
                    request
                        .time
                        .trunc_subsecs(0)
                        .to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
            ),
        ];
        pairs.push((
            "approved".to_owned(),
            RestrictedExpression::new_bool(request.approved),
        ));
        if let Some(address) = request.client_address {
            pairs.push((
                "client_address".to_owned(),
                RestrictedExpression::new_ip(address.to_string()),
            ));
        }
        if let Some(tenant) = tenant {
            pairs.push((
                "tenant".to_owned(),
                RestrictedExpression::new_string(tenant.to_owned()),
            ));
        }
        let context =
            Context::from_pairs(pairs).map_err(|err| format!("request context: {err}"))?;
        let key = ContextKey {
            second,
            client_address: request.client_address,
            tenant: tenant.map(str::to_owned),
            approved: request.approved,
            arguments: present
                .iter()
                .map(|(name, _, value)| ((*name).to_owned(), (*value).clone()))
                .collect(),
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.0 != second || entries.1.len() >= CONTEXT_CACHE_CAPACITY {
            *entries = (second, HashMap::new());
        }
        entries.1.insert(fingerprint, (key, context.clone()));
        Ok(context)
    }
}

/// Feeds a JSON value to a hasher for the context cache's fingerprint. The
/// stored key settles a match, so two equal values that hash apart would
/// only cost a miss.
fn hash_json(value: &Value, state: &mut impl std::hash::Hasher) {
    use std::hash::Hash as _;
    match value {
        Value::Null => state.write_u8(0),
        Value::Bool(flag) => (1u8, flag).hash(state),
        Value::Number(number) => {
            (2u8, number.as_i64(), number.as_f64().map(f64::to_bits)).hash(state)
        }
        Value::String(text) => (3u8, text).hash(state),
        Value::Array(items) => {
            (4u8, items.len()).hash(state);
            for item in items {
                hash_json(item, state);
            }
        }
        Value::Object(fields) => {
            (5u8, fields.len()).hash(state);
            for (name, field) in fields {
                name.hash(state);
                hash_json(field, state);
            }
        }
    }
}

/// Checks at load time that the schema accepts the context the server sends
/// for every action, so a mistaken schema is refused instead of denying
/// every call at run time.
pub(crate) fn check_schema(
    schema: &Schema,
    schema_file: &std::path::Path,
    declared: &DeclaredArguments,
    actions: &[(EntityUid, &[crate::Kind])],
) -> Result<(), PolicyError> {
    let refuse = |message: String| PolicyError::schema(schema_file, message);
    // A sample with every declared argument, so their types are checked too.
    let arguments: Map<String, Value> = declared
        .fields
        .iter()
        .map(|(name, kind, _)| (name.clone(), sample(kind)))
        .collect();
    let request = RequestContext {
        arguments: Cow::Owned(Value::Object(arguments)),
        client_address: Some(IpAddr::from([127, 0, 0, 1])),
        ..RequestContext::now()
    };
    let context = ContextCache::default()
        .build(&request, Some("tenant"), declared)
        .map_err(&refuse)?;
    for (action, kinds) in actions {
        for kind in *kinds {
            let principal = crate::entities::uid("User", "sample").map_err(&refuse)?;
            let resource = crate::entities::uid(kind.entity_type(), "sample").map_err(&refuse)?;
            Request::new(
                principal,
                action.clone(),
                resource,
                context.clone(),
                Some(schema),
            )
            .map_err(|err| {
                refuse(format!(
                    "action {action} must apply to User and {} and accept the context the \
                     server sends (arguments, client_address, time, tenant, approved), as the shipped \
                     schema declares it: {err}",
                    kind.entity_type()
                ))
            })?;
        }
    }
    Ok(())
}

fn sample(kind: &ArgumentType) -> Value {
    match kind {
        ArgumentType::String => Value::String("sample".to_owned()),
        ArgumentType::Long => Value::from(1),
        ArgumentType::Bool => Value::Bool(true),
        ArgumentType::Set(element) => Value::Array(vec![sample(element)]),
    }
}
