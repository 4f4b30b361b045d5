//! Reading request bodies under the configured size limit.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;

use super::error::ApiError;

/// After refusing a body, read and discard at most this much more of it.
///
/// A client still sending when the server answers and closes gets a reset
/// and never sees the 413; draining a bounded tail lets ordinary clients read
/// the answer without letting anyone make the server read without end.
const DRAIN_LIMIT: u64 = 2 * 1024 * 1024;
/// …and spend at most this long doing so.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Reads the whole body, refusing it once it passes `limit` bytes.
///
/// A `Content-Length` over the limit is refused without buffering; a body
/// without one (chunked) is refused as soon as it passes the limit.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = ApiError::PayloadTooLarge {
        limit_mb: (limit / (1024 * 1024)) as u64,
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = declared.filter(|length| *length > limit as u64) {
        if length <= limit as u64 + DRAIN_LIMIT {
            drain(body, DRAIN_LIMIT + limit as u64).await;
        }
        return Err(too_large);
    }

    let mut body = body;
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| ApiError::BodyRead(err.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if collected.len() + data.len() > limit {
            drain(body, DRAIN_LIMIT).await;
            return Err(too_large);
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// How much of an unread body is discarded when a request is refused before
/// its body was needed (401, or a 403 decided before reading).
const SMALL_BODY: u64 = 64 * 1024;

/// Reads and drops the rest of a refused request's body when it is small.
///
/// Answering without reading the body makes the server close the connection
/// instead of keeping it alive, and a client that already sent its next
/// request on it sees a reset. Anything past [`SMALL_BODY`] (or slower than
/// the drain time) is left, and the connection closes as before.
pub(crate) async fn discard_small_body(body: Body) {
    drain(body, SMALL_BODY).await;
}

/// Reads and drops up to `max` bytes of what is left of `body`.
async fn drain(mut body: Body, max: u64) {
    let drained = async {
        let mut seen: u64 = 0;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > max {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drained).await;
}
