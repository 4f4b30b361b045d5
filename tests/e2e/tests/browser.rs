//! The browser login helper in a real headless Chromium: sign in through the
//! demo authorization server and land on the page with a working token.

use e2e::{Browser, Sandbox, Server};

use crate::util::post_tool;

#[test]
#[ignore = "needs Chromium and ChromeDriver: `cargo xtask test` installs them and runs this test"]
fn the_login_page_in_chromium_ends_with_a_working_token() {
    let server = Server::start(&Sandbox::new());
    let browser = Browser::start();

    browser.open(&server.url("/auth/login"));
    // The demo server's consent page lists what the client asks for.
    assert!(browser.text("#scopes").contains("tools:ping"));
    browser.click("#approve");

    // Back at the helper's callback, which shows the token (the click
    // returns before the form's navigation ends).
    browser.wait_for("#access-token");
    let landed = browser.current_url();
    assert!(
        landed.starts_with(&server.url("/auth/callback")),
        "ended at {landed}"
    );
    let token = browser.text("#access-token");
    assert!(token.split('.').count() == 3, "not a JWT: {token}");
    assert!(browser.text("#mcp-config").contains("mcpServers"));

    let reply = post_tool(
        &server,
        "ping",
        Some(token.trim()),
        r#"{"message": "from chromium"}"#,
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["structuredContent"]["principal_id"], "demo-user");
}
