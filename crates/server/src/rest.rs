//! The REST door: `POST /tools/{name}` runs a tool with the JSON body as
//! its arguments.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::routing::post;
use axum::{Json, Router};
use plugin_host::ToolResult;
use serde_json::Value;

use crate::catalogue::{Caller, Catalogue};
use crate::web::{ApiError, PublicBase, discard_small_body, read_limited};

/// What the REST door needs.
#[derive(Clone)]
pub(crate) struct RestState {
    pub(crate) catalogue: Catalogue,
    /// `MAX_REQUEST_SIZE_MB`, in bytes.
    pub(crate) max_request_bytes: usize,
    pub(crate) base: PublicBase,
}

/// `POST /tools/{name}`. Expects the authentication layer in front of it,
/// which records the [`Caller`].
pub(crate) fn router(state: RestState) -> Router {
    Router::new()
        .route("/tools/{name}", post(call_tool))
        .with_state(state)
}

/// Runs the tool and answers its result in MCP's `CallToolResult` shape.
///
/// The tool is looked up and, unless a policy that applies to it looks at
/// arguments, the call authorised before the body is read: an unknown tool
/// is 404 and a denied call 403 whatever the body holds, and a caller who may
/// not call the tool cannot make the server buffer a body. Where a policy
/// does look at arguments, the (size-limited) body is read and parsed first
/// and the decision sees them.
/// An empty body means no arguments, so `curl -X POST …/tools/ping` works.
async fn call_tool(
    State(state): State<RestState>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ToolResult>, ApiError> {
    let refused =
        |refusal| ApiError::Refused(refusal).pointing_at(&state.base.for_request(&headers), None);
    let no_arguments = Value::Object(Default::default());
    // Decided before the body is read unless a policy looks at arguments.
    let early = match state.catalogue.reads_arguments(&caller, &name) {
        Ok(true) => None,
        Ok(false) => match state.catalogue.authorize(&caller, &name, &no_arguments) {
            Ok(call) => Some(call),
            Err(refusal) => {
                discard_small_body(body).await;
                return Err(refused(refusal));
            }
        },
        Err(refusal) => {
            discard_small_body(body).await;
            return Err(refused(refusal));
        }
    };
    let bytes = read_limited(&headers, body, state.max_request_bytes).await?;
    let arguments = if bytes.iter().all(u8::is_ascii_whitespace) {
        no_arguments.clone()
    } else {
        require_json_content_type(&headers)?;
        serde_json::from_slice(&bytes).map_err(|err| ApiError::InvalidJson(err.to_string()))?
    };
    let call = match early {
        Some(call) => call,
        None => state
            .catalogue
            .authorize(&caller, &name, &arguments)
            .map_err(refused)?,
    };
    call.admit().await.map_err(refused)?;
    let result = call
        .invoke(arguments, &crate::catalogue::Asking::default())
        .await?;
    if result.is_error {
        return Err(ApiError::ToolFailed {
            message: result
                .first_text()
                .unwrap_or("the tool reported an error without a message")
                .to_owned(),
            tool: name,
        });
    }
    Ok(Json(result))
}

/// The arguments must be sent as JSON (see [`oauth_kit::is_json_content_type`]).
fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    if oauth_kit::is_json_content_type(headers) {
        return Ok(());
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not ASCII)"))
        .unwrap_or("(none)");
    Err(ApiError::UnsupportedMediaType(content_type.to_owned()))
}
