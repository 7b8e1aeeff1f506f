//! Real servers for the store tests: a private `redis-server` and a private PostgreSQL
//! cluster (`initdb` + `pg_ctl`), each in a temporary directory on a free loopback port,
//! stopped and deleted on drop. A missing binary fails the test with the Debian package
//! to install.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pyramid-session-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private temporary directory, deleted on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory whose name contains `tag`.
    pub fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find_binary(name: &str, package: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join("bin").join(name))
            .collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates.push(PathBuf::from("/usr/sbin").join(name));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found: install the Debian package `{package}` (apt-get install {package})"))
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status();
}

/// A private redis-server with append-only persistence (every write fsynced, so a
/// restart keeps everything that was acknowledged).
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: temp_dir("redis"),
            child: None,
        };
        server.launch();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn launch(&mut self) {
        let binary = find_binary("redis-server", "redis-server");
        let child = Command::new(binary)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
            ])
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        wait_for_port(self.port, "redis-server");
    }

    /// Graceful stop (SIGTERM).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(child.id(), "-TERM");
            let _ = child.wait();
        }
    }

    /// Hard kill (SIGKILL), as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        self.launch();
    }

    /// `PTTL key` in milliseconds (-2: no key, -1: no TTL).
    #[cfg(feature = "redis")]
    pub fn pttl(&self, key: &str) -> i64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("PTTL").arg(key).query(&mut conn).unwrap()
    }

    #[cfg(feature = "redis")]
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        redis::cmd("KEYS").arg(pattern).query(&mut conn).unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private PostgreSQL cluster. As root, the server runs as the `postgres` user.
pub struct PostgresServer {
    pub port: u16,
    dir: PathBuf,
    as_user: Option<&'static str>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PostgresServer {
    pub fn start() -> PostgresServer {
        let dir = temp_dir("postgres");
        let as_user = is_root().then_some("postgres");
        if let Some(user) = as_user {
            let ok = Command::new("chown")
                .args(["-R", user])
                .arg(&dir)
                .status()
                .map(|s| s.success());
            assert!(
                ok.unwrap_or(false),
                "cannot hand {dir:?} to the `postgres` user: install the Debian package `postgresql`"
            );
        }
        let server = PostgresServer {
            port: free_port(),
            dir,
            as_user,
        };
        let initdb = find_binary("initdb", "postgresql");
        let out = server
            .command(&initdb)
            .args([
                "-D",
                server.data().to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.launch();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, binary: &Path) -> Command {
        match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(binary);
                c
            }
            None => Command::new(binary),
        }
    }

    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let pg_ctl = find_binary("pg_ctl", "postgresql");
        self.command(&pg_ctl)
            .args(["-D", self.data().to_str().unwrap()])
            .args(args)
            .output()
            .expect("run pg_ctl")
    }

    fn launch(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let mut last = String::new();
        for _ in 0..20 {
            let out = self.pg_ctl(&["-l", &log, "-o", &opts, "-w", "-t", "60", "start"]);
            if out.status.success() {
                wait_for_port(self.port, "postgres");
                return;
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // After a crash, old backends may still hold shared memory for a moment.
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "pg_ctl start failed: {last}\n{}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// Graceful stop.
    pub fn stop(&self) {
        let _ = self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Hard kill of the postmaster and its backends (SIGKILL), as a crash.
    pub fn kill(&self) {
        let pid_file = self.data().join("postmaster.pid");
        if let Ok(text) = std::fs::read_to_string(pid_file) {
            if let Some(pid) = text
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<u32>().ok())
            {
                let _ = Command::new("pkill")
                    .args(["-KILL", "-P", &pid.to_string()])
                    .status();
                kill(pid, "-KILL");
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    pub fn resume(&self) {
        self.launch();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
