//! Error responses for the REST routes, with the right status and headers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use core_auth::AuthError;
use serde_json::{Value, json};

use crate::catalogue::CallRefusal;

/// The realm in every `WWW-Authenticate` challenge.
const REALM: &str = "orchestrator-mcp";

/// Everything a REST request can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    #[error(transparent)]
    Refused(#[from] CallRefusal),
    #[error("Invalid JSON body: {0}")]
    InvalidJson(String),
    #[error("Unsupported Content-Type `{0}`: send the arguments as application/json")]
    UnsupportedMediaType(String),
    #[error("Request body exceeds the {limit_mb} MB limit (MAX_REQUEST_SIZE_MB)")]
    PayloadTooLarge { limit_mb: u64 },
    #[error("Could not read the request body: {0}")]
    BodyRead(String),
    #[error("{message}")]
    ToolFailed { tool: String, message: String },
    #[error("Forbidden: {0}")]
    HostNotAllowed(String),
    #[error("Forbidden: {0}")]
    OriginNotAllowed(String),
    /// No slot for a plugin call came free in time (PLUGIN_MAX_CONCURRENCY).
    #[error("{0}")]
    Busy(#[from] plugin_host::Busy),
    #[error("No route for {method} {path}")]
    NoRoute { method: String, path: String },
    #[error(
        "Rate limit exceeded: at most {per_minute} requests per minute per {per} \
         ({setting}); retry after {retry_after_secs} s"
    )]
    RateLimited {
        per_minute: u32,
        /// Who is counted: `caller` or `client address`.
        per: &'static str,
        /// The setting that sets the limit.
        setting: &'static str,
        retry_after_secs: u64,
    },
    /// Redis holds the limits and revocations, is unreachable, and
    /// `REDIS_FAILURE=closed`.
    #[error(
        "Service unavailable: rate limits and token revocations are kept in Redis, which is \
         unreachable; requests are refused until it is back (REDIS_FAILURE=closed)"
    )]
    SharedStateUnavailable,
    /// Any of the above, with the protected-resource metadata URL (and, for
    /// a 401, the scopes to ask for) to put in its challenge.
    #[error("{error}")]
    WithMetadata {
        error: Box<ApiError>,
        resource_metadata: String,
        scope: Option<String>,
    },
}

