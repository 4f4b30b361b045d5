//! What every door shares: error bodies and challenges, reading bodies
//! under the size limit, and the base URL a request reached the server at.
//!
//! Above the catalogue (a refusal is one of its errors), below the doors.

mod body;
pub(crate) mod console_session;
mod error;

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::HOST;

pub(crate) use body::{discard_small_body, read_limited};
pub(crate) use error::{ApiError, Challenge, bearer_challenge};

use crate::shared::limiter::whole_seconds;
use crate::shared::{Limit, Refusal};

/// Counts one request from a client `address` (an IPv6 one by its /64)
/// against `RATE_LIMIT_PUBLIC_PER_MINUTE`; the 429 (or, Redis away, 503) to
/// answer past it.
pub(crate) async fn charge_address(limit: &Limit<IpAddr>, address: IpAddr) -> Result<(), ApiError> {
    let counted = oauth_kit::ClientAddress(address).counted_as();
    let refusal = limit.charge(&counted).await;
    refusal.map_err(|refusal| {
        refused(
            refusal,
            limit.per_minute(),
            "client address",
            "RATE_LIMIT_PUBLIC_PER_MINUTE",
        )
    })
}

/// The answer to a request refused by a limit of `per_minute` requests
/// per `per` (`setting`).
pub(crate) fn refused(
    refusal: Refusal,
    per_minute: u32,
    per: &'static str,
    setting: &'static str,
) -> ApiError {
    match refusal {
        Refusal::Limited(wait) => {
            crate::telemetry::metrics::rate_limited(if per == "caller" {
                "caller"
            } else {
                "public"
            });
            ApiError::RateLimited {
                per_minute,
                per,
                setting,
                retry_after_secs: whole_seconds(wait),
            }
        }
        Refusal::Unavailable => ApiError::SharedStateUnavailable,
        Refusal::Revoked => ApiError::Unauthorized(core_auth::AuthError::InvalidToken(
            core_auth::TokenRejection::Revoked,
        )),
    }
}

/// Where the server is reached: `PUBLIC_URL`, or the `Host` of each request.
#[derive(Clone, Debug, Default)]
pub(crate) struct PublicBase {
    /// `PUBLIC_URL`, if configured.
    public_url: Option<Arc<str>>,
}

impl PublicBase {
    /// URLs built from `PUBLIC_URL` when it is set, from requests otherwise.
    pub(crate) fn new(public_url: Option<String>) -> Self {
        Self {
            public_url: public_url.map(Into::into),
        }
    }

    /// The base URL this request reached the server at: `PUBLIC_URL`, or
    /// `http://` and the request's `Host` (already checked against
    /// `ALLOWED_HOSTS`), so a client connecting by `localhost` and one
    /// connecting by `127.0.0.1` each get URLs they can validate.
    pub(crate) fn for_request(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.to_string();
        }
        // Rebuilt from the parsed authority, lower-cased and without any
        // user-info, so the URL is the one the Host guard admitted.
        let authority = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<axum::http::uri::Authority>().ok());
        match authority {
            Some(authority) => {
                let host = authority.host().to_ascii_lowercase();
                match authority.port_u16() {
                    Some(port) => format!("http://{host}:{port}"),
                    None => format!("http://{host}"),
                }
            }
            None => "http://localhost".to_owned(),
        }
    }
}
