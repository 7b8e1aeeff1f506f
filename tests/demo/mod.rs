//! Runs the demo app (`examples/demo.rs`) as a real process on a free port.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `target/<profile>/examples/demo`, built by `cargo test` (or built here if missing).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let binary = profile_dir.join("examples").join("demo");
    if !binary.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "demo", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .status()
            .unwrap();
        assert!(status.success(), "cargo build --example demo failed");
    }
    binary
}

pub struct Demo {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    args: Vec<String>,
}

impl Demo {
    /// Starts the demo in a fresh working directory with extra arguments.
    pub fn start(args: &[&str]) -> Demo {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pyramid-session-demo-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut demo = Demo {
            port: free_port(),
            dir,
            child: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        demo.launch();
        demo
    }

    fn launch(&mut self) {
        let child = Command::new(binary())
            .arg("--port")
            .arg(self.port.to_string())
            .args(&self.args)
            .current_dir(&self.dir)
            // The default data directory, `$XDG_DATA_HOME/pyramid-session-demo`, in here.
            .env("XDG_DATA_HOME", &self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the demo");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "demo did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The demo's default data directory (its SQLite store and secret file).
    pub fn data(&self) -> PathBuf {
        self.dir.join("pyramid-session-demo")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minimal HTTP client with a cookie jar (name → value; deletions honoured).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    pub cookies: BTreeMap<String, String>,
}

pub struct Reply {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Client {
    pub fn new() -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Client {
            agent,
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn absorb(&mut self, response: ureq::http::Response<ureq::Body>) -> Reply {
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let set_cookies: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.clone())
            .collect();
        for sc in &set_cookies {
            let pair = sc.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let body = response.into_body().read_to_string().unwrap_or_default();
        Reply {
            status,
            set_cookies,
            headers,
            body,
        }
    }

    pub fn get(&mut self, url: &str) -> Reply {
        let response = self
            .agent
            .get(url)
            .header("Cookie", &self.cookie_header())
            .call()
            .unwrap();
        self.absorb(response)
    }

    pub fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Reply {
        self.post_form_with(url, form, &[])
    }

    /// A form POST that may fail in transport (e.g. the server answers and closes while
    /// a large body is still being sent).
    pub fn try_post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Option<Reply> {
        let request = self.agent.post(url).header("Cookie", &self.cookie_header());
        let response = request.send_form(form.iter().copied()).ok()?;
        Some(self.absorb(response))
    }

    /// A form POST with extra request headers (e.g. `Origin`).
    pub fn post_form_with(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.agent.post(url).header("Cookie", &self.cookie_header());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send_form(form.iter().copied()).unwrap();
        self.absorb(response)
    }
}
