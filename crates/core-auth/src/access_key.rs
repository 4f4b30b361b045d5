//! Exchanging a Descope access key for a session JWT.
//!
//! Machines authenticate with access keys; Descope turns one into a
//! short-lived session JWT at `POST /v1/auth/accesskey/exchange`, with the
//! key presented as `Authorization: Bearer <project>:<key>`.

use std::time::Duration;

use serde::Deserialize;

/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// An exchange answer is a session token and a little more.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// Descope refused the key.
    #[error("Descope refused the access key: {0}")]
    Rejected(String),
    /// Descope could not be reached or failed.
    #[error("Descope is unavailable: {0}")]
    Unavailable(String),
    /// Descope answered something that is not an exchange response.
    #[error("unexpected answer from Descope: {0}")]
    InvalidResponse(String),
    /// No HTTP client could be made (the TLS roots, say).
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
}

/// The session JWT Descope issued for an access key.
#[derive(Clone)]
pub struct ExchangedToken {
    /// The session JWT.
    pub session_jwt: String,
    /// When it expires, as Unix seconds, if Descope said.
    pub expiration: Option<u64>,
}

impl std::fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("session_jwt", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeResponse {
    session_jwt: String,
    #[serde(default)]
    expiration: Option<u64>,
}

/// A client for Descope's access-key exchange.
pub struct AccessKeyExchange {
    client: reqwest::Client,
    url: String,
    project_id: String,
}

impl AccessKeyExchange {
    /// A client for project `project_id` at Descope's API `base_url`.
    pub fn new(base_url: &str, project_id: &str) -> Result<Self, ExchangeError> {
        let client = reqwest::Client::builder()
            .timeout(EXCHANGE_TIMEOUT)
            .build()
            .map_err(|err| ExchangeError::Client(err.to_string()))?;
        Ok(Self {
            client,
            url: format!(
                "{}/v1/auth/accesskey/exchange",
                base_url.trim_end_matches('/')
            ),
            project_id: project_id.to_owned(),
        })
    }

    /// Exchanges `access_key` for a session JWT.
    pub async fn exchange(&self, access_key: &str) -> Result<ExchangedToken, ExchangeError> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(format!("{}:{access_key}", self.project_id))
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|err| {
                ExchangeError::Unavailable(format!("cannot reach {}: {err}", self.url))
            })?;
        let status = response.status();
        let body = match oauth_kit::read_capped(response, &self.url, MAX_ANSWER_BYTES).await {
            Ok(body) => body,
            // A refusal whose explanation cannot be read is still a refusal.
            Err(_) if status.is_client_error() => {
                return Err(ExchangeError::Rejected(format!("HTTP {status}")));
            }
            Err(err) => return Err(ExchangeError::Unavailable(err.to_string())),
        };
        if status.is_client_error() {
            return Err(ExchangeError::Rejected(describe_error(&body, status)));
        }
        if !status.is_success() {
            return Err(ExchangeError::Unavailable(format!(
                "{} answered {status}",
                self.url
            )));
        }
        let parsed: ExchangeResponse = serde_json::from_slice(&body)
            .map_err(|err| ExchangeError::InvalidResponse(err.to_string()))?;
        Ok(ExchangedToken {
            session_jwt: parsed.session_jwt,
            expiration: parsed.expiration,
        })
    }
}

/// Descope's error description, when its body carries one.
fn describe_error(body: &[u8], status: reqwest::StatusCode) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            value
                .get("errorDescription")
                .or_else(|| value.get("message"))
                .and_then(|m| m.as_str())
                .map(|m| m.chars().take(200).collect())
        })
        .unwrap_or_else(|| format!("HTTP {status}"))
}
