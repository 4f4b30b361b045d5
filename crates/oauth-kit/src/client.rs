//! A client of an OAuth token endpoint: the login helper's code exchange
//! with Descope.

/// What a token endpoint answered. Its `Debug` hides the body, which
/// carries tokens.
pub struct TokenEndpointReply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (RFC 6749 §5.1 or §5.2).
    pub body: serde_json::Value,
}

impl std::fmt::Debug for TokenEndpointReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpointReply")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A token endpoint's answer is a few hundred bytes; more is not one.
const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;

/// Why a token request got no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRequestError {
    /// No HTTP client could be made (the TLS roots, say).
    #[error("HTTP client: {0}")]
    Client(String),
    /// The endpoint could not be reached, or did not answer in time.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The token endpoint.
        url: String,
        /// What the connection said.
        reason: String,
    },
    /// The answer could not be read, or is larger than a token answer is.
    #[error(transparent)]
    Answer(#[from] crate::FetchError),
    /// The endpoint answered something other than JSON.
    #[error("{url} did not answer JSON: {reason}")]
    NotJson {
        /// The token endpoint.
        url: String,
        /// What the parser said.
        reason: String,
    },
}

/// POSTs a form to an OAuth token endpoint (authorization-code exchange by
/// the login helper), with HTTP Basic client authentication when given.
pub async fn post_token_request(
    token_url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Result<TokenEndpointReply, TokenRequestError> {
    // A redirect would re-send the code and the client secret to wherever
    // it points; the token endpoint is configured, never discovered.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|err| TokenRequestError::Client(err.to_string()))?;
    let mut request = client.post(token_url).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request
        .send()
        .await
        .map_err(|err| TokenRequestError::Unreachable {
            url: token_url.to_owned(),
            reason: err.to_string(),
        })?;
    let status = response.status().as_u16();
    let bytes = crate::read_capped(response, token_url, MAX_TOKEN_ANSWER_BYTES).await?;
    let body = serde_json::from_slice(&bytes).map_err(|err| TokenRequestError::NotJson {
        url: token_url.to_owned(),
        reason: err.to_string(),
    })?;
    Ok(TokenEndpointReply { status, body })
}
