//! Redirects back to a client, with their query parameters encoded.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::page::error_page;

/// An RFC 6749 §4.1.2.1 error redirect, with the issuer (RFC 9207).
pub(crate) fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut params = vec![
        ("error", error),
        ("error_description", description),
        ("iss", issuer),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(&with_query(redirect_uri, &params))
}

/// `302 Found` to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The redirect URI cannot be used."),
    }
}

/// `uri` with `params` appended to its query, form-encoded.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", encoded.join("&"))
}

/// RFC 3986 unreserved characters stay; everything else is %-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_encoded() {
        assert_eq!(
            with_query(
                "http://localhost/cb",
                &[("code", "a b&c"), ("state", "x=y")]
            ),
            "http://localhost/cb?code=a%20b%26c&state=x%3Dy"
        );
        assert_eq!(
            with_query("http://localhost/cb?keep=1", &[("code", "z")]),
            "http://localhost/cb?keep=1&code=z"
        );
    }
}
