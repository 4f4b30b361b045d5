//! The one way this project reads an answer from another server (a JWKS,
//! authorization-server metadata, a token endpoint's or Descope's answer):
//! bounded in size while it streams, so a hostile or broken server cannot
//! make it buffer without end.

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No HTTP client could be made (the TLS roots, say).
    #[error("cannot make an HTTP client: {0}")]
    Client(String),
    /// The server could not be reached, or did not answer in time.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// What the connection said.
        reason: String,
    },
    /// The server answered with a redirect, which is not followed: where
    /// keys or metadata come from must be the URL configured, not wherever
    /// its server points.
    #[error(
        "{url} redirects to {location}; redirects are not followed, so configure the final URL"
    )]
    Redirected {
        /// What was asked for.
        url: String,
        /// Where the redirect pointed (resolved against `url` when relative).
        location: String,
    },
    /// The server answered with a status other than success.
    #[error("{url} answered {status}")]
    Status {
        /// What was asked for.
        url: String,
        /// The HTTP status it answered.
        status: http::StatusCode,
    },
    /// The answer is larger than the limit.
    #[error("{url} returned more than {limit} bytes")]
    TooLarge {
        /// What was asked for.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The answer broke off while it was read.
    #[error("reading {url}: {reason}")]
    Read {
        /// What was asked for.
        url: String,
        /// What the connection said.
        reason: String,
    },
}

/// GETs `url` with `client` and returns the body, refusing one larger than
/// `limit` bytes as soon as it is known to be (from `Content-Length`, or
/// while it streams). A redirect that reaches here (the client does not
/// follow redirects) is [`FetchError::Redirected`], naming where it pointed.
pub async fn get_capped(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|err| FetchError::Unreachable {
            url: url.to_owned(),
            reason: err.to_string(),
        })?;
    let status = response.status();
    if let Some(location) = redirect_target(&response, url) {
        return Err(FetchError::Redirected {
            url: url.to_owned(),
            location,
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    read_capped(response, url, limit).await
}

/// Where a redirect answer points, resolved against `url`; `None` when the
/// answer is not a redirect with a `Location`.
fn redirect_target(response: &reqwest::Response, url: &str) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(http::header::LOCATION)?;
    let Ok(location) = location.to_str() else {
        return Some("a Location that is not plain text".to_owned());
    };
    Some(
        reqwest::Url::parse(url)
            .and_then(|base| base.join(location))
            .map_or_else(|_| location.to_owned(), String::from),
    )
}

/// Reads the body of `response` (an answer from `url`), refusing one larger
/// than `limit` bytes as soon as it is known to be: every answer this
/// project reads from another server goes through here.
pub async fn read_capped(
    mut response: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| FetchError::Read {
        url: url.to_owned(),
        reason: err.to_string(),
    })? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
