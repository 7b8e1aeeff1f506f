//! A real browser: Debian's headless `chromium` driven over WebDriver (`chromedriver`)
//! logs in through the demo's form, sees the counter rise, checks the cookie attributes
//! the browser stored, and logs out.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]

mod demo;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use demo::{free_port, Demo};
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn binary(path: &str, package: &str) -> String {
    assert!(
        std::path::Path::new(path).exists(),
        "{path} not found: install the Debian package `{package}` (apt-get install chromium chromium-driver)"
    );
    path.to_string()
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    profile: std::path::PathBuf,
}

impl Driver {
    fn start() -> Driver {
        let chromedriver = binary("/usr/bin/chromedriver", "chromium-driver");
        let chromium = binary("/usr/bin/chromium", "chromium");
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent.get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = std::env::temp_dir().join(format!(
            "pyramid-session-chromium-{}-{port}",
            std::process::id()
        ));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
            agent,
            profile,
        };
        let created = driver.call("POST", "/session", Some(caps));
        driver.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        }
        .unwrap();
        let status = response.status().as_u16();
        let value: Value = response.into_body().read_json().unwrap();
        assert_eq!(status, 200, "{method} {path}: {value}");
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    /// Finds an element, waiting up to 10 s for it (pages load after clicks).
    fn find(&self, css: &str) -> String {
        let url = format!("{}{}", self.base, self.session_path("/element"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = self
                .agent
                .post(&url)
                .send_json(json!({"using": "css selector", "value": css}))
                .unwrap();
            let ok = response.status().as_u16() == 200;
            let value: Value = response.into_body().read_json().unwrap();
            if ok {
                return value["value"][ELEMENT].as_str().unwrap().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} in:\n{}",
                self.page()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An element's text once it satisfies `want`, waiting up to 10 s (a click starts a
    /// navigation; until it lands, the old page or a stale element may answer).
    fn text_where(&self, css: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let id = self.find(css);
            let url = format!(
                "{}{}",
                self.base,
                self.session_path(&format!("/element/{id}/text"))
            );
            let response = self.agent.get(&url).call().unwrap();
            let ok = response.status().as_u16() == 200;
            let value: Value = response.into_body().read_json().unwrap();
            let text = value["value"].as_str().unwrap_or("").to_string();
            if ok && want(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css}: last text {text:?} in:\n{}",
                self.page()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, css: &str, expected: &str) {
        self.text_where(css, |t| t == expected);
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            Some(json!({})),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Saves a screenshot of the page as `target/browser-screenshots/NAME.png`.
    fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let png = self.call("GET", &self.session_path("/screenshot"), None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// Runs `script` in the page and returns its value.
    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// True when the element is shown (WebDriver's "is displayed").
    fn displayed(&self, css: &str) -> bool {
        let id = self.find(css);
        self.call(
            "GET",
            &self.session_path(&format!("/element/{id}/displayed")),
            None,
        ) == true
    }

    /// Checks what every page of the demo has: a viewport and the stylesheet applied.
    fn check_page_frame(&self) {
        let viewport = self
            .script("var m = document.querySelector('meta[name=viewport]'); return m && m.content");
        assert_eq!(viewport, "width=device-width, initial-scale=1");
        let width = self.script("return getComputedStyle(document.body).maxWidth");
        assert_eq!(width, "576px", "the stylesheet is applied");
        assert!(self.displayed("h1"));
    }

    fn cookies(&self) -> Vec<Value> {
        self.call("GET", &self.session_path("/cookie"), None)
            .as_array()
            .unwrap()
            .clone()
    }

    fn page(&self) -> String {
        self.call("GET", &self.session_path("/source"), None)
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[test]
fn browser_login_count_logout() {
    let demo = Demo::start(&[]);
    let browser = Driver::start();
    browser.goto(&demo.url("/"));
    assert!(browser.page().contains("Not logged in."));
    browser.check_page_frame();
    assert!(!browser.displayed("#flash"), "no messages, no box");
    browser.screenshot("1-login");

    browser.type_into("#user-input", "ada");
    browser.click("#login");
    browser.wait_text("#user", "ada");
    browser.wait_text("#count", "0");
    browser.text_where("#flash", |t| t.contains("Welcome, ada!"));
    assert!(browser.displayed("#flash"), "the flash message is visible");
    browser.check_page_frame();
    browser.screenshot("2-logged-in");

    browser.click("#increment");
    browser.wait_text("#count", "1");
    browser.click("#increment");
    browser.wait_text("#count", "2");
    // Flash messages are shown once.
    browser.text_where("#flash", |t| !t.contains("Welcome"));

    let cookies = browser.cookies();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "session")
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert_eq!(session["path"], "/");
    // HttpOnly: page scripts cannot read it.
    let from_js = browser.call(
        "POST",
        &browser.session_path("/execute/sync"),
        Some(json!({"script": "return document.cookie", "args": []})),
    );
    assert!(
        !from_js.as_str().unwrap_or("").contains("session="),
        "{from_js}"
    );

    // A form whose token was tampered with: the HTML 403 page.
    browser.script("document.querySelector('input[name=csrf_token]').value = 'x'; return 1");
    browser.click("#increment");
    browser.text_where("#error", |t| t.contains("bad CSRF token"));
    browser.check_page_frame();
    assert!(browser.page().contains("403 Forbidden"));
    browser.screenshot("3-forbidden");
    browser.goto(&demo.url("/"));
    browser.wait_text("#count", "2");

    browser.click("#logout");
    browser.find("#anonymous");
    browser.text_where("#flash", |t| t.contains("Logged out."));
    browser.screenshot("4-logged-out");
    // Reload: still logged out, the counter is gone.
    browser.goto(&demo.url("/"));
    assert!(browser.page().contains("id=\"anonymous\""));
}
