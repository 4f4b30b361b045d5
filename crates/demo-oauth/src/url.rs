//! Redirects back to a client, with their query parameters encoded.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use oauth_kit::{error_page, with_query};

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

/// The host and port a redirect URI sends the browser to (`client.example:443`,
/// `127.0.0.1:3000`), for the consent page; the whole URI if it has no
/// authority.
pub(crate) fn host_and_port(uri: &str) -> String {
    let Ok(parsed) = uri.parse::<axum::http::Uri>() else {
        return uri.to_owned();
    };
    let Some(host) = parsed.host() else {
        return uri.to_owned();
    };
    let port = parsed.port_u16().or(match parsed.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    match port {
        Some(port) => format!("{}:{port}", host.to_ascii_lowercase()),
        None => host.to_ascii_lowercase(),
    }
}

/// `302 Found` to `location`.
pub(crate) fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => {
            error_page(StatusCode::BAD_REQUEST, "The redirect URI cannot be used.").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_destination_is_the_host_and_port() {
        assert_eq!(
            host_and_port("https://Client.example/cb?x=1"),
            "client.example:443"
        );
        assert_eq!(host_and_port("http://127.0.0.1:3000/cb"), "127.0.0.1:3000");
        assert_eq!(host_and_port("http://[::1]/cb"), "[::1]:80");
        assert_eq!(
            host_and_port("https://user@evil.example:8443/cb"),
            "evil.example:8443",
            "user-info is not the host"
        );
    }
}
