//! The page on which the demo user approves or denies a client's request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use oauth_kit::{escape, html_page};

use crate::is_admin_scope;

/// What the consent page shows.
pub(crate) struct Consent<'a> {
    /// The client's name, as registered.
    pub(crate) client: &'a str,
    /// Registered through `POST /oauth/register`: its name proves nothing.
    pub(crate) unverified: bool,
    /// Where the browser goes after the decision: the redirect URI's host
    /// and port.
    pub(crate) destination: &'a str,
    /// The demo user.
    pub(crate) user: &'a str,
    /// The scopes asked for, with their descriptions.
    pub(crate) scopes: &'a [(String, String)],
    pub(crate) consent_id: &'a str,
}

/// The consent page: who asks, where the answer goes, for which scopes;
/// approve or deny.
pub(crate) fn consent(page: &Consent<'_>) -> Response {
    let items: String = if page.scopes.is_empty() {
        "<li>No scopes: the client will be able to call no tool.</li>".to_owned()
    } else {
        page.scopes
            .iter()
            .map(|(scope, description)| {
                let admin = if is_admin_scope(scope) {
                    " <strong class=\"admin\">administrative</strong>"
                } else {
                    ""
                };
                format!(
                    "<li><code>{}</code> {}{admin}</li>",
                    escape(scope),
                    escape(description)
                )
            })
            .collect()
    };
    let (marker, warning) = if page.unverified {
        (
            " <span id=\"unverified\">(unverified)</span>",
            "<p class=\"warning\"><strong>Unverified client.</strong> It registered itself \
             with this server, so its name was chosen by whoever registered it and proves \
             nothing. Approve only if you started this sign-in yourself, just now.</p>",
        )
    } else {
        ("", "")
    };
    let body = format!(
        "<h1>{}{marker} wants to use orchestrator-mcp as <code>{}</code></h1>{warning}\
         <p>It asks for these scopes:</p><ul id=\"scopes\">{items}</ul>\
         <p>Your answer, and the authorization if you approve, are sent to \
         <strong><code id=\"redirect-host\">{}</code></strong>. \
         If that is not the application you are signing in to, deny.</p>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"consent\" value=\"{}\">\
         <button class=\"primary\" type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form>\
         <p class=\"note\">Demo authorization server: you are signed in as the configured demo user.</p>",
        escape(page.client),
        escape(page.user),
        escape(page.destination),
        crate::AUTHORIZE_PATH,
        escape(page.consent_id),
    );
    html_page(StatusCode::OK, "Authorize access", &body).into_response()
}
