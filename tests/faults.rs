//! Fault tolerance against real servers: stopped, killed mid-request, restarted, and
//! unresponsive. Requests get typed errors (never a panic, never a cookie for data that
//! was not written); once the server is back, sessions go on and nothing acknowledged
//! is lost.
// Test harness code times its own waits and real servers; the crate under test does not.
#![allow(clippy::disallowed_methods)]
#![cfg(all(feature = "redis", feature = "postgres"))]

mod servers;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyramid_session::driver;
use pyramid_session::server::{
    IdCookieFormat, Pending, ServerConfig, ServerError, Store, StoreErrorKind,
};
use pyramid_session::store::{AsyncRedisStore, PostgresStore, RedisStore};
use pyramid_session::{OsRandom, SessionConfig};
use serde_json::{json, Value};
use servers::{PostgresServer, RedisServer};

const TIMEOUT: Duration = Duration::from_millis(500);

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn config() -> ServerConfig {
    ServerConfig::new(
        SessionConfig::secure("fault-secret").build().unwrap(),
        IdCookieFormat::PyramidSessionRedis,
    )
    .unwrap()
    .with_max_retries(10_000)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// Creates a session holding `{"count": 0, "user": "ada"}`; returns its cookie.
fn new_session<S: Store>(store: &S, config: &ServerConfig) -> String {
    let mut s = driver::open(store, config, Pending::start(config, None, now())).unwrap();
    s.insert("user", json!("ada"));
    s.insert("count", json!(0));
    pair(
        &driver::finish(store, config, &mut s, false, &mut OsRandom)
            .unwrap()
            .unwrap(),
    )
}

/// One increment request; `Ok(Some(cookie))` only when the write was acknowledged.
fn increment<S: Store>(
    store: &S,
    config: &ServerConfig,
    cookie: &str,
) -> Result<Option<String>, ServerError> {
    let mut s = driver::open(
        store,
        config,
        Pending::start(config, Some(cookie.as_bytes()), now()),
    )?;
    assert!(!s.is_new(), "an acknowledged session must never disappear");
    s.modify("count", |n| {
        Some(json!(n.and_then(Value::as_u64).unwrap_or(0) + 1))
    });
    driver::finish(store, config, &mut s, false, &mut OsRandom)
}

fn read_count<S: Store>(store: &S, config: &ServerConfig, cookie: &str) -> u64 {
    let mut s = driver::open(
        store,
        config,
        Pending::start(config, Some(cookie.as_bytes()), now()),
    )
    .unwrap();
    assert_eq!(s.get("user"), Some(&json!("ada")));
    s.get("count").and_then(Value::as_u64).unwrap()
}

fn assert_unavailable(result: Result<impl std::fmt::Debug, ServerError>) {
    match result {
        Err(ServerError::Store(e)) => {
            assert!(
                matches!(
                    e.kind,
                    StoreErrorKind::Unavailable | StoreErrorKind::Timeout
                ),
                "{e}"
            )
        }
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// Stopped server: typed errors, no cookie; back up: the session is intact and usable.
fn stop_and_resume<S: Store>(store: &S, stop: impl FnOnce(), resume: impl FnOnce()) {
    let config = config();
    let cookie = new_session(store, &config);
    increment(store, &config, &cookie).unwrap();
    stop();
    let started = Instant::now();
    assert_unavailable(increment(store, &config, &cookie));
    assert_unavailable(driver::open(
        store,
        &config,
        Pending::start(&config, Some(cookie.as_bytes()), now()),
    ));
    // A new visitor's first write fails too, and gets no cookie.
    let mut fresh = driver::open(store, &config, Pending::start(&config, None, now())).unwrap();
    fresh.insert("x", json!(1));
    assert_unavailable(driver::finish(
        store,
        &config,
        &mut fresh,
        false,
        &mut OsRandom,
    ));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "errors must come back promptly"
    );
    resume();
    // The store reconnects by itself; nothing acknowledged was lost.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match increment(store, &config, &cookie) {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the store to come back: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("store did not come back: {e}"),
        }
    }
    assert_eq!(read_count(store, &config, &cookie), 2);
}

/// Killed mid-traffic (SIGKILL) while 4 threads increment: every acknowledged increment
/// survives the crash; unacknowledged ones may or may not have landed.
fn crash_during_traffic<S: Store + Send + Sync + 'static>(
    store: Arc<S>,
    kill: impl FnOnce(),
    resume: impl FnOnce(),
) {
    let config = Arc::new(config());
    let cookie = Arc::new(new_session(&*store, &config));
    let acked = Arc::new(AtomicU64::new(0));
    let attempted = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, config, cookie) = (store.clone(), config.clone(), cookie.clone());
            let (acked, attempted, failed, stop) = (
                acked.clone(),
                attempted.clone(),
                failed.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    attempted.fetch_add(1, Ordering::SeqCst);
                    match increment(&*store, &config, &cookie) {
                        Ok(_) => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(ServerError::Store(_)) => {
                            failed.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    kill();
    std::thread::sleep(Duration::from_millis(300));
    resume();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("no panic in request threads");
    }
    let (acked, attempted, failed) = (
        acked.load(Ordering::SeqCst),
        attempted.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst),
    );
    let stored = read_count(&*store, &config, &cookie);
    eprintln!(
        "crash test: attempted {attempted}, acknowledged {acked}, failed {failed}, stored {stored}"
    );
    assert!(failed > 0, "the crash must have been observed");
    assert!(acked > 0);
    assert!(
        stored >= acked,
        "acknowledged increments were lost: stored {stored} < acked {acked}"
    );
    assert!(stored <= attempted);
}

