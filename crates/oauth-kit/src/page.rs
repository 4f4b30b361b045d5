//! The pages people see during sign-in (the demo server's consent page,
//! the login helper's token page, errors), in one frame.
//!
//! Plain HTML with everything user-supplied escaped; no scripts, so the
//! page works with JavaScript off and leaves nothing to inject into.

use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, X_FRAME_OPTIONS,
};
use http::{HeaderValue, StatusCode};

/// `Cache-Control: no-store`, for every answer that carries a secret (a
/// token, a code, a consent form).
pub const NO_STORE: [(HeaderName, HeaderValue); 1] =
    [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}\
h1{font-size:1.4rem}li{margin:.4rem 0}code{background:#f2f2f5;padding:.1rem .3rem;border-radius:4px}\
button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.6rem;border-radius:6px;border:1px solid #888;cursor:pointer}\
button.primary{background:#1f5fd1;color:#fff;border-color:#1f5fd1}.note{color:#555;font-size:.9rem}\
.warning{background:#fff4e5;border:1px solid #e0a040;border-radius:6px;padding:.6rem .8rem}.admin{color:#a33}";

/// A page that must not be cached or framed (clickjacking on a consent page
/// would let another site approve on the user's behalf).
pub fn html_page(status: StatusCode, title: &str, body: &str) -> http::Response<String> {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    let mut response = http::Response::new(page);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

/// An error the user sees (never redirected to an unverified client).
pub fn error_page(status: StatusCode, message: &str) -> http::Response<String> {
    html_page(
        status,
        "Authorization error",
        &format!(
            "<h1>Authorization error</h1><p id=\"error\">{}</p>",
            escape(message)
        ),
    )
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

    #[test]
    fn pages_are_neither_cached_nor_framed() {
        let page = error_page(StatusCode::BAD_REQUEST, "<b>no</b>");
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert_eq!(page.headers()[X_FRAME_OPTIONS], "DENY");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        assert!(page.body().contains("&lt;b&gt;no&lt;/b&gt;"));
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
