//! The demo authorization server's pages: consent, and errors; the login
//! helper shows its own pages in the same frame.
//!
//! Plain HTML with everything user-supplied escaped; no scripts, so the
//! page works with JavaScript off and leaves nothing to inject into.

use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_FRAME_OPTIONS};
use axum::response::{Html, IntoResponse, Response};

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
button.primary{background:#1f5fd1;color:#fff;border-color:#1f5fd1}.note{color:#555;font-size:.9rem}";

/// A page that must not be cached or framed (clickjacking on a consent page
/// would let another site approve on the user's behalf).
pub fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    (
        status,
        [
            (CACHE_CONTROL, "no-store"),
            (X_FRAME_OPTIONS, "DENY"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(page),
    )
        .into_response()
}

/// The consent page: who asks, for which scopes, approve or deny.
pub(crate) fn consent(
    client: &str,
    user: &str,
    scopes: &[(String, String)],
    consent_id: &str,
) -> Response {
    let items: String = if scopes.is_empty() {
        "<li>No scopes: the client will be able to call no tool.</li>".to_owned()
    } else {
        scopes
            .iter()
            .map(|(scope, description)| {
                format!(
                    "<li><code>{}</code> {}</li>",
                    escape(scope),
                    escape(description)
                )
            })
            .collect()
    };
    let body = format!(
        "<h1>{} wants to use orchestrator-mcp as <code>{}</code></h1>\
         <p>It asks for these scopes:</p><ul id=\"scopes\">{items}</ul>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"consent\" value=\"{}\">\
         <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form>\
         <p class=\"note\">Demo authorization server: you are signed in as the configured demo user.</p>",
        escape(client),
        escape(user),
        super::AUTHORIZE_PATH,
        escape(consent_id),
    );
    html_page(StatusCode::OK, "Authorize access", &body)
}

/// An error the user sees (never redirected to an unverified client).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    html_page(
        status,
        "Authorization error",
        &format!(
            "<h1>Authorization error</h1><p id=\"error\">{}</p>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