impl ApiError {
    /// The same error, its challenge pointing clients at this server's
    /// protected-resource metadata (reached at `base`); `scope` is what a
    /// 401 tells the client to ask for.
    pub(crate) fn pointing_at(self, base: &str, scope: Option<String>) -> Self {
        Self::WithMetadata {
            error: Box::new(self),
            resource_metadata: format!("{base}/.well-known/oauth-protected-resource/mcp"),
            scope,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::WithMetadata { error, .. } => error.status(),
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Refused(CallRefusal::UnknownTool(_)) => StatusCode::NOT_FOUND,
            Self::Refused(
                CallRefusal::Denied { .. }
                | CallRefusal::NeedsApproval { .. }
                | CallRefusal::OutsideSession { .. },
            ) => StatusCode::FORBIDDEN,
            Self::Refused(
                CallRefusal::BudgetSpent { .. } | CallRefusal::ToolRateLimited { .. },
            ) => StatusCode::TOO_MANY_REQUESTS,
            Self::Refused(CallRefusal::LimitUnavailable { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            Self::InvalidJson(_) | Self::BodyRead(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ToolFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::HostNotAllowed(_) | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::SharedStateUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The machine-readable error code in the body.
    fn code(&self) -> &'static str {
        match self {
            Self::WithMetadata { error, .. } => error.code(),
            Self::Unauthorized(err) => err.oauth_error_code().unwrap_or("unauthorized"),
            Self::Refused(CallRefusal::UnknownTool(_)) => "unknown_tool",
            Self::Refused(CallRefusal::Denied { .. }) => "insufficient_scope",
            Self::Refused(CallRefusal::NeedsApproval { .. }) => "approval_required",
            Self::Refused(CallRefusal::OutsideSession { .. }) => "outside_session",
            Self::Refused(CallRefusal::BudgetSpent { .. }) => "tool_call_budget_spent",
            Self::Refused(CallRefusal::ToolRateLimited { .. }) => "rate_limited",
            Self::Refused(CallRefusal::LimitUnavailable { .. }) => "shared_state_unavailable",
            Self::InvalidJson(_) => "invalid_json",
            Self::BodyRead(_) => "invalid_body",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::ToolFailed { .. } => "tool_error",
            Self::NoRoute { .. } => "not_found",
            Self::HostNotAllowed(_) => "host_not_allowed",
            Self::OriginNotAllowed(_) => "origin_not_allowed",
            Self::Busy(_) => "server_busy",
            Self::RateLimited { .. } => "rate_limited",
            Self::SharedStateUnavailable => "shared_state_unavailable",
        }
    }

    fn body(&self) -> Value {
        if let Self::WithMetadata { error, .. } = self {
            return error.body();
        }
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        match self {
            Self::Refused(CallRefusal::Denied {
                tool,
                accepted_scopes,
            }) => {
                body["tool"] = json!(tool);
                body["required_scopes"] = json!(accepted_scopes);
            }
            Self::Refused(CallRefusal::NeedsApproval { tool, policies }) => {
                body["tool"] = json!(tool);
                body["policies"] = json!(policies);
            }
            Self::Refused(
                CallRefusal::UnknownTool(tool)
                | CallRefusal::OutsideSession { tool, .. }
                | CallRefusal::BudgetSpent { tool, .. },
            )
            | Self::ToolFailed { tool, .. } => {
                body["tool"] = json!(tool);
            }
            Self::RateLimited { .. }
            | Self::Busy(_)
            | Self::SharedStateUnavailable
            | Self::Refused(
                CallRefusal::ToolRateLimited { .. } | CallRefusal::LimitUnavailable { .. },
            ) => {
                body["retry_after_secs"] = json!(self.retry_after_secs());
            }
            _ => {}
        }
        body
    }

    /// How long to wait before retrying, for the errors that say so.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::WithMetadata { error, .. } => error.retry_after_secs(),
            Self::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            Self::Busy(busy) => Some(busy.retry_after.as_secs().max(1)),
            Self::SharedStateUnavailable | Self::Refused(CallRefusal::LimitUnavailable { .. }) => {
                Some(1)
            }
            Self::Refused(CallRefusal::ToolRateLimited {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3), where one is due.
    fn challenge(&self) -> Option<String> {
        match self {
            Self::WithMetadata {
                error,
                resource_metadata,
                scope,
            } => error.challenge_with(Some(resource_metadata.clone()), scope.clone()),
            other => other.challenge_with(None, None),
        }
    }

    fn challenge_with(
        &self,
        resource_metadata: Option<String>,
        scope: Option<String>,
    ) -> Option<String> {
        match self {
            Self::Unauthorized(err) => Some(bearer_challenge(&Challenge {
                error: err.oauth_error_code(),
                description: err.oauth_error_code().map(|_| err.to_string()),
                resource_metadata,
                scope,
            })),
            Self::Refused(CallRefusal::Denied {
                accepted_scopes, ..
            }) if !accepted_scopes.is_empty() => Some(bearer_challenge(&Challenge {
                error: Some("insufficient_scope"),
                scope: Some(accepted_scopes.join(" ")),
                resource_metadata,
                ..Challenge::default()
            })),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(challenge) = self.challenge()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The parts of a `Bearer` challenge.
#[derive(Debug, Default)]
pub(crate) struct Challenge {
    /// RFC 6750 error code.
    pub(crate) error: Option<&'static str>,
    /// Human-readable description of the error.
    pub(crate) description: Option<String>,
    /// RFC 9728 protected-resource metadata URL, where clients discover the
    /// authorization server.
    pub(crate) resource_metadata: Option<String>,
    /// Space-separated scopes that would be accepted.
    pub(crate) scope: Option<String>,
}

/// Renders a `WWW-Authenticate: Bearer …` value.
pub(crate) fn bearer_challenge(challenge: &Challenge) -> String {
    let mut params = vec![format!("realm=\"{REALM}\"")];
    if let Some(url) = &challenge.resource_metadata {
        params.push(format!("resource_metadata=\"{}\"", quoted(url)));
    }
    if let Some(scope) = &challenge.scope {
        params.push(format!("scope=\"{}\"", quoted(scope)));
    }
    if let Some(error) = challenge.error {
        params.push(format!("error=\"{error}\""));
    }
    if let Some(description) = &challenge.description {
        params.push(format!("error_description=\"{}\"", quoted(description)));
    }
    format!("Bearer {}", params.join(", "))
}

/// Escapes a value for an RFC 7230 quoted-string, dropping characters a
/// header cannot carry.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c == '\t' || (' '..='~').contains(c))
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_and_strips() {
        assert_eq!(quoted(r#"a "b" \c"#), r#"a \"b\" \\c"#);
        assert_eq!(quoted("line\nbreak é"), "linebreak ");
    }

    #[test]
    fn a_missing_token_gets_a_bare_challenge() {
        let error = ApiError::Unauthorized(AuthError::MissingToken);
        assert_eq!(
            error.challenge().as_deref(),
            Some("Bearer realm=\"orchestrator-mcp\"")
        );
    }

    #[test]
    fn a_denial_challenge_names_the_scopes() {
        let error = ApiError::Refused(CallRefusal::Denied {
            tool: "ping".into(),
            accepted_scopes: vec!["tools:ping".into()],
        });
        let challenge = error.challenge().expect("challenge");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(challenge.contains("scope=\"tools:ping\""), "{challenge}");
    }
}
