//! The admin console in a real headless Chromium: sign in through the demo
//! authorization server, open every page on a desktop and a phone, watch a
//! decision arrive, ask a what-if, replay a candidate; and a person without
//! the console's scope is refused everywhere. Screenshots of every page are
//! written to `target/screenshots/console/` for review.

use std::path::PathBuf;

use e2e::{Browser, DEMO_MACHINE, DEMO_TOKEN, Launch, Sandbox, Server};

use crate::util::{client, post_tool};

/// What the console must never show: the demo's static token and access
/// key, a JWT (every one starts `eyJ`), and a secret argument's value.
const NEVER_SHOWN: [&str; 4] = [
    DEMO_TOKEN,
    "demo_access_key_12345",
    "eyJ",
    "hunter2-console-secret",
];

/// The console's pages, by path, with an element each one shows.
const PAGES: [(&str, &str); 5] = [
    ("/admin", "#policy-hash"),
    ("/admin/policies", "#scopes"),
    ("/admin/decisions", "#decisions"),
    ("/admin/what-if", "#what-if"),
    ("/admin/diff", "#diff"),
];

fn screenshots() -> PathBuf {
    e2e::build_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .join("screenshots/console")
}

/// Signs in from the console's sign-in page, approving on the demo
/// server's consent page, and waits for the console to open.
/// `asked` is what the consent page lists: the console asks for its own
/// scope, not for tools, and the demo server offers only what its user
/// holds.
fn sign_in(browser: &Browser, server: &Server, asked: &str, lands_on: &str) {
    browser.open(&server.url("/admin"));
    browser.wait_for("#sign-in");
    browser.click("#sign-in");
    browser.wait_for("#approve");
    let scopes = browser.text("#scopes");
    assert!(scopes.starts_with(asked), "{scopes}");
    browser.click("#approve");
    browser.wait_for(lands_on);
}

fn assert_shows_no_secret(browser: &Browser, page: &str) {
    let source = browser.source();
    for secret in NEVER_SHOWN {
        assert!(!source.contains(secret), "{page} shows {secret}: {source}");
    }
}