/// A server that accepts connections and never answers: every call ends with a typed
/// error within the configured timeout.
fn blackhole() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while !flag.load(Ordering::SeqCst) {
            if let Ok((conn, _)) = listener.accept() {
                held.push(conn);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (port, done)
}

#[test]
fn redis_stopped_then_resumed() {
    let server = std::cell::RefCell::new(RedisServer::start());
    let url = server.borrow().url();
    let store = RedisStore::open(&url, "app:", TIMEOUT).unwrap();
    stop_and_resume(
        &store,
        || server.borrow_mut().stop(),
        || server.borrow_mut().resume(),
    );
}

#[test]
fn redis_restart_keeps_sessions() {
    let server = std::cell::RefCell::new(RedisServer::start());
    let url = server.borrow().url();
    let store = RedisStore::open(&url, "app:", TIMEOUT).unwrap();
    let config = config();
    let cookie = new_session(&store, &config);
    server.borrow_mut().restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while increment(&store, &config, &cookie).is_err() {
        assert!(Instant::now() < deadline, "no reconnect after restart");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read_count(&store, &config, &cookie), 1);
}

#[test]
fn redis_killed_mid_traffic() {
    let server = Arc::new(std::sync::Mutex::new(RedisServer::start()));
    let url = server.lock().unwrap().url();
    let store = Arc::new(RedisStore::open(&url, "app:", TIMEOUT).unwrap());
    let (a, b) = (server.clone(), server.clone());
    crash_during_traffic(
        store,
        move || a.lock().unwrap().kill(),
        move || b.lock().unwrap().resume(),
    );
}

#[test]
fn async_redis_stopped_then_resumed() {
    let server = std::cell::RefCell::new(RedisServer::start());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = server.borrow().url();
    let store = rt
        .block_on(AsyncRedisStore::connect(&url, "app:", TIMEOUT))
        .unwrap();
    let config = config();
    rt.block_on(async {
        let mut s = driver::open_async(&store, &config, Pending::start(&config, None, now()))
            .await
            .unwrap();
        s.insert("user", json!("ada"));
        let cookie = pair(
            &driver::finish_async(&store, &config, &mut s, false, &mut OsRandom)
                .await
                .unwrap()
                .unwrap(),
        );
        server.borrow_mut().stop();
        let pending = Pending::start(&config, Some(cookie.as_bytes()), now());
        match driver::open_async(&store, &config, pending).await {
            Err(ServerError::Store(e)) => assert!(
                matches!(
                    e.kind,
                    StoreErrorKind::Unavailable | StoreErrorKind::Timeout
                ),
                "{e}"
            ),
            other => panic!("expected a store error, got {other:?}"),
        }
        server.borrow_mut().resume();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pending = Pending::start(&config, Some(cookie.as_bytes()), now());
            match driver::open_async(&store, &config, pending).await {
                Ok(mut s) => {
                    assert_eq!(s.get("user"), Some(&json!("ada")));
                    break;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "no reconnect: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

#[test]
fn redis_unresponsive_times_out() {
    let (port, done) = blackhole();
    let store = RedisStore::open(
        &format!("redis://127.0.0.1:{port}/0"),
        "app:",
        Duration::from_millis(300),
    )
    .unwrap();
    let config = config();
    let started = Instant::now();
    let cookie = {
        let ring = config.session().keyring();
        format!("session={}", ring.sign(b"some-session-id"))
    };
    let result = driver::open(
        &store,
        &config,
        Pending::start(&config, Some(cookie.as_bytes()), now()),
    );
    assert_unavailable(result);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    done.store(true, Ordering::SeqCst);
}

#[test]
fn postgres_stopped_then_resumed() {
    let server = PostgresServer::start();
    let store = PostgresStore::open(&server.url(), TIMEOUT).unwrap();
    stop_and_resume(&store, || server.stop(), || server.resume());
}

#[test]
fn postgres_killed_mid_traffic() {
    let server = Arc::new(PostgresServer::start());
    let store = Arc::new(PostgresStore::open(&server.url(), TIMEOUT).unwrap());
    let (a, b) = (server.clone(), server.clone());
    crash_during_traffic(store, move || a.kill(), move || b.resume());
}

#[test]
fn postgres_unresponsive_times_out() {
    let (port, done) = blackhole();
    let started = Instant::now();
    let result = PostgresStore::open(
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        Duration::from_millis(300),
    );
    let err = result.unwrap_err();
    assert!(
        matches!(
            err.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    done.store(true, Ordering::SeqCst);
}
