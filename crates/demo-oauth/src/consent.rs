//! The page on which the demo user approves or denies a client's request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth_kit::{escape, html_page};

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
        crate::AUTHORIZE_PATH,
        escape(consent_id),
    );
    html_page(StatusCode::OK, "Authorize access", &body).into_response()
}
