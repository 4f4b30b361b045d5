//! How a request that did not happen is answered over MCP: the JSON-RPC
//! error for each of the catalogue's refusals, and the HTTP status a denial
//! or a limit asks the `/mcp` guard for.

use axum::http::StatusCode;
use rmcp::ErrorData as McpError;
use rmcp::model::ErrorCode;
use serde_json::json;

use super::denial::{self, DenialSlot};
use crate::catalogue::{CallRefusal, ItemRefusal};

/// JSON-RPC error code for a call the policies deny. MCP defines none; this
/// sits in the range JSON-RPC leaves to servers.
pub(crate) const FORBIDDEN: ErrorCode = ErrorCode(-32003);

/// The longest name or URI a request may give: nothing the server serves
/// needs more, and an error never echoes a longer one back.
const MAX_NAME_BYTES: usize = 2048;

/// Refuses a `what` (a URI, a name) longer than [`MAX_NAME_BYTES`],
/// without echoing it.
pub(super) fn check_length(what: &str, value: &str) -> Result<(), McpError> {
    if value.len() <= MAX_NAME_BYTES {
        return Ok(());
    }
    Err(McpError::invalid_params(
        format!(
            "the {what} is {} bytes; the server reads at most {MAX_NAME_BYTES}",
            value.len()
        ),
        None,
    ))
}

/// The JSON-RPC error for a resource, prompt or completion that did not
/// happen; a denial also asks the transport for a 403 with a challenge.
pub(super) fn item_refusal_to_error(denial: Option<&DenialSlot>, refusal: ItemRefusal) -> McpError {
    let message = refusal.to_string();
    match refusal {
        // MCP (2026-07-28, SEP-2164): a missing resource is invalid params
        // naming the URI.
        ItemRefusal::NotFound { kind, name } => McpError::invalid_params(
            message,
            Some(match kind {
                policy::Kind::Resource => json!({ "uri": name }),
                _ => json!({ "name": name }),
            }),
        ),
        ItemRefusal::Denied {
            kind,
            name,
            accepted_scopes,
        } => {
            denial::report(denial, &message, &accepted_scopes);
            let data = match kind {
                policy::Kind::Resource => {
                    json!({ "uri": name, "required_scopes": accepted_scopes })
                }
                _ => json!({ "name": name, "required_scopes": accepted_scopes }),
            };
            McpError::new(FORBIDDEN, message, Some(data))
        }
        ItemRefusal::InvalidArguments(_) => McpError::invalid_params(message, None),
        ItemRefusal::Failed(_) => McpError::internal_error(message, None),
        ItemRefusal::Busy(_) => McpError::internal_error(message, None),
    }
}

/// The JSON-RPC error for a tool call that did not happen; a denial or a
/// limit also asks the guard for its HTTP status.
pub(super) fn refusal_to_error(denial: Option<&DenialSlot>, refusal: CallRefusal) -> McpError {
    let message = refusal.to_string();
    match refusal {
        // MCP asks for "Invalid params" when the tool does not exist.
        CallRefusal::UnknownTool(tool) => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::Denied {
            tool,
            accepted_scopes,
        } => {
            denial::report(denial, &message, &accepted_scopes);
            McpError::new(
                FORBIDDEN,
                message,
                Some(json!({ "tool": tool, "required_scopes": accepted_scopes })),
            )
        }
        CallRefusal::NeedsApproval { tool, policies } => {
            denial::report_unchallenged(denial, &message);
            McpError::new(
                FORBIDDEN,
                message,
                Some(json!({ "tool": tool, "approval_required": true, "policies": policies })),
            )
        }
        CallRefusal::OutsideSession { tool, .. } => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallRefusal::BudgetSpent { tool, limit } => McpError::invalid_request(
            message,
            Some(json!({ "tool": tool, "max_tool_calls_per_request": limit })),
        ),
        CallRefusal::ToolRateLimited {
            tool,
            per_minute,
            retry_after_secs,
        } => {
            denial::report_limited(denial, retry_after_secs, StatusCode::TOO_MANY_REQUESTS);
            McpError::invalid_request(
                message,
                Some(json!({
                    "tool": tool,
                    "rate_limit_per_minute": per_minute,
                    "retry_after_secs": retry_after_secs,
                })),
            )
        }
        CallRefusal::LimitUnavailable { tool } => {
            denial::report_limited(denial, 1, StatusCode::SERVICE_UNAVAILABLE);
            McpError::internal_error(
                message,
                Some(json!({ "tool": tool, "retry_after_secs": 1 })),
            )
        }
    }
}
