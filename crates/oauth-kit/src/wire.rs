//! What crosses an OAuth token endpoint: the form a client posts (RFC 6749
//! §4.1.3, §4.4, §6), the client's credentials from that form or HTTP
//! Basic (§2.3.1), and the error body an endpoint answers (§5.2).
//!
//! The demo authorization server's `POST /oauth/token` and the server's own
//! `POST /auth/token` read and answer with these same types.

use base64::Engine as _;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;

/// A token request, form-encoded. No `Debug` of its secrets: the manual
/// implementation shows the grant, the client and the scopes only.
#[derive(Default, Deserialize)]
pub struct TokenForm {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: Option<String>,
    /// The authorization code (authorization-code grant).
    pub code: Option<String>,
    /// The redirect URI the code was issued for.
    pub redirect_uri: Option<String>,
    /// The client's id, when sent in the form.
    pub client_id: Option<String>,
    /// The client's secret, when sent in the form.
    pub client_secret: Option<String>,
    /// The PKCE verifier (authorization-code grant).
    pub code_verifier: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
    /// Space-separated scopes asked for.
    pub scope: Option<String>,
    /// The RFC 8707 resource the token is for.
    pub resource: Option<String>,
}

impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenForm {
    /// `client_id` and `client_secret`, from HTTP Basic when the request
    /// carries an `Authorization: Basic` header, from the form otherwise.
    pub fn client_credentials(&self, headers: &HeaderMap) -> Option<(String, String)> {
        match basic_credentials(headers) {
            Basic::Sent(id, secret) => Some((id, secret)),
            Basic::Malformed => None,
            Basic::Absent => Some((self.client_id.clone()?, self.client_secret.clone()?)),
        }
    }

    /// Who the client says it is: its `client_id`, and its secret when it
    /// sent one (a public client sends its id alone). From HTTP Basic when
    /// the request carries an `Authorization: Basic` header, from the form
    /// otherwise; `None` when there is no client id (or the Basic header
    /// cannot be read).
    pub fn client_identity(&self, headers: &HeaderMap) -> Option<(String, Option<String>)> {
        match basic_credentials(headers) {
            Basic::Sent(id, secret) if !id.is_empty() => {
                Some((id, Some(secret).filter(|s| !s.is_empty())))
            }
            Basic::Sent(..) | Basic::Malformed => None,
            Basic::Absent => {
                let id = self.client_id.clone().filter(|id| !id.is_empty())?;
                Some((id, self.client_secret.clone().filter(|s| !s.is_empty())))
            }
        }
    }

    /// The client secret alone, from HTTP Basic or the form: an access key
    /// identifies its machine by itself, so no client_id is needed.
    pub fn presented_secret(&self, headers: &HeaderMap) -> Option<String> {
        if headers.contains_key(AUTHORIZATION) {
            return self.client_credentials(headers).map(|(_, secret)| secret);
        }
        self.client_secret.clone()
    }
}

/// What an `Authorization` header says about client credentials.
enum Basic {
    /// No `Authorization: Basic` header: the form carries them, if anything.
    Absent,
    /// A Basic header that cannot be read.
    Malformed,
    /// `client_id` and `client_secret`, form-decoded.
    Sent(String, String),
}

fn basic_credentials(headers: &HeaderMap) -> Basic {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Basic::Absent;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Basic::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Basic::Absent;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        // RFC 6749 §2.3.1: both parts are form-urlencoded.
        Some((id, secret)) => Basic::Sent(form_decode(id), form_decode(secret)),
        None => Basic::Malformed,
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'+' {
            out.push(b' ');
            i += 1;
            continue;
        }
        if byte == b'%' && i + 2 < bytes.len() {
            let high = (bytes[i + 1] as char).to_digit(16);
            let low = (bytes[i + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the request says its body is JSON: `application/json`, or a
/// type with the `+json` suffix (RFC 6839), parameters aside.
///
/// Browsers send cross-site form posts without asking first, but never
/// JSON; insisting on it keeps a hostile page from posting to an endpoint.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers.get(CONTENT_TYPE).map(|value| value.to_str()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

/// An RFC 6749 §5.2 error: the status, the error code and a description
/// that says what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The RFC 6749 error code (`invalid_request`, `invalid_client`, …).
    pub error: &'static str,
    /// What was wrong, and what to send instead.
    pub description: String,
    /// Whether the answer carries a `WWW-Authenticate: Basic` challenge, as
    /// RFC 6749 §5.2 asks of a client-authentication failure.
    pub basic_challenge: bool,
}

impl OAuthError {
    /// An error with this status, code and description.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    /// `400 invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `401 invalid_client`, answered with a `Basic` challenge (§5.2).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            basic_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
        }
    }

    /// The response: the JSON body, `Cache-Control: no-store`, and the
    /// `Basic` challenge where one is due.
    pub fn to_response(&self) -> http::Response<String> {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        })
        .to_string();
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let [(name, value)] = crate::NO_STORE;
        headers.insert(name, value);
        if self.basic_challenge {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"orchestrator-mcp\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::CACHE_CONTROL;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%2"), "a:b c%2");
        assert_eq!(form_decode("plain"), "plain");
        assert_eq!(form_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn basic_wins_over_the_form_and_the_form_is_the_fallback() {
        let form = TokenForm {
            client_id: Some("form-id".into()),
            client_secret: Some("form-secret".into()),
            ..TokenForm::default()
        };
        assert_eq!(
            form.client_credentials(&HeaderMap::new()),
            Some(("form-id".into(), "form-secret".into()))
        );
        let mut headers = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("id%3A1:s+cret");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).expect("header"),
        );
        assert_eq!(
            form.client_credentials(&headers),
            Some(("id:1".into(), "s cret".into()))
        );
        assert_eq!(form.presented_secret(&headers), Some("s cret".into()));
    }

    #[test]
    fn a_public_client_identifies_itself_by_id_alone() {
        let public = TokenForm {
            client_id: Some("app".into()),
            ..TokenForm::default()
        };
        assert_eq!(
            public.client_identity(&HeaderMap::new()),
            Some(("app".into(), None))
        );
        assert_eq!(public.client_credentials(&HeaderMap::new()), None);
        assert_eq!(
            TokenForm::default().client_identity(&HeaderMap::new()),
            None
        );

        let mut headers = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("basic-app:");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).expect("header"),
        );
        assert_eq!(
            public.client_identity(&headers),
            Some(("basic-app".into(), None)),
            "Basic wins over the form"
        );
        let secret = base64::engine::general_purpose::STANDARD.encode("basic-app:s3");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {secret}")).expect("header"),
        );
        assert_eq!(
            public.client_identity(&headers),
            Some(("basic-app".into(), Some("s3".into())))
        );
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(public.client_identity(&headers), None);
    }

    #[test]
    fn json_content_types_are_told_from_the_rest() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).expect("header"));
            is_json_content_type(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("text/plain"));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }

    #[test]
    fn an_error_renders_the_rfc_6749_body() {
        let response = OAuthError::invalid_client("unknown client").to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Basic realm=\"orchestrator-mcp\""
        );
        let body: serde_json::Value = serde_json::from_str(response.body()).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_client", "error_description": "unknown client"})
        );
    }
}