#[test]
#[ignore = "needs Chromium and ChromeDriver: `cargo xtask test` installs them and runs this test"]
fn the_console_in_chromium_shows_every_page_live_decisions_a_what_if_and_a_diff() {
    let sandbox = Sandbox::new();
    // A rule on trial: it would refuse review_code, but it only watches.
    sandbox.write(
        "policies/trial.cedar",
        "@id(\"trial.no-review\")\n@mode(\"shadow\")\n\
         forbid (principal, action == Action::\"call\", resource == Tool::\"review_code\");\n",
    );
    let server = Server::start(&sandbox);
    let reviewed = post_tool(
        &server,
        "review_code",
        Some(DEMO_TOKEN),
        r#"{"code": "x = 1\n", "language": "python"}"#,
    );
    assert_eq!(reviewed.status, 200, "{reviewed:?}");
    // Decisions to show and to replay: a secret argument among them.
    let pinged = post_tool(
        &server,
        "ping",
        Some(DEMO_TOKEN),
        r#"{"message": "before the console", "password": "hunter2-console-secret"}"#,
    );
    assert!(pinged.status < 500, "{pinged:?}");
    let pinged = post_tool(&server, "ping", Some(DEMO_TOKEN), r#"{"message": "hello"}"#);
    assert_eq!(pinged.status, 200, "{pinged:?}");

    let browser = Browser::start();
    browser.resize(1280, 900);
    sign_in(&browser, &server, "admin:config", "#policy-hash");
    assert!(browser.current_url().ends_with("/admin"));
    let cookie = browser
        .cookie_details("orchestrator_console")
        .expect("the session cookie");
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(browser.text("#status"), "ok");
    assert!(browser.text("#principal").starts_with("demo-user"));
    assert!(browser.text("#tools").contains("deploy_plan"));
    assert!(browser.text("#plugins").contains("code-tools"));

    for (path, shows) in PAGES {
        browser.open(&server.url(path));
        browser.wait_for(shows);
        assert_shows_no_secret(&browser, path);
        let name = if path == "/admin" {
            "overview"
        } else {
            path.trim_start_matches("/admin/")
        };
        browser.screenshot(&screenshots().join(format!("desktop-{name}.png")));
    }

    // The policies page: the files highlighted, the scope catalogue.
    browser.open(&server.url("/admin/policies"));
    assert!(browser.count("pre.cedar .k") > 10);
    assert!(browser.text("#scopes").contains("admin:config"));
    assert!(
        browser
            .text("#shadow")
            .contains("trial.no-review (trial.cedar:")
    );

    // The decisions page: the pings are there, and a new decision arrives
    // without a reload.
    browser.open(&server.url("/admin/decisions"));
    let table = browser.text("#decisions tbody");
    assert!(table.contains("ping"), "{table}");
    assert!(!table.contains("fix_code"), "{table}");
    let refused = post_tool(
        &server,
        "fix_code",
        Some(&server.machine_token(DEMO_MACHINE)),
        r#"{"code": "x = 1", "language": "python"}"#,
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    browser.wait_until("the refused fix_code call to appear", || {
        browser.text("#decisions tbody").contains("fix_code")
    });
    assert!(
        browser
            .text("#decisions tbody tr:first-child")
            .contains("K2demomachine"),
        "{}",
        browser.text("#decisions tbody")
    );
    // Only the shadow disagreements: the review the trial rule would refuse.
    browser.click("#filter input[name=shadow]");
    browser.click("#filter button");
    browser.wait_until("the shadow filter to apply", || {
        browser.current_url().contains("shadow=on")
    });
    let disagreements = browser.text("#decisions tbody");
    assert!(
        disagreements.contains("review_code")
            && disagreements.contains("deny by [trial.no-review]")
            && !disagreements.contains("ping"),
        "{disagreements}"
    );
    browser.screenshot(&screenshots().join("desktop-shadow-disagreements.png"));
    browser.open(&server.url("/admin/decisions"));

    // Filtered to one principal and to denials.
    browser.fill("#filter input[name=principal]", "K2demomachine");
    browser.click("#filter select[name=decision] option[value=deny]");
    browser.click("#filter button");
    browser.wait_until("the filter to apply", || {
        browser.current_url().contains("principal=K2demomachine")
    });
    let filtered = browser.text("#decisions tbody");
    assert!(filtered.contains("fix_code"), "{filtered}");
    assert!(!filtered.contains("demo-user"), "{filtered}");

    // What if a machine holding only tools:ping asked to fix code?
    browser.open(&server.url("/admin/what-if"));
    browser.fill(
        "#what-if textarea[name=claims]",
        r#"{"sub": "M2bot", "scope": "tools:ping"}"#,
    );
    browser.click("#what-if select[name=tool] option[value=fix_code]");
    browser.fill(
        "#what-if textarea[name=arguments]",
        r#"{"code": "x = 1", "language": "python"}"#,
    );
    browser.click("#what-if button");
    browser.wait_for("#verdict");
    assert_eq!(browser.text("#verdict"), "denied");
    assert_eq!(browser.text("#step-up"), "tools:fix");
    browser.execute("document.getElementById('answer').scrollIntoView();");
    browser.screenshot(&screenshots().join("desktop-what-if-answer.png"));
    // And one holding tools:fix.
    browser.fill(
        "#what-if textarea[name=claims]",
        r#"{"sub": "U2fixer", "scope": "tools:fix"}"#,
    );
    browser.click("#what-if button");
    browser.wait_until("the allowed answer", || {
        browser.count("#verdict.allowed") == 1
    });
    assert_eq!(browser.text("#deciding"), "tools.fix");

    // Diff: upload a tools.cedar without the ping permit, and see the
    // pings replayed as denials.
    let tools =
        std::fs::read_to_string(sandbox.policy_dir().join("tools.cedar")).expect("tools.cedar");
    let ping = tools.find("@id(\"tools.ping\")").expect("the ping permit");
    let end = ping + tools[ping..].find(";\n").expect("its end") + 2;
    let candidate = sandbox.write(
        "candidate/tools.cedar",
        format!("{}{}", &tools[..ping], &tools[end..]),
    );
    browser.open(&server.url("/admin/diff"));
    assert!(browser.value("#policy").contains("tools.ping"));
    browser.fill("#diff input[name=file]", "placeholder.cedar");
    browser.choose_file("#upload", &candidate);
    browser.wait_until("the upload to fill the form", || {
        !browser.value("#policy").contains("tools.ping")
    });
    assert_eq!(browser.value("#diff input[name=file]"), "tools.cedar");
    browser.click("#diff button");
    browser.wait_for("#counts");
    let counts = browser.text("#counts");
    let denied: usize = counts
        .split(", ")
        .find_map(|part| part.strip_suffix(" newly denied"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no denials counted: {counts}"));
    assert!(denied >= 2, "{counts}");
    let changes = browser.text("#changes");
    assert!(
        changes.contains("ping") && changes.contains("allow → deny"),
        "{changes}"
    );
    assert_shows_no_secret(&browser, "the diff answer");
    browser.execute("document.getElementById('answer').scrollIntoView();");
    browser.screenshot(&screenshots().join("desktop-diff-answer.png"));

    // A phone: every page fits the screen's width.
    browser.resize(390, 844);
    for (path, shows) in PAGES {
        browser.open(&server.url(path));
        browser.wait_for(shows);
        let fits = browser
            .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
        assert_eq!(fits, true, "{path} is wider than a phone's screen");
        let name = if path == "/admin" {
            "overview"
        } else {
            path.trim_start_matches("/admin/")
        };
        browser.screenshot(&screenshots().join(format!("phone-{name}.png")));
    }

    // Signing out ends the session.
    browser.resize(1280, 900);
    browser.open(&server.url("/admin"));
    browser.click("header form button");
    browser.wait_for("#sign-in");
    browser.open(&server.url("/admin/decisions"));
    browser.wait_for("#sign-in");
}

#[test]
#[ignore = "needs Chromium and ChromeDriver: `cargo xtask test` installs them and runs this test"]
fn a_person_without_the_consoles_scope_gets_403_on_every_console_route() {
    let sandbox = Sandbox::new();
    let config = sandbox.write(
        "scopes.toml",
        "[demo]\nscopes = [\"tools:ping\", \"tools:review\"]\n",
    );
    let server = Server::start_with(&sandbox, Launch::default().config(&config));
    let browser = Browser::start();
    sign_in(&browser, &server, "No scopes", "#forbidden");
    assert!(browser.text("#forbidden").contains("admin:config"));
    assert_shows_no_secret(&browser, "the refusal");
    browser.screenshot(&screenshots().join("desktop-forbidden.png"));

    // The session is real; every route refuses it.
    let session = browser
        .cookie("orchestrator_console")
        .expect("a session cookie");
    let cookie = format!("orchestrator_console={session}");
    for (method, path) in [
        ("GET", "/admin"),
        ("GET", "/admin/policies"),
        ("GET", "/admin/decisions"),
        ("GET", "/admin/decisions.json"),
        ("GET", "/admin/what-if"),
        ("POST", "/admin/what-if"),
        ("GET", "/admin/diff"),
        ("POST", "/admin/diff"),
        ("POST", "/admin/sign-out"),
    ] {
        let request = match method {
            "GET" => client().get(server.url(path)),
            _ => client().post(server.url(path)).form(&[
                ("csrf", "x"),
                ("policy", "permit (principal, action, resource);"),
            ]),
        };
        let answer = request
            .header("Cookie", &cookie)
            .send()
            .expect("console request");
        assert_eq!(answer.status(), 403, "{method} {path}");
    }
}
