//! `POST /tools/{name}`: run a tool with the JSON body as its arguments.

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use plugin_host::ToolResult;
use serde_json::Value;

use super::AppState;
use super::body::{discard_small_body, read_limited};
use super::error::ApiError;
use crate::catalogue::Caller;

/// Runs the tool and answers its result in MCP's `CallToolResult` shape.
///
/// The tool is looked up and, unless a policy that applies to it looks at
/// arguments, the call authorised before the body is read: an unknown tool
/// is 404 and a denied call 403 whatever the body holds, and a caller who may
/// not call the tool cannot make the server buffer a body. Where a policy
/// does look at arguments, the (size-limited) body is read and parsed first
/// and the decision sees them.
/// An empty body means no arguments, so `curl -X POST …/tools/ping` works.
pub(crate) async fn call_tool(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ToolResult>, ApiError> {
    let refused =
        |refusal| ApiError::Refused(refusal).pointing_at(&state.request_base(&headers), None);
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
    let result = call.invoke(arguments).await;
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

/// Browsers can send cross-site form posts without a preflight, but not
/// `application/json`; insisting on it closes that door.
fn require_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not ASCII)"))
        .unwrap_or("(none)");
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let is_json = essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(content_type.to_owned()))
    }
}
