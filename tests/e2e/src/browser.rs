//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, installed by `tests/browser/install.sh`).
//!
//! Just the WebDriver commands the tests use: open a page, find, wait for,
//! fill and click elements, read text, values, the page source and the
//! cookies, size the window and take screenshots.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session. The browser and its driver stop when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium session.
    pub fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: run the tests with `cargo xtask test`, which runs tests/browser/install.sh"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(20);
        while client.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                // Headless, and quiet on the network: this machine reaches
                // only loopback, and background requests would just fail.
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            client,
            _profile: profile,
        };
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        browser
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self
                .client
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
            "DELETE" => self.client.delete(&url),
            _ => self.client.get(&url),
        };
        let response: Value = request
            .send()
            .expect("webdriver request")
            .json()
            .expect("webdriver JSON");
        let value = response.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error") {
            panic!("WebDriver {method} {path}: {error}: {}", value["message"]);
        }
        value
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url` and waits for it to load.
    pub fn open(&self, url: &str) {
        self.command(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    /// The URL the browser shows.
    pub fn current_url(&self) -> String {
        self.command("GET", &self.session_path("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT_KEY].as_str().expect("element id").to_owned()
    }

    /// Waits up to ten seconds for an element matching `css`, as a page
    /// that navigates by itself (a refresh, a script) gets there.
    pub fn wait_for(&self, css: &str) {
        self.wait_until(&format!("an element matching `{css}`"), || {
            self.count(css) > 0
        });
    }

    /// Waits up to ten seconds for `done`, saying what it waited for when
    /// it times out.
    pub fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "waited ten seconds for {what} at {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.command(
            "POST",
            &self.session_path("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Replaces the text of the input or text area matching `css`.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/clear")),
            None,
        );
        self.send_keys(&element, text);
    }

    /// Chooses `path` in the file input matching `css`.
    pub fn choose_file(&self, css: &str, path: &Path) {
        let element = self.element(css);
        self.send_keys(&element, &path.to_string_lossy());
    }

    fn send_keys(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// The current value of the form field matching `css`.
    pub fn value(&self, css: &str) -> String {
        let element = self.element(css);
        self.command(
            "GET",
            &self.session_path(&format!("/element/{element}/property/value")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The page's HTML as the browser holds it now.
    pub fn source(&self) -> String {
        self.command("GET", &self.session_path("/source"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page and returns what it returns.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// The value of the cookie `name` the browser holds for the current
    /// page (`HttpOnly` ones too: WebDriver sees what scripts cannot).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.command("GET", &self.session_path("/cookie"), None)
            .as_array()?
            .iter()
            .find(|cookie| cookie["name"] == name)
            .and_then(|cookie| cookie["value"].as_str())
            .map(str::to_owned)
    }

    /// Every attribute of the cookie `name`, as WebDriver reports them.
    pub fn cookie_details(&self, name: &str) -> Option<Value> {
        self.command("GET", &self.session_path("/cookie"), None)
            .as_array()?
            .iter()
            .find(|cookie| cookie["name"] == name)
            .cloned()
    }

    /// Sizes the window, as a phone's or a desktop's screen.
    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            &self.session_path("/window/rect"),
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Writes a PNG of the visible page to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;

        let encoded = self.command("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 screenshot"))
            .expect("screenshot decodes");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Clicks the element matching `css`.
    pub fn click(&self, css: &str) {
        let element = self.element(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/click")),
            None,
        );
    }

    /// The visible text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let element = self.element(css);
        self.command(
            "GET",
            &self.session_path(&format!("/element/{element}/text")),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .client
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
